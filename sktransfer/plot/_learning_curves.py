"""Learning curves from ``history_`` and their diagnosis (see :mod:`sktransfer.plot`)."""

from collections.abc import Mapping
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .._utils.estimators import flat_parts

__all__ = ["LearningCurveDiagnosis", "diagnose_learning_curves", "plot_learning_curves"]


# -- learning curves ------------------------------------------------------------
def _history(obj):
    """The per-epoch dict of a history, an estimator, a Pipeline or a search."""
    if isinstance(obj, Mapping):
        history = obj
    elif isinstance(getattr(obj, "history_", None), Mapping):
        history = obj.history_
    elif isinstance(getattr(obj, "history", None), Mapping):  # keras.callbacks.History
        history = obj.history
    elif hasattr(obj, "best_estimator_") or hasattr(obj, "steps"):
        steps = [s for s in flat_parts(obj) if isinstance(getattr(s, "history_", None), Mapping)]
        if not steps:
            raise TypeError("No step of this Pipeline or search has a history_: is it fitted?")
        return _history(steps[-1])
    else:
        raise TypeError(
            f"Expected a history dict or a fitted estimator with history_, got "
            f"{type(obj).__name__}; fit the estimator first."
        )
    history = {k: [float(v) for v in vals] for k, vals in history.items()}
    if not history.get("loss"):
        raise ValueError(f"The history has no 'loss' values; keys: {sorted(history)}.")
    return history


