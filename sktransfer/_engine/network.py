"""The pieces every sktransfer network is built from.

:class:`InferenceMode` keeps a wrapped (backbone) model in inference mode,
:func:`build_head` puts the classification head on a feature vector, and
:class:`Network` carries a built model with what training needs to know.
"""

import contextlib
from dataclasses import dataclass, field

from .._config import precision_policy
from .._utils.compat import import_keras
from ..backbones import PREPROCESS_LAYER
from .backbone_info import BackboneInfo

keras = import_keras()

__all__ = [
    "BACKBONE_FROZEN",
    "BACKBONE_TRAINABLE",
    "EMBEDDING",
    "LOGITS",
    "POOL",
    "PREPROCESS",
    "PROBABILITIES",
    "InferenceMode",
    "Network",
    "build_head",
    "head_layers",
    "precision_scope",
]

# The layers found by name, in every network sktransfer builds (saved models keep them):
PREPROCESS = PREPROCESS_LAYER  # the backbone's own input normalisation
BACKBONE_FROZEN = "backbone_frozen"  # the backbone below the cut, in inference mode
BACKBONE_TRAINABLE = "backbone_trainable"  # the backbone above the cut
POOL = "pool"  # global pooling of the backbone's features
EMBEDDING = "embedding"  # the head's penultimate features
LOGITS = "logits"
PROBABILITIES = "probabilities"  # the output


@keras.saving.register_keras_serializable(package="sktransfer")
class InferenceMode(keras.layers.Layer):
    """Run a wrapped model in inference mode even while the outer model trains.

    Keras 3 passes the outer ``training=True`` to nested models whatever they
    were called with (keras-team/keras#20285), so ``base(x, training=False)``
    no longer keeps BatchNormalization on its ImageNet statistics nor switches
    off a backbone's internal dropout. Calling the wrapped model with an
    explicit ``training=False`` inside ``call`` does. Trainable weights of the
    wrapped model still receive gradients.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        self.model = model

    def call(self, inputs):
        return self.model(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.model.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.model)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        model = keras.saving.deserialize_keras_object(config.pop("model"))
        return cls(model, **config)


@dataclass
class Network:
    """A built network: the full model, plus what training needs to know.

    ``info`` becomes ``backbone_info_`` (as a dict); its ``cut_layer`` / ``anchor`` /
    ``identity`` fields describe the frozen part (see :mod:`sktransfer._engine.frozen`).
    """

    model: object
    backbone_variables: list = field(default_factory=list)
    embedding_layer: str = EMBEDDING
    info: BackboneInfo = field(default_factory=BackboneInfo)


def build_head(x, units=(), *, dropout=0.0, l2=0.0, batchnorm=False, n_outputs=2, seed=None):
    """Dense layers on a feature vector, then the logits and the probabilities.

    The hidden layers are ``Dense(units, relu)`` [+ BatchNormalization] [+ Dropout];
    the last hidden layer (or the input when there is none) is named
    ``"embedding"``. The output is ``Dense(1) + sigmoid`` for two classes and
    ``Dense(K) + softmax`` otherwise, named ``"logits"`` and ``"probabilities"``.
    """
    regularizer = keras.regularizers.L2(l2) if l2 else None
    x = keras.layers.Identity(name=EMBEDDING)(x) if not units else x
    for i, n in enumerate(units):
        last = i == len(units) - 1
        x = keras.layers.Dense(
            int(n),  # Keras rejects numpy integers (a grid's np.arange, say)
            activation=None if batchnorm else "relu",
            kernel_regularizer=regularizer,
            kernel_initializer=keras.initializers.GlorotUniform(seed=_sub(seed, i)),
            name=f"head_dense_{i}",
        )(x)
        if batchnorm:
            x = keras.layers.BatchNormalization(name=f"head_bn_{i}")(x)
            x = keras.layers.Activation("relu", name=f"head_relu_{i}")(x)
        if last:
            x = keras.layers.Identity(name=EMBEDDING)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, seed=_sub(seed, 100 + i), name=f"head_dropout_{i}")(x)
    logits = keras.layers.Dense(
        1 if n_outputs == 2 else n_outputs,
        kernel_regularizer=regularizer,
        kernel_initializer=keras.initializers.GlorotUniform(seed=_sub(seed, 999)),
        name=LOGITS,
    )(x)
    activation = "sigmoid" if n_outputs == 2 else "softmax"
    return keras.layers.Activation(activation, name=PROBABILITIES, dtype="float32")(logits)


@contextlib.contextmanager
def precision_scope():
    """Build networks in the precision of ``sktransfer.set_config(mixed_precision=...)``.

    Keras' dtype policy is per thread, so a scope never changes another
    thread's fits; every network sktransfer builds is built in one.
    """
    old = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(precision_policy())
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(old)


def head_layers(model):
    """The layers of ``model`` that :func:`build_head` made and that hold weights."""
    return [
        layer
        for layer in model.layers
        if layer.weights and (layer.name.startswith("head_") or layer.name == LOGITS)
    ]


def _sub(seed, offset):
    return None if seed is None else int(seed) + offset
