"""User-facing errors.

Every problem a user can cause (bad file, wrong shape, NaN, Δz outside the trained range, a
broken model folder, no Java) raises :class:`DeepZError` with one sentence that names the
problem and the fix. The CLI prints it on one line and exits non-zero.
"""

from __future__ import annotations


class DeepZError(ValueError):
    """A problem with the user's input or setup, described in one actionable sentence."""


class MissingDependencyError(DeepZError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str):
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install deepz-fiji[extra]``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"{module} is not installed; install it with: pip install 'deepz-fiji[{extra}]'"
        ) from exc
