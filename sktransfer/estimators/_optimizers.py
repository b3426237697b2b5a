"""Optimizers by name or instance, and a lower learning rate for the backbone.

Default learning rates (used when ``learning_rate=None``)
---------------------------------------------------------
======================  =======  =====================================================
name                    rate     why
======================  =======  =====================================================
sgd                     0.01     Keras' default
rmsprop, adam, nadam,   0.001    Keras' defaults
adamw, adamax
adagrad                 0.01     Duchi et al.; Keras' 0.001 barely moves in a few epochs
adadelta                1.0      Zeiler's paper and Keras 2; Keras 3's 0.001 does not
                                 train in the few epochs assignments use
======================  =======  =====================================================

:class:`~sktransfer.FineTunedClassifier` replaces Adam's 0.001 by 0.003 (its
``learning_rate`` parameter says why); :class:`~sktransfer.SimpleCNNClassifier`
and :func:`make_optimizer` keep this table.

``backbone_lr_scale`` multiplies the rate for the trainable backbone layers only
(the head keeps the full rate). Keras has no per-variable learning rate, and
scaling gradients is not equivalent for adaptive optimizers (Adam's update is
invariant to gradient scale), so a two-rate trainer
(:mod:`sktransfer._engine.two_rate`) runs a second
optimizer of the same kind for the backbone variables.
"""

import numbers

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["OPTIMIZERS", "make_optimizer"]

OPTIMIZERS = {
    "sgd": ("SGD", 0.01),
    "rmsprop": ("RMSprop", 0.001),
    "adam": ("Adam", 0.001),
    "adamw": ("AdamW", 0.001),
    "nadam": ("Nadam", 0.001),
    "adamax": ("Adamax", 0.001),
    "adagrad": ("Adagrad", 0.01),
    "adadelta": ("Adadelta", 1.0),
}


def make_optimizer(optimizer="adam", learning_rate=None, scale=1.0):
    """Return a *new* Keras optimizer.

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer
        A name from :data:`OPTIMIZERS` (case-insensitive) or an instance, which
        is cloned through its config so that every fit starts fresh.
    learning_rate : float or None
        Overrides the name's default (or the instance's rate) when given.
    scale : float, default=1.0
        Multiplies the learning rate (used for the backbone's optimizer).

    Raises
    ------
    ValueError
        Unknown name, a non-positive rate, or a schedule combined with ``scale``.

    Examples
    --------
    >>> from sktransfer.estimators import make_optimizer
    >>> float(make_optimizer("adadelta").learning_rate)
    1.0
    """
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(
                f"Unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)} "
                "or pass a keras.optimizers.Optimizer instance."
            )
        cls_name, default_rate = OPTIMIZERS[key]
        config = {"learning_rate": default_rate}
        cls = getattr(keras.optimizers, cls_name)
    elif isinstance(optimizer, keras.optimizers.Optimizer):
        cls = type(optimizer)
        config = optimizer.get_config()
    else:
        raise TypeError(
            "optimizer must be a name such as 'adam' or a keras.optimizers.Optimizer "
            f"instance, got {optimizer!r}."
        )
    if learning_rate is not None:
        if (
            not isinstance(learning_rate, numbers.Real)
            or isinstance(learning_rate, bool)
            or not learning_rate > 0
        ):
            raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}.")
        config["learning_rate"] = float(learning_rate)
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not scale > 0:
        raise ValueError(f"backbone_lr_scale must be a positive number, got {scale!r}.")
    if scale != 1.0:
        rate = config["learning_rate"]
        if not isinstance(rate, numbers.Real):
            raise ValueError(
                "backbone_lr_scale cannot scale a learning-rate schedule; pass a float "
                "learning_rate or backbone_lr_scale=1.0."
            )
        config["learning_rate"] = float(rate) * scale
    return cls.from_config(config)
