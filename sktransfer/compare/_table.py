"""The table :func:`sktransfer.compare.compare_models` returns."""

import json

__all__ = ["ComparisonTable"]

COLUMNS = [  # (key, header, format)
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
    ("start", "start", "{}"),
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
            raise ImportError("to_frame() needs pandas: pip install pandas, or use to_records().") from exc
        return pd.DataFrame(self.to_records()).set_index("name")

    def to_json(self, **kwargs):
        return json.dumps(self.to_records(), **kwargs)

    def __str__(self):
        cells = [[header for _, header, _ in COLUMNS]]
        for row in self:
            cells.append(["-" if row.get(key) is None else fmt.format(row[key]) for key, _, fmt in COLUMNS])
        widths = [max(len(r[i]) for r in cells) for i in range(len(COLUMNS))]
        lines = []
        for r in cells:
            left = r[0].ljust(widths[0])
            lines.append("  ".join([left] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]))
        return "\n".join(line.rstrip() for line in lines)

    def __repr__(self):
        return f"ComparisonTable({self.names})"

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))
