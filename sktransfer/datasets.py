"""Image datasets: folders of class sub-folders, and a built-in sample.

:func:`load_image_folder` lists a ``root/<class>/<image>`` tree the way
``keras.utils.image_dataset_from_directory`` does, but returns plain file
paths and labels for scikit-learn. :func:`load_sample` builds a small
four-class task from the two photographs that ship with scikit-learn, so
examples and tests need no download.
"""

import os
import shutil
import warnings

import numpy as np
from PIL import Image
from sklearn.utils import Bunch, check_random_state

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder", "load_sample", "write_sample_folder"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _visible(names):
    return sorted(n for n in names if not n.startswith("."))


def walk_visible(top):
    """``(folder, visible file names)`` for ``top`` and every folder below it.

    Like ``os.walk``, but it follows symlinked folders (``os.walk`` lists them
    and does not go in) and visits each real folder once, so a link to a
    folder above it cannot loop and two links to one folder do not count its
    files twice. Hidden entries (a leading dot) are left out.
    """
    seen = set()
    for folder, dirs, files in os.walk(top, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = _visible(dirs)  # os.walk descends into what is left in dirs
        yield folder, _visible(files)


def _check_extensions(extensions):
    if isinstance(extensions, str):
        extensions = (extensions,)
    try:
        exts = tuple(extensions)
    except TypeError:
        exts = (extensions,)
    if not exts or not all(isinstance(e, str) and e.strip(".") for e in exts):
        raise ValueError(
            f"extensions must be a non-empty tuple of file suffixes such as ('.jpg', '.png'), "
            f"got {extensions!r}."
        )
    return tuple("." + e.lower().lstrip(".") for e in exts)


def load_image_folder(path, *, extensions=IMAGE_EXTENSIONS, return_skipped=False):
    """List the images of a folder that holds one sub-folder per class.

    The layout is ``path/<class name>/<image file>``; images in nested
    folders below a class folder belong to that class, symlinked folders
    included (each real folder counted once). Class folders are
    sorted by name, and files are sorted by their path within each class, so
    the result is the same on every machine. Names starting with ``'.'`` are
    ignored, and so are files lying directly in `path`.

    Parameters
    ----------
    path : str or os.PathLike
        The root folder.
    extensions : tuple of str, default=IMAGE_EXTENSIONS
        File suffixes counted as images, compared case-insensitively. Other
        files are left out with a UserWarning (unless `return_skipped`).
    return_skipped : bool, default=False
        If True, also return the list of files left out for their suffix.

    Returns
    -------
    paths : ndarray of shape (n_images,), dtype=object
        Image file paths (str), starting with `path`, grouped by class.
    labels : ndarray of shape (n_images,), dtype=object
        Class name (the sub-folder name) of every image.
    class_names : list of str
        The sorted class names.
    skipped : list of str
        Files left out because of their suffix; only if `return_skipped`.

    Raises
    ------
    ValueError
        If `path` does not exist or is not a folder, holds fewer than two
        class sub-folders, or a class folder holds no image file.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = write_sample_folder(tmp, n_per_class=3, size=16)
    ...     paths, labels, class_names = load_image_folder(root)
    >>> len(paths), class_names
    (12, ['blurred_leaves', 'dahlia', 'temple', 'trees'])
    """
    root = os.fspath(path)
    if not os.path.exists(root):
        raise ValueError(f"Image folder {root!r} does not exist; check the path.")
    if not os.path.isdir(root):
        raise ValueError(
            f"{root!r} is a file, not a folder; pass the folder that holds one sub-folder per class."
        )
    exts = _check_extensions(extensions)
    with os.scandir(root) as entries:
        classes = _visible(e.name for e in entries if e.is_dir())
    if len(classes) < 2:
        found = f"only {classes[0]!r}" if classes else "none"
        raise ValueError(
            f"Image folder {root!r} must hold at least two class sub-folders (found {found}); "
            "put the images of each class in their own sub-folder, e.g. root/cat/, root/dog/."
        )
    paths, labels, skipped = [], [], []
    for name in classes:
        found = []
        for folder, files in walk_visible(os.path.join(root, name)):
            for file in files:
                kept = os.path.splitext(file)[1].lower() in exts
                (found if kept else skipped).append(os.path.join(folder, file))
        if not found:
            raise ValueError(
                f"Class folder {os.path.join(root, name)!r} holds no image file with a suffix in "
                f"{exts}; add images to it, remove it, or widen `extensions`."
            )
        found.sort()
        paths.extend(found)
        labels.extend([name] * len(found))
    if skipped and not return_skipped:
        shown = ", ".join(repr(os.path.relpath(p, root)) for p in skipped[:3])
        shown += ", ..." if len(skipped) > 3 else ""
        warnings.warn(
            f"Ignored {len(skipped)} file(s) in {root!r} without an image suffix ({shown}); "
            "pass return_skipped=True to get the list, or widen `extensions`.",
            UserWarning,
            stacklevel=2,
        )
    result = (np.array(paths, dtype=object), np.array(labels, dtype=object), classes)
    return (*result, skipped) if return_skipped else result


# Square crops of each class come from these boxes (left, top, right, bottom)
# of the two 640x427 photographs; they avoid the borders between regions so
# that every crop shows only its own class.
_SAMPLE_REGIONS = {
    "blurred_leaves": ("flower.jpg", [(0, 0, 150, 330), (470, 0, 640, 330), (150, 0, 470, 80)]),
    "dahlia": ("flower.jpg", [(195, 110, 420, 330)]),
    "temple": ("china.jpg", [(100, 140, 315, 335)]),
    "trees": (
        "china.jpg",
        [(0, 160, 45, 280), (575, 160, 640, 300), (450, 310, 640, 427), (0, 355, 190, 427)],
    ),
}
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)

