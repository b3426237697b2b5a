"""The in-graph training loop against Keras' own ``fit`` (the reference) on tiny models."""

import numpy as np
import pytest

from sktransfer._engine.graph_fit import _LOOPS, fit_in_graph, uses_batch_statistics
from sktransfer._engine.network import InferenceMode
from sktransfer._engine.two_rate import TwoRateTrainer
from sktransfer._utils.compat import import_keras

keras = import_keras()

N, N_VAL, DIM = 20, 7, 6  # 20 rows in batches of 8: the last batch has 4 rows


def _data(n_classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N + N_VAL, DIM)).astype("float32")
    y = rng.integers(0, n_classes, N + N_VAL)
    y = y.astype("float32" if n_classes == 2 else "int32")
    w = rng.uniform(0.2, 2.0, N).astype("float32")
    return x[:N], y[:N], w, (x[N:], y[N:])


def _model(n_classes, batchnorm=False, jit=False, two_rate=False, frozen_bn=False):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((DIM,))
    x = keras.layers.Dense(5, activation="relu", kernel_regularizer=keras.regularizers.L2(0.01))(inputs)
    if batchnorm:
        x = keras.layers.BatchNormalization()(x)
    if frozen_bn:
        x = InferenceMode(keras.layers.BatchNormalization())(x)
    x = keras.layers.Dropout(0.0)(x)
    n_out = 1 if n_classes == 2 else n_classes
    outputs = keras.layers.Dense(n_out, activation="sigmoid" if n_classes == 2 else "softmax")(x)
    model = keras.Model(inputs, outputs)
    loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
    metric = keras.metrics.BinaryAccuracy if n_classes == 2 else keras.metrics.SparseCategoricalAccuracy
    trainer = model
    if two_rate:
        trainer = TwoRateTrainer(model, model.layers[1].trainable_variables, keras.optimizers.Adam(0.002))
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.02), loss=loss, metrics=[metric(name="accuracy")], jit_compile=jit
    )
    if two_rate:
        trainer.build_optimizers()
    return trainer


def _keras_fit(trainer, x, y, w, val, epochs, patience=None):
    callbacks = []
    if patience is not None:
        callbacks = [keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=True)]
    history = trainer.fit(
        x,
        y,
        sample_weight=w,
        batch_size=8,
        epochs=epochs,
        validation_data=val,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )
    return history.history


