"""load_images: image input in any accepted form as a uint8 / float32 RGB batch.

See :mod:`sktransfer.images`.
"""

import operator
import warnings

import numpy as np

from ..exceptions import UnreadableImageError
from . import _validation as _image_input
from ._decode import (
    SKIP_HINT,
    array_to_rgb,
    decode_file,
    describe_error,
    effective_n_jobs,
    resize_array,
    run_in_order,
)

__all__ = ["load_images"]


def _check_size(size):
    pair = (size, size) if isinstance(size, (int, np.integer)) else size
    try:
        if any(isinstance(s, bool) for s in pair):
            raise TypeError
        h, w = (operator.index(s) for s in pair)
    except (TypeError, ValueError):
        msg = f"size must be an int or a (height, width) pair of ints, got {size!r}."
        raise ValueError(msg) from None
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}; pass e.g. size=224 or (224, 224).")
    return h, w


def load_images(X, size, *, crop=None, n_jobs=None, on_error="raise", return_skipped=False, verbose=False):
    """Load images from arrays or files into an RGB batch of one size.

    See the module docstring for the colour, transparency and resize policy.

    Parameters
    ----------
    X : array-like of shape (n, h, w, c) or (n, h, w), or list of paths
        Images (``c`` in {1, 3, 4}, values in 0..255) or file paths, as
        accepted by :func:`check_image_input`.
    size : int or (int, int)
        Output (height, width); an int gives a square.
    crop : {None, "center"}, default=None
        None resizes the whole image (aspect ratio not kept); "center" first
        crops the largest centred box with the target aspect ratio.
    n_jobs : int, default=None
        Threads used to decode files and resize arrays; None means
        ``os.cpu_count()``, negative values count back from it (-1: all).
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be decoded: raise ValueError naming
        it, or leave it out. Skipped files trigger a UserWarning unless
        `return_skipped` is True. Array input is never skipped.
    return_skipped : bool, default=False
        If True, also return which inputs were kept and which were skipped.
    verbose : bool, default=False
        Show a tqdm progress bar while working.

    Returns
    -------
    images : ndarray of shape (n_kept, height, width, 3)
        uint8 for files and integer arrays; float32 for float arrays (values
        kept, never rounded). May be `X` itself when no work was needed.
    kept : ndarray of shape (n_kept,)
        Indices into `X` of the returned images; only if `return_skipped`.
    skipped : list of (str, str)
        ``(path, reason)`` for every skipped file; only if `return_skipped`.

    Raises
    ------
    ValueError
        For invalid input (see :func:`check_image_input`), a file that cannot
        be decoded when ``on_error="raise"``, or when no file could be decoded.

    Examples
    --------
    >>> X = np.zeros((2, 32, 48, 4), dtype=np.uint8)
    >>> load_images(X, 16).shape
    (2, 16, 16, 3)
    >>> load_images(X, (32, 48))[0, 0, 0]  # fully transparent -> white
    array([255, 255, 255], dtype=uint8)
    """
    size = _check_size(size)
    if crop not in (None, "center"):
        raise ValueError(f"crop must be None or 'center', got {crop!r}.")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")
    effective_n_jobs(n_jobs, 1)
    X = _image_input._checked(X, stacklevel=None if _image_input._checked_calls else 3)
    n = len(X)
    if X.dtype != object:
        images = _load_arrays(X, size, crop, n_jobs, verbose)
        return (images, np.arange(n), []) if return_skipped else images

    out = np.empty((n, *size, 3), dtype=np.uint8)

    def decode(i):
        try:
            out[i] = decode_file(X[i], size, crop)
        except Exception as exc:  # any decoder failure becomes a per-file reason
            return describe_error(X[i], exc)
        return None

    errors = run_in_order(decode, n, n_jobs, verbose, stop_on_error=on_error == "raise")
    if errors and on_error == "raise":
        i, reason = next(iter(errors.items()))
        raise UnreadableImageError(X[i], reason, i, SKIP_HINT)
    if len(errors) == n:
        i, reason = next(iter(errors.items()))
        raise ValueError(f"None of the {n} files could be decoded; {X[i]!r} failed: {reason}.")
    kept = np.array([i for i in range(n) if i not in errors], dtype=np.intp)
    skipped = [(X[i], reason) for i, reason in errors.items()]
    images = out[kept] if errors else out
    if return_skipped:
        return images, kept, skipped
    if skipped:
        listing = "; ".join(f"{p!r}: {r}" for p, r in skipped[:3])
        more = "; ..." if len(skipped) > 3 else ""
        warnings.warn(
            f"Skipped {len(skipped)} of {n} files that could not be decoded ({listing}{more}); "
            "pass return_skipped=True to get the indices of the kept images.",
            UserWarning,
            stacklevel=2,
        )
    return images


def _load_arrays(X, size, crop, n_jobs, verbose):
    n, h, w, c = X.shape
    dtype = np.uint8 if X.dtype == np.uint8 else np.float32
    if (h, w) == size and c == 3:
        return X if X.dtype == dtype else X.astype(dtype)
    out = np.empty((n, *size, 3), dtype=dtype)

    def convert(i):
        out[i] = resize_array(array_to_rgb(X[i], dtype), size, crop)

    run_in_order(convert, n, n_jobs, verbose, stop_on_error=True)
    return out
