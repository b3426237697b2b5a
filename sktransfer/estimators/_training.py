"""The Keras side of a classifier's fit: what the network trains on and how.

:class:`TrainingMixin` gives :class:`~sktransfer.estimators._base.BaseImageClassifier`
its training step: the inputs (cached activations at the cut, cached augmented
views, or pixels), the compiled trainer (reused from the pool when the
architecture allows, see :mod:`sktransfer._engine.trainers`), and the loop
(all epochs in one traced function where nothing needs Keras' own ``fit``, see
:mod:`sktransfer._engine.graph_fit`). It knows nothing of label encoding,
validation of the inputs or the fitted attributes, which stay in the base class.
"""

import numpy as np

from .._config import cpu_only, get_config
from .._engine.cache import resolve_cache
from .._engine.history_recorder import HistoryRecorder
from .._engine.network import PROBABILITIES
from .._engine.release import release_network
from .._utils.compat import import_keras, set_random_seed
from ..images import input_checked
from ._fit_data import loss_weights
from ._optimizers import make_optimizer

keras = import_keras()

from .._engine.frozen import compute_frozen, frozen_stages, load_pixels, model_from_cut, retagged  # noqa: E402
from .._engine.graph_fit import can_fit_in_graph, fit_in_graph, forget_graph_fits  # noqa: E402
from .._engine.trainers import fit_on_trainer  # noqa: E402
from .._engine.two_rate import BackboneRateFollowsHead, TwoRateTrainer  # noqa: E402
from .._engine.views import ViewEpochs, augment_per_image  # noqa: E402

__all__ = ["TrainingMixin"]


