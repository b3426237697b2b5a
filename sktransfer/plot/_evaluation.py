"""Confusion matrix, ROC and precision-recall curves of a fitted classifier.

Thin layers over scikit-learn's ``ConfusionMatrixDisplay``, ``RocCurveDisplay``
and ``PrecisionRecallDisplay`` that add one-vs-rest curves for more than two
classes; public through :mod:`sktransfer.plot`.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay
from sklearn.utils.validation import column_or_1d

from .._utils.estimators import final_estimator
from .._utils.jsonable import to_python
from ..metrics import predict_scores

__all__ = ["plot_confusion_matrix", "plot_one_vs_rest", "plot_precision_recall", "plot_roc"]


def plot_confusion_matrix(
    estimator=None, X=None, y=None, *, y_pred=None, y_true=None, normalize=None, labels=None, ax=None
):
    """Confusion matrix of a fitted classifier on (X, y), or of given predictions.

    Parameters
    ----------
    estimator : fitted classifier, default=None
        Predicts `X` (``predict``); give either this with `X` and `y`, or
        `y_true` (or `y`) and `y_pred`.
    X, y : array-like, default=None
        Input and true labels.
    y_pred, y_true : array-like, default=None
        Predicted and true labels, instead of an estimator.
    normalize : {None, "true", "pred", "all"}, default=None
        None shows counts; "true" divides each row by its true-class count
        (the diagonal is then each class's sensitivity), "pred" each column
        by its predicted count (the diagonal is precision), "all" by n.
    labels : array-like, default=None
        Class order; the estimator's ``classes_`` or the sorted labels.
    ax : matplotlib Axes, default=None

    Returns
    -------
    display : sklearn.metrics.ConfusionMatrixDisplay
        ``display.confusion_matrix``, ``display.ax_``, ``display.figure_``;
        rows are true labels, columns predicted labels.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> disp = plot_confusion_matrix(y_true=["a", "b", "b"], y_pred=["a", "b", "a"])
    >>> disp.confusion_matrix.tolist(), disp.ax_.get_title()
    ([[1, 0], [1, 1]], 'Confusion matrix (counts)')
    """
    if estimator is not None:
        if X is None or y is None or y_pred is not None:
            raise ValueError("With an estimator pass X and y (and no y_pred).")
        y_true, y_pred = y, estimator.predict(X)
        if labels is None:
            labels = getattr(estimator, "classes_", None)
    else:
        y_true = y if y_true is None else y_true
        if y_true is None or y_pred is None:
            raise ValueError("Pass estimator, X, y or y_true=..., y_pred=...")
    # Two short lines: a long title runs into the colour bar of a narrow panel.
    titles = {
        None: " (counts)",
        "true": " normalised\nby true label (rows sum to 1)",
        "pred": " normalised\nby predicted label (columns sum to 1)",
        "all": " normalised\nover all samples",
    }
    if normalize not in titles:
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}.")
    display = ConfusionMatrixDisplay.from_predictions(
        y_true,
        y_pred,
        labels=labels,
        normalize=normalize,
        cmap="Blues",
        ax=ax,
        values_format="d" if normalize is None else ".2f",
    )
    display.ax_.set_title(f"Confusion matrix{titles[normalize]}", fontsize=10)
    ticks = display.ax_.get_xticklabels()
    if sum(len(t.get_text()) for t in ticks) > 6 * len(ticks):  # long names: slanted apart
        plt.setp(ticks, rotation=30, ha="right", rotation_mode="anchor")
    return display


def plot_one_vs_rest(estimator=None, X=None, y=None, *, y_pred=None, y_true=None, labels=None, fig=None):
    """One 2 x 2 confusion matrix per class: that class against all the others.

    The counts are scikit-learn's ``multilabel_confusion_matrix`` (those of
    ``multiclass_summary(...)["one_vs_rest_confusion"]``), drawn with the
    class as the positive label: rows true ("class", "rest"), columns
    predicted, so the top-left cell is the class's true positives.

    Parameters
    ----------
    estimator, X, y, y_pred, y_true, labels
        As for :func:`plot_confusion_matrix`.
    fig : matplotlib Figure, default=None

    Returns
    -------
    fig : matplotlib Figure
        One axes per class, in `labels` order, titled with the class,
        its sensitivity and its precision.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = plot_one_vs_rest(y_true=["a", "b", "c", "c"], y_pred=["a", "c", "c", "c"])
    >>> [ax.get_title().split("\\n")[0] for ax in fig.axes[:3]]
    ['a vs rest', 'b vs rest', 'c vs rest']
    """
    from sklearn.metrics import multilabel_confusion_matrix

    if estimator is not None:
        if X is None or y is None or y_pred is not None:
            raise ValueError("With an estimator pass X and y (and no y_pred).")
        y_true, y_pred = y, estimator.predict(X)
        if labels is None:
            labels = getattr(estimator, "classes_", None)
    else:
        y_true = y if y_true is None else y_true
        if y_true is None or y_pred is None:
            raise ValueError("Pass estimator, X, y or y_true=..., y_pred=...")
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    labels = np.unique(np.r_[y_true, y_pred]) if labels is None else np.asarray(labels)
    matrices = multilabel_confusion_matrix(y_true, y_pred, labels=labels)  # [[TN, FP], [FN, TP]]
    k = len(labels)
    cols = min(k, 4)
    rows = -(-k // cols)
    if fig is None:
        fig = plt.figure(figsize=(2.9 * cols, 2.9 * rows + 0.3), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, label, m in zip(axes, labels, matrices):
        tn, fp, fn, tp = (int(v) for v in m.ravel())
        table = np.array([[tp, fn], [fp, tn]])  # the class first: TP top left
        ax.imshow(table, cmap="Blues", vmin=0, vmax=max(int(table.max()), 1))
        for (i, j), v in np.ndenumerate(table):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > table.max() / 2 else "black")
        name = str(to_python(label))
        ax.set_xticks([0, 1], [name if len(name) <= 10 else "class", "rest"])
        ax.set_yticks([0, 1], [name if len(name) <= 10 else "class", "rest"])
        sensitivity = tp / (tp + fn) if tp + fn else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        ax.set_title(f"{name} vs rest\nsensitivity {sensitivity:.2f}, precision {precision:.2f}", fontsize=9)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
    for ax in axes[k:]:
        ax.set_visible(False)
    return fig


def estimator_name(estimator):
    """The class name of the estimator that predicts (a Pipeline's last step, a search's best)."""
    return type(final_estimator(estimator)).__name__


def _curve_scores(estimator, X, y, what):
    """(classes, scores): (n,) score of classes_[1] for two classes, else (n, K)."""
    classes, kind, scores = predict_scores(estimator, X)
    if kind == "label":
        raise TypeError(
            f"{what} needs scores: {estimator_name(estimator)} has neither "
            "predict_proba nor decision_function."
        )
    if len(classes) == 2:
        return classes, scores[:, 1] if kind == "proba" else scores.ravel()
    if scores.shape != (len(y), len(classes)):
        raise ValueError(
            f"Expected one score per class, got shape {scores.shape}; use "
            "decision_function_shape='ovr' or probabilities."
        )
    return classes, scores


def _curves(display_cls, area, estimator, X, y, name, ax, what):
    y = column_or_1d(y)
    classes, scores = _curve_scores(estimator, X, y, what)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    name = name or estimator_name(estimator)
    if len(classes) == 2:
        pos = to_python(classes[1])
        display = display_cls.from_predictions(
            y, scores, pos_label=pos, name=name, ax=ax, plot_chance_level=True
        )
        ax.set_title(f"{what} (positive class: {pos!r})")
        return display
    present = [i for i, c in enumerate(classes) if 0 < np.sum(y == c) < len(y)]
    displays = [
        display_cls.from_predictions(
            y == classes[i],
            scores[:, i],
            pos_label=True,
            name=f"{to_python(classes[i])} vs rest",
            ax=ax,
            plot_chance_level=display_cls is RocCurveDisplay and i == present[-1],
        )
        for i in present
    ]
    macro = np.mean([getattr(d, area) for d in displays])
    short = "AUC" if area == "roc_auc" else "AP"
    if area == "roc_auc":  # sklearn's labels would say "(Positive label: True)"
        ax.set(xlabel="False positive rate (1 - specificity)", ylabel="True positive rate (sensitivity)")
    else:
        ax.set(xlabel="Recall (sensitivity)", ylabel="Precision")
    ax.set_title(f"{what}, one-vs-rest (macro {short} = {macro:.2f})")
    return displays


def plot_roc(estimator, X, y, *, name=None, ax=None):
    """ROC curve(s) of a fitted classifier, with the AUC in the legend.

    Two classes: one curve for the positive class ``classes_[1]`` (scores:
    ``predict_proba[:, 1]`` or ``decision_function``). More classes: one
    one-vs-rest curve per class, the macro-average AUC in the title (mean of
    the per-class AUCs, as ``roc_auc_score(y, proba, multi_class="ovr")``);
    classes absent from `y` are left out.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` or ``decision_function``.
    X, y : array-like
        Input and true labels.
    name : str, default=None
        Legend name; None uses the estimator's class name.
    ax : matplotlib Axes, default=None

    Returns
    -------
    display : RocCurveDisplay, or list of RocCurveDisplay (one per class)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(random_state=0)
    >>> disp = plot_roc(LogisticRegression().fit(X, y), X, y)
    >>> disp.line_.get_label()
    'LogisticRegression (AUC = 0.99)'
    """
    return _curves(RocCurveDisplay, "roc_auc", estimator, X, y, name, ax, "ROC curve")


def plot_precision_recall(estimator, X, y, *, name=None, ax=None):
    """Precision-recall curve(s), with the average precision (AP) in the legend.

    Like :func:`plot_roc`: one curve for ``classes_[1]`` (with the chance
    level, the positive rate) for two classes, else one-vs-rest curves and
    the macro-average AP in the title.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` or ``decision_function``.
    X, y : array-like
        Input and true labels.
    name : str, default=None
        Legend name; None uses the estimator's class name.
    ax : matplotlib Axes, default=None

    Returns
    -------
    display : PrecisionRecallDisplay, or list of PrecisionRecallDisplay

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(random_state=0)
    >>> disp = plot_precision_recall(LogisticRegression().fit(X, y), X, y)
    >>> round(disp.average_precision, 2)
    0.99
    """
    return _curves(
        PrecisionRecallDisplay, "average_precision", estimator, X, y, name, ax, "Precision-recall curve"
    )
