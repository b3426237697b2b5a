"""HistoryRecorder: the learning curves of every candidate and fold of a search."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from sktransfer import FineTunedClassifier
from sktransfer.model_selection import FitHistory, HistoryRecorder
from sktransfer.plot import plot_search_histories


@pytest.fixture(scope="module")
def searched(sample):
    X, y = sample
    X, y = X[::2], y[::2]
    recorder = HistoryRecorder()
    clf = FineTunedClassifier(
        BACKBONE,
        input_size=SIZE,
        epochs=2,
        batch_size=8,
        validation=1,
        random_state=0,
        tta=False,
        callbacks=[recorder],
    )
    cv = StratifiedKFold(2)
    search = GridSearchCV(clf, {"learning_rate": [0.001, 0.03]}, cv=cv).fit(X, y)
    return search, recorder, X, y, cv


def test_each_candidate_and_fold_has_its_own_history(searched):
    search, recorder, X, y, cv = searched
    assert len(recorder.records) == 2 * 2 + 1  # candidates x folds, then the refit
    histories = recorder.search_histories(search)
    for candidate, folds in zip(search.cv_results_["params"], histories):
        assert len(folds) == 2
        for (train, _), history in zip(cv.split(X, y), folds):
            # The reference: the same candidate fitted by hand on the same fold.
            alone = FineTunedClassifier(
                BACKBONE,
                input_size=SIZE,
                epochs=2,
                batch_size=8,
                validation=1,
                random_state=0,
                tta=False,
                **candidate,
            )
            alone.fit(X[train], y[train])
            assert history == alone.history_
    assert histories[0][0] != histories[1][0]
    # The refit's history is the best estimator's, and not among the folds'.
    assert recorder.records[-1].history == search.best_estimator_.history_


def test_clones_share_the_recorder_and_keras_never_sees_it(searched):
    recorder = searched[1]
    clf = FineTunedClassifier(callbacks=[recorder])
    assert clone(clf).callbacks[0] is recorder


def test_recorder_in_a_pipeline_and_nothing_recorded(sample):
    X, y = sample
    X, y = X[::4], y[::4]
    recorder = HistoryRecorder()
    pipe = make_pipeline(
        FineTunedClassifier(
            BACKBONE, input_size=SIZE, epochs=1, random_state=0, tta=False, callbacks=[recorder]
        )
    )
    search = GridSearchCV(pipe, {"finetunedclassifier__epochs": [1, 2]}, cv=StratifiedKFold(2)).fit(X, y)
    lengths = [[len(h["loss"]) for h in folds] for folds in recorder.search_histories(search)]
    assert lengths == [[1, 1], [2, 2]]
    with pytest.raises(ValueError, match="None of the 0 recorded fits"):
        HistoryRecorder().search_histories(search)


@pytest.mark.usefixtures("close_figures")
def test_plot_search_histories(searched):
    search, recorder = searched[:2]
    fig = plot_search_histories(search, recorder, metric="val_loss")
    ax = fig.axes[0]
    assert ax.get_legend_handles_labels()[1] == ["learning_rate=0.001", "learning_rate=0.03"]
    assert len(ax.lines) == 2 * (2 + 1)  # per candidate: two folds and their mean
    folds = recorder.search_histories(search)[1]
    mean = np.mean([h["val_loss"] for h in folds], axis=0)
    np.testing.assert_allclose(ax.lines[-1].get_ydata(), mean)
    with pytest.raises(ValueError, match="not in the recorded histories"):
        plot_search_histories(search, recorder, metric="val_auc")


@pytest.mark.usefixtures("close_figures")
def test_plot_shades_the_head_only_stage():
    from types import SimpleNamespace

    recorder = HistoryRecorder()
    history = {"loss": [0.9, 0.7, 0.6, 0.4, 0.3], "stage": [1, 1, 1, 2, 2]}
    recorder.records = [FitHistory("FineTunedClassifier", {"epochs": 2}, history)] * 3
    search = SimpleNamespace(n_splits_=3, cv_results_={"params": [{"epochs": 2}]})
    ax = plot_search_histories(search, recorder, metric="loss").axes[0]
    (span,) = ax.patches
    assert span.get_label() == "head-only stage"
    assert span.get_x() == 0.5 and span.get_width() == 3


@pytest.mark.usefixtures("close_figures")
@pytest.mark.parametrize(
    "params, note",
    [
        ({"trainable_layers": 2}, " (each after 30 head-only epochs)"),
        ({"trainable_layers": 2, "head_epochs": 0}, ""),
        ({"trainable_layers": 0}, ""),
        ({"trainable_layers": 2, "weights": None}, ""),
    ],
)
def test_epochs_sweep_says_when_head_only_epochs_ran_first(params, note):
    from types import SimpleNamespace

    from sktransfer.plot import plot_by_epochs

    results = {
        "params": [{"epochs": 1}, {"epochs": 2}],
        "param_epochs": np.ma.masked_array([1, 2], mask=[False, False], dtype=object),
        "mean_test_score": np.array([0.5, 0.6]),
        "std_test_score": np.array([0.1, 0.1]),
        "rank_test_score": np.array([2, 1]),
        "split0_test_score": np.array([0.4, 0.5]),
        "split1_test_score": np.array([0.6, 0.7]),
    }
    search = SimpleNamespace(
        estimator=FineTunedClassifier(BACKBONE, **params),
        cv_results_=results,
        scoring=None,
        multimetric_=False,
    )
    fig = plot_by_epochs(search)
    assert fig.axes[0].get_xlabel() == "epochs" + note
