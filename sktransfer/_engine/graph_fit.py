"""All epochs of a fit on cached activations in one compiled TensorFlow function.

Why this exists: once the frozen part comes from the activation cache, what
trains is a few layers on small arrays, and Keras' ``fit`` costs far more
than the arithmetic: most of a warm head-only fit goes to a new ``tf.data``
iterator per epoch, the Python dispatch of every batch and the callbacks'
bookkeeping, not to the training steps (the profile: ``benchmarks/head_fit.py``
and its benchmark page).
Here the data are tensors, every epoch's order is drawn up front from a
seeded NumPy generator, and one ``tf.function`` runs the epoch and batch
loops (``tf.while_loop``), validation, early stopping and the restore of
the best weights, returning the history. It is traced once per trainer and
batch size, so a pooled trainer (:mod:`sktransfer._engine.trainers`) pays
no tracing on later fits.

Every batch has ``batch_size`` rows: the last, shorter one is padded with
rows of weight zero, and real rows' loss weights are scaled by
``batch_size / real rows`` so the loss is the mean over the real rows, as
Keras computes it for the short batch. So XLA (``jit_compile``) compiles one
program per architecture and batch size, not a second one for the last batch.
Layers whose training output depends on the other rows of the batch
(BatchNormalization outside :class:`~sktransfer._engine.network.InferenceMode`)
would see the padding, so with them the last batch runs at its own size
(:func:`uses_batch_statistics`).

The results equal Keras ``fit``'s for the same order of the images (tested);
the shuffled order itself is drawn differently (NumPy's generator seeded by
``random_state``, not TensorFlow's op seeds). The estimators use this path
only when nothing needs Keras' loop; with user callbacks, progress output
(``verbose``), augmented views or the whole network training from pixels they
keep Keras ``fit``.
"""

import math

import numpy as np

