"""What one fit leaves behind for the next in this process, and how to forget it.

Fits in one process share three things, on purpose (they make grid searches
fast): the activation cache (:mod:`sktransfer._engine.cache`), the pretrained backbone
templates (:func:`sktransfer._engine.templates.backbone_template`) and the compiled
trainers (:mod:`sktransfer._engine.trainers`). A model fitted after another one with
the same backbone therefore starts warm: fewer seconds, less new memory.
:func:`forget_shared_state` puts the process back where a model fitted alone
would start, and :func:`shared_state` says what a fit would find.
:func:`sktransfer.compare.compare_models` uses both.
"""

import ctypes
import ctypes.util
import gc
import sys
from dataclasses import dataclass

__all__ = ["SharedState", "forget_shared_state", "shared_state"]


@dataclass(frozen=True)
class SharedState:
    """How much earlier fits left for the next one (all 0: a cold start)."""

    cached_activations: int = 0
    backbone_templates: int = 0
    compiled_trainers: int = 0

    @property
    def cold(self):
        return not (self.cached_activations or self.backbone_templates or self.compiled_trainers)


def _loaded(name):
    # A module never imported holds nothing; importing it would import TensorFlow.
    return sys.modules.get(f"sktransfer.{name}")


def shared_state():
    """The :class:`SharedState` a fit starting now would find."""
    cache, templates, trainers = (
        _loaded("_engine.cache"),
        _loaded("_engine.templates"),
        _loaded("_engine.trainers"),
    )
    entries = 0
    if cache is not None:
        entries = cache.n_cached()
    n_templates = 0 if templates is None else templates.n_templates()
    return SharedState(
        cached_activations=entries,
        backbone_templates=n_templates,
        compiled_trainers=0 if trainers is None else trainers.n_trainers(),
    )


def forget_shared_state():
    """Empty the activation cache's memory, the backbone templates, the trainer pool and
    the shared prediction functions (:mod:`sktransfer._engine.predictors`).

    Then collect garbage and hand freed heap memory back to the operating
    system (glibc's ``malloc_trim``), so that the resident set size measured
    next starts from what is really in use. Folders given as ``cache=`` keep
    their files: they are the user's own persistent cache.
    """
    cache, templates, trainers = (
        _loaded("_engine.cache"),
        _loaded("_engine.templates"),
        _loaded("_engine.trainers"),
    )
    if cache is not None:
        cache.clear_cache()
    if templates is not None:
        templates.clear_templates()  # also empties the trainer pool
    elif trainers is not None:
        trainers.clear_trainers()
    predictors = _loaded("_engine.predictors")
    if predictors is not None:
        predictors.clear_predictors()
    gc.collect()
    _malloc_trim()


def _malloc_trim():
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        pass
