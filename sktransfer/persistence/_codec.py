"""Parameter and attribute values as plain JSON data, and back, with their exact types.

None, bool, int, str, finite floats, lists and str-keyed dicts stay themselves;
any other supported value becomes a tagged object such as ``{"__type__":
"tuple", "items": [64, 32]}`` (tuples, other dicts, non-finite floats, numpy
arrays and scalars, paths, :class:`~sktransfer.Augmentation`, the per-class
splitters of :mod:`sktransfer.model_selection` (``validation=``), Keras optimizers,
RandomState). Decoding trusts nothing: it creates only these types and raises
:class:`InvalidSave` for anything malformed. :mod:`sktransfer._estimator_json`
uses it for the parameters and fitted attributes of ``estimator.json``.
"""

import importlib
import math
import os
import pathlib

import numpy as np

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["LEGACY_MODULES", "InvalidSave", "construct", "decode", "encode"]

# Module names that saves of sktransfer 0.1.0 recorded (estimator.json, the skops file of a
# composite save) -> the public module that serves the name today. Permanent: saves are
# read by every later release.
LEGACY_MODULES = {
    "sktransfer.finetune": "sktransfer",
    "sktransfer.embedding": "sktransfer",
    "sktransfer.scratch": "sktransfer",
    "sktransfer.augment": "sktransfer",
    "sktransfer._composite": "sktransfer.persistence",
}
# Parameter objects that may appear inside the parameters: class -> its public module.
_PARAM_OBJECTS = {
    "Augmentation": "sktransfer",
    "FirstNPerClassSplit": "sktransfer.model_selection",  # validation=
    "PerClassSplit": "sktransfer.model_selection",
}
_TAG = "__type__"
_TAGGED_FIELDS = {
    "float": {"value"},
    "tuple": {"items"},
    "dict": {"items"},
    "ndarray": {"dtype", "shape", "data"},
    "numpy": {"dtype", "value"},
    "path": {"value"},
    "estimator": {"class", "params"},
    "keras_optimizer": {"class", "config"},
    "random_state": {"state"},
}
_DTYPE_KINDS = "biufUO"  # bool, int, uint, float, str, object


class InvalidSave(Exception):
    """A problem in estimator.json; load() re-raises it as a ValueError naming the file."""


def _param_class(name):
    return getattr(importlib.import_module(_PARAM_OBJECTS[name]), name)


def encode(value, where):
    """``value`` as JSON data, tagged where plain JSON would lose its type.

    Parameters
    ----------
    value : object
    where : str
        Names the value in error messages, e.g. ``"params.head"``.

    Returns
    -------
    data : None, bool, int, float, str, list or dict

    Raises
    ------
    TypeError
        ``value`` (or something inside it) is of an unsupported type.

    Examples
    --------
    >>> encode({"head": (64, 32), "epochs": 5}, "params")
    {'head': {'__type__': 'tuple', 'items': [64, 32]}, 'epochs': 5}
    >>> decode(encode(np.arange(3), "x"), "x")
    array([0, 1, 2])
    """
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {_TAG: "float", "value": repr(value)}
    if kind is list:
        return [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {_TAG: "tuple", "items": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: encode(v, f"{where}.{k}") for k, v in value.items()}
        return {
            _TAG: "dict",
            "items": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()],
        }
    if kind is np.ndarray and value.dtype.kind in _DTYPE_KINDS:
        data = [encode(v, f"{where}[...]") for v in value.ravel().tolist()]
        return {_TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape), "data": data}
    if isinstance(value, np.generic) and value.dtype.kind in _DTYPE_KINDS.replace("O", ""):
        return {_TAG: "numpy", "dtype": value.dtype.str, "value": encode(value.item(), where)}
    if isinstance(value, os.PathLike):
        return {_TAG: "path", "value": os.fspath(value)}
    if kind.__name__ in _PARAM_OBJECTS and _param_class(kind.__name__) is kind:
        params = value.get_params(deep=False)
        params = {k: encode(v, f"{where}.params.{k}") for k, v in params.items()}
        return {_TAG: "estimator", "class": kind.__name__, "params": params}
    if isinstance(value, keras.optimizers.Optimizer) and _optimizer_class(kind.__name__) is kind:
        return {
            _TAG: "keras_optimizer",
            "class": kind.__name__,
            "config": encode(value.get_config(), f"{where}.config"),
        }
    if kind is np.random.RandomState:
        return {_TAG: "random_state", "state": encode(value.get_state(legacy=True), where)}
    raise TypeError(
        f"Cannot save {where}: a {kind.__module__}.{kind.__qualname__} cannot be stored in JSON "
        "(supported: None, bool, int, float, str, list, tuple, dict, numpy arrays and scalars, "
        "paths, Augmentation, PerClassSplit, Keras optimizers, RandomState)."
    )


def _optimizer_class(name):
    cls = getattr(keras.optimizers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer) else None


