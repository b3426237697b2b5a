"""Saving estimators that hold Keras models: ``save`` / ``load`` and pickling.

:func:`save` writes a directory that never needs pickle to be read back::

    my_model/
      estimator.json   format, class, constructor parameters, fitted attributes,
                       library versions, sha256 of each model file
      model.keras      the network (Keras' own format); one ``<attribute>.keras``
                       per Keras-model attribute when there are several

:func:`load` reads the JSON (plain data only: ``{"format", "format_version",
"estimator": {"module", "class"}, "params", "attributes", "models": {attribute:
{"file", "sha256"}}, "versions"}``, where a value that is not None, bool, int,
str, finite float, list or str-keyed dict is a tagged object such as
``{"__type__": "ndarray", "dtype": "<i8", "shape": [2], "data": [0, 1]}`` so that
it comes back with its exact type: tuples, numpy arrays and scalars, paths,
:class:`~sktransfer.Augmentation`, Keras optimizers, RandomState), creates only
classes on an allow-list, checks each model file's hash and loads it with
``keras.saving.load_model(..., safe_mode=True)``, which refuses ``Lambda``
layers and other serialised Python code. The hashes catch corruption and
mismatched files, not a deliberate forgery; the safety comes from never
executing anything found in the directory.

An unfitted estimator can be saved too (its parameters only); it loads unfitted.
``callbacks`` (Keras objects) and a ``cache`` object cannot be stored: they are
saved as ``None`` / ``True`` with a warning.

Writes are atomic: everything goes to a temporary directory next to the target,
is fsync'ed and renamed into place; an earlier save is replaced only with
``overwrite=True``, and kept intact when anything fails. The target is never a
half-written save; a process killed mid-save can leave a hidden
``.<name>.tmp-*`` directory beside it (or, killed between the two renames of an
overwrite, the previous save in ``.<name>.old-*``).

:class:`KerasPickleMixin` makes the estimators picklable (and so joblib,
``GridSearchCV(n_jobs=...)``): each Keras model attribute travels as the bytes of
a ``.keras`` archive, rebuilt with ``safe_mode``. The rest is ordinary pickled
Python, so unpickling a file from someone you do not trust is unsafe, as with
every pickle: share models with :func:`save` / :func:`load`.
"""

import hashlib
import importlib
import json
import math
import os
import pathlib
import platform
import re
import shutil
import tempfile
import uuid
import warnings

import numpy as np

from ._compat import import_keras, safe_mode_scope

keras = import_keras()

__all__ = ["KerasPickleMixin", "load", "model_from_bytes", "model_to_bytes", "save"]

FORMAT = "sktransfer-estimator"
FORMAT_VERSION = 1
JSON_NAME = "estimator.json"

# The only classes a save may name: (module, class) -> allowed.
_ESTIMATORS = {
    ("sktransfer.finetune", "FineTunedClassifier"),
    ("sktransfer.scratch", "SimpleCNNClassifier"),
    ("sktransfer.embedding", "PretrainedEmbedder"),
}
# Parameter objects that may appear inside the parameters: class -> module.
_PARAM_OBJECTS = {"Augmentation": "sktransfer.augment"}
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
_TAG = "__type__"
_TAGGED_FIELDS = {
    "float": {"value"}, "tuple": {"items"}, "dict": {"items"},
    "ndarray": {"dtype", "shape", "data"}, "numpy": {"dtype", "value"}, "path": {"value"},
    "estimator": {"class", "params"}, "keras_optimizer": {"class", "config"},
    "random_state": {"state"},
}
_DTYPE_KINDS = "biufUO"  # bool, int, uint, float, str, object
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.keras")
_SHA256 = re.compile(r"[0-9a-f]{64}")


# -- pickle ---------------------------------------------------------------------
def model_to_bytes(model):
    """Serialise a Keras model to the bytes of a ``.keras`` archive."""
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def _register_custom_layers():
    # The custom layers register themselves with Keras when their modules are
    # imported; make sure they are before a model that uses them is loaded.
    from . import _training, backbones  # noqa: F401


def model_from_bytes(data, *, safe_mode=True):
    """Rebuild a Keras model from :func:`model_to_bytes` output (no optimizer state)."""
    _register_custom_layers()
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(data)
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)


class _SerializedModel:
    """Placeholder for a Keras model inside a pickled estimator."""

    def __init__(self, data):
        self.data = data


