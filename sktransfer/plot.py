"""Plots of training and evaluation results.

* :func:`plot_learning_curves` and :func:`diagnose_learning_curves`: loss and
  accuracy per epoch from ``history_``, and a rule-based verdict (over-fitted,
  under-fitted, well trained).
* :func:`plot_confusion_matrix`, :func:`plot_roc`, :func:`plot_precision_recall`:
  scikit-learn's ``ConfusionMatrixDisplay``, ``RocCurveDisplay`` and
  ``PrecisionRecallDisplay`` (one-vs-rest curves for more than two classes).
* :func:`worst_errors`: a gallery of the most confident mistakes, with thumbnails.
* :func:`plot_grid_search`, :func:`plot_param_comparison`, :func:`plot_by_epochs`:
  validation error of a fitted ``GridSearchCV`` by its parameters.

Every function works with any fitted scikit-learn classifier (a Pipeline, a
search); no TensorFlow is imported here. Figures are created with pyplot, so
they show in notebooks; pass ``ax=`` (or ``fig=``) to draw into your own.
"""

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay
from sklearn.utils.validation import column_or_1d

from .images import is_path_input, load_images
from .metrics import _predict_scores, _py

__all__ = [
    "LearningCurveDiagnosis",
    "WorstErrors",
    "diagnose_learning_curves",
    "plot_by_epochs",
    "plot_confusion_matrix",
    "plot_grid_search",
    "plot_learning_curves",
    "plot_param_comparison",
    "plot_precision_recall",
    "plot_roc",
    "worst_errors",
]


