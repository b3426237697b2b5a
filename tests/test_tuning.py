import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from sklearn.base import is_classifier
from sklearn.model_selection import StratifiedKFold

from sktransfer import FineTunedClassifier, make_tuner, tune
from sktransfer.tuning import CANDIDATES, candidate_grid, one_standard_error, top_block


def test_grid_covers_every_recipe():
    grid = candidate_grid(BACKBONE, input_size=SIZE, random_state=3)
    models = [g["model"][0] for g in grid]
    # probe, 2 SVM kernel grids, head, top block
    assert len(grid) == 5
    fine = [m for m in models if isinstance(m, FineTunedClassifier)]
    assert [m.trainable_layers for m in fine] == [0, "block7"]
    assert all(m.random_state == 3 and m.input_size == SIZE for m in fine)
    assert fine[1].backbone_lr_scale == 0.1


def test_grid_order_does_not_follow_include():
    """Regression: the grid followed include's order, so with select="one_se" the
    recipe listed first counted as the simplest (an SVM, or the top block, over
    the probe)."""
    forward = candidate_grid(BACKBONE, input_size=SIZE, include=("linear_probe", "head"))
    backward = candidate_grid(BACKBONE, input_size=SIZE, include=("head", "linear_probe"))
    assert [type(g["model"][0]).__name__ for g in backward] == ["Pipeline", "FineTunedClassifier"]
    assert [repr(g) for g in backward] == [repr(g) for g in forward]


def test_tuner_is_a_stratified_classifier_search():
    tuner = make_tuner(BACKBONE, cv=4, random_state=0)
    assert is_classifier(tuner)
    assert isinstance(tuner.cv, StratifiedKFold) and tuner.cv.n_splits == 4 and tuner.cv.shuffle


def test_tune_picks_by_cv_and_refits(sample):
    X, y = sample
    tuner = tune(
        X, y, backbone=BACKBONE, input_size=SIZE, cv=2, random_state=0, include=("linear_probe", "head")
    )
    scores = tuner.cv_results_["mean_test_score"]
    assert len(scores) == 2
    assert tuner.best_index_ == int(np.argmax(scores))
    best = tuner.best_estimator_["model"]
    assert type(best) is type(tuner.cv_results_["params"][tuner.best_index_]["model"])
    assert tuner.predict(X).shape == (len(X),)
    assert set(tuner.classes_) == set(y)


@pytest.mark.parametrize("include", [(), "svm", ("svm", "deep")])
def test_bad_include_names_the_argument(include):
    with pytest.raises(ValueError, match="include"):
        candidate_grid(BACKBONE, include=include)


def test_top_block_per_backbone():
    assert top_block("mobilenetv2") == "block16"
    assert top_block("convnexttiny") == "stage3"
    assert set(CANDIDATES) == {"linear_probe", "svm", "head", "top_block"}


def _results(*candidates):
    """A cv_results_-like dict from each candidate's split scores."""
    folds = np.array(candidates, dtype=float)
    out = {f"split{i}_test_score": folds[:, i] for i in range(folds.shape[1])}
    out["mean_test_score"] = folds.mean(axis=1)
    return out


def test_one_standard_error_takes_the_simplest_close_enough_candidate():
    # best: mean 0.90, sample SD 0.0566 over 2 splits -> SE 0.04; 0.87 is within, 0.80 is not
    assert one_standard_error(_results([0.80, 0.80], [0.86, 0.88], [0.86, 0.94])) == 1
    # the same best with SE 0.01: only the best itself
    assert one_standard_error(_results([0.80, 0.80], [0.86, 0.88], [0.89, 0.91])) == 2
    # the first of several within reach, and a best that comes first stays
    assert one_standard_error(_results([0.88, 0.88], [0.89, 0.87], [0.86, 0.94])) == 0
    assert one_standard_error(_results([0.95, 0.95], [0.50, 0.50])) == 0


def test_one_standard_error_never_picks_a_failed_candidate():
    assert one_standard_error(_results([np.nan, np.nan], [0.7, 0.9])) == 1
    with pytest.raises(ValueError, match="NaN"):
        one_standard_error(_results([np.nan, np.nan]))


def test_one_standard_error_needs_one_metric():
    multi = {"mean_test_accuracy": [0.5], "split0_test_accuracy": [0.5]}
    with pytest.raises(ValueError, match="one scoring metric"):
        one_standard_error(multi)


def test_tune_with_the_one_se_rule_refits_that_candidate(sample):
    X, y = sample
    tuner = tune(
        X,
        y,
        backbone=BACKBONE,
        input_size=SIZE,
        cv=2,
        random_state=0,
        include=("linear_probe", "head"),
        select="one_se",
    )
    assert tuner.refit is one_standard_error
    assert tuner.best_index_ == one_standard_error(tuner.cv_results_)
    chosen = tuner.cv_results_["params"][tuner.best_index_]["model"]
    assert type(tuner.best_estimator_["model"]) is type(chosen)
    assert tuner.predict(X).shape == (len(X),)


def test_bad_select_names_the_argument():
    with pytest.raises(ValueError, match="select"):
        make_tuner(BACKBONE, select="simplest")
