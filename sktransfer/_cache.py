"""Content-addressed cache of frozen activations (and of decoded pixels).

Everything below the lowest trainable layer is frozen and deterministic, so
its output for an image never changes: it is computed once and kept here,
keyed by

* the *identity of the frozen part*: backbone and its preprocessing, weights
  (a file's content hash for a local file), input size, crop, cut layer (and
  pooling when the cut is the pooled features);
* the *content of the image*: a hash of the file's bytes for a path, of the
  pixel buffer for an array row.

One entry is one image, so any subset of a dataset (a CV fold, a grid
candidate, a test set) hits the entries that another subset filled.

Memory and disk
---------------
Entries live in memory, least recently used first out, within ``max_bytes``
(default 1 GiB). With a ``directory`` they are also written there as ``.npy``
files (written to a temporary name, then renamed, so several processes, e.g.
``GridSearchCV(n_jobs=4)`` workers, can share it safely) and read back when
memory misses. joblib.Memory is not used for the entries because it memoises
whole function calls: a call on fold 1's images would not reuse fold 2's.

Controls
--------
``FineTunedClassifier(cache=...)`` and ``PretrainedEmbedder(cache=...)``:
``True`` (default) uses the process-wide cache (:func:`get_cache`), a path
uses a cache persisted in that folder, an :class:`ActivationCache` is used as
given, ``False`` switches caching off. :func:`set_cache` changes the
process-wide budget or folder; :func:`clear_cache` empties it.
"""

import contextlib
import hashlib
import os
import tempfile
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np

from ._decode import UnreadableImageError, describe_error

__all__ = ["ActivationCache", "clear_cache", "content_keys", "get_cache", "set_cache"]

DEFAULT_MAX_BYTES = 1 << 30


class ActivationCache:
    """In-memory LRU store of per-image arrays with an optional folder behind it.

    Parameters
    ----------
    max_bytes : int, default=1 GiB
        Memory budget; the least recently used entries are evicted beyond it.
        An entry larger than the whole budget is not kept in memory.
    directory : str or None, default=None
        Folder for a persistent copy of every entry (shared by processes).

    Attributes
    ----------
    hits, misses : int
        Look-up counts since creation or the last :meth:`clear`.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer._cache import ActivationCache
    >>> cache = ActivationCache(max_bytes=64)
    >>> cache.put_many(["a", "b"], np.zeros((2, 4), dtype="float32"))
    >>> cache.nbytes
    32
    >>> [v is None for v in cache.get_many(["a", "c"])]
    [False, True]
    """

    def __init__(self, max_bytes=DEFAULT_MAX_BYTES, directory=None):
        self.max_bytes = int(max_bytes)
        self.directory = None if directory is None else os.fspath(directory)
        self._entries = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._unwritable = False

    # A cache is a shared resource: sklearn's clone deep-copies parameters, and
    # a copied cache would start empty and never be shared.
    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):
        # Worker processes get the folder, not a copy of the memory.
        return {"max_bytes": self.max_bytes, "directory": self.directory}

    def __setstate__(self, state):
        self.__init__(**state)

    def __repr__(self):
        return (
            f"ActivationCache(max_bytes={self.max_bytes}, directory={self.directory!r}, "
            f"entries={len(self)}, nbytes={self.nbytes})"
        )

    def __len__(self):
        return len(self._entries)

    @property
    def nbytes(self):
        """Bytes held in memory (never more than ``max_bytes``)."""
        return self._nbytes

    def clear(self):
        """Empty the memory layer (the folder, if any, is left alone)."""
        with self._lock:
            self._entries.clear()
            self._nbytes = 0
            self.hits = self.misses = 0

    def _remember(self, key, value):
        if value.nbytes > self.max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._nbytes -= old.nbytes
        self._entries[key] = value
        self._nbytes += value.nbytes
        while self._nbytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._nbytes -= evicted.nbytes

    def _path(self, key):
        return os.path.join(self.directory, key[:2], key + ".npy")

    def get_many(self, keys):
        """Arrays for ``keys`` (``None`` where missing), most recently used first out."""
        out = []
        with self._lock:
            for key in keys:
                value = self._entries.get(key)
                if value is not None:
                    self._entries.move_to_end(key)
                elif self.directory is not None:
                    value = self._read(key)
                    if value is not None:
                        self._remember(key, value)
                if value is None:
                    self.misses += 1
                else:
                    self.hits += 1
                out.append(value)
        return out

    def put_many(self, keys, values):
        """Store one array per key (``values`` may be a stacked array).

        A folder that cannot be written (read-only, full) leaves the entries in
        memory only, with one warning per cache.
        """
        with self._lock:
            for key, value in zip(keys, values):
                # A copy, not a view of the row: a view would keep its whole batch
                # alive after eviction, and max_bytes would bound nothing.
                value = np.array(value, order="C", copy=True)
                value.setflags(write=False)  # callers get views: keep entries intact
                self._remember(key, value)
                if self.directory is not None and not self._unwritable:
                    try:
                        self._write(key, value)
                    except OSError as exc:
                        self._unwritable = True
                        warnings.warn(
                            f"The activation cache folder {self.directory!r} cannot be written "
                            f"({exc}); new activations are kept in memory only.",
                            UserWarning, stacklevel=3,
                        )

    def _read(self, key):
        path = self._path(key)
        try:
            return np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            # A truncated or empty file (a crash before the data reached the
            # disk): a miss, and removed so that the entry is written again.
            with contextlib.suppress(OSError):
                os.unlink(path)
            return None

    def _write(self, key, value):
        path = self._path(key)
        if os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, value, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


