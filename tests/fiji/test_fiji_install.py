"""Installing Plugins › Deep-Z into a Fiji.app or an ImageJ 1.x folder, and removing it (no Java needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.install import (
    LIBRARY,
    MACRO_FOLDER,
    MANIFEST,
    SCRIPT_FOLDER,
    install,
    macro_string,
    macros_dir,
    uninstall,
)
from deepz_fiji.fiji.java import check_fiji_dir, fiji_problem

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "fiji_scripts" / "Deep-Z"
MACROS = REPO / "fiji_scripts" / "macros"
ENTRIES = ["Deep-Z_Doctor.ijm", "Refocus_Plane.ijm", "Refocus_Surface.ijm", "Refocus_Video.ijm", "Virtual_Stack.ijm"]


@pytest.fixture
def imagej_dir(tmp_path) -> Path:
    (tmp_path / "ImageJ" / "plugins").mkdir(parents=True)
    return tmp_path / "ImageJ"


def test_imagej_install_writes_one_macro_per_entry(imagej_dir):
    written = install(imagej_dir, fiji=False, python="/opt/env/bin/python")
    folder = imagej_dir / MACRO_FOLDER
    assert sorted(p.name for p in folder.glob("*.ijm")) == ENTRIES
    assert not (imagej_dir / SCRIPT_FOLDER).exists(), "no CPython scripts in a plain ImageJ"
    library = (MACROS / LIBRARY).read_text()
    for name in ENTRIES:
        text = (folder / name).read_text(encoding="ascii")  # ImageJ reads macros as Latin-1: keep them ASCII
        assert 'var DEEPZ_PYTHON = "/opt/env/bin/python";' in text
        assert (MACROS / name).read_text() in text and text.endswith(library)
    record = json.loads((folder / MANIFEST).read_text())
    assert record["python"] == "/opt/env/bin/python"
    assert sorted(record["files"]) == sorted(str(p.relative_to(imagej_dir)) for p in written if p.name != MANIFEST)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_fiji_install_adds_the_python_mode_scripts_named_apart(fiji_app):
    install(fiji_app, fiji=True)
    assert sorted(p.name for p in (fiji_app / MACRO_FOLDER).glob("*.ijm")) == ENTRIES
    scripts = fiji_app / SCRIPT_FOLDER
    for script in SCRIPTS.glob("*.py"):
        copy = scripts / f"{script.stem}_(Python).py"
        assert copy.read_bytes() == script.read_bytes()
    assert f'var DEEPZ_PYTHON = {macro_string(sys.executable)};' in (fiji_app / MACRO_FOLDER / ENTRIES[1]).read_text()


def test_reinstall_replaces_and_uninstall_removes_exactly_what_was_written(fiji_app):
    scripts = fiji_app / SCRIPT_FOLDER
    scripts.mkdir(parents=True)
    (scripts / "Refocus_Plane.py").write_text("an earlier layout")  # would clash with the macro's menu name
    (fiji_app / "plugins" / "Other_Plugin.ijm").write_text("// not ours")
    install(fiji_app, fiji=True, python="/old/python")
    assert not (scripts / "Refocus_Plane.py").exists()
    install(fiji_app, fiji=True, python="/new/python")
    assert "/new/python" in (fiji_app / MACRO_FOLDER / "Virtual_Stack.ijm").read_text()
    removed = uninstall(fiji_app)
    assert len(removed) == len(ENTRIES) + len(list(SCRIPTS.glob("*.py"))) + 1
    assert not (fiji_app / MACRO_FOLDER).exists() and not scripts.exists()
    assert (fiji_app / "plugins" / "Other_Plugin.ijm").read_text() == "// not ours"
    assert uninstall(fiji_app) == []


def test_uninstall_never_leaves_the_folder(imagej_dir, tmp_path):
    install(imagej_dir, fiji=False)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    manifest = imagej_dir / MACRO_FOLDER / MANIFEST
    record = json.loads(manifest.read_text())
    record["files"].append("../precious.txt")
    manifest.write_text(json.dumps(record))
    uninstall(imagej_dir)
    assert outside.read_text() == "keep"


def test_macro_string_escapes_and_keeps_ascii():
    assert macro_string('C:\\Users\\a "b"') == '"C:\\\\Users\\\\a \\"b\\""'
    assert macro_string("/home/j\u00fcrgen/py") == '"/home/j" + fromCharCode(252) + "rgen/py"'
    assert macro_string("") == '""'


def test_every_macro_source_is_ascii_and_documents_its_macro_call():
    assert (macros_dir() / LIBRARY).is_file()
    for name in ENTRIES:
        text = (MACROS / name).read_text(encoding="ascii")
        assert f"Plugins > Deep-Z > {name[:-4].replace('_', ' ')}" in text


@pytest.mark.parametrize("make, why", [
    (lambda p: p, "has no jars/ folder"),
    (lambda p: (p / "jars").mkdir() or p, "has no plugins/ folder"),
    (lambda p: ((p / "jars").mkdir(), (p / "plugins").mkdir()) and p, "holds no ImageJ jar"),
    (lambda p: p / "missing", "does not exist"),
])
def test_a_folder_that_is_not_fiji_is_refused(tmp_path, make, why):
    folder = make(tmp_path)
    assert why in fiji_problem(folder)
    with pytest.raises(DeepZError, match="not a Fiji installation") as info:
        install(folder, fiji=True)
    assert why in str(info.value)
    assert not (tmp_path / "scripts").exists(), "nothing written into a non-Fiji folder"


def test_a_folder_that_is_not_imagej_is_refused(tmp_path):
    with pytest.raises(DeepZError, match="no plugins/ folder and no ij.jar"):
        install(tmp_path, fiji=False)
    with pytest.raises(DeepZError, match="does not exist"):
        install(tmp_path / "missing", fiji=False)


def test_check_fiji_dir_accepts_the_fiji_shape(fiji_app):
    assert check_fiji_dir(fiji_app) == fiji_app.resolve()


def test_cli_install_and_uninstall(run_cli, fiji_app, imagej_dir, tmp_path):
    proc = run_cli("fiji", "install", "--fiji", fiji_app)
    assert proc.returncode == 0, proc.stderr
    assert "plugins/Deep-Z/Virtual_Stack.ijm" in proc.stdout and "Refocus_Plane_(Python).py" in proc.stdout
    proc = run_cli("fiji", "install", "--imagej", imagej_dir, "--python", sys.executable)
    assert proc.returncode == 0 and (imagej_dir / MACRO_FOLDER / "Virtual_Stack.ijm").is_file(), proc.stderr
    proc = run_cli("fiji", "install", "--imagej", imagej_dir, "--uninstall")
    assert proc.returncode == 0 and "removed 6 Deep-Z files" in proc.stdout
    assert not (imagej_dir / MACRO_FOLDER).exists()
    for args, message in [(("--fiji", tmp_path / "nowhere"), "not a Fiji installation"),
                          (("--imagej", imagej_dir, "--python", tmp_path / "nopython"), "is not an executable file")]:
        bad = run_cli("fiji", "install", *args)
        assert bad.returncode == 2
        assert bad.stderr.count("\n") == 1 and message in bad.stderr
