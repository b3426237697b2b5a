"""The training loop shared by every sktransfer classifier.

:class:`BaseImageClassifier` does what FineTunedClassifier and
SimpleCNNClassifier have in common: validation, label encoding, class
weights, seeding, the validation split and early stopping, the Keras fit and
``history_`` and pickling; prediction and ``transform`` come from
:class:`sktransfer.estimators._prediction.PredictionMixin`. A subclass only says how
to build its network (:meth:`BaseImageClassifier._build_network`).

A network comes in up to three parts (see :class:`sktransfer._engine.network.Network`): the full model
(raw 0..255 pixels in, probabilities out), a frozen part (pixels -> the
activations at the cut) and a trainable part (activations at the cut ->
probabilities). When the frozen part exists and no augmentation is on, fit
computes the frozen activations once and trains only the trainable part on
them, for every epoch; the parts share their layers, so the full model is
trained too.
"""

import random
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets

from .._config import cpu_only, get_config
from .._engine.cache import resolve_cache
from .._engine.history_recorder import HistoryRecorder
from .._engine.keras_pickle import KerasPickleMixin
from .._engine.network import PROBABILITIES, precision_scope
from .._engine.release import release_network, release_when_dropped
from .._utils.compat import HasMethods, Interval, StrOptions, fit_context, import_keras, release_train_graphs
from ..images import (
    FIT_HINT,
    check_image_input,
    input_checked,
    num_samples,
    reports_user_index,
    skip_unreadable,
)
from ._fit_data import check_fit_extras, loss_weights, training_data, validation_rule
from ._optimizers import make_optimizer
from ._prediction import PredictionMixin, prediction_parts

keras = import_keras()

from .._engine.frozen import compute_frozen, frozen_stages, load_pixels, model_from_cut, retagged  # noqa: E402
from .._engine.graph_fit import can_fit_in_graph, fit_in_graph, forget_graph_fits  # noqa: E402
from .._engine.trainers import fit_on_trainer  # noqa: E402
from .._engine.two_rate import BackboneRateFollowsHead, TwoRateTrainer  # noqa: E402
from .._engine.views import ViewEpochs, augment_per_image  # noqa: E402

__all__ = ["BaseImageClassifier"]


