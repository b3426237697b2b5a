import doctest

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from threadpoolctl import threadpool_limits

import sktransfer.model_selection as model_selection_module
from sktransfer.model_selection import FirstNPerClassSplit, PerClassSplit, per_class_split


def _labels():
    # Interleaved and unbalanced on purpose: 30 cats, 25 dogs, 12 birds.
    y = np.array(["cat"] * 30 + ["dog"] * 25 + ["bird"] * 12, dtype=object)
    return np.random.default_rng(0).permutation(y)


def test_doctests():
    assert doctest.testmod(model_selection_module).failed == 0


def test_per_class_split_exact_counts_and_disjoint():
    y = _labels()
    cv = PerClassSplit(n_test=5, n_splits=3, random_state=0)
    assert cv.get_n_splits() == 3
    splits = list(cv.split(np.zeros((len(y), 4, 4, 3)), y))
    assert len(splits) == 3
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert len(train) + len(test) == len(y)
        assert np.all(np.diff(train) > 0) and np.all(np.diff(test) > 0)
        for cls in ("cat", "dog", "bird"):
            assert np.sum(y[test] == cls) == 5
    assert not np.array_equal(splits[0][1], splits[1][1])


def test_per_class_split_fraction_and_determinism():
    y = _labels()
    first = list(PerClassSplit(0.2, n_splits=2, random_state=42).split(y, y))
    again = list(PerClassSplit(0.2, n_splits=2, random_state=42).split(y, y))
    for (a_tr, a_te), (b_tr, b_te) in zip(first, again):
        np.testing.assert_array_equal(a_tr, b_tr)
        np.testing.assert_array_equal(a_te, b_te)
    test = first[0][1]
    assert [np.sum(y[test] == c) for c in ("cat", "dog", "bird")] == [6, 5, 3]  # ceil


def test_fraction_rounding_is_exact():
    y = np.repeat([0, 1], 100)
    _, test = next(PerClassSplit(0.07, random_state=0).split(y, y))
    assert len(test) == 14  # 0.07 * 100 is 7.000000000000001 in floats: still 7 per class
    X_tr, X_te = per_class_split(np.arange(200), y=y, n_train=0.29, n_test=0.07, random_state=0)
    assert len(X_tr) == 2 * 29 and len(X_te) == 14  # 0.29 * 100 is 28.999999999999996


def test_per_class_split_no_shuffle_takes_last():
    y = np.array([0, 1, 0, 1, 0, 1, 0])
    train, test = next(PerClassSplit(2, shuffle=False).split(y, y))
    assert test.tolist() == [3, 4, 5, 6] and train.tolist() == [0, 1, 2]


@threadpool_limits.wrap(limits=1)  # BLAS threads only add overhead on these tiny fits
def test_per_class_split_in_cross_val_score_and_grid_search():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 20)
    X = rng.normal(size=(60, 5)) + y[:, None]
    scores = cross_val_score(
        LogisticRegression(), X, y, cv=PerClassSplit(n_test=5, n_splits=4, random_state=0)
    )
    assert scores.shape == (4,) and scores.mean() > 0.7
    search = GridSearchCV(
        LogisticRegression(), {"C": [0.1, 1.0]}, cv=PerClassSplit(4, n_splits=2, random_state=0)
    ).fit(X, y)
    assert search.n_splits_ == 2
    assert cross_val_score(LogisticRegression(), X, y, cv=FirstNPerClassSplit(10, 5)).shape == (1,)


def test_too_few_samples_names_class():
    y = _labels()
    with pytest.raises(ValueError, match=r"class 'bird' has only 12 samples.*n_test=12"):
        next(PerClassSplit(12, random_state=0).split(y, y))
    with pytest.raises(ValueError, match="needs the class labels"):
        next(PerClassSplit(2).split(np.zeros(5)))


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n_test": 0}, "n_test must be"),
        ({"n_test": 1.5}, "n_test must be"),
        ({"n_test": True}, "n_test must be"),
        ({"n_test": 2, "n_splits": 0}, "n_splits"),
        ({"n_test": 2, "shuffle": False, "random_state": 0}, "no effect"),
        ({"n_test": 2, "shuffle": False, "n_splits": 2}, "same split"),
    ],
)
def test_per_class_split_argument_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        PerClassSplit(**kwargs)


