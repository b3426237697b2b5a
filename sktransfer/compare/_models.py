"""compare_models: fit clones of several estimators on one split and measure them.

The package docstring (:mod:`sktransfer.compare`) says how time and memory are
measured and what a cold start is.
"""

import dataclasses
import time

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import column_or_1d

from .._engine.shared_state import forget_shared_state, shared_state
from .._utils.compat import import_keras
from .._utils.estimators import flat_parts, unwrap
from .._utils.jsonable import to_python
from .._utils.peak_memory import PeakMemory
from ..metrics import binary_summary, multiclass_summary
from ._table import ComparisonTable

__all__ = ["compare_models"]


# -- what an estimator is --------------------------------------------------------
def _is_keras(part):
    return type(part).__module__.startswith("sktransfer.")


def _count(model):
    total = int(model.count_params())
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    return total, trainable


def _param_counts(estimator):
    """(total, trainable) parameters of the Keras models inside, or (None, None)."""
    counts = []
    for part in flat_parts(estimator):
        info = getattr(part, "backbone_info_", None)
        if isinstance(info, dict) and info.get("total_params") is not None:
            counts.append((int(info["total_params"]), int(info.get("trainable_params") or 0)))
        elif hasattr(getattr(part, "model_", None), "count_params"):
            counts.append(_count(part.model_))
    if not counts:
        return None, None
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _backbone(estimator):
    """(backbone, weights) of the first part that names a backbone."""
    for part in flat_parts(estimator):
        info = getattr(part, "backbone_info_", None)
        if isinstance(info, dict) and "backbone" in info:
            weights = info.get("weights")
            return info["backbone"], None if weights is None else str(weights)
        params = part.get_params(deep=False) if hasattr(part, "get_params") else {}
        if "backbone" in params:
            weights = params.get("weights")
            return str(params["backbone"]), None if weights is None else str(weights)
    return None, None


def _default_name(estimator):
    if hasattr(estimator, "steps"):
        return " + ".join(type(step).__name__ for _, step in unwrap(estimator))
    backbone = getattr(estimator, "backbone", None)
    name = type(estimator).__name__
    return f"{name}({backbone})" if isinstance(backbone, str) else name


def _named(estimators, names):
    if isinstance(estimators, dict):
        if names is not None:
            raise ValueError("names= is for a list of estimators; a dict already names them.")
        pairs = [(str(k), v) for k, v in estimators.items()]
    else:
        estimators = list(estimators)
        if names is None:
            names, seen = [], {}
            for est in estimators:  # "SVC", "SVC #2", ...
                base = _default_name(est)
                seen[base] = seen.get(base, 0) + 1
                names.append(base if seen[base] == 1 else f"{base} #{seen[base]}")
        names = [str(n) for n in names]
        if len(names) != len(estimators):
            raise ValueError(f"Got {len(estimators)} estimators but {len(names)} names.")
        pairs = list(zip(names, estimators))
    if not pairs:
        raise ValueError("compare_models needs at least one estimator.")
    duplicates = sorted({n for n, _ in pairs if [m for m, _ in pairs].count(n) > 1})
    if duplicates:
        raise ValueError(f"Model names must be unique; repeated: {duplicates}.")
    for name, est in pairs:
        if not (hasattr(est, "fit") and hasattr(est, "predict")):
            raise TypeError(f"{name!r} is a {type(est).__name__}, not an estimator with fit and predict.")
    return pairs


def _first(X, k):
    return X.iloc[:k] if hasattr(X, "iloc") else X[:k]


def _scores(y_true, y_pred, classes):
    """accuracy, precision, recall, F1: binary for two classes, else macro averages."""
    if len(classes) == 2:
        pos = to_python(classes[1])
        s = binary_summary(y_true, (y_pred == classes[1]).astype(float), pos_label=pos)
        return s["accuracy"], s["precision"], s["recall"], s["f1"], "binary"
    s = multiclass_summary(y_true, y_pred, labels=classes)
    avg = s["macro_avg"]
    return s["accuracy"], avg["precision"], avg["recall"], avg["f1"], "macro"


