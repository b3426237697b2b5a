"""Free a dropped estimator's network at once, not at Python's next full garbage collection.

Every Keras layer sits in reference cycles of Keras' own making: ``Layer.__new__``
stores a ``build`` and a ``quantize`` wrapper on the instance that close over
it, and a functional model's layers, nodes and symbolic tensors point at each
other. A fitted network whose estimator is dropped is therefore freed only by
the cyclic garbage collector, and in a process holding TensorFlow (half a
million objects) its full collections come every few fits: a grid search,
which never calls ``gc.collect()``, held several dropped networks at once
(``benchmarks/memory.py --no-gc`` measures it).

:func:`release_when_dropped` watches an estimator; when its last reference
goes, :func:`release_network` looks at what its network's objects hold and
what holds them, as the collector would but only for them: an object whose
reference count is larger than the references from inside the network is held
from outside, and so is everything it reaches. When nothing outside holds the
network (the user kept neither the model, nor a layer, a variable or a
sub-model of it), the layers' instance dictionaries are emptied, which breaks
Keras' cycles: reference counting frees the variables and what else only the
layers held, at once. A network that something still holds is left as it is.
"""

import gc
import sys
import threading
import types
import weakref

from .._config import get_config

__all__ = ["keep_with", "mark_shared", "release_network", "release_when_dropped"]

#: The attribute where :func:`sktransfer._engine.frozen.run_model` keeps a model's compiled functions.
COMPILED = "_sktransfer_compiled"

#: Give up (and leave the network to the collector) beyond this many objects.
MAX_OBJECTS = 2_000_000

_WATCHED = weakref.WeakSet()
_SHARED = weakref.WeakSet()
_LOCK = threading.RLock()


def mark_shared(model):
    """Never look inside ``model`` (a network that many fits share) when releasing one.

    A fit's network holds the shared backbone template's layers, and through
    them everything of the template: walking it costs far more than the
    fit's own few layers. A shared object counts as a referrer from outside,
    which only makes :func:`release_network` more conservative; the template
    itself stays until its owner drops it and the collector frees it.
    """
    with _LOCK:
        for obj in _graph_of(model):
            _SHARED.add(obj)


def _graph_of(model):
    """``model``, its layers (nested ones too) and the nodes of its functional graph."""
    seen = {}
    stack = [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen[id(layer)] = layer
        stack.extend(getattr(layer, "_layers", None) or [])
        stack.extend(getattr(layer, "layers", None) or [])
    objects = list(seen.values())
    for layer in list(objects):
        objects.extend(getattr(layer, "_inbound_nodes", None) or [])
    return objects


def release_when_dropped(estimator, attribute="model_"):
    """Free ``estimator``'s ``attribute`` (a Keras model) when the estimator is dropped.

    Registered once per estimator (a refit's new model is the one released);
    nothing runs at interpreter exit. Nothing is registered when the
    ``release_networks`` option is off (:func:`sktransfer.set_config`).
    """
    if not get_config()["release_networks"]:
        return
    with _LOCK:
        if estimator in _WATCHED:
            return
        _WATCHED.add(estimator)
    # The finalizer runs before the dying estimator's attributes are dropped:
    # it takes them (the estimator's __dict__) to drop them first.
    weakref.finalize(estimator, _dropped, estimator.__dict__, attribute).atexit = False


def keep_with(model, obj):
    """Keep ``obj`` (a model this fit built on the way, holding layers of ``model``) alive with ``model``.

    Such an intermediate model sits in Keras' cycles with the layers it shares:
    left behind it would hold them (and their variables) until a full
    collection, and make :func:`release_network` see them as held from
    outside. Kept with the model, it goes with it. Out of Keras' attribute
    tracking and of ``model.save`` (which saves the state of Keras objects
    and containers found in a model's attributes).
    """
    kept = model.__dict__.get("_sktransfer_kept")
    if kept is None:
        kept = _Kept()
        object.__setattr__(model, "_sktransfer_kept", kept)
    kept.objects.append(obj)


class _Kept:
    __slots__ = ("objects",)

    def __init__(self):
        self.objects = []


def _dropped(state, attribute):
    model = state.get(attribute)
    state.clear()  # the estimator is gone; its attributes go now rather than after this call
    if model is None:
        return
    roots = [model]
    del model
    try:
        release_network(roots)
    except Exception:  # pragma: no cover - never raise from a finalizer: the collector frees it
        pass


def release_network(roots):
    """Break the Keras cycles of the networks in ``roots`` when nothing outside holds them.

    Parameters
    ----------
    roots : list of keras.Model
        Holds the caller's only references to the models; it is emptied.

    Returns
    -------
    n_layers : int
        How many layers were emptied (0: something still holds the networks,
        or they were too large to look at).
    """
    if not get_config()["release_networks"]:
        roots.clear()
        return 0
    from keras.src.ops.operation import Operation
    from tensorflow.python.framework.func_graph import dismantle_func_graph

    objects = {id(o): o for o in roots}
    root_ids = list(objects)
    roots.clear()
    # Finding the unreferenced objects must look atomic to other threads, as a
    # collection does: one that moved a reference meanwhile could make a live
    # object look unreferenced. Nothing below waits on I/O or releases the GIL.
    with _LOCK:
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e6)
        try:
            if not _add_reachable(objects):
                return 0
            unreferenced = _unreferenced(objects)
            objects.clear()
            if not all(i in unreferenced for i in root_ids):
                return 0
            layers = [o for o in unreferenced.values() if isinstance(o, Operation)]
            graphs = [
                concrete.graph
                for layer in layers
                for function in (vars(layer).get(COMPILED) or {}).values()
                for concrete in _traced(function)
            ]
            unreferenced.clear()
        finally:
            sys.setswitchinterval(interval)
    # The graphs traced by the compiled inference functions that sktransfer
    # keeps on the network's (now unreferenced) models, which nothing else
    # calls, sit in TensorFlow's cycles (TensorFlow's own bookkeeping keeps
    # them looking referenced) and their captures hold the variables' buffers:
    # TensorFlow's own dismantling, as a function's finalizer does for the
    # graphs it generated, frees them.
    for graph in graphs:
        dismantle_func_graph(graph)
        # Its captures' cache outlives FunctionCaptures.clear() (TensorFlow 2.21).
        cached = getattr(getattr(graph, "_function_captures", None), "_cached_by_val_capture_tuples", None)
        if isinstance(cached, list):
            cached.clear()
    graphs.clear()
    for layer in layers:
        vars(layer).clear()
    n = len(layers)
    layers.clear()  # the layers, their variables and what only they held go now
    return n


