"""Plots: what they draw must be the numbers scikit-learn computes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from sktransfer.images import load_images  # noqa: E402
from sktransfer.plot import (  # noqa: E402
    diagnose_learning_curves,
    plot_by_epochs,
    plot_confusion_matrix,
    plot_grid_search,
    plot_learning_curves,
    plot_param_comparison,
    plot_precision_recall,
    plot_roc,
    worst_errors,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def binary():
    X, y = make_classification(n_samples=200, n_features=5, flip_y=0.2, random_state=0)
    return LogisticRegression().fit(X, y), X, y


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(n_samples=240, n_features=6, n_informative=4, n_classes=3,
                               flip_y=0.1, random_state=1)
    y = np.array(["cat", "dog", "fox"])[y]
    return LogisticRegression(max_iter=500).fit(X, y), X, y


def _flatten(X):
    """Images (arrays or paths) -> 8 x 8 x 3 pixels as features in 0..1."""
    images = load_images(X, 8)
    return images.reshape(len(images), -1).astype(np.float64) / 255


def _image_classifier(final=None):
    return make_pipeline(FunctionTransformer(_flatten), final or LogisticRegression(C=0.05))


@pytest.fixture(scope="module")
def images():
    """Random 8 x 8 images, 'dog' when (noisily) red: errors of both kinds."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (80, 8, 8, 3)).astype(np.uint8)
    red = X[..., 0].mean(axis=(1, 2)) - X[..., 2].mean(axis=(1, 2))
    y = np.where(red + rng.normal(0, 25, len(X)) > 0, "dog", "cat")
    return X, y


HISTORY = {  # clean: both losses level off, small gap
    "loss": [0.9, 0.6, 0.45, 0.37, 0.33, 0.31, 0.30, 0.295, 0.29, 0.288],
    "accuracy": [0.6, 0.75, 0.83, 0.87, 0.89, 0.9, 0.91, 0.915, 0.92, 0.92],
    "val_loss": [0.85, 0.62, 0.5, 0.42, 0.38, 0.36, 0.35, 0.345, 0.342, 0.34],
    "val_accuracy": [0.62, 0.74, 0.8, 0.84, 0.86, 0.87, 0.88, 0.885, 0.89, 0.89],
}


# -- learning curves ---------------------------------------------------------------
def test_learning_curves_axes_labels_and_points():
    fig = plot_learning_curves(HISTORY)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "accuracy"]
    for ax, key in zip(fig.axes, ("loss", "accuracy")):
        assert ax.get_xlabel() == "epoch"
        assert [line.get_label() for line in ax.lines] == ["train", "validation"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]
        for line, values in zip(ax.lines, (HISTORY[key], HISTORY["val_" + key])):
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 11))
            np.testing.assert_allclose(line.get_ydata(), values)


def test_learning_curves_from_estimators_and_without_validation():
    train_only = {"loss": [1.0, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8]}
    pipe = make_pipeline(FunctionTransformer(), LogisticRegression())
    pipe[0].history_ = train_only
    search = SimpleNamespace(best_estimator_=pipe)
    own = plt.figure()
    for source in (SimpleNamespace(history_=train_only), pipe, search):
        fig = plot_learning_curves(source, fig=own if source is search else None)
        for ax in fig.axes[-2:]:
            assert [line.get_label() for line in ax.lines] == ["train"]
            assert len(ax.lines[0].get_xdata()) == 3
    assert fig is own
    with pytest.raises(TypeError, match="fit the estimator first"):
        plot_learning_curves(LogisticRegression())


def test_diagnose_over_under_and_well_trained():
    well = diagnose_learning_curves(HISTORY)
    assert well.verdict == "well trained", well.reasons
    over = dict(HISTORY, val_loss=[0.85, 0.6, 0.5, 0.48, 0.5, 0.55, 0.6, 0.66, 0.72, 0.8])
    d = diagnose_learning_curves(over)
    assert d.verdict == "over-fitted"
    assert d.numbers["best_val_loss_epoch"] == 4
    assert d.numbers["val_loss_rise"] == pytest.approx(0.8 / 0.48 - 1)
    assert "epoch 4" in d.reasons[0]
    gap = dict(HISTORY, val_accuracy=[a - 0.2 for a in HISTORY["accuracy"]])
    assert diagnose_learning_curves(gap).verdict == "over-fitted"
    assert diagnose_learning_curves(gap, max_accuracy_gap=0.25).verdict == "well trained"
    under = dict(HISTORY, accuracy=[0.5, 0.52, 0.53, 0.54, 0.54, 0.55, 0.55, 0.55, 0.55, 0.55])
    d = diagnose_learning_curves(under)
    assert d.verdict == "under-fitted" and "0.55" in d.reasons[0]
    steep = dict(HISTORY, loss=[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1])
    assert diagnose_learning_curves(steep).verdict == "under-fitted"
    assert diagnose_learning_curves(steep, max_recent_loss_drop=0.9).verdict == "well trained"
    json.dumps(d.numbers)
    assert str(d).startswith("under-fitted: ")