class BaseImageClassifier(
    PredictionMixin, KerasPickleMixin, ClassifierMixin, TransformerMixin, BaseEstimator
):
    """Base class: see the module docstring. Not for direct use."""

    _parameter_constraints = {
        "optimizer": [str, HasMethods(["apply_gradients", "get_config"])],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "validation": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
            HasMethods(["split"]),
            None,
        ],
        "early_stopping": ["boolean"],
        "patience": [Interval(Integral, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "callbacks": [list, None],
        "augmentation": [HasMethods(["build_layers", "is_active"]), None],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "n_jobs": [Integral, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    #: Learning rates that replace the optimizer's own default (the table in
    #: :mod:`sktransfer.estimators`) when ``learning_rate=None``, by optimizer name.
    _default_learning_rates = {}

    # -- to be provided by subclasses ---------------------------------------
    def _build_network(self, n_outputs, seed):  # pragma: no cover - abstract
        raise NotImplementedError

    def _input_size(self):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- fit ------------------------------------------------------------------
    @fit_context(prefer_skip_nested_validation=True)
    @reports_user_index(FIT_HINT)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Train on images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
            Images as a 0..255 array, or file paths (list, array or Series).
            With ``on_error="skip"``, files that cannot be read are left out
            with their labels (see ``skipped_files_``).
        y : array-like of shape (n_samples,)
            Class labels (any hashable type; strings are fine).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the images in the training loss (both
            stages of a two-stage fit), multiplied by ``class_weight``'s. They
            are rescaled to average 1 over the training images, so only their
            ratios matter: an image of weight 2 counts as the same image twice
            would (exactly when one batch holds every training image, in
            expectation with smaller batches), one of weight 0 not at all.
            Validation images are not weighted.
        X_val, y_val : array-like, default=None
            Your own validation images and their labels (each a class of
            ``y``), instead of images held out of ``X``: every image of ``X``
            trains; ``val_loss`` and ``val_accuracy`` are computed on these
            each epoch, and ``early_stopping`` watches them (in both stages of
            a two-stage fit). Not with ``validation_fraction`` or
            ``validation``. In a search, route them like any fit parameter
            (``set_fit_request(X_val=True, y_val=True)`` with metadata
            routing); every candidate and fold then validates on the same
            images.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        # Labels first: their errors ("Unknown label type", one class) are the
        # ones sklearn users know, whatever is wrong with X.
        y = self._check_y(y)
        X = check_image_input(X)
        if len(y) != num_samples(X):
            raise ValueError(f"X and y have different lengths: {num_samples(X)} images but {len(y)} labels.")
        sample_weight, X_val, y_val = check_fit_extras(self, y, sample_weight, X_val, y_val)
        skipped = []
        if self.on_error == "skip":
            kept, skipped = skip_unreadable(
                X,
                self._input_size(),
                owner=type(self).__name__,
                n_jobs=self.n_jobs,
                verbose=bool(self.verbose),
            )
            if skipped:
                X, y = X[kept], self._check_y(y[kept])
                sample_weight = None if sample_weight is None else sample_weight[kept]
            if X_val is not None:
                kept, skipped_val = skip_unreadable(
                    X_val,
                    self._input_size(),
                    owner=type(self).__name__,
                    n_jobs=self.n_jobs,
                    verbose=bool(self.verbose),
                )
                X_val, y_val, skipped = X_val[kept], y_val[kept], skipped + skipped_val
        if self.early_stopping and X_val is None and validation_rule(self) is None:
            raise ValueError(
                "early_stopping=True needs a validation set: pass X_val and y_val to fit, or set "
                "validation (e.g. 20 images per class) or validation_fraction (e.g. 0.1)."
            )
        # A misspelt optimizer fails now, not after the frozen pass (minutes at 224 px).
        make_optimizer(self.optimizer, self._learning_rate())
        encoder = LabelEncoder().fit(y)
        seed = self._seed()
        data = training_data(self, X, y, encoder, sample_weight, X_val, y_val, seed)
        with _seeded(seed), precision_scope():
            network = self._build_network(len(encoder.classes_), seed)
            # Without this TensorFlow keeps every fit's training graph alive
            # (see release_train_graphs).
            with release_train_graphs(network.model):
                history, stages = self._train(network, data, encoder.classes_, seed)
        self.classes_ = encoder.classes_
        self.model_ = network.model
        self.history_ = {
            k: [int(v) if k == "stage" else float(v) for v in vals] for k, vals in history.items()
        }
        head_only = self.history_.get("stage", []).count(1)  # a two-stage fit's first epochs
        self.n_epochs_ = len(self.history_.get("loss", [])) - head_only
        self.backbone_info_ = network.info.to_dict()
        self.skipped_files_ = skipped
        self._embedding_layer = network.embedding_layer
        prediction_parts(network.model, network.info, stages)  # predict reuses them
        release_when_dropped(self)  # Keras' own cycles would keep the network until a full collection
        for recorder in self.callbacks or []:
            if isinstance(recorder, HistoryRecorder):  # not a Keras callback: see its docstring
                recorder.record(self)
        return self

    def _check_y(self, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, got only {classes.tolist()!r}."
            )
        return y

    def _seed(self):
        if isinstance(self.random_state, Integral):
            return int(self.random_state) % (2**31 - 1)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _class_weight(self, y_encoded, classes):
        if self.class_weight is None:
            return None
        if isinstance(self.class_weight, str):
            weights = compute_class_weight("balanced", classes=np.arange(len(classes)), y=y_encoded)
            return dict(enumerate(map(float, weights)))
        # sklearn's rule (compute_class_weight): labels absent from y are fine when
        # every class of y has a weight (a CV fold without one class), an error
        # when some class has none (a misspelt label); its message names only the
        # unweighted classes, this one the unknown labels too.
        classes = classes.tolist()
        unknown = [k for k in self.class_weight if k not in classes]
        unweighted = [c for c in classes if c not in self.class_weight]
        if unknown and unweighted:
            raise ValueError(
                f"class_weight has labels not present in y: {unknown!r}, and no weight for "
                f"the classes {unweighted!r} of y."
            )
        return {i: float(self.class_weight.get(c, 1.0)) for i, c in enumerate(classes)}

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
            keras.utils.set_random_seed(seed)
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        tags.input_tags.positive_only = True  # pixel values are 0..255
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags


def _keras_verbose(verbose):
    if isinstance(verbose, bool):
        return int(verbose)
    return min(int(verbose), 2)


class _seeded:
    """Seed Python, NumPy and TensorFlow for one fit, then give the user back
    their Python and NumPy random states (Keras draws its default seeds from
    Python's ``random``)."""

    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        self._py, self._np = random.getstate(), np.random.get_state()  # noqa: NPY002
        keras.utils.set_random_seed(self.seed)

    def __exit__(self, *exc):
        random.setstate(self._py)
        np.random.set_state(self._np)  # noqa: NPY002
        return False
