"""Run a ``#@`` script on an image in the running ImageJ, and save what it returns.

This is how ImageJ 1.x (which has no SciJava) runs the same script files Fiji runs: the header
is parsed (:mod:`.scripts`), values come from ``name=value`` strings, defaults or a
GenericDialog (:mod:`.dialog`), the script executes in this Python process with those values
as globals, and its ``#@output`` values come back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import convert
from deepz_fiji.fiji.host import running_host, start_imagej
from deepz_fiji.fiji.java import ImageJHost
from deepz_fiji.fiji.scripts import ScriptSpec, bind_inputs, parse_script, run_script

log = logging.getLogger(__name__)


def get_host(*, fiji_dir: str | os.PathLike | None = None, ij_jar: str | os.PathLike | None = None,
             headless: bool = True) -> ImageJHost:
    """The ImageJ running in this process, started (Fiji if ``fiji_dir``, else ImageJ 1.x) if needed."""
    host = running_host()
    if host is not None and fiji_dir is None:
        return host
    return start_imagej(fiji_dir=fiji_dir, ij_jar=ij_jar, headless=headless)


def resolve_image(reference: Any, host: ImageJHost | None = None) -> Any:
    """An ImagePlus from an ImagePlus, an open window's title, or a file path (opened by ImageJ)."""
    if reference is None or not isinstance(reference, (str, os.PathLike)):
        return reference
    text = str(reference)
    by_title = host.jclass("ij.WindowManager").getImage(text) if host else None
    if by_title is not None:
        return by_title
    return convert.open_image(text, bioformats=host is not None and host.kind == "fiji")


def run_script_file(
    script: str | os.PathLike | ScriptSpec,
    *,
    image: Any = None,
    values: Mapping[str, Any] | None = None,
    ask: bool = False,
    host: ImageJHost | None = None,
) -> dict[str, Any] | None:
    """Run ``script`` on ``image`` (ImagePlus or path; default: ImageJ's current image).

    ``values`` maps parameter names to strings or objects; ``ask=True`` shows a GenericDialog
    starting from them. Returns the script's outputs, or ``None`` if the dialog was cancelled.
    """
    spec = script if isinstance(script, ScriptSpec) else parse_script(script)
    host = host or get_host()
    values = dict(values or {})
    images = [p for p in spec.inputs if p.kind == "image"]
    if image is None and images and images[0].name not in values:
        image = convert.current_image()
    imp = resolve_image(image, host)
    bound = bind_inputs(spec, values, image=imp, resolve_image=lambda ref: resolve_image(ref, host))
    if ask:
        from deepz_fiji.fiji.dialog import ask_parameters

        bound = ask_parameters(spec, bound)
        if bound is None:
            log.info("%s cancelled", spec.path.name)
            return None
        bound = bind_inputs(spec, bound, image=imp, resolve_image=lambda ref: resolve_image(ref, host))
    return run_script(spec, bound)


def image_outputs(spec: ScriptSpec, outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs that are ImagePlus objects."""
    ImagePlus = None
    try:
        import scyjava

        ImagePlus = scyjava.jimport("ij.ImagePlus")
    except Exception:  # noqa: BLE001 - no JVM: nothing can be an ImagePlus
        return {}
    return {name: value for name, value in outputs.items() if isinstance(value, ImagePlus)}


def imageplus_metadata(imp: Any) -> dict[str, str]:
    """An ImagePlus' title and string properties (``setProp``), to store in a TIFF."""
    meta = {"title": str(imp.getTitle())}
    props = imp.getPropertiesAsArray()
    if props is not None:
        items = [str(v) for v in props]
        meta.update(dict(zip(items[0::2], items[1::2], strict=False)))
    return meta


def save_imageplus(imp: Any, path: str | os.PathLike) -> Path:
    """Write an ImagePlus as a calibrated ImageJ TIFF (atomically) through :func:`deepz_fiji.io.write_image`."""
    from deepz_fiji.io import write_image

    image = convert.imageplus_to_numpy(imp)
    cal = image.calibration
    return write_image(path, image.data, image.axes, pixel_um=cal.pixel_um, z_step_um=cal.z_step_um,
                       frame_interval_s=cal.frame_interval_s, metadata=imageplus_metadata(imp))


def run_script_to_file(
    script: str | os.PathLike,
    image_path: str | os.PathLike,
    output_path: str | os.PathLike,
    values: Mapping[str, Any] | None = None,
    *,
    fiji_dir: str | os.PathLike | None = None,
    ij_jar: str | os.PathLike | None = None,
    output_name: str | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Open ``image_path`` in a headless ImageJ, run ``script`` on it, save its image output.

    Returns (written path, all outputs). With several ImagePlus outputs, ``output_name`` picks one.
    """
    spec = parse_script(script)
    output_path = Path(output_path)
    if not output_path.parent.is_dir():
        raise DeepZError(f"output folder {output_path.parent} does not exist; create it first")
    host = get_host(fiji_dir=fiji_dir, ij_jar=ij_jar, headless=True)
    imp = convert.open_image(str(image_path), bioformats=host.kind == "fiji")
    outputs = run_script_file(spec, image=imp, values=values, host=host) or {}
    images = image_outputs(spec, outputs)
    if output_name is not None:
        if output_name not in images:
            raise DeepZError(f"{spec.path.name} has no image output {output_name!r}; it has: {', '.join(images) or 'none'}")
        chosen = images[output_name]
    elif len(images) == 1:
        chosen = next(iter(images.values()))
    else:
        raise DeepZError(f"{spec.path.name} returned {len(images)} images ({', '.join(images) or 'none'}); "
                         "name the one to save with --output-name")
    return save_imageplus(chosen, output_path), outputs
