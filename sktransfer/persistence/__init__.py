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

A scikit-learn object holding sktransfer estimators (a ``Pipeline``, a
``CalibratedClassifierCV``, a search or its ``best_estimator_``) is saved as
``skops`` (scikit-learn's secure format, loaded with a trust list) plus one such
save per sktransfer estimator (see :doc:`/guide/saving`).

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

from .._engine.keras_pickle import (
    KerasPickleMixin,
    SerializedModel,
    model_from_bytes,
    model_to_bytes,
)
from ._composite import SavedPart
from ._save import JSON_NAME, load, save

# Pickles written by sktransfer 0.1.0 name ``sktransfer.persistence._SerializedModel``.
_SerializedModel = SerializedModel

__all__ = ["KerasPickleMixin", "load", "model_from_bytes", "model_to_bytes", "save"]
