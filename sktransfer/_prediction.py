"""Prediction and embeddings of a fitted sktransfer classifier, test-time augmentation included.

:class:`PredictionMixin` gives :class:`sktransfer._training.BaseImageClassifier`
its ``predict_proba``, ``predict``, ``decision_function``, ``transform`` and
``get_feature_names_out``. Outputs go through the cached frozen part when the
network has one, so predicting images whose frozen activations a fit (or an
earlier prediction) computed runs only the layers above the cut. With
``tta=True`` the outputs (probabilities, logits) average each image with its
left-right mirror image, whose frozen activations are cached under their own
key.
"""

import numpy as np

from ._compat import check_is_fitted, import_keras
from ._decode import OUTPUT_HINT, reports_user_index
from .images import check_image_input

keras = import_keras()

from ._frozen import frozen_stages, mirror, mirror_view, model_from_cut, run_model  # noqa: E402

__all__ = ["PredictionMixin"]


class PredictionMixin:
    """Outputs of a fitted classifier; needs ``model_``, ``backbone_info_``, ``classes_``,
    ``batch_size``, ``_embedding_layer`` and the base class' ``_pixels`` /
    ``_frozen_activations``."""

    @reports_user_index(OUTPUT_HINT)
    def _output(self, X, layer_name):
        """Output of ``layer_name`` for images X, through the cached frozen part when there is one."""
        check_is_fitted(self)
        X = check_image_input(X)
        info = self.backbone_info_
        mirrored = self._mirrored(layer_name)
        if "_stages" not in self.__dict__:
            self._stages = frozen_stages(self.model_, info)
            self._from_cut = {}
        if self._stages is None:
            model = keras.Model(self.model_.inputs, self.model_.get_layer(layer_name).output)
            pixels = self._pixels(X)
            outputs = [run_model(model, pixels, self.batch_size)]
            if mirrored:
                outputs.append(run_model(model, mirror(pixels), self.batch_size))
            return np.mean(outputs, axis=0)
        if layer_name not in self._from_cut:
            self._from_cut[layer_name] = model_from_cut(self.model_, info, layer_name)
        head = self._from_cut[layer_name]
        outputs = []
        for stages, transform in self._output_views(mirrored):
            activations = self._frozen_activations(stages, X, transform=transform)
            outputs.append(activations if head is None else run_model(head, activations, self.batch_size))
        return np.mean(outputs, axis=0) if mirrored else outputs[0]

    def _output_views(self, mirrored):
        """(stages, pixel transform) of the original images, then of their mirror images."""
        yield self._stages, None
        if mirrored:
            yield mirror_view(self._stages)

    def _mirrored(self, layer_name):
        """Whether test-time augmentation applies: the ``tta`` parameter, outputs only."""
        return bool(getattr(self, "tta", False)) and layer_name in ("probabilities", "logits")

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes); columns follow ``classes_``.

        One row per image of ``X``: a file that cannot be read raises a
        ValueError naming it (``on_error`` applies to ``fit`` only), as in
        :meth:`predict`, :meth:`decision_function` and :meth:`transform`.
        """
        proba = self._output(X, "probabilities").astype(np.float64)
        if len(self.classes_) == 2:
            proba = np.hstack([1.0 - proba, proba])
        return proba

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def decision_function(self, X):
        """Logits: shape (n_samples,) for two classes (positive = ``classes_[1]``), else (n, K).

        With test-time augmentation (``tta=True``) these are the logits of the
        averaged probabilities (log-odds for two classes, log-probabilities
        otherwise), so that their argmax is :meth:`predict`'s answer.
        """
        if self._mirrored("logits"):
            proba = np.clip(self.predict_proba(X), 1e-12, 1.0)
            log = np.log(proba)
            return log[:, 1] - log[:, 0] if len(self.classes_) == 2 else log
        scores = self._output(X, "logits").astype(np.float64)
        return scores.ravel() if len(self.classes_) == 2 else scores

    def transform(self, X):
        """Embeddings of ``X`` (see the ``embedding`` parameter), shape (n_samples, n_features)."""
        check_is_fitted(self)
        return self._output(X, self._embedding_layer)

    def get_feature_names_out(self, input_features=None):
        """Names ``<classname>0`` ... for the columns of :meth:`transform`."""
        check_is_fitted(self)
        n = self.model_.get_layer(self._embedding_layer).output.shape[-1]
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(n)], dtype=object)

