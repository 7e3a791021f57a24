"""SciJava #@ headers: parsing, binding values, running a script file (no Java needed)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.scripts import (
    bind_inputs,
    parse_assignments,
    parse_header,
    parse_script,
    run_script,
)

HEADER = '''\
#@ ImagePlus imp
#@ File (label="Model, folder", required=false, style="directory") model
#@ Float (value=0, label="Δz (µm)", min=-10, max=10) dz_um
#@ String (choices={"tilt", "cylinder, curved", "height map"}, style="listBox") surface
#@Integer(value=3) n
#@ Boolean (value=true) flag
#@ String (visibility=MESSAGE, value="Hello, (world)") note
#@output ImagePlus result
#@output count
x = 1  # not a header line
'''


def test_header_types_attributes_and_outputs():
    params, _ = parse_header(HEADER)
    by = {p.name: p for p in params}
    assert [p.name for p in params] == ["imp", "model", "dz_um", "surface", "n", "flag", "note", "result", "count"]
    assert by["imp"].kind == "image" and by["imp"].is_input
    assert by["model"].kind == "file" and by["model"].required is False
    assert by["model"].label == "Model, folder" and by["model"].attrs["style"] == "directory"
    assert by["dz_um"].kind == "float" and by["dz_um"].label == "Δz (µm)"
    assert by["dz_um"].attrs == {"value": 0, "label": "Δz (µm)", "min": -10, "max": 10}
    assert by["surface"].choices == ["tilt", "cylinder, curved", "height map"]
    assert by["n"].kind == "int" and by["n"].attrs["value"] == 3
    assert by["flag"].attrs["value"] is True
    assert by["note"].is_message and by["note"].attrs["value"] == "Hello, (world)"
    assert by["result"].is_output and not by["result"].is_input and by["result"].type == "ImagePlus"
    assert by["count"].is_output and by["count"].type == "Object"


@pytest.mark.parametrize("line, problem", [
    ("#@ Float (value=1 dz", "unbalanced"),
    ("#@ Float (value) dz", "key=value"),
    ("#@ Float 3dz", "not a valid parameter name"),
    ("#@ dz", "has no type"),
])
def test_bad_header_lines_name_the_line(line, problem):
    with pytest.raises(DeepZError, match=problem) as info:
        parse_header("# first\n" + line, source="S.py")
    assert "S.py line 2" in str(info.value)


def test_duplicate_parameter_is_refused():
    with pytest.raises(DeepZError, match="declared twice"):
        parse_header("#@ Float a\n#@ Integer a")


def _spec(tmp_path: Path, text: str = HEADER):
    path = tmp_path / "My_Script.py"
    path.write_text(text, encoding="utf-8")
    return parse_script(path)


def test_bind_from_strings_and_defaults(tmp_path):
    spec = _spec(tmp_path)
    bound = bind_inputs(spec, {"dz_um": "-2.5", "n": "7", "flag": "off", "surface": "height map"}, image="IMP")
    assert bound["imp"] == "IMP"
    assert bound["dz_um"] == -2.5 and bound["n"] == 7 and bound["flag"] is False
    assert bound["surface"] == "height map"
    assert bound["model"] is None  # optional file left empty
    defaults = bind_inputs(spec, {}, image="IMP")
    assert defaults["dz_um"] == 0.0 and defaults["n"] == 3 and defaults["flag"] is True
    assert defaults["surface"] == "tilt"  # first choice
    assert spec.title == "My Script"


@pytest.mark.parametrize("values, message", [
    ({"dz_um": "abc"}, "not a valid Float"),
    ({"dz_um": "11"}, "outside the allowed range"),
    ({"surface": "sphere"}, "not one of the choices"),
    ({"flag": "maybe"}, "not true or false"),
    ({"n": "2.5"}, "not a valid Integer"),
    ({"dzum": "1"}, "has no parameter dzum; its parameters are: imp"),
])
def test_bad_values_are_explained(tmp_path, values, message):
    with pytest.raises(DeepZError, match=message):
        bind_inputs(_spec(tmp_path), values, image="IMP")


def test_missing_image_and_required_file(tmp_path):
    with pytest.raises(DeepZError, match="needs an image"):
        bind_inputs(_spec(tmp_path), {}, image=None)
    spec = _spec(tmp_path, "#@ File (label='Stack') stack\n")
    with pytest.raises(DeepZError, match="needs the file stack"):
        bind_inputs(spec, {})
    assert bind_inputs(spec, {"stack": "/data/a.tif"})["stack"] == Path("/data/a.tif")


def test_assignments_accept_imagej_brackets():
    assert parse_assignments(["dz_um=1.5", "model=[/my models/m1]", "note=a=b"]) == {
        "dz_um": "1.5", "model": "/my models/m1", "note": "a=b"}
    with pytest.raises(DeepZError, match="name=value"):
        parse_assignments(["1.5"])


def test_run_script_binds_globals_and_returns_outputs(tmp_path):
    spec = _spec(tmp_path, "#@ Float (value=2) a\n#@ Integer b\n#@output total\ntotal = a * b\n")
    assert run_script(spec, bind_inputs(spec, {"b": "5"})) == {"total": 10.0}
    broken = _spec(tmp_path, "#@ Float a\n#@output total\nresult = a\n")
    with pytest.raises(DeepZError, match="never sets it"):
        run_script(broken, {"a": 1.0})


SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "fiji_scripts" / "Deep-Z").glob("*.py"))


def test_the_four_deepz_scripts_exist():
    assert {p.name for p in SCRIPTS} == {"Refocus_Plane.py", "Virtual_Stack.py", "Refocus_Surface.py",
                                         "Refocus_Video.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_deepz_scripts_are_a_header_and_one_call(script):
    spec = parse_script(script)
    assert spec.inputs[0].kind == "image", "the current image must be the first input"
    assert [p.name for p in spec.outputs] == ["result"] and spec.outputs[0].type == "ImagePlus"
    assert any(p.name == "model" and p.kind == "file" and not p.required for p in spec.inputs)
    body = ast.parse(script.read_text(encoding="utf-8")).body
    assert [type(node).__name__ for node in body] == ["ImportFrom", "Assign"], "no logic in the scripts"
    assert body[0].module == "deepz_fiji.fiji.actions"
    call = body[1].value
    used = {n.id for n in ast.walk(call) if isinstance(n, ast.Name)}
    declared = {p.name for p in spec.inputs if not p.is_message}
    assert declared <= used | {"note"}, f"inputs not passed on: {declared - used}"
    assert bind_inputs(spec, {}, image="IMP")["imp"] == "IMP"  # every default is valid
