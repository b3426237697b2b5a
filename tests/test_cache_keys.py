"""One shared activation cache, two configurations: their entries must never collide.

Each test fills its own cache with configuration A, then runs configuration B
on the same cache and compares B with B computed without any cache. The two
configurations differ in exactly one component of the key: the image's
content, the backbone, the weights' content (same path), the input size, the
cut layer, the pooling, the deterministic mode, the mirror image (TTA) and the
augmented view. Every test builds its own cache, so the outcome does not
depend on the order the tests run in.
"""

import dataclasses

import numpy as np
import pytest
from PIL import Image

from conftest import BACKBONE, SIZE
import sktransfer
from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder
from sktransfer._cache import ActivationCache
from sktransfer.backbones import BACKBONES
from sktransfer.efficientnet_lite import EfficientNetLite0


@pytest.fixture(scope="module")
def images(sample):
    X, y = sample
    return X[::10][:8], y[::10][:8]


def _other_pixels(X):
    """Images of the same shape and dtype with other pixels."""
    other = X.copy()
    other[:, 8:24, 8:24] = 255 - other[:, 8:24, 8:24]
    return other


def _embedder(cache, **params):
    return PretrainedEmbedder(**{"backbone": BACKBONE, "input_size": SIZE, "batch_size": 4,
                                 "cache": cache, **params})


def _assert_no_collision(run_a, run_b):
    """``run_x(cache)`` -> outputs. B on A's cache gives what B gives alone, and A != B."""
    cache = ActivationCache()
    a = run_a(cache)
    filled = len(cache)
    assert filled > 0  # A did use the cache
    b_shared = run_b(cache)
    b_alone = run_b(False)
    assert not np.allclose(a, b_alone, rtol=1e-4, atol=1e-6), "A and B agree: nothing to tell"
    np.testing.assert_allclose(b_shared, b_alone, rtol=1e-5, atol=1e-6)
    assert len(cache) > filled  # B made entries of its own


# ------------------------------------------------------------------ per component
def test_image_content_arrays(images):
    X, _ = images
    other = _other_pixels(X)
    _assert_no_collision(lambda c: _embedder(c).fit(X).transform(X),
                         lambda c: _embedder(c).fit(other).transform(other))


def test_image_content_same_file_name(images, tmp_path):
    X, _ = images
    paths = np.array([str(tmp_path / f"{i}.png") for i in range(len(X))], dtype=object)

    def run(pixels):
        def embed(cache):
            for path, image in zip(paths, pixels):
                Image.fromarray(image).save(path)  # rewritten: same names, other content
            return _embedder(cache).fit(paths).transform(paths)
        return embed

    _assert_no_collision(run(X), run(_other_pixels(X)))


def _lite0_other_function(**kwargs):
    """EfficientNet-Lite0 with its ImageNet weights and a different last layer."""
    model = EfficientNetLite0(**kwargs)
    gamma, *rest = model.get_layer("top_bn").get_weights()
    model.get_layer("top_bn").set_weights([gamma * 2.0, *rest])
    return model


def test_backbone(images, monkeypatch):
    """Two backbones with the same weights identity ("imagenet"), preprocessing and
    input size: the registered one, and another name for another function."""
    X, _ = images
    alias = dataclasses.replace(BACKBONES[BACKBONE], name="lite0_other_function",
                                constructor=f"{__name__}._lite0_other_function")
    monkeypatch.setitem(BACKBONES, alias.name, alias)
    monkeypatch.setitem(PretrainedEmbedder._parameter_constraints, "backbone", [str])
    _assert_no_collision(lambda c: _embedder(c).fit(X).transform(X),
                         lambda c: _embedder(c, backbone=alias.name).fit(X).transform(X))


