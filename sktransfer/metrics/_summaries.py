"""Binary and multiclass summaries and the best threshold (see :mod:`sktransfer.metrics`)."""

import numpy as np
from sklearn import metrics as skm
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import column_or_1d

from .._utils.jsonable import to_python
from ._table import MetricsTable

__all__ = ["best_threshold", "binary_summary", "multiclass_summary"]

_THRESHOLD_METRICS = ("f1", "accuracy", "balanced_accuracy", "youden")


def _ratio(num, den):
    return float(num) / float(den) if den else 0.0


# -- binary -------------------------------------------------------------------
def _binary_labels(y_true, pos_label):
    """(y_true as bool "is positive", pos_label, neg_label or None)."""
    y_true = column_or_1d(y_true)
    labels = np.unique(y_true)
    if len(labels) > 2:
        raise ValueError(
            f"binary_summary needs two classes, y_true has {len(labels)}: "
            f"{[to_python(c) for c in labels[:10]]!r}; use multiclass_summary instead."
        )
    if pos_label is None:
        if len(labels) == 2:
            pos_label = labels[1]
        elif labels.dtype.kind in "biuf" and set(labels.tolist()) <= {-1, 0, 1}:
            pos_label = 1
        else:
            raise ValueError(
                f"y_true holds only the class {to_python(labels[0])!r}; say which class is the "
                "positive one with pos_label=..."
            )
    elif pos_label not in labels.tolist() and len(labels) == 2:
        raise ValueError(
            f"pos_label={pos_label!r} is not one of the labels {[to_python(c) for c in labels]!r}."
        )
    others = [c for c in labels.tolist() if c != pos_label]
    neg_label = others[0] if others else None
    return y_true == pos_label, to_python(pos_label), to_python(neg_label)


def _binary_score(y_score, n):
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_score.ndim == 2 and y_score.shape[1] == 1:
        y_score = y_score.ravel()
    if y_score.ndim != 1:
        raise ValueError(
            f"y_score must be one score per sample, got shape {y_score.shape}; for "
            "predict_proba output pass the positive column, e.g. proba[:, 1]."
        )
    if len(y_score) != n:
        raise ValueError(f"y_true has {n} samples but y_score has {len(y_score)}.")
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score contains NaN or infinity.")
    return y_score


def _area(func, is_pos, y_score):
    if is_pos.all() or not is_pos.any():
        return None  # undefined with one class only
    return float(func(is_pos, y_score))


def binary_summary(y_true, y_score, *, pos_label=None, threshold=0.5):
    """Confusion counts and the usual binary metrics at one threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, two classes (numbers, strings or booleans).
    y_score : array-like of shape (n_samples,)
        Probability of the positive class, or any score where larger means
        more positive (then choose `threshold` on that score's scale, e.g. 0
        for a logit or an SVM's ``decision_function``).
    pos_label : label, default=None
        The positive class. None takes the larger label (the second one in
        sorted order for strings, i.e. ``classes_[1]``); with a single class
        in `y_true`, None works only for 0/1 or -1/1 labels.
    threshold : float, default=0.5
        Samples with ``y_score >= threshold`` are predicted positive.

    Returns
    -------
    summary : MetricsTable
        Keys ``kind`` ("binary"), ``n``, ``pos_label``, ``neg_label``,
        ``threshold``, ``TP``, ``FN``, ``FP``, ``TN``, ``accuracy``,
        ``balanced_accuracy``, ``precision``, ``sensitivity`` and ``recall``
        (the same number), ``specificity`` (TN / (TN + FP)), ``f1``,
        ``roc_auc`` and ``average_precision`` (computed from the scores, so
        independent of the threshold).

    See Also
    --------
    best_threshold : the threshold that maximises F1, accuracy or Youden's J.
    evaluate : predict with a fitted classifier and summarise.

    Examples
    --------
    >>> y = ["cat", "cat", "dog", "dog", "dog"]
    >>> p_dog = [0.1, 0.6, 0.4, 0.8, 0.9]
    >>> s = binary_summary(y, p_dog)
    >>> s["TP"], s["FN"], s["FP"], s["TN"]
    (2, 1, 1, 1)
    >>> s.sensitivity, s.specificity
    (0.6666666666666666, 0.5)
    >>> print(s)  # doctest: +NORMALIZE_WHITESPACE
    Binary summary: positive class 'dog', threshold 0.5, n = 5
                      predicted 'dog'  predicted 'cat'
    true 'dog'                 TP = 2           FN = 1
    true 'cat'                 FP = 1           TN = 1
    accuracy               0.600
    balanced accuracy      0.583
    precision              0.667
    sensitivity (recall)   0.667
    specificity            0.500
    F1                     0.667
    ROC AUC                0.833
    average precision      0.917
    """
    is_pos, pos_label, neg_label = _binary_labels(y_true, pos_label)
    y_score = _binary_score(y_score, len(is_pos))
    threshold = float(threshold)
    pred_pos = y_score >= threshold
    tn, fp, fn, tp = (int(v) for v in skm.confusion_matrix(is_pos, pred_pos, labels=[False, True]).ravel())
    sensitivity = _ratio(tp, tp + fn)
    specificity = _ratio(tn, tn + fp)
    return MetricsTable(
        kind="binary",
        n=int(len(is_pos)),
        pos_label=pos_label,
        neg_label=neg_label,
        threshold=threshold,
        TP=tp,
        FN=fn,
        FP=fp,
        TN=tn,
        accuracy=float(skm.accuracy_score(is_pos, pred_pos)),
        # The mean recall over the classes y_true holds, as balanced_accuracy_score
        # (and multiclass_summary) computes it: a class absent from y_true is left
        # out, not counted as a recall of 0.
        balanced_accuracy=float(
            np.mean([rate for rate, n in ((sensitivity, tp + fn), (specificity, tn + fp)) if n] or [0.0])
        ),
        precision=float(skm.precision_score(is_pos, pred_pos, zero_division=0.0)),
        sensitivity=sensitivity,
        recall=sensitivity,
        specificity=specificity,
        f1=float(skm.f1_score(is_pos, pred_pos, zero_division=0.0)),
        roc_auc=_area(skm.roc_auc_score, is_pos, y_score),
        average_precision=_area(skm.average_precision_score, is_pos, y_score),
    )


