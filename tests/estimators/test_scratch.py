import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from sktransfer import SimpleCNNClassifier


def test_default_architecture_is_five_conv_blocks_and_fc(binary_sample):
    X, y = binary_sample
    clf = SimpleCNNClassifier(input_size=32, epochs=1, random_state=0).fit(X, y)
    kinds = [layer.__class__.__name__ for layer in clf.model_.layers]
    assert kinds.count("Conv2D") == 5 and kinds.count("MaxPooling2D") == 5
    assert "Dense" in kinds and "Flatten" in kinds
    assert clf.transform(X[:2]).shape == (2, 256)


def test_learns_the_sample(sample):
    X, y = sample
    clf = SimpleCNNClassifier(
        conv_filters=(16, 32),
        dense_units=32,
        dropout=0.0,
        input_size=32,
        epochs=15,
        learning_rate=0.003,
        random_state=0,
    ).fit(X, y)
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.score(X, y) > 0.6
    proba = clf.predict_proba(X[:4])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)


def test_same_random_state_same_predictions(binary_sample):
    X, y = binary_sample
    params = dict(conv_filters=(8, 8), dense_units=8, input_size=32, epochs=2, random_state=3, batchnorm=True)
    first = SimpleCNNClassifier(**params).fit(X, y).predict_proba(X)
    second = SimpleCNNClassifier(**params).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(first, second, atol=1e-6)


def test_too_small_input_and_bad_filters(binary_sample):
    X, y = binary_sample
    with pytest.raises(ValueError, match="input_size"):
        SimpleCNNClassifier(input_size=16, epochs=1).fit(X, y)  # 5 halvings need >= 32
    with pytest.raises(ValueError, match="conv_filters"):
        SimpleCNNClassifier(conv_filters=(8, -1), input_size=32, epochs=1).fit(X, y)


def test_numpy_integers_from_grids_are_accepted(binary_sample):
    """Regression: np.int64 kernel sizes and filters (np.arange in a grid) passed
    the parameter checks, then Keras' Conv2D rejected them."""
    X, y = binary_sample
    clf = SimpleCNNClassifier(
        conv_filters=(np.int64(4),),
        kernel_size=np.int64(3),
        dense_units=np.int64(4),
        input_size=8,
        epochs=1,
        random_state=0,
    ).fit(X, y)
    assert clf.model_.get_layer("conv1").kernel_size == (3, 3)
