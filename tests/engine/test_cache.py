import copy
import os
import pickle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from PIL import Image
from sklearn.base import clone
from traces import count_traces

from sktransfer import FineTunedClassifier, PretrainedEmbedder, clear_cache
from sktransfer._engine.cache import ActivationCache, content_keys, resolve_cache


def test_eviction_keeps_the_byte_budget():
    cache = ActivationCache(max_bytes=1000)
    rows = np.arange(40 * 25, dtype=np.float32).reshape(40, 25)  # 100 bytes each
    for i in range(40):
        cache.put_many([f"k{i}"], rows[i : i + 1])
        assert cache.nbytes <= 1000
    assert len(cache) == 10
    # least recently used go first: the first 30 are gone, the last 10 stay
    got = cache.get_many([f"k{i}" for i in range(40)])
    assert [v is None for v in got] == [True] * 30 + [False] * 10
    np.testing.assert_array_equal(got[-1], rows[-1])
    cache.get_many(["k30"])  # touch: now most recent
    cache.put_many(["new"], rows[:1])
    assert cache.get_many(["k31"])[0] is None and cache.get_many(["k30"])[0] is not None
    cache.put_many(["huge"], np.zeros((1, 1000), dtype=np.float32))  # bigger than the budget
    assert cache.get_many(["huge"])[0] is None and cache.nbytes <= 1000


def test_entries_do_not_keep_their_batch_alive():
    """Regression: each entry was a view of its row, so one surviving row kept
    the whole batch in memory and max_bytes bounded nothing."""
    cache = ActivationCache(max_bytes=1000)
    batch = np.zeros((64, 25), dtype=np.float32)  # 100 bytes a row, 6400 a batch
    cache.put_many([f"k{i}" for i in range(64)], batch)
    kept = [v for v in cache.get_many([f"k{i}" for i in range(64)]) if v is not None]
    assert len(kept) == 10 and all(v.base is None and v.flags.owndata for v in kept)


def test_a_bad_cache_file_is_a_miss_and_is_written_again(tmp_path):
    """Regression: an empty .npy (what a crash before the data reached the disk
    leaves) raised EOFError on every later look-up, and was never replaced."""
    ActivationCache(directory=tmp_path).put_many(["ab12"], np.ones((1, 3), dtype=np.float32))
    path = ActivationCache(directory=tmp_path)._path("ab12")
    open(path, "wb").close()
    cache = ActivationCache(directory=tmp_path)
    assert cache.get_many(["ab12"]) == [None] and cache.misses == 1
    cache.put_many(["ab12"], np.full((1, 3), 2, dtype=np.float32))
    np.testing.assert_array_equal(ActivationCache(directory=tmp_path).get_many(["ab12"])[0], [2, 2, 2])


def test_a_folder_that_cannot_be_written_keeps_entries_in_memory(tmp_path):
    """Regression: a cache folder that cannot be written (read-only, full; here a
    file stands where its sub-folder goes) failed every fit that missed."""
    cache = ActivationCache(directory=tmp_path / "blocked")
    (tmp_path / "blocked").write_text("a file, not a folder")
    with pytest.warns(UserWarning, match="cannot be written.*in memory only"):
        cache.put_many(["ab12", "cd34"], np.ones((2, 3), dtype=np.float32))
    assert len(cache) == 2 and cache.get_many(["cd34"])[0] is not None


def test_entries_are_read_only_and_disk_is_shared(tmp_path):
    cache = ActivationCache(directory=tmp_path)
    cache.put_many(["ab12"], np.ones((1, 3), dtype=np.float32))
    value = cache.get_many(["ab12"])[0]
    with pytest.raises(ValueError):
        value[0] = 5  # callers cannot corrupt the cache
    other = ActivationCache(directory=tmp_path)  # e.g. another process
    np.testing.assert_array_equal(other.get_many(["ab12"])[0], [1, 1, 1])
    assert other.hits == 1
    assert copy.deepcopy(cache) is cache  # clone() keeps sharing it
    restored = pickle.loads(pickle.dumps(cache))
    assert restored.directory == str(tmp_path) and len(restored) == 0
    assert resolve_cache(str(tmp_path)) is resolve_cache(str(tmp_path))
    with pytest.raises(TypeError, match="cache must be"):
        resolve_cache(3)


