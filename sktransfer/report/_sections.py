"""The report's sections, each a function of the fitted estimator and the test data
(assembled by :func:`sktransfer.report.write_report`)."""

import numbers
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from sklearn.utils.validation import column_or_1d

from .._utils.estimators import unwrap
from .._utils.jsonable import to_python
from ..compare import COLUMNS, plot_comparison
from ..metrics import predict_scores
from ..plot import (
    diagnose_learning_curves,
    plot_by_epochs,
    plot_confusion_matrix,
    plot_grid_search,
    plot_learning_curves,
    plot_one_vs_rest,
    plot_param_comparison,
    plot_precision_recall,
    plot_roc,
    worst_errors,
)
from ._html import _e, _figure, _note, _short, _table


class _Predictions:
    """Stands in for the estimator on X_test: the scores of one prediction pass.

    It has ``predict_proba`` or ``decision_function`` exactly when the
    estimator has, so :func:`evaluate` and the plots make the same choices as
    with the estimator itself; ``predict`` follows :func:`evaluate`'s rule
    (threshold 0.5 / 0 for two classes, the most probable class otherwise),
    so the confusion matrix matches the metrics table.
    """

    def __init__(self, estimator, X):
        self._X = X
        self.classes_, self.kind, scores = predict_scores(estimator, X)
        classes = self.classes_
        if self.kind == "proba":
            self.predict_proba = self._give(scores)
            pred = (
                classes[(scores[:, 1] >= 0.5).astype(int)]
                if len(classes) == 2
                else classes[np.argmax(scores, axis=1)]
            )
        elif self.kind == "decision":
            self.decision_function = self._give(scores)
            pred = (
                classes[(scores.ravel() >= 0).astype(int)]
                if len(classes) == 2
                else np.asarray(estimator.predict(X))
            )
        else:
            pred = scores
        self.predict = self._give(pred)

    def _give(self, value):
        def method(X):
            if X is not self._X:
                raise ValueError("report internals: predictions are cached for X_test only.")
            return value

        return method


def _parts(estimator):
    """[(label, estimator)] to describe: a search's best estimator, a Pipeline's steps."""
    return [("estimator" if name is None else f"step {name!r}", step) for name, step in unwrap(estimator)]


def _with_history(estimator):
    """The estimator, or a Pipeline's first step, that has a ``history_``."""
    for _, part in _parts(estimator):
        if isinstance(getattr(part, "history_", None), Mapping):
            return part
    return None


def _class_order(estimator, *labels):
    classes = getattr(estimator, "classes_", None)
    seen = [] if classes is None else [to_python(c) for c in classes]
    extra = {to_python(c) for y in labels if y is not None for c in np.unique(column_or_1d(y))}
    return seen + sorted(extra - set(seen), key=str)


# -- sections -------------------------------------------------------------------------
def _data_section(estimator, y_train, y_test, data_summary):
    out = []
    if data_summary:
        out.append(_table(["", "value"], [[k, v] for k, v in data_summary.items()], "data-summary"))
    columns = [("train", y_train), ("test", y_test)]
    columns = [(name, column_or_1d(y)) for name, y in columns if y is not None]
    rows = [[c] + [int(np.sum(y == c)) for _, y in columns] for c in _class_order(estimator, y_train, y_test)]
    rows.append(["total"] + [len(y) for _, y in columns])
    out.append(_table(["class"] + [name for name, _ in columns], rows, "class-counts"))
    return "".join(out)


def _estimator_section(estimator):
    out = [f"<p><code>{_e(_short(estimator, 300))}</code></p>"]
    if hasattr(estimator, "best_params_"):
        best = _short(estimator.best_params_, 300)
        out.append(f"<p>Best parameters of the search: <code>{_e(best)}</code></p>")
    info_id = "backbone-info"
    for i, (label, part) in enumerate(_parts(estimator)):
        if hasattr(part, "get_params"):
            params = part.get_params(deep=False)
            out.append(f"<h3>{_e(label)}: {_e(type(part).__name__)}</h3>")
            out.append(
                _table(["parameter", "value"], [[k, _short(v)] for k, v in params.items()], f"parameters-{i}")
            )
        info = getattr(part, "backbone_info_", None)
        if isinstance(info, Mapping):
            out.append(f"<h3>{_e(label)}: backbone_info_</h3>")
            out.append(_table(["", "value"], [[k, _short(v)] for k, v in info.items()], info_id))
            info_id = f"backbone-info-{i}"  # ids stay unique
    return "".join(out)