def test_repr():
    assert repr(PerClassSplit(3, random_state=1)) == (
        "PerClassSplit(n_splits=1, n_test=3, random_state=1, shuffle=True)"
    )
    assert repr(FirstNPerClassSplit(10, 5)) == "FirstNPerClassSplit(n_test=5, n_train=10)"


def test_first_n_per_class_ordering():
    y = np.array(["a", "b"] * 6 + ["a"] * 3)  # a: 9 samples, b: 6
    train, test = next(FirstNPerClassSplit(3, 2).split(np.zeros(len(y)), y))
    a_idx, b_idx = np.flatnonzero(y == "a"), np.flatnonzero(y == "b")
    assert train.tolist() == sorted([*a_idx[:3], *b_idx[:3]])
    assert test.tolist() == sorted([*a_idx[3:5], *b_idx[3:5]])
    train, rest = next(FirstNPerClassSplit(4, None).split(y, y))
    assert len(rest) == (9 - 4) + (6 - 4) and np.intersect1d(train, rest).size == 0
    assert FirstNPerClassSplit(1, 1).get_n_splits() == 1


def test_first_n_per_class_errors():
    y = np.array(["a"] * 10 + ["b"] * 4)
    with pytest.raises(ValueError, match=r"class 'b' has only 4 samples.*n_train=3 \+ n_test=2"):
        next(FirstNPerClassSplit(3, 2).split(y, y))
    with pytest.raises(ValueError, match="at least 1 left for testing"):
        next(FirstNPerClassSplit(4, None).split(y, y))
    with pytest.raises(ValueError, match="n_train must be an int"):
        FirstNPerClassSplit(0.5, 2)


def test_function_train_val_test_counts():
    pd = pytest.importorskip("pandas")
    y = np.repeat(["cat", "dog"], [450, 460])
    X = np.arange(len(y))
    paths = [f"img{i}.jpg" for i in range(len(y))]
    series = pd.Series(y, index=np.arange(len(y)) + 1000)
    out = per_class_split(X, paths, series, y=y, n_train=300, n_val=75, n_test=75, random_state=0)
    assert len(out) == 9
    X_tr, X_va, X_te, p_tr, p_va, p_te, s_tr, s_va, s_te = out
    assert isinstance(p_tr, list) and isinstance(s_tr, pd.Series)
    for part, n in ((X_tr, 300), (X_va, 75), (X_te, 75)):
        assert np.sum(y[part] == "cat") == n and np.sum(y[part] == "dog") == n
    assert len(set(X_tr) | set(X_va) | set(X_te)) == 2 * 450  # disjoint, 10 dogs unused
    assert p_va == [f"img{i}.jpg" for i in X_va]
    np.testing.assert_array_equal(s_te.to_numpy(), y[X_te])
    again = per_class_split(X, y=y, n_train=300, n_val=75, n_test=75, random_state=0)
    np.testing.assert_array_equal(again[0], X_tr)


def test_function_no_shuffle_is_first_n():
    y = np.array(["a", "b"] * 10)
    X = np.arange(20)
    X_tr, X_te = per_class_split(X, y=y, n_train=4, n_test=3, shuffle=False)
    train, test = next(FirstNPerClassSplit(4, 3).split(X, y))
    np.testing.assert_array_equal(X_tr, train)
    np.testing.assert_array_equal(X_te, test)


def test_function_errors():
    y = np.array([0] * 5 + [1] * 3)
    with pytest.raises(ValueError, match=r"class 1 has only 3 samples.*n_val=1 \+ n_test=2"):
        per_class_split(y, y=y, n_val=1, n_test=2)
    with pytest.raises(ValueError, match="at least one array"):
        per_class_split(y=y, n_test=1)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        per_class_split(np.arange(3), y=y, n_test=1)
    with pytest.raises(ValueError, match="n_val must be"):
        per_class_split(y, y=y, n_test=1, n_val=-1)
