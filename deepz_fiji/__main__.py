"""``python -m deepz_fiji`` is the ``deepz`` command."""

import sys

from deepz_fiji.cli import main

sys.exit(main())
