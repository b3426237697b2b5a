"""Per-class splits: a fixed number of images of every class in each part.

Course assignments and small image datasets are usually split "N images of
each class for training, M for testing" rather than by a global fraction.
:class:`PerClassSplit` and :class:`FirstNPerClassSplit` are scikit-learn
cross-validation splitters (usable as ``cv=``); :func:`per_class_split` is
the :func:`~sklearn.model_selection.train_test_split` counterpart, with an
optional validation part.

Within each class the parts are taken in the order train, validation, test,
from the class's samples in their given order, or after shuffling them.
Without shuffling, the first images of a class train and the last ones test.
Splitters yield sorted indices; counts given as floats are fractions of each
class (rounded up for test and validation, down for training).

:class:`HistoryRecorder` keeps the learning curves (``history_``) of every
candidate and fold of a search.
"""

import inspect
import math
import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import _safe_indexing, check_random_state, indexable
from sklearn.utils.validation import column_or_1d

from ._engine.history_recorder import FitHistory, HistoryRecorder

__all__ = ["FirstNPerClassSplit", "FitHistory", "HistoryRecorder", "PerClassSplit", "per_class_split"]


def _check_count(name, value, *, allow_none=False, allow_zero=False):
    if value is None and allow_none:
        return
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if value >= (0 if allow_zero else 1):
            return
    elif isinstance(value, numbers.Real) and 0 < value < 1:
        return
    lowest = 0 if allow_zero else 1
    none = "None, " if allow_none else ""
    raise ValueError(
        f"{name} must be {none}an int >= {lowest} (images per class) or a float in (0, 1) "
        f"(fraction of each class), got {value!r}."
    )


def _check_shuffle(shuffle, random_state):
    if not shuffle and random_state is not None:
        raise ValueError(
            f"random_state={random_state!r} has no effect since shuffle is False; leave "
            "random_state=None or set shuffle=True."
        )


def _count(value, n_class, round_up):
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    exact = round(value * n_class, 9)  # 0.07 * 100 is 7.000000000000001: must not ceil to 8
    return math.ceil(exact) if round_up else math.floor(exact)


