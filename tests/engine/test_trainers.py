"""Compiled trainers reused across fits: same results as fresh ones, bounded pool."""

import threading

import numpy as np
import pytest
from conftest import BACKBONE, SIZE

import sktransfer
from sktransfer import FineTunedClassifier
from sktransfer._engine import trainers as _trainers


@pytest.fixture(autouse=True)
def empty_pool():
    _trainers.clear_trainers()
    yield
    _trainers.clear_trainers()


def _fit(X, y, **params):
    params = {
        "backbone": BACKBONE,
        "input_size": SIZE,
        "epochs": 2,
        "batch_size": 16,
        "random_state": 0,
        **params,
    }
    return FineTunedClassifier(**params).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [
        {"trainable_layers": 0, "head": (8,), "head_dropout": 0.3},
        {"trainable_layers": 2, "backbone_lr_scale": 0.1, "optimizer": "sgd", "head_epochs": 0},
        # two stages: a head-only trainer, then one for the top block
        {"trainable_layers": 2, "backbone_lr_scale": 0.1, "head_epochs": 3},
    ],
)
def test_reused_trainer_gives_the_fresh_result(sample, params):
    X, y = sample
    with sktransfer.config_context(reuse_trainers=False):
        fresh = _fit(X, y, **params).predict_proba(X)
    assert _trainers.n_trainers() == 0
    first = _fit(X, y, **params).predict_proba(X)  # builds the trainer(s)
    assert _trainers.n_trainers() == (2 if params.get("head_epochs") else 1)
    second = _fit(X, y, **params).predict_proba(X)  # reuses it
    np.testing.assert_array_equal(first, fresh)
    np.testing.assert_array_equal(second, fresh)


def test_reuse_keeps_each_fit_its_own_seed_and_weights(binary_sample):
    X, y = binary_sample
    a0 = _fit(X, y, random_state=0)
    b = _fit(X, y, random_state=1)  # same trainer, other initial weights
    a1 = _fit(X, y, random_state=0)
    assert _trainers.n_trainers() == 1
    np.testing.assert_array_equal(a0.predict_proba(X), a1.predict_proba(X))
    assert not np.allclose(a0.predict_proba(X), b.predict_proba(X))
    # The fitted models are their own: a later fit did not change a0's weights.
    np.testing.assert_array_equal(a0.model_.get_weights()[-1], a1.model_.get_weights()[-1])


def test_a_trainer_is_built_once_per_architecture(binary_sample, monkeypatch):
    X, y = binary_sample
    built = []
    original = _trainers._Trainer.__init__

    def counting(self, *args):
        built.append(1)
        original(self, *args)

    monkeypatch.setattr(_trainers._Trainer, "__init__", counting)
    for batch_size in (8, 16):  # batch size and epochs share a trainer
        _fit(X, y, batch_size=batch_size, epochs=1)
    assert len(built) == 1
    _fit(X, y, learning_rate=0.01)  # another optimizer: another trainer
    _fit(X, y, trainable_layers=2)  # another cut: another trainer
    assert len(built) == 3 and _trainers.n_trainers() == 3


def test_pool_is_bounded_and_frees_what_it_drops(binary_sample, monkeypatch):
    X, y = binary_sample
    monkeypatch.setattr(_trainers, "MAX_TRAINERS", 1)
    _fit(X, y)
    (first,) = _trainers._POOL.values()
    _fit(X, y, trainable_layers=2)
    assert _trainers.n_trainers() == 1 and first not in _trainers._POOL.values()
    assert first.trainer.train_function is None  # its compiled step was dropped
    monkeypatch.setattr(_trainers, "MAX_TRAINERS", 16)
    monkeypatch.setattr(_trainers, "MAX_BYTES", 1)  # over budget: only the newest stays
    _fit(X, y)
    assert _trainers.n_trainers() == 1


