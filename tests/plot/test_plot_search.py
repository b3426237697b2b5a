"""Grid-search plots: each point is the best mean validation score of its cell."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer.plot import plot_by_epochs, plot_grid_search, plot_param_comparison

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def search(binary_logistic):
    _, X, y = binary_logistic
    grid = {"C": [0.01, 0.1, 1.0], "fit_intercept": [True, False], "solver": ["lbfgs", "liblinear"]}
    return GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)


def _best(results, **fixed):
    """Best mean score over the candidates with these parameter values."""
    rows = [i for i, p in enumerate(results["params"]) if all(p[k] == v for k, v in fixed.items())]
    return rows[int(np.argmax(results["mean_test_score"][rows]))]


def test_grid_search_lines_are_one_minus_best_mean_score(search):
    r = search.cv_results_
    fig = plot_grid_search(search, x="C", hue="fit_intercept")
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "fit_intercept=True",
        "fit_intercept=False",
    ]
    assert ax.get_xlabel() == "C" and ax.get_ylabel() == "validation error (1 - accuracy)"
    assert "best over solver" in ax.get_title()
    for container, fit_intercept in zip(ax.containers, (True, False)):
        best = [_best(r, C=c, fit_intercept=fit_intercept) for c in (0.01, 0.1, 1.0)]
        line = container.lines[0]
        np.testing.assert_allclose(line.get_xdata(), [0.01, 0.1, 1.0])
        np.testing.assert_allclose(line.get_ydata(), 1 - r["mean_test_score"][best])
        spans = [seg[1][1] - seg[0][1] for seg in container.lines[2][0].get_segments()]
        np.testing.assert_allclose(spans, 2 * r["std_test_score"][best])
    ax = plot_grid_search(search, x="param_C", hue=None, metric="score").axes[0]
    assert len(ax.containers) == 1
    best = [_best(r, C=c) for c in (0.01, 0.1, 1.0)]
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), r["mean_test_score"][best])


def test_grid_search_param_names_in_pipelines(binary_logistic):
    _, X, y = binary_logistic
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": [0.1, 1.0], "logisticregression__solver": ["lbfgs", "saga"]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    ax = plot_grid_search(search, x="C", hue="solver").axes[0]
    assert ax.get_xlabel() == "logisticregression__C" and len(ax.containers) == 2
    ax = plot_grid_search(search, x="logisticregression__solver", hue="param_C").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lbfgs", "saga"]
    with pytest.raises(
        ValueError,
        match=r"'gamma' is not a searched parameter; available: "
        r"\['logisticregression__C'",
    ):
        plot_grid_search(search, x="gamma")
    with pytest.raises(ValueError, match="same parameter"):
        plot_grid_search(search, x="C", hue="logisticregression__C")
    fake = {
        "param_a__C": np.ma.array([1, 2]),
        "param_b__C": np.ma.array([1, 2]),
        "mean_test_score": np.array([0.5, 0.6]),
    }
    with pytest.raises(ValueError, match="matches several parameters"):
        plot_grid_search(fake, x="C", hue=None)


def test_param_comparison_box_and_by_epochs_line(search):
    r = search.cv_results_
    fig = plot_param_comparison(search, "solver")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lbfgs", "liblinear"]
    assert len(ax.patches) == 2  # one box per solver
    best = [_best(r, solver=s) for s in ("lbfgs", "liblinear")]
    mean_line = next(line for line in ax.lines if line.get_label() == "mean")
    np.testing.assert_allclose(mean_line.get_ydata(), 1 - r["mean_test_score"][best])
    for patch, i in zip(ax.patches, best):  # box = quartiles of the per-fold errors
        folds = 1 - np.array([r[f"split{k}_test_score"][i] for k in range(3)])
        ys = patch.get_path().vertices[:, 1]
        assert ys.min() == pytest.approx(np.percentile(folds, 25))
        assert ys.max() == pytest.approx(np.percentile(folds, 75))
    ax = plot_by_epochs(search, param="C").axes[0]
    line = ax.containers[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0.01, 0.1, 1.0])
    np.testing.assert_allclose(
        line.get_ydata(), 1 - r["mean_test_score"][[_best(r, C=c) for c in (0.01, 0.1, 1.0)]]
    )
    assert ax.get_xscale() == "log"
    # Failed fits (NaN scores) are said, not hidden.
    failed = {
        k: (
            np.where(np.asarray(r["param_solver"]) == "liblinear", np.nan, v)
            if k.startswith(("mean_test", "split"))
            else v
        )
        for k, v in r.items()
    }
    ax = plot_param_comparison(failed, "solver").axes[0]
    assert [t.get_text() for t in ax.texts] == ["all fits\nfailed"]


def test_param_comparison_keeps_the_folds_that_did_not_fail(search):
    """Regression: one failed fold (error_score=np.nan) makes sklearn's mean NaN,
    and the plot said "all fits failed" and drew nothing for that value."""
    r = search.cv_results_
    liblinear = np.asarray(r["param_solver"]) == "liblinear"
    failed = {
        k: (np.where(liblinear, np.nan, v) if k in ("mean_test_score", "split0_test_score") else v)
        for k, v in r.items()
    }
    ax = plot_param_comparison(failed, "solver").axes[0]
    assert [t.get_text() for t in ax.texts] == ["1 of 3\nfolds failed"]
    assert len(ax.patches) == 2  # a box for both solvers
    # liblinear's candidates all rank last (NaN mean, as in GridSearchCV): the first one
    i = int(np.flatnonzero(liblinear)[0])
    mean_line = next(line for line in ax.lines if line.get_label() == "mean")
    expected = 1 - np.mean([r["split1_test_score"][i], r["split2_test_score"][i]])
    assert mean_line.get_ydata()[1] == pytest.approx(expected)
    line = plot_by_epochs(failed, param="solver").axes[0].containers[0].lines[0]
    assert np.isfinite(line.get_ydata()).all()


def test_multi_metric_search(binary_logistic):
    _, X, y = binary_logistic
    search = GridSearchCV(
        LogisticRegression(),
        {"C": [0.1, 1.0]},
        cv=3,
        scoring={"acc": "accuracy", "ll": "neg_log_loss"},
        refit="acc",
    ).fit(X, y)
    ax = plot_by_epochs(search, "C").axes[0]
    assert ax.get_ylabel() == "validation error (1 - accuracy)"
    ax = plot_by_epochs(search, "C", scoring="ll").axes[0]
    assert ax.get_ylabel() == "validation log_loss"
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), -search.cv_results_["mean_test_ll"])
    with pytest.raises(ValueError, match="several metrics"):
        plot_by_epochs(search.cv_results_, "C")