def _metrics_section(summary, classes=None):
    if summary["kind"] == "binary":
        pos, neg = summary["pos_label"], summary["neg_label"]
        threshold = format(summary["threshold"], "g")
        # The classes in the confusion matrix's order (classes_: the positive one second).
        first_pos = classes is not None and [to_python(c) for c in classes].index(pos) == 0
        order = [pos, neg] if first_pos else [neg, pos]
        cell = {(pos, pos): "TP", (pos, neg): "FN", (neg, pos): "FP", (neg, neg): "TN"}
        out = [
            f"<p>Positive class {_e(repr(pos))}, threshold {_e(threshold)}, n = {summary['n']}.</p>",
            _table(
                [""] + [f"predicted {c}" for c in order],
                [[f"true {t}"] + [summary[cell[t, p]] for p in order] for t in order],
                "confusion-counts",
            ),
        ]
        names = [
            ("accuracy", "accuracy"),
            ("balanced_accuracy", "balanced accuracy"),
            ("precision", "precision"),
            ("sensitivity", "sensitivity (recall)"),
            ("specificity", "specificity"),
            ("f1", "F1"),
            ("roc_auc", "ROC AUC"),
            ("average_precision", "average precision"),
        ]
        out.append(
            _table(["metric", "value"], [[label, summary[key]] for key, label in names], "metrics-summary")
        )
        return "".join(out)
    header = ["class", "precision", "sensitivity", "specificity", "F1", "support", "ROC AUC"]
    keys = ["precision", "sensitivity", "specificity", "f1", "support"]
    rows = [[label] + [d[k] for k in keys] + [d["roc_auc"]] for label, d in summary["per_class"].items()]
    rows.append(["macro avg"] + [summary["macro_avg"][k] for k in keys] + [summary["roc_auc_ovr_macro"]])
    rows.append(["weighted avg"] + [summary["weighted_avg"][k] for k in keys] + [""])
    overall = [
        ["accuracy", summary["accuracy"]],
        ["balanced accuracy", summary["balanced_accuracy"]],
        ["ROC AUC (one-vs-rest, macro)", summary["roc_auc_ovr_macro"]],
    ]
    return (
        f"<p>{len(summary['labels'])} classes, n = {summary['n']}.</p>"
        + _table(header, rows, "metrics-per-class")
        + _table(["metric", "value"], overall, "metrics-summary")
    )


def _learning_section(estimator):
    part = _with_history(estimator)
    if part is None:
        return _note("No history_: learning curves exist for sktransfer's Keras classifiers.")
    diagnosis = diagnose_learning_curves(part)
    reasons = "".join(f"<li>{_e(r)}</li>" for r in diagnosis.reasons)
    return (
        _figure(
            plot_learning_curves(part),
            "learning curves",
            f"Loss and accuracy per epoch of {type(part).__name__}.",
        )
        + f'<p>Diagnosis: <span class="verdict" id="verdict">{_e(diagnosis.verdict)}</span>'
        f"</p><ul>{reasons}</ul>"
    )


