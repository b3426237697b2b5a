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

import keras  # after sktransfer, which quiets TensorFlow's start-up log
import numpy as np
import pytest
from conftest import SIZE
from PIL import Image

import sktransfer
from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder
from sktransfer._engine.cache import ActivationCache
from sktransfer._engine.frozen import frozen_identity
from sktransfer.backbones import BACKBONES

# The smallest registered backbone, with random weights written to a file: a
# weights file is cached by its content (weights=None is never cached).
BACKBONE = "mobilenet_0.25"


def _mobilenet(**kwargs):
    return keras.applications.MobileNet(alpha=0.25, include_top=False, **kwargs)


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    keras.utils.set_random_seed(0)
    path = str(tmp_path_factory.mktemp("weights") / "mobilenet.weights.h5")
    _mobilenet(weights=None, input_shape=(SIZE, SIZE, 3)).save_weights(path)
    return path


@pytest.fixture(scope="module")
def images(sample):
    X, y = sample
    return X[::10][:8], y[::10][:8]


def _other_pixels(X):
    """Images of the same shape and dtype with other pixels."""
    other = X.copy()
    other[:, 8:24, 8:24] = 255 - other[:, 8:24, 8:24]
    return other


@pytest.fixture
def embedder(weights):
    """``embedder(cache, **params)``: a PretrainedEmbedder on the module's weights file."""

    def make(cache, **params):
        return PretrainedEmbedder(
            **{
                "backbone": BACKBONE,
                "weights": weights,
                "input_size": SIZE,
                "batch_size": 4,
                "cache": cache,
                **params,
            }
        )

    return make


def _assert_no_collision(run_a, run_b):
    """``run_x(cache)`` -> outputs. B on A's cache gives what B gives alone, and A != B."""
    cache = ActivationCache()
    a = run_a(cache)
    filled = len(cache)
    assert filled > 0  # A did use the cache
    b_shared = run_b(cache)
    b_alone = run_b(False)
    # relative to the outputs' scale: random weights give tiny features
    atol = 1e-5 * np.abs(b_alone).max()
    assert not np.allclose(a, b_alone, rtol=1e-3, atol=100 * atol), "A and B agree: nothing to tell"
    np.testing.assert_allclose(b_shared, b_alone, rtol=1e-5, atol=atol)
    assert len(cache) > filled  # B made entries of its own


# ------------------------------------------------------------------ per component
def test_image_content_arrays(images, embedder):
    X, _ = images
    other = _other_pixels(X)
    _assert_no_collision(
        lambda c: embedder(c).fit(X).transform(X), lambda c: embedder(c).fit(other).transform(other)
    )


def test_image_content_same_file_name(images, tmp_path, embedder):
    X, _ = images
    paths = np.array([str(tmp_path / f"{i}.png") for i in range(len(X))], dtype=object)

    def run(pixels):
        def embed(cache):
            for path, image in zip(paths, pixels):
                Image.fromarray(image).save(path)  # rewritten: same names, other content
            return embedder(cache).fit(paths).transform(paths)

        return embed

    _assert_no_collision(run(X), run(_other_pixels(X)))


def _mobilenet_other_function(**kwargs):
    """The backbone with the same weights file, and a different last layer."""
    weights = kwargs.pop("weights")
    kwargs.pop("include_top")
    model = _mobilenet(weights=None, **kwargs)
    model.load_weights(weights)
    gamma, *rest = model.get_layer("conv_pw_13_bn").get_weights()
    model.get_layer("conv_pw_13_bn").set_weights([gamma * 2.0, *rest])
    return model


def test_backbone(images, monkeypatch, embedder):
    """Two backbones with the same weights file, preprocessing and input size: the
    registered one, and another name for another function."""
    X, _ = images
    alias = dataclasses.replace(
        BACKBONES[BACKBONE],
        name="mobilenet_other_function",
        constructor=f"{__name__}._mobilenet_other_function",
        kwargs={},
    )
    monkeypatch.setitem(BACKBONES, alias.name, alias)
    monkeypatch.setitem(PretrainedEmbedder._parameter_constraints, "backbone", [str])
    _assert_no_collision(
        lambda c: embedder(c).fit(X).transform(X),
        lambda c: embedder(c, backbone=alias.name).fit(X).transform(X),
    )


def test_weights_content_at_the_same_path(images, tmp_path):
    X, _ = images
    path = str(tmp_path / "mobilenet.weights.h5")
    model = _mobilenet(weights=None, input_shape=(SIZE, SIZE, 3))
    original = model.get_weights()

    def run(scale):
        def embed(cache):
            # scaled kernels: other weights, same file name and size
            model.set_weights([w * scale if w.ndim > 1 else w for w in original])
            model.save_weights(path)
            return (
                PretrainedEmbedder(BACKBONE, weights=path, input_size=SIZE, cache=cache).fit(X).transform(X)
            )

        return embed

    _assert_no_collision(run(1.0), run(1.5))


def test_input_size(images, embedder):
    X, _ = images
    _assert_no_collision(
        lambda c: embedder(c).fit(X).transform(X), lambda c: embedder(c, input_size=64).fit(X).transform(X)
    )


def test_pooling(images, embedder):
    X, _ = images  # at 64 px, not 32: a 1x1 last feature map has one average and maximum
    _assert_no_collision(
        lambda c: embedder(c, input_size=64).fit(X).transform(X),
        lambda c: embedder(c, input_size=64, pooling="max").fit(X).transform(X),
    )


def test_mirror_images_of_tta(images, embedder):
    X, _ = images
    _assert_no_collision(
        lambda c: embedder(c).fit(X).transform(X), lambda c: embedder(c, tta=True).fit(X).transform(X)
    )


def _classifier(cache, **params):
    # The offline ImageNet backbone (the suite's shared one): random weights give
    # features too small for the head to tell configurations apart.
    defaults = dict(
        backbone="efficientnet_lite0",
        input_size=SIZE,
        epochs=1,
        batch_size=4,
        head_epochs=0,
        learning_rate=0.01,
        tta=False,
        random_state=0,
        cache=cache,
    )
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

    _assert_no_collision(run(Augmentation(rotation=0.2, n_views=2)), run(Augmentation(zoom=0.2, n_views=2)))


def test_deterministic_mode(images, embedder):
    """Deterministic passes (one image per batch) are cached apart from batched ones.

    Their values may agree with the batched ones to the last bit, so the test
    counts: the deterministic pass finds none of the batched entries."""
    X, _ = images
    cache = ActivationCache()
    batched = embedder(cache).fit(X)
    batched.transform(X)
    misses = cache.misses
    with sktransfer.config_context(deterministic=True):
        shared = embedder(cache).fit(X).transform(X)
        assert cache.misses == misses + len(X)
        alone = embedder(False).fit(X).transform(X)
        np.testing.assert_array_equal(shared, alone)  # bitwise, whatever the cache held
        np.testing.assert_array_equal(embedder(cache).fit(X).transform(X), alone)
    # and the batched entries are still the batched ones
    np.testing.assert_array_equal(batched.transform(X), embedder(False).fit(X).transform(X))


def test_preprocessing_of_a_backbone_name(weights):
    """The key names the backbone's preprocessing: a cache folder filled before a
    release that changes it (same name, weights and size) is not read after it."""
    spec = BACKBONES[BACKBONE]
    changed = dataclasses.replace(spec, preprocessing="caffe")
    assert frozen_identity(spec, weights, (SIZE, SIZE)) != frozen_identity(changed, weights, (SIZE, SIZE))
