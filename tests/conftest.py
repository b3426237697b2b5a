"""Shared fixtures: small image sets built in code (no download, no shared data)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Freeing each dropped estimator's network walks its objects (a fraction of a second per
# estimator, over a thousand in the suite); tests/estimators/test_reliability.py turns it
# back on where it is tested. Subprocesses started by tests inherit this.
os.environ.setdefault("SKTRANSFER_RELEASE_NETWORKS", "0")
# XLA compiles the trained layers' step once per architecture and batch shape (about a second on
# 2 cores), which a grid search pays once and a test's single tiny fit pays every time; the tests
# of XLA and of the "auto" rule (tests/engine/test_trainers.py, test_graph_fit.py) set it themselves.
os.environ.setdefault("SKTRANSFER_XLA", "0")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # One TensorFlow thread pool thread per worker: with as many workers as cores, TensorFlow's
    # default pools (one thread per core each) oversubscribe the machine.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np
import pytest

from sktransfer.datasets import load_sample

# The offline ImageNet backbone at a small size keeps every fit to seconds.
BACKBONE = "efficientnet_lite0"
SIZE = 32


@pytest.fixture(scope="session")
def sample():
    """Four classes x 20 images, 32 px, string labels."""
    return load_sample(size=SIZE, n_per_class=20, random_state=0, return_X_y=True)


@pytest.fixture(scope="session")
def binary_sample(sample):
    """Two of the sample's classes (40 images)."""
    X, y = sample
    mask = np.isin(y, ["dahlia", "temple"])
    return X[mask], y[mask]


@pytest.fixture(scope="session")
def make_classifier():
    """``make_classifier(**params)``: a FineTunedClassifier that fits in seconds."""
    from sktransfer import FineTunedClassifier

    def make(**params):
        # tta=False: most tests compare outputs with the Keras model's (one view);
        # test_tta.py and the sklearn checks cover the default, tta=True.
        defaults = dict(
            backbone=BACKBONE,
            input_size=SIZE,
            epochs=1,
            batch_size=8,
            learning_rate=0.01,
            random_state=0,
            tta=False,
        )
        return FineTunedClassifier(**{**defaults, **params})

    return make


@pytest.fixture
def close_figures():
    """Close every pyplot figure after the test; ``pytest.mark.usefixtures("close_figures")``."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture(scope="module")
def sample_split():
    """(X_train, X_test, y_train, y_test): 10 sample images per class, 3 of each to test."""
    from sktransfer.model_selection import per_class_split

    X, y = load_sample(size=32, n_per_class=10, return_X_y=True)
    return per_class_split(X, y, y=y, n_test=3, random_state=0)


@pytest.fixture(scope="module")
def binary_logistic():
    """(clf, X, y): a LogisticRegression fitted on 200 noisy two-class samples."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=5, flip_y=0.2, random_state=0)
    return LogisticRegression().fit(X, y), X, y