class KerasPickleMixin:
    """Make an estimator's Keras model attributes picklable (see the module docstring).

    Attributes listed in ``_transient_attributes`` (caches derived from the
    model) are dropped from the pickle (and from :func:`save`) and rebuilt on demand.
    """

    _transient_attributes = ("_embedding_model",)

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        for key in self._transient_attributes:
            state.pop(key, None)
        for key, value in state.items():
            if isinstance(value, keras.Model):
                state[key] = _SerializedModel(model_to_bytes(value))
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key, value in state.items():
            if isinstance(value, _SerializedModel):
                state[key] = model_from_bytes(value.data)
        super().__setstate__(state)


# -- save -----------------------------------------------------------------------
def save(estimator, directory, *, overwrite=False):
    """Save an sktransfer estimator to ``directory`` without pickle (see the module docstring).

    Parameters
    ----------
    estimator : FineTunedClassifier, SimpleCNNClassifier or PretrainedEmbedder
        Fitted or not (an unfitted one is saved as its parameters only).
    directory : str or os.PathLike
        Created if missing. An existing empty directory is filled; an earlier
        save is replaced only with ``overwrite=True``; any other existing path
        is refused.
    overwrite : bool, default=False

    Returns
    -------
    path : pathlib.Path
        ``directory``.

    Raises
    ------
    FileExistsError
        ``directory`` holds a save and ``overwrite=False``, or holds something else.
    TypeError
        The estimator's class or one of its values cannot be stored in JSON.
    """
    target = pathlib.Path(os.path.abspath(os.fspath(directory)))
    document, models = _describe(estimator)
    _target_state(target, overwrite)  # fail before the slow part
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    make_public(tmp)
    try:
        for attr, (file, model) in models.items():
            model.save(str(tmp / file))
            document["models"][attr] = {"file": file, "sha256": _sha256(tmp / file, fsync=True)}
        with open(tmp / JSON_NAME, "w", encoding="utf-8") as fh:
            json.dump(document, fh, indent=2, allow_nan=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(tmp)
        _move_into_place(tmp, target, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def make_public(path, mode=0o777):
    """Give ``path`` the permissions of a new file or folder under the user's umask.

    ``tempfile.mkdtemp`` / ``mkstemp`` create private (0700 / 0600) entries; a
    save renamed into place from one would be unreadable to the user's group.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    os.chmod(path, mode & ~mask)


def _describe(estimator):
    cls = type(estimator)
    if (cls.__module__, cls.__name__) not in _ESTIMATORS:
        allowed = ", ".join(sorted(name for _, name in _ESTIMATORS))
        raise TypeError(
            f"sktransfer.save stores {allowed} only, got {cls.__module__}.{cls.__qualname__}."
        )
    params = estimator.get_params(deep=False)
    encoded = {}
    for name, value in params.items():
        try:
            encoded[name] = _encode(value, f"params.{name}")
        except TypeError:
            if name not in _RUNTIME_PARAMS:
                raise
            encoded[name] = _RUNTIME_PARAMS[name]
            warnings.warn(
                f"{name}={value!r} cannot be saved (a live Python object): it is stored as "
                f"{_RUNTIME_PARAMS[name]!r}; set it again after load().", UserWarning, stacklevel=3,
            )
    transient = set(getattr(cls, "_transient_attributes", ()))
    attributes, models = {}, {}
    for name, value in vars(estimator).items():
        if name in params or name in transient:
            continue
        if isinstance(value, keras.Model):
            models[name] = value
        else:
            attributes[name] = _encode(value, name)
    files = {a: a.rstrip("_") + ".keras" for a in models}
    if len(set(files.values())) < len(files) or not all(map(_FILE_NAME.fullmatch, files.values())):
        files = {a: a + ".keras" for a in models}
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": {"module": cls.__module__, "class": cls.__name__},
        "params": encoded,
        "attributes": attributes,
        "models": {},
        "versions": _versions(),
    }
    return document, {a: (files[a], m) for a, m in models.items()}


def _encode(value, where):
    """``value`` as JSON data: None, bool, int, str, finite float, list and str-keyed dict
    as themselves, everything else as ``{"__type__": ..., ...}`` (TypeError if unsupported)."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {_TAG: "float", "value": repr(value)}
    if kind is list:
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is tuple:
        return {_TAG: "tuple", "items": [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    if kind is dict:
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
        return {_TAG: "dict", "items": [[_encode(k, where), _encode(v, f"{where}[{k!r}]")]
                                        for k, v in value.items()]}
    if kind is np.ndarray and value.dtype.kind in _DTYPE_KINDS:
        data = [_encode(v, f"{where}[...]") for v in value.ravel().tolist()]
        return {_TAG: "ndarray", "dtype": value.dtype.str, "shape": list(value.shape), "data": data}
    if isinstance(value, np.generic) and value.dtype.kind in _DTYPE_KINDS.replace("O", ""):
        return {_TAG: "numpy", "dtype": value.dtype.str, "value": _encode(value.item(), where)}
    if isinstance(value, os.PathLike):
        return {_TAG: "path", "value": os.fspath(value)}
    if _PARAM_OBJECTS.get(kind.__name__) == kind.__module__:
        params = value.get_params(deep=False)
        params = {k: _encode(v, f"{where}.params.{k}") for k, v in params.items()}
        return {_TAG: "estimator", "class": kind.__name__, "params": params}
    if isinstance(value, keras.optimizers.Optimizer) and _optimizer_class(kind.__name__) is kind:
        return {_TAG: "keras_optimizer", "class": kind.__name__,
                "config": _encode(value.get_config(), f"{where}.config")}
    if kind is np.random.RandomState:
        return {_TAG: "random_state", "state": _encode(value.get_state(legacy=True), where)}
    raise TypeError(
        f"Cannot save {where}: a {kind.__module__}.{kind.__qualname__} cannot be stored in JSON "
        "(supported: None, bool, int, float, str, list, tuple, dict, numpy arrays and scalars, "
        "paths, Augmentation, Keras optimizers, RandomState)."
    )


def _optimizer_class(name):
    cls = getattr(keras.optimizers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, keras.optimizers.Optimizer) else None


def _versions():
    import sklearn
    import tensorflow as tf

    from . import __version__

    return {
        "sktransfer": __version__,
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def _target_state(target, overwrite):
    """'missing', 'empty' or 'save'; raises FileExistsError for anything that must be kept."""
    if not os.path.lexists(target):
        return "missing"
    if target.is_symlink() or not target.is_dir():
        raise FileExistsError(f"{target} exists and is not a directory; choose another path.")
    if not any(target.iterdir()):
        return "empty"
    if not _is_save(target):
        raise FileExistsError(
            f"{target} is a non-empty directory that is not an sktransfer save; save() only "
            "fills an empty directory or replaces an earlier save: choose another directory."
        )
    if not overwrite:
        raise FileExistsError(
            f"{target} already holds an sktransfer save; pass overwrite=True to replace it."
        )
    return "save"


def _is_save(directory):
    try:
        with open(directory / JSON_NAME, encoding="utf-8") as fh:
            document = json.load(fh)
        files = {entry["file"] for entry in document["models"].values()}
        listed = {JSON_NAME} | {f for f in files if _FILE_NAME.fullmatch(f)}
        return document["format"] == FORMAT and set(os.listdir(directory)) <= listed
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _move_into_place(tmp, target, overwrite):
    state = _target_state(target, overwrite)
    if state == "empty":
        os.rmdir(target)
    if state != "save":
        os.rename(tmp, target)
    else:
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:12]}")
        os.rename(target, aside)
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(aside, target)
            raise
        _fsync_dir(target.parent)
        shutil.rmtree(aside, ignore_errors=True)
    _fsync_dir(target.parent)


def _sha256(path, fsync=False):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
        if fsync:
            os.fsync(fh.fileno())
    return digest.hexdigest()


def _fsync_dir(path):
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


# -- load -----------------------------------------------------------------------
class _Invalid(Exception):
    """A problem in estimator.json; load() re-raises it as a ValueError naming the file."""


def load(directory):
    """Load an estimator written by :func:`save`; nothing is unpickled or executed.

    Parameters
    ----------
    directory : str or os.PathLike

    Returns
    -------
    estimator : FineTunedClassifier, SimpleCNNClassifier or PretrainedEmbedder
        Fitted if it was saved fitted (same predictions, same parameters).

    Raises
    ------
    FileNotFoundError
        ``directory`` does not exist.
    ValueError
        A missing, changed or malformed file (the message names it), a class
        outside the allow-list, an unknown or invalid parameter, or a model
        file that contains code (a ``Lambda`` layer), which is refused.

    Warns
    -----
    UserWarning
        When the save was made with another sktransfer or Keras major.minor version.
    """
    directory = pathlib.Path(directory)
    if not directory.exists():
        raise FileNotFoundError(f"{directory}: no such directory (save() writes a directory).")
    json_path = directory / JSON_NAME
    if not json_path.is_file():
        raise ValueError(f"{json_path} is missing: {directory} is not an sktransfer save.")
    try:
        document = _read_json(json_path)
        estimator, files = _build_estimator(document)
    except _Invalid as exc:
        raise ValueError(f"{json_path}: {exc}") from None
    _warn_versions(document["versions"], json_path)
    for attr, (file, digest) in files.items():
        setattr(estimator, attr, _load_model(directory / file, digest, json_path))
    return estimator


def _read_json(path):
    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) < len(keys):
            raise _Invalid(f"duplicate keys {sorted({k for k in keys if keys.count(k) > 1})}")
        return dict(items)

    def constant(name):
        raise _Invalid(f"{name} is not valid JSON")

    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh, object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Invalid(f"not valid JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _Invalid(f"not an sktransfer save (no \"format\": \"{FORMAT}\")")
    if document.get("format_version") != FORMAT_VERSION:
        raise _Invalid(
            f"format_version {document.get('format_version')!r} is not supported (this sktransfer "
            f"reads version {FORMAT_VERSION}); upgrade sktransfer to load it"
        )
    if set(document) != _KEYS:
        raise _Invalid(f"expected the keys {sorted(_KEYS)}, got {sorted(document)}")
    for key in ("estimator", "params", "attributes", "models", "versions"):
        if not isinstance(document[key], dict):
            raise _Invalid(f"{key!r} must be an object, got {document[key]!r}")
    if not all(isinstance(v, str) for v in document["versions"].values()):
        raise _Invalid(f"'versions' must map names to strings, got {document['versions']!r}")
    return document


def _build_estimator(document):
    spec = document["estimator"]
    key = (spec.get("module"), spec.get("class"))
    if set(spec) != {"module", "class"} or key not in _ESTIMATORS:
        allowed = ", ".join(sorted(f"{m}.{c}" for m, c in _ESTIMATORS))
        raise _Invalid(f"estimator {spec!r} is not one load() may create ({allowed})")
    cls = getattr(importlib.import_module(key[0]), key[1])
    estimator = _construct(cls, document["params"], "params")
    validate = getattr(estimator, "_validate_params", None)
    if validate is not None:
        try:
            validate()
        except (ValueError, TypeError) as exc:
            raise _Invalid(f"invalid parameter: {exc}") from None
    attributes, models = document["attributes"], document["models"]
    for name in [*attributes, *models]:
        # Never shadow a method or a parameter (a "fit" attribute holding a model, say).
        if not name.isidentifier() or name.startswith("__") or hasattr(cls, name) or (
            name in document["params"] or (name in attributes and name in models)
        ):
            raise _Invalid(f"{name!r} is not a fitted-attribute name of {cls.__name__}")
    for name, raw in attributes.items():
        value = _decode(raw, f"attributes.{name}")
        expected = _ATTRIBUTE_TYPES.get(name)
        if expected is not None and type(value) is not expected:
            raise _Invalid(
                f"attributes.{name} must be a {expected.__name__}, got {type(value).__name__}"
            )
        if name == "classes_" and value.ndim != 1:
            raise _Invalid(f"attributes.classes_ must be 1-D, got shape {value.shape}")
        setattr(estimator, name, value)
    files = {}
    for name, entry in models.items():
        if not (isinstance(entry, dict) and set(entry) == {"file", "sha256"}
                and isinstance(entry["file"], str) and _FILE_NAME.fullmatch(entry["file"])
                and isinstance(entry["sha256"], str) and _SHA256.fullmatch(entry["sha256"])):
            raise _Invalid(f"models.{name}: expected {{'file': '<name>.keras', 'sha256': '<hex>'}} "
                           f"with a plain file name, got {entry!r}")
        files[name] = (entry["file"], entry["sha256"])
    return estimator, files


def _construct(cls, raw_params, where):
    if not isinstance(raw_params, dict):
        raise _Invalid(f"{where} must be an object, got {raw_params!r}")
    names = cls._get_param_names()
    unknown = sorted(set(raw_params) - set(names))
    if unknown:
        raise _Invalid(
            f"{where}: unknown parameter(s) {unknown} for {cls.__name__} (known: {names})"
        )
    params = {k: _decode(v, f"{where}.{k}") for k, v in raw_params.items()}
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise _Invalid(f"{where}: {cls.__name__} rejected the parameters: {exc}") from None


def _decode(raw, where):
    if raw is None or type(raw) in (bool, int, float, str):
        return raw
    if isinstance(raw, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(raw)]
    if not isinstance(raw, dict):  # pragma: no cover - json.load gives nothing else
        raise _Invalid(f"{where}: unexpected value {raw!r}")
    if _TAG not in raw:
        return {k: _decode(v, f"{where}.{k}") for k, v in raw.items()}
    tag = raw[_TAG]
    fields = _TAGGED_FIELDS.get(tag)
    if fields is None or set(raw) != fields | {_TAG}:
        raise _Invalid(f"{where}: unknown or malformed tagged value {raw!r}")
    try:
        return _decode_tagged(tag, raw, where)
    except _Invalid:
        raise
    except Exception as exc:  # untrusted input: any failure means a malformed value
        raise _Invalid(f"{where}: malformed {tag!r} value ({exc})") from None


def _decode_tagged(tag, raw, where):
    if tag == "float":
        if raw["value"] not in ("nan", "inf", "-inf"):
            raise ValueError(f"{raw['value']!r} is not nan, inf or -inf")
        return float(raw["value"])
    if tag in ("tuple", "dict"):
        if not isinstance(raw["items"], list):
            raise TypeError("items must be a list")
        items = [_decode(v, f"{where}[{i}]") for i, v in enumerate(raw["items"])]
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
            return dtype.type(_check_element(_decode(raw["value"], where), dtype))
        shape, data = raw["shape"], raw["data"]
        if not (isinstance(shape, list) and all(type(n) is int and n >= 0 for n in shape)
                and isinstance(data, list) and len(data) == math.prod(shape)):
            raise ValueError(f"shape {shape!r} does not fit {len(data)} values")
        array = np.empty(len(data), dtype=dtype)
        for i, v in enumerate(data):  # one by one: an object array may hold sequences
            array[i] = _check_element(_decode(v, f"{where}[{i}]"), dtype)
        return array.reshape(shape)
    if tag == "path":
        if not isinstance(raw["value"], str):
            raise TypeError("a path must be a string")
        return pathlib.Path(raw["value"])
    if tag == "estimator":
        name = raw["class"]
        if not isinstance(name, str) or name not in _PARAM_OBJECTS:
            raise ValueError(f"class {name!r} is not one of {sorted(_PARAM_OBJECTS)}")
        value = _construct(getattr(importlib.import_module(_PARAM_OBJECTS[name]), name),
                           raw["params"], f"{where}.params")
        if hasattr(value, "is_active"):
            value.is_active()  # Augmentation validates its fields here
        return value
    if tag == "keras_optimizer":
        cls = _optimizer_class(raw["class"]) if isinstance(raw["class"], str) else None
        if cls is None or not isinstance(raw["config"], dict):
            raise ValueError(f"{raw['class']!r} is not a keras.optimizers class")
        return cls.from_config(_decode(raw["config"], f"{where}.config"))
    state = _decode(raw["state"], where)  # random_state
    random_state = np.random.RandomState()
    random_state.set_state(state)
    return random_state


def _check_element(value, dtype):
    kinds = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,)}.get(dtype.kind)
    if kinds is not None and type(value) not in kinds:
        raise TypeError(f"{value!r} is not a valid {dtype} value")
    return value


def _load_model(path, digest, json_path):
    if not path.is_file():
        raise ValueError(f"{path} is missing (listed in {json_path}); the save is incomplete.")
    if _sha256(path) != digest:
        raise ValueError(
            f"{path} does not match the sha256 recorded in {json_path}: the file was changed "
            "or corrupted after saving; refusing to load it."
        )
    _register_custom_layers()
    try:
        with safe_mode_scope():
            model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:
        if "safe_mode" in str(exc) or "lambda" in str(exc).lower():
            raise ValueError(
                f"{path} was refused: it contains arbitrary Python code (a Lambda layer or a "
                "serialised function), which could run anything on this machine. sktransfer "
                "never saves such layers; if you trust its author, open it yourself with "
                "keras.saving.load_model(path, safe_mode=False)."
            ) from exc
        raise ValueError(f"{path} could not be loaded as a Keras model: {exc}") from exc
    if not isinstance(model, keras.Model):  # pragma: no cover - load_model returns models
        raise ValueError(f"{path} does not hold a Keras model.")
    return model


def _warn_versions(saved, json_path):
    installed = _versions()
    different = [
        name for name in ("sktransfer", "keras")
        if _major_minor(saved.get(name)) != _major_minor(installed[name])
    ]
    if different:
        then = ", ".join(f"{n} {saved.get(n)}" for n in different)
        now = ", ".join(f"{n} {installed[n]}" for n in different)
        warnings.warn(
            f"{json_path} was saved with {then}; installed: {now}. It may load or predict "
            "differently: check its predictions, then save it again with these versions.",
            UserWarning, stacklevel=3,
        )


def _major_minor(version):
    parts = re.match(r"(\d+)\.(\d+)", version or "")
    return parts.groups() if parts else version