# -- learning curves ------------------------------------------------------------
def _history(obj):
    """The per-epoch dict of a history, an estimator, a Pipeline or a search."""
    if isinstance(obj, Mapping):
        history = obj
    elif isinstance(getattr(obj, "history_", None), Mapping):
        history = obj.history_
    elif isinstance(getattr(obj, "history", None), Mapping):  # keras.callbacks.History
        history = obj.history
    elif hasattr(obj, "best_estimator_"):
        return _history(obj.best_estimator_)
    elif hasattr(obj, "steps"):
        steps = [s for _, s in obj.steps if isinstance(getattr(s, "history_", None), Mapping)]
        if not steps:
            raise TypeError("No step of this Pipeline has a history_: is it fitted?")
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
            ax.text(0.5, 0.5, f"no {key} recorded", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set(xlabel="epoch", ylabel=key, title=key)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    return fig


@dataclass
class LearningCurveDiagnosis:
    """Result of :func:`diagnose_learning_curves`.

    Attributes
    ----------
    verdict : {"over-fitted", "under-fitted", "well trained", "not enough information"}
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
    acc, val_loss, val_acc = (np.asarray(h[k]) if h.get(k) else None
                              for k in ("accuracy", "val_loss", "val_accuracy"))
    n = len(loss)
    r = max(1, min(recent_epochs, n - 1))
    before = loss[-1 - r] if n > 1 else loss[-1]
    nums = {
        "n_epochs": n,
        "final_train_loss": float(loss[-1]),
        "final_train_accuracy": None if acc is None else float(acc[-1]),
        "recent_train_loss_drop": float((before - loss[-1]) / before) if before > 0 else 0.0,
        "best_val_loss": None, "best_val_loss_epoch": None, "final_val_loss": None,
        "val_loss_rise": None, "final_val_accuracy": None, "accuracy_gap": None,
    }
    if n < min_epochs:
        return LearningCurveDiagnosis(
            "not enough information", [f"only {n} epoch(s); need at least {min_epochs}"], nums)
    under, over = [], []
    if acc is not None and acc[-1] < min_train_accuracy:
        under.append(f"final train accuracy {acc[-1]:.2f} < {min_train_accuracy:g}: the model "
                     "does not fit its training data (train more layers, longer, or faster)")
    if val_loss is not None:
        best = int(np.argmin(val_loss))
        low = val_loss[best]
        rise = float((val_loss[-1] - low) / abs(low)) if low else 0.0
        nums.update(best_val_loss=float(val_loss[best]), best_val_loss_epoch=best + 1,
                    final_val_loss=float(val_loss[-1]), val_loss_rise=rise)
        if (best + 1 <= len(val_loss) - overfit_patience and rise > max_val_loss_rise
                and best < n and loss[-1] < loss[best]):  # best < n: val may be longer
            over.append(f"validation loss was lowest at epoch {best + 1} of {len(val_loss)} and "
                        f"then rose by {rise:.0%} (> {max_val_loss_rise:.0%}) while the train "
                        "loss kept falling")
    if val_acc is not None:
        nums["final_val_accuracy"] = float(val_acc[-1])
        if acc is not None:
            gap = float(acc[-1] - val_acc[-1])
            nums["accuracy_gap"] = gap
            if gap > max_accuracy_gap:
                over.append(f"train accuracy {acc[-1]:.2f} exceeds validation accuracy "
                            f"{val_acc[-1]:.2f} by {gap:.2f} (> {max_accuracy_gap:g})")
    still = []
    if (nums["recent_train_loss_drop"] > max_recent_loss_drop
            and before - loss[-1] > min_recent_loss_drop_abs):
        still.append(f"train loss still fell {nums['recent_train_loss_drop']:.0%} over the last "
                     f"{r} epochs (> {max_recent_loss_drop:.0%}): train for more epochs")
    if under:
        return LearningCurveDiagnosis("under-fitted", under + over + still, nums)
    if over:
        return LearningCurveDiagnosis("over-fitted", over, nums)
    if still:
        return LearningCurveDiagnosis("under-fitted", still, nums)
    if val_loss is None:
        return LearningCurveDiagnosis("not enough information", [
            "no validation curves, so over-fitting cannot be judged: set validation_fraction"],
            nums)
    reasons = [f"validation loss lowest at epoch {nums['best_val_loss_epoch']} of {n}, final "
               f"{nums['val_loss_rise']:.0%} above it"]
    if nums["accuracy_gap"] is not None:
        reasons.append(f"train-validation accuracy gap {nums['accuracy_gap']:.2f} "
                       f"<= {max_accuracy_gap:g}")
    reasons.append(f"train loss has levelled off ({nums['recent_train_loss_drop']:.0%} drop over "
                   f"the last {r} epochs)")
    return LearningCurveDiagnosis("well trained", reasons, nums)


# -- confusion matrix, ROC, precision-recall -------------------------------------
def plot_confusion_matrix(estimator=None, X=None, y=None, *, y_pred=None, y_true=None,
                          normalize=None, labels=None, ax=None):
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
    titles = {None: "counts", "true": "normalised over true labels: rows sum to 1",
              "pred": "normalised over predicted labels: columns sum to 1",
              "all": "normalised over all samples"}
    if normalize not in titles:
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}.")
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, normalize=normalize, cmap="Blues", ax=ax,
        values_format="d" if normalize is None else ".2f",
    )
    display.ax_.set_title(f"Confusion matrix ({titles[normalize]})")
    return display


def _estimator_name(estimator):
    while True:
        if hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        elif hasattr(estimator, "steps"):
            estimator = estimator.steps[-1][1]
        else:
            return type(estimator).__name__


def _curve_scores(estimator, X, y, what):
    """(classes, scores): (n,) score of classes_[1] for two classes, else (n, K)."""
    classes, kind, scores = _predict_scores(estimator, X)
    if kind == "label":
        raise TypeError(f"{what} needs scores: {_estimator_name(estimator)} has neither "
                        "predict_proba nor decision_function.")
    if len(classes) == 2:
        return classes, scores[:, 1] if kind == "proba" else scores.ravel()
    if scores.shape != (len(y), len(classes)):
        raise ValueError(f"Expected one score per class, got shape {scores.shape}; use "
                         "decision_function_shape='ovr' or probabilities.")
    return classes, scores


def _curves(display_cls, area, estimator, X, y, name, ax, what):
    y = column_or_1d(y)
    classes, scores = _curve_scores(estimator, X, y, what)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5), layout="constrained")
    name = name or _estimator_name(estimator)
    if len(classes) == 2:
        pos = _py(classes[1])
        display = display_cls.from_predictions(y, scores, pos_label=pos, name=name, ax=ax,
                                               plot_chance_level=True)
        ax.set_title(f"{what} (positive class: {pos!r})")
        return display
    present = [i for i, c in enumerate(classes) if 0 < np.sum(y == c) < len(y)]
    displays = [
        display_cls.from_predictions(y == classes[i], scores[:, i], pos_label=True,
                                     name=f"{_py(classes[i])} vs rest", ax=ax,
                                     plot_chance_level=display_cls is RocCurveDisplay
                                     and i == present[-1])
        for i in present
    ]
    macro = np.mean([getattr(d, area) for d in displays])
    short = "AUC" if area == "roc_auc" else "AP"
    if area == "roc_auc":  # sklearn's labels would say "(Positive label: True)"
        ax.set(xlabel="False positive rate (1 - specificity)",
               ylabel="True positive rate (sensitivity)")
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
    return _curves(PrecisionRecallDisplay, "average_precision", estimator, X, y, name, ax,
                   "Precision-recall curve")


# -- worst errors ---------------------------------------------------------------
@dataclass(repr=False)
class WorstErrors:
    """Result of :func:`worst_errors`.

    Attributes
    ----------
    figure : matplotlib Figure
    panels : dict
        ``{"false_positives": rows, "false_negatives": rows}`` for two
        classes, ``{"errors": rows}`` otherwise; each row is a dict
        ``{"index", "true", "predicted", "score"}`` (index into X), most
        confident first.
    score_name : str
        What ``score`` is, e.g. ``"P(dog)"``.
    """

    figure: object
    panels: dict
    score_name: str

    def indices(self, panel):
        """Indices into X of one panel's samples, most confident first."""
        return [row["index"] for row in self.panels[panel]]

    @property
    def false_positives(self):
        return self.indices("false_positives")

    @property
    def false_negatives(self):
        return self.indices("false_negatives")

    def __repr__(self):
        inside = ", ".join(f"{k}={self.indices(k)}" for k in self.panels)
        return f"WorstErrors({inside})"


def _thumbnails(X, idx, size):
    if len(idx) == 0:
        return []
    if is_path_input(X):
        paths = X.to_numpy() if hasattr(X, "to_numpy") else X
        subset = [paths[i] for i in idx]
    else:
        subset = np.asarray(X)[idx]
    return np.clip(load_images(subset, size), 0, 255).astype(np.uint8)


def worst_errors(estimator, X, y, *, k=5, threshold=None, size=96, fig=None):
    """Show the k most confident mistakes of a classifier, as thumbnails.

    Two classes (positive = ``classes_[1]``, score = ``predict_proba[:, 1]``
    or ``decision_function``, predicted positive when ``score >= threshold``):
    the k false positives with the highest scores and the k false negatives
    with the lowest scores. More classes: the k wrong predictions whose
    predicted class has the highest probability (or score). Each thumbnail is
    titled with the true label, the predicted label and the score.

    Parameters
    ----------
    estimator : fitted classifier
        With ``predict_proba`` or ``decision_function``; e.g.
        ``make_pipeline(FineTunedClassifier(...), SVC(probability=True))``.
    X : array-like of shape (n, h, w, c) or list of paths
        Images (0..255) or image files, as sktransfer's estimators take them.
    y : array-like of shape (n,)
        True labels.
    k : int, default=5
        Thumbnails per panel (fewer when there are fewer such errors).
    threshold : float, default=None
        Two classes only; None is 0.5 for probabilities, 0 for decision scores.
    size : int, default=96
        Thumbnail size in pixels.
    fig : matplotlib Figure, default=None
        Figure to draw into; None creates one.

    Returns
    -------
    result : WorstErrors
        ``result.figure``, ``result.panels`` (rows with index, labels, score),
        ``result.false_positives`` / ``result.false_negatives`` (indices).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 256, (40, 8, 8, 3)).astype(np.uint8)  # 40 tiny images
    >>> y = np.where(X[..., 0].mean(axis=(1, 2)) > 127, "red", "other")
    >>> flatten = FunctionTransformer(lambda a: a.reshape(len(a), -1) / 255)
    >>> clf = make_pipeline(flatten, LogisticRegression(C=0.01)).fit(X, y)
    >>> result = worst_errors(clf, X, y, k=3)
    >>> sorted(result.panels), result.score_name
    (['false_negatives', 'false_positives'], 'P(red)')
    """
    y = column_or_1d(y)
    classes, kind, scores = _predict_scores(estimator, X)
    if kind == "label":
        raise TypeError(f"worst_errors ranks errors by confidence, but {_estimator_name(estimator)}"
                        " has neither predict_proba nor decision_function.")
    unknown = set(np.unique(y).tolist()) - set(classes.tolist())
    if unknown:
        raise ValueError(f"y has labels the estimator does not know: {sorted(map(str, unknown))}.")
    if len(classes) == 2:
        neg, pos = _py(classes[0]), _py(classes[1])
        score = scores[:, 1] if kind == "proba" else scores.ravel()
        thr = (0.5 if kind == "proba" else 0.0) if threshold is None else float(threshold)
        pred = np.where(score >= thr, pos, neg).astype(object)
        is_pos = y == classes[1]
        fp = np.flatnonzero(~is_pos & (score >= thr))
        fn = np.flatnonzero(is_pos & (score < thr))
        chosen = {"false_positives": fp[np.argsort(-score[fp], kind="stable")][:k],
                  "false_negatives": fn[np.argsort(score[fn], kind="stable")][:k]}
        score_name = f"P({pos})" if kind == "proba" else "decision"
        titles = {
            "false_positives": f"Most confident false positives (true {neg}, predicted {pos})",
            "false_negatives": f"Most confident false negatives (true {pos}, predicted {neg})",
        }
    else:
        if threshold is not None:
            raise ValueError("threshold applies to two classes only.")
        if scores.shape != (len(y), len(classes)):
            raise ValueError(f"Expected one score per class, got shape {scores.shape}; use "
                             "decision_function_shape='ovr' or probabilities.")
        best = np.argmax(scores, axis=1)
        pred, score = classes[best].astype(object), scores[np.arange(len(y)), best]
        wrong = np.flatnonzero(pred != y)
        chosen = {"errors": wrong[np.argsort(-score[wrong], kind="stable")][:k]}
        score_name = "P(predicted)" if kind == "proba" else "score"
        titles = {"errors": "Most confident wrong predictions"}
    panels = {
        name: [{"index": int(i), "true": _py(y[i]), "predicted": _py(pred[i]),
                "score": float(score[i])} for i in idx]
        for name, idx in chosen.items()
    }
    if fig is None:
        fig = plt.figure(figsize=(1.9 * k + 0.4, 2.7 * len(panels)), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(panels), 1))
    for subfig, (name, rows) in zip(subfigs, panels.items()):
        subfig.suptitle(titles[name])
        if not rows:
            ax = subfig.subplots()
            ax.axis("off")
            ax.text(0.5, 0.5, f"no {name.replace('_', ' ')}", ha="center", va="center",
                    transform=ax.transAxes)
            continue
        images = _thumbnails(X, [row["index"] for row in rows], size)
        for ax, row, image in zip(np.atleast_1d(subfig.subplots(1, k)), rows, images):
            ax.imshow(image)
            ax.set_title(f"true: {row['true']}\npred: {row['predicted']}\n"
                         f"{score_name} = {row['score']:.3f}", fontsize=9)
        for ax in subfig.axes:
            ax.axis("off")
    return WorstErrors(fig, panels, score_name)


