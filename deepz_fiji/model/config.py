"""Model configuration: architecture, physics, normalisation and provenance of one Deep-Z model.

:class:`ModelConfig` is what ``config.json`` in a model folder holds. It is strict: unknown keys
are refused and every invalid field is named, so a hand-edited or truncated file fails loudly
when the model is loaded instead of producing a silently wrong network.

Channel widths: the paper's generator uses, per down level k = 1..5, ``k1 = 25, 72, 144, 288,
576`` and ``k2 = 48, 96, 192, 384, 768`` channels, and per up level ``k3 = 72 … 576``,
``k4 = 48 … 384``. Generalised to any depth: ``k2 = 48·2^(k-1)``, ``k1 = 3/4·k2`` (25 at level 1),
``k3 = 3/2·k2``, ``k4 = k2``. The ``width`` multiplier scales every count, rounded half up,
at least 1.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError

#: Architecture presets: name -> (width multiplier, depth). ``paper`` is the published network.
PRESETS: dict[str, tuple[float, int]] = {
    "paper": (1.0, 5),
    "small": (0.25, 5),
    "tiny": (1.0 / 16.0, 5),
}
MODALITIES = ("widefield", "widefield→confocal")
_MODALITY_ALIASES = {"widefield->confocal": "widefield→confocal", "wide-field": "widefield"}
#: Fields a config.json must spell out (the rest have documented defaults).
REQUIRED_KEYS = ("name", "width", "depth", "dpm_scale_um", "dz_min_um", "dz_max_um")
#: How a wide-field output's uniform level is set after the network (``output_level``):
#: ``flux``: its mean over the frame equals the input's (defocus moves light, it neither makes nor
#: removes it); ``local-flux``: its low-pass at the scale of the defocus disc of |Δz| equals the
#: input's, σ = ``output_level_scale`` × the disc's radius (:mod:`deepz_fiji.refocus.levels`);
#: ``background``: its median over the input's background pixels (below the triangle threshold)
#: equals the input's; ``none``: as the network gives it. Outputs of
#: widefield→confocal models are left as they are.
OUTPUT_LEVELS = ("flux", "local-flux", "background", "none")
#: Input channels a generator may get after the DPM (``physics_inputs``), computed from the input
#: and the config's optics: ``blur``, the normalised image convolved with the nominal wide-field PSF
#: at Δz (:func:`deepz_fiji.evaluate.baselines.blur_channel`), the physics blur baseline itself.
#: The field ``physics_blend`` a is separate: a wide-field output is ``(1 − a) ×`` the network's plane
#: ``+ a ×`` that physics blur (in normalised units, before the output level is set); 0: the network alone.
PHYSICS_INPUTS = ("blur",)
#: Bumped when the folder layout or the meaning of a field changes.
FORMAT_VERSION = 1


def scaled(channels: int, width: float) -> int:
    """``channels × width`` rounded half up, at least 1."""
    return max(1, int(math.floor(channels * width + 0.5)))


def generator_widths(width: float, depth: int) -> dict[str, list[int]]:
    """Channel counts ``k1, k2`` (down levels 1..depth) and ``k3, k4`` (up levels 1..depth-1)."""
    k2 = [48 * 2**i for i in range(depth)]
    k1 = [25] + [3 * c // 4 for c in k2[1:]]
    k3 = [3 * c // 2 for c in k2[: depth - 1]]
    k4 = k2[: depth - 1]
    return {name: [scaled(c, width) for c in values] for name, values in
            (("k1", k1), ("k2", k2), ("k3", k3), ("k4", k4))}


def discriminator_widths(width: float, blocks: int = 6) -> dict[str, Any]:
    """Channel counts ``i1 = 48 … 1536``, ``i2 = 96 … 3072`` and the FC width 3072 (scaled)."""
    return {
        "i1": [scaled(48 * 2**i, width) for i in range(blocks)],
        "i2": [scaled(96 * 2**i, width) for i in range(blocks)],
        "fc": scaled(96 * 2 ** (blocks - 1), width),
    }


@dataclass
class ModelConfig:
    """Everything needed to rebuild, use and trust a trained Deep-Z generator (``config.json``)."""

    name: str
    preset: str = "custom"
    width: float = 1.0
    depth: int = 5
    dpm_scale_um: float = 10.0
    intensity_gain: float = 1.0
    dz_min_um: float = -10.0
    dz_max_um: float = 10.0
    pixel_um: float = 0.325
    z_step_um: float = 0.5
    na: float = 0.75
    wavelength_um: float = 0.584
    immersion_index: float | None = None
    modality: str = "widefield"
    output_level: str = "flux"
    normalization: dict = field(default_factory=lambda: {"method": "deepz-triangle-p99"})
    training: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    receptive_field_px: int | None = None
    physics_inputs: list = field(default_factory=list)
    physics_blend: float = 0.0
    output_level_scale: float = 2.0
    description: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.modality = _MODALITY_ALIASES.get(self.modality, self.modality)
        self.validate()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, name: str, preset: str = "small", *, width: float | None = None,
                    depth: int | None = None, **fields: Any) -> ModelConfig:
        """A config for ``preset``; an explicit ``width``/``depth`` turns it into ``custom``."""
        if preset not in PRESETS:
            raise DeepZError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        p_width, p_depth = PRESETS[preset]
        w = p_width if width is None else float(width)
        d = p_depth if depth is None else int(depth)
        label = preset if (w, d) == (p_width, p_depth) else "custom"
        return cls(name=name, preset=label, width=w, depth=d, **fields)

    @property
    def size_multiple(self) -> int:
        """H and W fed to the SavedModel must be multiples of this (2 ** (depth - 1))."""
        return 2 ** (self.depth - 1)

    @property
    def widths(self) -> dict[str, list[int]]:
        """Generator channel counts for this width and depth."""
        return generator_widths(self.width, self.depth)

    @property
    def input_channels(self) -> int:
        """Channels of the generator's input: image, DPM, then the physics inputs."""
        return 2 + len(self.physics_inputs)

    def same_architecture(self, other: ModelConfig) -> bool:
        """True when both configs build generators with identical weight shapes."""
        return self.widths == other.widths and self.physics_inputs == other.physics_inputs

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Raise :class:`DeepZError` naming the first invalid field."""
        def bad(name: str, why: str) -> DeepZError:
            return DeepZError(f"model config field '{name}' {why}")

        types = {
            "name": str, "preset": str, "modality": str, "output_level": str, "description": str,
            "normalization": dict, "training": dict, "validation": dict, "versions": dict,
        }
        for key, typ in types.items():
            if not isinstance(getattr(self, key), typ):
                raise bad(key, f"must be a {typ.__name__}, got {type(getattr(self, key)).__name__}")
        for key in ("width", "dpm_scale_um", "intensity_gain", "pixel_um", "z_step_um", "na",
                    "wavelength_um", "dz_min_um", "dz_max_um", "physics_blend",
                    "output_level_scale"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise bad(key, f"must be a finite number, got {value!r}")
            setattr(self, key, float(value))
        for key in ("width", "dpm_scale_um", "intensity_gain", "pixel_um", "z_step_um", "na", "wavelength_um",
                    "output_level_scale"):
            if getattr(self, key) <= 0:
                raise bad(key, f"must be > 0, got {getattr(self, key)}")
        for key in ("depth", "format_version"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(key, f"must be an integer, got {value!r}")
        if not self.name.strip():
            raise bad("name", "must not be empty")
        if not 2 <= self.depth <= 8:
            raise bad("depth", f"must be between 2 and 8, got {self.depth}")
        if self.preset not in (*PRESETS, "custom"):
            raise bad("preset", f"must be one of {', '.join((*PRESETS, 'custom'))}, got {self.preset!r}")
        if self.output_level not in OUTPUT_LEVELS:
            raise bad("output_level", f"must be one of {', '.join(OUTPUT_LEVELS)}, got {self.output_level!r}")
        if self.modality not in MODALITIES:
            raise bad("modality", f"must be one of {', '.join(MODALITIES)}, got {self.modality!r}")
        if self.dz_min_um >= self.dz_max_um:
            raise bad("dz_min_um", f"must be below dz_max_um ({self.dz_min_um} >= {self.dz_max_um})")
        if self.immersion_index is not None and (
            isinstance(self.immersion_index, bool) or not isinstance(self.immersion_index, (int, float))
            or self.immersion_index < 1.0
        ):
            raise bad("immersion_index", f"must be null or a refractive index >= 1, got {self.immersion_index!r}")
        if self.receptive_field_px is not None and (
            isinstance(self.receptive_field_px, bool) or not isinstance(self.receptive_field_px, int)
            or self.receptive_field_px < 1
        ):
            raise bad("receptive_field_px", f"must be null or a positive integer, got {self.receptive_field_px!r}")
        if not 0 <= self.physics_blend < 1 or (self.physics_blend and self.modality != "widefield"):
            raise bad("physics_blend", f"must be in [0, 1) (and 0 unless the modality is widefield), got "
                      f"{self.physics_blend!r}")
        if not isinstance(self.physics_inputs, list) or any(p not in PHYSICS_INPUTS for p in self.physics_inputs) \
                or len(set(self.physics_inputs)) != len(self.physics_inputs):
            raise bad("physics_inputs", f"must be a list of distinct entries of {', '.join(PHYSICS_INPUTS)}, "
                      f"got {self.physics_inputs!r}")
        if self.format_version > FORMAT_VERSION:
            raise bad("format_version", f"is {self.format_version} but this deepz-fiji reads up to "
                      f"{FORMAT_VERSION}; upgrade deepz-fiji")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_json_default) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """Build from a dict, refusing unknown keys and naming missing required ones."""
        if not isinstance(data, dict):
            raise DeepZError(f"model config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DeepZError(f"model config has unknown field(s) {', '.join(map(repr, unknown))}; "
                             f"known fields are {', '.join(sorted(known))}")
        for key in REQUIRED_KEYS:
            if key not in data:
                raise DeepZError(f"model config is missing the required field '{key}'")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str, source: str = "config.json") -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DeepZError(f"{source} is not valid JSON ({exc}); restore it from the model's source") from exc
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> ModelConfig:
        path = Path(path)
        if not path.is_file():
            raise DeepZError(f"model config {path} does not exist; is this a Deep-Z model folder?")
        return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))

    def save(self, path: str | Path) -> Path:
        from deepz_fiji.io import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text(self.to_json(), encoding="utf-8")
        return Path(path)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
