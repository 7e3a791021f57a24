"""The job folder protocol between the Deep-Z ImageJ macros and the ``deepz`` command line."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from deepz_fiji.cli import _macro_job as macro_job


@pytest.mark.parametrize("stderr, line", [
    ("some log\ndeepz: error: input x.tif does not exist; give an existing TIFF\n",
     "input x.tif does not exist; give an existing TIFF"),
    ("usage: deepz stack ...\ndeepz stack: error: the following arguments are required: --range\n",
     "the following arguments are required: --range"),
    ("Traceback ...\nValueError: boom\n", "ValueError: boom"),
    ("", "the deepz command failed without a message"),
])
def test_error_line_is_the_commands_one_line_error(stderr, line):
    assert macro_job.error_line(stderr) == line


@pytest.mark.parametrize("argv, title", [
    (["stack", "x.tif", "--range", "-10", "10", "--step", "5", "-o", "y.tif"], "\u0394z -10.00\u2026+10.00 \u00b5m"),
    (["refocus", "x.tif", "--dz", "2.5", "-o", "y.tif"], "\u0394z=+2.50 \u00b5m"),
    (["surface", "x.tif", "--tilt-x-deg", "3", "-o", "y.tif"], "tilted plane (tilt x 3\u00b0, tilt y 0\u00b0), offset +0 \u00b5m"),
    (["refocus-video", "v.tif", "--track-focus", "-o", "y.tif"], "in focus"),
])
def test_result_title_names_the_dz(argv, title):
    assert macro_job.result_title(argv) == title


def test_a_failed_job_leaves_its_message_and_status(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    (job / macro_job.ARGS).write_text(f"refocus\n{tmp_path / 'missing.tif'}\n--dz\n1\n-o\n{tmp_path / 'o.tif'}\n")
    assert macro_job.run(job) != 0
    assert (job / macro_job.STATUS).read_text().strip() != "0"
    message = (job / macro_job.MESSAGE).read_text()
    assert "missing.tif" in message and "\n" not in message.strip()
    assert not (tmp_path / "o.tif").exists()
    macro_job.clean(job)
    assert not job.exists()


def test_clean_removes_only_job_folders(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    macro_job.clean(tmp_path)
    assert (tmp_path / "keep.txt").exists()


def test_an_abandoned_job_stops_and_removes_its_folder(tmp_path):
    """Without the macro's heartbeat (ImageJ closed, Esc) the job ends itself and leaves nothing."""
    job = tmp_path / "job"
    job.mkdir()
    (job / macro_job.ARGS).write_text("simulate\n--sample\nbeads\n--size\n4096\n--out\n" + str(tmp_path / "s.tif") + "\n")
    env = dict(os.environ, **{macro_job.ABANDONED_ENV: "2"})
    proc = subprocess.run([sys.executable, "-m", macro_job.MODULE, "start", str(job)], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.stdout.startswith("started "), proc.stdout + proc.stderr
    deadline = time.monotonic() + 60
    while job.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not job.exists()
    assert not (tmp_path / "s.tif").exists()