def test_content_keys_follow_content_not_names(tmp_path, binary_sample):
    X, _ = binary_sample
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(X[0]).save(a)
    Image.fromarray(X[0]).save(b)
    keys = content_keys(np.array([str(a), str(b)], dtype=object))
    assert keys[0] == keys[1]
    Image.fromarray(X[1]).save(a)
    assert content_keys(np.array([str(a)], dtype=object))[0] != keys[0]
    assert content_keys(X[:2])[0] != content_keys(X[1:3])[0]
    with pytest.raises(ValueError, match="missing.png"):
        content_keys(np.array([str(tmp_path / "missing.png")], dtype=object))


def test_unreadable_file_error_matches_the_decoders(tmp_path):
    """Regression: content_keys said only 'No such file', without the index or a fix."""
    from sktransfer.images import load_images

    good = tmp_path / "good.png"
    Image.new("RGB", (4, 4)).save(good)
    X = np.array([str(good), str(tmp_path / "missing.png"), str(tmp_path)], dtype=object)
    with pytest.raises(ValueError) as from_cache:
        content_keys(X[:2])
    with pytest.raises(ValueError) as from_decoder:
        load_images(X[:2], 4)
    assert str(from_cache.value) == str(from_decoder.value)
    assert "missing.png' (X[1]): the file does not exist; check the path, or pass on_error='skip'" in str(
        from_cache.value
    )
    with pytest.raises(ValueError, match=r"\(X\[1\]\): it is a folder.*on_error='skip'"):
        content_keys(X[::2])


def _clf(cache, **kwargs):
    params = dict(
        input_size=SIZE, epochs=3, learning_rate=0.01, random_state=0, cache=cache, tta=False
    )  # outputs are compared with the Keras model's (one view)
    return FineTunedClassifier(BACKBONE, **{**params, **kwargs})


@pytest.mark.parametrize("trainable_layers", [0, 3])
def test_cached_and_uncached_training_agree(trainable_layers, binary_sample):
    X, y = binary_sample
    reference = _clf(False, trainable_layers=trainable_layers).fit(X, y)
    cache = ActivationCache()
    cold = _clf(cache, trainable_layers=trainable_layers).fit(X, y)
    misses = cache.misses
    warm = clone(cold).fit(X[::-1], y[::-1]).fit(X, y)  # other order, then the same order
    assert cache.misses == misses  # the second and third fits computed nothing frozen
    # compare logits: probabilities of this easy task saturate at 0 and 1
    expected = reference.decision_function(X)
    assert np.ptp(expected) > 1.0
    np.testing.assert_allclose(cold.decision_function(X), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(warm.decision_function(X), expected, rtol=1e-4, atol=1e-4)
    # predicting through the cache equals the full Keras model on raw pixels
    full = np.asarray(warm.model_(X.astype("float32"), training=False)).ravel()
    np.testing.assert_allclose(warm.predict_proba(X)[:, 1], full, atol=1e-5)


def test_higher_cut_starts_from_the_cached_anchor(binary_sample):
    X, y = binary_sample
    cache = ActivationCache()
    # one stage (head_epochs=0): this test counts the entries per cut, and the head stage
    # would add the pooled features
    first = _clf(cache, trainable_layers=2, epochs=1, head_epochs=0).fit(X, y)
    anchor = first.backbone_info_["anchor"]
    assert anchor is not None
    n = len(X)
    assert len(cache) == 2 * n  # anchor + cut, one entry per image each
    hits = cache.hits
    second = _clf(cache, trainable_layers=6, epochs=1, head_epochs=0).fit(X, y)
    assert second.backbone_info_["anchor"] == anchor
    assert second.backbone_info_["cut"] != first.backbone_info_["cut"]
    assert cache.hits - hits == n  # every image resumed from the anchor
    assert len(cache) == 3 * n
    uncached = _clf(False, trainable_layers=6, epochs=1, head_epochs=0).fit(X, y)
    np.testing.assert_allclose(
        second.decision_function(X), uncached.decision_function(X), rtol=1e-4, atol=1e-4
    )


def test_folds_share_entries_and_embedder_embeds_once(binary_sample):
    X, _ = binary_sample
    cache = ActivationCache()
    emb = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=cache).fit(X)
    first = emb.transform(X[:25])
    assert cache.misses == 25
    second = emb.transform(X[15:])  # overlaps 10 images
    assert cache.misses == 25 + 15 and cache.hits == 10
    np.testing.assert_allclose(second[:10], first[15:25])
    plain = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=False).fit(X).transform(X)
    np.testing.assert_allclose(emb.transform(X), plain, rtol=1e-4, atol=1e-4)  # float32, other batches


