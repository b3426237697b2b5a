"""The command line's two errors, raised by its commands and caught by ``main``."""

__all__ = ["CommandError", "UsageError"]


class UsageError(Exception):
    """A bad option value found after parsing: exit code 2, with the usage line."""


class CommandError(Exception):
    """A runtime problem with the user's data or folders: exit code 1."""
