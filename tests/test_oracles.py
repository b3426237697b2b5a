"""Behaviour users rely on, checked against an independent reference.

Each test compares the package with something it did not compute: a
``keras.applications`` model applied to its own ``preprocess_input``,
scikit-learn's ``compute_class_weight``, the Keras model called directly, a
hand count. A comparison of the package with itself (cached vs uncached, paths
vs arrays) cannot see a mistake both sides share.
"""

import pathlib

import keras  # after sktransfer, which quiets TensorFlow's start-up log
import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from sklearn.base import clone
from sklearn.utils.class_weight import compute_class_weight

import sktransfer
from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier
from sktransfer.backbones import BACKBONES, PREPROCESSING_MODES, BackbonePreprocessing
from sktransfer.backbones.efficientnet_lite import EfficientNetLite0


def _lite_preprocess(x):
    return (x - 127.0) / 128.0  # EfficientNet-Lite's normalisation (see DESIGN.md)


# One backbone per preprocessing mode of the registry, with the Keras
# constructor and preprocess_input it is checked against (written out here,
# not read from the registry, so that a wrong registry entry shows).
REFERENCES = {
    "tf": (
        "mobilenet_0.25",
        keras.applications.MobileNet,
        {"alpha": 0.25},
        keras.applications.mobilenet.preprocess_input,
    ),
    "caffe": ("resnet50", keras.applications.ResNet50, {}, keras.applications.resnet50.preprocess_input),
    "torch": (
        "densenet121",
        keras.applications.DenseNet121,
        {},
        keras.applications.densenet.preprocess_input,
    ),
    # The model normalises inside its own graph; preprocess_input is the identity.
    "none": (
        "efficientnetb0",
        keras.applications.EfficientNetB0,
        {},
        keras.applications.efficientnet.preprocess_input,
    ),
    "efficientnet_lite": ("efficientnet_lite0", EfficientNetLite0, {}, _lite_preprocess),
}


@pytest.fixture(scope="module")
def images(sample):
    """Six 32-px images of the sample, from different classes, and their labels."""
    X, y = sample
    return X[::14][:6], y[::14][:6]


@pytest.fixture(scope="module")
def oracles():
    """``oracle(mode)``: the mode's Keras model (no top, random weights), built once."""
    built = {}

    def get(mode):
        if mode not in built:
            _, constructor, kwargs, _ = REFERENCES[mode]
            built[mode] = constructor(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3), **kwargs)
        return built[mode]

    return get


def _weighted_layers(model):
    """The layers holding weights, nested models (the split backbone) included, in order."""
    found = []
    for layer in model.layers:
        inner = getattr(layer, "model", None) or (layer if hasattr(layer, "layers") else None)
        if inner is not None and inner is not model:
            found += _weighted_layers(inner)
        elif layer.weights:
            found.append(layer)
    return found


def _load_by_name(oracle, fitted_model):
    """Give ``oracle`` the weights of the same layers of a fitted network: by name,
    or by position where Keras numbered the names (``normalization_1``)."""
    fitted = {layer.name: layer for layer in _weighted_layers(fitted_model)}
    mine = [layer for layer in oracle.layers if layer.weights]
    if [layer.name for layer in mine] != list(fitted)[: len(mine)]:
        backbone = list(fitted.values())[: len(mine)]
        assert [type(a) for a in mine] == [type(b) for b in backbone]
        fitted = {a.name: b for a, b in zip(mine, backbone)}
    for layer in mine:
        layer.set_weights(fitted[layer.name].get_weights())


def _oracle_features(mode, oracle, X):
    """Global-average-pooled features of the Keras model on preprocess_input(X)."""
    preprocess = REFERENCES[mode][3]
    x = preprocess(X.astype("float32"))  # a new float array: preprocess_input works in place
    return keras.ops.convert_to_numpy(keras.ops.mean(oracle(x, training=False), axis=(1, 2)))


def _assert_close(got, expected):
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


