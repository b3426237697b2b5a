"""keras-hub as a second source of backbones: timm checkpoint folders and keras-hub presets.

The checkpoints are written here (tests/hub_checkpoints.py): ResNet-18 with
random weights under timm's key names, two seeds, and a keras-hub preset
written with ``save_to_preset``. No network.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras_hub = pytest.importorskip("keras_hub")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

from hub_checkpoints import write_keras_hub_preset, write_timm_resnet18  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sktransfer import FineTunedClassifier, PretrainedEmbedder  # noqa: E402
from sktransfer._engine.cache import ActivationCache  # noqa: E402
from sktransfer.backbones import export_backbone, get_backbone_spec  # noqa: E402
from sktransfer.exceptions import WeightsUnavailableError  # noqa: E402

SIZE = 32
MEAN_A, STD_A = (0.40, 0.50, 0.60), (0.20, 0.25, 0.30)  # not ImageNet's: the preset's own


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    a = write_timm_resnet18(root / "resnet18.a1_in1k", seed=0, tag="a1_in1k", mean=MEAN_A, std=STD_A)
    b = write_timm_resnet18(root / "resnet18.tv_in1k", seed=1, tag="tv_in1k")
    c = write_timm_resnet18(root / "resnet18.tv2_in1k", seed=2, tag="tv2_in1k")
    d = write_timm_resnet18(root / "resnet18.a2_in1k", seed=3, tag="a2_in1k")
    return {"a": a, "b": b, "c": c, "d": d, "root": root}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(8, SIZE, SIZE, 3), dtype=np.uint8)
    y = np.array(["cat", "dog"] * 4)
    return X, y


def _reference_features(folder, X, mean, std):
    """keras-hub's own backbone on (x / 255 - mean) / std, average-pooled."""
    backbone = keras_hub.models.Backbone.from_preset(folder, image_shape=(SIZE, SIZE, 3))
    x = (X.astype("float32") / 255.0 - np.array(mean, "float32")) / np.array(std, "float32")
    return np.asarray(backbone(x, training=False)).mean(axis=(1, 2))


def test_spec_of_a_timm_folder(folders):
    spec = get_backbone_spec(folders["a"])
    assert spec.source == "keras-hub" and spec.constructor == "ResNetBackbone"
    assert [b for b in spec.blocks if b.startswith("stack")] == ["stack0", "stack1", "stack2", "stack3"]
    assert spec.feature_dim == 512 and spec.default_size == 224
    state = safetensors_numpy.load_file(os.path.join(folders["a"], "model.safetensors"))
    # Every tensor of the checkpoint but the classifier and BatchNorm's batch counters.
    expected = sum(
        v.size for k, v in state.items() if not k.startswith("fc.") and not k.endswith("num_batches_tracked")
    )
    assert spec.params == expected
    np.testing.assert_allclose(spec.scale, 1.0 / (255.0 * np.array(STD_A)))
    np.testing.assert_allclose(spec.offset, -np.array(MEAN_A) / np.array(STD_A))


def test_embedder_applies_the_preset_normalisation_once(folders, data):
    X, _ = data
    got = PretrainedEmbedder(folders["a"], input_size=SIZE, cache=False).fit(X).transform(X)
    expected = _reference_features(folders["a"], X, MEAN_A, STD_A)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_two_tags_never_share_cache_entries(folders, data):
    X, _ = data
    a, b = get_backbone_spec(folders["a"]), get_backbone_spec(folders["b"])
    assert a.weights_id != b.weights_id
    cache = ActivationCache()
    fa = PretrainedEmbedder(folders["a"], input_size=SIZE, cache=cache).fit(X).transform(X)
    fb = PretrainedEmbedder(folders["b"], input_size=SIZE, cache=cache).fit(X).transform(X)
    assert cache.hits == 0
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    np.testing.assert_allclose(fb, _reference_features(folders["b"], X, *imagenet), rtol=1e-4, atol=1e-4)
    assert not np.allclose(fa, fb, rtol=1e-2, atol=0)
    # The identity is the content, not the path: a copy is the same weights.
    copy = shutil.copytree(folders["a"], folders["root"] / "copy_of_a")
    assert get_backbone_spec(copy).weights_id == a.weights_id