def test_folder_cache_persists_across_instances(tmp_path, binary_sample):
    X, _ = binary_sample
    folder = tmp_path / "cache"
    PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=str(folder)).fit(X).transform(X)
    assert len(list(folder.rglob("*.npy"))) == len(X)
    fresh = ActivationCache(directory=folder)  # as in a new process
    features = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=fresh).fit(X).transform(X)
    assert fresh.misses == 0 and fresh.hits == len(X)
    assert features.shape == (len(X), 1280)


def test_paths_use_the_cache_and_notice_changed_files(tmp_path, binary_sample):
    X, y = binary_sample
    paths = []
    for i, image in enumerate(X):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(image).save(paths[-1])
    cache = ActivationCache()
    emb = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=cache).fit(paths)
    before = emb.transform(paths)
    np.testing.assert_allclose(before, emb.transform(X), rtol=1e-4, atol=1e-4)
    Image.fromarray(X[1]).save(paths[0])  # same name, new content
    after = emb.transform(paths[:1])
    np.testing.assert_allclose(after[0], before[1], rtol=1e-4, atol=1e-4)


def test_augmented_views_are_cached_and_do_not_depend_on_the_cache(binary_sample):
    from sktransfer import Augmentation

    X, y = binary_sample
    aug = Augmentation(flip="horizontal", rotation=0.1, n_views=2)
    warm = ActivationCache()
    first = _clf(warm, augmentation=aug, epochs=3, trainable_layers=2).fit(X, y)
    assert first.backbone_info_["training_input"].startswith("cached activations of 2 augmented")
    misses = warm.misses
    again = clone(first).fit(X, y)
    assert warm.misses == misses  # views and their activations came from the cache
    np.testing.assert_allclose(again.decision_function(X), first.decision_function(X), atol=1e-4)
    # a subset trained on a warm cache equals the same subset on a cold one
    subset = np.r_[0:12, 20:32]
    from_warm = clone(first).fit(X[subset], y[subset]).decision_function(X)
    from_cold = _clf(ActivationCache(), augmentation=aug, epochs=3, trainable_layers=2)
    np.testing.assert_allclose(from_cold.fit(X[subset], y[subset]).decision_function(X), from_warm, atol=1e-4)
    # views really differ from the plain images, and validation works with them
    plain = _clf(warm, epochs=3, trainable_layers=2).fit(X, y)
    assert not np.allclose(plain.decision_function(X), first.decision_function(X))
    with_val = _clf(False, augmentation=aug, validation_fraction=0.25, epochs=2).fit(X, y)
    assert "val_loss" in with_val.history_


