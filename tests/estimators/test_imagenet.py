"""PretrainedImageNetClassifier: the pretrained network's own ImageNet head (offline Lite0)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

pytest.importorskip("keras_hub")  # the offline source of the ImageNet class names

from sktransfer import PretrainedImageNetClassifier
from sktransfer.backbones import efficientnet_lite
from sktransfer.datasets import load_sample
from sktransfer.estimators import imagenet_class_names


@pytest.fixture(scope="module")
def fitted():
    X, y = load_sample(size=224, n_per_class=1, return_X_y=True)
    reference = efficientnet_lite.EfficientNetLite0(include_top=True, weights="imagenet")
    expected = np.asarray(reference(efficientnet_lite.preprocess_input(X.astype("float32")), training=False))
    return X, y, PretrainedImageNetClassifier().fit(X), expected


def test_class_names_are_imagenet_order():
    names = imagenet_class_names()
    assert len(names) == 1000 and names[1] == "goldfish" and names[285] == "Egyptian_cat"


def test_lite0_probabilities_are_its_own_head(fitted):
    X, _, clf, expected = fitted
    np.testing.assert_allclose(clf.predict_imagenet_proba(X), expected, atol=1e-5)
    names, top = clf.predict_imagenet(X, top_k=3)
    assert names.shape == (len(X), 3)
    order = np.argsort(-expected, axis=1)[:, :3]
    np.testing.assert_allclose(top, np.take_along_axis(expected, order, axis=1), atol=1e-5)
    np.testing.assert_array_equal(names, clf.imagenet_classes_[order])
    np.testing.assert_array_equal(clf.predict(X), clf.imagenet_classes_[order[:, 0]])


def test_class_map_scores_user_labels(fitted):
    X, _, clf, expected = fitted
    # Not every ImageNet class is mapped: the labels' sums are renormalised.
    class_map = {"low": range(0, 300), "high": [*range(700, 999), "toilet_tissue"]}
    mapped = PretrainedImageNetClassifier(class_map=class_map).fit(X)
    np.testing.assert_array_equal(mapped.classes_, ["high", "low"])
    high, low = expected[:, 700:].sum(axis=1), expected[:, :300].sum(axis=1)
    want = np.stack([high, low], axis=1) / (high + low)[:, None]
    np.testing.assert_allclose(mapped.predict_proba(X), want, atol=1e-5)
    y = np.where(high > low, "high", "low")
    assert mapped.score(X, y) == 1.0
    with pytest.raises(ValueError, match="no_such_class"):
        PretrainedImageNetClassifier(class_map={"a": ["no_such_class"]}).fit(X)
