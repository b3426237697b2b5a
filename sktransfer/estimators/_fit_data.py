"""What one fit of a classifier trains and validates on.

The validation set is, in this order of precedence (one of them at most):

1. ``fit(X, y, X_val=..., y_val=...)``: the user's own images; all of ``X``
   trains.
2. ``validation``: an int holds that many images of each class out of ``X``
   (:class:`~sktransfer.model_selection.PerClassSplit`, seeded by
   ``random_state``), a float in (0, 1) that fraction (stratified), a
   splitter (anything with ``split(X, y)``) the test part of its first split.
3. ``validation_fraction``: the fraction, as ``validation=F`` does.

``sample_weight`` weighs the training images only; :func:`loss_weights` turns
it (and the class weights) into the per-image weights Keras' ``fit`` takes.
A two-stage fit's ``history_`` joins both stages (:func:`stage_history`).
"""

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import column_or_1d
from sklearn.utils.validation import _check_sample_weight

from ..images import check_image_input, num_samples
from ..model_selection import PerClassSplit

__all__ = [
    "TrainingData",
    "check_fit_extras",
    "loss_weights",
    "stage_history",
    "training_data",
    "validation_rule",
]


@dataclass
class TrainingData:
    """One fit's training and validation parts, labels encoded as class indices.

    ``sample_weight`` weighs the training images (None: all alike);
    ``X_val`` is None when the fit has no validation set.
    """

    X: object
    y: np.ndarray
    sample_weight: object = None
    X_val: object = None
    y_val: object = None


def validation_rule(estimator):
    """``validation``, or ``validation_fraction`` when that is set instead (None: no split)."""
    rule, fraction = estimator.validation, estimator.validation_fraction
    if rule is not None and fraction:
        raise ValueError(
            f"validation={rule!r} and validation_fraction={fraction} both ask for a validation "
            "set: set only one."
        )
    return rule if rule is not None else (fraction or None)


def check_fit_extras(estimator, y, sample_weight, X_val, y_val):
    """Checked ``sample_weight`` (float array or None), ``X_val`` and ``y_val``."""
    if sample_weight is not None:
        sample_weight = _check_sample_weight(sample_weight, y, ensure_non_negative=True)
    if (X_val is None) != (y_val is None):
        raise ValueError("Pass both X_val and y_val (validation images and their labels), or neither.")
    if X_val is None:
        return sample_weight, None, None
    if validation_rule(estimator) is not None:
        raise ValueError(
            "X_val and y_val are a validation set already: leave validation_fraction=0 and "
            "validation=None, or drop X_val and y_val to hold images out of X."
        )
    X_val, y_val = check_image_input(X_val), column_or_1d(y_val, warn=True)
    if len(y_val) != num_samples(X_val):
        raise ValueError(
            f"X_val and y_val have different lengths: {num_samples(X_val)} images but {len(y_val)} labels."
        )
    return sample_weight, X_val, y_val


def training_data(estimator, X, y, encoder, sample_weight, X_val, y_val, seed):
    """The training and validation parts of a fit, labels encoded by ``encoder``."""
    y_encoded = encoder.transform(y)
    classes = encoder.classes_.tolist()
    if X_val is not None:
        unknown = sorted({v for v in y_val.tolist() if v not in classes}, key=str)
        if unknown:
            raise ValueError(f"y_val has labels that y lacks: {unknown!r}; the classes of y are {classes!r}.")
        return TrainingData(X, y_encoded, sample_weight, X_val, encoder.transform(y_val))
    rule = validation_rule(estimator)
    if rule is None:
        return TrainingData(X, y_encoded, sample_weight)
    train, val = _split(rule, X, y, y_encoded, seed, estimator)
    kept = set(y[train].tolist())
    missing = [c for c in classes if c not in kept]
    if missing:
        raise ValueError(
            f"validation={rule!r} leaves no training image of the class(es) "
            f"{missing!r}; hold out fewer images."
        )
    weights = None if sample_weight is None else sample_weight[train]
    return TrainingData(X[train], y_encoded[train], weights, X[val], y_encoded[val])


def _split(rule, X, y, y_encoded, seed, estimator):
    """Training and validation indices (see the module docstring)."""
    name = "validation" if estimator.validation is not None else "validation_fraction"
    if isinstance(rule, Integral):
        splitter = PerClassSplit(int(rule), random_state=seed)
    elif isinstance(rule, Real):
        return _fraction_split(rule, y_encoded, seed, name)
    else:
        splitter = rule
    try:
        train, val = next(iter(splitter.split(X, y)))
    except StopIteration:
        raise ValueError(f"{name}={rule!r} made no split of the {len(y)} images.") from None
    except ValueError as exc:
        raise ValueError(f"{name}={rule!r}: {exc}") from None
    return np.asarray(train), np.asarray(val)


def _fraction_split(fraction, y, seed, name):
    """Stratified when every class allows it: two images or more in each
    class, and as many images as classes in each part."""
    n_val = math.ceil(fraction * len(y))  # as train_test_split rounds
    if n_val >= len(y):
        raise ValueError(
            f"{name}={fraction} holds out all {len(y)} training images: leave some to "
            "train on, or set it to 0."
        )
    counts = np.bincount(y)
    stratified = counts.min() >= 2 and min(n_val, len(y) - n_val) >= len(counts)
    return train_test_split(
        np.arange(len(y)), test_size=fraction, random_state=seed, stratify=y if stratified else None
    )


def loss_weights(sample_weight, class_weight, y):
    """Per-image weights of the training loss (None without sample weights).

    Keras divides a batch's weighted loss by its number of images, not by its
    weights' sum: rescaling the sample weights to average 1 makes a full-batch
    loss the weighted mean, so that weight 2 counts as a duplicated image.
    """
    if sample_weight is None:
        return None
    total = float(np.sum(sample_weight))
    if not total > 0:
        raise ValueError(
            "sample_weight is 0 for every training image: there is nothing to "
            "learn from; give some images a positive weight."
        )
    weights = np.asarray(sample_weight, dtype="float64") * (len(sample_weight) / total)
    if class_weight is not None:
        weights = weights * np.array([class_weight[c] for c in y])
    return weights.astype("float32")


def stage_history(first, second):
    """The two stages' histories end to end, with ``stage`` 1 or 2 for each epoch.

    A value recorded in one stage only (a callback's ``learning_rate``) is
    NaN in the other's epochs.
    """
    n_first, n_second = len(first.get("loss", [])), len(next(iter(second.values()), []))
    history = {
        key: list(first.get(key, [math.nan] * n_first)) + list(second.get(key, [math.nan] * n_second))
        for key in {**first, **second}
    }
    history["stage"] = [1] * n_first + [2] * n_second
    return history
