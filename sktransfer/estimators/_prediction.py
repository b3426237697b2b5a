"""Prediction and embeddings of a fitted sktransfer classifier, test-time augmentation included.

:class:`PredictionMixin` gives :class:`sktransfer.estimators._base.BaseImageClassifier`
its ``predict_proba``, ``predict``, ``decision_function``, ``transform`` and
``get_feature_names_out``. Outputs go through the cached frozen part when the
network has one, so predicting images whose frozen activations a fit (or an
earlier prediction) computed runs only the layers above the cut. With
``tta=True`` the outputs (probabilities, logits) average each image with its
left-right mirror image, whose frozen activations are cached under their own
key.
"""

import numpy as np

from .._engine.backbone_info import BackboneInfo
from .._engine.network import LOGITS, PROBABILITIES
from .._utils.compat import check_is_fitted, import_keras
from ..images import OUTPUT_HINT, check_image_input, reports_user_index

keras = import_keras()

from .._engine.frozen import (  # noqa: E402
    frozen_stages,
    mirror,
    mirror_view,
    model_from_cut,
    run_model,
)

__all__ = ["PredictionMixin", "prediction_parts"]


def prediction_parts(model, info, stages=None):
    """``(stages, heads)`` for predicting with ``model``: its frozen stages (None
    without a frozen part) and ``{layer name: model from the cut (from the input
    without a frozen part) to that layer}``, filled on demand.

    Built once per model (``stages``: the ones its fit used, whose compiled functions
    predictions then reuse; a new head model per prediction would trace its
    compiled function again) and kept on the model, like ``_frozen``'s compiled
    functions: an estimator's ``predict`` leaves its ``__dict__`` as ``fit`` or
    unpickling left it (scikit-learn's ``check_dict_unchanged``), and a refit, whose
    model is new, never sees the old ones.
    """
    parts = model.__dict__.get("_sktransfer_prediction")
    if parts is None:
        parts = (frozen_stages(model, info) if stages is None else stages, {})
        # object.__setattr__ keeps Keras from tracking it as a layer attribute.
        object.__setattr__(model, "_sktransfer_prediction", parts)
    return parts


class PredictionMixin:
    """Outputs of a fitted classifier; needs ``model_``, ``backbone_info_``, ``classes_``,
    ``batch_size``, ``_embedding_layer`` and the base class' ``_pixels`` /
    ``_frozen_activations``."""

    @reports_user_index(OUTPUT_HINT)
    def _output(self, X, layer_name):
        """Output of ``layer_name`` for images X, through the cached frozen part when there is one."""
        check_is_fitted(self)
        X = check_image_input(X)
        info = BackboneInfo.of(self.backbone_info_)
        size = info.input_size  # the fitted network's, whatever input_size says now
        mirrored = self._mirrored(layer_name)
        stages, heads = prediction_parts(self.model_, info)
        if layer_name not in heads:
            heads[layer_name] = (
                keras.Model(self.model_.inputs, self.model_.get_layer(layer_name).output)
                if stages is None
                else model_from_cut(self.model_, info, layer_name)
            )
        head = heads[layer_name]
        # The head's inputs: the pixels without a frozen part, else the (cached)
        # activations at the cut; with test-time augmentation, those of the mirror too.
        if stages is None:
            pixels = self._pixels(X, size)
            inputs = [pixels, mirror(pixels)] if mirrored else [pixels]
        else:
            views = [(stages, None), mirror_view(stages)] if mirrored else [(stages, None)]
            inputs = [
                self._frozen_activations(view_stages, X, size, transform=transform)
                for view_stages, transform in views
            ]
        outputs = [x if head is None else run_model(head, x, self.batch_size) for x in inputs]
        return np.mean(outputs, axis=0) if mirrored else outputs[0]

    def _mirrored(self, layer_name):
        """Whether test-time augmentation applies: the ``tta`` parameter, outputs only."""
        return bool(getattr(self, "tta", False)) and layer_name in (PROBABILITIES, LOGITS)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); columns follow ``classes_``.

        One row per image of ``X``: a file that cannot be read raises a
        ValueError naming it (``on_error`` applies to ``fit`` only), as in
        :meth:`predict`, :meth:`decision_function` and :meth:`transform`.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        proba = self._output(X, PROBABILITIES).astype(np.float64)
        if len(self.classes_) == 2:
            proba = np.hstack([1.0 - proba, proba])
        else:
            # A float32 softmax sums to 1 within ~1e-7, which sklearn's log_loss
            # (scoring="neg_log_loss") warns about; in float64 it sums to 1.
            proba /= proba.sum(axis=1, keepdims=True)
        return proba

    def predict(self, X):
        """Predicted class labels: the most probable class of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def decision_function(self, X):
        """Logits: shape (n_samples,) for two classes (positive = ``classes_[1]``), else (n, K).

        With test-time augmentation (``tta=True``) these are the logits of the
        averaged probabilities (log-odds for two classes, log-probabilities
        otherwise), so that their argmax is :meth:`predict`'s answer.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        if self._mirrored(LOGITS):
            proba = np.clip(self.predict_proba(X), 1e-12, 1.0)
            log = np.log(proba)
            return log[:, 1] - log[:, 0] if len(self.classes_) == 2 else log
        scores = self._output(X, LOGITS).astype(np.float64)
        return scores.ravel() if len(self.classes_) == 2 else scores

    def transform(self, X):
        """Embeddings of ``X``: the outputs of the ``embedding`` parameter's layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), float32
        """
        check_is_fitted(self)
        return self._output(X, self._embedding_layer)

    def get_feature_names_out(self, input_features=None):
        """Names ``<classname>0`` ... for the columns of :meth:`transform`.

        Parameters
        ----------
        input_features : None
            Ignored (images have no input feature names).

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        n = self.model_.get_layer(self._embedding_layer).output.shape[-1]
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)
