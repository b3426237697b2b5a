"""Plots of training and evaluation results.

* :func:`plot_learning_curves` and :func:`diagnose_learning_curves`: loss and
  accuracy per epoch from ``history_``, and a rule-based verdict (over-fitted,
  under-fitted, well trained, diverged).
* :func:`plot_confusion_matrix`, :func:`plot_roc`, :func:`plot_precision_recall`:
  scikit-learn's ``ConfusionMatrixDisplay``, ``RocCurveDisplay`` and
  ``PrecisionRecallDisplay`` (one-vs-rest curves for more than two classes);
  :func:`plot_one_vs_rest`: one 2 x 2 matrix per class against the rest.
* :func:`worst_errors`: a gallery of the most confident mistakes, with thumbnails.
* :func:`plot_grid_search`, :func:`plot_param_comparison`, :func:`plot_by_epochs`:
  validation error of a fitted ``GridSearchCV`` by its parameters.

Every function works with any fitted scikit-learn classifier (a Pipeline, a
search); no TensorFlow is imported here. Figures are created with pyplot, so
they show in notebooks; pass ``ax=`` (or ``fig=``) to draw into your own.
"""

from ._errors import WorstErrors, worst_errors
from ._evaluation import (
    estimator_name,
    plot_confusion_matrix,
    plot_one_vs_rest,
    plot_precision_recall,
    plot_roc,
)
from ._histories import plot_search_histories
from ._learning_curves import LearningCurveDiagnosis, diagnose_learning_curves, plot_learning_curves
from ._search import plot_by_epochs, plot_grid_search, plot_param_comparison

# estimator_name serves the report.
__all__ = [
    "LearningCurveDiagnosis",
    "WorstErrors",
    "diagnose_learning_curves",
    "plot_by_epochs",
    "plot_confusion_matrix",
    "plot_grid_search",
    "plot_learning_curves",
    "plot_one_vs_rest",
    "plot_param_comparison",
    "plot_precision_recall",
    "plot_roc",
    "plot_search_histories",
    "worst_errors",
]