def _evaluation_sections(frozen, X_test, y_test, name):
    """[(id, heading, html)]: confusion matrix, ROC / PR curves, worst errors."""
    k = len(frozen.classes_)
    side = max(4.5, 0.45 * k + 2.5)
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 1, side), layout="constrained")
    plot_confusion_matrix(frozen, X_test, y_test, ax=axes[0])
    plot_confusion_matrix(frozen, X_test, y_test, normalize="true", ax=axes[1])
    confusion = _figure(fig, "confusion matrix", "Rows are true labels, columns predicted labels.")
    if k > 2:
        confusion += _figure(
            plot_one_vs_rest(frozen, X_test, y_test),
            "one-vs-rest matrices",
            "Each class against all the others: its true positives top left.",
        )
    sections = [("confusion", "Confusion matrix", confusion)]
    if frozen.kind == "label":
        missing = _note(f"{name} has neither predict_proba nor decision_function.")
        return sections + [
            ("curves", "ROC and precision-recall curves", missing),
            ("errors", "Worst errors", missing),
        ]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), layout="constrained")
    plot_roc(frozen, X_test, y_test, name=name, ax=axes[0])
    plot_precision_recall(frozen, X_test, y_test, name=name, ax=axes[1])
    sections.append(
        ("curves", "ROC and precision-recall curves", _figure(fig, "ROC and precision-recall curves"))
    )
    try:
        result = worst_errors(frozen, X_test, y_test, k=5)
    except (TypeError, ValueError) as exc:  # e.g. X_test is not images
        errors = _note(f"No worst-errors gallery: {exc}")
    else:
        where = "; ".join(f"{panel.replace('_', ' ')}: {result.indices(panel)}" for panel in result.panels)
        errors = _figure(
            result.figure,
            "worst errors",
            f"The most confident mistakes (score: {result.score_name}). Indices into X_test, {where}.",
        )
    return sections + [("errors", "Worst errors", errors)]


def _searched(results):
    """{parameter: number of distinct values} of the parameters that vary."""
    counts = {}
    for key in results:
        if key.startswith("param_"):
            values = {repr(to_python(v)) for v in np.ma.getdata(results[key])}
            if len(values) > 1:
                counts[key[len("param_") :]] = len(values)
    return counts


def _pick(counts, preferred, exclude=()):
    for name in counts:
        if (name == preferred or name.endswith("__" + preferred)) and name not in exclude:
            return name
    return None


def _search_section(search):
    results = search.cv_results_
    scoring = None
    if "mean_test_score" not in results:
        refit = getattr(search, "refit", None)
        scoring = (
            refit
            if isinstance(refit, str)
            else next(k[len("mean_test_") :] for k in results if k.startswith("mean_test_"))
        )
    key = f"test_{scoring or 'score'}"
    out = [
        f"<p>{len(results['params'])} candidates; best parameters "
        f"<code>{_e(_short(getattr(search, 'best_params_', None), 300))}</code>.</p>"
    ]
    counts = _searched(results)
    numeric = [
        p
        for p in counts
        if all(
            isinstance(to_python(v), numbers.Real) and not isinstance(to_python(v), bool)
            for v in np.ma.getdata(results["param_" + p])
        )
    ]
    x = _pick(counts, "trainable_layers") or max(numeric or counts, key=counts.get, default=None)
    if x is not None:
        hue = _pick(counts, "batch_size", (x,)) or min(
            (p for p in counts if p != x), key=counts.get, default=None
        )
        out.append(
            _figure(
                plot_grid_search(search, x=x, hue=hue, scoring=scoring),
                "grid search",
                f"Validation error by {x}" + (f" and {hue}" if hue else "") + ".",
            )
        )
        for param, plot in (("optimizer", plot_param_comparison), ("epochs", plot_by_epochs)):
            name = _pick(counts, param, (x, hue))
            if name is not None:
                out.append(_figure(plot(search, name, scoring=scoring), f"search by {name}"))
    order = np.argsort(results[f"rank_{key}"], kind="stable")[:10]
    rows = [
        [
            int(results[f"rank_{key}"][i]),
            _short(results["params"][i], 120),
            results[f"mean_{key}"][i],
            results[f"std_{key}"][i],
        ]
        for i in order
    ]
    out.append(_table(["rank", "parameters", f"mean {scoring or 'score'}", "std"], rows, "search-top"))
    return "".join(out)


def _comparison_section(comparison):
    rows = [
        [
            f"{row[key]:,}" if key.endswith("_params") and row.get(key) is not None else row.get(key)
            for key, _, _ in COLUMNS
        ]
        for row in comparison
    ]
    return _table([header for _, header, _ in COLUMNS], rows, "comparison") + _figure(
        plot_comparison(list(comparison)), "model comparison"
    )


# -- the report ------------------------------------------------------------------