def _traced(function):
    """The concrete functions a tf.function traced (none for a TensorFlow that moved them)."""
    cache = getattr(function, "_function_cache", None)  # private, no tracing (unlike its API)
    try:
        return list(cache.values()) if cache is not None else []
    except Exception:  # pragma: no cover
        return []


def _skipped_ids():
    # Module namespaces: a function leads to its globals, and from there to
    # everything; they are never part of a network. Shared networks (mark_shared)
    # are held by their owner.
    modules = list(sys.modules.values())
    skipped = {id(vars(m)) for m in modules if isinstance(getattr(m, "__dict__", None), dict)}
    skipped.update(id(o) for o in list(_SHARED))
    return skipped


def _add_reachable(objects):
    """Add to ``objects`` (id -> object) every tracked object reachable from them.

    Stops at classes, modules, module namespaces (shared by everything) and
    shared networks (:func:`mark_shared`):
    an object not followed counts as a referrer from outside, which only
    makes the result more conservative. False when there were too many.
    """
    skipped = _skipped_ids()
    frontier = list(objects.values())
    while frontier:
        found = {
            id(r): r
            for r in gc.get_referents(*frontier)
            if id(r) not in objects
            and id(r) not in skipped
            and gc.is_tracked(r)
            and not isinstance(r, (type, types.ModuleType))
        }
        objects.update(found)
        if len(objects) > MAX_OBJECTS:
            return False
        frontier = list(found.values())
    return True


def _unreferenced(objects):
    """The objects of ``objects`` (id -> object) that nothing outside them reaches."""
    # A probe held only by ``objects`` measures the references this count
    # itself makes (the dict's, the iteration's, getrefcount's argument): an
    # object counted above it has a referrer outside the set.
    probe = object()
    probe_id = id(probe)
    objects[probe_id] = probe
    del probe
    inner = {}
    for referent in gc.get_referents(*objects.values()):
        inner[id(referent)] = inner.get(id(referent), 0) + 1
    extra = {i: sys.getrefcount(o) - inner.get(i, 0) for i, o in objects.items()}
    del objects[probe_id]
    baseline = extra.pop(probe_id)
    live = {i for i, n in extra.items() if n > baseline}
    frontier = [objects[i] for i in live]
    while frontier:
        found = {id(r): r for r in gc.get_referents(*frontier) if id(r) in objects and id(r) not in live}
        live.update(found)
        frontier = list(found.values())
    return {i: o for i, o in objects.items() if i not in live}
