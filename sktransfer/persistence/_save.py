""":func:`save` and :func:`load` (the format: :mod:`sktransfer.persistence`)."""

import json
import os
import pathlib
import warnings

from .._engine.keras_pickle import register_custom_layers
from .._utils.atomic import (
    fsync_dir,
    sha256,
    staged_directory,
    write_json,
)
from .._utils.compat import import_keras, safe_mode_scope, save_keras_model
from . import _composite
from ._codec import InvalidSave
from ._document import (
    FILE_NAME,
    FORMAT,
    build_estimator,
    check_document,
    describe,
    is_estimator,
    read_json,
    versions,
    warn_versions,
)

keras = import_keras()

__all__ = ["load", "save"]

JSON_NAME = "estimator.json"


def save(estimator, directory, *, overwrite=False):
    """Save an estimator, or a scikit-learn object holding some, to ``directory`` without pickle.

    Parameters
    ----------
    estimator : FineTunedClassifier, SimpleCNNClassifier, PretrainedEmbedder or a scikit-learn estimator
        Fitted or not (an unfitted one is saved as its parameters only). A
        scikit-learn object (a ``Pipeline``, ``CalibratedClassifierCV``, a
        search's ``best_estimator_``...) is saved with ``skops`` and each
        sktransfer estimator inside it as an ordinary save of its own (see
        :mod:`sktransfer.persistence._composite`).
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
        The estimator's class or one of its values cannot be stored.

    Warns
    -----
    UserWarning
        A scikit-learn object holds types that :func:`load` trusts only when
        named in its ``trusted=`` (e.g. your own function in a
        ``FunctionTransformer``).
    """
    target = pathlib.Path(os.path.abspath(os.fspath(directory)))
    if is_estimator(estimator):
        write = _single_writer(estimator)
    else:
        write = _composite_writer(estimator)
    _target_state(target, overwrite)  # fail before the slow part
    with staged_directory(target, lambda: _target_state(target, overwrite)) as tmp:
        write(pathlib.Path(tmp))
    return target


def _single_writer(estimator):
    document, models = describe(estimator)

    def write(folder):
        for attr, (file, model) in models.items():
            save_keras_model(model, str(folder / file))
            document["models"][attr] = {"file": file, "sha256": sha256(folder / file, fsync=True)}
        write_json(folder / JSON_NAME, document)

    return write


