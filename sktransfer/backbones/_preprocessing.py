"""The backbone's own input normalisation, as a layer inside the Keras model.

Raw 0..255 RGB pixels always go in, whatever the backbone: the constants of
each ``keras.applications`` ``preprocess_input`` (and a keras-hub preset's
image converter) are written as Keras ops, so the normalisation travels inside
the saved model (a Lambda layer would not load in Keras' safe mode).
"""

from numbers import Real

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["PREPROCESSING_MODES", "PREPROCESS_LAYER", "BackbonePreprocessing", "preprocessing_layer"]

#: The name of the preprocessing layer inside every model sktransfer builds.
PREPROCESS_LAYER = "preprocess"

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
PREPROCESSING_MODES = ("tf", "caffe", "torch", "efficientnet_lite", "scale_offset", "none")


@keras.saving.register_keras_serializable(package="sktransfer")
class BackbonePreprocessing(keras.layers.Layer):
    """Map raw 0..255 RGB pixels to what a backbone expects.

    Parameters
    ----------
    mode : {"tf", "caffe", "torch", "efficientnet_lite", "scale_offset", "none"}
        ``"tf"``: ``x / 127.5 - 1`` (ResNet V2, MobileNet, Inception, Xception,
        NASNet); ``"caffe"``: RGB -> BGR then subtract the ImageNet BGR mean
        (ResNet V1, VGG); ``"torch"``: ``x / 255`` then ImageNet mean / std
        (DenseNet); ``"efficientnet_lite"``: ``(x - 127) / 128``;
        ``"scale_offset"``: ``x * scale + offset`` per channel (a keras-hub
        preset's image converter; timm's ``(x / 255 - mean) / std``);
        ``"none"``: identity (the backbone normalises inside).
    scale, offset : float or sequence of 3 floats, default=None
        Only for ``"scale_offset"`` (both required there).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.backbones import BackbonePreprocessing
    >>> out = BackbonePreprocessing("tf")(np.array([[[[0.0, 127.5, 255.0]]]]))
    >>> np.asarray(out).round(3).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """

    def __init__(self, mode="tf", scale=None, offset=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(f"mode must be one of {PREPROCESSING_MODES}, got {mode!r}.")
        if (mode == "scale_offset") != (scale is not None and offset is not None):
            raise ValueError(
                "scale and offset are required with mode='scale_offset' and "
                f"only there; got mode={mode!r}, scale={scale!r}, offset={offset!r}."
            )
        self.mode = mode
        self.scale = None if scale is None else _floats(scale, "scale")
        self.offset = None if offset is None else _floats(offset, "offset")

    def call(self, inputs):
        x = keras.ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype=x.dtype)
        if self.mode == "torch":
            mean = keras.ops.convert_to_tensor(_TORCH_MEAN, dtype=x.dtype)
            std = keras.ops.convert_to_tensor(_TORCH_STD, dtype=x.dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "efficientnet_lite":
            return (x - 127.0) / 128.0
        if self.mode == "scale_offset":
            scale = keras.ops.convert_to_tensor(self.scale, dtype=x.dtype)
            offset = keras.ops.convert_to_tensor(self.offset, dtype=x.dtype)
            return x * scale + offset
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {**super().get_config(), "mode": self.mode}
        if self.mode == "scale_offset":  # older saves have no such keys
            config.update(scale=list(self.scale), offset=list(self.offset))
        return config


def _floats(values, name):
    values = [values] if isinstance(values, Real) else list(values)
    if len(values) not in (1, 3) or not all(isinstance(v, Real) for v in values):
        raise ValueError(f"{name} must be a number or 3 numbers (one per channel), got {values!r}.")
    return tuple(float(v) for v in values) * (3 if len(values) == 1 else 1)


def preprocessing_layer(spec, name=PREPROCESS_LAYER):
    """The :class:`BackbonePreprocessing` layer of a :class:`BackboneSpec`."""
    return BackbonePreprocessing(spec.preprocessing, scale=spec.scale, offset=spec.offset, name=name)
