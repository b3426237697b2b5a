"""Inference functions traced once per architecture, shared by every fitted model that has it."""

import gc
import threading
import weakref

import numpy as np
import pytest
from conftest import SIZE
from traces import count_traces

from sktransfer import FineTunedClassifier
from sktransfer._engine import predictors
from sktransfer._utils.compat import import_keras

keras = import_keras()

N = 16  # > 2 batches of 4: compiled from the first prediction


def _make(random_state, **params):
    # Random weights: the frozen part is not cached, so every prediction runs
    # both the frozen stage and the trained layers above the cut.
    params = dict(
        backbone="mobilenet_0.25",
        weights=None,
        input_size=SIZE,
        trainable_layers=0,
        head=(4,),
        epochs=1,
        batch_size=4,
        tta=False,
        random_state=random_state,
        **params,
    )
    return FineTunedClassifier(**params)


@pytest.fixture(scope="module")
def data(binary_sample):
    X, y = binary_sample
    keep = np.r_[0 : N // 2, len(X) - N // 2 : len(X)]  # both classes
    return X[keep], y[keep]


@pytest.fixture(scope="module")
def twins(data):
    """Two fitted models of one architecture, different weights (the first one predicted once)."""
    X, y = data
    predictors.clear_predictors()
    first = _make(0).fit(X, y)
    first.predict_proba(X)
    first.decision_function(X)
    return first, _make(1).fit(X, y)


def test_second_model_of_an_architecture_traces_nothing(twins, data):
    """Each fitted model traced its own prediction graphs (0.1-1 s per fit of a grid)."""
    X, _ = data
    first, second = twins
    with count_traces() as traces:
        second.predict_proba(X)
        second.decision_function(X)
        first.predict_proba(X)
    assert len(traces) == 0, traces.names


def test_shared_predictions_are_the_fitted_keras_models(twins, data):
    X, _ = data
    pixels = X.astype("float32")
    for est in twins:
        expected = keras.ops.convert_to_numpy(est.model_(pixels, training=False))[:, 0]
        np.testing.assert_allclose(est.predict_proba(X)[:, 1], expected, rtol=1e-5, atol=1e-6)
    # the two models really differ: shared graphs, own weights
    assert not np.allclose(twins[0].predict_proba(X), twins[1].predict_proba(X))


def test_threads_predict_with_their_own_weights(twins, data):
    X, _ = data
    expected = [est.predict_proba(X) for est in twins]
    results, errors = {}, []

    def work(i):
        try:
            results[i] = [twins[i % 2].predict_proba(X) for _ in range(2)]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, outputs in results.items():
        for out in outputs:
            np.testing.assert_allclose(out, expected[i % 2], rtol=1e-6, atol=1e-7)


def test_the_pool_keeps_no_model_alive():
    from sktransfer._engine.frozen import run_model

    model = _dense()
    run_model(model, np.ones((6, 5), dtype="float32"), 2, compiled=True)
    assert predictors.architecture_key(model) in {keys[0] for keys, _ in predictors._FUNCTIONS}
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def _dense(units=3, activation="relu", seed=0, name=None, dtype=None):
    inputs = keras.Input((5,), name=name and f"{name}_in")
    x = keras.layers.Dense(
        units,
        activation=activation,
        kernel_initializer=keras.initializers.GlorotUniform(seed),
        dtype=dtype,
        name=name,
    )(inputs)
    x = keras.layers.Dropout(0.1 + seed / 100, seed=seed)(x)
    return keras.Model(inputs, x)


def test_architecture_key_ignores_names_and_seeds_only():
    key = predictors.architecture_key
    base = key(_dense())
    assert key(_dense(seed=3, name="other")) == base  # names, seeds, initialisers, dropout rates
    assert key(_dense(units=4)) != base
    assert key(_dense(activation="tanh")) != base
    assert key(_dense(dtype="mixed_bfloat16")) != base


def test_models_that_cannot_describe_themselves_run_on_their_own_function(data):
    """No config, no key: the model's own function, as before the pool."""

    class Opaque(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(keras.ops.reshape(x, (keras.ops.shape(x)[0], -1)))

        def get_config(self):
            raise NotImplementedError

    from sktransfer._engine.frozen import run_model

    model = Opaque()
    x = np.random.RandomState(0).rand(12, 2, 2, 3).astype("float32")
    model(x[:1])
    assert predictors.architecture_key(model) is None
    out = run_model(model, x, 2, compiled=True)
    np.testing.assert_allclose(out, keras.ops.convert_to_numpy(model(x)), rtol=1e-5, atol=1e-6)
