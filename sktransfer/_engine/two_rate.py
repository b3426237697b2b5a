"""Two learning rates in one fit: the head's, and a scaled one for the trainable backbone.

Keras has no per-variable learning rate, and scaling gradients is not equivalent
for adaptive optimizers (Adam's update is invariant to gradient scale), so
:class:`TwoRateTrainer` runs a second optimizer of the same kind for the
backbone variables (``backbone_lr_scale``).
"""

from .._utils.compat import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402  (the custom train step below is TensorFlow's)

__all__ = ["BackboneRateFollowsHead", "TwoRateTrainer"]


class TwoRateTrainer(keras.Model):
    """Train a functional model with one optimizer for the head, another for the backbone.

    Only used during ``fit`` (the fitted estimator keeps the plain functional
    model). The step mirrors Keras' own TensorFlow ``train_step``.
    """

    def __init__(self, model, backbone_variables, backbone_optimizer, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self._backbone_ids = {id(v) for v in backbone_variables}
        self.backbone_optimizer = backbone_optimizer

    def call(self, inputs, training=False):
        return self.model(inputs, training=training)

    def _split(self, pairs):
        head = [(g, v) for g, v in pairs if id(v) not in self._backbone_ids]
        body = [(g, v) for g, v in pairs if id(v) in self._backbone_ids]
        return head, body

    def build_optimizers(self):
        """Create both optimizers' slots eagerly (not inside the traced step)."""
        head, body = self._split([(None, v) for v in self.trainable_variables])
        self.optimizer.build([v for _, v in head])
        self.backbone_optimizer.build([v for _, v in body])

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            self._loss_tracker.update_state(loss, sample_weight=tf.shape(x)[0])
            # Mixed float16: compile wrapped the head's optimizer in a LossScaleOptimizer
            # (Keras' auto_scale_loss); other optimizers return the loss as it is.
            scaled = self.optimizer.scale_loss(loss)
        variables = self.trainable_variables
        gradients = tape.gradient(scaled, variables)
        head, body = self._split(list(zip(gradients, variables)))
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            self._apply_scaled(head, body)
        else:
            self.optimizer.apply_gradients(head)
            self.backbone_optimizer.apply_gradients(body)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def _apply_scaled(self, head, body):
        """One loss scale for both optimizers: the head's, which decides for the step.

        The backbone's gradients are unscaled by the head's factor and applied
        only when all are finite; a non-finite one makes the head's optimizer
        skip the step too and lower the scale, as it does for its own.
        """
        scale = tf.convert_to_tensor(self.optimizer.dynamic_scale)  # before the head's step changes it
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(g)) for g, _ in body if g is not None])
        poison = tf.where(finite, 0.0, float("nan"))
        self.optimizer.apply_gradients([(g + tf.cast(poison, g.dtype), v) for g, v in head])

        def step():
            self.backbone_optimizer.apply_gradients([(g / tf.cast(scale, g.dtype), v) for g, v in body])

        tf.cond(finite, step, lambda: None)


class BackboneRateFollowsHead(keras.callbacks.Callback):
    """Move a :class:`TwoRateTrainer`'s backbone rate with its head's.

    Keras' learning-rate callbacks (``LearningRateScheduler``,
    ``ReduceLROnPlateau``) set ``model.optimizer``'s rate, the head's only. At
    the start of each epoch, after them, this keeps the backbone's rate at the
    ratio the fit began with (``backbone_lr_scale``); it leaves the rate alone
    while the head's is unchanged, so fits without such callbacks train
    exactly as before. Appended last to a fit's callbacks.
    """

    def on_train_begin(self, logs=None):
        self._start = (self._rate(self.model.optimizer), self._rate(self.model.backbone_optimizer))

    def on_epoch_begin(self, epoch, logs=None):
        head, (head_0, backbone_0) = self._rate(self.model.optimizer), self._start
        if head != head_0:
            self.model.backbone_optimizer.learning_rate = backbone_0 * head / head_0

    @staticmethod
    def _rate(optimizer):
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))
