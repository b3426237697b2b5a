"""Check image input in any accepted form and say what it is (paths or pixels, how many).

:func:`check_image_input` validates and normalises ``X`` (a 4-D / 3-D pixel
array or a collection of file paths; see :mod:`sktransfer.images` for the
forms and the colour and resize policy); :func:`is_path_input` and
:func:`num_samples` answer cheaply without converting. Inside
:func:`input_checked`, input already checked and warned about by the caller is
not warned about again.
"""

import contextlib
import os
import threading
import warnings

import numpy as np

__all__ = ["check_image_input", "input_checked", "is_path_input", "num_samples"]


def _is_path(x):
    return isinstance(x, (str, os.PathLike))


def _as_1d_collection(X):
    """Return X as a list-like if it can hold paths, else None."""
    if hasattr(X, "to_numpy") and getattr(X, "ndim", None) == 1:  # pandas Series
        X = X.to_numpy()
    if isinstance(X, (list, tuple)):
        return X
    if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OU":
        return X
    return None


def is_path_input(X):
    """Tell whether `X` is a non-empty collection of file paths.

    Parameters
    ----------
    X : object
        Candidate input.

    Returns
    -------
    bool
        True when `X` is a list, tuple, 1-D array or pandas Series whose
        elements are all ``str`` or :class:`os.PathLike`; a single path string
        is not path input.

    Examples
    --------
    >>> is_path_input(["a.jpg", "b.png"])
    True
    >>> is_path_input("a.jpg")
    False
    """
    seq = _as_1d_collection(X)
    return seq is not None and len(seq) > 0 and all(_is_path(x) for x in seq)


def num_samples(X):
    """Return the number of images in `X` without decoding or validating it.

    Parameters
    ----------
    X : array-like or list of paths
        Image input accepted by :func:`load_images`.

    Returns
    -------
    int

    Examples
    --------
    >>> num_samples(["a.jpg", "b.jpg"])
    2
    """
    if X is None or isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(f"X must be images or a list of paths, got {X!r}; wrap a path in a list.")
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(X)
    except TypeError:
        raise TypeError(f"X must be images or a list of paths, got {type(X).__name__}.") from None


def check_image_input(X):
    """Validate image input without decoding any file.

    Parameters
    ----------
    X : array-like of shape (n, h, w, c) or (n, h, w), or list of paths
        Images with ``c`` in {1, 3, 4} and values in 0..255, or file paths
        (list, tuple, 1-D array or pandas Series of ``str`` / ``os.PathLike``).

    Returns
    -------
    X_checked : ndarray
        Either a 1-D object array of path strings, or a 4-D array (3-D input
        gains a channel axis) of dtype uint8 (integer input) or floating.

    Raises
    ------
    TypeError
        For sparse matrices, boolean or other non-numeric dtypes and object
        arrays whose elements are not paths.
    ValueError
        For None, scalars, a single path, empty input, complex dtype, wrong
        shapes or channel counts, NaN / infinity, and values outside 0..255.

    Examples
    --------
    >>> check_image_input(["a.jpg", "b.jpg"])
    array(['a.jpg', 'b.jpg'], dtype=object)
    >>> check_image_input(np.zeros((2, 8, 8), dtype=np.uint8)).shape
    (2, 8, 8, 1)
    """
    return _checked(X, stacklevel=3)


