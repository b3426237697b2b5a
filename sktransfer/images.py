"""Turn images given in any common form into uint8 / float32 RGB batches.

Input forms
-----------
* a 4-D array ``(n, h, w, c)`` with ``c`` in {1, 3, 4}, or a 3-D array
  ``(n, h, w)`` of grayscale images; values must lie in 0..255 (uint8, any
  integer type, or floats, which stay float32 and are never rounded);
* a list, tuple, 1-D array or pandas Series of file paths (``str`` or
  :class:`os.PathLike`), decoded with Pillow in parallel threads.

Colour policy
-------------
Grayscale is repeated to three channels. Transparency (RGBA, LA, PA, palette
or RGB images with a ``transparency`` entry, 4-channel arrays) is composited
on a **white** background, the way a browser or viewer shows the image, rather
than dropped: the colour under fully transparent pixels is arbitrary (often
black) and dropping alpha would feed that hidden colour to the network.
16-bit images (modes ``I;16*`` and ``I``) are scaled with ``v / 257`` so that
0..65535 maps onto 0..255 instead of being clipped at 255; 32-bit float images
(mode ``F``) are taken as 0..1 when their maximum is at most 1, else as 0..255.
CMYK uses Pillow's conversion (Adobe inverted CMYK JPEGs are handled, ICC
profiles are ignored). EXIF orientation is applied. Multi-frame files (GIF,
TIFF) give their first frame.

Resize policy
-------------
Images are resized straight to ``(h, w)`` (the aspect ratio is not kept, as in
``keras.utils.image_dataset_from_directory``); ``crop="center"`` first takes
the largest centred box with the target aspect ratio. The filter is Pillow's
``BILINEAR`` with ``reducing_gap=3``: Pillow widens the triangle kernel by the
reduction factor, so downscaling is properly antialiased, and its weights are
all positive, so unlike LANCZOS or BICUBIC it cannot ring or overshoot; float
images therefore stay inside 0..255 without clipping. ``reducing_gap`` lets
Pillow first box-reduce large images by an integer factor, which is much
faster and visually identical; for the same reason JPEG files six or more
times larger than needed are decoded at a reduced DCT scale (``Image.draft``,
as ``Image.thumbnail`` does) that stays at least three times the target. Arrays
already at the target size are returned as they are (no copy when the dtype
already fits); other arrays are resized image by image with the same filter
(uint8 as Pillow RGB images, floats channel by channel in mode ``F``).
"""

import contextlib
import operator
import os
import threading
import warnings

import numpy as np

from ._decode import (
    SKIP_HINT,
    UnreadableImageError,
    array_to_rgb,
    decode_file,
    describe_error,
    effective_n_jobs,
    resize_array,
    run_in_order,
)

__all__ = [
    "UnreadableImageError",
    "check_image_input",
    "is_path_input",
    "load_images",
    "num_samples",
]


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


def load_images(
    X, size, *, crop=None, n_jobs=None, on_error="raise", return_skipped=False, verbose=False
):
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
    X = _checked(X, stacklevel=None if _checked_calls else 3)
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