def _assert_same(ours, theirs, ours_model, theirs_model):
    assert sorted(ours) == sorted(theirs)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=2e-5, atol=1e-6, err_msg=key)
    for a, b in zip(ours_model.get_weights(), theirs_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize(
    "case",
    [
        {"n_classes": 3, "jit": True},  # XLA: the padded last batch must give the unpadded result
        {"n_classes": 2, "batchnorm": True},  # batch statistics: the last batch runs unpadded
        {"n_classes": 2, "two_rate": True, "frozen_bn": True},
    ],
    ids=["xla-padded", "batchnorm", "two-rate"],
)
def test_same_history_and_weights_as_keras_fit(case):
    n_classes = case["n_classes"]
    x, y, w, val = _data(n_classes)
    model_args = {k: v for k, v in case.items() if k != "n_classes"}
    theirs = _model(n_classes, **model_args)
    expected = _keras_fit(theirs, x, y, w, val, epochs=2)
    ours = _model(n_classes, **model_args)
    history = fit_in_graph(ours, x, y, w, batch_size=8, epochs=2, seed=0, validation_data=val, shuffle=False)
    _assert_same(history, expected, ours, theirs)
    if case.get("jit"):
        # Other data sizes (CV folds), other last batches: still the one program.
        for n in (19, 13):
            fit_in_graph(ours, x[:n], y[:n], w[:n], batch_size=8, epochs=1, seed=0, validation_data=val)
        (loop,) = getattr(ours, _LOOPS).values()
        assert loop.train_step.experimental_get_tracing_count() == 1
        (concrete,) = loop.train_step._list_all_concrete_functions()
        shapes = [tuple(spec.shape) for spec in concrete.structured_input_signature[0]]
        assert shapes == [(8, DIM), (8,), (8,), (8,)]


def test_early_stopping_restores_the_best_weights_as_keras_does():
    x, y, w, (x_val, _) = _data(2)
    val = (x_val, 1.0 - (_model(2).predict(x_val, verbose=0)[:, 0] > 0.5))  # worse with every epoch
    theirs = _model(2)
    expected = _keras_fit(theirs, x, y, w, val, epochs=6, patience=1)
    assert len(expected["loss"]) < 6  # it did stop early
    ours = _model(2)
    history = fit_in_graph(
        ours, x, y, w, batch_size=8, epochs=6, seed=0, validation_data=val, patience=1, shuffle=False
    )
    _assert_same(history, expected, ours, theirs)


def test_batch_statistics_are_found_outside_inference_mode_only():
    assert uses_batch_statistics(_model(2, batchnorm=True))
    assert not uses_batch_statistics(_model(2, frozen_bn=True))
    assert not uses_batch_statistics(_model(2))


def test_estimator_in_graph_and_keras_fit_agree(sample, make_classifier):
    """One batch holds every image, so the order of the images cannot matter."""
    X, y = sample
    params = dict(
        batch_size=128,
        epochs=3,
        validation=2,
        early_stopping=True,
        patience=1,
        head=(4,),
    )
    weights = np.random.default_rng(0).uniform(0.2, 2.0, len(y))
    graph = make_classifier(**params).fit(X, y, sample_weight=weights)
    # A user callback sends the fit through Keras' own loop.
    keras_path = make_classifier(**params, callbacks=[keras.callbacks.Callback()])
    keras_path.fit(X, y, sample_weight=weights)
    assert sorted(graph.history_) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for key, values in keras_path.history_.items():
        np.testing.assert_allclose(graph.history_[key], values, rtol=1e-4, err_msg=key)
    np.testing.assert_allclose(graph.predict_proba(X), keras_path.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_in_graph_fits_leave_tensorflows_seed_alone(sample, make_classifier, monkeypatch):
    """tf.random.set_seed clears TensorFlow's kernel cache: every traced function (the
    loop, the predictions, the frozen passes) was instantiated and optimised again
    after it, a fixed cost on every fit of a grid. Only Keras' fit (its tf.data
    shuffling) draws from TensorFlow's seed."""
    import tensorflow as tf

    calls = []
    set_seed = tf.random.set_seed
    monkeypatch.setattr(tf.random, "set_seed", lambda seed: (calls.append(seed), set_seed(seed)))
    X, y = sample
    first = make_classifier(random_state=3).fit(X, y)
    assert calls == []
    np.testing.assert_array_equal(
        make_classifier(random_state=3).fit(X, y).predict_proba(X), first.predict_proba(X)
    )
    make_classifier(random_state=3, callbacks=[keras.callbacks.Callback()]).fit(X, y)
    assert len(calls) == 1


def test_seeding_without_tensorflow_matches_keras_but_for_tensorflows_seed():
    """The reference is keras.utils.set_random_seed: the same Python, NumPy and Keras
    draws after it, and TensorFlow's global seed left as the user set it."""
    import random

    import tensorflow as tf
    from tensorflow.python.eager import context

    from sktransfer._utils.compat import set_random_seed

    def draws():
        return (
            random.random(),
            np.random.rand(),  # noqa: NPY002  (the legacy global state Keras seeds)
            float(keras.random.uniform(())),
        )

    keras.utils.set_random_seed(5)
    expected = draws()
    tf.random.set_seed(123)
    set_random_seed(5, tensorflow=False)
    assert draws() == expected
    assert context.global_seed() == 123
    set_random_seed(5)
    assert draws() == expected and context.global_seed() == 5
