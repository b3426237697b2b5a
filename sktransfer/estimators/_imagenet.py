"""PretrainedImageNetClassifier: what a pretrained network itself predicts, with its own head.

Every other sktransfer estimator replaces the backbone's ImageNet head with a
new one. This one keeps it, to compare what different pretrained weights
*predict* on your images: the 1,000 ImageNet classes (names, top-k,
probabilities), or your own labels through ``class_map``, which maps each of
your labels onto the ImageNet classes that stand for it, so that
``score(X, y)`` and every scikit-learn metric work on your labels.
"""

import os
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .._engine.backbone_info import BackboneInfo
from .._engine.keras_pickle import KerasPickleMixin
from .._utils.compat import Interval, StrOptions, check_is_fitted, fit_context, import_keras
from ..backbones import get_backbone_spec, normalize_size, preprocessing_layer
from ..exceptions import WeightsUnavailableError
from ..images import check_image_input, load_images

keras = import_keras()

__all__ = ["PretrainedImageNetClassifier", "imagenet_class_names"]


def imagenet_class_names():
    """The 1,000 ImageNet class names, in the order of the networks' outputs.

    From keras-hub (``pip install "sktransfer[hub]"``), or else from Keras'
    ``imagenet_class_index.json`` (downloaded once into ``~/.keras``).

    Raises
    ------
    WeightsUnavailableError
        Neither is available (no keras-hub and no network).
    """
    try:
        from keras_hub.src.utils.imagenet.imagenet_utils import IMAGENET_NAMES

        return np.array([IMAGENET_NAMES[i][1] for i in range(1000)], dtype=object)
    except ImportError:
        pass
    import json

    try:
        path = keras.utils.get_file(
            "imagenet_class_index.json",
            "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
            cache_subdir="models",
        )
    except Exception as exc:
        raise WeightsUnavailableError(
            'The ImageNet class names come from keras-hub (pip install "sktransfer[hub]") or '
            f"from Keras' imagenet_class_index.json, which could not be downloaded ({exc})."
        ) from exc
    with open(path, encoding="utf-8") as fh:
        index = json.load(fh)
    return np.array([index[str(i)][1] for i in range(1000)], dtype=object)


def _classifier_network(name, weights, size):
    """Raw 0..255 pixels -> the backbone's own preprocessing -> the network with its head."""
    spec = get_backbone_spec(name)
    inputs = keras.Input((*size, 3), name="image")
    x = preprocessing_layer(spec)(inputs)
    if spec.source == "keras-hub":
        from ..backbones import build_hub_backbone, import_keras_hub

        task = import_keras_hub(spec.name).models.ImageClassifier.from_preset(
            spec.name, load_weights=weights == "imagenet"
        )
        dense, pooler = getattr(task, "output_dense", None), getattr(task, "pooler", None)
        if dense is None or pooler is None:
            raise ValueError(
                f"The keras-hub classifier of {spec.name!r} has no plain pooling + "
                "dense head; PretrainedImageNetClassifier cannot use it."
            )
        backbone = build_hub_backbone(spec, weights, *size)
        head = keras.layers.Dense(dense.units, activation="softmax", name="predictions")
        outputs = head(pooler(backbone(x)))
        head.set_weights(dense.get_weights())
    else:
        import importlib

        module, _, attr = spec.constructor.rpartition(".")
        constructor = getattr(importlib.import_module(module), attr)
        try:
            net = constructor(
                include_top=True,
                weights=weights,
                input_shape=(*size, 3),
                classifier_activation="softmax",
                **spec.kwargs,
            )
        except Exception as exc:  # Keras raises a bare Exception on download failure
            offline = "URL fetch failure" in str(exc) or isinstance(exc, OSError)
            if weights == "imagenet" and offline:
                raise WeightsUnavailableError(
                    f"Could not download the ImageNet weights (with the head) of {spec.name!r}: "
                    f"{exc}. Use backbone='efficientnet_lite0' (offline) or a keras-hub folder."
                ) from exc
            raise
        outputs = net(x)
    return keras.Model(inputs, outputs, name=f"imagenet_{spec.model_name}"), spec


