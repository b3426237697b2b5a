"""Figures of a comparison: metrics, fit time and memory per model; two models' agreement."""

import os
import re

import numpy as np

__all__ = ["plot_agreement", "plot_comparison", "short_names"]

# Weights-file endings dropped from a short name ("rn50.weights.h5" -> "rn50").
_WEIGHTS_SUFFIX = re.compile(
    r"(\.weights)?\.(h5|hdf5|keras|safetensors|pth?|pt|npz|bin|ckpt)$", re.IGNORECASE
)


def short_names(weights):
    """Short, distinct labels for weights: ``"imagenet"``, ``"random"``, or a file's stem.

    Parameters
    ----------
    weights : sequence of str, os.PathLike or None
        Weights as given to the estimators: ``"imagenet"``, None (random
        initialisation) or file paths.

    Returns
    -------
    names : list of str
        A file path becomes its name without folder and weights extension;
        when two files would get the same label, their parent folders are
        added (then the whole path).

    Examples
    --------
    >>> short_names(["imagenet", None, "/models/a/rn50.weights.h5", "/models/b/rn50.weights.h5"])
    ['imagenet', 'random', 'a/rn50', 'b/rn50']
    """
    values = [None if w is None or str(w).lower() == "none" else os.fspath(w) for w in weights]
    n_distinct = len(set(values))

    def label(value, depth):
        if value is None:
            return "random"
        parts = os.path.normpath(value).split(os.sep)
        parts[-1] = _WEIGHTS_SUFFIX.sub("", parts[-1]) or parts[-1]
        return "/".join(parts[-depth:]) if depth else value

    depth = 1
    while True:
        names = [label(v, depth) for v in values]
        if len(set(names)) == n_distinct or depth == 0:
            return names
        depth = depth + 1 if depth < max(len(str(v).split(os.sep)) for v in values) else 0


def _wrapped(names, width=18):
    """Names on lines of about `width` characters, broken after spaces, "_" or "/" only."""
    wrapped = []
    for name in names:
        lines = [""]
        for token in re.split(r"(?<=[ _/])", name):
            if lines[-1] and len(lines[-1]) + len(token.rstrip()) > width:
                lines.append("")
            lines[-1] += token
        wrapped.append("\n".join(line.rstrip() for line in lines))
    return wrapped


def _values(rows, key):
    return [np.nan if row.get(key) is None else float(row[key]) for row in rows]


def _barh(ax, labels, values, unit, title, color):
    y = np.arange(len(labels))
    bars = ax.barh(y, values, 0.6, color=color)
    ax.bar_label(bars, labels=["n/a" if np.isnan(v) else f"{v:.3g}" for v in values], padding=3, fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()  # first model on top, as in the table
    finite = [v for v in values if np.isfinite(v)]
    ax.set_xlim(0, 1.25 * max(finite) if finite and max(finite) > 0 else 1)  # room for the labels
    ax.set(xlabel=unit, title=title)
    ax.grid(axis="x", alpha=0.3)


def plot_comparison(table, *, metrics=("accuracy", "f1"), ax=None):
    """Grouped bars of test metrics per model, then fit time and peak memory per model.

    Parameters
    ----------
    table : ComparisonTable or list of dict
        The result of :func:`compare_models` (or its records).
    metrics : sequence of str, default=("accuracy", "f1")
        Row keys drawn as bars, one bar per metric in each model's group.
    ax : matplotlib Axes, default=None
        None creates a figure with three panels: the metric bars on top, then
        fit seconds and peak memory (MiB) per model as horizontal bars, with
        the model names (long ones wrapped) beside them. With `ax`, the metric
        bars go there and the fit seconds are drawn as diamonds on a second y
        axis (``ax.twinx()``).

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
    labels = _wrapped(names)
    x = np.arange(len(rows))
    panels = None
    if ax is None:
        lines = max(label.count("\n") + 1 for label in labels)
        bars_height = 0.6 + len(rows) * (0.2 + 0.2 * lines)  # the horizontal bars' labels fit
        width = min(16.0, max(8.0, 1.6 * len(rows) * max(1, len(metrics) / 2) + 2))
        fig = plt.figure(figsize=(width, 4.0 + 0.2 * lines + bars_height), layout="constrained")
        grid = fig.add_gridspec(2, 2, height_ratios=[3.5 + 0.2 * lines, bars_height])
        ax = fig.add_subplot(grid[0, :])
        panels = fig.add_subplot(grid[1, 0]), fig.add_subplot(grid[1, 1])
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        bars = ax.bar(x + (i - (len(metrics) - 1) / 2) * width, _values(rows, metric), width, label=metric)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(x, labels, fontsize=9)
    if all(0 <= row[m] <= 1 for row in rows for m in metrics if row[m] is not None):
        ax.set_ylim(0, 1.2)  # room for the bar labels and the legend
    ax.set(ylabel="test score", title="Test metrics by model")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", ncol=len(metrics), fontsize=9)
    seconds = _values(rows, "fit_seconds")
    if panels is None:
        twin = ax.twinx()
        twin.plot(x, seconds, "D", color="k", label="fit seconds")
        twin.set_ylabel("fit seconds")
        twin.set_ylim(bottom=0)
        return ax.figure
    starts = {row.get("start") for row in rows}
    start = f" ({starts.pop()} start)" if len(starts) == 1 and None not in starts else ""
    _barh(panels[0], labels, seconds, "seconds", f"Fit time{start}", "tab:gray")
    _barh(panels[1], labels, _values(rows, "peak_memory_mb"), "MiB", f"Peak memory{start}", "tab:purple")
    return ax.figure


def plot_agreement(result, *, ax=None):
    """The 2 x 2 table of :func:`agreement` as a figure: counts and shares of the test images.

    Parameters
    ----------
    result : Agreement
        From :func:`agreement`.
    ax : matplotlib Axes, default=None

    Returns
    -------
    fig : matplotlib Figure
        ``ax.texts`` hold the four cells' labels, row by row.
    """
    import matplotlib.pyplot as plt

    counts = np.asarray(result.counts)
    a, b = result.names
    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.4), layout="constrained")
    total = max(int(counts.sum()), 1)
    ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(int(counts.max()), 1), aspect="auto")
    for i in range(2):
        for j in range(2):
            dark = counts[i, j] > counts.max() / 2
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n({counts[i, j] / total:.0%})",
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize=11,
            )
    a, b = _wrapped([a, b], 16)
    ax.set_xticks([0, 1], [f"{b}\nright", f"{b}\nwrong"])
    ax.set_yticks([0, 1], [f"{a}\nright", f"{a}\nwrong"])
    ax.set_title(
        f"Where the two models are right ({total} test images)\n"
        f"McNemar's exact test: p = {result.mcnemar_p:.3g}",
        fontsize=10,
    )
    return ax.figure