_DEFAULT = ActivationCache()
_BY_DIRECTORY = {}


def get_cache():
    """The process-wide cache used by estimators with ``cache=True``."""
    return _DEFAULT


def set_cache(*, max_bytes=None, directory=False):
    """Change the process-wide cache's memory budget and/or folder.

    Parameters
    ----------
    max_bytes : int or None
        New budget in bytes (entries are evicted at the next store if over).
    directory : str, None or False
        A folder to persist entries in, ``None`` for memory only; ``False``
        (default) leaves it as it is.
    """
    if max_bytes is not None:
        _DEFAULT.max_bytes = int(max_bytes)
    if directory is not False:
        _DEFAULT.directory = None if directory is None else os.fspath(directory)
    return _DEFAULT


def clear_cache():
    """Empty the process-wide cache's memory (and every folder cache's memory).

    The remembered content hashes of image files are forgotten too.
    """
    _DEFAULT.clear()
    for cache in _BY_DIRECTORY.values():
        cache.clear()
    _DIGESTS.clear()


def resolve_cache(cache):
    """The cache object an estimator's ``cache`` parameter stands for (or None)."""
    if cache is True:
        return _DEFAULT
    if cache is False or cache is None:
        return None
    if isinstance(cache, ActivationCache):
        return cache
    if isinstance(cache, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(cache))
        if path not in _BY_DIRECTORY:
            _BY_DIRECTORY[path] = ActivationCache(_DEFAULT.max_bytes, directory=path)
        return _BY_DIRECTORY[path]
    raise TypeError(
        f"cache must be True, False, a folder path or an ActivationCache, got {cache!r}."
    )


def _digest(*parts):
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, (bytes, memoryview)) else repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def identity_key(*parts):
    """A short key for the identity of a frozen part (any reprs)."""
    return _digest("sktransfer-cache-v1", *parts)


# Content hashes remembered per file (path, device, inode, size, mtime), as
# git's index does, so that the folds and candidates of a grid search do not
# read and hash every image again (0.04 s per fit for 300 JPEGs, a tenth of a
# warm head-only fit). A file modified within two seconds of being hashed is
# not remembered ("racy" timestamps, again as git does): rewriting it within
# the file system's timestamp granularity could otherwise keep its size and
# mtime. The memo is dropped once it holds _MAX_MEMO files.
_DIGESTS = {}
_MAX_MEMO = 200_000
_RACY_NS = 2_000_000_000


def _remembered_digest(path, compute):
    """``compute(path)``, remembered for as long as the file's stat is unchanged."""
    path = os.path.abspath(os.fspath(path))
    stat = os.stat(path)
    memo = (compute, path, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    digest = _DIGESTS.get(memo)
    if digest is None:
        digest = compute(path)
        if time.time_ns() - stat.st_mtime_ns > _RACY_NS:
            if len(_DIGESTS) >= _MAX_MEMO:
                _DIGESTS.clear()
            _DIGESTS[memo] = digest
    return digest


def _hash_file(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path):
    """Content hash of a (weights) file, remembered while its stat is unchanged."""
    return _remembered_digest(path, _hash_file)


def weights_identity(weights):
    """``weights`` as the cache keys and the shared backbones know them: a local file
    by its content hash (a new file at the same path, or the same relative path
    after a chdir, is other weights); None, "imagenet" and a path that is no file
    (the backbone's loader says what is wrong with it) as they are."""
    if weights is None or weights == "imagenet" or not os.path.isfile(weights):
        return weights if weights is None else os.fspath(weights)
    return file_digest(weights)


def _image_digest(path):
    with open(path, "rb") as fh:
        return _digest("file", fh.read())


def content_keys(X):
    """One content hash per image: the file's bytes for a path, the pixels for an array row.

    Raises
    ------
    UnreadableImageError
        A ValueError naming a file that cannot be read, its index in ``X`` and
        the fix, worded as :func:`sktransfer.images.load_images` words it.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        return [_digest(str(x.dtype), x.shape, np.ascontiguousarray(x).data) for x in X]
    keys = []
    for i, path in enumerate(X):
        try:
            keys.append(_remembered_digest(path, _image_digest))
        except OSError as exc:
            raise UnreadableImageError(path, describe_error(path, exc), i) from None
    return keys
