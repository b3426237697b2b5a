"""write_report: the sections assembled into one self-contained HTML file (see
:mod:`sktransfer.report`)."""

import datetime
import os

import matplotlib.pyplot as plt
from sklearn.utils.validation import column_or_1d

from .. import __version__
from .._utils.atomic import write_file
from ..metrics import evaluate
from ..plot import (
    estimator_name,
)
from ._html import _page

__all__ = ["write_report"]


from ._sections import (
    _comparison_section,
    _data_section,
    _estimator_section,
    _evaluation_sections,
    _learning_section,
    _metrics_section,
    _Predictions,
    _search_section,
)


def write_report(
    path,
    estimator,
    X_test,
    y_test,
    *,
    X_train=None,
    y_train=None,
    search=None,
    comparison=None,
    title="sktransfer report",
    data_summary=None,
):
    """Write one self-contained HTML report of a fitted classifier.

    Sections: title and date; data (`data_summary`, then image counts per
    class for train and test); the estimator (``get_params(deep=False)`` of
    it or of each Pipeline step, long values shortened, and
    ``backbone_info_``); test metrics from :func:`sktransfer.metrics.evaluate`
    (binary summary, or the per-class table); learning curves and their
    diagnosis (when the estimator, or a Pipeline's first step having one,
    has ``history_``); the confusion matrix (counts and normalised, and
    one-vs-rest for more than two classes); ROC and precision-recall curves;
    the 5 worst errors; the grid search (when `search` is given) and the
    model comparison (when `comparison` is given).

    Parameters
    ----------
    path : str or path-like
        The HTML file to write; it is replaced atomically (written next to
        it, then renamed), so a reader never sees half a report.
    estimator : fitted classifier
        An sktransfer classifier, a Pipeline or a fitted search.
    X_test, y_test : array-like
        Test images (arrays or file paths) and labels, predicted once.
    X_train, y_train : array-like, default=None
        Training data; only the labels are used (class counts). `X_train`
        is accepted so a call can pass the whole split.
    search : fitted GridSearchCV or RandomizedSearchCV, default=None
        Adds the validation error plots (x: ``trainable_layers`` when
        searched, else the numeric parameter with most values; lines:
        ``batch_size`` when searched, else the parameter with fewest values;
        plus by optimizer and by epochs when those were searched) and the top
        10 candidates.
    comparison : ComparisonTable or list of dict, default=None
        The result of :func:`sktransfer.compare.compare_models`.
    title : str, default="sktransfer report"
    data_summary : dict, default=None
        Extra facts about the data (source, image size, ...), shown as is.

    Returns
    -------
    path : str
        The path written.

    Examples
    --------
    >>> import os, tempfile
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=16, n_per_class=10, return_X_y=True)
    >>> flatten = FunctionTransformer(lambda a: a.reshape(len(a), -1) / 255)
    >>> clf = make_pipeline(flatten, LogisticRegression(max_iter=1000)).fit(X[::2], y[::2])
    >>> path = write_report(os.path.join(tempfile.mkdtemp(), "run.html"), clf, X[1::2], y[1::2])
    >>> open(path).read().count('<img src="data:image/png;base64,')  # 4 classes: one-vs-rest too
    4
    """
    del X_train  # the counts come from the labels
    path = os.fspath(path)
    y_test = column_or_1d(y_test)
    open_before = set(plt.get_fignums())
    try:
        name = estimator_name(estimator)
        frozen = _Predictions(estimator, X_test)  # the one prediction pass
        sections = [
            ("data", "Data", _data_section(estimator, y_train, y_test, data_summary)),
            ("estimator", "Estimator", _estimator_section(estimator)),
            ("metrics", "Test metrics", _metrics_section(evaluate(frozen, X_test, y_test), frozen.classes_)),
            ("learning", "Learning curves", _learning_section(estimator)),
            *_evaluation_sections(frozen, X_test, y_test, name),
        ]
        if search is not None:
            sections.append(("search", "Grid search", _search_section(search)))
        if comparison is not None:
            sections.append(("comparison", "Model comparison", _comparison_section(comparison)))
    finally:
        for number in set(plt.get_fignums()) - open_before:
            plt.close(number)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = f"{name} on {len(y_test)} test images; generated {now} by sktransfer {__version__}."
    _write_atomically(path, _page(title, meta, sections))
    return path


def _write_atomically(path, text):
    """Write next to `path`, then rename: readers see the old file or the new one."""
    write_file(path, text)