def _checked(X, stacklevel):
    """:func:`check_image_input`, warning with `stacklevel` (None: no warning)."""
    expected = "images (n, h, w, 3) or a list of file paths"
    if X is None:
        raise ValueError(f"X is None; pass {expected}.")
    if hasattr(X, "tocsr"):
        raise TypeError(f"X is a sparse matrix; pass dense {expected}.")
    if _is_path(X):
        raise ValueError(
            f"X is a single path {os.fspath(X)!r}; wrap it in a list ([X]), or use "
            "sktransfer.datasets.load_image_folder for a folder of class sub-folders."
        )
    seq = _as_1d_collection(X)
    if seq is not None:
        if len(seq) == 0:
            raise ValueError("X is empty (0 samples); pass at least one image or file path.")
        flags = [_is_path(x) for x in seq]
        if all(flags):
            return np.array([str(os.fspath(x)) for x in seq], dtype=object)
        if any(flags):
            i = flags.index(False)
            raise ValueError(
                f"X[{i}] is {seq[i]!r} ({type(seq[i]).__name__}), not a file path; "
                "every element of a path list must be str or os.PathLike."
            )
    try:
        arr = np.asarray(X)
    except ValueError as exc:  # numpy refuses ragged nesting
        raise ValueError(
            f"X could not be made into one array ({exc}); give images of different sizes "
            "as file paths, or resize them to a common size first."
        ) from None
    kind = arr.dtype.kind
    if arr.ndim == 0:
        raise ValueError(f"X must be {expected}, got the scalar {X!r}.")
    first = arr.flat[0] if arr.size else None
    if kind in "US" or (kind == "O" and _is_path(first)):
        raise ValueError(
            f"X is a {arr.ndim}-D array of {type(first).__name__} of shape {arr.shape}; "
            "file paths must be a flat 1-D list of str (e.g. X.ravel() or df['path'])."
        )
    if kind == "O":
        raise TypeError(
            f"X is an object array whose elements are not file paths (first element is "
            f"{type(first).__name__}); pass a numeric array (n, h, w, 3) or a list of path strings."
        )
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: X has dtype {arr.dtype}; images need real pixel "
            "values in 0..255 (e.g. np.abs(X) if that is what you mean)."
        )
    if kind not in "uif":
        fix = "X.astype(np.uint8) * 255" if kind == "b" else "uint8 or float values in 0..255"
        raise TypeError(f"X has dtype {arr.dtype}, which cannot hold pixel values; use {fix}.")
    # Values before shape: a NaN or a negative number is wrong whatever the
    # shape, and says more than the shape error would.
    lo, hi = (arr.min(), arr.max()) if arr.size and arr.dtype != np.uint8 else (0, 0)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError("X contains NaN or infinity; replace them with values in 0..255.")
    if lo < 0:
        raise ValueError(
            f"Negative values in data passed to X (min {lo}); pixel values must lie in "
            "0..255, so rescale X to 0..255."
        )
    if hi > 255:
        raise ValueError(f"X has values above 255 (max {hi}); rescale it to 0..255.")
    arr = arr[..., np.newaxis] if arr.ndim == 3 else arr
    if arr.ndim != 4:
        raise ValueError(f"X must be {expected}, got {arr.ndim}-D array of shape {arr.shape}.")
    n, h, w, c = arr.shape
    if n == 0 or h == 0 or w == 0:
        raise ValueError(f"X is empty (shape {arr.shape}); pass at least one image of 1x1 pixel.")
    if c not in (1, 3, 4):
        hint = "; for channels-first (n, c, h, w) use np.moveaxis(X, 1, -1)"
        hint = hint if h in (1, 3, 4) else ""
        raise ValueError(
            f"X has {c} channels (shape {arr.shape}), expected 1 (gray), 3 (RGB) or 4 (RGBA) "
            f"in the last axis{hint}."
        )
    if arr.dtype == np.uint8:
        return arr
    if kind in "ui":
        return arr.astype(np.uint8)
    if 0 < hi <= 1 and stacklevel is not None:
        warnings.warn(
            f"X is a float array with maximum {hi}, so it looks scaled to 0..1; pixel values "
            "are read as 0..255, so multiply X by 255 if that is the case.",
            UserWarning,
            stacklevel=stacklevel,
        )
    return arr


# Estimator calls under way whose X was checked, and warned about, already.
_checked_calls = 0
_checked_lock = threading.Lock()


@contextlib.contextmanager
def input_checked():
    """While inside, :func:`load_images` does not repeat the 0..1 warning.

    An estimator method checks ``X`` once with :func:`check_image_input`
    (which warns once), then decodes parts of it (chunks, folds, uncached
    images), some in other threads: hence a process-wide count, not a
    thread-local flag.
    """
    global _checked_calls
    with _checked_lock:
        _checked_calls += 1
    try:
        yield
    finally:
        with _checked_lock:
            _checked_calls -= 1
