"""SciJava ``#@`` script headers: parse them, bind values, run the script in-process.

Supported header lines (the SciJava script-parameter syntax)::

    #@ ImagePlus imp
    #@ File (label="Model", required=false, style="directory") model
    #@ Float (value=0, label="Δz (µm)", min=-10, max=10) dz_um
    #@ String (choices={"tilt", "cylinder"}, style="listBox") surface
    #@ Integer (value=3) n
    #@ Boolean (value=false) flag
    #@ String (visibility=MESSAGE, value="Refocus …") note
    #@output ImagePlus result

Values come from ``name=value`` strings (command line), Python/Java values, the defaults in the
header, or an ImageJ GenericDialog (:mod:`deepz_fiji.fiji.dialog`). Parsing and binding of
plain values needs no Java; ``ImagePlus`` parameters need a running ImageJ.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError

log = logging.getLogger(__name__)

FLOAT_TYPES = {"float", "double", "java.lang.float", "java.lang.double", "number"}
INT_TYPES = {"int", "integer", "long", "short", "byte", "java.lang.integer", "java.lang.long",
             "java.lang.short", "java.lang.byte"}
BOOL_TYPES = {"boolean", "java.lang.boolean"}
STRING_TYPES = {"string", "java.lang.string", "char", "character"}
FILE_TYPES = {"file", "java.io.file"}
IMAGE_TYPES = {"imageplus", "ij.imageplus"}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class ScriptParameter:
    """One ``#@`` line: ``io`` is ``'input'``, ``'output'`` or ``'both'``."""

    name: str
    type: str
    io: str = "input"
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``float``, ``int``, ``bool``, ``string``, ``file``, ``image`` or ``other``."""
        t = self.type.lower()
        for kind, names in (("float", FLOAT_TYPES), ("int", INT_TYPES), ("bool", BOOL_TYPES),
                            ("string", STRING_TYPES), ("file", FILE_TYPES), ("image", IMAGE_TYPES)):
            if t in names:
                return kind
        return "other"

    @property
    def label(self) -> str:
        return str(self.attrs.get("label", self.name))

    @property
    def required(self) -> bool:
        return bool(self.attrs.get("required", True))

    @property
    def choices(self) -> list[str] | None:
        choices = self.attrs.get("choices")
        return [str(c) for c in choices] if choices is not None else None

    @property
    def is_message(self) -> bool:
        return str(self.attrs.get("visibility", "")).upper() == "MESSAGE"

    @property
    def is_input(self) -> bool:
        return self.io in ("input", "both")

    @property
    def is_output(self) -> bool:
        return self.io in ("output", "both")


@dataclass
class ScriptSpec:
    """A script file and its declared parameters (in header order)."""

    path: Path
    parameters: list[ScriptParameter]
    directives: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> list[ScriptParameter]:
        return [p for p in self.parameters if p.is_input]

    @property
    def outputs(self) -> list[ScriptParameter]:
        return [p for p in self.parameters if p.is_output]

    @property
    def title(self) -> str:
        """The menu label: the file name with underscores as spaces (ImageJ's convention)."""
        return str(self.directives.get("label") or self.path.stem.replace("_", " ").strip())

    def parameter(self, name: str) -> ScriptParameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------- parsing


def parse_script(path: str | os.PathLike) -> ScriptSpec:
    """Read a script file and parse its ``#@`` header lines."""
    path = Path(path)
    if not path.is_file():
        raise DeepZError(f"script {path} does not exist; check the path")
    params, directives = parse_header(path.read_text(encoding="utf-8"), source=path.name)
    return ScriptSpec(path=path, parameters=params, directives=directives)


def parse_header(text: str, source: str = "script") -> tuple[list[ScriptParameter], dict[str, Any]]:
    """Parse every ``#@`` line of ``text``; returns (parameters, ``#@script`` directive attributes)."""
    params: list[ScriptParameter] = []
    directives: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped.startswith("#@"):
            continue
        try:
            parsed = _parse_line(stripped[2:])
        except DeepZError as exc:
            raise DeepZError(f"{source} line {number}: {exc}") from exc
        if isinstance(parsed, dict):
            directives.update(parsed)
        else:
            if any(p.name == parsed.name for p in params):
                raise DeepZError(f"{source} line {number}: parameter {parsed.name!r} is declared twice")
            params.append(parsed)
    return params, directives


def _parse_line(body: str) -> ScriptParameter | dict[str, Any]:
    io = "input"
    directive = re.match(r"(output|input|both|script)\b", body, re.IGNORECASE)
    if directive:
        io = directive.group(1).lower()
        body = body[directive.end():]
    body = body.strip()
    if io == "script":  # #@script(name="…", menuPath="…")
        return _parse_attrs(_take_parens(body)[0]) if body.startswith("(") else {}
    attrs: dict[str, Any] = {}
    if body.startswith("("):  # #@output(attrs) Type name
        text, body = _take_parens(body)
        attrs.update(_parse_attrs(text))
        body = body.strip()
    first = re.match(r"[A-Za-z_][\w.$]*(?:\[\])*", body)
    if not first:
        raise DeepZError(f"cannot read the parameter declaration {body!r}; write '#@ Type name'")
    rest = body[first.end():].strip()
    if rest.startswith("("):
        text, rest = _take_parens(rest)
        attrs.update(_parse_attrs(text))
        rest = rest.strip()
    if not rest:  # '#@output name': the type defaults to Object
        if io == "input":
            raise DeepZError(f"parameter {first.group(0)!r} has no type; write '#@ Type {first.group(0)}'")
        return ScriptParameter(name=first.group(0), type="Object", io=io, attrs=attrs)
    if not _NAME.fullmatch(rest):
        raise DeepZError(f"{rest!r} is not a valid parameter name")
    return ScriptParameter(name=rest, type=first.group(0), io=io, attrs=attrs)


def _scan(text: str):
    """Yield ``(index, char, depth)`` for characters outside quotes; depth counts open (/{ brackets
    after the character is read."""
    depth, quote = 0, None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = None
            continue
        if ch in "\"'":
            quote = ch
            continue
        depth += (ch in "({") - (ch in ")}")
        yield i, ch, depth


def _take_parens(text: str) -> tuple[str, str]:
    """Split ``'(a=1, b="x)") rest'`` into the text inside the balanced parentheses and the rest."""
    for i, ch, depth in _scan(text):
        if ch in ")}" and depth == 0:
            return text[1:i], text[i + 1:]
    raise DeepZError(f"unbalanced parentheses or quotes in {text!r}")


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` at ``sep`` outside quotes and brackets."""
    parts, start = [], 0
    for i, ch, depth in _scan(text):
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _parse_attrs(text: str) -> dict[str, Any]:
    attrs = {}
    for item in _split_top(text):
        key, eq, value = item.partition("=")
        if not eq or not _NAME.fullmatch(key.strip()):
            raise DeepZError(f"attribute {item!r} is not of the form key=value")
        attrs[key.strip()] = _parse_value(value.strip())
    return attrs


def _parse_value(text: str) -> Any:
    if text.startswith("{") and text.endswith("}"):
        return [_parse_value(v) for v in _split_top(text[1:-1])]
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1].replace("\\" + text[0], text[0])
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# --------------------------------------------------------------------------- binding


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """``['dz=1.5', 'model=/m']`` -> ``{'dz': '1.5', 'model': '/m'}`` (ImageJ ``[…]`` quoting allowed)."""
    values: dict[str, str] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not _NAME.fullmatch(name):
            raise DeepZError(f"parameter {item!r} must be written name=value (e.g. dz=1.5)")
        value = value.strip()
        if len(value) >= 2 and value[0] == "[" and value[-1] == "]":
            value = value[1:-1]
        values[name] = value
    return values


def default_value(param: ScriptParameter) -> Any:
    """The value a parameter has when nobody sets it (its ``value=`` attribute, else the type's default)."""
    if "value" in param.attrs:
        return convert_value(param, param.attrs["value"])
    kind = param.kind
    if kind in ("float", "int"):
        return convert_value(param, param.attrs.get("min", 0))
    if kind == "bool":
        return False
    if kind == "string":
        return param.choices[0] if param.choices else ""
    return None


def convert_value(param: ScriptParameter, value: Any) -> Any:
    """Convert a string or Python/Java value to the parameter's Python type, checking choices and range."""
    kind = param.kind
    text = str(value).strip() if value is not None else ""
    try:
        if kind == "float":
            out: Any = float(text)
        elif kind == "int":
            out = int(float(text)) if re.fullmatch(r"[-+]?\d+(\.0*)?", text) else int(text)
        elif kind == "bool":
            if isinstance(value, bool):
                return value
            if text.lower() not in _TRUE | _FALSE:
                raise ValueError(text)
            return text.lower() in _TRUE
        elif kind == "string":
            out = "" if value is None else str(value)
            if param.choices is not None and out not in param.choices:
                raise DeepZError(f"{param.name}={out!r} is not one of the choices: {', '.join(param.choices)}")
            return out
        elif kind == "file":
            return Path(text) if text else None
        else:
            return value
    except DeepZError:
        raise
    except ValueError as exc:
        raise DeepZError(f"{param.name}={text!r} is not a valid {param.type}; give a number"
                         if kind != "bool" else f"{param.name}={text!r} is not true or false") from exc
    for bound, bad in (("min", lambda v, b: v < b), ("max", lambda v, b: v > b)):
        if bound in param.attrs and bad(out, float(param.attrs[bound])):
            raise DeepZError(f"{param.name}={out:g} is outside the allowed range "
                             f"{param.attrs.get('min', '-inf')} … {param.attrs.get('max', 'inf')}")
    return out


def bind_inputs(spec: ScriptSpec, values: Mapping[str, Any] | None = None, *, image: Any = None,
                resolve_image: Any = None) -> dict[str, Any]:
    """Values for every input of ``spec``: given ``values`` (strings or objects), else defaults.

    The first ``ImagePlus`` input gets ``image`` unless a value names one; other ImagePlus
    values (a path or window title) go through ``resolve_image(text)``. Unknown names and
    missing required files raise :class:`DeepZError` naming the script's parameters.
    """
    values = dict(values or {})
    known = {p.name for p in spec.inputs}
    unknown = sorted(set(values) - known)
    if unknown:
        listing = ", ".join(f"{p.name} ({p.type})" for p in spec.inputs if not p.is_message) or "none"
        raise DeepZError(f"{spec.path.name} has no parameter {', '.join(unknown)}; its parameters are: {listing}")
    bound: dict[str, Any] = {}
    first_image = True
    for p in spec.inputs:
        if p.kind == "image":
            given = values.get(p.name)
            if given is None and first_image:
                given = image
            elif isinstance(given, str):
                if resolve_image is None:
                    raise DeepZError(f"{p.name}: cannot open {given!r} without a running ImageJ")
                given = resolve_image(given)
            first_image = False
            if given is None and p.required:
                raise DeepZError(f"{spec.path.name} needs an image for {p.name}; open one or give --image")
            bound[p.name] = given
        elif p.name in values:
            bound[p.name] = convert_value(p, values[p.name])
        elif p.kind == "other" and p.required and not p.is_message:
            raise DeepZError(f"{spec.path.name} needs {p.name} of type {p.type}, which the ImageJ 1.x runner "
                             "cannot provide; run it in Fiji or give it as a value")
        else:
            bound[p.name] = default_value(p)
        if p.kind == "file" and bound[p.name] is None and p.required:
            raise DeepZError(f"{spec.path.name} needs the file {p.name} ({p.label}); give {p.name}=PATH")
    return bound


# --------------------------------------------------------------------------- running


def run_script(spec: ScriptSpec | str | os.PathLike, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Execute the script file in this process with ``inputs`` as globals; return its declared outputs."""
    if not isinstance(spec, ScriptSpec):
        spec = parse_script(spec)
    code = compile(spec.path.read_text(encoding="utf-8"), str(spec.path), "exec")
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(spec.path), **inputs}
    log.info("running %s with %s", spec.path.name, {k: v for k, v in inputs.items() if isinstance(v, (str, int, float))})
    exec(code, namespace)  # noqa: S102 - running the user's chosen script is the point
    outputs = {}
    for p in spec.outputs:
        if p.name not in namespace:
            raise DeepZError(f"{spec.path.name} declares the output {p.name} but never sets it")
        outputs[p.name] = namespace[p.name]
    return outputs
