"""``python -m sktransfer``: the ``sktransfer`` command (see :mod:`sktransfer.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
