"""Pickling estimators that hold Keras models (and so joblib, ``GridSearchCV(n_jobs=...)``).

:class:`KerasPickleMixin`: each Keras model attribute travels as the bytes of a
``.keras`` archive, rebuilt with ``safe_mode``. The rest is ordinary pickled
Python, so unpickling a file from someone you do not trust is unsafe, as with
every pickle: share models with :func:`sktransfer.save` / :func:`sktransfer.load`.
"""

import os
import tempfile

from .._utils.compat import import_keras, save_keras_model

keras = import_keras()

__all__ = [
    "KerasPickleMixin",
    "SerializedModel",
    "model_from_bytes",
    "model_to_bytes",
    "register_custom_layers",
]


def model_to_bytes(model):
    """Serialise a Keras model to the bytes of a ``.keras`` archive."""
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        save_keras_model(model, path)
        with open(path, "rb") as fh:
            return fh.read()


def register_custom_layers(path=None):
    """Register the custom layers a saved model may use (and keras-hub's, for ``path``)."""
    # The custom layers register themselves with Keras when their modules are
    # imported; make sure they are before a model that uses them is loaded.
    from .. import backbones
    from . import network  # noqa: F401  (registers InferenceMode)

    if path is not None:
        backbones.register_saved_sources(path)  # keras-hub layers, when the model has any


def model_from_bytes(data, *, safe_mode=True):
    """Rebuild a Keras model from :func:`model_to_bytes` output (no optimizer state)."""
    with tempfile.TemporaryDirectory(prefix="sktransfer-") as tmp:
        path = os.path.join(tmp, "model.keras")
        with open(path, "wb") as fh:
            fh.write(data)
        register_custom_layers(path)
        return keras.saving.load_model(path, compile=False, safe_mode=safe_mode)


class SerializedModel:
    """Placeholder for a Keras model inside a pickled estimator."""

    def __init__(self, data):
        self.data = data


class KerasPickleMixin:
    """Make an estimator's Keras model attributes picklable.

    Each travels as the bytes of a ``.keras`` archive.

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
                state[key] = SerializedModel(model_to_bytes(value))
        return state

    def __setstate__(self, state):
        state = dict(state)
        for key, value in state.items():
            if isinstance(value, SerializedModel):
                state[key] = model_from_bytes(value.data)
        super().__setstate__(state)


# -- save -----------------------------------------------------------------------
