"""Finding Java/ij.jar/Fiji, the offline PyImageJ configuration, the doctor, and (if given) a real Fiji."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deepz_fiji.errors import DeepZError
from deepz_fiji.fiji import java, pyimagej

FIJI_DIR = os.environ.get(java.ENV_FIJI_DIR)


def test_missing_ij_jar_says_how_to_install(tmp_path, monkeypatch):
    with pytest.raises(DeepZError, match="apt-get install libij-java.*--ij-jar"):
        java.find_ij_jar(tmp_path / "ij.jar")
    monkeypatch.delenv(java.ENV_IJ_JAR, raising=False)
    monkeypatch.setattr(java, "SYSTEM_IJ_JARS", (tmp_path / "none.jar",))
    with pytest.raises(DeepZError, match="ImageJ 1.x \\(ij.jar\\) was not found; install it with `apt-get install libij-java`"):
        java.find_ij_jar()


def test_missing_java_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DeepZError, match="Java was not found.*install Java 11 or newer"):
        java.find_java()


def test_java_version_parsing():
    assert java.JavaInfo(Path("j"), Path("h"), "17.0.15").major == 17
    assert java.JavaInfo(Path("j"), Path("h"), "1.8.0_312").major == 8
    assert java.JavaInfo(Path("j"), Path("h"), "21-ea").major == 21


def test_found_java_is_real(require_java):
    info = java.find_java()
    assert info.executable.is_file() and info.major >= 11


OFFLINE_PROBE = textwrap.dedent("""\
    import json, socket, sys
    def no_network(*args, **kwargs):
        raise RuntimeError("network access attempted")
    socket.socket.connect = no_network
    socket.create_connection = no_network
    import jgo
    jgo.build = no_network  # scyjava resolves Maven endpoints through jgo
    import scyjava
    import imagej  # noqa: F401 - adds the imglyb endpoint, as in any PyImageJ session
    from deepz_fiji.errors import DeepZError
    from deepz_fiji.fiji import host, java
    result = {"endpoints_after_import": list(scyjava.config.endpoints), "fetch_default": scyjava.config.get_fetch_java()}
    try:
        host.start_imagej(fiji_dir=sys.argv[1])
        result["started"] = True
    except DeepZError as exc:
        result["error"] = str(exc)
    result.update(jvm_started=bool(scyjava.jvm_started()), fetch=scyjava.config.get_fetch_java(),
                  endpoints=list(scyjava.config.endpoints))
    if scyjava.jvm_started():
        result["ij_version"] = str(scyjava.jimport("ij.IJ").getVersion())
        result["plugins_dir"] = str(scyjava.jimport("java.lang.System").getProperty("plugins.dir"))
    print(json.dumps(result))
""")


@pytest.mark.imagej
def test_fiji_start_is_offline(require_java, fiji_app, tmp_path, fiji_test_env):
    """Start PyImageJ's path on a Fiji.app-shaped folder with the network cut off.

    The folder holds only ImageJ 1.x, so ImageJ2's gateway cannot be made; what is checked is
    that Java starts from the system (no JDK download), from Fiji's own jars (no Maven
    resolution of the imglyb endpoint ``import imagej`` adds), and that the failure is a clear
    DeepZError rather than a network error.
    """
    probe = tmp_path / "probe.py"
    probe.write_text(OFFLINE_PROBE)
    proc = subprocess.run([sys.executable, str(probe), str(fiji_app)], capture_output=True, text=True,
                          env=fiji_test_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert any("imglyb" in e for e in result["endpoints_after_import"]), "import imagej adds the imglyb endpoint"
    assert result["fetch_default"] == "always", "scyjava would download a JDK by default"
    assert result["fetch"] == "never" and result["endpoints"] == []
    assert result["jvm_started"] and result["ij_version"] == "1.53t", "Java ran on Fiji.app/jars"
    assert result["plugins_dir"] == str(fiji_app.resolve() / "plugins")
    assert "network" not in result.get("error", "")
    assert "has no ImageJ2 (net.imagej.ImageJ)" in result["error"]


def test_configure_offline_drops_the_imglyb_endpoint():
    import scyjava  # (not `import imagej` here: its start-up hooks would follow this test process)

    saved = list(scyjava.config.endpoints), scyjava.config.get_fetch_java()
    try:
        scyjava.config.endpoints.append("net.imglib2:imglib2-imglyb:1.1.0")  # what `import imagej` does
        settings = java.configure_offline()
        assert settings == {"fetch_java": "never", "endpoints": [], "offline": True}
    finally:
        scyjava.config.endpoints[:] = saved[0]
        scyjava.config.set_java_constraints(fetch=saved[1])


def test_imglyb_jars_found_in_local_maven_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    jar = tmp_path / ".m2/repository/net/imglib2/imglib2-imglyb/1.1.0/imglib2-imglyb-1.1.0.jar"
    jar.parent.mkdir(parents=True)
    jar.write_bytes(b"")
    assert pyimagej.imglyb_jars(["/Fiji.app/jars/ij-1.54f.jar"]) == [str(jar)]
    assert pyimagej.imglyb_jars(["/Fiji.app/jars/imglib2-imglyb-1.1.0.jar"]) == []


def test_doctor(run_cli, tmp_path):
    proc = run_cli("fiji", "doctor")
    lines = proc.stdout
    assert "java:" in lines and "ImageJ 1.x:" in lines and "offline start:" in lines
    assert "fetch_java='never', endpoints=[]" in lines
    if "[FAIL]" not in lines:
        assert proc.returncode == 0
    bad = run_cli("fiji", "doctor", "--fiji", tmp_path)
    assert bad.returncode == 1 and "[FAIL] Fiji:" in bad.stdout and "has no jars/ folder" in bad.stdout


@pytest.mark.skipif(not FIJI_DIR, reason=f"no real Fiji: set {java.ENV_FIJI_DIR} to a Fiji.app to run")
def test_real_fiji_starts_offline_and_runs_a_script(tmp_path, fiji_test_env):
    script = tmp_path / "fiji_probe.py"
    script.write_text(textwrap.dedent("""\
        import json, sys
        import numpy as np
        from deepz_fiji.fiji import convert, host
        host = host.start_imagej(fiji_dir=sys.argv[1])
        imp = convert.numpy_to_imageplus(np.arange(12, dtype=np.float32).reshape(3, 4), title="t")
        back = convert.imageplus_to_numpy(imp)
        print(json.dumps({"kind": host.kind, "version": host.version, "legacy": bool(host.gateway.legacy.isActive()),
                          "same": bool((back.data == np.arange(12).reshape(3, 4)).all()),
                          "stackreg": host.has_command("StackReg ")}))
    """))
    proc = subprocess.run([sys.executable, str(script), FIJI_DIR], capture_output=True, text=True,
                          env=fiji_test_env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["kind"] == "fiji" and result["legacy"] and result["same"]


def test_package_exports_the_readme_names_without_starting_java():
    code = ("import sys; from deepz_fiji.fiji import start_imagej, running_host, imageplus_to_numpy, "
            "numpy_to_imageplus; print(callable(start_imagej) and callable(imageplus_to_numpy), "
            "'jpype' in sys.modules, 'scyjava' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]