# -- grid search ------------------------------------------------------------------
def _cv_results(search):
    if isinstance(search, Mapping):
        return search
    results = getattr(search, "cv_results_", None)
    if results is None:
        raise TypeError(f"Expected a fitted GridSearchCV / RandomizedSearchCV (or its cv_results_),"
                        f" got {type(search).__name__}.")
    return results


def _param(results, name):
    """The full parameter name in cv_results_ for `name` (suffix match)."""
    available = [k[len("param_"):] for k in results if k.startswith("param_")]
    name = name[len("param_"):] if name.startswith("param_") else name
    if name in available:
        return name
    matches = [p for p in available if p.endswith("__" + name)]
    if len(matches) == 1:
        return matches[0]
    problem = f"matches several parameters {matches}" if matches else "is not a searched parameter"
    raise ValueError(f"{name!r} {problem}; available: {available}.")


def _metric(results, search, scoring, metric):
    """(key in cv_results_, transform of a score, axis label)."""
    keys = [k[len("mean_test_"):] for k in results if k.startswith("mean_test_")]
    if scoring is None:
        refit = getattr(search, "refit", None)
        if keys == ["score"]:
            scoring = "score"
        elif isinstance(refit, str) and refit in keys:
            scoring = refit
        else:
            raise ValueError(
                f"The search recorded several metrics {keys}: choose one with scoring=."
            )
    if scoring not in keys:
        raise ValueError(f"scoring={scoring!r} is not in the search's results; available: {keys}.")
    given = getattr(search, "scoring", None)  # the scorer's name says what the score is
    if scoring == "score":
        name = given if isinstance(given, str) else "accuracy" if given is None else "score"
    else:
        name = given.get(scoring) if isinstance(given, Mapping) else None
        name = name if isinstance(name, str) else scoring
    if metric == "score":
        return scoring, (lambda s: np.asarray(s, dtype=float)), f"validation {name}"
    if metric != "error":
        raise ValueError(f"metric must be 'error' or 'score', got {metric!r}.")
    if name.startswith("neg_"):
        return scoring, (lambda s: -np.asarray(s, dtype=float)), f"validation {name[4:]}"
    return scoring, (lambda s: 1 - np.asarray(s, dtype=float)), f"validation error (1 - {name})"


