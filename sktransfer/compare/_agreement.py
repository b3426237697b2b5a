"""Where two models are right on the same test images."""

import dataclasses

import numpy as np
from sklearn.utils.validation import column_or_1d

__all__ = ["Agreement", "agreement"]


@dataclasses.dataclass(frozen=True)
class Agreement:
    """Where two models are right on the same test images (see :func:`agreement`)."""

    names: tuple
    counts: np.ndarray  # [[both right, only A right], [only B right, both wrong]]
    mcnemar_p: float

    @property
    def both_right(self):
        return int(self.counts[0, 0])

    @property
    def only_first(self):
        return int(self.counts[0, 1])

    @property
    def only_second(self):
        return int(self.counts[1, 0])

    @property
    def both_wrong(self):
        return int(self.counts[1, 1])

    def __str__(self):
        a, b = self.names
        width = max(len(a), len(b), 12) + 7
        rows = [
            ("", f"{b} right", f"{b} wrong"),
            (f"{a} right", self.both_right, self.only_first),
            (f"{a} wrong", self.only_second, self.both_wrong),
        ]
        text = "\n".join(f"{r[0]:<{width}}{r[1]:>{width}}{r[2]:>{width}}".rstrip() for r in rows)
        return f"{text}\nMcNemar's exact test on the disagreements: p = {self.mcnemar_p:.3g}"


def agreement(y_true, y_pred_a, y_pred_b, *, names=("A", "B")):
    """Count the test images both models get right, only one, or neither.

    Parameters
    ----------
    y_true, y_pred_a, y_pred_b : array-like of shape (n_samples,)
        True labels and the two models' predictions (e.g. ``predict`` of two
        of ``table.estimators_``).
    names : (str, str), default=("A", "B")

    Returns
    -------
    Agreement
        ``counts[i, j]``: row 0/1 = first model right/wrong, column 0/1 =
        second model right/wrong; ``mcnemar_p``: McNemar's exact two-sided
        p-value, the chance of a split of the disagreements at least this
        uneven if both models were equally accurate (1.0 when they never
        disagree). Printing it gives the table.

    Examples
    --------
    >>> result = agreement(["a", "b", "a", "b"], ["a", "b", "b", "b"], ["a", "a", "a", "a"],
    ...                    names=("tuned", "frozen"))
    >>> result.counts.tolist(), result.only_first, result.only_second
    ([[1, 2], [1, 0]], 2, 1)
    """
    from scipy.stats import binomtest

    y_true, a, b = (column_or_1d(v) for v in (y_true, y_pred_a, y_pred_b))
    if not len(y_true) == len(a) == len(b):
        raise ValueError(
            f"y_true, y_pred_a and y_pred_b must have one length, got {len(y_true)}, {len(a)} and {len(b)}."
        )
    right_a, right_b = a == y_true, b == y_true
    counts = np.array(
        [
            [np.sum(right_a & right_b), np.sum(right_a & ~right_b)],
            [np.sum(~right_a & right_b), np.sum(~right_a & ~right_b)],
        ],
        dtype=int,
    )
    discordant = counts[0, 1] + counts[1, 0]
    p = 1.0 if discordant == 0 else float(binomtest(int(counts[0, 1]), int(discordant)).pvalue)
    names = tuple(str(n) for n in names)
    if len(names) != 2:
        raise ValueError(f"names must be two names, got {names!r}.")
    return Agreement(names, counts, p)
