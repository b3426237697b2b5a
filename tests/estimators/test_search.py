"""The estimators inside scikit-learn's model selection tools."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from conftest import BACKBONE, SIZE
from sklearn.model_selection import GridSearchCV, StratifiedKFold, check_cv, cross_val_score

from sktransfer import FineTunedClassifier, PerClassSplit


def test_grid_search_stratifies_and_scores_roc_auc(binary_sample):
    X, y = binary_sample
    clf = FineTunedClassifier(
        BACKBONE, input_size=SIZE, epochs=2, learning_rate=0.01, random_state=0, tta=False
    )
    assert isinstance(check_cv(3, y, classifier=True), StratifiedKFold)
    # the classic grid: trainable layers x batch size (optimizers: test_default_learning_rate)
    grid = {"trainable_layers": [0, 2], "batch_size": [8, 32]}
    search = GridSearchCV(clf, grid, cv=2, scoring="roc_auc").fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_score_ > 0.8
    assert search.best_estimator_.backbone_info_["trainable_backbone_layers"] in (0, 2)
    assert search.predict(X[:3]).shape == (3,)


def test_cross_val_score_with_per_class_split(sample):
    X, y = sample
    clf = FineTunedClassifier(BACKBONE, input_size=SIZE, epochs=4, learning_rate=0.01, random_state=0)
    scores = cross_val_score(clf, X, y, cv=PerClassSplit(n_test=5, n_splits=2, random_state=0))
    assert scores.shape == (2,)
    assert scores.mean() > 0.6
