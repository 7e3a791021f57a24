"""Ask a script's parameters in an ImageJ 1.x GenericDialog (needs a display).

The dialog shows one field per input in header order, filled with the current values; the
first ImagePlus input is the current image and is not asked. When ImageJ runs the command
with macro options (``Macro.setOptions``), GenericDialog reads the values from them instead
of showing itself, as every ImageJ dialog does.
"""

from __future__ import annotations

import logging
from typing import Any

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.scripts import ScriptSpec, convert_value

log = logging.getLogger(__name__)


def _decimals(value: float) -> int:
    text = f"{float(value):g}"
    return max(2, len(text.split(".")[1]) if "." in text and "e" not in text else 2)


def ask_parameters(spec: ScriptSpec, values: dict[str, Any], *, title: str | None = None) -> dict[str, Any] | None:
    """Show a GenericDialog for ``spec``'s inputs starting from ``values``; ``None`` if cancelled."""
    import scyjava

    GraphicsEnvironment = scyjava.jimport("java.awt.GraphicsEnvironment")
    if GraphicsEnvironment.isHeadless():
        raise DeepZError("cannot show a parameter dialog: ImageJ runs headless; give the values as name=value")
    GenericDialog = scyjava.jimport("ij.gui.GenericDialog")
    gd = GenericDialog(title or spec.title)
    asked = []
    first_image = True
    for p in spec.inputs:
        value = values.get(p.name)
        if p.is_message:
            gd.addMessage(str(p.attrs.get("value", "")))
            continue
        kind = p.kind
        if kind == "image":
            if not first_image:
                gd.addImageChoice(p.label, value.getTitle() if value is not None else "")
                asked.append(p)
            first_image = False
            continue
        if kind in ("float", "int"):
            gd.addNumericField(p.label, float(value if value is not None else 0),
                               0 if kind == "int" else _decimals(value or 0))
        elif kind == "bool":
            gd.addCheckbox(p.label, bool(value))
        elif kind == "string" and p.choices:
            gd.addChoice(p.label, p.choices, str(value if value is not None else p.choices[0]))
        elif kind == "string":
            gd.addStringField(p.label, "" if value is None else str(value), 25)
        elif kind == "file":
            text = "" if value is None else str(value)
            if str(p.attrs.get("style", "")).lower().startswith("directory"):
                gd.addDirectoryField(p.label, text, 30)
            else:
                gd.addFileField(p.label, text, 30)
        else:
            continue
        asked.append(p)
    gd.showDialog()
    if gd.wasCanceled():
        return None
    out = dict(values)
    for p in asked:
        kind = p.kind
        if kind == "image":
            out[p.name] = gd.getNextImage()
        elif kind in ("float", "int"):
            number = float(gd.getNextNumber())
            if gd.invalidNumber():
                raise DeepZError(f"{p.label}: not a number; enter a number")
            out[p.name] = convert_value(p, int(round(number)) if kind == "int" else number)
        elif kind == "bool":
            out[p.name] = bool(gd.getNextBoolean())
        elif kind == "string" and p.choices:
            out[p.name] = str(gd.getNextChoice())
        else:
            out[p.name] = convert_value(p, str(gd.getNextString()).strip())
    return out