def test_weights_content_at_the_same_path(images, tmp_path):
    X, _ = images
    path = str(tmp_path / "lite0.weights.h5")
    model = EfficientNetLite0(weights=None, input_shape=(SIZE, SIZE, 3))
    original = model.get_weights()

    def run(scale):
        def embed(cache):
            # scaled kernels and biases: other weights, same file name and size
            model.set_weights([w * scale if w.ndim > 1 else w for w in original])
            model.save_weights(path)
            return _embedder(cache, weights=path).fit(X).transform(X)
        return embed

    _assert_no_collision(run(1.0), run(1.5))


def test_input_size(images):
    X, _ = images
    _assert_no_collision(lambda c: _embedder(c).fit(X).transform(X),
                         lambda c: _embedder(c, input_size=64).fit(X).transform(X))


def test_pooling(images):
    X, _ = images  # at 64 px, not 32: a 1x1 last feature map has one average and maximum
    _assert_no_collision(lambda c: _embedder(c, input_size=64).fit(X).transform(X),
                         lambda c: _embedder(c, input_size=64, pooling="max").fit(X).transform(X))


def test_mirror_images_of_tta(images):
    X, _ = images
    _assert_no_collision(lambda c: _embedder(c).fit(X).transform(X),
                         lambda c: _embedder(c, tta=True).fit(X).transform(X))


def _classifier(cache, **params):
    defaults = dict(backbone=BACKBONE, input_size=SIZE, epochs=1, batch_size=4, head_epochs=0,
                    learning_rate=0.01, tta=False, random_state=0, cache=cache)
    return FineTunedClassifier(**{**defaults, **params})


def test_cut_layer(images):
    X, y = images

    def run(trainable_layers):
        def fit(cache):
            with sktransfer.config_context(xla=False):
                clf = _classifier(cache, trainable_layers=trainable_layers).fit(X, y)
            return clf.predict_proba(X)
        return fit

    _assert_no_collision(run(1), run(2))


def test_augmented_views(images):
    X, y = images

    def run(augmentation):
        return lambda cache: _classifier(cache, augmentation=augmentation).fit(X, y).predict_proba(X)

    _assert_no_collision(run(Augmentation(rotation=0.2, n_views=2)),
                         run(Augmentation(zoom=0.2, n_views=2)))


def test_deterministic_mode(images):
    """Deterministic passes (one image per batch) are cached apart from batched ones.

    Their values may agree with the batched ones to the last bit, so the test
    counts: the deterministic pass finds none of the batched entries."""
    X, _ = images
    cache = ActivationCache()
    batched = _embedder(cache).fit(X)
    batched.transform(X)
    misses = cache.misses
    with sktransfer.config_context(deterministic=True):
        shared = _embedder(cache).fit(X).transform(X)
        assert cache.misses == misses + len(X)
        alone = _embedder(False).fit(X).transform(X)
        np.testing.assert_array_equal(shared, alone)  # bitwise, whatever the cache held
        np.testing.assert_array_equal(_embedder(cache).fit(X).transform(X), alone)
    # and the batched entries are still the batched ones
    np.testing.assert_array_equal(batched.transform(X), _embedder(False).fit(X).transform(X))


def test_preprocessing_of_a_backbone_name(images, tmp_path, monkeypatch):
    """A cache folder filled before a backbone's preprocessing changed (a new
    sktransfer version) is not read as if it were after."""
    from sktransfer.backbones import clear_templates

    X, _ = images
    folder = tmp_path / "cache"
    before = _embedder(ActivationCache(directory=folder)).fit(X).transform(X)
    changed = dataclasses.replace(BACKBONES[BACKBONE], preprocessing="tf")
    monkeypatch.setitem(BACKBONES, BACKBONE, changed)
    clear_templates()  # as in a new process: the networks are built again
    try:
        after = _embedder(ActivationCache(directory=folder)).fit(X).transform(X)
        alone = _embedder(False).fit(X).transform(X)
    finally:
        monkeypatch.undo()
        clear_templates()
    assert not np.allclose(before, alone, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(after, alone, rtol=1e-5, atol=1e-6)