def test_grid_search_over_trainable_layers_reuses_the_cache(folders, data):
    X, y = data
    cache = ActivationCache()
    clf = FineTunedClassifier(
        folders["a"],
        input_size=SIZE,
        epochs=1,
        head_epochs=0,
        batch_size=4,
        cache=cache,
        tta=False,
        random_state=0,
    )
    search = GridSearchCV(clf, {"trainable_layers": [0, "stack3"]}, cv=2).fit(X, y)
    assert cache.hits > 0  # folds and candidates share the frozen activations
    misses = cache.misses
    again = clone(clf).set_params(trainable_layers="stack3").fit(X, y)
    assert cache.misses == misses  # nothing frozen computed twice
    assert search.best_estimator_.predict(X).shape == (8,)
    assert again.transform(X).shape == (8, 512)


def test_keras_hub_preset_folder_equals_the_timm_folder(folders, data):
    X, _ = data
    preset = write_keras_hub_preset(folders["a"], folders["root"] / "keras_hub_preset")
    spec = get_backbone_spec(preset)
    assert spec.source == "keras-hub" and spec.constructor == "ResNetBackbone"
    np.testing.assert_allclose(spec.scale, get_backbone_spec(folders["a"]).scale)
    got = PretrainedEmbedder(preset, input_size=SIZE, cache=False).fit(X).transform(X)
    np.testing.assert_allclose(got, _reference_features(folders["a"], X, MEAN_A, STD_A), rtol=1e-4, atol=1e-4)


_LOAD_OFFLINE = textwrap.dedent("""
    import sys
    import numpy as np
    import sktransfer
    X = np.load(sys.argv[1])
    for saved, expected in zip(sys.argv[2::2], sys.argv[3::2]):
        model = sktransfer.load(saved)
        np.testing.assert_allclose(model.predict_proba(X), np.load(expected), atol=1e-5)
        print("loaded", model.backbone_info_["backbone"].endswith("moved_away"))
""")


def test_saved_models_load_offline_without_the_folder(folders, data, tmp_path):
    """Head only (the whole backbone frozen) and the last stage trained: both load in a
    fresh process with HF_HUB_OFFLINE=1, once the checkpoint folder is gone."""
    X, y = data
    import sktransfer

    folder = shutil.copytree(folders["a"], tmp_path / "moved_away")
    np.save(tmp_path / "X.npy", X)
    args = [os.fspath(tmp_path / "X.npy")]
    for layers in (0, "stack3"):
        clf = FineTunedClassifier(
            os.fspath(folder),
            input_size=SIZE,
            trainable_layers=layers,
            epochs=1,
            head_epochs=1,
            random_state=0,
        ).fit(X, y)
        sktransfer.save(clf, tmp_path / f"saved_{layers}")
        np.save(tmp_path / f"p_{layers}.npy", clf.predict_proba(X))
        args += [os.fspath(tmp_path / f"saved_{layers}"), os.fspath(tmp_path / f"p_{layers}.npy")]
    shutil.rmtree(folder)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": os.getcwd(),
        "HF_HOME": os.fspath(tmp_path / "hf_home"),
        "KAGGLEHUB_CACHE": os.fspath(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_OFFLINE, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("loaded True") == 2


def test_exported_backbone_is_accepted_by_weights(folders, data, tmp_path):
    X, y = data
    clf = FineTunedClassifier(
        folders["a"],
        input_size=SIZE,
        trainable_layers="stack3",
        epochs=1,
        head_epochs=0,
        learning_rate=0.05,
        random_state=0,
    ).fit(X, y)
    path = export_backbone(clf, tmp_path / "tuned.weights.h5")
    tuned = PretrainedEmbedder(folders["a"], weights=path, input_size=SIZE, cache=False).fit(X)
    expected = clf.transform(X)  # head=(): the pooled backbone features
    np.testing.assert_allclose(tuned.transform(X), expected, rtol=1e-4, atol=1e-4)
    pretrained = PretrainedEmbedder(folders["a"], input_size=SIZE, cache=False).fit(X).transform(X)
    assert not np.allclose(pretrained, expected, rtol=1e-3, atol=0)  # it did train


def test_network_handle_offline_says_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", os.fspath(tmp_path))
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", os.fspath(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailableError) as info:
        get_backbone_spec("hf://timm/resnet18.a1_in1k")
    message = str(info.value)
    assert "huggingface-cli download timm/resnet18.a1_in1k --local-dir" in message
    assert "save_to_preset" in message and "resnet18.a1_in1k" in message


def test_unknown_name_suggests_the_hub_handles():
    with pytest.raises(ValueError) as info:
        get_backbone_spec("resnet18")
    message = str(info.value)
    assert "Closest:" in message and "resnet_18_imagenet" in message


def test_imagenet_classifier_uses_the_checkpoint_head(folders, data):
    """PretrainedImageNetClassifier on a timm folder: softmax(pooled @ fc.weight.T + fc.bias)."""
    from sktransfer import PretrainedImageNetClassifier

    X, _ = data
    clf = PretrainedImageNetClassifier(folders["a"], input_size=SIZE).fit()
    state = safetensors_numpy.load_file(os.path.join(folders["a"], "model.safetensors"))
    logits = _reference_features(folders["a"], X, MEAN_A, STD_A) @ state["fc.weight"].T
    logits += state["fc.bias"]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_imagenet_proba(X), expected, rtol=1e-4, atol=1e-6)
    assert clf.imagenet_classes_[1] == "goldfish"