def test_compiled_and_eager_inference_agree(binary_sample):
    """Inputs run through the shared tf.function (fused ops); eagerly (models that cannot
    share one, on small inputs) they give the same numbers."""
    from sktransfer._engine import frozen as _frozen

    X, _ = binary_sample
    emb = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=False, batch_size=4).fit(X)
    calls = []
    with pytest.MonkeyPatch.context() as patch:
        compiled_call = _frozen._compiled
        patch.setattr(_frozen, "_compiled", lambda *args: calls.append(compiled_call(*args)) or calls[-1])
        compiled = emb.transform(X)  # 40 images > 2 batches of 4: compiled
    assert calls and None not in calls
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_frozen, "_compiled", lambda *args: None)  # no compiled function: eager
        eager = np.concatenate([emb.transform(X[i : i + 8]) for i in range(0, len(X), 8)])
    np.testing.assert_allclose(compiled, eager, rtol=1e-4, atol=1e-4)
    assert _frozen._EAGER_MAX * 4 < len(X)


def test_compiled_inference_traces_once_whatever_the_batch_sizes(binary_sample):
    """One graph per model for every batch of a pass, the shorter last one included,
    and for later passes with other numbers of images (each trace costs 0.1-0.2 s;
    a warm head-only fit of a grid search costs 0.3 s)."""
    from sktransfer._engine import frozen as _frozen

    X, _ = binary_sample
    emb = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=False, batch_size=4).fit(X)
    with count_traces() as traces:
        emb.transform(X[:38])  # 9 batches of 4, then one of 2
    # (none if an earlier test traced this architecture: the graph is shared by
    # every model of this backbone, size and cut)
    assert len(traces) <= 1
    with count_traces() as traces:
        emb.transform(X[:13])
        emb.transform(X[:3])  # (small, but its architecture has a graph: no eager pass)
    assert len(traces) == 0, traces.names
    assert _frozen._EAGER_MAX * 4 < 13


@pytest.mark.parametrize(
    "setting, cpu, batch_size, side, n, sizes",
    [
        ("auto", True, 16, 224, 10, [8, 2]),  # CPU: at most 8 images of 160 px or more
        ("auto", True, 16, 160, 10, [8, 2]),
        ("auto", True, 4, 224, 10, [4, 4, 2]),  # a cap, never above the estimator's
        ("auto", True, 32, 128, 30, [12, 12, 6]),  # more of smaller images: 8 x (160 / 128)^2
        ("auto", True, 32, 96, 50, [22, 22, 6]),  # (faster there on a CPU)
        ("auto", True, 128, 64, 60, [50, 10]),
        ("auto", True, 32, 64, 40, [32, 8]),
        ("auto", False, 16, 224, 10, [10]),
        ("auto", False, 16, 224, 150, [64, 64, 22]),  # GPU: 64 images of 224 px
        ("auto", False, 16, 112, 300, [256, 44]),  # 4x as many of 112 px, at most 256
        ("auto", False, 16, 448, 40, [16, 16, 8]),  # never fewer than the estimator's batch
        ("auto", False, 128, 224, 200, [128, 72]),
        ("auto", False, 1, 224, 3, [1, 1, 1]),  # deterministic passes stay one image each
        (3, False, 16, 32, 10, [3, 3, 3, 1]),
        (32, True, 4, 32, 10, [4, 4, 2]),  # a cap, never above the estimator's
        (32, True, 1, 32, 10, [1] * 10),  # deterministic passes stay one image each
    ],
)
def test_inference_passes_run_in_inference_batches(monkeypatch, setting, cpu, batch_size, side, n, sizes):
    import sktransfer
    from sktransfer import _config
    from sktransfer._engine import frozen as _frozen

    class Record:
        def __init__(self):
            self.sizes = []

        def __call__(self, x, training=False):
            self.sizes.append(len(x))
            return x[:, 0, 0]

    monkeypatch.setattr(_config, "cpu_only", lambda: cpu)
    model = Record()
    x = np.broadcast_to(np.arange(n, dtype="float32")[:, None, None, None], (n, side, side, 3))
    with sktransfer.config_context(inference_batch_size=setting):
        out = _frozen.run_model(model, x, batch_size, compiled=False)
    assert model.sizes == sizes
    np.testing.assert_array_equal(out, x[:, 0, 0])


