"""The restricted PyTorch reader refuses every global outside its allow-list.

The malicious files are written opcode by opcode (not with torch), so that a
reader that admitted one of these globals would really run it: each payload
creates a marker file when called, and the tests check it was not created.
"""

import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest

from sktransfer.backbones import _torch_pickle
from sktransfer.backbones._torch_pickle import read_legacy_torch_state_dict

_HEADERS = (_torch_pickle._TORCH_MAGIC, _torch_pickle._TORCH_PROTOCOL, {"little_endian": True})


def _body(obj):
    """The opcodes that push ``obj`` (a protocol-2 pickle without PROTO and STOP)."""
    data = pickle.dumps(obj, protocol=2)
    assert data[:2] == b"\x80\x02" and data[-1:] == b"."
    return data[2:-1]


def _unicode(text):
    return b"\x8c" + bytes([len(text)]) + text.encode()  # SHORT_BINUNICODE


def _call_pickle(module, name, args, opcode):
    """A pickle that calls ``module.name(*args)`` when loaded, importing it with ``opcode``."""
    if opcode == "GLOBAL":  # protocol 2, as torch's legacy saves
        return b"\x80\x02c" + f"{module}\n{name}\n".encode() + _body(tuple(args)) + b"R."
    if opcode == "STACK_GLOBAL":  # protocol 4
        return b"\x80\x04" + _unicode(module) + _unicode(name) + b"\x93" + _body(tuple(args)) + b"R."
    # INST (protocol 0): MARK, the arguments, then INST module name
    return b"(" + b"".join(_body(a) for a in args) + f"i{module}\n{name}\n".encode() + b"."


def _payloads(marker):
    """(module, name, arguments) of calls that each create ``marker``."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "builtins.eval": ("builtins", "eval", (touch,)),
        "builtins.exec": ("builtins", "exec", (touch,)),
        # getattr(open(...)...) cannot be one call: getattr of a harmless object
        # is refused all the same, and would hand the pickle any attribute.
        "builtins.getattr": ("builtins", "getattr", ("text", "upper")),
        "posix.system": ("posix", "system", (f"touch {marker}",)),
        "subprocess.Popen": ("subprocess", "Popen", (["touch", str(marker)],)),
        "os.system": ("os", "system", (f"touch {marker}",)),
        "__builtin__.eval": ("__builtin__", "eval", (touch,)),  # Python 2's name for builtins
        # torch globals that torch.load itself resolves, but a state dict never needs
        "torch.load": ("torch", "load", (str(marker),)),
        "torch._utils._rebuild_parameter": ("torch._utils", "_rebuild_parameter", (1, 2, 3)),
        "torch.serialization._load": ("torch.serialization", "_load", (str(marker),)),
    }


def _write(path, pickles):
    """A legacy torch save whose pickles are ``pickles`` (then nothing: no storage)."""
    with open(path, "wb") as file:
        for data in pickles:
            file.write(data)
        file.write(struct.pack("<q", 0))


def _headers():
    return [pickle.dumps(h, protocol=2) for h in _HEADERS]


@pytest.mark.parametrize("opcode", ["GLOBAL", "STACK_GLOBAL", "INST"])
@pytest.mark.parametrize("which", list(_payloads("m")))
def test_refuses_each_global_outside_the_allow_list(tmp_path, which, opcode):
    marker = tmp_path / "pwned"
    module, name, args = _payloads(marker)[which]
    path = tmp_path / "evil.pth"
    _write(path, _headers() + [_call_pickle(module, name, args, opcode)])
    with pytest.raises(pickle.UnpicklingError) as info:
        read_legacy_torch_state_dict(path)
    message = str(info.value)
    assert f"refused to unpickle global {module}.{name}" in message
    assert str(path) in message  # names the file too
    assert not marker.exists()


@pytest.mark.parametrize("position", ["magic number", "storage keys"])
def test_refuses_globals_in_every_pickle_of_the_file(tmp_path, position):
    """Not only the state dict: the header pickles and the storage-key list are checked too."""
    marker = tmp_path / "pwned"
    evil = _call_pickle("posix", "system", (f"touch {marker}",), "GLOBAL")
    if position == "magic number":
        pickles = [evil] + _headers()[1:]
    else:
        pickles = _headers() + [pickle.dumps({}, protocol=2), evil]
    path = tmp_path / "evil.pth"
    _write(path, pickles)
    with pytest.raises(pickle.UnpicklingError, match=r"global posix\.system"):
        read_legacy_torch_state_dict(path)
    assert not marker.exists()


def test_the_allow_list_is_pinned():
    allowed = _torch_pickle._RestrictedUnpickler._ALLOWED
    storages = {
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
    assert set(allowed) == {
        ("torch._utils", "_rebuild_tensor_v2"),
        ("collections", "OrderedDict"),
        *(("torch", name) for name in storages),
    }
    # What each name resolves to: the local stand-in, the real OrderedDict, and
    # inert (not callable) storage markers of the right dtype.
    assert allowed["torch._utils", "_rebuild_tensor_v2"] is _torch_pickle._rebuild_tensor_v2
    assert allowed["collections", "OrderedDict"] is OrderedDict
    for name, dtype in storages.items():
        marker = allowed["torch", name]
        assert not callable(marker) and marker.dtype == np.dtype(dtype)


def test_a_storage_type_cannot_be_called(tmp_path):
    """An allowed but inert global (a storage type) used as a function is a corrupt file."""
    path = tmp_path / "call_storage.pth"
    _write(path, _headers() + [_call_pickle("torch", "FloatStorage", (3,), "GLOBAL")])
    with pytest.raises(ValueError, match="not a readable legacy PyTorch state dict"):
        read_legacy_torch_state_dict(path)