def plot_learning_curves(history_or_estimator, *, fig=None):
    """Loss and accuracy per epoch, training and validation.

    Parameters
    ----------
    history_or_estimator : dict or fitted estimator
        A ``history_`` dict (keys ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``: lists with one value per epoch), a fitted sktransfer
        classifier, a Pipeline containing one, a fitted search (its
        ``best_estimator_``) or a Keras ``History``.
    fig : matplotlib Figure, default=None
        Figure to draw into (two panels are added); None creates one.

    Returns
    -------
    fig : matplotlib Figure
        Two axes, "loss" and "accuracy", x = epoch 1..n, lines "train" and
        (when recorded) "validation".

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> history = {"loss": [0.9, 0.5, 0.4], "accuracy": [0.6, 0.8, 0.85],
    ...            "val_loss": [0.8, 0.6, 0.55], "val_accuracy": [0.6, 0.75, 0.8]}
    >>> fig = plot_learning_curves(history)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['loss', 'accuracy']
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['train', 'validation']
    """
    history = _history(history_or_estimator)
    if fig is None:
        fig = plt.figure(figsize=(10, 4), layout="constrained")
    for ax, key in zip(fig.subplots(1, 2), ("loss", "accuracy")):
        curves = (("train", history.get(key)), ("validation", history.get("val_" + key)))
        for name, values in curves:
            if values:
                marker = "o" if len(values) <= 30 else None
                ax.plot(np.arange(1, len(values) + 1), values, marker=marker, ms=4, label=name)
        if ax.lines:
            ax.legend()
        else:
            ax.text(0.5, 0.5, f"no {key} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set(xlabel="epoch", ylabel=key, title=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return fig


@dataclass
class LearningCurveDiagnosis:
    """Result of :func:`diagnose_learning_curves`.

    Attributes
    ----------
    verdict : {"over-fitted", "under-fitted", "well trained", "not enough information", \
"diverged"}
    reasons : list of str
        The rules that decided, in plain words with their numbers.
    numbers : dict
        The figures the rules used (final losses and accuracies, best
        validation epoch, rises, gaps), as plain floats (None when unknown).
    """

    verdict: str
    reasons: list = field(default_factory=list)
    numbers: dict = field(default_factory=dict)

    def __str__(self):
        return f"{self.verdict}: " + "; ".join(self.reasons)


def diagnose_learning_curves(
    history_or_estimator,
    *,
    min_epochs=3,
    min_train_accuracy=0.8,
    max_accuracy_gap=0.1,
    max_val_loss_rise=0.1,
    overfit_patience=2,
    recent_epochs=3,
    max_recent_loss_drop=0.2,
    min_recent_loss_drop_abs=0.05,
):
    """Say whether learning curves look over-fitted, under-fitted or well trained.

    Simple, documented rules on the curves' last values, checked in this
    order (the first verdict that applies wins; every rule that fired is
    listed in ``reasons``):

    0. A train or validation loss that is NaN or infinite: "diverged" (the
       other rules compare numbers that no longer mean anything).
    1. Fewer than `min_epochs` epochs: "not enough information".
    2. Final train accuracy < `min_train_accuracy`: "under-fitted" (the model
       does not even fit its training data).
    3. With validation curves, "over-fitted" if either

       a. the lowest validation loss came at least `overfit_patience` epochs
          before the last one, the final validation loss exceeds it by more
          than `max_val_loss_rise` (relative), and the train loss is lower
          than at that epoch (train keeps improving, validation got worse); or
       b. final train accuracy - final validation accuracy > `max_accuracy_gap`.

    4. Train loss fell by more than `max_recent_loss_drop` (relative) *and*
       by more than `min_recent_loss_drop_abs` (absolute, in loss units) over
       the last `recent_epochs` epochs: "under-fitted" (still learning fast:
       train longer or with a higher learning rate). The absolute floor keeps
       a loss creeping from 0.05 to 0.03, i.e. a converged model, out of it.
    5. Otherwise "well trained" with validation curves, and "not enough
       information" without them (over-fitting cannot be seen without them:
       set ``validation_fraction``).

    Accuracy rules are skipped when the history has no accuracy. With
    ``early_stopping`` the weights are those of the best validation epoch,
    so an "over-fitted" curve then means that training ran past the best
    epoch, not that the returned model is over-fitted.

    Parameters
    ----------
    history_or_estimator : dict or fitted estimator
        As for :func:`plot_learning_curves`.
    min_epochs : int, default=3
    min_train_accuracy : float, default=0.8
    max_accuracy_gap : float, default=0.1
    max_val_loss_rise : float, default=0.1
    overfit_patience : int, default=2
    recent_epochs : int, default=3
    max_recent_loss_drop : float, default=0.2
    min_recent_loss_drop_abs : float, default=0.05
        The thresholds of the rules above.

    Returns
    -------
    diagnosis : LearningCurveDiagnosis
        ``verdict``, ``reasons`` and ``numbers``.

    Examples
    --------
    >>> history = {"loss": [0.7, 0.4, 0.3, 0.2, 0.1, 0.05],
    ...            "accuracy": [0.6, 0.85, 0.9, 0.95, 0.98, 1.0],
    ...            "val_loss": [0.6, 0.45, 0.4, 0.5, 0.6, 0.7],
    ...            "val_accuracy": [0.65, 0.8, 0.85, 0.84, 0.83, 0.82]}
    >>> d = diagnose_learning_curves(history)
    >>> d.verdict
    'over-fitted'
    >>> d.numbers["best_val_loss_epoch"]
    3
    """
    h = _history(history_or_estimator)
    loss = np.asarray(h["loss"])
    acc, val_loss, val_acc = (
        np.asarray(h[k]) if h.get(k) else None for k in ("accuracy", "val_loss", "val_accuracy")
    )
    n = len(loss)
    r = max(1, min(recent_epochs, n - 1))
    before = loss[-1 - r] if n > 1 else loss[-1]
    nums = {
        "n_epochs": n,
        "final_train_loss": float(loss[-1]),
        "final_train_accuracy": None if acc is None else float(acc[-1]),
        "recent_train_loss_drop": float((before - loss[-1]) / before) if before > 0 else 0.0,
        "best_val_loss": None,
        "best_val_loss_epoch": None,
        "final_val_loss": None,
        "val_loss_rise": None,
        "final_val_accuracy": None,
        "accuracy_gap": None,
    }
    bad = [
        f"{name} is {'NaN' if np.isnan(curve).any() else 'infinite'} from epoch "
        f"{int(np.flatnonzero(~np.isfinite(curve))[0]) + 1}"
        for name, curve in (("train loss", loss), ("validation loss", val_loss))
        if curve is not None and not np.isfinite(curve).all()
    ]
    if bad:
        return LearningCurveDiagnosis("diverged", bad + ["training diverged: lower the learning rate"], nums)
    if n < min_epochs:
        return LearningCurveDiagnosis(
            "not enough information", [f"only {n} epoch(s); need at least {min_epochs}"], nums
        )
    under, over = [], []
    if acc is not None and acc[-1] < min_train_accuracy:
        under.append(
            f"train accuracy is only {acc[-1]:.2f} (below {min_train_accuracy:g}): "
            "under-fitted, the model does not even fit its training images (train "
            "more layers, for longer, or at a higher learning rate)"
        )
    if val_loss is not None:
        best = int(np.argmin(val_loss))
        low = val_loss[best]
        rise = float((val_loss[-1] - low) / abs(low)) if low else 0.0
        nums.update(
            best_val_loss=float(val_loss[best]),
            best_val_loss_epoch=best + 1,
            final_val_loss=float(val_loss[-1]),
            val_loss_rise=rise,
        )
        if (
            best + 1 <= len(val_loss) - overfit_patience
            and rise > max_val_loss_rise
            and best < n
            and loss[-1] < loss[best]
        ):  # best < n: val may be longer
            over.append(
                f"validation loss was lowest at epoch {best + 1} of {len(val_loss)}, "
                f"then rose {rise:.0%} while the train loss kept falling: over-fitted "
                f"after epoch {best + 1}"
            )
    if val_acc is not None:
        nums["final_val_accuracy"] = float(val_acc[-1])
        if acc is not None:
            gap = float(acc[-1] - val_acc[-1])
            nums["accuracy_gap"] = gap
            if gap > max_accuracy_gap:
                over.append(
                    f"validation accuracy is {gap:.2f} below training ({val_acc[-1]:.2f} "
                    f"vs {acc[-1]:.2f}): over-fitted, the model does better on the "
                    "images it learnt from than on new ones"
                )
    still = []
    if nums["recent_train_loss_drop"] > max_recent_loss_drop and before - loss[-1] > min_recent_loss_drop_abs:
        still.append(
            f"train loss still fell {nums['recent_train_loss_drop']:.0%} over the last "
            f"{r} epochs: under-fitted, the model is still learning (train for more "
            "epochs)"
        )
    if under:
        return LearningCurveDiagnosis("under-fitted", under + over + still, nums)
    if over:
        return LearningCurveDiagnosis("over-fitted", over, nums)
    if still:
        return LearningCurveDiagnosis("under-fitted", still, nums)
    if val_loss is None:
        return LearningCurveDiagnosis(
            "not enough information",
            ["no validation curves, so over-fitting cannot be judged: set validation_fraction"],
            nums,
        )
    best, rise = nums["best_val_loss_epoch"], nums["val_loss_rise"]
    reasons = [
        f"validation loss was lowest at the last epoch ({n})"
        if best == n
        else f"validation loss was lowest at epoch {best} of {n} and ends only {rise:.0%} above that"
    ]
    gap = nums["accuracy_gap"]
    if gap is not None:
        reasons.append(
            f"validation accuracy is {gap:.2f} below training"
            if gap > 0.005
            else f"validation accuracy is {-gap:.2f} above training"
            if gap < -0.005
            else "validation and training accuracy are equal"
        )
    drop = nums["recent_train_loss_drop"]
    if drop <= max_recent_loss_drop:
        reasons.append(f"train loss has levelled off: it fell only {drop:.0%} over the last {r} epochs")
    else:  # a large share of a small loss: converged
        reasons.append(
            f"train loss has converged: already low ({loss[-1]:.3g}), it fell only "
            f"{before - loss[-1]:.3g} over the last {r} epochs"
        )
    return LearningCurveDiagnosis("well trained", reasons, nums)
