"""PretrainedEmbedder: frozen ImageNet backbone features as a scikit-learn transformer."""

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import metadata_routing

from .._engine.backbone_info import BackboneInfo
from .._engine.cache import resolve_cache
from .._engine.frozen import compute_frozen, frozen_identity, mirror_view
from .._engine.keras_pickle import KerasPickleMixin
from .._engine.network import BACKBONE_FROZEN, POOL, InferenceMode, precision_scope
from .._engine.release import release_when_dropped
from .._engine.templates import TEMPLATE_LOCK, backbone_template
from .._utils.compat import (
    check_is_fitted,
    fit_context,
    import_keras,
)
from .._utils.hashing import identity_key
from ..backbones import build_backbone, preprocessing_layer
from ..images import OUTPUT_HINT, check_image_input, input_checked, reports_user_index, skip_unreadable
from ._backbone_params import BackboneParamsMixin, fill_parameter_docs

keras = import_keras()

__all__ = ["PretrainedEmbedder"]


def _embedding_model(name, weights, size, pooling):
    """The frozen embedding network: preprocessing, backbone, global pooling.

    With pretrained ``weights`` the network is built once per process and
    shared by every fit (it is frozen, so sharing is safe): it hangs off the
    shared backbone template (:func:`~sktransfer.backbones.backbone_template`)
    and lives as long as that does. Building a backbone takes seconds, and a
    grid search of ``make_pipeline(PretrainedEmbedder(), SVC())``
    fits the embedder once per candidate and fold; sharing the network also
    shares its compiled inference function. ``weights=None`` builds a fresh,
    randomly initialised network for every fit.
    """
    if weights is None:
        return _build_embedding_model(*build_backbone(name, None, size), pooling)
    with TEMPLATE_LOCK:
        backbone, spec = backbone_template(name, weights, size)
        # Kept on the template (object.__setattr__: not tracked by Keras).
        shared = backbone.__dict__.get("_sktransfer_embedders")
        if shared is None:
            shared = {}
            object.__setattr__(backbone, "_sktransfer_embedders", shared)
        if pooling not in shared:
            shared[pooling] = _build_embedding_model(backbone, spec, pooling)
        return shared[pooling]


def _build_embedding_model(backbone, spec, pooling):
    backbone.trainable = False
    inputs = keras.Input(backbone.input.shape[1:], name="image")
    x = preprocessing_layer(spec)(inputs)
    x = InferenceMode(backbone, name=BACKBONE_FROZEN)(x)
    pool = keras.layers.GlobalAveragePooling2D if pooling == "avg" else keras.layers.GlobalMaxPooling2D
    outputs = pool(name=POOL)(x)
    return keras.Model(inputs, outputs, name=f"embedder_{spec.model_name}"), spec


