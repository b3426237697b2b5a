"""How a :class:`~sktransfer.metrics.MetricsTable` prints: aligned text tables.

A binary summary prints its confusion counts as a 2 x 2 grid above the
metrics, a multiclass summary one row per class plus the averages; any other
table prints as ``key  value`` lines. Public through :mod:`sktransfer.metrics`.
"""

import numbers

__all__ = ["MetricsTable", "format_cell"]


def format_cell(value):
    """A value as one table cell: integers as they are, other numbers to 3 decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool) or isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:.3f}"
    return repr(value)


class MetricsTable(dict):
    """A dictionary of metrics that prints as a table.

    Keys and values are plain Python objects, so ``json.dumps(table)`` works;
    ``dict(table)`` or :meth:`to_dict` give an ordinary dictionary and keys can
    also be read as attributes (``table.accuracy``). ``print(table)`` shows an
    aligned table (the layout depends on the ``kind``: "binary" or
    "multiclass").

    Examples
    --------
    >>> table = MetricsTable(accuracy=0.9, n=10)
    >>> table.accuracy
    0.9
    >>> print(table)
    accuracy  0.900
    n         10
    """

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no entry {name!r}; entries: {list(self)}."
            ) from None

    def to_dict(self):
        """A deep copy as plain nested ``dict``/``list`` objects."""

        def plain(v):
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [plain(x) for x in v]
            return v

        return plain(self)

    def _repr_pretty_(self, printer, cycle):  # IPython / Jupyter show the table
        printer.text(str(self))

    def __str__(self):
        kind = self.get("kind")
        if kind == "binary":
            return _format_binary(self)
        if kind == "multiclass":
            return _format_multiclass(self)
        width = max((len(str(k)) for k in self), default=0)
        return "\n".join(f"{str(k):<{width}}  {format_cell(v)}" for k, v in self.items())


def _format_binary(s):
    pos, neg = repr(s["pos_label"]), repr(s["neg_label"]) if s["neg_label"] is not None else "other"
    head = f"Binary summary: positive class {pos}, threshold {s['threshold']:g}, n = {s['n']}"
    w = max(len(pos), len(neg)) + 6
    cw = w + 6
    rows = [
        head,
        f"{'':<{w}}{'predicted ' + pos:>{cw}} {'predicted ' + neg:>{cw}}",
        f"{'true ' + pos:<{w}}{'TP = ' + str(s['TP']):>{cw}} {'FN = ' + str(s['FN']):>{cw}}",
        f"{'true ' + neg:<{w}}{'FP = ' + str(s['FP']):>{cw}} {'TN = ' + str(s['TN']):>{cw}}",
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
    rows += [f"{label:<22} {format_cell(s[key])}" for key, label in names]
    return "\n".join(rows)


def _format_multiclass(s):
    names = [repr(k) for k in s["labels"]] + ["macro avg", "weighted avg"]
    w = max(12, *(len(n) for n in names))
    cols = ["precision", "sensitivity", "specificity", "F1", "support", "ROC AUC"]
    rows = [
        f"Multiclass summary: {len(s['labels'])} classes, n = {s['n']}",
        f"{'class':<{w}}" + "".join(f"{c:>{max(len(c), 5) + 2}}" for c in cols),
    ]

    def row(name, d, auc):
        values = [d["precision"], d["sensitivity"], d["specificity"], d["f1"], d["support"]]
        if auc is not False:
            values.append(auc)
        return f"{name:<{w}}" + "".join(
            f"{format_cell(v):>{max(len(c), 5) + 2}}" for c, v in zip(cols, values)
        )

    for name, (_label, d) in zip(names, s["per_class"].items()):
        rows.append(row(name, d, d["roc_auc"]))
    rows.append(row("macro avg", s["macro_avg"], s["roc_auc_ovr_macro"]))
    rows.append(row("weighted avg", s["weighted_avg"], False))
    rows.append(
        f"accuracy {format_cell(s['accuracy'])}, balanced accuracy {format_cell(s['balanced_accuracy'])}"
        + (
            ""
            if s["roc_auc_ovr_macro"] is None
            else f", ROC AUC (one-vs-rest, macro) {format_cell(s['roc_auc_ovr_macro'])}"
        )
    )
    return "\n".join(rows)
