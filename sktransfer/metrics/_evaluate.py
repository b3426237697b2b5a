"""Summarise a fitted classifier on a test set: :func:`evaluate`.

Public as :func:`sktransfer.metrics.evaluate`. The estimator is predicted once
(:func:`predict_scores`, shared with the plots and the report) and the scores
go to :func:`~sktransfer.metrics.binary_summary` or
:func:`~sktransfer.metrics.multiclass_summary`.
"""

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import column_or_1d

from .._utils.jsonable import to_python
from ._summaries import binary_summary, multiclass_summary


def predict_scores(estimator, X):
    """Predict once: (classes, kind, scores), kind in {"proba", "decision", "label"}.

    ``scores`` is ``predict_proba`` (n, K), ``decision_function`` ((n,) for
    two classes, else (n, K) or whatever shape the estimator gives) or the
    predicted labels.
    """
    try:
        classes = getattr(estimator, "classes_", None)
    except NotFittedError:  # a Pipeline's classes_ asks its last step, unfitted
        classes = None
    if classes is None:
        # NotFittedError, as scikit-learn's Displays raise, when the estimator is
        # one that fitting would give classes_ (a classifier, or a Pipeline).
        error = NotFittedError if hasattr(estimator, "fit") else TypeError
        raise error(
            f"{type(estimator).__name__} has no classes_: pass a fitted classifier "
            "(or a Pipeline ending in one)."
        )
    classes = np.asarray(classes)
    if hasattr(estimator, "predict_proba"):
        return classes, "proba", np.asarray(estimator.predict_proba(X), dtype=np.float64)
    if hasattr(estimator, "decision_function"):
        return classes, "decision", np.asarray(estimator.decision_function(X), dtype=np.float64)
    return classes, "label", np.asarray(estimator.predict(X))


def evaluate(estimator, X, y, *, threshold=None):
    """Predict `X` once with a fitted classifier and summarise against `y`.

    The scores come from ``predict_proba`` when the estimator has it, else
    ``decision_function``, else ``predict`` (then the ROC AUC of a binary
    problem is computed on hard 0/1 predictions). One prediction pass, except
    for more than two classes with ``decision_function`` only: then the labels
    come from ``predict`` (an SVM's one-vs-one vote) and the scores only feed
    the ROC AUCs.

    Parameters
    ----------
    estimator : fitted classifier
        Any scikit-learn classifier, a Pipeline ending in one or a fitted
        search (``classes_`` is used for the label order).
    X : array-like
        Input accepted by the estimator (for sktransfer's classifiers: images
        or file paths).
    y : array-like of shape (n_samples,)
        True labels.
    threshold : float, default=None
        Two classes only: the threshold on the positive class's score
        (``classes_[1]``). None means the estimator's own decision point:
        0.5 for probabilities, 0 for ``decision_function``. With more classes
        the prediction is the class of highest probability (or
        ``predict`` when there are no probabilities).

    Returns
    -------
    summary : MetricsTable
        :func:`binary_summary` for two classes, else :func:`multiclass_summary`.

    Notes
    -----
    When an estimator's probabilities do not decide its ``predict`` (an SVC
    with scikit-learn's older built-in Platt scaling, deprecated in 1.9),
    thresholding them at 0.5 can disagree with ``predict`` for a few samples;
    the summary describes the probabilities. For probabilities from an SVC use
    ``CalibratedClassifierCV(SVC(), ensemble=False)``, which predicts the most
    probable class.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> s = evaluate(LogisticRegression().fit(X, y), X, y)
    >>> s["kind"], s["n"], s["TP"] + s["FN"] == int(y.sum())
    ('binary', 100, True)
    """

    classes, kind, scores = predict_scores(estimator, X)
    y = column_or_1d(y)
    if len(classes) == 2:
        pos = classes[1]
        if kind == "proba":
            score, default = scores[:, 1], 0.5
        elif kind == "decision":
            score, default = scores.ravel(), 0.0
        else:
            score, default = (scores == pos).astype(np.float64), 0.5
        summary = binary_summary(
            y, score, pos_label=to_python(pos), threshold=default if threshold is None else threshold
        )
        if summary["neg_label"] is None:
            summary["neg_label"] = to_python(classes[0])
        return summary
    if threshold is not None:
        raise ValueError(f"threshold applies to two classes only; the estimator has {len(classes)}.")
    if kind == "proba":
        return multiclass_summary(y, classes[np.argmax(scores, axis=1)], y_proba=scores, labels=classes)
    y_pred = scores if kind == "label" else np.asarray(estimator.predict(X))
    ranked = kind == "decision" and scores.shape == (len(y), len(classes))
    return multiclass_summary(y, y_pred, y_proba=scores if ranked else None, labels=classes)
