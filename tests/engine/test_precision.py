"""GPU readiness, tested on a CPU: mixed precision, shared GPU memory, inference batches."""

import numpy as np
import pytest
from conftest import SIZE

import sktransfer
from sktransfer import FineTunedClassifier
from sktransfer._utils.compat import import_keras

keras = import_keras()


def _fit(X, y, **params):
    defaults = dict(
        backbone="mobilenet_0.25",
        weights=None,
        input_size=SIZE,
        trainable_layers=0,
        head=(4,),
        epochs=1,
        batch_size=8,
        learning_rate=0.01,
        tta=False,
        random_state=0,
    )
    return FineTunedClassifier(**{**defaults, **params}).fit(X, y)


@pytest.fixture(scope="module")
def data(binary_sample):
    X, y = binary_sample
    return X[::3], y[::3]


@pytest.fixture(scope="module")
def float32(data):
    return _fit(*data).predict_proba(data[0])


def test_mixed_bfloat16_predicts_as_float32_within_round_off(data, float32):
    """A head-only fit on a random-weights backbone: probabilities within 1e-4 of
    float32's (measured: 6.8e-6; 1.1e-6 with float16)."""
    X, y = data
    policy = "mixed_bfloat16"
    with sktransfer.config_context(mixed_precision=policy):
        est = _fit(X, y)
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the scope is left
    assert est.model_.get_layer("logits").dtype_policy.name == policy
    # Keras' advice: the output layer computes in float32
    assert est.model_.get_layer("probabilities").compute_dtype == "float32"
    proba = est.predict_proba(X)
    assert proba.dtype == np.float64 and np.isfinite(proba).all()
    np.testing.assert_allclose(proba, float32, atol=1e-4)
    assert not np.array_equal(proba, float32)  # really computed in another precision


def test_float16_training_scales_its_loss(data, monkeypatch):
    """Backbone layers train in float16 with two optimizers on one loss scale, and
    end within 0.01 of the float32 fit (measured: 0.0017 after 3 epochs, 0.0004 after 2)."""
    from sktransfer._engine import two_rate

    X, y = data
    params = dict(trainable_layers=2, backbone_lr_scale=0.5, head_epochs=0, epochs=2, learning_rate=0.003)
    steps = []
    original = two_rate.TwoRateTrainer._apply_scaled
    monkeypatch.setattr(
        two_rate.TwoRateTrainer, "_apply_scaled", lambda self, *a: steps.append(self) or original(self, *a)
    )
    with sktransfer.config_context(xla=False):
        expected = _fit(X, y, **params).predict_proba(X)
        assert not steps  # float32: no loss scale
        with sktransfer.config_context(mixed_precision=True):
            est = _fit(X, y, **params)
    trainer = steps[0]
    assert isinstance(trainer.optimizer, keras.optimizers.LossScaleOptimizer)
    assert est.model_.get_layer("logits").dtype_policy.name == "mixed_float16"
    assert est.model_.get_layer("probabilities").compute_dtype == "float32"
    # the backbone optimizer stepped (its unscaled gradients were finite)
    assert int(trainer.backbone_optimizer.iterations) > 0
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba, expected, atol=0.01)
    assert not np.array_equal(proba, expected)


def test_activation_cache_keys_name_the_precision():
    from sktransfer._engine.frozen import frozen_identity
    from sktransfer._engine.network import precision_scope
    from sktransfer.backbones import get_backbone_spec

    spec = get_backbone_spec("mobilenet_0.25")
    plain = frozen_identity(spec, "imagenet", (32, 32))
    with sktransfer.config_context(mixed_precision="mixed_bfloat16"), precision_scope():
        mixed = frozen_identity(spec, "imagenet", (32, 32))
    assert mixed[: len(plain)] == plain and mixed[len(plain) :] == ("mixed_bfloat16",)


def test_mixed_precision_setting_is_checked():
    with pytest.raises(ValueError, match="mixed_precision"):
        sktransfer.set_config(mixed_precision="float16")
    assert sktransfer.get_config()["mixed_precision"] is False


class _FakeConfig:
    """``tf.config`` of a machine with two GPUs, the second initialised already."""

    def __init__(self):
        self.growth = []
        self.experimental = self

    def list_physical_devices(self, kind):
        return ["gpu:0", "gpu:1"] if kind == "GPU" else []

    def set_memory_growth(self, device, enable):
        if device == "gpu:1":
            raise RuntimeError("Physical devices cannot be modified after being initialized")
        self.growth.append((device, enable))


def test_gpu_memory_grows_as_used(monkeypatch):
    import types

    from sktransfer._utils.compat import share_gpus

    tf = types.SimpleNamespace(config=_FakeConfig())
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    share_gpus(tf)
    share_gpus(tf)  # idempotent
    assert tf.config.growth == [("gpu:0", True)] * 2
    monkeypatch.setenv("TF_FORCE_GPU_ALLOW_GROWTH", "false")  # the user's choice stands
    share_gpus(tf)
    assert len(tf.config.growth) == 2
    import os

    assert os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH") == "false"
