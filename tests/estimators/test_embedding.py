import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from sktransfer import PretrainedEmbedder
from sktransfer.datasets import load_sample


@pytest.fixture(scope="module")
def sample64():
    return load_sample(size=64, n_per_class=25, random_state=1, return_X_y=True)


def _probe_accuracy(X, y, weights):
    features = PretrainedEmbedder(BACKBONE, weights=weights, input_size=64).fit(X).transform(X)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    return cross_val_score(LogisticRegression(max_iter=3000), features, y, cv=cv).mean()


def test_pretrained_features_beat_random_weights(sample64):
    """The offline backbone's ImageNet weights are really pretrained."""
    X, y = sample64
    pretrained = _probe_accuracy(X, y, "imagenet")
    random = _probe_accuracy(X, y, None)
    assert pretrained > 0.9, pretrained
    assert pretrained - random > 0.2, (pretrained, random)


def test_pipeline_with_svc_and_cross_val_score(sample64):
    X, y = sample64
    pipe = make_pipeline(PretrainedEmbedder(BACKBONE, input_size=64), SVC())
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.8


def test_shapes_pooling_feature_names_and_set_output(sample64):
    pd = pytest.importorskip("pandas")
    X, _ = sample64
    emb = PretrainedEmbedder(BACKBONE, input_size=32).fit(X)
    avg = emb.transform(X[:3])
    assert avg.shape == (3, 1280) and avg.dtype == np.float32
    assert emb.n_features_out_ == 1280
    names = emb.get_feature_names_out()
    assert names[0] == "pretrainedembedder0" and len(names) == 1280
    mx = PretrainedEmbedder(BACKBONE, input_size=32, pooling="max").fit(X).transform(X[:3])
    assert np.all(mx >= avg - 1e-5)  # max pooling dominates average pooling
    frame = emb.set_output(transform="pandas").transform(X[:3])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns[:2]) == ["pretrainedembedder0", "pretrainedembedder1"]
    # the same images through a different batch size give the same features
    again = PretrainedEmbedder(BACKBONE, input_size=32, batch_size=2).fit(X).transform(X[:3])
    np.testing.assert_allclose(again, avg, rtol=1e-4, atol=1e-5)


def test_embedder_errors():
    with pytest.raises(ValueError, match="pooling"):
        PretrainedEmbedder(BACKBONE, pooling="mean").fit(np.zeros((1, 32, 32, 3)))
    emb = PretrainedEmbedder(BACKBONE, input_size=32)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        emb.transform(np.zeros((1, 32, 32, 3)))


def test_fits_share_one_frozen_network(sample64):
    """Pretrained weights: every fit reuses one network (a grid search fits the
    embedder per candidate and fold; building Lite0 took ~2 s each time).
    Random weights: a fresh network per fit."""
    from sklearn.base import clone

    from sktransfer._engine.templates import clear_templates

    X, _ = sample64
    clear_templates()
    first = PretrainedEmbedder(BACKBONE, input_size=64).fit(X[:2])
    second = clone(first).fit(X[2:4])
    assert second.model_ is first.model_
    np.testing.assert_array_equal(first.transform(X[:5]), second.transform(X[:5]))
    other = PretrainedEmbedder(BACKBONE, input_size=64, pooling="max").fit(X[:2])
    assert other.model_ is not first.model_
    assert other.n_features_out_ == first.n_features_out_
    random = [PretrainedEmbedder(BACKBONE, weights=None, input_size=64).fit(X[:2]) for _ in range(2)]
    assert random[0].model_ is not random[1].model_
    clear_templates()
    assert PretrainedEmbedder(BACKBONE, input_size=64).fit(X[:2]).model_ is not first.model_


@pytest.mark.parametrize("cache", [True, False])
def test_tta_averages_each_image_with_its_mirror(sample64, cache):
    X, _ = sample64
    X = X[:6]
    plain = PretrainedEmbedder(BACKBONE, input_size=64, cache=cache).fit(X)
    tta = PretrainedEmbedder(BACKBONE, input_size=64, cache=cache, tta=True).fit(X)
    expected = (plain.transform(X) + plain.transform(X[:, :, ::-1])) / 2
    got = tta.transform(X)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tta.transform(X), got, rtol=1e-6)  # from the cache, when on
    assert not np.allclose(got, plain.transform(X), atol=1e-3)


def test_changing_parameters_after_fit_keeps_the_fitted_model_and_the_cache_clean(sample64):
    """set_params(pooling=..., input_size=...) without a refit: transform keeps the
    fitted model's pooling and size (as predict keeps a fitted classifier's), and
    never files the fitted model's features in a shared cache under the new
    parameters' key, where a correctly fitted embedder would then read them."""
    from sktransfer import ActivationCache

    X, _ = sample64
    cache = ActivationCache()
    emb = PretrainedEmbedder(BACKBONE, input_size=64, cache=cache).fit(X)  # 2x2 at the top
    avg = emb.transform(X[:4])
    emb.set_params(pooling="max", input_size=96)
    np.testing.assert_array_equal(emb.transform(X[:4]), avg)
    assert emb.backbone_info_["pooling"] == "avg" and emb.backbone_info_["input_size"] == (64, 64)
    fresh_max = PretrainedEmbedder(BACKBONE, input_size=64, pooling="max", cache=cache).fit(X)
    uncached_max = PretrainedEmbedder(BACKBONE, input_size=64, pooling="max").fit(X)
    np.testing.assert_allclose(
        fresh_max.transform(X[:4]), uncached_max.transform(X[:4]), rtol=1e-5, atol=1e-5
    )
    assert not np.allclose(fresh_max.transform(X[:4]), avg, atol=1e-3)
