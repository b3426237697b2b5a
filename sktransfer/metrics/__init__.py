"""Binary and multiclass summaries: confusion counts, accuracy, precision,
sensitivity, specificity, F1 and the areas under the ROC and PR curves.

Everything is computed with :mod:`sklearn.metrics`; this module only adds the
numbers scikit-learn has no function for (specificity, the threshold search)
and returns them as :class:`MetricsTable` records: dictionaries of plain
Python numbers (JSON-serialisable) that print as an aligned table.

Conventions
-----------
* Binary scores are "probability of the positive class" or any score where
  larger means "more positive"; a sample is predicted positive when
  ``score >= threshold`` (the convention of scikit-learn's
  :class:`~sklearn.model_selection.FixedThresholdClassifier`).
* The positive class defaults to the larger label, as in scikit-learn; for
  strings this is the second label in sorted order, which is also
  ``classes_[1]`` of a fitted classifier, the column ``predict_proba(X)[:, 1]``.
* A ratio whose denominator is zero (precision with no predicted positive,
  specificity with no negative) is 0.0, scikit-learn's ``zero_division=0``; an
  area under a curve that is undefined (only one class in ``y_true``) is None.

No TensorFlow here: these functions work with any scikit-learn classifier.
"""

from ._evaluate import evaluate, predict_scores
from ._summaries import best_threshold, binary_summary, multiclass_summary
from ._table import MetricsTable, format_cell

# predict_scores and format_cell serve the plots and the report.
__all__ = [
    "MetricsTable",
    "best_threshold",
    "binary_summary",
    "evaluate",
    "multiclass_summary",
]
