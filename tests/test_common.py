"""scikit-learn's estimator properties that its common checks test on tabular data only.

``test_sklearn_checks.py`` lists the checks that cannot feed images (they fit on
2-D feature matrices); these are the same properties on images, for each kind of
network: a frozen part cached at a cut, no frozen part (every layer trains), a
network from scratch, and the embedder. Pickling, cloning and unchanged
parameters are tested in ``test_persistence.py``.
"""

import os
import pickle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE

from sktransfer import FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier

METHODS = ("predict", "predict_proba", "decision_function", "transform")


def _estimators():
    return {
        "frozen part": FineTunedClassifier(
            BACKBONE, input_size=SIZE, epochs=1, head=(8,), batch_size=8, random_state=0
        ),
        "no frozen part": FineTunedClassifier(
            "mobilenet_0.25",
            weights=None,
            input_size=SIZE,
            epochs=1,
            head=(8,),
            trainable_layers="all",
            tta=False,
            batch_size=8,
            random_state=0,
        ),
        "scratch": SimpleCNNClassifier(
            conv_filters=(4,), dense_units=8, input_size=SIZE, epochs=1, batch_size=8, random_state=0
        ),
        "embedder": PretrainedEmbedder(BACKBONE, input_size=SIZE),
    }


@pytest.fixture(scope="module", params=list(_estimators()))
def fitted(request, binary_sample):
    X, y = binary_sample
    est = _estimators()[request.param]
    assert est.fit(X, y) is est  # check_estimators_fit_returns_self
    return est


def _methods(est):
    return [m for m in METHODS if hasattr(est, m)]


@pytest.mark.parametrize("copy", ["fitted", "unpickled"])
def test_outputs_leave_the_estimator_unchanged(fitted, copy, binary_sample):
    """check_dict_unchanged: predicting and transforming add or replace no attribute
    (a classifier stored its frozen stages on first prediction, after pickling
    always, without a frozen part even right after fit)."""
    X, _ = binary_sample
    est = fitted if copy == "fitted" else pickle.loads(pickle.dumps(fitted))
    before = dict(vars(est))
    for method in _methods(est):
        getattr(est, method)(X[:5])
    after = vars(est)
    assert after.keys() == before.keys()
    assert all(after[key] is before[key] for key in before)


def test_outputs_of_a_subset_and_of_a_permutation(fitted, binary_sample):
    """check_methods_subset_invariance and check_methods_sample_order_invariance: an
    image's outputs do not depend on which other images, or in which order, come
    with it (up to float32 round-off: passes run in batches)."""
    X, _ = binary_sample
    order = np.random.RandomState(0).permutation(len(X))
    for method in _methods(fitted):
        whole = getattr(fitted, method)(X)
        subset = getattr(fitted, method)(X[7:12])
        shuffled = getattr(fitted, method)(X[order])
        if method == "predict":
            np.testing.assert_array_equal(subset, whole[7:12])
            np.testing.assert_array_equal(shuffled, whole[order])
        else:
            np.testing.assert_allclose(subset, whole[7:12], rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(shuffled, whole[order], rtol=1e-4, atol=1e-5)


def test_repeated_outputs_trace_nothing_new(fitted, binary_sample):
    """Outputs reuse their models and compiled functions (without a frozen part, every
    prediction built a new model and traced its function again)."""
    from traces import count_traces

    X, _ = binary_sample
    for method in _methods(fitted):
        getattr(fitted, method)(X)
    with count_traces() as traces:
        for method in _methods(fitted):
            getattr(fitted, method)(X)
    assert len(traces) == 0, traces.names