def _key(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


def _best_cells(results, params, score_key):
    """{value keys: best candidate index}, and each param's ordered values.

    Candidates that share the values of `params` are reduced to the one
    with the highest mean validation score (the best over all other
    parameters); failed fits (NaN) count as worst.
    """
    columns = {}
    for p in params:
        col = results["param_" + p]
        mask = np.ma.getmaskarray(col)
        columns[p] = [None if m else _py(v) for v, m in zip(np.ma.getdata(col), mask)]
    mean = np.nan_to_num(np.asarray(results[f"mean_test_{score_key}"], dtype=float), nan=-np.inf)
    cells, order = {}, {p: {} for p in params}
    for i in range(len(mean)):
        cell = tuple(_key(columns[p][i]) for p in params)
        for p, key in zip(params, cell):
            order[p].setdefault(key, columns[p][i])
        if cell not in cells or mean[i] > mean[cells[cell]]:
            cells[cell] = i
    for p in params:
        values = order[p]
        if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values.values()):
            order[p] = dict(sorted(values.items(), key=lambda kv: kv[1]))
    return cells, order


def _splits(results, score_key, i):
    pattern = re.compile(rf"split(\d+)_test_{re.escape(score_key)}$")
    keys = sorted((int(m.group(1)), k) for k in results if (m := pattern.match(k)))
    return np.array([results[k][i] for _, k in keys], dtype=float)


