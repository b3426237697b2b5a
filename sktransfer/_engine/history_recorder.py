"""Learning curves of every candidate and fold of a search (:class:`HistoryRecorder`).

Public through :mod:`sktransfer.model_selection`.
"""

from dataclasses import dataclass

__all__ = ["FitHistory", "HistoryRecorder"]


@dataclass
class FitHistory:
    """One fit seen by a :class:`HistoryRecorder`.

    Attributes
    ----------
    estimator : str
        The estimator's class name.
    params : dict
        Its parameters (``get_params(deep=False)``, without ``callbacks``).
    history : dict of list
        Its ``history_``.
    """

    estimator: str
    params: dict
    history: dict


class HistoryRecorder:
    """Keep the ``history_`` of every fit, e.g. of every candidate and fold of a search.

    A search keeps the scores of its candidates, not their learning curves.
    Put a recorder in an sktransfer classifier's ``callbacks`` and every fit
    of the classifier and of its clones (each candidate and CV fold, then the
    refit) appends a :class:`FitHistory` to :attr:`records`; clones share the
    recorder instead of copying it. :meth:`search_histories` sorts them by
    candidate and fold, and :func:`sktransfer.plot.plot_search_histories`
    draws them. It is not a Keras callback: the classifier records its
    ``history_`` after fit (both stages of a two-stage fit).

    Fits must run in this process: ``n_jobs=None``, or threads
    (``joblib.parallel_backend("threading")``); worker processes fill copies
    of the recorder that are lost with them.

    Attributes
    ----------
    records : list of FitHistory
        One per fit, in the order the fits ended.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sktransfer import FineTunedClassifier
    >>> from sktransfer.datasets import load_sample
    >>> X, y = load_sample(size=32, n_per_class=6, return_X_y=True)
    >>> from sktransfer.model_selection import HistoryRecorder
    >>> recorder = HistoryRecorder()
    >>> clf = FineTunedClassifier("efficientnet_lite0", input_size=32, epochs=2,
    ...                           validation=2, random_state=0, callbacks=[recorder])
    >>> search = GridSearchCV(clf, {"learning_rate": [0.001, 0.01]}, cv=2).fit(X, y)
    >>> [len(folds) for folds in recorder.search_histories(search)]
    [2, 2]
    >>> sorted(recorder.search_histories(search)[0][0])
    ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(self):
        self.records = []

    def __deepcopy__(self, memo):
        # clone() deep-copies non-estimator parameters: every clone must
        # record here, not into a copy of its own.
        return self

    def record(self, estimator):
        """Append ``estimator``'s ``history_`` (called by its ``fit``)."""
        params = {k: v for k, v in estimator.get_params(deep=False).items() if k != "callbacks"}
        history = {k: list(v) for k, v in estimator.history_.items()}
        self.records.append(FitHistory(type(estimator).__name__, params, history))

    def clear(self):
        """Forget every record (before the next search)."""
        self.records.clear()

    def search_histories(self, search):
        """The recorded histories of a fitted search, by candidate and fold.

        Parameters
        ----------
        search : fitted GridSearchCV or RandomizedSearchCV
            Its estimator (or a step of it) had this recorder in its
            ``callbacks``.

        Returns
        -------
        histories : list of list of dict
            ``histories[i][k]`` is the ``history_`` of candidate ``i`` (the
            order of ``cv_results_["params"]``) on CV fold ``k``; a
            candidate without sktransfer classifier has an empty list. The
            refit's history is left out.

        Raises
        ------
        ValueError
            If no record matches any candidate (fits in worker processes, or
            a recorder that was not in the estimator's ``callbacks``).
        """
        candidates = search.cv_results_["params"]
        n_splits = search.n_splits_
        histories = []
        for candidate in candidates:
            found = [r.history for r in self.records if _matches(r, candidate)]
            histories.append(found[:n_splits])
        if not any(histories):
            raise ValueError(
                f"None of the {len(self.records)} recorded fits matches a candidate of the search: "
                "was the recorder in the estimator's callbacks, and did the search fit in this "
                "process (n_jobs=None or the threading backend)?"
            )
        return histories


def _matches(record, candidate):
    """Whether the fit ``record`` is one of the ``candidate`` parameters' fits."""
    for name, value in candidate.items():
        key = name.rsplit("__", 1)[-1]
        if key in record.params:
            if not _same(record.params[key], value):
                return False
        elif hasattr(value, "get_params"):  # an estimator as the parameter (tuning's "model")
            if type(value).__name__ != record.estimator:
                return False
            theirs = {k: v for k, v in value.get_params(deep=False).items() if k != "callbacks"}
            if any(not _same(record.params.get(k), v) for k, v in theirs.items()):
                return False
        else:
            return False
    return True


def _same(a, b):
    try:
        if bool(a == b):
            return True
    except (TypeError, ValueError):  # arrays, objects without __eq__
        pass
    return type(a) is type(b) and repr(a) == repr(b)
