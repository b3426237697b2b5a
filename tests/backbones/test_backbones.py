"""Tests of the backbone registry, preprocessing layer and builder (sktransfer.backbones)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import urllib.error

import keras
import numpy as np
import pytest

from sktransfer._engine.cut import resolve_trainable
from sktransfer.backbones import (
    BACKBONES,
    BackbonePreprocessing,
    available_backbones,
    build_backbone,
    efficientnet_lite,
    get_backbone_spec,
    normalize_size,
)
from sktransfer.exceptions import WeightsUnavailableError


@pytest.fixture(scope="module")
def pixels():
    """Random raw RGB pixels in 0..255 (float32), plus the exact extremes."""
    x = np.random.default_rng(0).uniform(0.0, 255.0, size=(3, 5, 7, 3)).astype("float32")
    x[0, 0, 0] = 0.0
    x[0, 0, 1] = 255.0
    return x


# -- BackbonePreprocessing ----------------------------------------------------


@pytest.mark.parametrize(
    "mode, reference",
    [
        ("tf", keras.applications.resnet_v2.preprocess_input),
        ("tf", keras.applications.mobilenet.preprocess_input),
        ("tf", keras.applications.mobilenet_v2.preprocess_input),
        ("caffe", keras.applications.resnet50.preprocess_input),
        ("torch", keras.applications.densenet.preprocess_input),
        ("efficientnet_lite", efficientnet_lite.preprocess_input),
    ],
    ids=[
        "tf-resnet_v2",
        "tf-mobilenet",
        "tf-mobilenet_v2",
        "caffe-resnet50",
        "torch-densenet",
        "efficientnet_lite",
    ],
)
def test_preprocessing_matches_keras_preprocess_input(pixels, mode, reference):
    expected = np.asarray(reference(pixels.copy()))
    got = np.asarray(BackbonePreprocessing(mode)(pixels))
    assert got.shape == pixels.shape
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_preprocessing_none_is_identity(pixels):
    np.testing.assert_array_equal(np.asarray(BackbonePreprocessing("none")(pixels)), pixels)


def test_preprocessing_caffe_is_bgr_minus_mean():
    x = np.array([[[[10.0, 20.0, 30.0]]]], dtype="float32")
    got = np.asarray(BackbonePreprocessing("caffe")(x))
    np.testing.assert_allclose(got[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)


def test_resnet50v2_maps_0_to_minus1_and_255_to_1():
    layer = BackbonePreprocessing(BACKBONES["resnet50v2"].preprocessing)
    out = np.asarray(layer(np.array([[[[0.0, 255.0, 127.5]]]], dtype="float32")))
    np.testing.assert_allclose(out[0, 0, 0], [-1.0, 1.0, 0.0], atol=1e-6)


def test_preprocessing_casts_integer_input():
    x = np.array([[[[0, 128, 255]]]], dtype="uint8")
    out = BackbonePreprocessing("tf")(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_allclose(np.asarray(out)[0, 0, 0], [-1.0, 128 / 127.5 - 1, 1.0], atol=1e-6)


def test_registry_preprocessing_modes():
    assert BACKBONES["resnet50v2"].preprocessing == "tf"
    assert BACKBONES["resnet50"].preprocessing == "caffe"
    assert BACKBONES["densenet121"].preprocessing == "torch"
    assert BACKBONES["mobilenetv2"].preprocessing == "tf"
    assert BACKBONES["efficientnet_lite0"].preprocessing == "efficientnet_lite"
    for spec in BACKBONES.values():
        assert spec.preprocessing in ("tf", "caffe", "torch", "efficientnet_lite", "none")
        BackbonePreprocessing(spec.preprocessing)  # every registered mode is accepted


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch", "efficientnet_lite", "none"])
def test_preprocessing_config_round_trip(pixels, mode):
    layer = BackbonePreprocessing(mode, name=f"pre_{mode}")
    config = layer.get_config()
    assert config["mode"] == mode
    clone = BackbonePreprocessing.from_config(config)
    assert clone.mode == mode and clone.name == f"pre_{mode}"
    np.testing.assert_allclose(np.asarray(clone(pixels)), np.asarray(layer(pixels)), atol=1e-6)
    # Through Keras' generic (de)serialisation, as a saved model does it.
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(again, BackbonePreprocessing) and again.mode == mode


def test_preprocessing_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        BackbonePreprocessing("imagenet")


# -- registry -------------------------------------------------------------------


def test_available_backbones_sorted_registry_names():
    names = available_backbones()
    assert names == sorted(BACKBONES)
    assert "resnet50v2" in names and "efficientnet_lite0" in names


def test_get_backbone_spec_is_case_insensitive():
    assert get_backbone_spec("ResNet50V2") is BACKBONES["resnet50v2"]


@pytest.mark.parametrize("bad", ["nope", None, 3])
def test_get_backbone_spec_unknown_lists_valid_names(bad):
    with pytest.raises(ValueError) as info:
        get_backbone_spec(bad)
    message = str(info.value)
    assert repr(bad) in message
    for name in BACKBONES:
        assert name in message


def test_build_backbone_unknown_name():
    with pytest.raises(ValueError, match="resnet50v2"):
        build_backbone("nope", weights=None, input_size=32)


# The smallest member of each keras.applications family (and the offline
# Lite0), built here; the others share its constructor and block patterns and
# are checked by their spec (building NASNetLarge or ConvNeXtXLarge would cost
# the suite minutes). Value: the keras.applications module whose own
# preprocess_input the family's in-model preprocessing must reproduce.
FAMILIES = {
    "xception": "xception",
    "vgg16": "vgg16",
    "vgg19": "vgg19",
    "resnet50": "resnet",
    "resnet50v2": "resnet_v2",
    "inceptionv3": "inception_v3",
    "inceptionresnetv2": "inception_resnet_v2",
    "mobilenet_0.25": "mobilenet",
    "mobilenetv2_0.35": "mobilenet_v2",
    "mobilenetv3small": "mobilenet_v3",
    "densenet121": "densenet",
    "nasnetmobile": "nasnet",
    "efficientnetb0": "efficientnet",
    "efficientnetv2b0": "efficientnet_v2",
    "convnexttiny": "convnext",
    "efficientnet_lite0": None,
}


def _family(spec):
    """The FAMILIES member whose keras.applications module holds ``spec``'s constructor."""
    if spec.name == "efficientnet_lite0":
        return spec.name
    ctor = spec.constructor.rsplit(".", 1)[-1]
    for name, module in FAMILIES.items():
        if module is None:
            continue
        # keras.applications.mobilenet_v3 does not export its constructors
        if hasattr(getattr(keras.applications, module), ctor) or (
            module == "mobilenet_v3" and ctor.startswith("MobileNetV3")
        ):
            return name
    return None