# ------------------------------------------------------------------ preprocessing
# Modes with no keras.applications model, checked against their own reference elsewhere.
ELSEWHERE = {
    # keras-hub presets: the embedder against the keras-hub backbone on (x / 255 - mean) / std
    "scale_offset": "backbones/test_hub_backbones.py::test_embedder_applies_the_preset_normalisation_once",
}


def test_every_mode_has_a_reference():
    """A preprocessing mode added to the registry needs its row in REFERENCES."""
    assert set(REFERENCES) | set(ELSEWHERE) == set(PREPROCESSING_MODES)
    assert not set(REFERENCES) & set(ELSEWHERE)
    for where in ELSEWHERE.values():
        path, name = where.split("::")
        assert f"def {name}(" in (pathlib.Path(__file__).parent / path).read_text()
    for mode, (name, *_) in REFERENCES.items():
        assert BACKBONES[name].preprocessing == mode


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_each_backbone_preprocesses_as_its_keras_family(name):
    """The registry's mode for a backbone is what its own preprocess_input does."""
    import importlib

    spec = BACKBONES[name]
    module, _, attr = spec.constructor.rpartition(".")
    if name == "efficientnet_lite0":
        reference = _lite_preprocess
    else:
        assert module == "keras.applications"
        family = importlib.import_module(getattr(keras.applications, attr).__module__)
        reference = family.preprocess_input
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 4, 5, 3)).astype("float32")
    pixels[..., 0] *= 0.3  # channels differ, so that an RGB/BGR swap shows
    got = keras.ops.convert_to_numpy(BackbonePreprocessing(spec.preprocessing)(pixels))
    np.testing.assert_allclose(got, reference(pixels.copy()), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", list(REFERENCES))
def test_embedder_features_are_the_backbone_on_its_preprocess_input(mode, images, oracles):
    X, _ = images
    name = REFERENCES[mode][0]
    emb = PretrainedEmbedder(name, weights=None, input_size=SIZE, cache=False).fit(X)
    oracle = oracles(mode)
    _load_by_name(oracle, emb.model_)
    expected = _oracle_features(mode, oracle, X)
    assert expected.std(axis=0).max() > 0  # the images give different features
    _assert_close(emb.transform(X), expected)
    # The check can tell: raw pixels (no preprocessing) give other features,
    # except for "none", whose model normalises inside.
    if mode != "none":
        raw = keras.ops.convert_to_numpy(keras.ops.mean(oracle(X.astype("float32")), axis=(1, 2)))
        assert not np.allclose(raw, expected, rtol=1e-2, atol=1e-2 * np.abs(expected).max())


@pytest.mark.parametrize("mode, trainable_layers", [("tf", 0), ("efficientnet_lite", 3)])
def test_finetuned_features_are_the_backbone_on_its_preprocess_input(mode, trainable_layers, images, oracles):
    X, y = images
    name = REFERENCES[mode][0]
    # efficientnet_lite0 with its ImageNet weights: the suite's shared template
    weights = "imagenet" if name == BACKBONE else None
    clf = FineTunedClassifier(
        name,
        weights=weights,
        input_size=SIZE,
        trainable_layers=trainable_layers,
        embedding="pooled",
        epochs=1,
        batch_size=4,
        head_epochs=0,
        tta=False,
        cache=False,
        random_state=0,
    )
    with sktransfer.config_context(xla=False):  # compiling the trained layers takes seconds
        clf.fit(X, y)
    oracle = oracles(mode)
    _load_by_name(oracle, clf.model_)  # trained layers too: the oracle is the fitted backbone
    expected = _oracle_features(mode, oracle, X)
    _assert_close(clf.transform(X), expected)
    # and the probabilities are the head on those features
    kernel, bias = clf.model_.get_layer("logits").get_weights()
    logits = expected @ kernel + bias
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(
        clf.predict_proba(X), proba / proba.sum(axis=1, keepdims=True), rtol=1e-3, atol=1e-5
    )


# ------------------------------------------------------------------ class weights
@pytest.fixture
def fit_calls(monkeypatch):
    """The keyword arguments of every Keras ``Model.fit`` call during the test."""
    calls = []
    original = keras.Model.fit

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    return calls


@pytest.fixture(scope="module")
def unbalanced(sample):
    """Three classes of 3, 8 and 20 images: "balanced" weights far from 1 and all different."""
    X, y = sample
    keep = np.r_[
        np.flatnonzero(y == "dahlia")[:3], np.flatnonzero(y == "temple")[:8], np.flatnonzero(y == "trees")
    ]
    return X[keep], y[keep]


def _sklearn_balanced(y):
    classes = np.unique(y)
    return dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))