def best_threshold(y_true, y_score, *, metric="f1", pos_label=None):
    """The threshold on `y_score` that maximises a binary metric.

    Every distinct score is tried as a threshold (``score >= threshold`` is
    positive), plus "predict everything negative" (``inf``), which is returned
    only when it is strictly better than all the others. Ties go to the
    highest threshold.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, two classes.
    y_score : array-like of shape (n_samples,)
        Probability of the positive class or any score (larger = more positive).
    metric : {"f1", "accuracy", "balanced_accuracy", "youden"}, default="f1"
        What to maximise; "youden" is Youden's J = sensitivity + specificity - 1.
    pos_label : label, default=None
        The positive class, as in :func:`binary_summary`.

    Returns
    -------
    threshold : float
        The best threshold; pass it to ``binary_summary(..., threshold=...)``.
    value : float
        The metric at that threshold.

    Examples
    --------
    >>> y = [0, 0, 1, 1, 1]
    >>> score = [0.1, 0.6, 0.4, 0.8, 0.9]
    >>> best_threshold(y, score, metric="accuracy")
    (0.8, 0.8)
    >>> best_threshold(y, score, metric="f1")
    (0.4, 0.8571428571428571)
    """
    if metric not in _THRESHOLD_METRICS:
        raise ValueError(f"metric must be one of {list(_THRESHOLD_METRICS)}, got {metric!r}.")
    is_pos, _, _ = _binary_labels(y_true, pos_label)
    y_score = _binary_score(y_score, len(is_pos))
    order = np.argsort(-y_score, kind="mergesort")
    score, hit = y_score[order], is_pos[order]
    # the last index of each distinct score: thresholds between ties are meaningless
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tp = np.cumsum(hit)[last].astype(np.float64)
    fp = (last + 1) - tp
    thresholds = score[last]
    # "everything negative" last, so that argmax picks it only when strictly better.
    tp, fp, thresholds = np.r_[tp, 0.0], np.r_[fp, 0.0], np.r_[thresholds, np.inf]
    n_pos, n_neg = float(is_pos.sum()), float((~is_pos).sum())
    fn, tn = n_pos - tp, n_neg - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = np.where(n_pos > 0, tp / max(n_pos, 1.0), 0.0)
        tnr = np.where(n_neg > 0, tn / max(n_neg, 1.0), 0.0)
        values = {
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0),
            "accuracy": (tp + tn) / len(is_pos),
            "balanced_accuracy": (tpr + tnr) / 2,
            "youden": tpr + tnr - 1,
        }[metric]
    best = int(np.argmax(values))
    return float(thresholds[best]), float(values[best])