def test_large_inputs_run_compiled_in_every_chunk(binary_sample, monkeypatch):
    """Decoding overlaps compute in chunks of a few batches; each chunk must still run
    through the compiled function when the whole input is large (it ran eagerly, about
    half as fast, when the choice was made per chunk)."""
    from sktransfer._engine import frozen as _frozen

    X, _ = binary_sample
    monkeypatch.setattr(_frozen, "_CHUNK", 8)  # 40 images: 5 chunks of 2 batches of 4
    calls = []
    eager, compiled = _frozen._eager, _frozen._compiled
    monkeypatch.setattr(
        _frozen, "_compiled", lambda models, *a: calls.append("compiled") or compiled(models, *a)
    )
    monkeypatch.setattr(_frozen, "_eager", lambda models: calls.append("eager") or eager(models))
    emb = PretrainedEmbedder(BACKBONE, input_size=SIZE, cache=False, batch_size=4).fit(X)
    calls.clear()
    emb.transform(X)
    # _compiled wraps _eager once when it first builds its tf.function.
    assert calls.count("compiled") == 5 and calls.count("eager") <= 1, calls


def test_content_keys_remember_files_until_they_change(tmp_path):
    """File hashes are remembered by stat, except for files modified in the last seconds."""
    import time

    from sktransfer._utils import hashing

    path = tmp_path / "a.bin"
    X = np.array([str(path)], dtype=object)
    path.write_bytes(b"x" * 10)
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    first = content_keys(X)[0]
    # Rewritten within the timestamp granularity: same size, same mtime. A
    # fresh file is never remembered, so the new content is hashed.
    path.write_bytes(b"y" * 10)
    os.utime(path, ns=(now, now))
    second = content_keys(X)[0]
    assert second != first
    old = now - 3600 * 10**9
    os.utime(path, ns=(old, old))
    n_remembered = len(hashing._DIGESTS)
    assert content_keys(X)[0] == second
    assert len(hashing._DIGESTS) == n_remembered + 1
    path.write_bytes(b"z" * 10)  # a later change moves the mtime on
    assert content_keys(X)[0] not in (first, second)
    clear_cache()
    assert not hashing._DIGESTS


@pytest.mark.parametrize("trainable_layers", [0, 2])
def test_deterministic_fits_do_not_depend_on_what_the_cache_held(trainable_layers, binary_sample):
    """With set_config(deterministic=True) an image's frozen activations are computed alone,
    so a fit on a cache warmed by other fits and predictions, or on no cache, equals a fit on
    a cold cache bitwise. Batched, they differ in the last bits (batch shape, an image's place
    in the batch, eager vs compiled), which long trainings grow into different models."""
    import sktransfer

    X, y = binary_sample
    params = dict(trainable_layers=trainable_layers, head_epochs=0)
    with sktransfer.config_context(deterministic=True):
        cold_cache = ActivationCache()
        cold = _clf(cold_cache, **params).fit(X, y).decision_function(X)
        warm = ActivationCache()
        other = _clf(warm, epochs=1, **params).fit(X[::3], y[::3])  # a third of the images
        other.predict(X[1:4])
        other.predict(X[4:31])
        assert len(warm) > 0
        np.testing.assert_array_equal(_clf(warm, **params).fit(X, y).decision_function(X), cold)
        np.testing.assert_array_equal(_clf(False, **params).fit(X, y).decision_function(X), cold)
    # batched activations are cached apart: the default mode computes its own
    n = len(cold_cache)
    _clf(cold_cache, **params).fit(X, y)
    assert len(cold_cache) > n