def test_every_keras_application_is_registered():
    """All of keras.applications' ImageNet models, by lower-case name (issue 21)."""
    expected = {n.lower() for n in dir(keras.applications) if n[0].isupper()}
    constructors = {spec.constructor.rsplit(".", 1)[-1].lower() for spec in BACKBONES.values()}
    assert expected <= constructors, sorted(expected - constructors)
    for name in [
        "xception",
        "vgg16",
        "vgg19",
        "resnet152",
        "inceptionv3",
        "inceptionresnetv2",
        "mobilenet_0.75",
        "mobilenetv3small",
        "mobilenetv3large",
        "densenet169",
        "densenet201",
        "nasnetmobile",
        "nasnetlarge",
        "efficientnetb7",
        "efficientnetv2s",
        "efficientnetv2l",
        "convnextxlarge",
    ]:
        assert name in BACKBONES


@pytest.mark.parametrize("name", [n for n, m in FAMILIES.items() if m is not None])
def test_family_preprocessing_matches_its_preprocess_input(pixels, name):
    """The in-model preprocessing of every family is its application's preprocess_input;
    the families that normalise inside their graph get the identity (never twice)."""
    spec = BACKBONES[name]
    module = getattr(keras.applications, FAMILIES[name])
    expected = np.asarray(module.preprocess_input(pixels.copy()))
    np.testing.assert_allclose(
        np.asarray(BackbonePreprocessing(spec.preprocessing)(pixels)), expected, atol=1e-4
    )
    assert spec.normalises_inside == np.array_equal(expected, pixels)
    for other in BACKBONES.values():  # the same family, the same preprocessing
        if _family(other) == name:
            assert other.preprocessing == spec.preprocessing, other.name


