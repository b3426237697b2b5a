"""The training loop shared by every sktransfer classifier.

:class:`BaseImageClassifier` does what FineTunedClassifier and
SimpleCNNClassifier have in common: validation, label encoding, class
weights, seeding, the validation split and early stopping, ``history_`` and
pickling; the training itself comes from
:class:`sktransfer.estimators._training.TrainingMixin`, prediction and
``transform`` from :class:`sktransfer.estimators._prediction.PredictionMixin`. A subclass only says how
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

from .._engine.history_recorder import HistoryRecorder
from .._engine.keras_pickle import KerasPickleMixin
from .._engine.network import precision_scope
from .._engine.release import release_when_dropped
from .._utils.compat import (
    HasMethods,
    Interval,
    StrOptions,
    fit_context,
    import_keras,
    release_train_graphs,
    set_random_seed,
)
from ..images import (
    FIT_HINT,
    check_image_input,
    num_samples,
    reports_user_index,
    skip_unreadable,
)
from ._fit_data import check_fit_extras, training_data, validation_rule
from ._optimizers import make_optimizer
from ._prediction import PredictionMixin, prediction_parts
from ._training import TrainingMixin

keras = import_keras()


__all__ = ["BaseImageClassifier"]


class BaseImageClassifier(
    TrainingMixin, PredictionMixin, KerasPickleMixin, ClassifierMixin, TransformerMixin, BaseEstimator
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        tags.input_tags.positive_only = True  # pixel values are 0..255
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.non_deterministic = self.random_state is None
        return tags


class _seeded:
    """Seed Python, NumPy and Keras for one fit, then give the user back
    their Python and NumPy random states (Keras draws its default seeds from
    Python's ``random``). TensorFlow's seed is set where Keras' ``fit`` runs
    (see :func:`~sktransfer._utils.compat.set_random_seed`)."""

    def __init__(self, seed):
        self.seed = seed

    def __enter__(self):
        self._py, self._np = random.getstate(), np.random.get_state()  # noqa: NPY002
        set_random_seed(self.seed, tensorflow=False)

    def __exit__(self, *exc):
        random.setstate(self._py)
        np.random.set_state(self._np)  # noqa: NPY002
        return False
