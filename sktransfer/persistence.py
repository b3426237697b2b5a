"""Pickling of estimators that hold Keras models.

A fitted estimator keeps its network in ``model_``. Pickle (and joblib, and
therefore ``GridSearchCV(n_jobs=...)`` and ``cross_val_score``) needs to copy
it: :class:`KerasPickleMixin` stores each Keras model attribute as the bytes of
a ``.keras`` archive and rebuilds it on unpickling with Keras' ``safe_mode``,
which refuses ``Lambda`` layers and other arbitrary code inside the archive.
The rest of the estimator is ordinary pickled Python, so unpickling a file
from someone you do not trust is still unsafe, as with every pickle;
``sktransfer.save`` / ``sktransfer.load`` (``.keras`` + JSON, no pickle) are the
safe way to share a model.
"""

import os
import tempfile

from ._compat import import_keras

keras = import_keras()

__all__ = ["KerasPickleMixin", "model_from_bytes", "model_to_bytes"]


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
    model) are dropped from the pickle and rebuilt on demand.
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
