"""Tests of optimizer construction and the two-learning-rate trainer (sktransfer.estimators)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from sktransfer._engine.two_rate import TwoRateTrainer
from sktransfer.estimators import OPTIMIZERS, make_optimizer

# The documented defaults (module docstring of sktransfer.estimators).
DOCUMENTED = {
    "sgd": (keras.optimizers.SGD, 0.01),
    "rmsprop": (keras.optimizers.RMSprop, 0.001),
    "adam": (keras.optimizers.Adam, 0.001),
    "adamw": (keras.optimizers.AdamW, 0.001),
    "nadam": (keras.optimizers.Nadam, 0.001),
    "adamax": (keras.optimizers.Adamax, 0.001),
    "adagrad": (keras.optimizers.Adagrad, 0.01),
    "adadelta": (keras.optimizers.Adadelta, 1.0),
}


def _rate(optimizer):
    return float(np.asarray(optimizer.learning_rate))


def test_registry_matches_documentation():
    assert set(OPTIMIZERS) == set(DOCUMENTED)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_name_gives_fresh_optimizer_with_default_rate(name):
    cls, rate = DOCUMENTED[name]
    first = make_optimizer(name)
    assert type(first) is cls
    assert _rate(first) == pytest.approx(rate, rel=1e-6)
    second = make_optimizer(name.upper())  # case-insensitive
    assert type(second) is cls and second is not first
    assert _rate(second) == pytest.approx(rate, rel=1e-6)
    assert not first.built


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_learning_rate_overrides_and_scale_multiplies(name):
    assert _rate(make_optimizer(name, learning_rate=0.123)) == pytest.approx(0.123, rel=1e-6)
    assert _rate(make_optimizer(name, learning_rate=0.2, scale=0.1)) == pytest.approx(0.02, rel=1e-6)
    default = DOCUMENTED[name][1]
    assert _rate(make_optimizer(name, scale=0.5)) == pytest.approx(default * 0.5, rel=1e-6)
    assert _rate(make_optimizer(name, learning_rate=3)) == pytest.approx(3.0)  # int accepted


def test_default_optimizer_is_adam():
    assert type(make_optimizer()) is keras.optimizers.Adam


def test_learning_rate_none_means_default():
    assert _rate(make_optimizer("sgd", learning_rate=None)) == pytest.approx(0.01)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, "0.1", float("nan")])
def test_non_positive_or_non_numeric_learning_rate(bad):
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("sgd", learning_rate=bad)


def test_instance_is_cloned_not_mutated():
    user = keras.optimizers.Adam(learning_rate=0.003, beta_1=0.8, clipnorm=1.0)
    before = user.get_config()

    clone = make_optimizer(user)
    assert clone is not user and type(clone) is keras.optimizers.Adam
    assert clone.get_config() == before

    scaled = make_optimizer(user, learning_rate=0.01, scale=0.1)
    assert _rate(scaled) == pytest.approx(0.001, rel=1e-6)
    assert scaled.get_config()["beta_1"] == pytest.approx(0.8)
    assert scaled.get_config()["clipnorm"] == pytest.approx(1.0)

    # Using the clones does not touch the user's instance.
    var = keras.Variable(np.ones(3, dtype="float32"))
    clone.apply_gradients([(np.ones(3, dtype="float32"), var)])
    assert clone.built and int(clone.iterations) == 1
    assert not user.built
    assert int(user.iterations) == 0
    assert user.get_config() == before
    assert _rate(user) == pytest.approx(0.003, rel=1e-6)


def test_built_instance_is_cloned_fresh():
    user = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    var = keras.Variable(np.ones(2, dtype="float32"))
    user.apply_gradients([(np.ones(2, dtype="float32"), var)])
    clone = make_optimizer(user)
    assert not clone.built and int(clone.iterations) == 0
    assert clone.get_config() == user.get_config()


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        make_optimizer("lion_of_judah")
    message = str(info.value)
    assert "lion_of_judah" in message
    assert all(name in message for name in OPTIMIZERS)


@pytest.mark.parametrize("bad", [None, 0.01, keras.optimizers.Adam, object(), ["adam"]])
def test_non_optimizer_raises_type_error(bad):
    with pytest.raises(TypeError, match="optimizer"):
        make_optimizer(bad)


def test_schedule_with_scale_raises():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    user = keras.optimizers.SGD(learning_rate=schedule)
    with pytest.raises(ValueError, match="schedule"):
        make_optimizer(user, scale=0.1)
    # Without scaling, the schedule is kept (as a copy).
    clone = make_optimizer(user)
    assert isinstance(clone._learning_rate, keras.optimizers.schedules.ExponentialDecay)
    assert clone._learning_rate is not schedule
    # A schedule is not a float learning_rate override.
    with pytest.raises(ValueError, match="learning_rate"):
        make_optimizer("sgd", learning_rate=schedule)


# -- TwoRateTrainer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1)) + 0.5).astype("float32")
    return x, y


def _tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="tanh", name="body")(inputs)
    outputs = keras.layers.Dense(1, name="head")(hidden)
    return keras.Model(inputs, outputs)


def _fit_two_rate(model, x, y, head_optimizer, backbone_optimizer, epochs=3):
    backbone_vars = model.get_layer("body").trainable_variables
    trainer = TwoRateTrainer(model, backbone_vars, backbone_optimizer)
    trainer.compile(optimizer=head_optimizer, loss="mse", jit_compile=False)
    trainer.build_optimizers()
    keras.utils.set_random_seed(1)
    history = trainer.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return trainer, history


def _weights(model, layer):
    return [np.array(w) for w in model.get_layer(layer).get_weights()]


def test_build_optimizers_splits_variables():
    model = _tiny_model()
    head_opt, body_opt = make_optimizer("adam"), make_optimizer("adam", scale=0.5)
    trainer = TwoRateTrainer(model, model.get_layer("body").trainable_variables, body_opt)
    trainer.compile(optimizer=head_opt, loss="mse", jit_compile=False)
    trainer.build_optimizers()
    # Adam keeps two slots (m, v) per variable: 2 variables each side.
    body_ids = {id(v) for v in model.get_layer("body").trainable_variables}
    assert body_opt.built and head_opt.built
    assert len(body_opt._trainable_variables) == 2
    assert len(head_opt._trainable_variables) == 2
    assert {id(v) for v in body_opt._trainable_variables} == body_ids
    assert not body_ids & {id(v) for v in head_opt._trainable_variables}


def test_tiny_backbone_scale_barely_moves_backbone(regression_data):
    x, y = regression_data
    model = _tiny_model()
    body0, head0 = _weights(model, "body"), _weights(model, "head")
    trainer, history = _fit_two_rate(
        model, x, y, make_optimizer("sgd", 0.1), make_optimizer("sgd", 0.1, scale=1e-6)
    )
    assert trainer.model is model  # the functional model itself was trained
    body1, head1 = _weights(model, "body"), _weights(model, "head")
    body_move = max(np.abs(a - b).max() for a, b in zip(body0, body1))
    head_move = max(np.abs(a - b).max() for a, b in zip(head0, head1))
    assert head_move > 1e-2
    assert body_move < 1e-5
    assert body_move < head_move * 1e-3
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", ["sgd", "adam"])
def test_equal_rates_match_plain_fit(regression_data, name):
    x, y = regression_data
    rate = 0.1 if name == "sgd" else 0.01

    plain = _tiny_model()
    initial = plain.get_weights()
    plain.compile(optimizer=make_optimizer(name, rate), loss="mse", jit_compile=False)
    keras.utils.set_random_seed(1)
    plain_history = plain.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)

    model = _tiny_model()
    model.set_weights(initial)
    _, history = _fit_two_rate(model, x, y, make_optimizer(name, rate), make_optimizer(name, rate))

    for got, want in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(history.history["loss"], plain_history.history["loss"], atol=1e-5)
    # And training did change the weights.
    assert not np.allclose(plain.get_weights()[0], initial[0])
