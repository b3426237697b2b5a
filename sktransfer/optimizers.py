"""Deprecated (sktransfer 0.1.0's module): import from :mod:`sktransfer.estimators` instead."""

import warnings

from ._engine.two_rate import BackboneRateFollowsHead, TwoRateTrainer
from .estimators import OPTIMIZERS, make_optimizer

__all__ = ["OPTIMIZERS", "BackboneRateFollowsHead", "TwoRateTrainer", "make_optimizer"]

warnings.warn(
    "sktransfer.optimizers is deprecated and will be removed; import from sktransfer.estimators instead.",
    FutureWarning,
    stacklevel=2,
)