def test_diagnose_without_enough_information():
    train = {"loss": HISTORY["loss"], "accuracy": HISTORY["accuracy"]}
    assert diagnose_learning_curves(train).verdict == "not enough information"
    low = {"loss": HISTORY["loss"], "accuracy": [0.55] * 10}
    assert diagnose_learning_curves(low).verdict == "under-fitted"
    short = {k: v[:2] for k, v in HISTORY.items()}
    assert diagnose_learning_curves(short).verdict == "not enough information"


# -- confusion matrix, ROC, PR ---------------------------------------------------------
def test_confusion_matrix_counts_and_normalised(multiclass):
    clf, X, y = multiclass
    pred = clf.predict(X)
    cm = skm.confusion_matrix(y, pred, labels=clf.classes_)
    disp = plot_confusion_matrix(clf, X, y)
    np.testing.assert_array_equal(disp.confusion_matrix, cm)
    assert [t.get_text() for t in disp.text_.ravel()] == [str(v) for v in cm.ravel()]
    assert "counts" in disp.ax_.get_title()
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["cat", "dog", "fox"]
    disp = plot_confusion_matrix(y_true=y, y_pred=pred, normalize="true")
    np.testing.assert_allclose(disp.confusion_matrix, cm / cm.sum(axis=1, keepdims=True))
    assert disp.text_[0, 0].get_text() == f"{cm[0, 0] / cm[0].sum():.2f}"
    assert "rows sum to 1" in disp.ax_.get_title()
    _, ax = plt.subplots()
    disp = plot_confusion_matrix(y=y, y_pred=pred, normalize="pred", ax=ax)
    assert disp.ax_ is ax and "columns sum to 1" in ax.get_title()
    with pytest.raises(ValueError, match="normalize"):
        plot_confusion_matrix(y_true=y, y_pred=pred, normalize="rows")
    with pytest.raises(ValueError, match="y_pred"):
        plot_confusion_matrix(y_true=y)


def test_roc_binary_auc_in_legend(binary):
    clf, X, y = binary
    auc = skm.roc_auc_score(y, clf.predict_proba(X)[:, 1])
    disp = plot_roc(clf, X, y)
    assert disp.roc_auc == pytest.approx(auc)
    legend = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert legend[0] == f"LogisticRegression (AUC = {auc:.2f})"
    svc = SVC().fit(X, y)  # decision_function only
    disp = plot_roc(svc, X, y, name="SVM")
    assert disp.roc_auc == pytest.approx(skm.roc_auc_score(y, svc.decision_function(X)))
    assert disp.line_.get_label().startswith("SVM (AUC = ")


def test_roc_and_pr_one_vs_rest(multiclass):
    clf, X, y = multiclass
    proba = clf.predict_proba(X)
    displays = plot_roc(clf, X, y)
    assert len(displays) == len(clf.classes_) == 3
    ax = displays[0].ax_
    curves = [line for line in ax.lines if "vs rest" in line.get_label()]
    assert len(curves) == 3
    for disp, c, i in zip(displays, clf.classes_, range(3)):
        auc = skm.roc_auc_score(y == c, proba[:, i])
        assert disp.roc_auc == pytest.approx(auc)
        assert disp.line_.get_label() == f"{c} vs rest (AUC = {auc:.2f})"
    macro = skm.roc_auc_score(y, proba, multi_class="ovr")
    assert f"macro AUC = {macro:.2f}" in ax.get_title()
    displays = plot_precision_recall(clf, X, y)
    assert len(displays) == 3
    for disp, c, i in zip(displays, clf.classes_, range(3)):
        assert disp.average_precision == pytest.approx(
            skm.average_precision_score(y == c, proba[:, i]))
    macro_ap = np.mean([d.average_precision for d in displays])
    assert f"macro AP = {macro_ap:.2f}" in displays[0].ax_.get_title()