def test_every_backbone_spec_is_consistent():
    """Specs of the members that are not built: a family, a size, blocks, parameters."""
    for name, spec in BACKBONES.items():
        assert _family(spec) is not None, name
        assert spec.default_size >= spec.min_size and spec.params > 0 and spec.feature_dim > 0
        assert list(spec.blocks), name
        if spec.normalises_inside:
            assert spec.preprocessing == "none", name


@pytest.mark.parametrize("name", list(FAMILIES))
def test_family_builds_and_its_blocks_resolve(name):
    """Build the smallest member of each family once (weights=None, smallest size)."""
    spec = BACKBONES[name]
    keras.backend.clear_session()
    size = max(32, spec.min_size)
    model, got_spec = build_backbone(name, weights=None, input_size=size)
    assert got_spec is spec
    assert tuple(model.input.shape[1:]) == (size, size, 3)
    assert model.output.shape[-1] == spec.feature_dim
    assert model.count_params() == spec.params
    if spec.normalises_inside:  # its own normalisation is in the graph
        assert any(
            isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization)) for layer in model.layers
        )
    problems = []
    previous = None
    for block in spec.blocks:
        try:
            trainable = resolve_trainable(model, spec, block)
        except ValueError as exc:
            problems.append(f"block {block!r} does not resolve ({exc})")
            continue
        if not trainable:
            problems.append(f"block {block!r} gives no trainable layer")
        elif previous is not None and len(trainable) >= previous:
            problems.append(f"block {block!r} does not train fewer layers than the one before")
        previous = len(trainable)
    del model
    keras.backend.clear_session()
    assert not problems, "\n".join(problems)


# -- normalize_size -------------------------------------------------------------


def test_normalize_size_valid():
    assert normalize_size(64, 224) == (64, 64)
    assert normalize_size((48, 96), 224) == (48, 96)
    assert normalize_size([96, 48], 224) == (96, 48)
    assert normalize_size(None, 224) == (224, 224)
    assert normalize_size(None, 299, min_size=75) == (299, 299)
    assert normalize_size(32, 224, min_size=32) == (32, 32)
    assert isinstance(normalize_size([40, 40], 224), tuple)


@pytest.mark.parametrize(
    "bad",
    [0, -1, "a", "64", (1, 2, 3), (64,), (64, "64"), (64, 64.0), 64.0, True, (True, 64), 31, (64, 16)],
)
def test_normalize_size_invalid(bad):
    with pytest.raises(ValueError, match="input_size"):
        normalize_size(bad, 224, min_size=32)


def test_normalize_size_respects_min_size():
    with pytest.raises(ValueError, match="input_size.*75"):
        normalize_size(64, 299, min_size=75)


def test_build_backbone_rejects_bad_size():
    with pytest.raises(ValueError, match="input_size"):
        build_backbone("mobilenet_0.25", weights=None, input_size=8)


# -- weights --------------------------------------------------------------------


def test_weights_from_local_file(tmp_path):
    keras.backend.clear_session()
    model, _ = build_backbone("mobilenet_0.25", weights=None, input_size=32)
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))
    x = np.random.default_rng(1).uniform(-1.0, 1.0, size=(2, 32, 32, 3)).astype("float32")
    expected = np.asarray(model(x, training=False))

    scale = float(np.abs(expected).max())
    assert scale > 0
    for weights in (str(path), path):  # str and os.PathLike
        loaded, _ = build_backbone("mobilenet_0.25", weights=weights, input_size=32)
        for got, want in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_allclose(
            np.asarray(loaded(x, training=False)), expected, rtol=1e-5, atol=1e-6 * scale
        )
    # A freshly initialised model differs, so the comparison above means something.
    other, _ = build_backbone("mobilenet_0.25", weights=None, input_size=32)
    assert not np.allclose(np.asarray(other(x, training=False)), expected, rtol=1e-3, atol=1e-3 * scale)
    keras.backend.clear_session()