def test_interrupted_fit_leaves_the_pool_usable(binary_sample):
    import keras

    X, y = binary_sample

    class Interrupt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise KeyboardInterrupt

    expected = _fit(X, y).predict_proba(X)
    with pytest.raises(KeyboardInterrupt):
        _fit(X, y, callbacks=[Interrupt()])
    np.testing.assert_array_equal(_fit(X, y).predict_proba(X), expected)


def test_threads_fitting_the_same_architecture(binary_sample):
    X, y = binary_sample
    expected = _fit(X, y).predict_proba(X)
    results = [None, None]

    def work(i):
        results[i] = _fit(X, y).predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Two fits at once each train on their own trainer; one is kept.
    for result in results:
        assert result.shape == expected.shape and np.isfinite(result).all()
    assert _trainers.n_trainers() == 1


def test_xla_auto_compiles_trained_backbone_layers_on_cpu(binary_sample, monkeypatch):
    """The default (the suite runs with SKTRANSFER_XLA=0): XLA where backbone layers train
    on a CPU-only machine, not for a head alone, whose step compiling costs more than it saves."""
    from sktransfer._config import cpu_only

    seen = []
    compile_ = FineTunedClassifier._compile

    def spy(self, *args, jit_compile=False, **kwargs):
        seen.append(jit_compile)
        return compile_(self, *args, jit_compile=jit_compile, **kwargs)

    monkeypatch.setattr(FineTunedClassifier, "_compile", spy)
    X, y = binary_sample
    with sktransfer.config_context(xla="auto", reuse_trainers=False):
        _fit(X, y, trainable_layers=2, head_epochs=0, epochs=1)
        _fit(X, y, trainable_layers=0, epochs=1)
    assert seen == [cpu_only(), False]


def test_xla_trains_the_same_network(binary_sample):
    X, y = binary_sample
    with sktransfer.config_context(xla=False):
        plain = _fit(X, y, trainable_layers=2)
    with sktransfer.config_context(xla=True):
        xla = _fit(X, y, trainable_layers=2)
    np.testing.assert_allclose(xla.predict_proba(X), plain.predict_proba(X), atol=1e-4)


def test_config_is_checked_and_restored():
    before = sktransfer.get_config()
    with sktransfer.config_context(
        xla=True, reuse_trainers=False, deterministic=True, inference_batch_size=4, mixed_precision=True
    ):
        assert sktransfer.get_config() == {
            "xla": True,
            "reuse_trainers": False,
            "deterministic": True,
            "inference_batch_size": 4,
            "mixed_precision": True,
            "release_networks": before["release_networks"],
        }
    assert sktransfer.get_config() == before
    with pytest.raises(ValueError, match="xla must be"):
        sktransfer.set_config(xla="yes")
    with pytest.raises(TypeError, match="reuse_trainers must be"):
        sktransfer.set_config(reuse_trainers=1)
    with pytest.raises(TypeError, match="deterministic must be"):
        sktransfer.set_config(deterministic="yes")
    for wrong in (0, 2.5, True, "8"):
        with pytest.raises(ValueError, match="inference_batch_size must be 'auto' or a positive int"):
            sktransfer.set_config(inference_batch_size=wrong)
    assert sktransfer.get_config() == before


def test_a_bad_value_changes_no_setting_and_blocks_restore_only_their_own():
    """Regression: a bad value set the good ones before it for good (and
    config_context never restored them), and a block restored every setting,
    undoing what another thread's overlapping block or set_config changed."""
    before = sktransfer.get_config()
    with pytest.raises(ValueError, match="xla must be"):
        with sktransfer.config_context(deterministic=True, xla="yes"):
            pass
    with pytest.raises(ValueError, match="inference_batch_size"):
        sktransfer.set_config(reuse_trainers=False, inference_batch_size=0)
    assert sktransfer.get_config() == before
    # Overlapping blocks (as two threads' would be): A sets deterministic, B xla;
    # A ends, then B: nothing of either outlives its block.
    a = sktransfer.config_context(deterministic=not before["deterministic"])
    b = sktransfer.config_context(xla=False)
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    b.__exit__(None, None, None)
    assert sktransfer.get_config() == before
