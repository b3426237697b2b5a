"""SimpleCNNClassifier: a small CNN trained from scratch, with the fine-tuners' API."""

from numbers import Integral, Real

from .._engine.backbone_info import BackboneInfo
from .._engine.network import EMBEDDING, Network, build_head
from .._utils.compat import Interval, import_keras
from ..backbones import normalize_size
from ._base import BaseImageClassifier

keras = import_keras()

__all__ = ["SimpleCNNClassifier"]


class SimpleCNNClassifier(BaseImageClassifier):
    """A CNN from scratch: N x (Conv2D + ReLU + MaxPooling), then a fully connected layer.

    The baseline every transfer-learning assignment compares against. Pixels
    are scaled to [0, 1] inside the model, so raw 0..255 images go in, as for
    :class:`FineTunedClassifier`; the training parameters, attributes and
    methods are the same.

    Parameters
    ----------
    conv_filters : tuple of int, default=(16, 32, 64, 128, 256)
        Filters of each convolution block; its length is the depth.
    kernel_size : int, default=3
    dense_units : int, default=256
        Units of the fully connected layer (the ``transform`` embedding).
    dropout : float, default=0.5
        Dropout after the fully connected layer.
    batchnorm : bool, default=False
        BatchNormalization after each convolution.
    input_size : int or (int, int), default=64
        Images are resized to this; each block halves it, so it must be at
        least ``2 ** len(conv_filters)``.
    optimizer, learning_rate, epochs, batch_size, validation_fraction, \
validation, early_stopping, patience, class_weight, callbacks, augmentation, n_jobs, \
on_error, random_state, verbose
        As in :class:`FineTunedClassifier`, except two defaults: ``epochs=10``,
        and ``learning_rate=None`` means the optimizer's rate in the table of
        :mod:`sktransfer.estimators` (0.001 for Adam; the fine-tuner's 0.003
        suits a pretrained network's head). ``on_error="skip"`` leaves
        unreadable files (and their labels) out of ``fit`` only; prediction
        and ``transform`` always raise for them.

    Attributes
    ----------
    classes_, model_, history_, n_epochs_, backbone_info_, skipped_files_
        As in :class:`FineTunedClassifier`.

    See Also
    --------
    FineTunedClassifier : transfer learning from an ImageNet backbone.

    Examples
    --------
    >>> from sktransfer import SimpleCNNClassifier
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=32, return_X_y=True)
    >>> clf = SimpleCNNClassifier(conv_filters=(8, 16), input_size=32, epochs=2,
    ...                           random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseImageClassifier._parameter_constraints,
        "conv_filters": [tuple, list],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 1, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batchnorm": ["boolean"],
    }

    def __init__(
        self,
        conv_filters=(16, 32, 64, 128, 256),
        *,
        kernel_size=3,
        dense_units=256,
        dropout=0.5,
        batchnorm=False,
        input_size=64,
        optimizer="adam",
        learning_rate=None,
        epochs=10,
        batch_size=32,
        validation_fraction=0.0,
        validation=None,
        early_stopping=False,
        patience=3,
        class_weight=None,
        callbacks=None,
        augmentation=None,
        n_jobs=None,
        on_error="raise",
        random_state=None,
        verbose=0,
    ):
        self.conv_filters = conv_filters
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.input_size = input_size
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
        self.n_jobs = n_jobs
        self.on_error = on_error
        self.random_state = random_state
        self.verbose = verbose

    def _input_size(self):
        filters = tuple(self.conv_filters)
        return normalize_size(self.input_size, 64, min_size=max(2 ** len(filters), 1))

    def _build_network(self, n_outputs, seed):
        filters = tuple(self.conv_filters)
        if not filters or any(not isinstance(f, Integral) or f < 1 for f in filters):
            raise ValueError(
                f"conv_filters must be a non-empty tuple of positive ints, got {self.conv_filters!r}."
            )
        height, width = self._input_size()
        inputs = keras.Input((height, width, 3), name="image")
        x = inputs
        if self.augmentation is not None and self.augmentation.is_active():
            for layer in self.augmentation.build_layers(seed):
                x = layer(x)
        x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
        for i, n in enumerate(filters):
            x = keras.layers.Conv2D(
                int(n),  # Keras rejects numpy integers (a grid's np.arange, say)
                int(self.kernel_size),
                padding="same",
                activation=None if self.batchnorm else "relu",
                kernel_initializer=keras.initializers.HeNormal(seed=seed + i),
                name=f"conv{i + 1}",
            )(x)
            if self.batchnorm:
                x = keras.layers.BatchNormalization(name=f"conv{i + 1}_bn")(x)
                x = keras.layers.Activation("relu", name=f"conv{i + 1}_relu")(x)
            x = keras.layers.MaxPooling2D(2, name=f"pool{i + 1}")(x)
        x = keras.layers.Flatten(name="flatten")(x)
        outputs = build_head(
            x, (int(self.dense_units),), dropout=self.dropout, n_outputs=n_outputs, seed=seed
        )
        model = keras.Model(inputs, outputs, name="simple_cnn")
        info = BackboneInfo(
            backbone=None,
            cut_layer=None,
            input_size=(height, width),
            conv_filters=filters,
            total_params=int(model.count_params()),
            trainable_params=int(model.count_params()),
        )
        return Network(model=model, embedding_layer=EMBEDDING, info=info)
