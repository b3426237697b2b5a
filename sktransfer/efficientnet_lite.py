"""Deprecated (sktransfer 0.1.0's module): import from :mod:`sktransfer.backbones.efficientnet_lite`."""

import warnings

from .backbones.efficientnet_lite import (
    EfficientNetLite0,
    imagenet_weights_path,
    preprocess_input,
    read_legacy_torch_state_dict,
)

__all__ = ["EfficientNetLite0", "imagenet_weights_path", "preprocess_input", "read_legacy_torch_state_dict"]

warnings.warn(
    "sktransfer.efficientnet_lite is deprecated and will be removed; import from "
    "sktransfer.backbones.efficientnet_lite instead.",
    FutureWarning,
    stacklevel=2,
)
