"""worst_errors: the thumbnails shown are the most confident mistakes, in order."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from PIL import Image
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

from sktransfer.images import load_images
from sktransfer.plot import worst_errors

pytestmark = pytest.mark.usefixtures("close_figures")


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
    for subfig, rows, n, (true, pred) in (
        (fp_fig, res.panels["false_positives"], n_fp, ("cat", "dog")),
        (fn_fig, res.panels["false_negatives"], n_fn, ("dog", "cat")),
    ):
        axes = _image_axes(subfig)
        assert len(axes) == min(k, n) == len(rows)
        for ax, row in zip(axes, rows):
            title = ax.get_title()
            assert f"true: {true}" in title and f"pred: {pred}" in title
            assert f"P(dog) = {score[row['index']]:.3f}" in title
            assert row["score"] == pytest.approx(score[row["index"]])
            assert (row["true"], row["predicted"]) == (true, pred)
            np.testing.assert_array_equal(ax.images[0].get_array(), load_images(X[row["index"]][None], 96)[0])
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


def test_worst_errors_svc_probability_and_multiclass(images):
    X, y = images
    svm = _image_classifier(CalibratedClassifierCV(SVC(random_state=0), ensemble=False)).fit(X, y)
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
