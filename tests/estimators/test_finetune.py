import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from PIL import Image
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from sktransfer import Augmentation, FineTunedClassifier
from sktransfer.backbones import build_backbone


def _clf(**kwargs):
    params = dict(backbone=BACKBONE, input_size=SIZE, epochs=3, learning_rate=0.01, random_state=0)
    params.update(kwargs)
    return FineTunedClassifier(**params)


@pytest.fixture(scope="module")
def fitted_multiclass(sample):
    X, y = sample
    return _clf(epochs=8, head=(16,)).fit(X, y)


def _all_layers(model):
    """Every layer inside ``model``, through nested models and wrappers."""
    return model._flatten_layers(include_self=False, recursive=True)


def _layer_weights(model):
    out = {}
    for layer in _all_layers(model):
        if layer.weights and not hasattr(layer, "layers"):
            out.setdefault(layer.name, [w.numpy().copy() for w in layer.weights])
    return out


def test_multiclass_string_labels(fitted_multiclass, sample):
    X, y = sample
    clf = fitted_multiclass
    assert list(clf.classes_) == sorted(set(y))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 4) and proba.dtype == np.float64
    # Rows sum to 1 in float64 (a float32 softmax is off by ~1e-7, and sklearn's
    # log_loss, scoring="neg_log_loss", warned about it on every fold).
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert clf.score(X, y) > 0.8, clf.history_
    assert clf.decision_function(X[:3]).shape == (3, 4)
    assert set(clf.predict(X[:5])) <= set(y)
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.backbone_info_["training_input"] == "cached activations at the cut"
    assert clf.n_epochs_ == 8
    # The keys 0.1.0 recorded (tests/fixtures/legacy_0_1_0), less a two-stage fit's head_epochs.
    assert set(clf.backbone_info_) == {
        *("backbone", "weights", "input_size", "preprocessing", "pooling", "trainable_backbone_layers"),
        *("cut", "cut_layer", "anchor", "identity", "feature_dim", "total_params", "trainable_params"),
        "training_input",
    }


def test_binary_sigmoid_and_logit(binary_sample):
    X, y = binary_sample
    clf = _clf(epochs=5).fit(X, y)
    assert clf.model_.output.shape[-1] == 1  # Dense(1) + sigmoid
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    logit = clf.decision_function(X)
    assert logit.shape == (len(X),)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), proba[:, 1], rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(logit > 0).astype(int)])
    assert clf.score(X, y) > 0.8


def _write_pngs(X, directory):
    paths = []
    for i, image in enumerate(X):
        path = os.path.join(directory, f"img_{i:03d}.png")
        Image.fromarray(image).save(path)  # lossless: decodes to the same array
        paths.append(path)
    return paths


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_paths_and_arrays_give_same_predictions(task, sample, binary_sample, tmp_path):
    X, y = binary_sample if task == "binary" else sample
    paths = _write_pngs(X, tmp_path)
    by_array = _clf(epochs=2).fit(X, y)
    by_path = _clf(epochs=2).fit(paths, y)
    np.testing.assert_allclose(by_array.predict_proba(X), by_path.predict_proba(paths), atol=1e-5)
    np.testing.assert_array_equal(by_array.predict(paths), by_path.predict(X))
    # a pandas Series of paths works too
    pd = pytest.importorskip("pandas")
    np.testing.assert_array_equal(by_path.predict(pd.Series(paths)), by_path.predict(paths))


def test_same_random_state_same_predictions(binary_sample):
    X, y = binary_sample
    first = _clf(head=(8,), head_dropout=0.2, trainable_layers=2).fit(X, y).predict_proba(X)
    second = _clf(head=(8,), head_dropout=0.2, trainable_layers=2).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(first, second, atol=1e-6)