@fill_parameter_docs
class PretrainedEmbedder(
    BackboneParamsMixin, KerasPickleMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Embed images with a frozen ImageNet backbone (one forward pass per image).

    ``fit`` builds the backbone (raw 0..255 pixels in, its own preprocessing
    inside) and learns nothing from the data; ``transform`` returns the globally
    pooled last feature map. Put it in front of any scikit-learn estimator:
    ``make_pipeline(PretrainedEmbedder(), SVC())``.

    Parameters
    ----------
    %(backbone)s
    %(weights)s
    %(pooling)s
    %(input_size)s
    %(batch_size)s
    %(n_jobs)s
    on_error : {"raise", "skip"}, default="raise"
        ``fit`` learns nothing from the images and reads no file with
        "raise"; with "skip" it decodes every file, warns once naming those
        that cannot be read and lists them in ``skipped_files_``.
        ``transform`` (and so ``fit_transform`` and pipelines) always raises
        for a file that cannot be read, whatever this says: it returns one
        row per image of ``X``.
    tta : bool, default=False
        Mirror averaging: each image's embedding is the mean of the pooled
        features of the image and of its left-right mirror image (two forward
        passes; the mirror image's features are cached under their own key).
        It applies to every image transformed, training and new images alike,
        so the estimator after it sees one kind of feature; the name follows
        :class:`FineTunedClassifier`'s ``tta``. On the photos of the accuracy
        benchmarks it raised the SVM's and the linear probe's accuracy;
        the default keeps the plain features of the literature.
    %(cache)s
    verbose : int, default=0

    Attributes
    ----------
    model_ : keras.Model
        Images -> pooled features.
    n_features_out_ : int
        Embedding size (e.g. 2048 for ResNet50V2).
    backbone_info_ : dict
        What ``fit`` built: backbone name, weights, input size, pooling,
        preprocessing, feature size, parameter count. ``transform`` uses this
        input size and pooling, whatever the parameters say after the fit.
    skipped_files_ : list of str
        The files of ``X`` that cannot be read, found by ``fit`` with
        ``on_error="skip"``; empty otherwise.

    See Also
    --------
    FineTunedClassifier : trains (part of) the backbone as well.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer import PretrainedEmbedder
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=64, return_X_y=True)
    >>> pipe = make_pipeline(PretrainedEmbedder("efficientnet_lite0", input_size=64),
    ...                      LogisticRegression(max_iter=1000)).fit(X, y)
    >>> pipe[0].transform(X[:2]).shape
    (2, 1280)
    """

    def __init__(
        self,
        backbone="resnet50v2",
        *,
        weights="imagenet",
        pooling="avg",
        input_size=None,
        batch_size=32,
        n_jobs=None,
        on_error="raise",
        tta=False,
        cache=True,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.pooling = pooling
        self.input_size = input_size
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.tta = tta
        self.cache = cache
        self.verbose = verbose

    # fit takes sample_weight (and ignores it) so that a weighted fit of the
    # steps around it does not fail here; UNUSED: metadata routing never
    # asks for it, nor complains that no request was set.
    __metadata_request__fit = {"sample_weight": metadata_routing.UNUSED}

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Build the frozen backbone; ``X`` is only checked, ``y`` and the weights ignored.

        With ``on_error="skip"`` the files of ``X`` are decoded to find those
        that cannot be read (``skipped_files_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.
        y : None
            Ignored.
        sample_weight : None
            Ignored: the embedder learns nothing from the images, so it has
            nothing to weigh (weigh the estimator after it). Metadata routing
            does not route it here.

        Returns
        -------
        self : object
        """
        X = check_image_input(X)
        skipped = []
        if self.on_error == "skip":
            _, skipped = skip_unreadable(
                X,
                self._input_size(),
                owner=type(self).__name__,
                n_jobs=self.n_jobs,
                verbose=bool(self.verbose),
            )
        with precision_scope():
            self.model_, spec = _embedding_model(
                self.backbone, self.weights, self._input_size(), self.pooling
            )
            identity = frozen_identity(spec, self.weights, self._input_size())
        outputs = self.model_.outputs[0]
        self.n_features_out_ = int(outputs.shape[-1])
        self.backbone_info_ = BackboneInfo(
            backbone=spec.name,
            weights=self.weights if self.weights is None else str(self.weights),
            input_size=tuple(self._input_size()),
            pooling=self.pooling,
            preprocessing=spec.preprocessing,
            feature_dim=self.n_features_out_,
            total_params=int(self.model_.count_params()),
            identity=identity,
        ).to_dict()
        self.skipped_files_ = skipped
        release_when_dropped(self)  # a shared (pretrained) network is held elsewhere and stays
        return self

    @reports_user_index(OUTPUT_HINT)
    def transform(self, X):
        """Pooled backbone features, shape ``(n_samples, n_features_out_)``, float32.

        With ``tta=True``, the mean of the image's and its mirror image's.

        Every image of ``X`` gives one row: a file that cannot be read raises
        a ValueError naming it, whatever ``on_error`` says.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths.

        Returns
        -------
        X_new : ndarray of shape ``(n_samples, n_features_out_)``, float32
        """
        check_is_fitted(self)
        # The fitted model's size and pooling, not the parameters' current values:
        # after set_params(pooling="max") without a refit, the avg-pooled features
        # would otherwise be cached as max-pooled ones, for every embedder sharing
        # the cache. (Files saved before "pooling" was recorded hold the fit's
        # value as the parameter.)
        info = BackboneInfo.of(self.backbone_info_)
        base = info.identity
        ident = None if base is None else identity_key(*base, POOL, info.pooling or self.pooling)
        X = check_image_input(X)
        stages = [(ident, [self.model_])]
        views = [(stages, None)] + ([mirror_view(stages)] if self.tta else [])
        shared = dict(
            size=tuple(info.input_size),
            cache=resolve_cache(self.cache),
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            verbose=bool(self.verbose),
        )
        with input_checked():  # checked and warned about once, just above
            outputs = [
                compute_frozen(view_stages, X, transform=transform, **shared)
                for view_stages, transform in views
            ]
        return outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0, dtype=np.float32)

    @property
    def _n_features_out(self):
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.requires_fit = True
        tags.input_tags.positive_only = True  # pixel values are 0..255
        return tags
