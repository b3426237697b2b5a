"""A gallery of a classifier's most confident mistakes, as thumbnails.

:func:`worst_errors` and its result :class:`WorstErrors`; public through
:mod:`sktransfer.plot`.
"""

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from sklearn.utils.validation import column_or_1d

from .._utils.jsonable import to_python
from ..images import is_path_input, load_images
from ..metrics import predict_scores
from ._evaluation import estimator_name

__all__ = ["WorstErrors", "worst_errors"]


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
        ``make_pipeline(FineTunedClassifier(...), SVC())`` (decision scores) or
        ``CalibratedClassifierCV(SVC(), ensemble=False)`` (probabilities) as the
        last step.
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
    classes, kind, scores = predict_scores(estimator, X)
    if kind == "label":
        raise TypeError(
            f"worst_errors ranks errors by confidence, but {estimator_name(estimator)}"
            " has neither predict_proba nor decision_function."
        )
    unknown = set(np.unique(y).tolist()) - set(classes.tolist())
    if unknown:
        raise ValueError(f"y has labels the estimator does not know: {sorted(map(str, unknown))}.")
    if len(classes) == 2:
        neg, pos = to_python(classes[0]), to_python(classes[1])
        score = scores[:, 1] if kind == "proba" else scores.ravel()
        thr = (0.5 if kind == "proba" else 0.0) if threshold is None else float(threshold)
        pred = np.where(score >= thr, pos, neg).astype(object)
        is_pos = y == classes[1]
        fp = np.flatnonzero(~is_pos & (score >= thr))
        fn = np.flatnonzero(is_pos & (score < thr))
        chosen = {
            "false_positives": fp[np.argsort(-score[fp], kind="stable")][:k],
            "false_negatives": fn[np.argsort(score[fn], kind="stable")][:k],
        }
        score_name = f"P({pos})" if kind == "proba" else "decision"
        titles = {
            "false_positives": f"Most confident false positives (true {neg}, predicted {pos})",
            "false_negatives": f"Most confident false negatives (true {pos}, predicted {neg})",
        }
    else:
        if threshold is not None:
            raise ValueError("threshold applies to two classes only.")
        if scores.shape != (len(y), len(classes)):
            raise ValueError(
                f"Expected one score per class, got shape {scores.shape}; use "
                "decision_function_shape='ovr' or probabilities."
            )
        best = np.argmax(scores, axis=1)
        pred, score = classes[best].astype(object), scores[np.arange(len(y)), best]
        wrong = np.flatnonzero(pred != y)
        chosen = {"errors": wrong[np.argsort(-score[wrong], kind="stable")][:k]}
        score_name = "P(predicted)" if kind == "proba" else "score"
        titles = {"errors": "Most confident wrong predictions"}
    panels = {
        name: [
            {
                "index": int(i),
                "true": to_python(y[i]),
                "predicted": to_python(pred[i]),
                "score": float(score[i]),
            }
            for i in idx
        ]
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
            ax.text(
                0.5, 0.5, f"no {name.replace('_', ' ')}", ha="center", va="center", transform=ax.transAxes
            )
            continue
        images = _thumbnails(X, [row["index"] for row in rows], size)
        for ax, row, image in zip(np.atleast_1d(subfig.subplots(1, k)), rows, images):
            ax.imshow(image)
            ax.set_title(
                f"true: {row['true']}\npred: {row['predicted']}\n{score_name} = {row['score']:.3f}",
                fontsize=9,
            )
        for ax in subfig.axes:
            ax.axis("off")
    return WorstErrors(fig, panels, score_name)
