"""Tests of the Augmentation parameter object (sktransfer.estimators)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest
from sklearn.base import clone

from sktransfer import Augmentation, FineTunedClassifier

FACTORS = ("rotation", "shift", "zoom", "shear", "contrast", "brightness")
ALL_ON = dict(
    flip="horizontal_and_vertical", rotation=0.1, shift=0.1, zoom=0.2, shear=0.1, contrast=0.3, brightness=0.2
)


def test_defaults():
    aug = Augmentation()
    assert aug.get_params() == dict(
        flip="horizontal",
        rotation=0.0,
        shift=0.0,
        zoom=0.0,
        shear=0.0,
        contrast=0.0,
        brightness=0.0,
        n_views=None,
    )
    assert aug.is_active()
    assert [type(layer).__name__ for layer in aug.build_layers()] == ["RandomFlip"]


def test_build_layers_order_and_types():
    layers = Augmentation(**ALL_ON).build_layers(seed=10)
    expected = [
        keras.layers.RandomFlip,
        keras.layers.RandomRotation,
        keras.layers.RandomTranslation,
        keras.layers.RandomZoom,
        keras.layers.RandomShear,
        keras.layers.RandomContrast,
        keras.layers.RandomBrightness,
    ]
    assert [type(layer) for layer in layers] == expected
    # Layer i gets seed + i, so a fit is repeatable.
    assert [layer.get_config()["seed"] for layer in layers] == list(range(10, 17))
    flip, rotation, translation, zoom, shear, contrast, brightness = layers
    assert flip.mode == "horizontal_and_vertical"
    assert rotation.get_config()["factor"] in (0.1, (-0.1, 0.1), [-0.1, 0.1])
    assert translation.get_config()["height_factor"] == 0.1
    assert translation.get_config()["width_factor"] == 0.1
    assert zoom.get_config()["height_factor"] == 0.2
    assert tuple(contrast.get_config()["value_range"]) == (0, 255)
    assert tuple(brightness.get_config()["value_range"]) == (0, 255)
    # Fresh layers on every call (each fit builds its own model).
    again = Augmentation(**ALL_ON).build_layers(seed=10)
    assert all(a is not b for a, b in zip(layers, again))


def test_build_layers_skips_zero_factors_and_no_flip():
    layers = Augmentation(flip=None, zoom=0.1, brightness=0.1).build_layers()
    assert [type(layer).__name__ for layer in layers] == ["RandomZoom", "RandomBrightness"]
    assert all(layer.get_config()["seed"] is None for layer in layers)


@pytest.mark.parametrize("flip", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_modes(flip):
    (layer,) = Augmentation(flip=flip).build_layers(seed=0)
    assert isinstance(layer, keras.layers.RandomFlip) and layer.mode == flip


def test_is_active():
    assert not Augmentation(flip=None).is_active()
    assert Augmentation(flip=None).build_layers() == []
    assert Augmentation(flip="vertical").is_active()
    for name in FACTORS:
        assert Augmentation(flip=None, **{name: 0.05}).is_active(), name
    assert not Augmentation(flip=None, **{name: 0 for name in FACTORS}).is_active()


@pytest.mark.parametrize("field", FACTORS)
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, "x", True, None, float("nan")])
def test_invalid_factor_names_field(field, bad):
    aug = Augmentation(**{field: bad})  # sklearn convention: __init__ only stores
    with pytest.raises(ValueError, match=f"Augmentation {field}"):
        aug.is_active()
    with pytest.raises(ValueError, match=f"Augmentation {field}"):
        aug.build_layers()


@pytest.mark.parametrize("bad", ["x", "Horizontal", "both", True, 0, ""])
def test_invalid_flip(bad):
    with pytest.raises(ValueError, match="Augmentation flip"):
        Augmentation(flip=bad).is_active()
    with pytest.raises(ValueError, match="flip"):
        Augmentation(flip=bad).build_layers()


def test_nested_set_params_and_clone():
    clf = FineTunedClassifier(augmentation=Augmentation())
    assert clf.set_params(augmentation__zoom=0.2) is clf
    assert clf.augmentation.zoom == 0.2
    params = clf.get_params(deep=True)
    assert params["augmentation__zoom"] == 0.2
    assert params["augmentation__flip"] == "horizontal"

    copy = clone(clf)
    assert copy.augmentation is not clf.augmentation
    assert isinstance(copy.augmentation, Augmentation)
    assert copy.augmentation.get_params() == clf.augmentation.get_params()
    assert copy.get_params()["augmentation__zoom"] == 0.2

    # Setting the whole object and a nested field in one call.
    clf.set_params(augmentation=Augmentation(flip=None), augmentation__rotation=0.1)
    assert clf.augmentation.flip is None and clf.augmentation.rotation == 0.1

    with pytest.raises(ValueError, match="spin"):
        clf.set_params(augmentation__spin=0.1)


def test_repr_shows_changed_params_only():
    assert repr(Augmentation(zoom=0.2)) == "Augmentation(zoom=0.2)"


def test_layers_only_act_while_training():
    rng = np.random.default_rng(0)
    batch = rng.uniform(0.0, 255.0, size=(4, 16, 16, 3)).astype("float32")
    layers = Augmentation(flip=None, rotation=0.2).build_layers(seed=3)
    model = keras.Sequential([keras.Input((16, 16, 3)), *layers])

    inference = np.asarray(model(batch, training=False))
    np.testing.assert_array_equal(inference, batch)
    # (Keras 3's image preprocessing layers default to training=True when called
    # without the argument, so callers must pass training=False explicitly, as
    # sktransfer's run_model does.)

    training = np.asarray(model(batch, training=True))
    assert training.shape == batch.shape
    assert np.abs(training - batch).max() > 1.0
    # Still pixels in range (reflect fill, no blank corners of zeros out of range).
    assert training.min() >= -1e-3 and training.max() <= 255.0 + 1e-3


def test_all_layers_keep_shape_and_range_when_training():
    batch = np.random.default_rng(1).uniform(0.0, 255.0, size=(2, 16, 16, 3)).astype("float32")
    model = keras.Sequential([keras.Input((16, 16, 3)), *Augmentation(**ALL_ON).build_layers(0)])
    np.testing.assert_array_equal(np.asarray(model(batch, training=False)), batch)
    out = np.asarray(model(batch, training=True))
    assert out.shape == batch.shape
    assert not np.allclose(out, batch)
    assert np.isfinite(out).all()


@pytest.mark.parametrize("n_views", [0, -1, 2.5, True, "3"])
def test_bad_n_views(n_views):
    with pytest.raises(ValueError, match="n_views"):
        Augmentation(n_views=n_views).is_active()
