"""Test-time augmentation (``FineTunedClassifier(tta=True)``): image + mirror image, averaged."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest


@pytest.mark.parametrize(
    "params",
    [
        dict(),  # head only: the pooled features are cached, mirrors get their own entries
        dict(
            trainable_layers="all", learning_rate=1e-4
        ),  # no frozen part: the whole network runs on the pixels
        dict(weights=None, trainable_layers=2),  # random weights: nothing cached
    ],
    ids=["head-only", "all", "random-weights"],
)
def test_tta_averages_image_and_mirror(params, sample, make_classifier):
    X, y = sample
    clf = make_classifier(epochs=2, head=(8,), **params).fit(X, y)
    plain = clf.predict_proba(X)
    mirrored = clf.predict_proba(X[:, :, ::-1])
    assert not np.allclose(plain, mirrored, atol=1e-4)  # the mirror really differs
    clf.set_params(tta=True)
    tta = clf.predict_proba(X)
    np.testing.assert_allclose(tta, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[np.argmax(tta, axis=1)])
    # decision_function stays consistent with predict; transform is not augmented.
    np.testing.assert_array_equal(np.argmax(clf.decision_function(X), axis=1), np.argmax(tta, axis=1))
    embeddings = clf.transform(X)
    np.testing.assert_array_equal(embeddings, clf.set_params(tta=False).transform(X))


def test_tta_binary_decision_function_is_log_odds(binary_sample, make_classifier):
    X, y = binary_sample
    clf = make_classifier(epochs=2, tta=True).fit(X, y)
    proba = clf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(
        clf.decision_function(X), np.log(proba) - np.log1p(-proba), rtol=1e-4, atol=1e-5
    )
    assert ((clf.decision_function(X) > 0) == (clf.predict(X) == clf.classes_[1])).all()


def test_tta_does_not_change_training(sample, make_classifier):
    X, y = sample
    a = make_classifier(epochs=2).fit(X, y)
    b = make_classifier(epochs=2, tta=True).fit(X, y)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-5, atol=1e-6)


def test_tta_rejects_non_boolean(sample, make_classifier):
    X, y = sample
    with pytest.raises(ValueError, match="tta"):
        make_classifier(tta="flip").fit(X, y)


def test_tta_is_the_default(binary_sample):
    from conftest import BACKBONE, SIZE

    from sktransfer import FineTunedClassifier

    X, y = binary_sample
    clf = FineTunedClassifier(BACKBONE, input_size=SIZE, epochs=2, random_state=0).fit(X, y)
    averaged = clf.predict_proba(X)
    clf.set_params(tta=False)
    single = (clf.predict_proba(X) + clf.predict_proba(X[:, :, ::-1])) / 2
    np.testing.assert_allclose(averaged, single, rtol=1e-5, atol=1e-6)