@pytest.fixture
def graph_fit_calls(monkeypatch):
    """The arguments of every in-graph fit (cached activations, no callbacks) during the test."""
    from sktransfer.estimators import _training

    calls = []
    original = _training.fit_in_graph

    def spy(trainer, x, y, sample_weight, **kwargs):
        calls.append({"y": y, "sample_weight": sample_weight, **kwargs})
        return original(trainer, x, y, sample_weight, **kwargs)

    monkeypatch.setattr(_training, "fit_in_graph", spy)
    return calls


def test_balanced_class_weight_is_sklearns(unbalanced, make_classifier, fit_calls):
    """Through Keras' fit (a user callback): its ``class_weight``."""
    X, y = unbalanced
    expected = _sklearn_balanced(y)
    clf = make_classifier(class_weight="balanced", epochs=1, callbacks=[keras.callbacks.Callback()]).fit(X, y)
    (call,) = fit_calls
    passed = {clf.classes_[i]: w for i, w in call["class_weight"].items()}
    assert passed.keys() == expected.keys()
    for label, weight in expected.items():
        assert passed[label] == pytest.approx(weight, rel=1e-6)
    assert passed["dahlia"] > passed["temple"] > 1 > passed["trees"]  # rarer weighs more


def test_balanced_class_weight_in_graph_weighs_each_sample(unbalanced, make_classifier, graph_fit_calls):
    """In the in-graph loop (the default on cached activations) the weights travel per sample."""
    X, y = unbalanced
    expected = _sklearn_balanced(y)
    clf = make_classifier(class_weight="balanced", epochs=1).fit(X, y)
    (call,) = graph_fit_calls
    labels = clf.classes_[call["y"].astype(int)]
    np.testing.assert_allclose(call["sample_weight"], [expected[label] for label in labels], rtol=1e-6)


def test_balanced_class_weight_of_cached_views_weighs_each_sample(unbalanced, make_classifier, fit_calls):
    """With cached augmented views, the weights travel as per-sample weights."""
    X, y = unbalanced
    expected = _sklearn_balanced(y)
    make_classifier(
        class_weight="balanced",
        epochs=1,
        cache=False,
        augmentation=Augmentation(flip="horizontal", n_views=1),
    ).fit(X, y)
    (call,) = fit_calls
    data = call["x"]
    np.testing.assert_allclose(data.sample_weight, [expected[label] for label in y], rtol=1e-6)


def test_balanced_class_weight_changes_what_is_learned(unbalanced, make_classifier):
    X, y = unbalanced
    params = dict(epochs=8, learning_rate=0.01)
    plain = make_classifier(**params).fit(X, y)
    balanced = make_classifier(class_weight="balanced", **params).fit(X, y)
    # the same fit as with scikit-learn's weights given by hand...
    by_hand = make_classifier(class_weight=_sklearn_balanced(y), **params).fit(X, y)
    np.testing.assert_allclose(balanced.predict_proba(X), by_hand.predict_proba(X), atol=1e-5)
    # ...which moves probability towards the rare classes, away from the common one
    rare = np.isin(balanced.classes_, ["dahlia", "temple"])
    gain = balanced.predict_proba(X).mean(axis=0) - plain.predict_proba(X).mean(axis=0)
    assert np.all(gain[rare] > 0) and np.all(gain[~rare] < 0)


