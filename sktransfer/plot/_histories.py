"""Learning curves of every candidate of a search.

The histories come from a :class:`~sktransfer.model_selection.HistoryRecorder`.

Public through :mod:`sktransfer.plot`; no TensorFlow is imported here.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_search_histories"]


def _label(candidate, varying):
    parts = [f"{name.rsplit('__', 1)[-1]}={candidate[name]!r}" for name in varying]
    return ", ".join(parts) or "candidate"


def _padded(curves):
    """Curves of unequal length (early stopping) as rows of one array, NaN-padded."""
    longest = max(len(c) for c in curves)
    return np.array([list(c) + [np.nan] * (longest - len(c)) for c in curves], dtype=float)


def plot_search_histories(search, recorder, *, metric="val_loss", ax=None):
    """One learning curve per candidate of a search: the mean over its CV folds.

    Each fold's curve is drawn thin behind its candidate's mean. Epochs of
    the head-only first stage of a two-stage fit (``head_epochs``,
    ``history_["stage"] == 1``) are shaded.

    Parameters
    ----------
    search : fitted GridSearchCV or RandomizedSearchCV
        Fitted with ``recorder`` in its sktransfer classifier's ``callbacks``.
    recorder : HistoryRecorder
        See :class:`sktransfer.model_selection.HistoryRecorder`.
    metric : str, default="val_loss"
        A key of ``history_``: ``"loss"``, ``"accuracy"``, ``"val_loss"`` or
        ``"val_accuracy"`` (the ``val_`` ones need a validation set: the
        estimator's ``validation``, ``validation_fraction`` or ``X_val``).
    ax : matplotlib Axes, default=None
        Axes to draw into; None creates a figure.

    Returns
    -------
    fig : matplotlib Figure
        One line per candidate, labelled with the parameters that vary.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from types import SimpleNamespace
    >>> from sktransfer.model_selection import HistoryRecorder, FitHistory
    >>> recorder = HistoryRecorder()
    >>> recorder.records = [FitHistory("FineTunedClassifier", {"learning_rate": lr},
    ...                                {"loss": [1.0, 0.5 + lr]}) for lr in (0.1, 0.1, 0.2, 0.2)]
    >>> search = SimpleNamespace(n_splits_=2, cv_results_={"params": [
    ...     {"learning_rate": 0.1}, {"learning_rate": 0.2}]})
    >>> fig = plot_search_histories(search, recorder, metric="loss")
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['learning_rate=0.1', 'learning_rate=0.2']
    """
    histories = recorder.search_histories(search)
    candidates = search.cv_results_["params"]
    names = sorted({name for c in candidates for name in c})
    varying = [n for n in names if len({repr(c.get(n)) for c in candidates}) > 1]
    missing = [sorted(h) for folds in histories for h in folds if metric not in h]
    if missing:
        raise ValueError(
            f"metric={metric!r} is not in the recorded histories (keys: "
            f"{missing[0]}); 'val_' curves need a validation set."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    head_epochs = 0
    for candidate, folds, color in zip(candidates, histories, _colors(len(candidates))):
        if not folds:
            continue
        curves = _padded([h[metric] for h in folds])
        epochs = np.arange(1, curves.shape[1] + 1)
        for curve in curves:
            ax.plot(epochs, curve, color=color, alpha=0.25, lw=0.8)
        ax.plot(
            epochs,
            np.nanmean(curves, axis=0),
            color=color,
            lw=2,
            marker="o" if len(epochs) <= 30 else None,
            ms=3,
            label=_label(candidate, varying),
        )
        head_epochs = max([head_epochs] + [h.get("stage", []).count(1) for h in folds])
    if head_epochs:
        ax.axvspan(0.5, head_epochs + 0.5, color="0.9", zorder=0, label="head-only stage")
    ax.set(
        xlabel="epoch",
        ylabel=metric,
        title=f"{metric} per epoch: mean of {search.n_splits_} CV folds (thin: each fold)",
    )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return ax.figure


def _colors(n):
    cmap = plt.get_cmap("tab10" if n <= 10 else "viridis")
    return [cmap(i if n <= 10 else i / max(n - 1, 1)) for i in range(n)]
