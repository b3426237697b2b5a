import os
import pickle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import joblib
import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier


def _estimators():
    return [
        FineTunedClassifier(
            BACKBONE,
            input_size=SIZE,
            epochs=2,
            head=(8,),
            trainable_layers=2,
            augmentation=Augmentation(flip="horizontal"),
            random_state=0,
            tta=False,
        ),
        SimpleCNNClassifier(conv_filters=(4, 8), dense_units=8, input_size=SIZE, epochs=1, random_state=0),
        PretrainedEmbedder(BACKBONE, input_size=SIZE),
    ]


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return [est.predict_proba(X), est.transform(X), est.decision_function(X)]
    return [est.transform(X)]


@pytest.mark.parametrize("estimator", _estimators(), ids=lambda e: type(e).__name__)
def test_pickle_joblib_and_clone_round_trip(estimator, binary_sample, tmp_path):
    X, y = binary_sample
    with pytest.raises(NotFittedError):
        estimator.transform(X)
    unfitted = pickle.loads(pickle.dumps(estimator))
    assert unfitted.get_params().keys() == estimator.get_params().keys()

    fitted = estimator.fit(X, y)
    expected = _outputs(fitted, X)
    restored = pickle.loads(pickle.dumps(fitted))
    joblib.dump(fitted, tmp_path / "est.joblib")
    from_joblib = joblib.load(tmp_path / "est.joblib")
    for copy in (restored, from_joblib):
        for a, b in zip(expected, _outputs(copy, X)):
            np.testing.assert_array_equal(a, b)
    if hasattr(fitted, "classes_"):
        np.testing.assert_array_equal(restored.classes_, fitted.classes_)
        assert restored.history_ == fitted.history_

    # clone at every point: unfitted copy with equal parameters
    for source in (estimator, fitted, restored):
        copy = clone(source)
        assert not hasattr(copy, "model_")
        assert repr(copy.get_params()) == repr(estimator.get_params())


def test_fit_does_not_change_parameters(binary_sample):
    X, y = binary_sample
    est = _estimators()[0]
    before = joblib.hash(est.get_params())
    est.fit(X, y)
    assert joblib.hash(est.get_params()) == before


def test_pickling_and_saving_a_fitted_estimator_emit_no_warning(binary_sample, tmp_path):
    import warnings

    from sktransfer.persistence import load, save

    X, y = binary_sample
    fitted = SimpleCNNClassifier(
        conv_filters=(4,), dense_units=4, input_size=SIZE, epochs=1, random_state=0
    ).fit(X[::4], y[::4])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = pickle.loads(pickle.dumps(fitted))
        load(save(fitted, tmp_path / "saved"))
    assert [str(w.message)[:80] for w in caught] == []
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))
