"""The errors sktransfer raises for users to catch, in one place.

:class:`UnreadableImageError` (a ``ValueError``) names an image file that cannot be
read; :class:`WeightsUnavailableError` (an ``OSError``) says that pretrained
weights could not be downloaded or found offline.
"""

import os

__all__ = ["UnreadableImageError", "WeightsUnavailableError"]

SKIP_HINT = "pass on_error='skip' to leave unreadable files out"


class UnreadableImageError(ValueError):
    """An image file that cannot be read or decoded.

    Parameters
    ----------
    path : str
        The file.
    reason : str
        What is wrong with it and how to fix that, e.g. "the file does not
        exist; check the path".
    index : int or None, default=None
        Its position in the caller's ``X`` (None: not known).
    hint : str, default=SKIP_HINT
        The alternative to fixing the file, appended with "or".

    Examples
    --------
    >>> err = UnreadableImageError("a.jpg", "it does not exist")
    >>> print(err.located(["b.jpg", "a.jpg"], hint="remove it from X"))
    Cannot load image file 'a.jpg' (X[1]): it does not exist, or remove it from X.
    """

    def __init__(self, path, reason, index=None, hint=SKIP_HINT):
        self.path, self.reason, self.index, self.hint = path, reason, index, hint
        where = "" if index is None else f" (X[{index}])"
        super().__init__(f"Cannot load image file {path!r}{where}: {reason}, or {hint}.")

    def __reduce__(self):  # pickled back from worker processes with its fields
        return type(self), (self.path, self.reason, self.index, self.hint)

    def located(self, X, hint=None):
        """The same error with the index of its file in ``X`` (the first one if repeated).

        Internal steps decode subsets of the caller's ``X`` (uncached images,
        chunks, training folds), so the index they know is not the caller's.
        """
        index = next(
            (i for i, x in enumerate(X) if isinstance(x, (str, os.PathLike)) and os.fspath(x) == self.path),
            None,
        )
        return type(self)(self.path, self.reason, index, self.hint if hint is None else hint)


class WeightsUnavailableError(OSError):
    """Pretrained weights could not be downloaded or found in a local cache."""
