"""Find Java, ``ij.jar`` or a Fiji installation; the offline JVM settings; :class:`ImageJHost`.

Two hosts share one bridge:

- **ImageJ 1.x**: ``ij.jar`` on the classpath of a JVM started through scyjava.
- **Fiji**: a user's ``Fiji.app`` started through PyImageJ (see :mod:`deepz_fiji.fiji.pyimagej`).

Both start **offline**: scyjava is told to use the system Java (``fetch="never"``, no JDK
download) and its Maven endpoint list is emptied (``import imagej`` adds the imglyb endpoint,
and any endpoint makes scyjava resolve jars from Maven at start-up). The JVM can start only
once per Python process; :func:`deepz_fiji.fiji.host.start_imagej` starts it and returns the one
running host on later calls.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepz_fiji.errors import DeepZError, require

log = logging.getLogger(__name__)

#: Environment variable naming a Fiji.app folder (used by the CLI and the Fiji tests).
ENV_FIJI_DIR = "DEEPZ_FIJI_DIR"
#: Environment variable naming an ij.jar.
ENV_IJ_JAR = "DEEPZ_IJ_JAR"
#: Where Debian/Ubuntu's ``libij-java`` puts ImageJ 1.x.
SYSTEM_IJ_JARS = (Path("/usr/share/java/ij.jar"),)
_IJ_JAR_FIX = "install it with `apt-get install libij-java` or pass --ij-jar PATH/TO/ij.jar"


@dataclass(frozen=True)
class JavaInfo:
    """The Java the JVM will be started from."""

    executable: Path
    home: Path
    version: str

    @property
    def major(self) -> int:
        head = self.version.split(".")[0]
        if head == "1" and "." in self.version:  # 1.8.0_312 -> 8
            head = self.version.split(".")[1]
        return int(re.sub(r"\D.*", "", head) or 0)


def find_java() -> JavaInfo:
    """Locate the system Java (``JAVA_HOME``, then ``PATH``); :class:`DeepZError` if there is none."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(Path(os.environ["JAVA_HOME"]) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path))
    for exe in candidates:
        if exe.is_file() and os.access(exe, os.X_OK):
            exe = exe.resolve()
            version = _java_version(exe)
            info = JavaInfo(executable=exe, home=exe.parent.parent, version=version)
            if info.major and info.major < 11:
                raise DeepZError(
                    f"Java {version} at {exe} is too old (ImageJ via scyjava needs Java 11 or newer); "
                    "install a newer one, e.g. `apt-get install openjdk-17-jre`, and set JAVA_HOME"
                )
            return info
    raise DeepZError(
        "Java was not found (no JAVA_HOME and no `java` on PATH); install Java 11 or newer, "
        "e.g. `apt-get install openjdk-17-jre`, or set JAVA_HOME"
    )


def _java_version(exe: Path) -> str:
    try:
        out = subprocess.run([str(exe), "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DeepZError(f"cannot run {exe} -version ({exc}); check the Java installation") from exc
    match = re.search(r'version "([^"]+)"', out.stderr + out.stdout)
    return match.group(1) if match else "unknown"


def find_ij_jar(ij_jar: str | os.PathLike | None = None) -> Path:
    """The ImageJ 1.x jar: ``ij_jar``, else ``$DEEPZ_IJ_JAR``, else the system one."""
    if ij_jar is not None:
        path = Path(ij_jar).expanduser()
        if not path.is_file():
            raise DeepZError(f"ij.jar {path} does not exist; {_IJ_JAR_FIX}")
        return path
    if os.environ.get(ENV_IJ_JAR):
        return find_ij_jar(os.environ[ENV_IJ_JAR])
    for path in SYSTEM_IJ_JARS:
        if path.is_file():
            return path
    raise DeepZError(f"ImageJ 1.x (ij.jar) was not found; {_IJ_JAR_FIX}")


def fiji_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a Fiji installation, or ``None`` if it looks like one."""
    path = Path(path).expanduser()
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a folder"
    if not (path / "jars").is_dir():
        return f"{path} has no jars/ folder"
    if not (path / "plugins").is_dir():
        return f"{path} has no plugins/ folder"
    if not any((path / "jars").glob("ij-*.jar")) and not any((path / "jars").glob("ij.jar")):
        return f"{path}/jars holds no ImageJ jar (ij-*.jar)"
    return None


def check_fiji_dir(path: str | os.PathLike) -> Path:
    """Return ``path`` as an absolute Path if it is a Fiji.app folder, else raise :class:`DeepZError`."""
    problem = fiji_problem(path)
    if problem:
        raise DeepZError(
            f"{problem}, so it is not a Fiji installation; give the Fiji.app folder "
            "(the one holding jars/, plugins/ and the ImageJ launcher)"
        )
    return Path(path).expanduser().resolve()


def configure_offline() -> dict[str, Any]:
    """Make scyjava start from the system Java with nothing to download; return the settings.

    Sets ``scyjava.config.set_java_constraints(fetch="never")`` and empties
    ``scyjava.config.endpoints`` (``import imagej`` adds ``net.imglib2:imglib2-imglyb``; any
    endpoint makes scyjava resolve it from Maven through jgo at start-up).
    """
    sj = require("scyjava", "fiji")
    sj.config.set_java_constraints(fetch="never")
    dropped = list(sj.config.endpoints)
    sj.config.endpoints.clear()
    if dropped:
        log.info("removed Maven endpoints for an offline start: %s", dropped)
    return offline_settings()


def offline_settings() -> dict[str, Any]:
    """The scyjava settings that decide whether starting the JVM touches the network."""
    sj = require("scyjava", "fiji")
    return {
        "fetch_java": sj.config.get_fetch_java(),
        "endpoints": list(sj.config.endpoints),
        "offline": sj.config.get_fetch_java() == "never" and not sj.config.endpoints,
    }


@dataclass
class ImageJHost:
    """The running ImageJ: ``kind`` is ``"fiji"`` or ``"imagej1"``."""

    kind: str
    headless: bool
    location: Path | None
    gateway: Any = field(default=None, repr=False)

    @staticmethod
    def jclass(name: str) -> Any:
        """A Java class by its full name, e.g. ``host.jclass("ij.ImagePlus")``."""
        import scyjava

        return scyjava.jimport(name)

    @property
    def IJ(self) -> Any:  # noqa: N802 - the Java class name
        return self.jclass("ij.IJ")

    @property
    def version(self) -> str:
        return str(self.IJ.getFullVersion())

    def command_table(self) -> dict[str, str]:
        """ImageJ's menu command table (command -> class); empty where ImageJ has none.

        Plain ImageJ 1.x builds its menus with AWT, so a headless ImageJ 1.x has no command
        table and cannot run menu commands (Fiji's legacy layer can); run under a display
        (e.g. ``xvfb-run``) for that.
        """
        Menus = self.jclass("ij.Menus")
        table = Menus.getCommands()
        if table is None and not self.headless:
            # IJ.init() is package-private; running a harmless command builds the menus
            blank = self.IJ.createImage("deepz-init", "8-bit black", 1, 1, 1)
            self.IJ.run(blank, "Select None", "")
            table = Menus.getCommands()
        if table is None:
            return {}
        return {str(k): str(table.get(k)) for k in table.keySet()}

    def has_command(self, name: str) -> bool:
        """Whether ImageJ's menus have the command ``name`` (exact, e.g. ``"StackReg "``)."""
        return name in self.command_table()
