"""Atomic writes: a file or folder is replaced whole, or left as it was.

Everything is written to a hidden temporary sibling of its target (same folder,
so the final rename is atomic), flushed to disk, given the permissions a new
file or folder gets under the user's umask, and renamed into place. On any
error the temporary file or folder is removed and the target is untouched.

Standard library only: the command line's ``--help`` imports no TensorFlow.
"""

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid

__all__ = [
    "fsync_dir",
    "make_public",
    "replace_files",
    "sha256",
    "staged_directory",
    "write_file",
    "write_json",
]


def make_public(path, mode=0o777):
    """Give ``path`` the permissions of a new file or folder under the user's umask.

    ``tempfile.mkdtemp`` / ``mkstemp`` create private (0700 / 0600) entries; a
    file or folder renamed into place from one would be unreadable to the user's
    group.

    Parameters
    ----------
    path : str or os.PathLike
    mode : int, default=0o777
        The mode before the umask: 0o777 for a folder, 0o666 for a file.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, mode & ~mask)


def fsync_dir(path):
    """Make the entries of folder ``path`` (new files, renames) durable, where the OS can.

    Parameters
    ----------
    path : str or os.PathLike
    """
    try:  # POSIX: make the directory entries (new files, renames) durable
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; NTFS journals renames itself
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256(path, *, fsync=False):
    """Return the hex sha256 of the file ``path``, read in 1 MiB chunks.

    Parameters
    ----------
    path : str or os.PathLike
    fsync : bool, default=False
        Also flush the file to disk (for a file just written by someone else).

    Returns
    -------
    digest : str
        64 lowercase hex digits.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "empty")
    >>> write_file(path, b"")
    >>> sha256(path)[:16]
    'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        if fsync:
            os.fsync(fh.fileno())
    return digest.hexdigest()


def write_file(path, content):
    """Replace the file ``path`` atomically: readers see the old file or the new one.

    Parameters
    ----------
    path : str or os.PathLike
        Its folder must exist.
    content : str, bytes or callable
        The text (written as UTF-8) or bytes of the file, or a function called
        with the temporary file's name that writes it (e.g. Keras'
        ``save_weights``). The temporary name ends like ``path`` (a hidden
        ``.report.tmp-1a2b3c4d.html`` for ``report.html``), so writers that
        check or add a suffix accept it.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> write_file(path, "first\\n")
    >>> write_file(path, lambda tmp: pathlib.Path(tmp).write_text("second\\n"))
    >>> pathlib.Path(path).read_text(), os.listdir(os.path.dirname(path))
    ('second\\n', ['notes.txt'])
    """
    replace_files([(path, content)])


def write_json(path, data):
    """Replace the file ``path`` atomically by ``data`` as indented JSON (finite floats only).

    Parameters
    ----------
    path : str or os.PathLike
    data : JSON-serialisable object
    """

    def dump(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, allow_nan=False)
            fh.write("\n")

    write_file(path, dump)


def replace_files(items):
    """Write every file to a temporary sibling, then rename them all into place.

    Nothing is renamed until every file is written, so a failure part-way
    leaves all targets as they were.

    Parameters
    ----------
    items : iterable of (path, content)
        As for :func:`write_file`.
    """
    staged = []
    try:
        for path, content in items:
            folder, name = os.path.split(os.path.abspath(path))
            stem, dot, extension = name.partition(".")
            fd, tmp = tempfile.mkstemp(prefix=f".{stem}.tmp-", suffix=dot + extension, dir=folder)
            os.close(fd)
            staged.append((tmp, path))
            if callable(content):
                content(tmp)
            else:
                with open(tmp, "wb") as fh:
                    fh.write(content.encode("utf-8") if isinstance(content, str) else content)
            make_public(tmp, 0o666)
            with open(tmp, "ab") as fh:
                os.fsync(fh.fileno())
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        raise
    for folder in {os.path.dirname(tmp) for tmp, _ in staged}:
        fsync_dir(folder)


@contextlib.contextmanager
def staged_directory(target, state):
    """Yield a new hidden folder beside ``target``; move it to ``target`` when the block ends.

    The folder and its parents are created as needed. If the block raises, the
    temporary folder is removed and ``target`` is untouched. Otherwise
    ``state()`` is called once more (it may raise to keep ``target``) and the
    folder is renamed into place; an earlier ``target`` is first renamed aside
    to a hidden ``.<name>.old-*`` and removed once the new one is in place. An
    existing empty ``target`` is filled instead, its entries moved in one by one
    (and moved back if one fails): it keeps its permissions and group.

    Parameters
    ----------
    target : str or os.PathLike
    state : callable
        Returns ``"missing"``, ``"empty"`` (an empty folder, which is filled)
        or ``"replace"`` (a folder that may be replaced).

    Yields
    ------
    folder : str
        The temporary folder to fill.
    """
    parent, name = os.path.split(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
    try:
        make_public(tmp)
        yield tmp
        fsync_dir(tmp)
        _move_into_place(tmp, os.path.join(parent, name), state())
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _move_into_place(tmp, target, state):
    parent, name = os.path.split(target)
    if state == "empty":
        _fill(target, tmp)
        return
    if state != "replace":
        os.rename(tmp, target)
    else:
        aside = os.path.join(parent, f".{name}.old-{uuid.uuid4().hex[:12]}")
        os.rename(target, aside)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(aside, target)
            raise
        fsync_dir(parent)
        shutil.rmtree(aside, ignore_errors=True)
    fsync_dir(parent)


def _fill(target, tmp):
    """Move the entries of ``tmp`` into the empty folder ``target``, then remove ``tmp``.

    The user's folder itself is filled, not replaced by a new one: it keeps its
    permissions, group and inode, and a shell inside it (``--out .``) sees the
    files. If a move fails, the entries already moved go back, so ``target`` is
    left empty and the caller removes ``tmp`` whole.
    """
    moved = []
    try:
        for entry in sorted(os.listdir(tmp)):
            os.rename(os.path.join(tmp, entry), os.path.join(target, entry))
            moved.append(entry)
    except BaseException:
        for entry in reversed(moved):
            with contextlib.suppress(OSError):
                os.rename(os.path.join(target, entry), os.path.join(tmp, entry))
        raise
    fsync_dir(target)
    os.rmdir(tmp)