def test_pr_binary_and_predict_only(binary):
    clf, X, y = binary
    disp = plot_precision_recall(clf, X, y)
    ap = skm.average_precision_score(y, clf.predict_proba(X)[:, 1])
    assert disp.average_precision == pytest.approx(ap)
    assert f"AP = {ap:.2f}" in disp.line_.get_label()

    class PredictOnly:
        classes_ = clf.classes_
        predict = clf.predict

    with pytest.raises(TypeError, match="predict_proba nor decision_function"):
        plot_roc(PredictOnly(), X, y)


# -- worst errors ------------------------------------------------------------------------
def _image_axes(subfig):
    return [ax for ax in subfig.axes if ax.images]


def test_worst_errors_binary_picks_most_confident(images):
    X, y = images
    clf = _image_classifier().fit(X, y)
    score = clf.predict_proba(X)[:, 1]  # P(dog)
    k = 5
    res = worst_errors(clf, X, y, k=k)
    negatives = np.flatnonzero(y == "cat")
    by_score = negatives[np.argsort(-score[negatives], kind="stable")]
    expected_fp = [int(i) for i in by_score if score[i] >= 0.5][:k]
    positives = np.flatnonzero(y == "dog")
    by_score = positives[np.argsort(score[positives], kind="stable")]
    expected_fn = [int(i) for i in by_score if score[i] < 0.5][:k]
    assert res.false_positives == expected_fp and res.false_negatives == expected_fn
    n_fp = int(np.sum((y == "cat") & (score >= 0.5)))
    n_fn = int(np.sum((y == "dog") & (score < 0.5)))
    assert n_fp > 0 and n_fn > 0
    assert res.score_name == "P(dog)"
    fp_fig, fn_fig = res.figure.subfigs
    for subfig, rows, n, (true, pred) in ((fp_fig, res.panels["false_positives"], n_fp,
                                           ("cat", "dog")),
                                          (fn_fig, res.panels["false_negatives"], n_fn,
                                           ("dog", "cat"))):
        axes = _image_axes(subfig)
        assert len(axes) == min(k, n) == len(rows)
        for ax, row in zip(axes, rows):
            title = ax.get_title()
            assert f"true: {true}" in title and f"pred: {pred}" in title
            assert f"P(dog) = {score[row['index']]:.3f}" in title
            assert row["score"] == pytest.approx(score[row["index"]])
            assert (row["true"], row["predicted"]) == (true, pred)
            np.testing.assert_array_equal(ax.images[0].get_array(),
                                          load_images(X[row["index"]][None], 96)[0])
    fp_scores = [row["score"] for row in res.panels["false_positives"]]
    assert fp_scores == sorted(fp_scores, reverse=True)
    json.dumps(res.panels)


def test_worst_errors_no_errors_of_a_kind_and_decision_function(images):
    X, y = images
    clf = _image_classifier().fit(X, y)
    res = worst_errors(clf, X, y, k=3, threshold=0.0)  # everything predicted 'dog'
    assert res.false_negatives == [] and len(res.false_positives) == 3
    texts = [t.get_text() for ax in res.figure.subfigs[1].axes for t in ax.texts]
    assert texts == ["no false negatives"]
    svm = _image_classifier(SVC(C=0.5)).fit(X, y)  # decision_function only
    decision = svm.decision_function(X)
    res = worst_errors(svm, X, y, k=2)
    assert res.score_name == "decision"
    wrong = np.flatnonzero((y == "cat") & (decision >= 0))
    assert res.false_positives == wrong[np.argsort(-decision[wrong], kind="stable")][:2].tolist()


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")  # sklearn 1.9
def test_worst_errors_svc_probability_and_multiclass(images):
    X, y = images
    svm = _image_classifier(SVC(probability=True, random_state=0)).fit(X, y)
    res = worst_errors(svm, X, y, k=2)
    assert set(res.panels) == {"false_positives", "false_negatives"}
    # Three classes: the errors whose predicted class has the highest probability.
    y3 = np.array(["red", "green", "blue"])[np.argmax(X.mean(axis=(1, 2)), axis=1)]
    y3[::7] = "green"  # some label noise
    clf = _image_classifier(LogisticRegression(C=0.02, max_iter=500)).fit(X, y3)
    proba = clf.predict_proba(X)
    pred = clf.classes_[proba.argmax(axis=1)]
    wrong = np.flatnonzero(pred != y3)
    confidence = proba.max(axis=1)
    res = worst_errors(clf, X, y3, k=4)
    expected = wrong[np.argsort(-confidence[wrong], kind="stable")][:4]
    assert res.indices("errors") == expected.tolist()
    axes = _image_axes(res.figure.subfigs[0])
    assert len(axes) == min(4, len(wrong))
    for ax, i in zip(axes, res.indices("errors")):
        assert f"true: {y3[i]}" in ax.get_title() and f"pred: {pred[i]}" in ax.get_title()