class PretrainedImageNetClassifier(KerasPickleMixin, ClassifierMixin, BaseEstimator):
    """Predict with a pretrained network's own ImageNet head (nothing is trained).

    Parameters
    ----------
    backbone : str or path, default="efficientnet_lite0"
        A registered name (``keras.applications`` models need their ImageNet
        weights with the top; ``"efficientnet_lite0"`` carries its 1,000-class
        head offline) or a keras-hub handle / folder whose checkpoint has its
        classifier (timm checkpoints do).
    weights : "imagenet" or path, default="imagenet"
        The pretrained weights (for a keras-hub handle: the preset's).
    class_map : dict or None, default=None
        ``None``: the classes are the 1,000 ImageNet names. A dict maps each of
        your labels to the ImageNet classes (names or indices) that stand for
        it, e.g. ``{"cat": ["tabby", "Egyptian_cat"], "dog": range(151, 269)}``;
        a label's probability is the sum of its ImageNet classes'
        probabilities, renormalised over your labels.
    top_k : int, default=5
        Number of guesses :meth:`predict_imagenet` returns per image.
    input_size : int, (int, int) or None, default=None
        ``None``: the backbone's default (the ImageNet head of a
        ``keras.applications`` model needs it).
    batch_size : int, default=32

    Attributes
    ----------
    classes_ : ndarray
        ImageNet class names, or the labels of ``class_map`` (sorted).
    imagenet_classes_ : ndarray of shape (1000,)
    model_ : keras.Model
        Raw 0..255 pixels in, the 1,000 ImageNet probabilities out.
    backbone_info_ : dict

    Examples
    --------
    >>> from sktransfer import PretrainedImageNetClassifier
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=224, n_per_class=1, return_X_y=True)
    >>> clf = PretrainedImageNetClassifier().fit(X)  # EfficientNet-Lite0, offline
    >>> names, probabilities = clf.predict_imagenet(X[:1], top_k=3)
    >>> names.shape, probabilities.shape
    ((1, 3), (1, 3))
    """

    _parameter_constraints = {
        "backbone": [str, os.PathLike],
        "weights": [StrOptions({"imagenet"}), str, os.PathLike],
        "class_map": [dict, None],
        "top_k": [Interval(Integral, 1, 1000, closed="both")],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        backbone="efficientnet_lite0",
        *,
        weights="imagenet",
        class_map=None,
        top_k=5,
        input_size=None,
        batch_size=32,
    ):
        self.backbone = backbone
        self.weights = weights
        self.class_map = class_map
        self.top_k = top_k
        self.input_size = input_size
        self.batch_size = batch_size

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Build the network with its ImageNet head; ``X`` and ``y`` are not used.

        Returns
        -------
        self : object
        """
        spec = get_backbone_spec(self.backbone)
        size = normalize_size(self.input_size, spec.default_size, spec.min_size)
        self.model_, spec = _classifier_network(self.backbone, self.weights, size)
        n = int(self.model_.output.shape[-1])
        names = (
            imagenet_class_names() if n == 1000 else np.array([f"class_{i}" for i in range(n)], dtype=object)
        )
        self.imagenet_classes_ = names
        self._groups = self._class_groups(names)
        self.classes_ = (
            names if self._groups is None else np.array(sorted(self.class_map, key=str), dtype=object)
        )
        self.backbone_info_ = BackboneInfo(
            backbone=spec.name,
            weights=str(self.weights),
            input_size=tuple(size),
            n_imagenet_classes=n,
            total_params=int(self.model_.count_params()),
        ).to_dict()
        return self

    def _class_groups(self, names):
        if self.class_map is None:
            return None
        index = {name: i for i, name in enumerate(names)}
        groups = []
        for label in sorted(self.class_map, key=str):
            ids = []
            for member in self.class_map[label]:
                if isinstance(member, Integral) and 0 <= int(member) < len(names):
                    ids.append(int(member))
                elif member in index:
                    ids.append(index[member])
                else:
                    raise ValueError(
                        f"class_map[{label!r}] names {member!r}, which is neither an "
                        "ImageNet class name nor an index 0..999 (see "
                        "imagenet_classes_ or imagenet_class_names())."
                    )
            if not ids:
                raise ValueError(f"class_map[{label!r}] is empty.")
            groups.append(ids)
        return groups

    def predict_imagenet_proba(self, X):
        """The 1,000 ImageNet probabilities of each image, shape (n_samples, 1000)."""
        check_is_fitted(self)
        X = check_image_input(X)
        size = tuple(BackboneInfo.of(self.backbone_info_).input_size)
        out = []
        for start in range(0, len(X), self.batch_size):
            pixels = load_images(X[start : start + self.batch_size], size=size)
            out.append(np.asarray(self.model_(pixels.astype("float32"), training=False)))
        return np.concatenate(out) if out else np.zeros((0, len(self.imagenet_classes_)))

    def predict_imagenet(self, X, top_k=None):
        """The ``top_k`` ImageNet guesses of each image: ``(names, probabilities)``, best first.

        Returns
        -------
        names : ndarray of str, shape (n_samples, top_k)
        probabilities : ndarray of shape (n_samples, top_k)
        """
        proba = self.predict_imagenet_proba(X)
        k = self.top_k if top_k is None else int(top_k)
        top = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        return self.imagenet_classes_[top], np.take_along_axis(proba, top, axis=1)

    def predict_proba(self, X):
        """Probabilities of ``classes_`` (ImageNet's, or ``class_map``'s labels renormalised)."""
        proba = self.predict_imagenet_proba(X)
        if self._groups is None:
            return proba
        grouped = np.stack([proba[:, ids].sum(axis=1) for ids in self._groups], axis=1)
        total = grouped.sum(axis=1, keepdims=True)
        return grouped / np.where(total > 0, total, 1.0)

    def predict(self, X):
        """The most probable class of ``classes_`` per image."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        tags.input_tags.positive_only = True
        return tags
