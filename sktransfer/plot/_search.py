"""Validation error of a fitted grid search by its parameters.

:func:`plot_grid_search` draws one parameter on the x axis and a line per
value of another; :func:`plot_param_comparison` (and its line form
:func:`plot_by_epochs`) shows one parameter with the spread over the CV
folds. All read ``cv_results_`` only, so they work with any fitted
``GridSearchCV`` / ``RandomizedSearchCV``. Public through :mod:`sktransfer.plot`.
"""

import numbers
import re
from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from .._utils.jsonable import to_python

__all__ = ["plot_by_epochs", "plot_grid_search", "plot_param_comparison"]


def _cv_results(search):
    if isinstance(search, Mapping):
        return search
    results = getattr(search, "cv_results_", None)
    if results is None:
        raise TypeError(
            f"Expected a fitted GridSearchCV / RandomizedSearchCV (or its cv_results_),"
            f" got {type(search).__name__}."
        )
    return results


def _param(results, name):
    """The full parameter name in cv_results_ for `name` (suffix match)."""
    available = [k[len("param_") :] for k in results if k.startswith("param_")]
    name = name[len("param_") :] if name.startswith("param_") else name
    if name in available:
        return name
    matches = [p for p in available if p.endswith("__" + name)]
    if len(matches) == 1:
        return matches[0]
    problem = f"matches several parameters {matches}" if matches else "is not a searched parameter"
    raise ValueError(f"{name!r} {problem}; available: {available}.")


def _metric(results, search, scoring, metric):
    """(key in cv_results_, transform of a score, axis label)."""
    keys = [k[len("mean_test_") :] for k in results if k.startswith("mean_test_")]
    if scoring is None:
        refit = getattr(search, "refit", None)
        if keys == ["score"]:
            scoring = "score"
        elif isinstance(refit, str) and refit in keys:
            scoring = refit
        else:
            raise ValueError(f"The search recorded several metrics {keys}: choose one with scoring=.")
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
        columns[p] = [None if m else to_python(v) for v, m in zip(np.ma.getdata(col), mask)]
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
    others = [
        k[len("param_") :] for k in results if k.startswith("param_") and k[len("param_") :] not in used
    ]
    return f"\n(best over {', '.join(others)})" if others else ""


def plot_grid_search(
    search, x="trainable_layers", hue="batch_size", *, metric="error", scoring=None, ax=None
):
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
    for h, h_value in order[params[1]].items() if hue else [(None, None)]:
        cell = [((xk, h) if hue else (xk,)) for xk in order[x]]
        idx = [(positions[c[0]], cells[c]) for c in cell if c in cells]
        x_values = np.array([p for p, _ in idx], dtype=float)
        ax.errorbar(
            x_values,
            transform([mean[i] for _, i in idx]),
            yerr=[std[i] for _, i in idx],
            marker="o",
            capsize=3,
            label=f"{params[1]}={h_value}" if hue else "validation",
        )
    ax.set(
        xlabel=x,
        ylabel=label,
        title=f"{label.capitalize()} by {x}"
        + (f" and {params[1]}" if hue else "")
        + _others(results, params),
    )
    ax.grid(alpha=0.3)
    if hue:
        ax.legend()
    return ax.figure


def plot_param_comparison(search, param="optimizer", *, metric="error", scoring=None, kind="box", ax=None):
    """Validation error for each value of one parameter, with its spread over folds.

    For every value, the best candidate over the other parameters (highest
    mean validation score) is shown: ``kind="box"`` draws a box plot of its
    per-fold errors (``split{i}_test_score``; whiskers at the minimum and
    maximum) with the mean as a diamond; ``kind="line"`` draws the mean with
    the standard deviation over folds as error bars. Folds that failed
    (``error_score=np.nan``) are left out and their number shown.

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
        _, ax = plt.subplots(figsize=(max(5, 1.2 * len(order[param]) + 2), 4.5), layout="constrained")
    positions = _axis(ax, order[param]) if kind == "line" else list(range(len(order[param])))
    best = [cells[(v,)] for v in order[param]]
    # Each candidate's folds that did not fail: scikit-learn's mean is NaN as soon
    # as one fold fails (error_score=np.nan), but the others still count here.
    splits = [transform(_splits(results, key, i)) for i in best]
    folds = [split[np.isfinite(split)] for split in splits]
    means = np.array([f.mean() if len(f) else np.nan for f in folds], dtype=float)
    if kind == "box":
        ax.boxplot(
            folds,
            positions=positions,
            whis=(0, 100),
            patch_artist=True,
            boxprops={"facecolor": "lightsteelblue"},
            medianprops={"color": "k"},
        )
        ax.set_xticks(positions, [str(v) for v in order[param].values()])
        ax.plot(positions, means, "D", color="tab:red", label="mean")
    else:
        std = np.array([f.std() if len(f) else np.nan for f in folds], dtype=float)
        ax.errorbar(np.asarray(positions, dtype=float), means, yerr=std, marker="o", capsize=3, label="mean")
        raw = order[param].values()
        if ax.get_xscale() == "linear" and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in raw
        ):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: 1, 2, 3, not 1.5
    for position, split, kept in zip(positions, splits, folds):
        if len(kept) < len(split):
            text = (
                "all fits\nfailed"
                if not len(kept)
                else f"{len(split) - len(kept)} of {len(split)}\nfolds failed"
            )
            ax.text(
                position,
                0.5 if not len(kept) else 0.02,
                text,
                ha="center",
                va="center" if not len(kept) else "bottom",
                color="tab:red",
                transform=ax.get_xaxis_transform(),
            )
    ax.set(xlabel=param, ylabel=label, title=f"{label.capitalize()} by {param}" + _others(results, [param]))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax.figure


def plot_by_epochs(search, param="epochs", *, metric="error", scoring=None, ax=None):
    """:func:`plot_param_comparison` as a line: mean validation error ± std by `param`.

    Parameters
    ----------
    search, param, metric, scoring, ax
        As in :func:`plot_param_comparison` (``param`` defaults to ``"epochs"``).

    Returns
    -------
    fig : matplotlib Figure
        When candidates of the search train backbone layers in two stages
        (``FineTunedClassifier``'s ``head_epochs``), the x label says how many
        head-only epochs ran before the ``epochs`` shown.
    """
    fig = plot_param_comparison(search, param, metric=metric, scoring=scoring, kind="line", ax=ax)
    note = _head_epochs_note(search)
    if note:
        axes = ax if ax is not None else fig.axes[0]
        axes.set_xlabel(f"{axes.get_xlabel()} ({note})")
    return fig


def _head_epochs_note(search):
    """ "each after 30 head-only epochs" when candidates fit in two stages, else ""."""
    if not hasattr(search, "estimator") or not hasattr(search, "cv_results_"):
        return ""
    base = search.estimator.get_params()
    counts = set()
    for candidate in search.cv_results_["params"]:
        params = {name.rsplit("__", 1)[-1]: value for name, value in {**base, **candidate}.items()}
        head = params.get("head_epochs")
        if head and params.get("trainable_layers") not in (0, None) and params.get("weights"):
            counts.add(head)
    if not counts:
        return ""
    head = counts.pop() if len(counts) == 1 else "head_epochs"
    return f"each after {head} head-only epochs"
