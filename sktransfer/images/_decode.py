"""Decoding and resizing, one image at a time, the threads that run them, and
what happens to files that cannot be read.

The colour, transparency and resize policy implemented here is described for
users in :mod:`sktransfer.images`, which checks the input and calls these
functions. When a file cannot be read, :func:`describe_error` turns the
exception into a reason with a fix, and :class:`UnreadableImageError` is the
one error every caller raises with it. The estimators' ``on_error`` parameter
is implemented by :func:`skip_unreadable` (fit) and :func:`reports_user_index`
(every method that reads ``X``).
"""

import functools
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..exceptions import SKIP_HINT, UnreadableImageError

__all__ = [
    "FIT_HINT",
    "OUTPUT_HINT",
    "SKIP_HINT",
    "UnreadableImageError",
    "array_to_rgb",
    "decode_file",
    "describe_error",
    "effective_n_jobs",
    "find_unreadable",
    "reports_user_index",
    "resize_array",
    "run_in_order",
    "skip_unreadable",
]

_RESAMPLE = Image.Resampling.BILINEAR
_REDUCING_GAP = 3.0
_SWAPPED_ORIENTATIONS = (5, 6, 7, 8)  # EXIF values that rotate by 90 degrees

# The alternative to fixing the file that an error offers, by caller
# ({name}: the estimator's class name).
FIT_HINT = "pass on_error='skip' to {name} to fit without unreadable files (and their labels)"
OUTPUT_HINT = (
    "remove it from X: {name} returns one row per image of X, so unreadable files are never "
    "skipped here (on_error='skip' applies to fit only)"
)


def _center_box(width, height, size, crop):
    """Box (left, top, right, bottom) to resize from, in source pixels."""
    if crop is None:
        return (0, 0, width, height)
    ratio = size[1] / size[0]  # target width / height
    if width / height > ratio:
        cw = height * ratio
        return ((width - cw) / 2, 0, (width + cw) / 2, height)
    ch = width / ratio
    return (0, (height - ch) / 2, width, (height + ch) / 2)


def _resize(img, size, crop):
    h, w = size
    box = _center_box(img.width, img.height, size, crop)
    if img.size == (w, h) and box == (0, 0, w, h):
        return img
    return img.resize((w, h), _RESAMPLE, box=box, reducing_gap=_REDUCING_GAP)


def _pil_to_rgb(img):
    mode = img.mode
    if mode == "I" or mode.startswith("I;16"):
        a = np.clip(np.asarray(img, dtype=np.float32), 0, 65535) / 257
        img = Image.fromarray(np.rint(a).astype(np.uint8))
    elif mode == "F":
        a = np.nan_to_num(np.asarray(img, dtype=np.float32))
        a = a * 255 if a.max(initial=0) <= 1 else a
        img = Image.fromarray(np.rint(np.clip(a, 0, 255)).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def decode_file(path, size, crop):
    """One file as a uint8 RGB array of ``size`` (height, width); Pillow's errors pass through."""
    with Image.open(path) as img:
        try:
            orientation = img.getexif().get(0x0112, 1)
        except Exception:  # a broken EXIF block must not make the pixels unusable
            orientation = 1
        if img.format == "JPEG":
            th, tw = size[::-1] if orientation in _SWAPPED_ORIENTATIONS else size
            left, top, right, bottom = _center_box(img.width, img.height, (th, tw), crop)
            scale = _REDUCING_GAP * max(tw / (right - left), th / (bottom - top))
            if scale <= 0.5:
                img.draft(None, (math.ceil(img.width * scale), math.ceil(img.height * scale)))
        img.load()  # Pillow is lazy: decoding errors must surface inside the caller's try
        try:  # after load(), since PNG and WebP may store EXIF after the pixels
            ImageOps.exif_transpose(img, in_place=True)
        except Exception:  # a broken EXIF block must not make the pixels unusable
            pass
        return np.asarray(_resize(_pil_to_rgb(img), size, crop))


def describe_error(path, exc):
    """One-sentence reason and fix for a file that failed to open or decode."""
    if isinstance(exc, FileNotFoundError):
        return "the file does not exist; check the path"
    if isinstance(exc, IsADirectoryError):
        return "it is a folder, not an image file; list the files inside it instead"
    if isinstance(exc, PermissionError):
        return "permission denied; make the file readable"
    if isinstance(exc, Image.DecompressionBombError):
        return f"{exc}; if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS (None: no limit)"
    if isinstance(exc, UnidentifiedImageError):
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            return "the file is empty (0 bytes); re-create or remove it"
        return "Pillow cannot identify it as an image (corrupt or not an image); replace it"
    if isinstance(exc, OSError) and "truncated" in str(exc):
        return (
            f"the image data is truncated ({exc}); re-download the file, or set "
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True to accept partial images"
        )
    return f"{type(exc).__name__}: {exc}; re-create or remove the file"


def effective_n_jobs(n_jobs, n_tasks):
    """Threads to use for ``n_tasks`` (ValueError for an invalid ``n_jobs``)."""
    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    elif not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0:
        raise ValueError(f"n_jobs must be None or a non-zero int (-1: all cores), got {n_jobs!r}.")
    elif n_jobs < 0:
        n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return max(1, min(int(n_jobs), n_tasks))


def run_in_order(func, n_tasks, n_jobs, verbose, stop_on_error):
    """Run ``func(i)`` for every i in threads; return {i: error} in input order.

    Threads suffice because Pillow and NumPy release the GIL while decoding
    and resizing; results are written by ``func`` itself into a preallocated
    array, so nothing large is kept per task.
    """
    n_jobs = effective_n_jobs(n_jobs, n_tasks)
    bar = None
    if verbose:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_tasks, desc="Loading images", unit="img")
    executor = ThreadPoolExecutor(n_jobs) if n_jobs > 1 else None
    results = executor.map(func, range(n_tasks)) if executor else map(func, range(n_tasks))
    errors = {}
    try:
        for i, error in enumerate(results):
            if bar is not None:
                bar.update()
            if error is not None:
                errors[i] = error
                if stop_on_error:
                    break
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return errors


