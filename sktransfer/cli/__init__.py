"""The ``sktransfer`` command: fit, evaluate, predict, grid, compare, embed.

Run ``sktransfer --help`` or ``sktransfer <command> --help``. Results go to
stdout and everything else (progress bars, Keras' epoch bars, warnings, errors)
to stderr, so ``sktransfer predict model/ *.jpg > predictions.csv`` works.
TensorFlow is imported only when a command runs, so ``--help`` is instant.

Exit codes: 0 success, 1 a runtime error (missing or corrupt data, a folder
that is not a save), 2 a usage error (bad option syntax or value), 130
interrupted. Errors print one line, ``sktransfer: error: <message>``; set
``SKTRANSFER_DEBUG=1`` to get the traceback instead.

Output folders (``--out``) are written into a hidden temporary sibling and
renamed into place at the end, so they are either complete or absent. An
existing folder is replaced only with ``--overwrite``, and only when it is
empty or holds nothing but what these commands write.

This module is the entry point and its error handling; the parser is in
``sktransfer.cli._args``, the commands in ``sktransfer.cli._training`` (fit, grid,
compare) and ``sktransfer.cli._inference`` (evaluate, predict, embed), listed in
``sktransfer.cli._commands``, and what they share in ``sktransfer.cli._support``.
"""

from ._errors import CommandError, UsageError
from ._main import main

__all__ = ["main"]