def test_worst_errors_from_files(tmp_path, images):
    X, y = images
    paths = []
    for i, image in enumerate(X[:24]):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    clf = _image_classifier().fit(paths, y[:24])
    res = worst_errors(clf, paths, y[:24], k=2)
    shown = [row["index"] for rows in res.panels.values() for row in rows]
    assert shown
    axes = [ax for subfig in res.figure.subfigs for ax in _image_axes(subfig)]
    for ax, i in zip(axes, shown):
        np.testing.assert_array_equal(ax.images[0].get_array(), load_images([paths[i]], 96)[0])


# -- grid search -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def search(binary):
    _, X, y = binary
    grid = {"C": [0.01, 0.1, 1.0], "fit_intercept": [True, False], "solver": ["lbfgs", "liblinear"]}
    return GridSearchCV(LogisticRegression(), grid, cv=3).fit(X, y)


def _best(results, **fixed):
    """Best mean score over the candidates with these parameter values."""
    rows = [i for i, p in enumerate(results["params"])
            if all(p[k] == v for k, v in fixed.items())]
    return rows[int(np.argmax(results["mean_test_score"][rows]))]


def test_grid_search_lines_are_one_minus_best_mean_score(search):
    r = search.cv_results_
    fig = plot_grid_search(search, x="C", hue="fit_intercept")
    ax = fig.axes[0]
    assert len(ax.containers) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "fit_intercept=True", "fit_intercept=False"]
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


def test_grid_search_param_names_in_pipelines(binary):
    _, X, y = binary
    pipe = make_pipeline(StandardScaler(), LogisticRegression())
    grid = {"logisticregression__C": [0.1, 1.0], "logisticregression__solver": ["lbfgs", "saga"]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    ax = plot_grid_search(search, x="C", hue="solver").axes[0]
    assert ax.get_xlabel() == "logisticregression__C" and len(ax.containers) == 2
    ax = plot_grid_search(search, x="logisticregression__solver", hue="param_C").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lbfgs", "saga"]
    with pytest.raises(ValueError, match=r"'gamma' is not a searched parameter; available: "
                                         r"\['logisticregression__C'"):
        plot_grid_search(search, x="gamma")
    with pytest.raises(ValueError, match="same parameter"):
        plot_grid_search(search, x="C", hue="logisticregression__C")
    fake = {"param_a__C": np.ma.array([1, 2]), "param_b__C": np.ma.array([1, 2]),
            "mean_test_score": np.array([0.5, 0.6])}
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
    np.testing.assert_allclose(line.get_ydata(),
                               1 - r["mean_test_score"][[_best(r, C=c) for c in (0.01, 0.1, 1.0)]])
    assert ax.get_xscale() == "log"
    # Failed fits (NaN scores) are said, not hidden.
    failed = {k: (np.where(np.asarray(r["param_solver"]) == "liblinear", np.nan, v)
                  if k.startswith(("mean_test", "split")) else v) for k, v in r.items()}
    ax = plot_param_comparison(failed, "solver").axes[0]
    assert any("failed" in t.get_text() for t in ax.texts)


def test_multi_metric_search(binary):
    _, X, y = binary
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3,
                          scoring={"acc": "accuracy", "ll": "neg_log_loss"}, refit="acc").fit(X, y)
    ax = plot_by_epochs(search, "C").axes[0]
    assert ax.get_ylabel() == "validation error (1 - accuracy)"
    ax = plot_by_epochs(search, "C", scoring="ll").axes[0]
    assert ax.get_ylabel() == "validation log_loss"
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(),
                               -search.cv_results_["mean_test_ll"])
    with pytest.raises(ValueError, match="several metrics"):
        plot_by_epochs(search.cv_results_, "C")


def test_converged_curves_are_not_called_under_fitted():
    """Regression: a loss creeping from 0.05 to 0.03 at 100 % accuracy was 'under-fitted'."""
    from sktransfer.plot import diagnose_learning_curves

    history = {"loss": [1.1, 0.47, 0.26, 0.16, 0.1, 0.07, 0.05, 0.04, 0.035, 0.03],
               "accuracy": [0.45, 0.9, 0.99] + [1.0] * 7,
               "val_loss": [0.6, 0.37, 0.25, 0.18, 0.14, 0.11, 0.09, 0.08, 0.075, 0.07],
               "val_accuracy": [0.81] + [1.0] * 9}
    assert diagnose_learning_curves(history).verdict == "well trained"
