#!/usr/bin/env bash
# Installs what deepz-fiji needs on a fresh Debian/Ubuntu machine: Java 17, ImageJ 1.x (libij-java),
# Xvfb (for the GUI test) and the Python package with its extras. Safe to run again: it only
# installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libij-java xvfb x11-utils xdotool imagemagick)
command -v java >/dev/null 2>&1 || apt_packages+=(default-jre-headless)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
# (re)install when something is missing, pyproject.toml changed, or deepz_fiji points elsewhere
if ! (cd /tmp && $PY -c "import sys, pathlib, deepz_fiji, tensorflow, scyjava, pytest
sys.exit(pathlib.Path(deepz_fiji.__file__).resolve().parents[1] != pathlib.Path(sys.argv[1]).resolve())" "$OLDPWD") \
   >/dev/null 2>&1 || [ pyproject.toml -nt .setup-stamp ]; then
  echo "setup: installing the Python package and its dependencies"
  $PY -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch .setup-stamp
fi
# the independent evaluation suite's PSF code paths and real-morphology volumes (benchmarks/independent_data.py);
# --no-deps: only their code and data are used (flowdec would pull in TensorFlow 1-era pins)
if ! (cd /tmp && $PY -c "import microscPSF, pyotf, flowdec, sdeconv") >/dev/null 2>&1; then
  echo "setup: installing the evaluation suite's PSF and volume packages"
  $PY -m pip install -q --disable-pip-version-check --no-deps flowdec==1.1.0 sdeconv==1.0.4 MicroscPSF-Py==0.2 \
    pyotf==0.0.3 dphtools==0.0.5
fi