def test_compare_four_weights_of_one_architecture(folders, data):
    """The weights assignment: four ResNet-18 checkpoints, one split; each row is its own
    weights (frozen features = that folder's keras-hub backbone) and its own predictions."""
    from sklearn.metrics import accuracy_score

    from sktransfer.compare import compare_models

    X, y = data
    imagenet = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    variants = {
        "a1_in1k": (folders["a"], (MEAN_A, STD_A)),
        "tv_in1k": (folders["b"], imagenet),
        "tv2_in1k": (folders["c"], imagenet),
        "a2_in1k": (folders["d"], imagenet),
    }
    models = {
        tag: FineTunedClassifier(
            folder, input_size=SIZE, epochs=1, head_epochs=0, batch_size=4, tta=False, random_state=0
        )
        for tag, (folder, _) in variants.items()
    }
    table = compare_models(models, X, y, X[:4], y[:4], warm=True)  # one cache for all four
    assert [row["name"] for row in table] == list(variants)
    features = []
    for row in table:
        est = table.estimators_[row["name"]]
        assert row["accuracy"] == accuracy_score(y[:4], est.predict(X[:4]))
        folder, (mean, std) = variants[row["name"]]
        features.append(est.transform(X[:4]))
        np.testing.assert_allclose(
            features[-1], _reference_features(folder, X[:4], mean, std), rtol=1e-4, atol=1e-4
        )
    for i in range(len(features)):
        for j in range(i):
            assert not np.allclose(features[i], features[j], rtol=1e-2, atol=0)


def _weights_by_layer(model):
    """{layer name: its weights} through nested models and the InferenceMode wrappers."""
    out = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and not hasattr(layer, "layers"):
            out.setdefault(layer.name, [w.numpy().copy() for w in layer.weights])
    return out


def test_last_stage_trains_batchnorm_stays_in_inference_mode(folders, data):
    """trainable_layers="stack3" (tuning's top block) changes stack3 only, never a moving
    mean / variance (against keras-hub's own backbone); tta and pickle hold."""
    import pickle

    import keras

    from sktransfer.tuning import top_block

    X, y = data
    assert top_block(folders["b"]) == "stack3"
    reference = keras_hub.models.Backbone.from_preset(folders["b"], image_shape=(SIZE, SIZE, 3))
    before = _weights_by_layer(reference)
    norms = [
        layer.name
        for layer in reference._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 20  # ResNet-18: 1 + 8 blocks x 2 + 3 downsampling
    clf = FineTunedClassifier(
        folders["b"],
        input_size=SIZE,
        trainable_layers="stack3",
        epochs=2,
        head_epochs=0,
        learning_rate=0.05,
        tta=True,
        random_state=0,
    )
    after = _weights_by_layer(clf.fit(X, y).model_)
    for name in norms:  # moving mean and variance keep the checkpoint's values
        np.testing.assert_array_equal(before[name][2], after[name][2], err_msg=name)
        np.testing.assert_array_equal(before[name][3], after[name][3], err_msg=name)
    changed = [n for n in before if not all(np.array_equal(a, b) for a, b in zip(before[n], after[n]))]
    assert changed and all(n.startswith("stack3") for n in changed), changed
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(copy.predict_proba(X), clf.predict_proba(X), atol=1e-6)
