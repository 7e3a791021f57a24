"""Arithmetic precision of inference: float32 (default) or bfloat16 on CPUs that support it.

``bfloat16`` turns on TensorFlow's oneDNN auto-mixed-precision graph rewrite, which runs
convolutions in bfloat16 (float32 accumulation) on x86 CPUs with AVX512-BF16 or AMX. It is
roughly twice as fast there and changes outputs by a fraction of a percent of their range
(``benchmarks/refocus.py`` measures both). The rewrite is a process-wide TensorFlow setting:
:func:`precision_scope` switches it for the duration of a refocusing call and restores it.
The default comes from ``$DEEPZ_PRECISION`` (``float32`` when unset).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Iterator

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "bfloat16")
PRECISION_ENV = "DEEPZ_PRECISION"
_OPTION = "auto_mixed_precision_onednn_bfloat16"


@functools.lru_cache(maxsize=1)
def cpu_supports_bfloat16() -> bool:
    """True on Linux CPUs advertising AVX512-BF16 or AMX-BF16 instructions."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="ignore") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"avx512_bf16", "amx_bf16"} & set(flags.split()))


def check_precision(precision: str | None) -> str:
    """Resolve ``None`` to ``$DEEPZ_PRECISION`` (default float32) and validate the name."""
    value = precision or os.environ.get(PRECISION_ENV) or "float32"
    value = {"fp32": "float32", "bf16": "bfloat16"}.get(value.lower(), value.lower())
    if value not in PRECISIONS:
        raise DeepZError(f"precision must be one of {', '.join(PRECISIONS)}, got {value!r}")
    if value == "bfloat16" and not cpu_supports_bfloat16():
        raise DeepZError("bfloat16 precision needs a CPU with AVX512-BF16 or AMX; use precision float32")
    return value


@contextlib.contextmanager
def precision_scope(precision: str | None) -> Iterator[str]:
    """Run the enclosed inference at ``precision``; restores TensorFlow's previous setting."""
    value = check_precision(precision)
    if value == "float32" and "tensorflow" not in sys.modules:
        yield value  # nothing can have switched bfloat16 on yet
        return
    import tensorflow as tf

    before = bool(tf.config.optimizer.get_experimental_options().get(_OPTION, False))
    tf.config.optimizer.set_experimental_options({_OPTION: value == "bfloat16"})
    try:
        yield value
    finally:
        tf.config.optimizer.set_experimental_options({_OPTION: before})
