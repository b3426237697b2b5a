"""Content hashes: of files (remembered per file while its stat is unchanged), of
values, and the identity of a frozen part that the activation cache keys by."""

import hashlib
import os
import time

__all__ = [
    "digest",
    "file_digest",
    "forget_digests",
    "identity_key",
    "image_digest",
    "remembered_digest",
    "weights_identity",
]


def digest(*parts):
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part if isinstance(part, (bytes, memoryview)) else repr(part).encode())
        h.update(b"\x00")
    return h.hexdigest()


def identity_key(*parts):
    """A short key for the identity of a frozen part (any reprs)."""
    return digest("sktransfer-cache-v1", *parts)


# Content hashes remembered per file (path, device, inode, size, mtime), as
# git's index does, so that the folds and candidates of a grid search do not
# read and hash every image again (a sizeable share of a warm head-only fit,
# whose frozen activations come from the cache). A file modified within two seconds of being hashed is
# not remembered ("racy" timestamps, again as git does): rewriting it within
# the file system's timestamp granularity could otherwise keep its size and
# mtime. The memo is dropped once it holds _MAX_MEMO files.
_DIGESTS = {}
_MAX_MEMO = 200_000
_RACY_NS = 2_000_000_000


def remembered_digest(path, compute):
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
    return remembered_digest(path, _hash_file)


def weights_identity(weights):
    """``weights`` as the cache keys and the shared backbones know them: a local file
    by its content hash (a new file at the same path, or the same relative path
    after a chdir, is other weights); None, "imagenet" and a path that is no file
    (the backbone's loader says what is wrong with it) as they are."""
    if weights is None or weights == "imagenet" or not os.path.isfile(weights):
        return weights if weights is None else os.fspath(weights)
    return file_digest(weights)


def image_digest(path):
    with open(path, "rb") as fh:
        return digest("file", fh.read())


def forget_digests():
    """Forget every remembered file hash."""
    _DIGESTS.clear()
