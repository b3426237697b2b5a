"""The entry point and its error handling (see :mod:`sktransfer.cli`)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import contextlib
import shlex
import sys
import warnings

from ._args import build_parser
from ._errors import CommandError, UsageError

__all__ = ["main"]


# -- entry point --------------------------------------------------------------------
def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"sktransfer: warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run ``sktransfer`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    args.command_line = shlex.join(["sktransfer", *argv])
    if getattr(args, "early_stopping", False) and not args.validation_fraction:
        args.parser.print_usage(sys.stderr)
        print(
            "sktransfer: error: --early-stopping needs a validation set: add "
            "--validation-fraction 0.1 (or another fraction).",
            file=sys.stderr,
        )
        return 2
    from ._commands import COMMANDS  # only now: --help needs none of it

    debug = os.environ.get("SKTRANSFER_DEBUG", "") not in ("", "0")
    out = sys.stdout
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.showwarning = _show_warning
            return COMMANDS[args.command](args, out)
    except UsageError as exc:
        if debug:
            raise
        args.parser.print_usage(sys.stderr)
        print(f"sktransfer: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `sktransfer predict ... | head`: stop quietly
        with contextlib.suppress(Exception):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, ValueError, TypeError, OSError, ImportError) as exc:
        if debug:
            raise
        print(f"sktransfer: error: {_for_command_line(exc, args.command)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sktransfer: interrupted", file=sys.stderr)
        return 130


def _for_command_line(exc, command):
    """``exc``'s message, with an unreadable image's advice in terms of ``command``: the
    library's names Python arguments (``on_error='skip'``) and a position in ``X``."""
    from ..exceptions import UnreadableImageError

    if not isinstance(exc, UnreadableImageError):
        return str(exc)
    hint = "leave it out" if command == "predict" else "remove it from the folder"
    return str(UnreadableImageError(exc.path, exc.reason, hint=hint))