def construct(cls, raw_params, where):
    """``cls(**params)`` from encoded parameters, known parameter names only.

    Parameters
    ----------
    cls : type
        An estimator class (it has ``_get_param_names``).
    raw_params : dict
        Parameter name -> encoded value.
    where : str
        Names the parameters in error messages.

    Raises
    ------
    InvalidSave
        Not a dict, an unknown name, a malformed value, or one the class rejects.
    """
    if not isinstance(raw_params, dict):
        raise InvalidSave(f"{where} must be an object, got {raw_params!r}")
    names = cls._get_param_names()
    unknown = sorted(set(raw_params) - set(names))
    if unknown:
        raise InvalidSave(f"{where}: unknown parameter(s) {unknown} for {cls.__name__} (known: {names})")
    params = {k: decode(v, f"{where}.{k}") for k, v in raw_params.items()}
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise InvalidSave(f"{where}: {cls.__name__} rejected the parameters: {exc}") from None


def decode(raw, where):
    """The value :func:`encode` turned into ``raw``.

    Parameters
    ----------
    raw : None, bool, int, float, str, list or dict
        As read by ``json.load``.
    where : str
        Names the value in error messages.

    Raises
    ------
    InvalidSave
        An unknown tag, missing or extra fields, or a value that does not fit
        its tag (a dtype outside bool, int, uint, float, str and object, say).
    """
    if raw is None or type(raw) in (bool, int, float, str):
        return raw
    if isinstance(raw, list):
        return [decode(v, f"{where}[{i}]") for i, v in enumerate(raw)]
    if not isinstance(raw, dict):  # pragma: no cover - json.load gives nothing else
        raise InvalidSave(f"{where}: unexpected value {raw!r}")
    if _TAG not in raw:
        return {k: decode(v, f"{where}.{k}") for k, v in raw.items()}
    tag = raw[_TAG]
    fields = _TAGGED_FIELDS.get(tag)
    if fields is None or set(raw) != fields | {_TAG}:
        raise InvalidSave(f"{where}: unknown or malformed tagged value {raw!r}")
    try:
        return _decode_tagged(tag, raw, where)
    except InvalidSave:
        raise
    except Exception as exc:  # untrusted input: any failure means a malformed value
        raise InvalidSave(f"{where}: malformed {tag!r} value ({exc})") from None


def _decode_tagged(tag, raw, where):
    if tag == "float":
        if raw["value"] not in ("nan", "inf", "-inf"):
            raise ValueError(f"{raw['value']!r} is not nan, inf or -inf")
        return float(raw["value"])
    if tag in ("tuple", "dict"):
        if not isinstance(raw["items"], list):
            raise TypeError("items must be a list")
        items = [decode(v, f"{where}[{i}]") for i, v in enumerate(raw["items"])]
        if tag == "tuple":
            return tuple(items)
        if not all(isinstance(p, list) and len(p) == 2 for p in items):
            raise ValueError("dict items must be [key, value] pairs")
        return {k: v for k, v in items}
    if tag in ("ndarray", "numpy"):
        dtype = np.dtype(raw["dtype"]) if isinstance(raw["dtype"], str) else None
        if dtype is None or dtype.kind not in (_DTYPE_KINDS if tag == "ndarray" else "biufU"):
            raise ValueError(f"dtype {raw['dtype']!r} is not allowed")
        if tag == "numpy":
            return dtype.type(_check_element(decode(raw["value"], where), dtype))
        shape, data = raw["shape"], raw["data"]
        if not (
            isinstance(shape, list)
            and all(type(n) is int and n >= 0 for n in shape)
            and isinstance(data, list)
            and len(data) == math.prod(shape)
        ):
            raise ValueError(f"shape {shape!r} does not fit {len(data)} values")
        array = np.empty(len(data), dtype=dtype)
        for i, v in enumerate(data):  # one by one: an object array may hold sequences
            array[i] = _check_element(decode(v, f"{where}[{i}]"), dtype)
        return array.reshape(shape)
    if tag == "path":
        if not isinstance(raw["value"], str):
            raise TypeError("a path must be a string")
        return pathlib.Path(raw["value"])
    if tag == "estimator":
        name = raw["class"]
        if not isinstance(name, str) or name not in _PARAM_OBJECTS:
            raise ValueError(f"class {name!r} is not one of {sorted(_PARAM_OBJECTS)}")
        value = construct(_param_class(name), raw["params"], f"{where}.params")
        if hasattr(value, "is_active"):
            value.is_active()  # Augmentation validates its fields here
        return value
    if tag == "keras_optimizer":
        cls = _optimizer_class(raw["class"]) if isinstance(raw["class"], str) else None
        if cls is None or not isinstance(raw["config"], dict):
            raise ValueError(f"{raw['class']!r} is not a keras.optimizers class")
        return cls.from_config(decode(raw["config"], f"{where}.config"))
    state = decode(raw["state"], where)  # random_state
    random_state = np.random.RandomState()
    random_state.set_state(state)
    return random_state


def _check_element(value, dtype):
    kinds = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}.get(dtype.kind)
    if kinds is not None and type(value) not in kinds:
        raise TypeError(f"{value!r} is not a valid {dtype} value")
    return value
