"""FineTunedClassifier: an ImageNet backbone plus a new head, as a scikit-learn classifier."""

import json
from numbers import Integral, Real

from .._engine.backbone_info import BackboneInfo
from .._engine.frozen import frozen_identity
from .._engine.network import (
    BACKBONE_FROZEN,
    BACKBONE_TRAINABLE,
    EMBEDDING,
    POOL,
    InferenceMode,
    Network,
    build_head,
    head_layers,
)
from .._engine.parts import backbone_parts
from .._engine.release import keep_with
from .._engine.templates import TEMPLATE_LOCK
from .._utils.compat import Interval, StrOptions, import_keras
from ..backbones import preprocessing_layer
from ._backbone_params import BackboneParamsMixin, fill_parameter_docs
from ._base import BaseImageClassifier
from ._fit_data import stage_history

keras = import_keras()

__all__ = ["FineTunedClassifier"]


@fill_parameter_docs
class FineTunedClassifier(BackboneParamsMixin, BaseImageClassifier):
    """Fine-tune an ImageNet CNN on your images, the scikit-learn way.

    The network is: optional augmentation (training only) -> the backbone's own
    preprocessing (raw 0..255 pixels go in) -> the backbone, of which the top
    ``trainable_layers`` train and the rest stay frozen -> global pooling -> a
    head of optional hidden layers -> ``Dense(1) + sigmoid`` (binary
    cross-entropy) for two classes or ``Dense(K) + softmax`` (sparse categorical
    cross-entropy) for more. Backbone layers always run in inference mode, so
    BatchNormalization keeps its ImageNet statistics even where its scale and
    offset train (the Keras transfer-learning rule).

    Frozen work is done once: without augmentation, the activations below the
    lowest trainable layer are computed once per fit and every epoch trains
    only the layers above them.

    Parameters
    ----------
    %(backbone)s
    %(weights)s
    trainable_layers : int, "all" or str, default=0
        ``0`` trains the head only; ``N`` the top N backbone layers that
        have weights, counted down from the output (normalisation layers
        count, activations and pooling do not: ``1`` on efficientnet_lite0
        is its last BatchNormalization alone, which warns); ``"all"``
        everything; a block name (``"conv5"``, ``"block7"``) that block and
        all above it. See :doc:`/guide/estimators`.
    head : tuple of int, default=()
        Hidden Dense layer sizes between pooling and the output, e.g. ``(1024, 1024)``.
    head_dropout : float, default=0.0
        Dropout rate after each hidden layer.
    head_l2 : float, default=0.0
        L2 penalty on the head's kernels.
    head_batchnorm : bool, default=False
        BatchNormalization after each hidden Dense layer.
    %(pooling)s
    embedding : {"penultimate", "pooled"}, default="penultimate"
        What :meth:`transform` returns: the last hidden head layer (the pooled
        features when ``head=()``), or the pooled backbone features.
    backbone_lr_scale : float, default=1.0
        Learning-rate multiplier for the trainable backbone layers.
    head_epochs : int, default=30
        Two-stage fine-tuning (the protocol of Keras' transfer-learning
        guide; "LP-FT" in Kumar et al., 2022): when pretrained backbone
        layers train, first train the head alone for ``head_epochs`` epochs
        on the frozen backbone (cheap: its activations come from the cache),
        then train the head and the backbone layers together for ``epochs``,
        starting from that head rather than from a random one, whose first
        large gradients would otherwise reach the pretrained layers. Both
        stages use the same settings, images, validation set, weights and
        early stopping (each stage stops on its own); ``callbacks`` belong to
        the second; ``history_`` holds both (``history_["stage"]``). ``0``
        trains both together from the start. Ignored when only the head
        trains and with ``weights=None`` (nothing pretrained to protect). 30
        is the head-only default's training. Why it is on by default:
        :doc:`/guide/defaults`.
    optimizer : str or keras.optimizers.Optimizer, default="adam"
        ``"sgd"``, ``"rmsprop"``, ``"adam"``, ``"adamw"``, ``"nadam"``,
        ``"adamax"``, ``"adagrad"``, ``"adadelta"`` or an instance (cloned per fit).
    learning_rate : float or None, default=None
        ``None`` means 0.003 for ``"adam"`` (three times Keras' 0.001, which
        trains a new head as far in a third of the epochs: :doc:`/guide/defaults`)
        and the optimizer's own default for any other name (see
        :mod:`sktransfer.estimators`). Compare optimizers at
        the same explicit rate, or each at its own default, knowingly.
    epochs : int, default=30
        Head-only training on cached activations costs milliseconds per
        epoch, and 10 epochs left the head under-trained on small data sets
        (:doc:`/guide/defaults`). Fine-tuning backbone layers costs more
        per epoch: set ``epochs`` for it.
    %(batch_size)s
    validation_fraction : float, default=0.0
        Fraction of the training images held out (stratified, unless a class
        has one image or the part is smaller than the number of classes) to
        compute ``val_loss`` / ``val_accuracy`` each epoch (the command
        line's default is 0.2).
    validation : int, float, splitter or None, default=None
        Images held out instead: ``20`` per class, a fraction, or the test
        part of a splitter's first split (``PerClassSplit(20)``). Your own
        validation images go to ``fit(X, y, X_val=..., y_val=...)``.
    early_stopping : bool, default=False
        Stop when ``val_loss`` has not improved for ``patience`` epochs and
        restore the best weights; needs a validation set (``X_val``,
        ``validation`` or ``validation_fraction``).
    patience : int, default=3
    class_weight : dict, "balanced" or None, default=None
        Per-class loss weights keyed by the original labels; a class without
        one weighs 1. Labels that ``y`` lacks are ignored when every class of
        ``y`` has a weight, as in scikit-learn.
    callbacks : list of keras.callbacks.Callback or None, default=None
        Keras callbacks of the training (with ``head_epochs``, of the second
        stage only), passed to ``fit`` with the ``EarlyStopping`` that
        ``early_stopping`` adds. A learning-rate callback moves the backbone's
        rate with the head's, keeping ``backbone_lr_scale``; a
        :class:`~sktransfer.model_selection.HistoryRecorder` keeps every fit's ``history_``.
    augmentation : Augmentation or None, default=None
        Random transformations applied while training only.
    tta : bool, default=True
        Test-time augmentation: :meth:`predict_proba` (and so :meth:`predict`
        and :meth:`decision_function`) average the probabilities of each
        image and of its left-right mirror image. Doubles the cost of
        prediction (the mirror images' frozen activations are cached like
        any others); :meth:`transform` is unaffected, and so is training,
        so ``set_params(tta=...)`` may change it after ``fit``. On by
        default because it raised the test accuracy of head-only fine-tuning
        on average (:doc:`/guide/defaults`);
        set ``False`` for images whose mirror image means something else
        (text, digits, left/right).
    %(input_size)s
    %(n_jobs)s
    on_error : {"raise", "skip"}, default="raise"
        What ``fit`` does with image files that cannot be read (missing,
        empty, corrupt, truncated, not an image): raise a ValueError naming
        the first one, or leave them out together with their labels, warn
        once naming them, and list them in ``skipped_files_``; "skip" decodes
        each file once more before training to find them. ``predict``,
        ``predict_proba``, ``decision_function`` and ``transform`` always
        raise, whatever this says: they return one row per image of ``X``.
    %(cache)s
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling, dropout, augmentation and the
        validation split: the same value gives the same predictions (bitwise
        whatever the activation cache held with
        ``sktransfer.set_config(deterministic=True)``).
    verbose : int, default=0
        0 silent, 1 Keras' progress bar and a decoding bar, 2 one line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : keras.Model
        The trained network; raw 0..255 images in, probabilities out (of the
        image alone: test-time augmentation is applied by the estimator's
        methods, not by the Keras model).
    history_ : dict of list
        Per-epoch ``loss`` and ``accuracy`` (and ``val_loss``,
        ``val_accuracy``); after a two-stage fit (``head_epochs``) both
        stages' epochs, and ``"stage"``: 1 for a head-only epoch, 2 for one
        of ``epochs``.
    n_epochs_ : int
        Epochs actually run by the ``epochs`` stage.
    backbone_info_ : dict
        Backbone name, weights, input size, the cut, parameter counts and
        whether training ran on cached activations.
    skipped_files_ : list of str
        The files of ``X`` that ``fit`` left out (``on_error="skip"``); empty
        when none was.

    See Also
    --------
    PretrainedEmbedder : frozen backbone features as a transformer.
    SimpleCNNClassifier : a CNN trained from scratch with the same API.

    Examples
    --------
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=64, return_X_y=True)
    >>> clf = FineTunedClassifier(backbone="efficientnet_lite0", input_size=64,
    ...                           epochs=3, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape == (2, len(clf.classes_))
    True
    """

    _parameter_constraints = {
        **BaseImageClassifier._parameter_constraints,
        **BackboneParamsMixin._parameter_constraints,
        "trainable_layers": [Interval(Integral, 0, None, closed="left"), str],
        "head": [tuple, list],
        "head_dropout": [Interval(Real, 0, 1, closed="left")],
        "head_l2": [Interval(Real, 0, None, closed="left")],
        "head_batchnorm": ["boolean"],
        "embedding": [StrOptions({"penultimate", "pooled"})],
        "backbone_lr_scale": [Interval(Real, 0, None, closed="neither")],
        "head_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    _default_learning_rates = {"adam": 0.003}

    def __init__(
        self,
        backbone="resnet50v2",
        *,
        weights="imagenet",
        trainable_layers=0,
        head=(),
        head_dropout=0.0,
        head_l2=0.0,
        head_batchnorm=False,
        pooling="avg",
        embedding="penultimate",
        backbone_lr_scale=1.0,
        head_epochs=30,
        optimizer="adam",
        learning_rate=None,
        epochs=30,
        batch_size=32,
        validation_fraction=0.0,
        validation=None,
        early_stopping=False,
        patience=3,
        class_weight=None,
        callbacks=None,
        augmentation=None,
        tta=True,
        input_size=None,
        n_jobs=None,
        on_error="raise",
        cache=True,
        random_state=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.weights = weights
        self.trainable_layers = trainable_layers
        self.head = head
        self.head_dropout = head_dropout
        self.head_l2 = head_l2
        self.head_batchnorm = head_batchnorm
        self.pooling = pooling
        self.embedding = embedding
        self.backbone_lr_scale = backbone_lr_scale
        self.head_epochs = head_epochs
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.validation = validation
        self.early_stopping = early_stopping
        self.patience = patience
        self.class_weight = class_weight
        self.callbacks = callbacks
        self.augmentation = augmentation
        self.tta = tta
        self.input_size = input_size
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.cache = cache
        self.random_state = random_state
        self.verbose = verbose

    def _build_network(self, n_outputs, seed):
        if any(not isinstance(u, Integral) or u < 1 for u in self.head):
            raise ValueError(f"head must be a tuple of positive ints, got {self.head!r}.")
        with TEMPLATE_LOCK:
            parts = backbone_parts(self.backbone, self.weights, self._input_size(), self.trainable_layers)
        backbone, spec, trainable, bottom, top, cut, anchor = parts

        inputs = keras.Input(backbone.input.shape[1:], name="image")
        x = inputs
        if self.augmentation is not None and self.augmentation.is_active():
            for layer in self.augmentation.build_layers(seed):
                x = layer(x)
        x = preprocessing_layer(spec)(x)
        cut_tensor = None
        if bottom is not None:
            x = cut_tensor = InferenceMode(bottom, name=BACKBONE_FROZEN)(x)
        if top is not None and self.weights is None:
            # Trained from scratch: no ImageNet statistics to keep, and
            # BatchNormalization must learn its statistics from the batches.
            x = top(x)
        elif top is not None:
            x = InferenceMode(top, name=BACKBONE_TRAINABLE)(x)
        pool = (
            keras.layers.GlobalAveragePooling2D if self.pooling == "avg" else keras.layers.GlobalMaxPooling2D
        )
        x = pool(name=POOL)(x)
        if top is None:
            cut_tensor = x  # head only: cache the pooled features, the smallest cut
        outputs = build_head(
            x,
            tuple(self.head),
            dropout=self.head_dropout,
            l2=self.head_l2,
            batchnorm=self.head_batchnorm,
            n_outputs=n_outputs,
            seed=seed,
        )
        model = keras.Model(inputs, outputs, name=f"finetuned_{spec.model_name}")
        info = BackboneInfo(
            backbone=spec.name,
            weights=self.weights if self.weights is None else str(self.weights),
            input_size=tuple(self._input_size()),
            preprocessing=spec.preprocessing,
            pooling=self.pooling,
            trainable_backbone_layers=len(trainable),
            cut=cut if top is not None else POOL,
            cut_layer=None if cut_tensor is None else (POOL if top is None else BACKBONE_FROZEN),
            anchor=anchor if bottom is not None else None,
            identity=frozen_identity(spec, self.weights, self._input_size()),
            feature_dim=int(backbone.output.shape[-1]),
            total_params=int(model.count_params()),
            trainable_params=int(sum(keras.ops.size(v) for v in model.trainable_variables)),
        )
        if self.weights is None and bottom is not None and top is not None:
            # This fit's own backbone, split in two, holds all its layers in Keras'
            # cycles: kept with the network it goes with it (see _engine.release)
            # instead of keeping the layers until a full collection.
            keep_with(model, backbone)
        return Network(
            model=model,
            backbone_variables=list(top.trainable_variables) if top is not None else [],
            embedding_layer=EMBEDDING if self.embedding == "penultimate" else POOL,
            info=info,
        )

    def _train(self, network, data, classes, seed):
        if not (self.head_epochs and network.backbone_variables and self.weights is not None):
            return super()._train(network, data, classes, seed)
        first = self._train_head_first(network, data, classes, seed)
        second, stages = super()._train(network, data, classes, seed)
        return stage_history(first, second), stages

    def _train_head_first(self, network, data, classes, seed):
        """Stage one of ``head_epochs``: train the head alone, put it on ``network``.

        Returns its history."""
        # The head-only fit of the same estimator: same seed (so the same initial
        # head), images, weights and validation set; y is encoded here, so class
        # weights go by index. get_params, not clone(), which would deep-copy the
        # user's callbacks (not used here).
        params = {
            **self.get_params(deep=False),
            "trainable_layers": 0,
            "epochs": self.head_epochs,
            "head_epochs": 0,
            "callbacks": None,
            "class_weight": self._class_weight(data.y, classes),
            "on_error": "raise",
            "validation": None,
            "validation_fraction": 0.0,
            "random_state": seed,
        }
        first = type(self)(**params).fit(
            data.X, data.y, sample_weight=data.sample_weight, X_val=data.X_val, y_val=data.y_val
        )
        for layer in head_layers(first.model_):
            network.model.get_layer(layer.name).set_weights(layer.get_weights())
        network.info.head_epochs = self.head_epochs
        return first.history_

    def _trainer_key(self, network, n_classes, whole):
        # Everything the compiled trainer depends on: a reused trainer is
        # reloaded with this fit's own initial weights (see _trainers).
        info = network.info
        optimizer = self.optimizer
        if not isinstance(optimizer, str):
            config = json.dumps(optimizer.get_config(), sort_keys=True, default=repr)
            optimizer = (type(optimizer).__module__, type(optimizer).__qualname__, config)
        return (
            type(self).__qualname__,
            info.backbone,
            info.identity or ("random", info.input_size),
            info.cut,
            info.trainable_backbone_layers,
            tuple(self.head),
            self.head_dropout,
            self.head_l2,
            self.head_batchnorm,
            self.pooling,
            n_classes,
            optimizer,
            self._learning_rate(),
            self.backbone_lr_scale,
            ("whole", repr(self.augmentation)) if whole else ("cut", self._xla(network)),
        )