# -- multiclass ---------------------------------------------------------------
def multiclass_summary(y_true, y_pred, *, y_proba=None, labels=None):
    """Per-class and averaged metrics for any number of classes.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    y_proba : array-like of shape (n_samples, n_classes), default=None
        Class probabilities (or any per-class scores) with columns in the
        order of `labels`; enables the ROC AUCs. For two classes a 1-D array
        is taken as the score of ``labels[1]``.
    labels : array-like, default=None
        The classes, in order. None takes the sorted labels found in `y_true`
        and `y_pred`; pass ``estimator.classes_`` together with `y_proba`.

    Returns
    -------
    summary : MetricsTable
        ``kind`` ("multiclass"), ``n``, ``labels``, ``accuracy``,
        ``balanced_accuracy``, ``roc_auc_ovr_macro``; ``per_class``:
        ``{label: {precision, recall, sensitivity, specificity, f1, support,
        roc_auc}}``; ``macro_avg`` and ``weighted_avg`` (weights = support)
        of precision, recall, sensitivity, specificity and f1;
        ``confusion_matrix`` (rows = true, columns = predicted, in the order
        of ``labels``) and ``one_vs_rest_confusion``: ``{label: [[TN, FP],
        [FN, TP]]}`` from :func:`~sklearn.metrics.multilabel_confusion_matrix`.
        A class's ``roc_auc`` is the one-vs-rest AUC of its column (None
        without `y_proba` or when the class is absent from `y_true`);
        ``roc_auc_ovr_macro`` is their mean over the classes where it is
        defined, which is :func:`~sklearn.metrics.roc_auc_score` with
        ``multi_class="ovr"`` when every class occurs in `y_true`.

    Examples
    --------
    >>> y_true = ["a", "a", "b", "b", "c", "c"]
    >>> y_pred = ["a", "b", "b", "b", "c", "a"]
    >>> s = multiclass_summary(y_true, y_pred)
    >>> s["accuracy"], s["per_class"]["a"]["specificity"]
    (0.6666666666666666, 0.75)
    >>> s["one_vs_rest_confusion"]["a"]
    [[3, 1], [1, 1]]
    >>> print(s)  # doctest: +NORMALIZE_WHITESPACE
    Multiclass summary: 3 classes, n = 6
    class         precision  sensitivity  specificity     F1  support  ROC AUC
    'a'               0.500        0.500        0.750  0.500        2      n/a
    'b'               0.667        1.000        0.750  0.800        2      n/a
    'c'               1.000        0.500        1.000  0.667        2      n/a
    macro avg         0.722        0.667        0.833  0.656        6      n/a
    weighted avg      0.722        0.667        0.833  0.656        6
    accuracy 0.667, balanced accuracy 0.667
    """
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} samples but y_pred has {len(y_pred)}.")
    labels = unique_labels(y_true, y_pred) if labels is None else np.asarray(labels)
    keys = [to_python(c) for c in labels]
    prec, rec, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0.0
    )
    ovr = skm.multilabel_confusion_matrix(y_true, y_pred, labels=labels)  # [[TN, FP], [FN, TP]]
    spec = np.array([_ratio(m[0, 0], m[0, 0] + m[0, 1]) for m in ovr])
    aucs = _per_class_auc(y_true, y_proba, labels)
    per_class = {
        k: {
            "precision": float(prec[i]),
            "recall": float(rec[i]),
            "sensitivity": float(rec[i]),
            "specificity": float(spec[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "roc_auc": aucs[i],
        }
        for i, k in enumerate(keys)
    }
    total = int(support.sum())

    def average(weights):
        w = np.asarray(weights, dtype=np.float64)
        w = w / w.sum() if w.sum() else np.full(len(w), 1.0 / max(len(w), 1))
        avg = {
            m: float(np.dot(w, v))
            for m, v in [("precision", prec), ("recall", rec), ("specificity", spec), ("f1", f1)]
        }
        avg["sensitivity"] = avg["recall"]
        return {**avg, "support": total}

    defined = [a for a in aucs if a is not None]
    return MetricsTable(
        kind="multiclass",
        n=int(len(y_true)),
        labels=keys,
        accuracy=float(skm.accuracy_score(y_true, y_pred)),
        balanced_accuracy=float(np.mean(rec[support > 0])) if (support > 0).any() else 0.0,
        roc_auc_ovr_macro=float(np.mean(defined)) if defined else None,
        per_class=per_class,
        macro_avg=average(np.ones(len(keys))),
        weighted_avg=average(support),
        confusion_matrix=skm.confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        one_vs_rest_confusion={k: ovr[i].tolist() for i, k in enumerate(keys)},
    )


def _per_class_auc(y_true, y_proba, labels):
    if y_proba is None:
        return [None] * len(labels)
    y_proba = np.asarray(y_proba, dtype=np.float64)
    if y_proba.ndim == 1 and len(labels) == 2:
        y_proba = np.column_stack([-y_proba, y_proba])  # ranks are all an AUC needs
    if y_proba.shape != (len(y_true), len(labels)):
        raise ValueError(
            f"y_proba has shape {y_proba.shape}, expected ({len(y_true)}, {len(labels)}): one "
            "column per class in the order of labels (pass labels=estimator.classes_)."
        )
    return [_area(skm.roc_auc_score, y_true == c, y_proba[:, i]) for i, c in enumerate(labels)]