# ------------------------------------------------------------------ augmented views
@pytest.fixture
def views_seen(monkeypatch):
    """The cached augmented views each fit trains on (one array per view)."""
    import sktransfer.estimators._training as training

    seen = []

    class Spy(training.ViewEpochs):
        def __init__(self, views, *args, **kwargs):
            seen.append([np.array(v) for v in views])
            super().__init__(views, *args, **kwargs)

    monkeypatch.setattr(training, "ViewEpochs", Spy)
    return seen


def test_cached_views_are_augmented_distinct_and_reproducible(images, make_classifier, views_seen):
    X, y = images
    aug = Augmentation(rotation=0.2, zoom=0.2, n_views=3)
    clf = make_classifier(augmentation=aug, epochs=1, cache=False).fit(X, y)
    # made again from scratch (no cache), the images in another order: a view
    # depends on its image, not on the image's place in a fit
    clone(clf).fit(X[::-1], y[::-1])
    first, again = views_seen
    again = [view[::-1] for view in again]
    # head-only: the views are pooled features, to compare with the images' own
    plain = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=False).fit(X).transform(X)
    assert len(first) == 3 and all(v.shape == plain.shape for v in first)

    def differ(a, b):  # per image
        return ~np.isclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(plain).max()).all(axis=1)

    for v, view in enumerate(first):
        assert differ(view, plain).all(), f"view {v} is the un-augmented image"
        for other in first[v + 1 :]:
            assert differ(view, other).all(), "two views of an image are the same"
        np.testing.assert_allclose(view, again[v], rtol=1e-5, atol=1e-5)
        # a view of an image is that image, transformed: on average nearer its
        # features than the other images' (views of the wrong images would not be)
        distance = np.linalg.norm(view[:, None] - plain[None], axis=2)
        own = np.eye(len(X), dtype=bool)
        assert distance[own].mean() < distance[~own].mean()