_SAMPLE_DESCR = """\
sktransfer sample images
------------------------

Four classes of square crops taken from the two photographs bundled with
scikit-learn (``sklearn.datasets.load_sample_images``):

* ``blurred_leaves``: the out-of-focus foliage behind the dahlia (flower.jpg);
* ``dahlia``: the petals of the dahlia (flower.jpg);
* ``temple``: the facade and roofs of the Summer Palace temple (china.jpg);
* ``trees``: the sharp foliage around the temple (china.jpg).

Each crop has a random position and scale (30% to 100% of its region), a
random horizontal flip, a small random colour cast, and a random luminance
mean and contrast; half of the crops are converted to grayscale. Global
colour and brightness statistics are therefore weak cues, and the classes
are told apart mainly by texture and shape (sharp vs blurred foliage,
petals, architecture). The crops are resized with antialiasing to
``size x size`` and stored as uint8 RGB; images are grouped by class.
"""


def load_sample(*, size=64, n_per_class=50, random_state=0, return_X_y=False):
    """Build the built-in four-class sample image dataset (no download).

    See the ``DESCR`` field of the result for how the crops are made. The same
    `random_state` always gives identical arrays.

    Parameters
    ----------
    size : int, default=64
        Height and width of every image.
    n_per_class : int, default=50
        Number of images of each of the four classes.
    random_state : int, RandomState instance or None, default=0
        Seed of the crops and jitter.
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``images`` (ndarray of shape (4 * n_per_class, size, size, 3),
        uint8), ``target`` (ndarray of class-name strings, dtype object),
        ``target_names`` (list of the four sorted class names) and ``DESCR``.
    (images, target) : tuple
        If `return_X_y` is True.

    Examples
    --------
    >>> X, y = load_sample(size=32, n_per_class=5, return_X_y=True)
    >>> X.shape, X.dtype, sorted(set(y))
    ((20, 32, 32, 3), dtype('uint8'), ['blurred_leaves', 'dahlia', 'temple', 'trees'])
    """
    from sklearn.datasets import load_sample_images

    for name, value in (("size", size), ("n_per_class", n_per_class)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    rng = check_random_state(random_state)
    bundled = load_sample_images()
    photos = {os.path.basename(f): Image.fromarray(im) for f, im in zip(bundled.filenames, bundled.images)}
    names = sorted(_SAMPLE_REGIONS)
    images = np.empty((len(names) * n_per_class, size, size, 3), dtype=np.uint8)
    for c, name in enumerate(names):
        photo_name, boxes = _SAMPLE_REGIONS[name]
        boxes = np.asarray(boxes, dtype=float)
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        for j in range(n_per_class):
            left, top, right, bottom = boxes[rng.choice(len(boxes), p=areas / areas.sum())]
            side = rng.uniform(0.3, 1.0) * min(right - left, bottom - top)
            x0, y0 = rng.uniform(left, right - side), rng.uniform(top, bottom - side)
            crop = photos[photo_name].resize(
                (size, size),
                Image.Resampling.BILINEAR,
                box=(x0, y0, x0 + side, y0 + side),
                reducing_gap=3.0,
            )
            images[c * n_per_class + j] = _jitter(np.asarray(crop, dtype=np.float32), rng)
    target = np.repeat(np.array(names, dtype=object), n_per_class)
    if return_X_y:
        return images, target
    return Bunch(images=images, target=target, target_names=names, DESCR=_SAMPLE_DESCR)


def _jitter(rgb, rng):
    """Randomise the global statistics of a crop so that texture must decide."""
    if rng.uniform() < 0.5:
        rgb = rgb[:, ::-1]
    rgb = rgb * rng.uniform(0.92, 1.08, size=3).astype(np.float32)
    luma = rgb @ _LUMA
    # Luminance gets a random mean and spread; chroma is kept as it is, since
    # stretching it would turn the dull blurred leaves into saturated cyan.
    gain = min(rng.uniform(30, 55) / max(float(luma.std()), 1.0), 4.0)
    new_luma = (luma - luma.mean()) * gain + rng.uniform(85, 170)
    rgb = rgb - luma[..., None] + new_luma[..., None]
    if rng.uniform() < 0.5:
        rgb = np.repeat((rgb @ _LUMA)[..., None], 3, axis=-1)
    return np.clip(np.rint(rgb), 0, 255)


def write_sample_folder(directory, *, overwrite=False, quality=95, **kwargs):
    """Write :func:`load_sample` as JPEG files into class sub-folders.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder to fill; created if needed. It must be empty unless
        `overwrite` is True.
    overwrite : bool, default=False
        If True, write into a non-empty folder: the four class sub-folders
        are deleted and written afresh, anything else is left as it is.
    quality : int, default=95
        JPEG quality.
    **kwargs
        Passed to :func:`load_sample` (``size``, ``n_per_class``,
        ``random_state``).

    Returns
    -------
    str
        The folder path, ready for :func:`load_image_folder`.

    Raises
    ------
    ValueError
        If `directory` is a file, or a non-empty folder and `overwrite` is
        False.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = write_sample_folder(tmp, n_per_class=2, size=16)
    ...     sorted(os.listdir(root))
    ['blurred_leaves', 'dahlia', 'temple', 'trees']
    """
    root = os.fspath(directory)
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"{root!r} is a file; pass a folder path to write the sample into.")
    if os.path.isdir(root) and os.listdir(root) and not overwrite:
        raise ValueError(
            f"Folder {root!r} is not empty; pass an empty or new folder, or overwrite=True to "
            "replace its sample class sub-folders."
        )
    kwargs["return_X_y"] = True
    images, target = load_sample(**kwargs)
    for name in sorted(set(target)):
        folder = os.path.join(root, name)
        if os.path.isdir(folder):  # stale files from an earlier, larger sample would mix in
            shutil.rmtree(folder)
        os.makedirs(folder)
        for j, i in enumerate(np.flatnonzero(target == name)):
            Image.fromarray(images[i]).save(os.path.join(folder, f"{name}_{j:04d}.jpg"), quality=quality)
    return root
