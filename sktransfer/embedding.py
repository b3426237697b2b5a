"""Deprecated (sktransfer 0.1.0's module): import from :mod:`sktransfer.estimators` instead."""

import warnings

from .estimators import PretrainedEmbedder

__all__ = ["PretrainedEmbedder"]

warnings.warn(
    "sktransfer.embedding is deprecated and will be removed; import from sktransfer.estimators instead.",
    FutureWarning,
    stacklevel=2,
)
