"""Compare models (or one backbone with different weights) on the same split.

:func:`compare_models` fits clones of several estimators on one train/test
split and measures, for each: accuracy, precision, recall and F1 (from
:mod:`sktransfer.metrics`), fit seconds, prediction milliseconds per image,
total and trainable parameters, peak memory, and the backbone and weights
when known. :func:`plot_comparison` draws the result.

How memory is measured
----------------------
A background thread samples the process's resident set size (RSS, via
``psutil`` when installed, else ``/proc/self/statm``) every 5 ms while the
estimator fits and predicts; ``peak_memory_mb`` is the highest sample minus
the RSS just before the fit, in MiB. When the process's lifetime high-water
mark (``getrusage().ru_maxrss``) rose during the fit, that mark is the true
peak (a spike between two samples), so it is used instead. It is the memory
of the whole process, so run comparisons one at a time, and note that memory
a previous fit left behind (TensorFlow keeps its allocator's pool) is in the
baseline: the first model compared may pay for TensorFlow's start-up.

How time is measured
--------------------
``fit_seconds`` is the wall-clock time of ``fit``. sktransfer's activation
cache is shared by the whole process, so a FineTunedClassifier whose frozen
part was already computed for these images (by an earlier fit with the same
backbone, weights, input size and cut, e.g. another model of the same
comparison) fits faster than a cold one: call
:func:`sktransfer.clear_cache` before each model, or give the estimators
``cache=False``, to compare cold fits.
"""

import json
import numbers
import time

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import column_or_1d

from ._peak_memory import _PeakMemory
from .metrics import _py, binary_summary, multiclass_summary

__all__ = ["ComparisonTable", "compare_models", "plot_comparison"]