def _composite_writer(obj):
    from sklearn.base import BaseEstimator

    if not isinstance(obj, BaseEstimator):
        raise TypeError(
            "sktransfer.save stores FineTunedClassifier, PretrainedEmbedder, "
            "SimpleCNNClassifier and scikit-learn estimators (a Pipeline...), got "
            f"{type(obj).__module__}.{type(obj).__qualname__}."
        )
    import skops.io

    skeleton, parts = _composite.split(obj, is_estimator)
    writers = [_single_writer(part) for part in parts]
    try:
        data = skops.io.dumps(skeleton)
    except Exception as exc:
        raise TypeError(f"{type(obj).__name__} cannot be saved: skops cannot store it ({exc}).") from exc
    untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(_composite.trusted_types()))
    if untrusted:
        warnings.warn(
            f"The saved {type(obj).__name__} holds {untrusted}: load() creates them "
            f"only when told to trust them, load(directory, trusted={untrusted}).",
            UserWarning,
            stacklevel=3,
        )

    def write(folder):
        digests = []
        for i, part_writer in enumerate(writers):
            part = folder / f"part-{i}"
            part.mkdir()
            part_writer(part)
            digests.append(sha256(part / JSON_NAME, fsync=True))
            fsync_dir(part)
        skops_path = folder / _composite.SKOPS_FILE
        skops_path.write_bytes(data)
        write_json(
            folder / JSON_NAME, _composite.document(sha256(skops_path, fsync=True), digests, versions())
        )

    return write


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
        if document["format"] == _composite.COMPOSITE_FORMAT:
            listed = {JSON_NAME, _composite.SKOPS_FILE} | {p["directory"] for p in document["parts"]}
            return set(os.listdir(directory)) <= listed
        files = {entry["file"] for entry in document["models"].values()}
        listed = {JSON_NAME} | {f for f in files if FILE_NAME.fullmatch(f)}
        return document["format"] == FORMAT and set(os.listdir(directory)) <= listed
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# -- load -----------------------------------------------------------------------
def load(directory, *, trusted=None):
    """Load what :func:`save` wrote; nothing is unpickled, no code from the save is executed.

    Parameters
    ----------
    directory : str or os.PathLike
    trusted : list of str, default=None
        For a saved scikit-learn object: type names (``"module.Name"``) to
        create besides scikit-learn's estimators, NumPy / SciPy types and
        sktransfer's own (``skops.io.get_untrusted_types`` lists what a file
        holds). Only name types you know and trust: a type can run code when
        it is created.

    Returns
    -------
    estimator : FineTunedClassifier, SimpleCNNClassifier, PretrainedEmbedder or a scikit-learn estimator
        Fitted if it was saved fitted (same predictions, same parameters).

    Raises
    ------
    FileNotFoundError
        ``directory`` does not exist.
    ValueError
        A missing, changed or malformed file (the message names it), a class
        outside the allow-list, an untrusted type in a scikit-learn object,
        an unknown or invalid parameter, or a model file that contains code
        (a ``Lambda`` layer), which is refused.

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
        document = read_json(json_path)
        if isinstance(document, dict) and document.get("format") == _composite.COMPOSITE_FORMAT:
            _composite.check_document(document)
        else:
            check_document(document)
    except (InvalidSave, ValueError) as exc:
        raise ValueError(f"{json_path}: {exc}") from None
    if document["format"] == _composite.COMPOSITE_FORMAT:
        return _load_composite(directory, document, trusted)
    return _load_single(directory, document)


def _load_single(directory, document):
    json_path = directory / JSON_NAME
    try:
        estimator, files = build_estimator(document)
    except InvalidSave as exc:
        raise ValueError(f"{json_path}: {exc}") from None
    warn_versions(document["versions"], json_path)
    for attr, (file, digest) in files.items():
        setattr(estimator, attr, _load_model(directory / file, digest, json_path))
    return estimator


def _load_composite(directory, document, trusted):
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    json_path = directory / JSON_NAME
    warn_versions(document["versions"], json_path)
    parts = []
    for entry in document["parts"]:
        part_json = directory / entry["directory"] / JSON_NAME
        _check_file(part_json, entry["sha256"], json_path)
        parts.append(load(part_json.parent))
    skops_path = directory / document["skops"]["file"]
    _check_file(skops_path, document["skops"]["sha256"], json_path)
    try:
        skeleton = skops.io.loads(
            _composite.read_skops(skops_path), trusted=_composite.trusted_types(trusted or ())
        )
    except UntrustedTypesFoundException as exc:
        raise ValueError(
            f"{skops_path} was refused: {exc} Creating such types can run code; if you know "
            "and trust them, name them in load(directory, trusted=[...])."
        ) from None
    except Exception as exc:
        raise ValueError(f"{skops_path} could not be read: {exc}") from exc
    try:
        return _composite.join(skeleton, parts)
    except ValueError as exc:
        raise ValueError(f"{skops_path}: {exc}") from None


def _check_file(path, digest, json_path):
    if not path.is_file():
        raise ValueError(f"{path} is missing (listed in {json_path}); the save is incomplete.")
    if sha256(path) != digest:
        raise ValueError(
            f"{path} does not match the sha256 recorded in {json_path}: the file was changed "
            "or corrupted after saving; refusing to load it."
        )


def _load_model(path, digest, json_path):
    _check_file(path, digest, json_path)
    register_custom_layers(path)
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
