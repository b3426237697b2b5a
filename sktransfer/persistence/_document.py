"""The ``estimator.json`` document of a save: an estimator as plain JSON data, and back.

:func:`describe` turns an estimator into the document and hands its Keras
models back apart (they are saved as ``.keras`` files); :func:`read_document`
and :func:`build_estimator` check a document read from disk and rebuild the
estimator, creating only the classes on an allow-list and executing nothing.
Values go through :mod:`sktransfer.persistence._codec`; :mod:`sktransfer.persistence`
describes the format.
"""

import importlib
import json
import platform
import re
import warnings

import numpy as np

from .._utils.compat import import_keras
from ._codec import LEGACY_MODULES, InvalidSave, construct, decode, encode

keras = import_keras()

__all__ = [
    "FILE_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "build_estimator",
    "check_document",
    "describe",
    "is_estimator",
    "read_document",
    "read_json",
    "versions",
    "warn_versions",
]

FORMAT = "sktransfer-estimator"
FORMAT_VERSION = 1
# A model file name: plain, in the save's folder.
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.keras")

# The only classes a save may name, by their public path (module, class), which is what
# a save records; earlier releases' module names are read through LEGACY_MODULES.
_ESTIMATORS = {
    ("sktransfer", "FineTunedClassifier"),
    ("sktransfer", "SimpleCNNClassifier"),
    ("sktransfer", "PretrainedEmbedder"),
}
# Types of the known fitted attributes, checked on load (others: any JSON-decodable value).
_ATTRIBUTE_TYPES = {
    "classes_": np.ndarray,
    "history_": dict,
    "n_epochs_": int,
    "backbone_info_": dict,
    "n_features_out_": int,
    "_embedding_layer": str,
}
# Parameters holding live objects (Keras callbacks, a cache object): when they
# cannot be encoded they are saved as this value, with a warning.
_RUNTIME_PARAMS = {"callbacks": None, "cache": True}
_KEYS = {"format", "format_version", "estimator", "params", "attributes", "models", "versions"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _public_path(cls):
    """(public module, class name) of a class a save may store, or None."""
    for module, name in _ESTIMATORS:
        if getattr(importlib.import_module(module), name) is cls:
            return module, name
    return None


def is_estimator(obj):
    """Whether ``obj`` is of a class a single-estimator save stores."""
    return _public_path(type(obj)) is not None


def describe(estimator):
    """The ``estimator.json`` document of ``estimator``, and its Keras models apart.

    Parameters
    ----------
    estimator : FineTunedClassifier, SimpleCNNClassifier or PretrainedEmbedder

    Returns
    -------
    document : dict
        Plain JSON data; its ``"models"`` entry is left empty for the caller
        to fill with each model file's name and sha256.
    models : dict
        Attribute name -> (file name, Keras model).

    Raises
    ------
    TypeError
        The estimator's class or one of its values cannot be stored in JSON.

    Warns
    -----
    UserWarning
        A live object in ``callbacks`` or ``cache``, stored as None / True.
    """
    cls = type(estimator)
    public = _public_path(cls)
    if public is None:
        allowed = ", ".join(sorted(name for _, name in _ESTIMATORS))
        raise TypeError(f"sktransfer.save stores {allowed} only, got {cls.__module__}.{cls.__qualname__}.")
    params = estimator.get_params(deep=False)
    encoded = {}
    for name, value in params.items():
        try:
            encoded[name] = encode(value, f"params.{name}")
        except TypeError:
            if name not in _RUNTIME_PARAMS:
                raise
            encoded[name] = _RUNTIME_PARAMS[name]
            warnings.warn(
                f"{name}={value!r} cannot be saved (a live Python object): it is stored as "
                f"{_RUNTIME_PARAMS[name]!r}; set it again after load().",
                UserWarning,
                stacklevel=4,
            )
    transient = set(getattr(cls, "_transient_attributes", ()))
    attributes, models = {}, {}
    for name, value in vars(estimator).items():
        if name in params or name in transient:
            continue
        if isinstance(value, keras.Model):
            models[name] = value
        else:
            attributes[name] = encode(value, name)
    files = {a: a.rstrip("_") + ".keras" for a in models}
    if len(set(files.values())) < len(files) or not all(map(FILE_NAME.fullmatch, files.values())):
        files = {a: a + ".keras" for a in models}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": {"module": public[0], "class": public[1]},
        "params": encoded,
        "attributes": attributes,
        "models": {},
        "versions": versions(),
    }
    return document, {a: (files[a], m) for a, m in models.items()}


