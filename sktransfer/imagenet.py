"""Deprecated (sktransfer 0.1.0's module): import from :mod:`sktransfer.estimators` instead."""

import warnings

from .estimators import PretrainedImageNetClassifier, imagenet_class_names

__all__ = ["PretrainedImageNetClassifier", "imagenet_class_names"]

warnings.warn(
    "sktransfer.imagenet is deprecated and will be removed; import from sktransfer.estimators instead.",
    FutureWarning,
    stacklevel=2,
)
