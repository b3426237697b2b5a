"""``sample_weight`` in fit: what a weight means, and that scikit-learn's meta-estimators pass it.

The reference is duplication (scikit-learn's meaning of an integer weight):
with one batch holding every training image, an image of weight 2 must train
the network exactly as the same image given twice does.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
import sklearn
from conftest import BACKBONE, SIZE
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier


@pytest.fixture(scope="module")
def small(sample):
    """12 images, 3 of each class: full batches stay small."""
    X, y = sample
    idx = np.concatenate([np.flatnonzero(y == c)[:3] for c in np.unique(y)])
    return X[idx], y[idx]


def _finetuned(**params):
    # batch_size above the 13 images of the duplicated set: one full batch per epoch.
    # Plain SGD: unlike Adam's, its steps scale with the loss, so a weight that
    # counted N/(N+1) too much or too little would show.
    defaults = dict(
        backbone=BACKBONE,
        input_size=SIZE,
        epochs=3,
        batch_size=64,
        optimizer="sgd",
        learning_rate=0.5,
        random_state=0,
        tta=False,
    )
    return FineTunedClassifier(**{**defaults, **params})


def _duplicated(X, y, i):
    return np.concatenate([X, X[i : i + 1]]), np.concatenate([y, y[i : i + 1]])


def _weight_two(y, i):
    w = np.ones(len(y))
    w[i] = 2.0
    return w


@pytest.mark.parametrize(
    "params",
    [
        {},  # head only, on cached activations
        {"class_weight": {"dahlia": 3.0}},  # class weights multiply the sample weights
        {"trainable_layers": 2, "head_epochs": 2, "epochs": 2},  # both stages weighted
    ],
    ids=["head", "class_weight", "two_stage"],
)
def test_weight_two_equals_a_duplicated_image(small, params):
    X, y = small
    weighted = _finetuned(**params).fit(X, y, sample_weight=_weight_two(y, 0))
    duplicated = _finetuned(**params).fit(*_duplicated(X, y, 0))
    np.testing.assert_allclose(weighted.predict_proba(X), duplicated.predict_proba(X), rtol=0, atol=2e-5)
    if not params:  # the weight changes the fit (so the equality above can fail)
        unweighted = _finetuned().fit(X, y)
        assert np.abs(weighted.predict_proba(X) - unweighted.predict_proba(X)).max() > 1e-3


def test_simple_cnn_weight_two_equals_a_duplicated_image(small):
    X, y = small

    def make():
        return SimpleCNNClassifier(
            conv_filters=(4,),
            dense_units=8,
            dropout=0.0,
            input_size=16,
            epochs=3,
            batch_size=64,
            random_state=0,
        )

    weighted = make().fit(X, y, sample_weight=_weight_two(y, 5))
    duplicated = make().fit(*_duplicated(X, y, 5))
    np.testing.assert_allclose(weighted.predict_proba(X), duplicated.predict_proba(X), rtol=0, atol=2e-5)


def test_only_ratios_matter_and_zero_weight_is_no_image(small):
    X, y = small
    w = np.linspace(0.5, 2.0, len(y))
    base = _finetuned().fit(X, y, sample_weight=w).predict_proba(X)
    scaled = _finetuned().fit(X, y, sample_weight=10 * w).predict_proba(X)
    np.testing.assert_allclose(base, scaled, rtol=0, atol=2e-5)
    # Weight 0 on a class: on a full batch, the same as leaving its images out of
    # the loss; its predicted probability falls below the unweighted fit's.
    zero = np.where(y == "dahlia", 0.0, 1.0)
    column = list(np.unique(y)).index("dahlia")
    without = _finetuned().fit(X, y, sample_weight=zero).predict_proba(X)[:, column]
    plain = _finetuned().fit(X, y).predict_proba(X)[:, column]
    assert without.mean() < plain.mean()


def test_sample_weight_with_augmented_views_has_an_effect(small):
    from sktransfer import Augmentation

    X, y = small
    aug = Augmentation(n_views=2)
    params = dict(augmentation=aug, epochs=2)
    w = np.where(y == "dahlia", 5.0, 1.0)
    weighted = _finetuned(**params).fit(X, y, sample_weight=w).predict_proba(X)
    plain = _finetuned(**params).fit(X, y).predict_proba(X)
    column = list(np.unique(y)).index("dahlia")
    assert weighted[:, column].mean() > plain[:, column].mean()


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones(3), "sample_weight"),
        (-np.ones(12), "Negative values"),
        (np.zeros(12), "non-zero"),
    ],
)
def test_bad_sample_weight(small, bad, message):
    X, y = small
    with pytest.raises(ValueError, match=message):
        _finetuned().fit(X, y, sample_weight=bad)


def test_embedder_accepts_and_ignores_sample_weight(small):
    X, y = small
    embedder = PretrainedEmbedder(BACKBONE, input_size=SIZE)
    plain = embedder.fit(X).transform(X)
    np.testing.assert_array_equal(embedder.fit(X, y, sample_weight=np.arange(12)).transform(X), plain)
    # Routing never asks the embedder for it: a weighted pipeline needs no request on it.
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            PretrainedEmbedder(BACKBONE, input_size=SIZE),
            LogisticRegression().set_fit_request(sample_weight=True),
        )
        pipe.fit(X, y, sample_weight=np.arange(1.0, 13.0))
    reference = LogisticRegression().fit(plain, y, sample_weight=np.arange(1.0, 13.0))
    np.testing.assert_allclose(pipe[-1].coef_, reference.coef_)


# -- scikit-learn's meta-estimators pass the weights ------------------------------------
def _weights(y):
    return np.where(y == "dahlia", 4.0, 1.0)


def test_routing_calibrated_classifier_passes_weights_to_the_estimator(small):
    X, y = small
    w = _weights(y)
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _finetuned().set_fit_request(sample_weight=True)
        calibrated = CalibratedClassifierCV(clf, cv=3).fit(X, y, sample_weight=w)
    train, _ = next(StratifiedKFold(3).split(X, y))  # CalibratedClassifierCV's cv=3
    reference = _finetuned().fit(X[train], y[train], sample_weight=w[train])
    fold_model = calibrated.calibrated_classifiers_[0].estimator
    np.testing.assert_allclose(fold_model.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-5)


def test_routing_cross_validate_and_grid_search(small):
    X, y = small
    w = _weights(y)
    cv = StratifiedKFold(2)
    with sklearn.config_context(enable_metadata_routing=True):
        # score takes sample_weight too (ClassifierMixin): say whether it should.
        clf = _finetuned().set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        result = cross_validate(clf, X, y, cv=cv, params={"sample_weight": w}, return_estimator=True)
        search = GridSearchCV(clf, {"epochs": [2]}, cv=cv).fit(X, y, sample_weight=w)
    for (train, _), fitted in zip(cv.split(X, y), result["estimator"]):
        reference = _finetuned().fit(X[train], y[train], sample_weight=w[train])
        np.testing.assert_allclose(fitted.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-5)
    refit = _finetuned(epochs=2).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(
        search.best_estimator_.predict_proba(X), refit.predict_proba(X), rtol=0, atol=1e-5
    )


def test_without_routing_calibration_passes_weights_to_the_estimator(small):
    X, y = small
    w = _weights(y)
    # CalibratedClassifierCV passes sample_weight to an estimator whose fit takes it.
    calibrated = CalibratedClassifierCV(clone(_finetuned()), cv=3).fit(X, y, sample_weight=w)
    train, _ = next(StratifiedKFold(3).split(X, y))
    reference = _finetuned().fit(X[train], y[train], sample_weight=w[train])
    np.testing.assert_allclose(
        calibrated.calibrated_classifiers_[0].estimator.predict_proba(X),
        reference.predict_proba(X),
        rtol=0,
        atol=1e-5,
    )