def _axis(ax, values):
    """x positions: the values when numeric (log scale if they span 100x), else 0..n-1."""
    raw = list(values.values())
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in raw):
        if min(raw) > 0 and max(raw) / min(raw) >= 100:
            ax.set_xscale("log")
        return [float(v) for v in raw]
    ax.set_xticks(range(len(raw)), [str(v) for v in raw])
    return list(range(len(raw)))


def _others(results, used):
    others = [k[len("param_"):] for k in results if k.startswith("param_")
              and k[len("param_"):] not in used]
    return f"\n(best over {', '.join(others)})" if others else ""


def plot_grid_search(search, x="trainable_layers", hue="batch_size", *, metric="error",
                     scoring=None, ax=None):
    """Mean validation error of a fitted search by one parameter, a line per another.

    Parameter names can be given with or without the ``param_`` prefix and
    without Pipeline step prefixes (``"trainable_layers"`` finds
    ``"finetunedclassifier__trainable_layers"``). Candidates that differ in
    other parameters are reduced to the best one (highest mean validation
    score), so each point is "the best this (x, hue) pair can do".

    Parameters
    ----------
    search : fitted GridSearchCV / RandomizedSearchCV, or its ``cv_results_``
    x : str, default="trainable_layers"
        Parameter on the x axis (numeric values on a numeric axis).
    hue : str or None, default="batch_size"
        One line per value of this parameter; None for a single line.
    metric : {"error", "score"}, default="error"
        "error" plots 1 - mean validation score (minus the score for
        ``neg_*`` scorers such as ``neg_log_loss``); "score" the score itself.
    scoring : str, default=None
        Which metric of a multi-metric search (default: its ``refit`` metric).
    ax : matplotlib Axes, default=None

    Returns
    -------
    fig : matplotlib Figure
        One errorbar line per hue value (``ax.containers``); error bars are
        the standard deviation over the CV folds.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> X, y = make_classification(random_state=0)
    >>> grid = {"C": [0.01, 1], "fit_intercept": [True, False]}
    >>> search = GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)
    >>> fig = plot_grid_search(search, x="C", hue="fit_intercept")
    >>> len(fig.axes[0].containers)
    2
    """
    results = _cv_results(search)
    x = _param(results, x)
    params = [x] if hue is None else [x, _param(results, hue)]
    if len(set(params)) < len(params):
        raise ValueError(f"x and hue are the same parameter {x!r}.")
    key, transform, label = _metric(results, search, scoring, metric)
    cells, order = _best_cells(results, params, key)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    positions = dict(zip(order[x], _axis(ax, order[x])))
    mean, std = results[f"mean_test_{key}"], results[f"std_test_{key}"]
    for h, h_value in (order[params[1]].items() if hue else [(None, None)]):
        cell = [((xk, h) if hue else (xk,)) for xk in order[x]]
        idx = [(positions[c[0]], cells[c]) for c in cell if c in cells]
        x_values = np.array([p for p, _ in idx], dtype=float)
        ax.errorbar(x_values, transform([mean[i] for _, i in idx]),
                    yerr=[std[i] for _, i in idx], marker="o", capsize=3,
                    label=f"{params[1]}={h_value}" if hue else "validation")
    ax.set(xlabel=x, ylabel=label, title=f"{label.capitalize()} by {x}"
           + (f" and {params[1]}" if hue else "") + _others(results, params))
    ax.grid(alpha=0.3)
    if hue:
        ax.legend()
    return ax.figure