from .._utils.compat import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (the loop below is TensorFlow's)

from .network import InferenceMode  # noqa: E402

__all__ = ["can_fit_in_graph", "fit_in_graph", "forget_graph_fits", "uses_batch_statistics"]

_LOOPS = "_sktransfer_graph_fits"  # attribute of the trainer holding its traced loops


def can_fit_in_graph(model):
    """Whether this loop can train ``model`` as Keras ``fit`` would.

    Not inside a ``tf.distribute`` strategy's scope (each optimizer step needs
    the replica context that Keras ``fit`` sets up), nor in mixed float16 (loss
    scaling, including :class:`~sktransfer._engine.two_rate.TwoRateTrainer`'s
    one scale for two optimizers, lives in the trainers' Keras train steps), nor
    yet with layers that train on batch statistics (:func:`uses_batch_statistics`:
    ``weights=None`` or ``head_batchnorm=True``). For those the loop gives Keras
    ``fit``'s results for the same order of the images, but it draws another
    order, and a short fit from random weights depends on the order (some
    orders leave the head's ReLUs dead at inference, with either loop): they
    keep Keras' order until their tests no longer depend on it (changelog).
    """
    return (
        not tf.distribute.has_strategy()
        and model.dtype_policy.name != "mixed_float16"
        and not uses_batch_statistics(model)
    )


def uses_batch_statistics(model):
    """Whether a training forward pass of ``model`` mixes the rows of a batch.

    BatchNormalization in training mode normalises by the batch's statistics;
    inside :class:`InferenceMode` it uses its moving ones.
    """

    def walk(layer):
        if isinstance(layer, InferenceMode):
            return False
        if isinstance(layer, keras.layers.BatchNormalization):
            return True
        return any(walk(child) for child in getattr(layer, "_layers", None) or [] if child is not layer)

    return any(walk(layer) for layer in model.layers)


def fit_in_graph(
    trainer,
    x,
    y,
    sample_weight,
    *,
    batch_size,
    epochs,
    seed,
    validation_data=None,
    patience=None,
    shuffle=True,
):
    """Train ``trainer`` (a compiled Keras model) on arrays; return the history.

    Parameters
    ----------
    trainer : keras.Model
        Compiled (optimizer, loss, metric named ``accuracy``); its
        ``jit_compile`` applies to the training and validation steps.
        A :class:`~sktransfer._engine.two_rate.TwoRateTrainer` applies its
        two optimizers.
    x, y : ndarray
        Training inputs (cached activations) and targets (float 0/1 for a
        sigmoid output, class indices for a softmax one).
    sample_weight : ndarray or None
        Per-row loss weights (class and sample weights, see
        :func:`sktransfer.estimators._fit_data.loss_weights`); accuracy is
        unweighted, as Keras computes its compiled ``metrics``.
    batch_size, epochs, seed : int
        ``seed`` draws each epoch's order.
    validation_data : (x_val, y_val) or None
        Unweighted; ``val_loss`` and ``val_accuracy`` every epoch.
    patience : int or None
        Early stopping on ``val_loss`` with the best epoch's weights
        restored, as ``keras.callbacks.EarlyStopping(patience=...,
        restore_best_weights=True)``; needs ``validation_data``.
    shuffle : bool, default=True
        False keeps the rows' order every epoch (for comparisons with Keras).

    Returns
    -------
    history : dict of list of float
        ``loss``, ``accuracy`` and, when validating, ``val_loss`` and
        ``val_accuracy``, one value per epoch run.
    """
    n = len(y)
    batch = int(min(batch_size, n))
    n_batches = math.ceil(n / batch)
    rng = np.random.default_rng(seed)
    order = np.zeros((epochs, n_batches * batch), dtype="int32")
    for epoch in range(epochs):
        order[epoch, :n] = rng.permutation(n) if shuffle else np.arange(n)
    weights = np.ones(n, "float32") if sample_weight is None else np.asarray(sample_weight, "float32")
    validating = validation_data is not None
    if patience is not None and not validating:
        raise ValueError("early stopping (patience) needs validation_data.")
    pad = not uses_batch_statistics(trainer)
    x = tf.convert_to_tensor(x, "float32")
    y = tf.convert_to_tensor(y)
    key = (batch, validating, patience is not None, pad, tuple(x.shape[1:]), y.dtype.name)
    loops = trainer.__dict__.setdefault(_LOOPS, {})
    if key not in loops:
        loops[key] = _build_loop(trainer, batch, validating, patience is not None, pad, x, y)
    x_val, y_val = validation_data if validating else (x[:1], y[:1])
    result = loops[key](
        x,
        y,
        tf.convert_to_tensor(weights),
        tf.convert_to_tensor(order),
        tf.constant(n, "int32"),
        tf.convert_to_tensor(x_val, "float32"),
        tf.convert_to_tensor(y_val, y.dtype),
        tf.constant(-1 if patience is None else int(patience), "int32"),
    )
    n_run = int(result[0])
    names = ["loss", "accuracy"] + (["val_loss", "val_accuracy"] if validating else [])
    values = result[1].numpy()
    return {name: [float(v) for v in values[i, :n_run]] for i, name in enumerate(names)}


def forget_graph_fits(trainer):
    """Drop the loops traced for ``trainer`` (a trainer used for one fit only)."""
    trainer.__dict__.pop(_LOOPS, None)


def _build_loop(trainer, batch, validating, early_stopping, pad, x, y):
    """Trace-once function running every epoch (see the module docstring)."""
    jit = bool(getattr(trainer, "jit_compile", False))
    trained = trainer.trainable_variables
    if not trainer.optimizer.built:  # its slots made here, not in the trace (which would run twice)
        trainer.optimizer.build(trained)
    split = getattr(trainer, "_split", None)  # TwoRateTrainer: head and backbone optimizers
    kept = trainer.weights
    best = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in kept] if early_stopping else []
    compute_loss = getattr(trainer, "_compute_loss", trainer.compute_loss)

    def correct(y_true, y_pred):
        if y_pred.shape[-1] == 1:  # sigmoid output: keras.metrics.BinaryAccuracy
            hit = tf.equal(tf.cast(y_pred[:, 0] > 0.5, y_true.dtype), y_true)
        else:  # keras.metrics.SparseCategoricalAccuracy
            hit = tf.equal(tf.argmax(y_pred, axis=-1, output_type=tf.int32), tf.cast(y_true, tf.int32))
        return tf.cast(hit, "float32")

    @tf.function(jit_compile=jit, reduce_retracing=True, autograph=False)
    def train_step(xb, yb, loss_weight, real):
        with tf.GradientTape() as tape:
            y_pred = trainer(xb, training=True)
            loss = compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=loss_weight, training=True)
            scaled = trainer.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, trained)
        if split is None:
            trainer.optimizer.apply_gradients(zip(gradients, trained))
        else:
            head, body = split(list(zip(gradients, trained)))
            trainer.optimizer.apply_gradients(head)
            trainer.backbone_optimizer.apply_gradients(body)
        return loss, tf.reduce_sum(correct(yb, y_pred) * real)

    @tf.function(jit_compile=jit, reduce_retracing=True, autograph=False)
    def test_step(xb, yb, loss_weight, real):
        y_pred = trainer(xb, training=False)
        loss = compute_loss(x=xb, y=yb, y_pred=y_pred, sample_weight=loss_weight, training=False)
        return loss, tf.reduce_sum(correct(yb, y_pred) * real)

    def one_pass(xs, ys, weights, index, real, step):
        """Mean loss and accuracy of ``step`` over the rows ``index``, batch by batch.

        ``index`` and ``real`` (1 for a real row, 0 for padding) cover whole batches.
        """
        index, real = tf.reshape(index, [-1, batch]), tf.reshape(real, [-1, batch])

        def body(b, loss_sum, hit_sum, weight_sum):
            ids, mask = index[b], real[b]
            n_b = tf.reduce_sum(mask)
            if not pad:  # the last batch at its own size (see uses_batch_statistics)
                ids, mask = ids[: tf.cast(n_b, "int32")], mask[: tf.cast(n_b, "int32")]
            w = tf.gather(weights, ids) * mask
            # Keras divides a batch's weighted loss by its number of rows: the
            # padded batch's real rows count batch / n_b times to give the same mean.
            scale = tf.cast(tf.shape(ids)[0], "float32") / n_b
            # Accuracy is unweighted, as Keras' compiled ``metrics`` (not ``weighted_metrics``).
            loss, hits = step(tf.gather(xs, ids), tf.gather(ys, ids), w * scale, mask)
            return b + 1, loss_sum + loss * n_b, hit_sum + hits, weight_sum + n_b

        zero = tf.constant(0.0)
        _, loss_sum, hit_sum, weight_sum = tf.while_loop(
            lambda b, *_: b < tf.shape(index)[0], body, (tf.constant(0), zero, zero, zero)
        )
        return loss_sum / tf.reduce_sum(real), hit_sum / weight_sum

    signature = [
        tf.TensorSpec([None, *x.shape[1:]], "float32"),
        tf.TensorSpec([None], y.dtype),
        tf.TensorSpec([None], "float32"),
        tf.TensorSpec([None, None], "int32"),
        tf.TensorSpec([], "int32"),
        tf.TensorSpec([None, *x.shape[1:]], "float32"),
        tf.TensorSpec([None], y.dtype),
        tf.TensorSpec([], "int32"),
    ]

    # Graph code throughout (tf.while_loop), as Keras' own steps: no AutoGraph conversion to pay.
    @tf.function(input_signature=signature, autograph=False)
    def loop(x, y, weights, order, n, x_val, y_val, patience):
        n_epochs = tf.shape(order)[0]
        real = tf.cast(tf.range(tf.shape(order)[1]) < n, "float32")
        n_val = tf.shape(y_val)[0]
        n_val_padded = (n_val + batch - 1) // batch * batch
        val_index = tf.concat([tf.range(n_val), tf.zeros([n_val_padded - n_val], tf.int32)], 0)
        val_real = tf.cast(tf.range(n_val_padded) < n_val, "float32")
        val_weights = tf.ones([n_val])

        def body(epoch, best_loss, wait, stop, history):
            values = list(one_pass(x, y, weights, order[epoch], real, train_step))
            if validating:
                values += one_pass(x_val, y_val, val_weights, val_index, val_real, test_step)
            history = tf.tensor_scatter_nd_update(
                history,
                tf.stack([tf.range(4), tf.fill([4], epoch)], 1),
                tf.stack(values + [0.0] * (4 - len(values))),
            )
            if not early_stopping:
                return epoch + 1, best_loss, wait, stop, history
            # keras.callbacks.EarlyStopping(restore_best_weights=True), step for step:
            # the first epoch's weights are kept, then each improvement's.
            val_loss = values[2]
            improved = val_loss < best_loss
            save = tf.logical_or(improved, tf.equal(epoch, 0))
            for variable, copy in zip(kept, best):
                copy.assign(tf.where(save, variable.value, copy))
            wait = tf.where(improved, 0, wait + 1)
            stop = tf.logical_and(tf.logical_not(improved), tf.logical_and(wait >= patience, epoch > 0))
            return epoch + 1, tf.where(improved, val_loss, best_loss), wait, stop, history

        epochs_run, _, _, _, history = tf.while_loop(
            lambda epoch, best_loss, wait, stop, history: tf.logical_and(
                epoch < n_epochs, tf.logical_not(stop)
            ),
            body,
            (
                tf.constant(0),
                tf.constant(math.inf),
                tf.constant(0),
                tf.constant(False),
                tf.zeros([4, n_epochs]),
            ),
        )
        if early_stopping:
            for variable, copy in zip(kept, best):
                variable.assign(copy)
        return epochs_run, history

    loop.train_step = train_step  # for the test that it compiles one program per batch size
    return loop
