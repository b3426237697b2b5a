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
import os
import tempfile
import threading
import warnings
from collections import OrderedDict

import numpy as np

from .._utils.hashing import digest, forget_digests, image_digest, remembered_digest
from ..exceptions import UnreadableImageError
from ..images import describe_error

__all__ = ["ActivationCache", "clear_cache", "content_keys", "get_cache", "n_cached", "set_cache"]

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
    >>> from sktransfer._engine.cache import ActivationCache
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
                            UserWarning,
                            stacklevel=3,
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


def n_cached():
    """How many activations the process-wide and the folder caches hold in memory."""
    return len(_DEFAULT) + sum(len(c) for c in _BY_DIRECTORY.values())


def clear_cache():
    """Empty the process-wide cache's memory (and every folder cache's memory).

    The remembered content hashes of image files are forgotten too.
    """
    _DEFAULT.clear()
    for cache in _BY_DIRECTORY.values():
        cache.clear()
    forget_digests()


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
    raise TypeError(f"cache must be True, False, a folder path or an ActivationCache, got {cache!r}.")


def content_keys(X):
    """One content hash per image: the file's bytes for a path, the pixels for an array row.

    Raises
    ------
    UnreadableImageError
        A ValueError naming a file that cannot be read, its index in ``X`` and
        the fix, worded as :func:`sktransfer.images.load_images` words it.
    """
    if isinstance(X, np.ndarray) and X.dtype != object:
        return [digest(str(x.dtype), x.shape, np.ascontiguousarray(x).data) for x in X]
    keys = []
    for i, path in enumerate(X):
        try:
            keys.append(remembered_digest(path, image_digest))
        except OSError as exc:
            raise UnreadableImageError(path, describe_error(path, exc), i) from None
    return keys