def plot_param_comparison(search, param="optimizer", *, metric="error", scoring=None,
                          kind="box", ax=None):
    """Validation error for each value of one parameter, with its spread over folds.

    For every value, the best candidate over the other parameters (highest
    mean validation score) is shown: ``kind="box"`` draws a box plot of its
    per-fold errors (``split{i}_test_score``; whiskers at the minimum and
    maximum) with the mean as a diamond; ``kind="line"`` draws the mean with
    the standard deviation over folds as error bars.

    Parameters
    ----------
    search : fitted GridSearchCV / RandomizedSearchCV, or its ``cv_results_``
    param : str, default="optimizer"
        Parameter to compare (suffix match, as in :func:`plot_grid_search`).
    metric : {"error", "score"}, default="error"
    scoring : str, default=None
        Which metric of a multi-metric search.
    kind : {"box", "line"}, default="box"
    ax : matplotlib Axes, default=None

    Returns
    -------
    fig : matplotlib Figure
        The means are the line labelled "mean".

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> X, y = make_classification(random_state=0)
    >>> search = GridSearchCV(LogisticRegression(), {"solver": ["lbfgs", "liblinear"]},
    ...                       cv=3).fit(X, y)
    >>> fig = plot_param_comparison(search, "solver")
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['lbfgs', 'liblinear']
    """
    if kind not in ("box", "line"):
        raise ValueError(f"kind must be 'box' or 'line', got {kind!r}.")
    results = _cv_results(search)
    param = _param(results, param)
    key, transform, label = _metric(results, search, scoring, metric)
    cells, order = _best_cells(results, [param], key)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 1.2 * len(order[param]) + 2), 4.5),
                             layout="constrained")
    positions = _axis(ax, order[param]) if kind == "line" else list(range(len(order[param])))
    best = [cells[(v,)] for v in order[param]]
    means = transform([results[f"mean_test_{key}"][i] for i in best])
    if kind == "box":
        folds = [transform(_splits(results, key, i)) for i in best]
        ax.boxplot(folds, positions=positions, whis=(0, 100), patch_artist=True,
                   boxprops={"facecolor": "lightsteelblue"}, medianprops={"color": "k"})
        ax.set_xticks(positions, [str(v) for v in order[param].values()])
        ax.plot(positions, means, "D", color="tab:red", label="mean")
    else:
        std = [results[f"std_test_{key}"][i] for i in best]
        ax.errorbar(np.asarray(positions, dtype=float), means, yerr=std, marker="o", capsize=3,
                    label="mean")
        raw = order[param].values()
        if ax.get_xscale() == "linear" and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in raw):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: 1, 2, 3, not 1.5
    for position, value in zip(positions, means):
        if not np.isfinite(value):
            ax.text(position, 0.5, "all fits\nfailed", ha="center", va="center", color="tab:red",
                    transform=ax.get_xaxis_transform())
    ax.set(xlabel=param, ylabel=label,
           title=f"{label.capitalize()} by {param}" + _others(results, [param]))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_by_epochs(search, param="epochs", *, metric="error", scoring=None, ax=None):
    """:func:`plot_param_comparison` as a line: mean validation error ± std by `param`.

    Returns
    -------
    fig : matplotlib Figure
    """
    return plot_param_comparison(search, param, metric=metric, scoring=scoring, kind="line", ax=ax)