@pytest.mark.parametrize("trainable_layers", [0, 4, "block7"])
def test_frozen_batchnorm_statistics_unchanged(trainable_layers, binary_sample):
    X, y = binary_sample
    reference, _ = build_backbone(BACKBONE, "imagenet", SIZE)
    before = _layer_weights(reference)
    # one stage: the head stage trains on cached pooled features and cannot touch the backbone
    clf = _clf(trainable_layers=trainable_layers, learning_rate=0.01, epochs=1, head_epochs=0, tta=False)
    clf.fit(X, y)
    after = _layer_weights(clf.model_)
    bn_names = [
        layer.name for layer in _all_layers(reference) if layer.__class__.__name__ == "BatchNormalization"
    ]
    assert len(bn_names) > 40
    for name in bn_names:
        # moving mean and variance (weights 2 and 3) keep their ImageNet values,
        # trainable or not: the backbone always runs in inference mode
        np.testing.assert_array_equal(before[name][2], after[name][2], err_msg=name)
        np.testing.assert_array_equal(before[name][3], after[name][3], err_msg=name)
    n_trainable = clf.backbone_info_["trainable_backbone_layers"]
    changed = [n for n in before if not all(np.array_equal(a, b) for a, b in zip(before[n], after[n]))]
    assert len(changed) == n_trainable, (changed, n_trainable)
    if trainable_layers == 0:
        assert clf.backbone_info_["cut"] == "pool"
    else:
        assert all(n.startswith(("block7", "top_")) for n in changed)


def test_trainable_all_runs_full_forward(binary_sample):
    X, y = binary_sample
    clf = _clf(backbone="mobilenet_0.25", weights=None, trainable_layers="all", epochs=2).fit(X, y)
    assert clf.backbone_info_["cut"] == "input"
    assert clf.backbone_info_["training_input"].startswith("images")
    assert clf.backbone_info_["trainable_backbone_layers"] == 54


def test_backbone_lr_scale_slows_backbone(binary_sample):
    X, y = binary_sample
    reference, _ = build_backbone(BACKBONE, "imagenet", SIZE)
    before = _layer_weights(reference)["top_conv"][0]

    def moved(scale):
        clf = _clf(
            trainable_layers=2,
            optimizer="sgd",
            learning_rate=0.1,
            backbone_lr_scale=scale,
            head_epochs=0,
            tta=False,
        )
        after = _layer_weights(clf.fit(X, y).model_)["top_conv"][0]
        return np.abs(after - before).max()

    full, tiny = moved(1.0), moved(1e-4)
    assert full > 0
    assert tiny < full * 1e-2


def test_learning_rate_callbacks_move_the_backbone_rate_too(binary_sample):
    """Regression: with backbone_lr_scale != 1, LearningRateScheduler and
    ReduceLROnPlateau set the head's rate only; the backbone kept training at
    its first rate (a schedule of 0 still moved top_conv)."""
    import keras

    X, y = binary_sample
    reference, _ = build_backbone(BACKBONE, "imagenet", SIZE)
    before = _layer_weights(reference)["top_conv"][0]
    frozen = keras.callbacks.LearningRateScheduler(lambda epoch, rate: 0.0)
    clf = _clf(trainable_layers=2, head_epochs=0, backbone_lr_scale=0.5, epochs=2, callbacks=[frozen]).fit(
        X, y
    )
    np.testing.assert_array_equal(_layer_weights(clf.model_)["top_conv"][0], before)


def test_transform_and_pipeline_with_svc(binary_sample):
    X, y = binary_sample
    pipe = make_pipeline(_clf(head=(16,), epochs=3), SVC(random_state=0))
    pipe.fit(X, y)
    assert pipe[0].transform(X[:3]).shape == (3, 16)
    assert pipe.score(X, y) > 0.8
    names = pipe[0].get_feature_names_out()
    assert names[0] == "finetunedclassifier0" and len(names) == 16
    pooled = _clf(embedding="pooled", epochs=1).fit(X, y)
    assert pooled.transform(X[:2]).shape == (2, 1280)


