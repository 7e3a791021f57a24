"""Installing the Deep-Z scripts into a Fiji.app (no Java needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji.install import install_scripts
from deepz_fiji.fiji.java import check_fiji_dir, fiji_problem

SCRIPTS = Path(__file__).resolve().parents[2] / "fiji_scripts" / "Deep-Z"


def test_install_copies_every_script_into_the_plugins_menu(fiji_app):
    written = install_scripts(fiji_app)
    target = fiji_app / "scripts" / "Plugins" / "Deep-Z"
    assert sorted(p.name for p in written) == sorted(p.name for p in SCRIPTS.glob("*.py"))
    for path in written:
        assert path.parent == target
        assert path.read_bytes() == (SCRIPTS / path.name).read_bytes()
    assert not [p for p in target.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_reinstall_replaces_old_copies(fiji_app):
    target = fiji_app / "scripts" / "Plugins" / "Deep-Z"
    target.mkdir(parents=True)
    (target / "Refocus_Plane.py").write_text("old")
    install_scripts(fiji_app)
    assert (target / "Refocus_Plane.py").read_bytes() == (SCRIPTS / "Refocus_Plane.py").read_bytes()


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
        install_scripts(folder)
    assert why in str(info.value)
    assert not (tmp_path / "scripts").exists(), "nothing written into a non-Fiji folder"


def test_check_fiji_dir_accepts_the_fiji_shape(fiji_app):
    assert check_fiji_dir(fiji_app) == fiji_app.resolve()


def test_cli_install(run_cli, fiji_app, tmp_path):
    proc = run_cli("fiji", "install", "--fiji", fiji_app)
    assert proc.returncode == 0, proc.stderr
    assert "Refocus_Plane.py" in proc.stdout
    assert (fiji_app / "scripts" / "Plugins" / "Deep-Z" / "Virtual_Stack.py").is_file()
    bad = run_cli("fiji", "install", "--fiji", tmp_path / "nowhere")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "not a Fiji installation" in bad.stderr
