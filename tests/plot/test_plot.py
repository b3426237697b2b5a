"""Plots: what they draw must be the numbers scikit-learn computes."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from sktransfer.plot import (
    diagnose_learning_curves,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_roc,
)

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def multiclass():
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=3, flip_y=0.1, random_state=1
    )
    y = np.array(["cat", "dog", "fox"])[y]
    return LogisticRegression(max_iter=500).fit(X, y), X, y


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


def test_diagnose_a_loss_that_went_nan_as_diverged():
    """Regression: NaN losses compared False with every threshold, and the curves
    of a run that diverged came out "well trained"."""
    nan = float("nan")
    history = {
        "loss": [1.0, nan, nan, nan, nan],
        "accuracy": [0.6, 0.9, 0.9, 0.9, 0.9],
        "val_loss": [0.9, nan, nan, nan, nan],
        "val_accuracy": [0.6, 0.9, 0.9, 0.9, 0.9],
    }
    d = diagnose_learning_curves(history)
    assert d.verdict == "diverged"
    assert d.reasons[:2] == ["train loss is NaN from epoch 2", "validation loss is NaN from epoch 2"]
    inf = dict(HISTORY, val_loss=[*HISTORY["val_loss"][:-1], float("inf")])
    assert diagnose_learning_curves(inf).verdict == "diverged"


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


def test_roc_binary_auc_in_legend(binary_logistic):
    clf, X, y = binary_logistic
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
        assert disp.average_precision == pytest.approx(skm.average_precision_score(y == c, proba[:, i]))
    macro_ap = np.mean([d.average_precision for d in displays])
    assert f"macro AP = {macro_ap:.2f}" in displays[0].ax_.get_title()


def test_pr_binary_and_predict_only(binary_logistic):
    clf, X, y = binary_logistic
    disp = plot_precision_recall(clf, X, y)
    ap = skm.average_precision_score(y, clf.predict_proba(X)[:, 1])
    assert disp.average_precision == pytest.approx(ap)
    assert f"AP = {ap:.2f}" in disp.line_.get_label()

    class PredictOnly:
        classes_ = clf.classes_
        predict = clf.predict

    with pytest.raises(TypeError, match="predict_proba nor decision_function"):
        plot_roc(PredictOnly(), X, y)


def test_converged_curves_are_not_called_under_fitted():
    """Regression: a loss creeping from 0.05 to 0.03 at 100 % accuracy was 'under-fitted'."""
    history = {
        "loss": [1.1, 0.47, 0.26, 0.16, 0.1, 0.07, 0.05, 0.04, 0.035, 0.03],
        "accuracy": [0.45, 0.9, 0.99] + [1.0] * 7,
        "val_loss": [0.6, 0.37, 0.25, 0.18, 0.14, 0.11, 0.09, 0.08, 0.075, 0.07],
        "val_accuracy": [0.81] + [1.0] * 9,
    }
    assert diagnose_learning_curves(history).verdict == "well trained"


def test_diagnosis_reasons_are_plain_sentences():
    gap = dict(HISTORY, val_accuracy=[a - 0.2 for a in HISTORY["accuracy"]])
    reason = diagnose_learning_curves(gap).reasons[-1]
    assert reason.startswith("validation accuracy is 0.20 below training (")
    assert reason.split(":")[1].strip().startswith("over-fitted")
    # a loss halving from 0.04 to 0.02 is a converged model, not one "levelled off by 50 %"
    tiny = dict(HISTORY, loss=[1.0, 0.5, 0.2, 0.1, 0.06, 0.05, 0.04, 0.03, 0.025, 0.02])
    d = diagnose_learning_curves(tiny)
    assert d.verdict == "well trained", d.reasons
    assert d.reasons[-1].startswith("train loss has converged: already low (0.02)")
    assert not any("levelled off" in r for r in d.reasons)
    level = diagnose_learning_curves(HISTORY).reasons
    assert any(r.startswith("train loss has levelled off: it fell only") for r in level), level
    assert not any("(>" in r or "<=" in r for r in level)


def test_normalised_confusion_matrix_title_clears_its_colour_bar():
    """The report's layout: counts and normalised matrices side by side, 4.5 inches each."""
    y_true = ["blurred_leaves", "dahlia", "temple", "trees"] * 3  # the built-in sample's
    y_pred = y_true[1:] + y_true[:1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
    plot_confusion_matrix(y_true=y_true, y_pred=y_pred, ax=axes[0])
    disp = plot_confusion_matrix(y_true=y_true, y_pred=y_pred, normalize="true", ax=axes[1])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = disp.ax_.title.get_window_extent(renderer)
    colorbar = disp.im_.colorbar.ax.get_tightbbox(renderer)
    assert not title.overlaps(colorbar)
    assert title.x1 <= fig.bbox.x1  # inside the figure
    assert "rows sum to 1" in disp.ax_.get_title()
    names = [t.get_window_extent(renderer) for t in disp.ax_.get_xticklabels()]
    assert not any(a.overlaps(b) for a, b in zip(names, names[1:]))  # blurred_leaves, dahlia


def test_one_vs_rest_matrices_count_each_class_against_the_rest():
    from sktransfer.plot import plot_one_vs_rest

    y_true = ["a", "a", "b", "c", "c", "c"]
    y_pred = ["a", "b", "b", "c", "a", "c"]
    fig = plot_one_vs_rest(y_true=y_true, y_pred=y_pred)
    # by hand, class first: [[TP, FN], [FP, TN]]
    expected = {"a": [[1, 1], [1, 3]], "b": [[1, 0], [1, 4]], "c": [[2, 1], [0, 3]]}
    for ax, (label, table) in zip(fig.axes, expected.items()):
        assert ax.get_title().startswith(f"{label} vs rest")
        assert [int(t.get_text()) for t in ax.texts] == [v for row in table for v in row]
    assert "sensitivity 0.67, precision 1.00" in fig.axes[2].get_title()
    assert len(fig.axes) == 3
    five = plot_one_vs_rest(y_true=list("abcde"), y_pred=list("abcde"))
    assert [ax.get_visible() for ax in five.axes] == [True] * 5 + [False] * 3  # 2 rows of 4