def test_augmentation_only_while_training(binary_sample):
    X, y = binary_sample
    aug = Augmentation(flip="horizontal", rotation=0.1, zoom=0.1, contrast=0.1)
    clf = _clf(augmentation=aug, epochs=2).fit(X, y)
    assert clf.backbone_info_["training_input"].startswith("images")
    names = [layer.__class__.__name__ for layer in clf.model_.layers]
    assert "RandomRotation" in names and "RandomFlip" in names
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_validation_and_early_stopping(sample):
    X, y = sample
    clf = _clf(
        epochs=30,
        validation_fraction=0.25,
        early_stopping=True,
        patience=1,
        optimizer="adam",
        learning_rate=0.5,  # large steps: the validation loss soon goes up
    ).fit(X, y)
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(clf.history_)
    assert clf.n_epochs_ < 30
    val_loss = clf.history_["val_loss"]
    assert min(val_loss) < val_loss[-1]  # stopped after it got worse
    with pytest.raises(ValueError, match="validation_fraction"):
        _clf(early_stopping=True).fit(X, y)


def test_validation_part_smaller_than_the_number_of_classes(sample):
    """Regression: 3 validation images for 4 classes failed in train_test_split
    ("The test_size = 3 should be greater or equal to the number of classes");
    the split is then unstratified, as when a class has a single image."""
    X, y = sample
    clf = _clf(validation_fraction=0.03).fit(X, y)
    assert len(clf.history_["val_loss"]) == clf.n_epochs_ > 0
    with pytest.raises(ValueError, match=r"validation_fraction=0.999 holds out all 80"):
        _clf(validation_fraction=0.999).fit(X, y)


def test_class_weight(binary_sample):
    X, y = binary_sample
    keep = np.r_[np.flatnonzero(y == "dahlia")[:5], np.flatnonzero(y == "temple")]
    X, y = X[keep], y[keep]
    _clf(class_weight="balanced", epochs=1).fit(X, y)
    _clf(class_weight={"dahlia": 4.0, "temple": 1.0}, epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"not present in y: \['cat'\], and no weight for"):
        _clf(class_weight={"cat": 2.0}, epochs=1).fit(X, y)
    # Labels y lacks are fine when every class of y has a weight (a CV fold
    # without one class), as in scikit-learn's compute_class_weight.
    _clf(class_weight={"dahlia": 4.0, "temple": 1.0, "trees": 2.0}, epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"backbone": "vgg99"}, "backbone"),
        ({"optimizer": "adamm"}, "adamm"),
        ({"trainable_layers": "conv9"}, "conv9"),
        ({"trainable_layers": 10_000}, "out of range"),
        ({"head": (0,)}, "head"),
        ({"input_size": 8}, "input_size"),
    ],
)
def test_bad_parameters_name_the_argument(params, match, binary_sample):
    X, y = binary_sample
    with pytest.raises(ValueError, match=match):
        _clf(**params).fit(X, y)


def test_bad_input_errors(binary_sample):
    X, y = binary_sample
    with pytest.raises(ValueError, match="different lengths"):
        _clf().fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes"):
        _clf().fit(X, np.full(len(X), "a"))
    with pytest.raises(ValueError, match="Unknown label type"):
        _clf().fit(X, np.linspace(0, 1, len(X)))


def test_numpy_integers_from_grids_are_accepted(binary_sample):
    """Regression: np.int64 passed the parameter checks but failed in fit."""
    X, y = binary_sample
    clf = _clf(trainable_layers=np.int64(2), input_size=np.int64(SIZE), epochs=1, head=(np.int64(8),)).fit(
        X, y
    )
    assert clf.backbone_info_["trainable_backbone_layers"] == 2


@pytest.mark.parametrize("trainable_layers", [0, "all"])
def test_input_size_changed_after_fit_does_not_reach_the_fitted_network(trainable_layers, binary_sample):
    """set_params(input_size=...) without a refit: predictions still resize images
    to the fitted network's size (through the cached frozen part, or the whole
    network), as the other fitted parameters stay as fit left them."""
    X, y = binary_sample
    # cache=False: every prediction really runs the network (no cached activations)
    clf = _clf(trainable_layers=trainable_layers, epochs=1, cache=False).fit(X, y)
    before = clf.predict_proba(X[:6])
    clf.set_params(input_size=2 * SIZE)
    np.testing.assert_array_equal(clf.predict_proba(X[:6]), before)