def _per_class_parts(y, n_train, n_val, n_test, rng, owner):
    """Split the indices of every class into (train, val, test), grouped by class.

    ``n_train=None`` (or ``n_test=None``) gives each class's remaining samples
    to that part; `rng` None keeps the given order.
    """
    if y is None:
        raise ValueError(f"{owner} needs the class labels: pass y, e.g. cross_val_score(est, X, y, cv=...).")
    y = column_or_1d(y)
    classes, inverse = np.unique(y, return_inverse=True)
    parts = ([], [], [])
    for k, cls in enumerate(classes):
        cls = cls.item() if isinstance(cls, np.generic) else cls  # repr 'cat', not np.str_('cat')
        idx = np.flatnonzero(inverse == k)
        size = len(idx)
        tr = _count(n_train, size, round_up=False)
        va, te = _count(n_val, size, round_up=True), _count(n_test, size, round_up=True)
        tr = size - va - te if tr is None else tr
        te = size - va - tr if te is None else te
        if min(tr, te) < 1 or tr + va + te > size:
            counts = (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
            asked = " + ".join(f"{name}={value!r}" for name, value in counts if value)
            rest = ["training", "testing"][n_train is not None]
            rest = f" with at least 1 left for {rest}" if None in (n_train, n_test) else ""
            raise ValueError(
                f"{owner}: class {cls!r} has only {size} samples, too few for {asked}{rest}; "
                "lower the counts or drop this class."
            )
        if rng is not None:
            idx = rng.permutation(idx)
        for part, (start, stop) in zip(parts, ((0, tr), (tr, tr + va), (tr + va, tr + va + te))):
            part.append(idx[start:stop])
    return tuple(np.concatenate(p).astype(np.intp, copy=False) for p in parts)


class _PerClassSplitter(BaseCrossValidator):
    """Base of the per-class splitters: `split` needs `y`, yields sorted indices.

    Subclasses implement ``_train_test(y)``, a generator of (train, test)
    index arrays, and ``get_n_splits``.
    """

    @classmethod
    def _get_param_names(cls):
        return sorted(name for name in inspect.signature(cls.__init__).parameters if name != "self")

    def get_params(self, deep=True):
        """The constructor's arguments by name (``sktransfer.save`` stores them)."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def split(self, X, y=None, groups=None):
        """Generate train and test indices; `y` is required, `groups` ignored.

        Parameters
        ----------
        X : array-like or list of paths
            Samples; only their number is used.
        y : array-like of shape (n_samples,)
            Class labels.
        groups : object
            Ignored.

        Yields
        ------
        train, test : ndarray of int
            Sorted indices of the two parts.
        """
        X, y = indexable(X, y)
        for train, test in self._train_test(y):
            yield np.sort(train), np.sort(test)


class PerClassSplit(_PerClassSplitter):
    """Random train/test splits with exactly `n_test` samples of each class in test.

    Every sample not in the test part is in the training part. With
    ``n_splits > 1`` each split draws a new random test set, like
    :class:`~sklearn.model_selection.StratifiedShuffleSplit` but with a fixed
    count per class instead of class proportions.

    Parameters
    ----------
    n_test : int or float, default=20
        Test samples per class, or (float in (0, 1)) the fraction of each
        class, rounded up.
    n_splits : int, default=1
        Number of splits.
    shuffle : bool, default=True
        Draw the test samples at random. If False, the last `n_test` samples
        of each class (in the given order) are the test set; `n_splits` must
        then be 1.
    random_state : int, RandomState instance or None, default=None
        Controls the draws; pass an int for reproducible splits.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array(["cat"] * 5 + ["dog"] * 4)
    >>> cv = PerClassSplit(n_test=2, random_state=0)
    >>> train, test = next(cv.split(np.zeros(9), y))
    >>> sorted(y[test].tolist())
    ['cat', 'cat', 'dog', 'dog']
    >>> cv
    PerClassSplit(n_splits=1, n_test=2, random_state=0, shuffle=True)
    """

    def __init__(self, n_test=20, *, n_splits=1, shuffle=True, random_state=None):
        _check_count("n_test", n_test)
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool) or n_splits < 1:
            raise ValueError(f"n_splits must be an int >= 1, got {n_splits!r}.")
        _check_shuffle(shuffle, random_state)
        if not shuffle and n_splits > 1:
            raise ValueError(
                f"n_splits={n_splits} with shuffle=False would repeat the same split; "
                "set shuffle=True or n_splits=1."
            )
        self.n_test = n_test
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def _train_test(self, y):
        rng = check_random_state(self.random_state) if self.shuffle else None
        for _ in range(self.n_splits):
            train, _, test = _per_class_parts(y, None, 0, self.n_test, rng, "PerClassSplit")
            yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, `n_splits`."""
        return self.n_splits


class FirstNPerClassSplit(_PerClassSplitter):
    """One split: the first `n_train` samples of each class train, the next `n_test` test.

    "Use the first 1000 cats and dogs for training and the next 500 for
    validation" is ``FirstNPerClassSplit(1000, 500)``. Samples after those
    are in neither part. The order is the given one, so the split is the
    same on every run.

    Parameters
    ----------
    n_train : int
        Training samples per class.
    n_test : int or None
        Test samples per class, following the training ones; None takes all
        remaining samples of each class.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array(["cat", "dog"] * 4)
    >>> train, test = next(FirstNPerClassSplit(2, 1).split(np.zeros(8), y))
    >>> train.tolist(), test.tolist()
    ([0, 1, 2, 3], [4, 5])
    """

    def __init__(self, n_train, n_test):
        _check_count("n_train", n_train)
        _check_count("n_test", n_test, allow_none=True)
        for name, value in (("n_train", n_train), ("n_test", n_test)):
            if isinstance(value, float):
                raise ValueError(f"{name} must be an int (samples per class), got {value!r}.")
        self.n_train = n_train
        self.n_test = n_test

    def _train_test(self, y):
        train, _, test = _per_class_parts(y, self.n_train, 0, self.n_test, None, "FirstNPerClassSplit")
        yield train, test

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, always 1."""
        return 1


def per_class_split(*arrays, y, n_test, n_val=0, n_train=None, shuffle=True, random_state=None):
    """Split arrays into train and test (and validation) parts, per class.

    The per-class counterpart of :func:`~sklearn.model_selection.train_test_split`:
    "300 training, 75 validation and 75 test images of each class" is
    ``per_class_split(X, y, y=y, n_train=300, n_val=75, n_test=75)``.

    Parameters
    ----------
    *arrays : sequence of indexables of the same length
        Lists, numpy arrays (e.g. images), pandas objects or sparse matrices.
    y : array-like of shape (n_samples,)
        Class labels used to split; pass it in `arrays` as well to split it.
    n_test : int or float
        Test samples per class, or a fraction of each class (rounded up).
    n_val : int or float, default=0
        Validation samples per class; 0 means no validation part.
    n_train : int, float or None, default=None
        Training samples per class (a fraction is rounded down); None takes
        all remaining samples. Samples beyond the three counts are dropped.
    shuffle : bool, default=True
        Draw each part at random within each class; the parts then come in
        random order. If False, parts keep the given order and take the first
        samples of each class for training, the next for validation and test.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling.

    Returns
    -------
    splitting : list
        ``[a_train, a_test, b_train, b_test, ...]``, or with ``n_val > 0``
        ``[a_train, a_val, a_test, ...]``, of the same types as the inputs.

    Raises
    ------
    ValueError
        If a class has fewer samples than the counts need (the message names
        the class), or the arguments are invalid.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12).reshape(6, 2)
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> X_train, X_test, y_train, y_test = per_class_split(
    ...     X, y, y=y, n_test=1, shuffle=False)
    >>> y_train.tolist(), y_test.tolist()
    ([0, 0, 1, 1], [0, 1])
    """
    if not arrays:
        raise ValueError("per_class_split needs at least one array to split, e.g. (X, y, y=y).")
    _check_count("n_test", n_test)
    _check_count("n_val", n_val, allow_zero=True)
    _check_count("n_train", n_train, allow_none=True)
    _check_shuffle(shuffle, random_state)
    *arrays, y = indexable(*arrays, y)
    rng = check_random_state(random_state) if shuffle else None
    parts = _per_class_parts(y, n_train, n_val, n_test, rng, "per_class_split")
    parts = [rng.permutation(p) if shuffle else np.sort(p) for p in parts]
    if not n_val:
        parts = [parts[0], parts[2]]
    return [_safe_indexing(a, p) for a in arrays for p in parts]