def compare_models(estimators, X_train, y_train, X_test, y_test, *, names=None, warm=False):
    """Fit several estimators on the same split and compare them.

    Each estimator is cloned, fitted on (`X_train`, `y_train`) and predicts
    `X_test` with ``predict``; the metrics describe those predictions.

    Parameters
    ----------
    estimators : dict of {name: estimator} or list of estimators
        Unfitted (or fitted: they are cloned) classifiers, Pipelines or
        searches.
    X_train, y_train, X_test, y_test : array-like
        The split; X in any form the estimators accept (images, paths).
    names : list of str, default=None
        Names for a list of estimators; None derives them from the classes
        (``"FineTunedClassifier(resnet50v2)"``, ``"FunctionTransformer + SVC"``).
    warm : bool, default=False
        False measures every model from a cold start: the activation cache,
        the backbone templates and the compiled trainers are emptied before
        each (see the module docstring), so the figures do not depend on the
        order of the models. True keeps what earlier models left: faster, but
        a model after another with the same backbone looks cheaper.

    Returns
    -------
    table : ComparisonTable
        One row per model, in the given order, with keys ``name``,
        ``estimator`` (class name), ``accuracy``, ``precision``, ``recall``,
        ``f1`` (of the positive class ``classes_[1]`` for two classes, else
        macro averages: ``average`` says which), ``fit_seconds``,
        ``predict_ms_per_image`` (one timed ``predict`` over `X_test`, after
        an untimed warm-up call on one image, since Keras builds its predict
        function on the first call), ``total_params`` and
        ``trainable_params`` (from ``backbone_info_``, else counted on
        ``model_``, summed over a Pipeline's steps; None when no step is a
        Keras model, e.g. an SVC), ``peak_memory_mb`` (see the module
        docstring; None where RSS cannot be read), ``start`` (``"cold"`` or
        ``"warm"``), ``start_state`` (what the model found when it started:
        ``{"cached_activations", "backbone_templates", "compiled_trainers"}``,
        all 0 for a cold start), ``backbone``, ``weights``, ``n_train`` and
        ``n_test``. ``table.estimators_`` holds
        the fitted estimators by name.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> table = compare_models({"logistic": LogisticRegression(),
    ...                         "tree": DecisionTreeClassifier(random_state=0)},
    ...                        X[:150], y[:150], X[150:], y[150:])
    >>> table.names, table[0]["total_params"]
    (['logistic', 'tree'], None)
    >>> print(table)  # doctest: +SKIP
    model     accuracy  precision  recall     F1  fit s  ms/image  params  trainable  peak MB ...
    logistic     0.880      0.889   0.889  0.889   0.00      0.00       -          -      0.0 ...
    tree         0.840      0.917   0.815  0.863   0.00      0.00       -          -      0.0 ...

    One backbone with different weights is a comparison of several
    FineTunedClassifier that differ only in ``weights`` (and, for random
    weights, in what is trained); name them::

        table = compare_models({
            "ImageNet, head only": FineTunedClassifier("resnet50v2", weights="imagenet"),
            "ImageNet, conv5": FineTunedClassifier("resnet50v2", trainable_layers="conv5"),
            "my weights": FineTunedClassifier("resnet50v2", weights="/models/rn50.h5"),
            "random init": FineTunedClassifier("resnet50v2", weights=None,
                                               trainable_layers="all"),
        }, X_train, y_train, X_test, y_test)
        plot_comparison(table)
    """
    pairs = _named(estimators, names)
    y_test = column_or_1d(y_test)
    n_test = len(y_test)
    if n_test == 0:
        raise ValueError("X_test is empty: compare_models needs test images.")
    if not warm and any(_is_keras(part) for _, est in pairs for part in flat_parts(est)):
        import_keras()  # once per process: not any model's cost
    rows, fitted = [], {}
    for name, estimator in pairs:
        model = clone(estimator)
        if not warm:
            forget_shared_state()
        state = shared_state()
        with PeakMemory() as memory:
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_seconds = time.perf_counter() - start
            model.predict(_first(X_test, 1))  # warm-up, not timed
            start = time.perf_counter()
            y_pred = np.asarray(model.predict(X_test))
            predict_seconds = time.perf_counter() - start
        classes = getattr(model, "classes_", None)
        classes = np.unique(np.r_[y_test, y_pred]) if classes is None else np.asarray(classes)
        accuracy, precision, recall, f1, average = _scores(y_test, y_pred, classes)
        total, trainable = _param_counts(model)
        backbone, weights = _backbone(model)
        rows.append(
            {
                "name": name,
                "estimator": type(model).__name__,
                "accuracy": accuracy,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "average": average,
                "fit_seconds": fit_seconds,
                "predict_ms_per_image": 1000.0 * predict_seconds / n_test,
                "total_params": total,
                "trainable_params": trainable,
                "peak_memory_mb": memory.peak_mb,
                "start": "warm" if warm else "cold",
                "start_state": dataclasses.asdict(state),
                "backbone": backbone,
                "weights": weights,
                "n_train": int(len(column_or_1d(y_train))),
                "n_test": int(n_test),
            }
        )
        fitted[name] = model
    return ComparisonTable(rows, fitted)