class _RecordRate:
    """A Keras callback that records the optimizer's learning rate when training starts."""

    def __new__(cls):
        import keras

        class Record(keras.callbacks.Callback):
            rates = []

            def on_train_begin(self, logs=None):
                self.rates.append(float(self.model.optimizer.learning_rate))

        return Record()


@pytest.mark.parametrize(
    "optimizer, learning_rate, expected",
    [
        ("adam", None, 0.003),  # the fine-tuner's own default for Adam (docs/guide/defaults.md)
        ("Adam", None, 0.003),
        ("sgd", None, 0.01),  # other names keep sktransfer.estimators' table
        ("adam", 0.02, 0.02),  # an explicit rate always wins
    ],
)
def test_default_learning_rate(optimizer, learning_rate, expected, binary_sample):
    X, y = binary_sample
    record = _RecordRate()
    FineTunedClassifier(
        BACKBONE,
        input_size=SIZE,
        epochs=1,
        optimizer=optimizer,
        learning_rate=learning_rate,
        callbacks=[record],
        random_state=0,
    ).fit(X, y)
    assert record.rates[-1] == pytest.approx(expected, rel=1e-6)


def test_unknown_optimizer_fails_before_any_network_is_built(binary_sample, monkeypatch):
    """It failed at compile time, after the frozen pass over every image."""
    X, y = binary_sample

    def build(*args, **kwargs):
        raise AssertionError("the network was built")

    monkeypatch.setattr(FineTunedClassifier, "_build_network", build)
    est = FineTunedClassifier(BACKBONE, input_size=SIZE, optimizer="adamm")
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        est.fit(X, y)


class _HeadAtStart:
    """Keras callback: the output layer's weights when training begins."""

    def __new__(cls):
        import threading

        import keras

        class Callback(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                # A lock cannot be deep-copied: stage one must not clone the callbacks.
                self.lock = threading.Lock()

            def on_train_begin(self, logs=None):
                self.start = [w.numpy().copy() for w in self.model.get_layer("logits").weights]

        return Callback()


@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_head_epochs_start_the_backbone_stage_from_the_trained_head(sample, class_weight):
    X, y = sample
    head_only = _clf(head=(8,), epochs=4, class_weight=class_weight).fit(X, y)
    watch = _HeadAtStart()
    two_stage = _clf(
        head=(8,), epochs=1, trainable_layers=2, head_epochs=4, callbacks=[watch], class_weight=class_weight
    ).fit(X, y)
    trained = [w.numpy() for w in head_only.model_.get_layer("logits").weights]
    for start, expected in zip(watch.start, trained, strict=True):
        np.testing.assert_allclose(start, expected, rtol=1e-5, atol=1e-6)
    assert two_stage.backbone_info_["head_epochs"] == 4
    assert two_stage.n_epochs_ == 1  # history_ is the second stage's


def test_head_epochs_without_backbone_layers_change_nothing(binary_sample):
    X, y = binary_sample
    plain = _clf(epochs=2).fit(X, y)
    with_head = _clf(epochs=2, head_epochs=5).fit(X, y)
    np.testing.assert_allclose(plain.predict_proba(X), with_head.predict_proba(X), rtol=1e-6)
    assert "head_epochs" not in with_head.backbone_info_


def test_head_epochs_skipped_for_random_weights(binary_sample):
    # A random backbone has nothing to protect, and stage one's backbone would not be stage two's.
    X, y = binary_sample
    default = _clf(weights=None, trainable_layers=2, epochs=1).fit(X, y)
    together = _clf(weights=None, trainable_layers=2, epochs=1, head_epochs=0).fit(X, y)
    assert default.head_epochs == 30 and "head_epochs" not in default.backbone_info_
    np.testing.assert_allclose(default.predict_proba(X), together.predict_proba(X), rtol=1e-5)
