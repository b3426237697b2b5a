"""Compiled trainers reused across fits of the same architecture.

A grid search fits the same network dozens of times (CV folds, batch sizes,
epochs, seeds); building, compiling and tracing its training step costs
seconds every time (tens of seconds for ResNet50V2's top blocks on a CPU,
more with XLA), often more than the training itself once the frozen part
comes from the activation cache. Keras keeps a traced step with the model it
was traced for, so this module keeps a few compiled *trainers* (the layers
above the cut, compiled with their optimizer) keyed by everything that shapes
them, and runs each fit on one of them:

1. the fit builds its own network as usual (fresh initial weights for its
   ``random_state``);
2. a trainer with the same key is taken from the pool (or built and
   compiled once), loaded with the fit's initial variables (weights,
   BatchNormalization statistics, dropout seeds) and its optimizer's
   initial state (step counter, slots, learning rate);
3. it trains, and its variables are copied back into the fit's network.

So a reused trainer gives the same result as a fresh one (tested); only the
traced and compiled graphs are shared. A trainer is used by one fit at a time
(threads take their own); the pool keeps the most recently used ones, at
most :data:`MAX_TRAINERS` holding at most :data:`MAX_BYTES` of variables
(the newest is always kept), and frees the graphs of those it drops
(see :func:`sktransfer._utils.compat.drop_train_graphs`).
:func:`clear_trainers` empties it; ``sktransfer.set_config(reuse_trainers=False)``
switches reuse off.
"""

import threading
from collections import OrderedDict

import numpy as np

from .._config import get_config
from .._utils.compat import drop_train_graphs

__all__ = ["MAX_BYTES", "MAX_TRAINERS", "clear_trainers", "fit_on_trainer", "n_trainers"]

MAX_TRAINERS = 16
#: Bytes of variables (weights and optimizer slots) the pooled trainers may hold.
MAX_BYTES = 1 << 30

_POOL = OrderedDict()  # key -> _Trainer
_LOCK = threading.Lock()


class _Trainer:
    """A compiled trainer, the model whose variables it trains, and its optimizers' initial state."""

    def __init__(self, trainer, model):
        self.trainer, self.model = trainer, model
        self.optimizers = [trainer.optimizer]
        if getattr(trainer, "backbone_optimizer", None) is not None:
            self.optimizers.append(trainer.backbone_optimizer)
        if not trainer.optimizer.built:
            trainer.optimizer.build(trainer.trainable_variables)
        self.initial = [[v.numpy() for v in opt.variables] for opt in self.optimizers]
        self.nbytes = sum(v.nbytes for values in self.initial for v in values) + sum(
            int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in model.variables
        )

    def fits(self, model):
        ours, theirs = self.model.variables, model.variables
        return len(ours) == len(theirs) and all(
            tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype for a, b in zip(ours, theirs)
        )

    def load(self, model):
        _copy(model.variables, self.model.variables)
        for opt, values in zip(self.optimizers, self.initial):
            for variable, value in zip(opt.variables, values):
                variable.assign(value)

    def release(self):
        drop_train_graphs(self.trainer)


def _copy(sources, targets):
    for source, target in zip(sources, targets):
        target.assign(source.value if hasattr(source, "value") else source)


def fit_on_trainer(key, model, build, fit):
    """Run ``fit(trainer)`` for ``model`` on a pooled trainer; return its result.

    Parameters
    ----------
    key : hashable or None
        Everything the compiled trainer depends on; ``None`` (or reuse
        switched off) trains ``model`` itself, compiled by ``build(model)``.
    model : keras.Model
        The fit's own trainable network (above the cut), freshly initialised.
        On return it holds the trained variables.
    build : callable
        ``build(model_or_None) -> (trainer, trained_model)``: compile a trainer
        for ``model``, or with ``None`` for a new, separate copy of it.
    fit : callable
        ``fit(trainer) -> result``, e.g. a call of ``trainer.fit``.
    """
    if key is None or not get_config()["reuse_trainers"]:
        trainer, _ = build(model)
        return fit(trainer)
    with _LOCK:
        entry = _POOL.pop(key, None)
    if entry is None or not entry.fits(model):
        if entry is not None:
            entry.release()
        entry = _Trainer(*build(None))
        if not entry.fits(model):  # cannot happen for a correct key: train the model itself
            entry.release()
            trainer, _ = build(model)
            return fit(trainer)
    entry.load(model)
    try:
        result = fit(entry.trainer)
        _copy(entry.model.variables, model.variables)
    finally:
        _put(key, entry)
    return result


def _put(key, entry):
    dropped = []
    with _LOCK:
        if key in _POOL:  # another thread trained the same architecture meanwhile
            dropped.append(_POOL.pop(key))
        _POOL[key] = entry
        while len(_POOL) > 1 and (
            len(_POOL) > MAX_TRAINERS or sum(e.nbytes for e in _POOL.values()) > MAX_BYTES
        ):
            dropped.append(_POOL.popitem(last=False)[1])
    for old in dropped:
        old.release()


def n_trainers():
    """How many compiled trainers the pool holds."""
    with _LOCK:
        return len(_POOL)


def clear_trainers():
    """Drop every pooled trainer and free its compiled graphs."""
    with _LOCK:
        entries = list(_POOL.values())
        _POOL.clear()
    for entry in entries:
        entry.release()