def versions():
    """The library versions a save records: name -> version string."""
    import sklearn
    import tensorflow as tf

    from .. import __version__

    return {
        "sktransfer": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def read_document(path):
    """Read and check the top level of the ``estimator.json`` at ``path``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    document : dict

    Raises
    ------
    InvalidSave
        Not strict JSON (duplicate keys, NaN), not this format or version, or
        a key missing, extra or of the wrong type.
    """
    return check_document(read_json(path))


def read_json(path):
    """The strict JSON (no duplicate keys, no NaN) at ``path``; InvalidSave if it is not."""

    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) < len(keys):
            raise InvalidSave(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
        return dict(items)

    def constant(name):
        raise InvalidSave(f"{name} is not valid JSON")

    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh, object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidSave(f"not valid JSON ({exc})") from None
    return document


def check_document(document):
    """``document`` if it is a well-formed single-estimator document, else InvalidSave."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InvalidSave(f'not an sktransfer save (no "format": "{FORMAT}")')
    if document.get("format_version") != FORMAT_VERSION:
        raise InvalidSave(
            f"format_version {document.get('format_version')!r} is not supported (this sktransfer "
            f"reads version {FORMAT_VERSION}); upgrade sktransfer to load it"
        )
    if set(document) != _KEYS:
        raise InvalidSave(f"expected the keys {sorted(_KEYS)}, got {sorted(document)}")
    for key in ("estimator", "params", "attributes", "models", "versions"):
        if not isinstance(document[key], dict):
            raise InvalidSave(f"{key!r} must be an object, got {document[key]!r}")
    if not all(isinstance(v, str) for v in document["versions"].values()):
        raise InvalidSave(f"'versions' must map names to strings, got {document['versions']!r}")
    return document


def build_estimator(document):
    """The estimator a checked document describes, without its Keras models.

    Parameters
    ----------
    document : dict
        From :func:`read_document`.

    Returns
    -------
    estimator : FineTunedClassifier, SimpleCNNClassifier or PretrainedEmbedder
        Its parameters and non-model fitted attributes set.
    files : dict
        Model attribute name -> (file name, sha256), still to be loaded.

    Raises
    ------
    InvalidSave
        A class outside the allow-list, an unknown or invalid parameter, an
        attribute that is not a fitted-attribute name or has the wrong type,
        or a malformed model entry.
    """
    spec = document["estimator"]
    key = (LEGACY_MODULES.get(spec.get("module"), spec.get("module")), spec.get("class"))
    if set(spec) != {"module", "class"} or key not in _ESTIMATORS:
        allowed = ", ".join(sorted(f"{m}.{c}" for m, c in _ESTIMATORS))
        raise InvalidSave(f"estimator {spec!r} is not one load() may create ({allowed})")
    cls = getattr(importlib.import_module(key[0]), key[1])
    estimator = construct(cls, document["params"], "params")
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise InvalidSave(f"invalid parameter: {exc}") from None
    attributes, models = document["attributes"], document["models"]
    for name in [*attributes, *models]:
        # Never shadow a method or a parameter (a "fit" attribute holding a model, say).
        if (
            not name.isidentifier()
            or name.startswith("__")
            or hasattr(cls, name)
            or (name in document["params"] or (name in attributes and name in models))
        ):
            raise InvalidSave(f"{name!r} is not a fitted-attribute name of {cls.__name__}")
    for name, raw in attributes.items():
        value = decode(raw, f"attributes.{name}")
        expected = _ATTRIBUTE_TYPES.get(name)
        if expected is not None and type(value) is not expected:
            raise InvalidSave(f"attributes.{name} must be a {expected.__name__}, got {type(value).__name__}")
        if name == "classes_" and value.ndim != 1:
            raise InvalidSave(f"attributes.classes_ must be 1-D, got shape {value.shape}")
        setattr(estimator, name, value)
    files = {}
    for name, entry in models.items():
        if not (
            isinstance(entry, dict)
            and set(entry) == {"file", "sha256"}
            and isinstance(entry["file"], str)
            and FILE_NAME.fullmatch(entry["file"])
            and isinstance(entry["sha256"], str)
            and _SHA256.fullmatch(entry["sha256"])
        ):
            raise InvalidSave(
                f"models.{name}: expected {{'file': '<name>.keras', "
                f"'sha256': '<hex>'}} with a plain file name, got {entry!r}"
            )
        files[name] = (entry["file"], entry["sha256"])
    return estimator, files


def warn_versions(saved, json_path):
    installed = versions()
    different = [
        name
        for name in ("sktransfer", "keras")
        if _major_minor(saved.get(name)) != _major_minor(installed[name])
    ]
    if different:
        then = ", ".join(f"{n} {saved.get(n)}" for n in different)
        now = ", ".join(f"{n} {installed[n]}" for n in different)
        warnings.warn(
            f"{json_path} was saved with {then}; installed: {now}. It may load or predict "
            "differently: check its predictions, then save it again with these versions.",
            UserWarning,
            stacklevel=4,
        )


def _major_minor(version):
    parts = re.match(r"(\d+)\.(\d+)", version or "")
    return parts.groups() if parts else version