class TrainingMixin:
    """Training of a classifier's network; see the module docstring."""

    def _view_data(self, network, stages, X, seed):
        """Training data of cached augmented views (see :mod:`sktransfer._engine.views`)."""
        aug = self.augmentation
        layers = aug.build_layers(seed)
        variant = (repr(aug), seed)
        views = []
        for v in range(aug.n_views):
            views.append(
                self._frozen_activations(
                    retagged(stages, "view", v, *variant),
                    X,
                    network.info.input_size,
                    transform=lambda pixels, keys, v=v: augment_per_image(layers, pixels, keys, v, seed),
                )
            )
        network.info.training_input = (
            f"cached activations of {aug.n_views} augmented views per image (view = epoch mod {aug.n_views})"
        )
        return views

    def _train(self, network, data, classes, seed):
        n_classes = len(classes)
        augmenting = self.augmentation is not None and self.augmentation.is_active()
        stages = frozen_stages(network.model, network.info)
        size = network.info.input_size
        validating = data.X_val is not None

        def target(labels):
            return labels.astype("float32" if n_classes == 2 else "int32")

        class_weight = self._class_weight(data.y, classes)
        weights = loss_weights(data.sample_weight, class_weight, data.y)
        views = None
        if stages is not None and not augmenting:
            # Frozen work once (and across fits, through the cache): every
            # epoch trains only the layers above the cut.
            inputs = self._frozen_activations(stages, data.X, size)
            val_inputs = self._frozen_activations(stages, data.X_val, size) if validating else None
            trained = model_from_cut(network.model, network.info, PROBABILITIES)
            network.info.training_input = "cached activations at the cut"
        elif stages is not None and self.augmentation.n_views:
            views = self._view_data(network, stages, data.X, seed)
            val_inputs = self._frozen_activations(stages, data.X_val, size) if validating else None
            trained = model_from_cut(network.model, network.info, PROBABILITIES)
        else:
            inputs, trained = self._pixels(data.X, size), network.model
            val_inputs = self._pixels(data.X_val, size) if validating else None
            network.info.training_input = "images (full forward pass every epoch)"
        callbacks = [c for c in self.callbacks or [] if not isinstance(c, HistoryRecorder)]
        if self.early_stopping:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.patience, restore_best_weights=True
                )
            )
        validation = (val_inputs, target(data.y_val)) if validating else None
        if views is not None:
            if weights is None and class_weight is not None:
                weights = np.array([class_weight[c] for c in data.y], dtype="float32")
            batches = ViewEpochs(views, target(data.y), self.batch_size, seed, weights)
            fit_args = dict(x=batches, validation_data=validation)
        else:
            fit_args = dict(
                x=inputs,
                y=target(data.y),
                batch_size=self.batch_size,
                validation_data=validation,
                shuffle=True,
            )
            if weights is None:
                fit_args["class_weight"] = class_weight
            else:
                fit_args["sample_weight"] = weights

        # On cached activations with nothing that needs Keras' loop (callbacks,
        # progress output), all epochs run in one traced function: Keras' per-epoch
        # machinery costs far more than these few layers' arithmetic (see graph_fit).
        in_graph = (
            views is None
            and trained is not network.model
            and not self._needs_keras_fit()
            and can_fit_in_graph(trained)
        )
        if in_graph and weights is None and class_weight is not None:
            weights = np.array([class_weight[c] for c in data.y], dtype="float32")

        def run(trainer):
            # Same random stream whichever trainer runs (fresh or reused, see _trainers).
            set_random_seed(seed, tensorflow=not in_graph)  # see set_random_seed: TensorFlow's for Keras fit
            if in_graph:
                return fit_in_graph(
                    trainer,
                    inputs,
                    target(data.y),
                    weights,
                    batch_size=self.batch_size,
                    epochs=self.epochs,
                    seed=seed,
                    validation_data=validation,
                    patience=self.patience if self.early_stopping else None,
                )
            extra = [BackboneRateFollowsHead()] if isinstance(trainer, TwoRateTrainer) else []
            return trainer.fit(
                epochs=self.epochs,
                callbacks=callbacks + extra,
                verbose=_keras_verbose(self.verbose),
                **fit_args,
            ).history

        whole = trained is network.model
        key = self._trainer_key(network, n_classes, whole)
        history = fit_on_trainer(
            None if key is None else (key, trained.dtype_policy.name),
            trained,
            lambda model: self._trainer(model, network, n_classes, seed, whole),
            run,
        )
        forget_graph_fits(trained)  # traced for this fit alone unless a pooled trainer ran it
        if not whole:
            # The layers above the cut, as a model of their own, were this fit's
            # only: their Keras cycles would keep its graph (and, compiled, its
            # optimizer) until a full collection, and keep the network from
            # being released when the estimator goes.
            roots = [trained]
            del trained
            release_network(roots)
        return history, stages

    def _needs_keras_fit(self):
        """Whether this fit needs Keras' own ``fit`` loop: user callbacks or progress output."""
        user = [c for c in self.callbacks or [] if not isinstance(c, HistoryRecorder)]
        return bool(user) or _keras_verbose(self.verbose) != 0

    def _trainer_key(self, network, n_classes, whole):
        """What a compiled trainer for this fit depends on (None: don't reuse one).

        ``whole``: the whole network trains (from pixels), not the layers above the cut.
        """
        return None

    def _trainer(self, model, network, n_classes, seed, whole):
        """Compile a trainer for ``model``, or for a new copy of it if None (see _trainers)."""
        if model is None:
            network = self._build_network(n_classes, seed)
            model = network.model if whole else model_from_cut(network.model, network.info, PROBABILITIES)
        jit = False if whole else self._xla(network)
        return self._compile(model, network, n_classes, jit_compile=jit), model

    def _learning_rate(self):
        """``learning_rate``, or this estimator's default for the optimizer name (or None)."""
        if self.learning_rate is not None or not isinstance(self.optimizer, str):
            return self.learning_rate
        return self._default_learning_rates.get(self.optimizer.lower())

    def _xla(self, network):
        xla = get_config()["xla"]
        if xla == "auto":
            return bool(network.backbone_variables) and cpu_only()
        return xla

    def _compile(self, model, network, n_classes, jit_compile=False):
        rate = self._learning_rate()
        optimizer = make_optimizer(self.optimizer, rate)
        loss = "binary_crossentropy" if n_classes == 2 else "sparse_categorical_crossentropy"
        # Named "accuracy" so that Keras' epoch lines and history_ say accuracy.
        metric = (
            keras.metrics.BinaryAccuracy if n_classes == 2 else keras.metrics.SparseCategoricalAccuracy
        )(name="accuracy")
        scale = getattr(self, "backbone_lr_scale", 1.0)
        trained_ids = {id(v) for v in model.trainable_variables}
        backbone_vars = [v for v in network.backbone_variables if id(v) in trained_ids]
        if scale != 1.0 and backbone_vars:
            trainer = TwoRateTrainer(model, backbone_vars, make_optimizer(self.optimizer, rate, scale))
        else:
            trainer = model
        trainer.compile(optimizer=optimizer, loss=loss, metrics=[metric], jit_compile=jit_compile)
        if trainer is not model:
            trainer.build_optimizers()
        return trainer

    # -- predict --------------------------------------------------------------
    def _resolved_cache(self):
        return resolve_cache(getattr(self, "cache", False))

    # X was checked (and warned about) on entry: input_checked() keeps the
    # decoding of its parts from repeating the 0..1 warning. ``size`` is the
    # network's (``backbone_info_["input_size"]`` once fitted), never the
    # parameter's current value: set_params(input_size=...) after a fit must not
    # feed the fitted network, or file cache entries under its key, other sizes.
    def _pixels(self, X, size):
        with input_checked():
            return load_pixels(
                X, tuple(size), cache=self._resolved_cache(), n_jobs=self.n_jobs, verbose=bool(self.verbose)
            )

    def _frozen_activations(self, stages, X, size, transform=None):
        with input_checked():
            return compute_frozen(
                stages,
                X,
                size=tuple(size),
                cache=self._resolved_cache(),
                batch_size=self.batch_size,
                n_jobs=self.n_jobs,
                verbose=bool(self.verbose),
                transform=transform,
            )


def _keras_verbose(verbose):
    if isinstance(verbose, bool):
        return int(verbose)
    return min(int(verbose), 2)
