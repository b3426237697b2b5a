"""What a fitted scikit-learn object holds: a search's best estimator, a Pipeline's steps."""

__all__ = ["final_estimator", "flat_parts", "unwrap"]


def unwrap(estimator):
    """``[(step name, estimator)]``: a search's ``best_estimator_`` unwrapped (repeatedly),
    then a Pipeline's steps, ``None`` and ``"passthrough"`` left out; anything else is
    ``[(None, estimator)]``.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.linear_model import LogisticRegression
    >>> [name for name, _ in unwrap(make_pipeline(StandardScaler(), LogisticRegression()))]
    ['standardscaler', 'logisticregression']
    >>> unwrap(LogisticRegression())
    [(None, LogisticRegression())]
    """
    while hasattr(estimator, "best_estimator_"):
        estimator = estimator.best_estimator_
    if hasattr(estimator, "steps"):
        return [(name, step) for name, step in estimator.steps if step not in (None, "passthrough")]
    return [(None, estimator)]


def flat_parts(estimator):
    """Every estimator inside ``estimator``, nested Pipelines and searches unwrapped."""
    parts = unwrap(estimator)
    if len(parts) == 1 and parts[0][0] is None:
        return [parts[0][1]]
    return [p for _, step in parts for p in flat_parts(step)]


def final_estimator(estimator):
    """The estimator that predicts: the last step of the (innermost) Pipeline."""
    while True:
        parts = unwrap(estimator)
        if not parts:
            return estimator
        name, last = parts[-1]
        if name is None and last is estimator:
            return estimator
        estimator = last