def array_to_rgb(img, dtype):
    """One (h, w, c) array image as RGB of ``dtype``: gray repeated, RGBA over white."""
    c = img.shape[-1]
    if c == 1:
        return np.repeat(img.astype(dtype, copy=False), 3, axis=-1)
    if c == 4:  # "over" white: 255 - (255 - rgb) * alpha
        alpha = img[..., 3:].astype(np.float32) / 255
        rgb = 255 - (255 - img[..., :3].astype(np.float32)) * alpha
        return np.rint(rgb).astype(np.uint8) if dtype == np.uint8 else rgb
    return img.astype(dtype, copy=False)


def resize_array(img, size, crop):
    """One RGB array image resized like a file (uint8 via Pillow RGB, floats per channel)."""
    if img.shape[:2] == size:
        return img
    if img.dtype == np.uint8:
        return np.asarray(_resize(Image.fromarray(img), size, crop))
    planes = [Image.fromarray(np.ascontiguousarray(img[..., k])) for k in range(3)]
    return np.stack([np.asarray(_resize(p, size, crop)) for p in planes], axis=-1)


# -- unreadable files in the estimators -------------------------------------

# (path, size in bytes, modification time) of every file decoded without error.
_READABLE = set()


def find_unreadable(paths, size, *, crop=None, n_jobs=None, verbose=False):
    """``{index: reason}`` for the files in ``paths`` that cannot be decoded at ``size``.

    A file decoded without error before (same path, byte size and modification
    time) is not decoded again, so a grid search decodes each file once here.
    """

    def check(i):
        try:
            stat = os.stat(paths[i])
            key = (os.path.abspath(paths[i]), stat.st_size, stat.st_mtime_ns)
            if key not in _READABLE:
                decode_file(paths[i], size, crop)
                _READABLE.add(key)
        except Exception as exc:  # any failure becomes a per-file reason
            return describe_error(paths[i], exc)
        return None

    return run_in_order(check, len(paths), n_jobs, verbose, stop_on_error=False)


def skip_unreadable(X, size, *, owner, crop=None, n_jobs=None, verbose=False):
    """For ``on_error="skip"`` in fit: the indices of ``X`` to keep, and the paths left out.

    ``X`` is checked input (:func:`sktransfer.images.check_image_input`); an
    array keeps every image. Warns once, naming the files left out and why;
    ValueError when none can be read. ``owner`` names the estimator.
    """
    n = len(X)
    errors = {} if X.dtype != object else find_unreadable(X, size, crop=crop, n_jobs=n_jobs, verbose=verbose)
    if len(errors) == n:
        i, reason = next(iter(errors.items()))
        raise ValueError(
            f"None of the {n} files could be decoded, so {owner} has no image to "
            f"fit on; {X[i]!r} (X[{i}]) failed: {reason}."
        )
    if errors:
        listing = "; ".join(f"{X[i]!r} (X[{i}]): {r}" for i, r in list(errors.items())[:5])
        more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
        warnings.warn(
            f"{owner}.fit left out {len(errors)} of {n} image files that could not be read "
            f"({listing}{more}); skipped_files_ lists them all.",
            UserWarning,
            stacklevel=2,
        )
    kept = np.array([i for i in range(n) if i not in errors], dtype=np.intp)
    return kept, [X[i] for i in errors]


def reports_user_index(hint):
    """Decorator for estimator methods ``(self, X, ...)``: file errors say where in X.

    Internal steps decode parts of ``X``, so an :class:`UnreadableImageError`
    leaving the method is re-raised with its file's index in the caller's
    ``X`` and with ``hint`` (``{name}``: the estimator's class name).
    """

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, X, *args, **kwargs):
            try:
                return method(self, X, *args, **kwargs)
            except UnreadableImageError as exc:
                raise exc.located(X, hint.format(name=type(self).__name__)) from None

        return wrapper

    return decorate