# ------------------------------------------------------------------ prediction
def test_augmentation_is_off_when_predicting(images, make_classifier):
    """predict_proba is the network without its augmentation layers (a fixed seed
    would make an augmented prediction repeatable, so repeating it proves nothing).
    Prediction takes the same path however the network was trained: with cached
    views here, the quickest."""
    X, y = images
    aug = Augmentation(flip="horizontal", rotation=0.2, zoom=0.2, n_views=2)
    clf = make_classifier(augmentation=aug, epochs=1, cache=False).fit(X, y)
    model = clf.model_
    without = keras.Model(model.get_layer("preprocess").input, model.output)
    expected = keras.ops.convert_to_numpy(without(X.astype("float32")))
    augmented = keras.ops.convert_to_numpy(model(X.astype("float32"), training=True))
    assert not np.allclose(augmented, expected, atol=1e-4)  # the layers do augment
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("binary, trainable_layers", [(False, 0), (True, 2)])
def test_tta_is_the_mean_of_the_image_and_its_mirror(
    binary, trainable_layers, images, sample, make_classifier
):
    """Against the Keras model itself: probabilities of x and of x[:, :, ::-1], averaged."""
    X, y = images
    if binary:
        X, y = sample[0][:40:4], np.array(["a", "b"] * 5)
    clf = make_classifier(tta=True, epochs=1, head_epochs=0, trainable_layers=trainable_layers)
    with sktransfer.config_context(xla=False):
        clf.fit(X, y)
    model = clf.model_
    mean = (
        keras.ops.convert_to_numpy(model(X.astype("float32")))
        + keras.ops.convert_to_numpy(model(X[:, :, ::-1].astype("float32")))
    ) / 2
    proba = clf.predict_proba(X)
    if binary:
        np.testing.assert_allclose(proba[:, 1], mean[:, 0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(
            clf.decision_function(X), np.log(mean[:, 0]) - np.log1p(-mean[:, 0]), rtol=1e-3, atol=1e-4
        )
    else:
        np.testing.assert_allclose(proba, mean, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(clf.decision_function(X), np.log(mean), rtol=1e-3, atol=1e-4)
    alone = keras.ops.convert_to_numpy(model(X.astype("float32")))
    assert not np.allclose(mean, alone, rtol=1e-3, atol=0)  # the mirror images change something
    # transform is unaffected by tta: the embedding of the image alone
    embedding = keras.Model(model.inputs, model.get_layer("embedding").output)
    np.testing.assert_allclose(clf.transform(X), embedding(X.astype("float32")), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ the scratch CNN
def test_scratch_cnn_scales_pixels_to_unit_range(images):
    """Raw 0..255 pixels in; the layers after rescaling see x / 255."""
    X, y = images
    clf = SimpleCNNClassifier(
        conv_filters=(4, 8), dense_units=8, input_size=SIZE, epochs=1, random_state=0
    ).fit(X, y)
    model = clf.model_
    after = keras.Model(model.get_layer("rescale").output, model.output)
    expected = keras.ops.convert_to_numpy(after(X.astype("float32") / 255.0))
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ the report's numbers
def _html_table(text, table_id):
    """{row label: [cells]} of the table with this id (cells as text)."""
    import html
    import re

    body = re.search(rf'<table id="{table_id}">(.*?)</table>', text, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


@pytest.fixture(scope="module")
def flat_split(sample):
    """A quick classifier without TensorFlow (logistic regression on pixels) and a test set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sktransfer.model_selection import per_class_split

    X, y = sample
    X_train, X_test, y_train, y_test = per_class_split(X, y, y=y, n_test=6, random_state=0)
    model = make_pipeline(
        FunctionTransformer(lambda x: x.reshape(len(x), -1) / 255.0), LogisticRegression(C=0.01, max_iter=200)
    )
    return model, X_train, X_test, y_train, y_test


@pytest.mark.usefixtures("close_figures")
def test_binary_report_numbers_are_sklearns(flat_split, tmp_path):
    """The report's tables against scikit-learn's metrics on the same predictions.

    (tests/report/test_report.py checks the multiclass tables against ``evaluate``, and
    tests/metrics/test_metrics.py ``evaluate`` against scikit-learn.)"""
    from sklearn import metrics as skm

    from sktransfer.report import write_report

    model, X_train, X_test, y_train, y_test = flat_split
    train, test = np.isin(y_train, ["dahlia", "temple"]), np.isin(y_test, ["dahlia", "temple"])
    model = clone(model).fit(X_train[train], y_train[train])
    X_test, y_test = X_test[test], y_test[test]
    text = open(write_report(tmp_path / "r.html", model, X_test, y_test), encoding="utf-8").read()
    predicted, score = model.predict(X_test), model.predict_proba(X_test)[:, 1]
    pos = "temple"  # classes_[1]
    (tn, fp), (fn, tp) = skm.confusion_matrix(y_test, predicted, labels=["dahlia", pos])
    counts = _html_table(text, "confusion-counts")
    # Columns in classes_' order, as the confusion matrix plot draws them.
    assert counts[""] == ["predicted dahlia", f"predicted {pos}"]
    assert counts["true dahlia"] == [str(tn), str(fp)]
    assert counts[f"true {pos}"] == [str(fn), str(tp)]
    overall = _html_table(text, "metrics-summary")
    expected = {
        "accuracy": skm.accuracy_score(y_test, predicted),
        "balanced accuracy": skm.balanced_accuracy_score(y_test, predicted),
        "precision": skm.precision_score(y_test, predicted, pos_label=pos, zero_division=0),
        "sensitivity (recall)": skm.recall_score(y_test, predicted, pos_label=pos),
        "specificity": tn / (tn + fp),
        "F1": skm.f1_score(y_test, predicted, pos_label=pos),
        "ROC AUC": skm.roc_auc_score(y_test == pos, score),
        "average precision": skm.average_precision_score(y_test == pos, score),
    }
    for name, value in expected.items():
        assert float(overall[name][0]) == pytest.approx(value, abs=5.1e-4), name
