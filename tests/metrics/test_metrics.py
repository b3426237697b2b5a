"""Metrics summaries against scikit-learn's own functions and hand counts."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import subprocess
import sys

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sktransfer.metrics import (
    MetricsTable,
    best_threshold,
    binary_summary,
    evaluate,
    multiclass_summary,
)


@pytest.fixture(scope="module")
def binary_data():
    X, y = make_classification(n_samples=300, n_features=6, flip_y=0.15, random_state=0)
    clf = LogisticRegression().fit(X[:150], y[:150])
    return clf, X[150:], y[150:]


@pytest.fixture(scope="module")
def multiclass_data():
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=3, flip_y=0.1, random_state=1
    )
    names = np.array(["cat", "dog", "fox"])[y]
    clf = LogisticRegression(max_iter=500).fit(X[:150], names[:150])
    return clf, X[150:], names[150:]


def _json_roundtrip(table):
    assert json.loads(json.dumps(table)) == json.loads(json.dumps(table.to_dict()))
    return json.loads(json.dumps(table))


def test_binary_summary_matches_sklearn_and_hand_counts(binary_data):
    clf, X, y = binary_data
    score = clf.predict_proba(X)[:, 1]
    s = binary_summary(y, score)
    pred = (score >= 0.5).astype(int)
    np.testing.assert_array_equal(pred, clf.predict(X))
    tp, tn = int(np.sum((y == 1) & (pred == 1))), int(np.sum((y == 0) & (pred == 0)))
    fp, fn = int(np.sum((y == 0) & (pred == 1))), int(np.sum((y == 1) & (pred == 0)))
    assert (s["TP"], s["TN"], s["FP"], s["FN"]) == (tp, tn, fp, fn)
    assert min(tp, tn, fp, fn) > 0  # every cell exercised
    assert s["n"] == len(y) == tp + tn + fp + fn
    assert s["pos_label"] == 1 and s["neg_label"] == 0 and s["threshold"] == 0.5
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["precision"] == pytest.approx(skm.precision_score(y, pred))
    assert s["sensitivity"] == s["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert s["specificity"] == pytest.approx(tn / (tn + fp))
    assert s["specificity"] == pytest.approx(skm.recall_score(y, pred, pos_label=0))
    assert s["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score))
    assert s["average_precision"] == pytest.approx(skm.average_precision_score(y, score))
    # Plain Python types, JSON-serialisable, attribute access, table text.
    for key in ("TP", "TN", "FP", "FN", "n"):
        assert type(s[key]) is int
    for key in ("accuracy", "precision", "specificity", "f1", "roc_auc"):
        assert type(s[key]) is float
    assert _json_roundtrip(s)["TP"] == tp
    assert isinstance(s, MetricsTable) and dict(s)["f1"] == s.f1
    text = str(s)
    for word in ("TP = ", "FN = ", "specificity", "sensitivity (recall)", "ROC AUC"):
        assert word in text
    assert f"{s['specificity']:.3f}" in text


def test_binary_summary_string_labels_and_pos_label():
    y = np.array(["cat", "dog", "dog", "cat", "dog", "cat"])
    p_dog = np.array([0.2, 0.9, 0.4, 0.7, 0.6, 0.1])
    s = binary_summary(y, p_dog)  # default: second sorted label
    assert s["pos_label"] == "dog" and s["neg_label"] == "cat"
    assert (s["TP"], s["FN"], s["FP"], s["TN"]) == (2, 1, 1, 2)
    flipped = binary_summary(y, 1 - p_dog, pos_label="cat", threshold=0.5 + 1e-9)
    assert (flipped["TP"], flipped["FN"], flipped["FP"], flipped["TN"]) == (2, 1, 1, 2)
    assert flipped["roc_auc"] == pytest.approx(s["roc_auc"])
    with pytest.raises(ValueError, match="not one of the labels"):
        binary_summary(y, p_dog, pos_label="fox")
    with pytest.raises(ValueError, match="multiclass_summary"):
        binary_summary(["a", "b", "c"], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="pos_label"):
        binary_summary(["cat", "cat"], [0.1, 0.9])
    with pytest.raises(ValueError, match=r"proba\[:, 1\]"):
        binary_summary(y, np.column_stack([1 - p_dog, p_dog]))


def test_binary_summary_undefined_values():
    s = binary_summary([0, 0, 0], [0.1, 0.2, 0.3])  # one class, no predicted positive
    assert s["pos_label"] == 1 and s["TN"] == 3
    assert s["precision"] == 0.0 and s["sensitivity"] == 0.0 and s["specificity"] == 1.0
    assert s["roc_auc"] is None and s["average_precision"] is None
    assert "n/a" in str(s)
    json.dumps(s)


@pytest.mark.parametrize(
    "y_true, y_score",
    [
        ([0, 0, 0, 0], [0.1, 0.7, 0.2, 0.3]),  # only negatives: specificity 0.75
        ([1, 1, 1, 1], [0.1, 0.7, 0.8, 0.9]),  # only positives: sensitivity 0.75
        ([0, 1, 0, 1], [0.6, 0.7, 0.2, 0.3]),
    ],
)
def test_binary_balanced_accuracy_averages_the_classes_y_true_holds(y_true, y_score):
    """Regression: with one class in y_true, the absent class counted as a recall
    of 0 and halved balanced accuracy (0.375 instead of sklearn's 0.75)."""
    import warnings

    s = binary_summary(y_true, y_score, pos_label=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        expected = skm.balanced_accuracy_score(y_true, (np.asarray(y_score) >= 0.5).astype(int))
    assert s["balanced_accuracy"] == pytest.approx(expected)


def test_threshold_applies_to_decision_scores(binary_data):
    clf, X, y = binary_data
    s = binary_summary(y, clf.decision_function(X), threshold=0.0)
    ref = skm.confusion_matrix(y, clf.predict(X)).ravel()
    assert [s["TN"], s["FP"], s["FN"], s["TP"]] == ref.tolist()


@pytest.mark.parametrize("metric", ["f1", "accuracy", "balanced_accuracy", "youden"])
def test_best_threshold_is_the_maximum_over_distinct_scores(binary_data, metric):
    clf, X, y = binary_data
    score = np.round(clf.predict_proba(X)[:, 1], 2)  # rounding makes ties

    def value(threshold):  # by hand, from the confusion counts
        pred = score >= threshold
        tp, fp = np.sum(pred & (y == 1)), np.sum(pred & (y == 0))
        fn, tn = np.sum(~pred & (y == 1)), np.sum(~pred & (y == 0))
        tpr, tnr = tp / (tp + fn), tn / (tn + fp)
        return {
            "f1": 2 * tp / (2 * tp + fp + fn),
            "accuracy": (tp + tn) / len(y),
            "balanced_accuracy": (tpr + tnr) / 2,
            "youden": tpr + tnr - 1,
        }[metric]

    threshold, best = best_threshold(y, score, metric=metric)
    assert threshold in set(score.tolist())
    assert best == pytest.approx(value(threshold))
    at_best = binary_summary(y, score, threshold=threshold)
    if metric in ("f1", "accuracy", "balanced_accuracy"):
        assert best == pytest.approx(at_best[metric])
    assert best >= value(0.5) - 1e-12
    brute = max(value(t) for t in np.unique(score))
    assert best == pytest.approx(brute)


def test_best_threshold_all_negative_and_errors():
    # Predicting everything negative is the best accuracy here: returned as inf.
    threshold, acc = best_threshold([0, 0, 0, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.1], metric="accuracy")
    assert threshold == np.inf and acc == pytest.approx(0.8)
    with pytest.raises(ValueError, match="metric must be one of"):
        best_threshold([0, 1], [0.1, 0.9], metric="auc")


def test_multiclass_summary_matches_sklearn(multiclass_data):
    clf, X, y = multiclass_data
    proba, pred = clf.predict_proba(X), clf.predict(X)
    s = multiclass_summary(y, pred, y_proba=proba, labels=clf.classes_)
    assert s["labels"] == ["cat", "dog", "fox"]
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, pred, labels=clf.classes_)
    cm = skm.confusion_matrix(y, pred, labels=clf.classes_)
    for i, c in enumerate(clf.classes_):
        row = s["per_class"][c]
        assert row["precision"] == pytest.approx(prec[i])
        assert row["recall"] == row["sensitivity"] == pytest.approx(rec[i])
        assert row["f1"] == pytest.approx(f1[i]) and row["support"] == sup[i]
        tn = cm.sum() - cm[i, :].sum() - cm[:, i].sum() + cm[i, i]
        fp = cm[:, i].sum() - cm[i, i]
        assert row["specificity"] == pytest.approx(tn / (tn + fp))
        assert row["roc_auc"] == pytest.approx(skm.roc_auc_score(y == c, proba[:, i]))
    for avg in ("macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg)
        got = s[f"{avg}_avg"]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p, r, f))
        assert got["support"] == len(y)
    specs = [s["per_class"][c]["specificity"] for c in clf.classes_]
    assert s["macro_avg"]["specificity"] == pytest.approx(np.mean(specs))
    assert s["weighted_avg"]["specificity"] == pytest.approx(np.average(specs, weights=sup))
    assert s["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert s["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert s["roc_auc_ovr_macro"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", labels=clf.classes_)
    )
    ovr = skm.multilabel_confusion_matrix(y, pred, labels=clf.classes_)
    assert s["one_vs_rest_confusion"] == {c: ovr[i].tolist() for i, c in enumerate(clf.classes_)}
    assert s["confusion_matrix"] == cm.tolist()
    assert _json_roundtrip(s)["per_class"]["dog"]["support"] == sup[1]
    text = str(s)
    assert "'fox'" in text and "macro avg" in text and "specificity" in text
    assert f"{s['roc_auc_ovr_macro']:.3f}" in text


def test_multiclass_summary_checks_proba_shape():
    with pytest.raises(ValueError, match="labels=estimator.classes_"):
        multiclass_summary([0, 1, 2], [0, 1, 1], y_proba=np.ones((3, 2)) / 2)
    s = multiclass_summary([0, 1, 2, 2], [0, 1, 1, 2])
    assert s["roc_auc_ovr_macro"] is None and s["per_class"][2]["roc_auc"] is None


def test_evaluate_dispatches_on_classes_and_methods(binary_data, multiclass_data):
    clf, X, y = binary_data
    s = evaluate(clf, X, y)  # predict_proba
    assert s == binary_summary(y, clf.predict_proba(X)[:, 1])
    svc = make_pipeline(StandardScaler(), SVC(random_state=0)).fit(X, y)  # decision only
    assert not hasattr(svc, "predict_proba")
    s = evaluate(svc, X, y)
    assert s["threshold"] == 0.0
    ref = skm.confusion_matrix(y, svc.predict(X)).ravel().tolist()
    assert [s["TN"], s["FP"], s["FN"], s["TP"]] == ref
    svc_p = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(random_state=0), ensemble=False)).fit(
        X, y
    )
    s = evaluate(svc_p, X, y, threshold=0.3)
    assert s == binary_summary(y, svc_p.predict_proba(X)[:, 1], threshold=0.3)

    clf3, X3, y3 = multiclass_data
    s = evaluate(clf3, X3, y3)
    assert s["kind"] == "multiclass"
    assert s == multiclass_summary(y3, clf3.predict(X3), y_proba=clf3.predict_proba(X3), labels=clf3.classes_)
    svc3 = SVC().fit(X3, y3)
    s = evaluate(svc3, X3, y3)
    assert s["accuracy"] == pytest.approx(svc3.score(X3, y3))
    assert 0.5 < s["roc_auc_ovr_macro"] <= 1
    with pytest.raises(ValueError, match="two classes only"):
        evaluate(clf3, X3, y3, threshold=0.5)


def test_evaluate_predict_only_and_unfitted(binary_data):
    clf, X, y = binary_data

    class PredictOnly:
        classes_ = clf.classes_

        def predict(self, X):
            return clf.predict(X)

    s = evaluate(PredictOnly(), X, y)
    assert s["accuracy"] == pytest.approx(clf.score(X, y))
    # Unfitted: NotFittedError, as sklearn's Displays raise (it was a TypeError).
    from sklearn.exceptions import NotFittedError

    for unfitted in (LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())):
        with pytest.raises(NotFittedError, match="classes_"):
            evaluate(unfitted, X, y)
    with pytest.raises(TypeError, match="classes_"):
        evaluate(object(), X, y)  # not an estimator at all


def test_metrics_and_plot_do_not_import_tensorflow():
    code = (
        "import sys, sktransfer.metrics, sktransfer.plot; "
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert out.stdout.strip() == "[]"