def test_new_weights_file_at_the_same_path_is_not_served_from_the_template(tmp_path):
    """Regression: shared templates were keyed by the weights path, so a new file
    at the same path gave the old file's features (even with cache=False), and the
    activation cache, keyed by the file's content, then filed them under the new
    weights."""
    from sktransfer import PretrainedEmbedder
    from sktransfer._engine.templates import clear_templates

    X = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32, 3), dtype=np.uint8)
    model, _ = build_backbone("mobilenet_0.25", weights=None, input_size=32)
    path = tmp_path / "w.weights.h5"
    model.save_weights(str(path))

    def embed():
        return (
            PretrainedEmbedder(
                "mobilenet_0.25",
                weights=path,
                input_size=32,
                cache=False,
            )
            .fit(X)
            .transform(X)
        )

    first = embed()
    weights = model.get_weights()
    model.set_weights([-weights[0], *weights[1:]])  # the first convolution negated
    os.remove(path)
    model.save_weights(str(path))
    second = embed()
    clear_templates()
    np.testing.assert_array_equal(second, embed())  # what a fresh process computes
    assert not np.allclose(first, second, rtol=1e-3, atol=0)  # random weights: tiny values


def test_weights_missing_file_names_path(tmp_path):
    missing = tmp_path / "does_not_exist.weights.h5"
    with pytest.raises(ValueError) as info:
        build_backbone("mobilenet_0.25", weights=str(missing), input_size=32)
    assert str(missing) in str(info.value) and "does not exist" in str(info.value)
    for name in ("mobilenet_0.25", "efficientnet_lite0"):  # a folder exists, but is no file
        with pytest.raises(ValueError, match="is a folder"):
            build_backbone(name, weights=tmp_path, input_size=32)


@pytest.mark.parametrize("bad", [3, ["imagenet"]])
def test_weights_bad_type(bad):
    with pytest.raises(TypeError, match="weights"):
        build_backbone("mobilenet_0.25", weights=bad, input_size=32)


def test_imagenet_offline_raises_weights_unavailable(tmp_path, monkeypatch):
    """No network and an empty cache: a clear WeightsUnavailableError, no download."""
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    calls = []

    def no_network(url, filename=None, *args, **kwargs):
        calls.append((url, filename))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()  # get_file falls back to /tmp/.keras when the dir is not writable
    # keras.utils.get_file downloads with the ``urlretrieve`` it imported into
    # file_utils, and finds its cache through keras_home(), which returns
    # ``_KERAS_DIR`` (read from $KERAS_HOME once, when Keras is imported), so
    # setting the environment variable now would not move the cache.
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(keras_home))

    keras.backend.clear_session()
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone("mobilenet_0.25", weights="imagenet", input_size=128)
    keras.backend.clear_session()

    # One download attempt, into the redirected cache (not ~/.keras).
    assert len(calls) == 1
    url, target = calls[0]
    assert url.startswith("https://") and "mobilenet_2_5_128" in url
    assert os.fspath(target).startswith(str(tmp_path / "keras_home" / "models"))
    message = str(info.value)
    assert "weights=None" in message
    assert "path" in message and ".h5" in message  # how to pass a local weights file
    assert "efficientnet_lite0" in message
    assert "mobilenet_0.25" in message
    assert isinstance(info.value, OSError)
    assert info.value.__cause__ is not None
    # Nothing half-downloaded is left in the (temporary) cache.
    models_dir = tmp_path / "keras_home" / "models"
    assert models_dir.is_dir() and not any(models_dir.iterdir())


def test_hub_handle_without_keras_hub_says_what_to_install(tmp_path, monkeypatch):
    """keras-hub not installed: every kind of hub handle names the package to install."""
    import sys

    from sktransfer import FineTunedClassifier

    monkeypatch.setitem(sys.modules, "keras_hub", None)  # `import keras_hub` raises ImportError
    folder = tmp_path / "resnet18.a1_in1k"
    folder.mkdir()
    (folder / "config.json").write_text('{"architecture": "resnet18"}')
    install = r'pip install "sktransfer\[hub\]"'
    for handle in ("hf://timm/resnet18.a1_in1k", os.fspath(folder)):
        with pytest.raises(ImportError, match=rf"needs keras-hub.*{install}"):
            get_backbone_spec(handle)
    X = np.zeros((4, 32, 32, 3), dtype="uint8")
    with pytest.raises(ImportError, match=install):
        FineTunedClassifier(os.fspath(folder), input_size=32, epochs=1).fit(X, [0, 1, 0, 1])
    # A preset name is only known to keras-hub: the unknown-name error says so.
    with pytest.raises(ValueError, match=rf"keras-hub is not installed.*{install}"):
        get_backbone_spec("resnet_18_imagenet")
    assert "efficientnetb0" in available_backbones()  # the registry works without it
