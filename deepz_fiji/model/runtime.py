"""The TensorFlow runtime: importing it without its start-up chatter."""

from __future__ import annotations

import os
import sys


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the process's stderr pointed at /dev/null.

    Its C++ start-up lines (oneDNN, absl) are not errors, and ``TF_CPP_MIN_LOG_LEVEL`` no longer
    silences all of them; without this a one-line error would come after four lines of them.
    An import that fails still raises.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
