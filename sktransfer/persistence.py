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

import json
import os
import pathlib
import re
import tempfile
import warnings

from ._atomic import make_public, sha256, staged_directory, write_json  # noqa: F401
from ._compat import import_keras, safe_mode_scope
from ._estimator_json import (
    FILE_NAME,
    FORMAT,
    FORMAT_VERSION,  # noqa: F401
    build_estimator,
    describe,
    read_document,
    versions,
)
from ._param_codec import InvalidSave

keras = import_keras()

__all__ = ["KerasPickleMixin", "load", "model_from_bytes", "model_to_bytes", "save"]

# make_public and FORMAT_VERSION are imported for callers that find them here.
JSON_NAME = "estimator.json"


# -- pickle ---------------------------------------------------------------------
def model_to_bytes(model):
    """Serialise a Keras model to the bytes of a ``.keras`` archive."""
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def _register_custom_layers(path=None):
    # The custom layers register themselves with Keras when their modules are
    # imported; make sure they are before a model that uses them is loaded.
    from . import _network, backbones  # noqa: F401

    if path is not None:
        backbones.register_saved_sources(path)  # keras-hub layers, when the model has any


def model_from_bytes(data, *, safe_mode=True):
    """Rebuild a Keras model from :func:`model_to_bytes` output (no optimizer state)."""
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(data)
        _register_custom_layers(path)
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
    document, models = describe(estimator)
    _target_state(target, overwrite)  # fail before the slow part
    with staged_directory(target, lambda: _target_state(target, overwrite)) as tmp:
        tmp = pathlib.Path(tmp)
        for attr, (file, model) in models.items():
            model.save(str(tmp / file))
            document["models"][attr] = {"file": file, "sha256": sha256(tmp / file, fsync=True)}
        write_json(tmp / JSON_NAME, document)
    return target


def _target_state(target, overwrite):
    """'missing', 'empty' or 'replace'; raises FileExistsError for anything that must be kept."""
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
    return "replace"


def _is_save(directory):
    try:
        with open(directory / JSON_NAME, encoding="utf-8") as fh:
            document = json.load(fh)
        files = {entry["file"] for entry in document["models"].values()}
        listed = {JSON_NAME} | {f for f in files if FILE_NAME.fullmatch(f)}
        return document["format"] == FORMAT and set(os.listdir(directory)) <= listed
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# -- load -----------------------------------------------------------------------
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
        document = read_document(json_path)
        estimator, files = build_estimator(document)
    except InvalidSave as exc:
        raise ValueError(f"{json_path}: {exc}") from None
    _warn_versions(document["versions"], json_path)
    for attr, (file, digest) in files.items():
        setattr(estimator, attr, _load_model(directory / file, digest, json_path))
    return estimator


def _load_model(path, digest, json_path):
    if not path.is_file():
        raise ValueError(f"{path} is missing (listed in {json_path}); the save is incomplete.")
    if sha256(path) != digest:
        raise ValueError(
            f"{path} does not match the sha256 recorded in {json_path}: the file was changed "
            "or corrupted after saving; refusing to load it."
        )
    _register_custom_layers(path)
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
    installed = versions()
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