_COLUMNS = [  # (key, header, format)
    ("name", "model", "{}"),
    ("accuracy", "accuracy", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("f1", "F1", "{:.3f}"),
    ("fit_seconds", "fit s", "{:.2f}"),
    ("predict_ms_per_image", "ms/image", "{:.2f}"),
    ("total_params", "params", "{:,}"),
    ("trainable_params", "trainable", "{:,}"),
    ("peak_memory_mb", "peak MB", "{:.1f}"),
    ("backbone", "backbone", "{}"),
    ("weights", "weights", "{}"),
]


class ComparisonTable(list):
    """The rows of :func:`compare_models`: a list of dicts that prints as a table.

    Each row holds plain Python values, so ``json.dumps(table)`` works;
    :meth:`to_records` gives plain dicts and :meth:`to_frame` a pandas
    DataFrame. ``estimators_`` maps each name to its fitted estimator (empty
    for a table rebuilt from records, e.g. ``ComparisonTable(json.load(f))``).
    """

    def __init__(self, rows=(), estimators=None):
        super().__init__(dict(row) for row in rows)
        self.estimators_ = dict(estimators or {})

    @property
    def names(self):
        return [row["name"] for row in self]

    def to_records(self):
        """The rows as a list of plain dicts."""
        return [dict(row) for row in self]

    def to_frame(self):
        """The rows as a pandas DataFrame indexed by model name (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is a test dependency
            raise ImportError("to_frame() needs pandas: pip install pandas, or use "
                              "to_records().") from exc
        return pd.DataFrame(self.to_records()).set_index("name")

    def to_json(self, **kwargs):
        return json.dumps(self.to_records(), **kwargs)

    def __str__(self):
        cells = [[header for _, header, _ in _COLUMNS]]
        for row in self:
            cells.append(["-" if row.get(key) is None else fmt.format(row[key])
                          for key, _, fmt in _COLUMNS])
        widths = [max(len(r[i]) for r in cells) for i in range(len(_COLUMNS))]
        lines = []
        for r in cells:
            left = r[0].ljust(widths[0])
            lines.append("  ".join([left] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]))
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self):
        return f"ComparisonTable({self.names})"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))


# -- what an estimator is --------------------------------------------------------
def _parts(estimator):
    """The estimator and, for a Pipeline or a search, what is inside it."""
    if hasattr(estimator, "best_estimator_"):
        return _parts(estimator.best_estimator_)
    if hasattr(estimator, "steps"):
        return [p for _, step in estimator.steps if step not in (None, "passthrough")
                for p in _parts(step)]
    return [estimator]


def _count(model):
    total = int(model.count_params())
    trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
    return total, trainable


def _param_counts(estimator):
    """(total, trainable) parameters of the Keras models inside, or (None, None)."""
    counts = []
    for part in _parts(estimator):
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
    for part in _parts(estimator):
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
        return " + ".join(type(step).__name__ for _, step in estimator.steps
                          if step not in (None, "passthrough"))
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
            raise TypeError(f"{name!r} is a {type(est).__name__}, not an estimator with fit "
                            "and predict.")
    return pairs


def _first(X, k):
    return X.iloc[:k] if hasattr(X, "iloc") else X[:k]


def _scores(y_true, y_pred, classes):
    """accuracy, precision, recall, F1: binary for two classes, else macro averages."""
    if len(classes) == 2:
        pos = _py(classes[1])
        s = binary_summary(y_true, (y_pred == classes[1]).astype(float), pos_label=pos)
        return s["accuracy"], s["precision"], s["recall"], s["f1"], "binary"
    s = multiclass_summary(y_true, y_pred, labels=classes)
    avg = s["macro_avg"]
    return s["accuracy"], avg["precision"], avg["recall"], avg["f1"], "macro"


def compare_models(estimators, X_train, y_train, X_test, y_test, *, names=None):
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
        docstring; None where RSS cannot be read), ``backbone``,
        ``weights``, ``n_train`` and ``n_test``. ``table.estimators_`` holds
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
    rows, fitted = [], {}
    for name, estimator in pairs:
        model = clone(estimator)
        with _PeakMemory() as memory:
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
        rows.append({
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
            "backbone": backbone,
            "weights": weights,
            "n_train": int(len(column_or_1d(y_train))),
            "n_test": int(n_test),
        })
        fitted[name] = model
    return ComparisonTable(rows, fitted)


def plot_comparison(table, *, metrics=("accuracy", "f1"), ax=None):
    """Grouped bars of test metrics per model, and the fit time per model.

    Parameters
    ----------
    table : ComparisonTable or list of dict
        The result of :func:`compare_models` (or its records).
    metrics : sequence of str, default=("accuracy", "f1")
        Row keys drawn as bars, one bar per metric in each model's group.
    ax : matplotlib Axes, default=None
        None creates a figure with two panels: the metric bars, then fit
        seconds per model. With `ax`, the metric bars go there and the fit
        seconds are drawn as diamonds on a second y axis (``ax.twinx()``).

    Returns
    -------
    fig : matplotlib Figure
        In the metrics axes, ``ax.containers`` holds one BarContainer per
        metric with one bar per model (x tick labels = model names).
    """
    import matplotlib.pyplot as plt

    rows = list(table)
    if not rows:
        raise ValueError("The comparison table is empty.")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    missing = [m for m in metrics if m not in rows[0]]
    if missing:
        raise ValueError(f"Unknown metric(s) {missing}; the table has {list(rows[0])}.")
    names = [str(row["name"]) for row in rows]
    x = np.arange(len(rows))
    if ax is None:
        fig, (ax, time_ax) = plt.subplots(
            1, 2, figsize=(max(8, 1.6 * len(rows) + 5), 4.5), layout="constrained",
            gridspec_kw={"width_ratios": [2, 1]})
    else:
        time_ax = None
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        values = [np.nan if row[metric] is None else float(row[metric]) for row in rows]
        bars = ax.bar(x + (i - (len(metrics) - 1) / 2) * width, values, width, label=metric)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    long_names = {"rotation": 20, "ha": "right"} if max(map(len, names)) > 12 else {}
    ax.set_xticks(x, names, **long_names)
    if all(isinstance(row[m], numbers.Real) and 0 <= row[m] <= 1 for row in rows for m in metrics
           if row[m] is not None):
        ax.set_ylim(0, 1.2)  # room for the bar labels and the legend
    ax.set(ylabel="test score", title="Test metrics by model")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncol=len(metrics), fontsize=9)
    seconds = [np.nan if row.get("fit_seconds") is None else row["fit_seconds"] for row in rows]
    if time_ax is None:
        twin = ax.twinx()
        twin.plot(x, seconds, "D", color="k", label="fit seconds")
        twin.set_ylabel("fit seconds")
        twin.set_ylim(bottom=0)
    else:
        time_ax.bar(x, seconds, 0.6, color="tab:gray")
        time_ax.set_xticks(x, names, **long_names)
        time_ax.set(ylabel="seconds", title="Fit time")
        time_ax.grid(axis="y", alpha=0.3)
    return ax.figure
