"""Inference functions traced once per architecture and shared by every model that has it.

A grid search fits dozens of models of a few architectures, and scores every
one of them. A ``tf.function`` per fitted model traced its graph again for each
(often more than the scoring itself once the frozen part comes from the
activation cache). Here the traced function takes the variables as inputs
(Keras' ``stateless_call``), so one trace serves every model with the same
architecture, whatever its weights:

* :func:`architecture_key` names a model's architecture by its config, with
  what cannot change its outputs in inference left out (layer and tensor
  names, seeds, initialisers, regularisers, constraints, dropout rates);
* :func:`shared_function` returns the call of the function traced for a
  sequence of models and an input signature, tracing it on the first model
  that needs it; each call passes the calling model's own variables, so
  threads predicting with different models never touch each other's weights
  and nothing shared is assigned.

The pool keeps the concrete functions only, never a model (their graphs read
the variables they are given): a fitted estimator is freed when the user drops
it. It holds at most :data:`MAX_FUNCTIONS`, the most recently used;
:func:`clear_predictors` empties it.
"""

import hashlib
import json
import threading
import weakref
from collections import OrderedDict

from .._utils.compat import import_keras

keras = import_keras()
import tensorflow as tf  # noqa: E402

__all__ = ["MAX_FUNCTIONS", "architecture_key", "clear_predictors", "n_predictors", "shared_function"]

#: Traced functions the pool keeps (an architecture and input signature each).
MAX_FUNCTIONS = 64

_FUNCTIONS = OrderedDict()  # (architecture keys, input spec) -> _Shared
_LOCK = threading.Lock()
# Keys of sub-models cut from a shared backbone (the frozen stages every fit
# builds anew from the template's tensors): by the identity of their input and
# output tensors, computed once instead of once per fit (a backbone's config is large).
_BY_TENSORS = {}
_NO_KEY = object()

# Config entries that never change what a layer computes in inference.
_IGNORED_KEYS = frozenset({"seed"})
_IGNORED_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
_INFERENCE_IDENTITY = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"})


class _Shared:
    """One traced function: ``models`` in sequence, their variables as inputs."""

    def __init__(self, models, spec):
        def call(variables, x):
            for model, (trainable, non_trainable) in zip(models, variables):
                x = model.stateless_call(trainable, non_trainable, x, training=False)[0]
            return x

        self.signature = _signature(models)
        # Traced here, on the models at hand; the concrete function keeps no
        # reference to them (tested), so the pool never keeps a fitted model alive.
        self.function = tf.function(call, autograph=False).get_concrete_function(_variables(models), spec)


def _variables(models):
    # ``.value``: the backing tf.Variable, passed by reference (no copy of the weights).
    return [
        ([v.value for v in m.trainable_variables], [v.value for v in m.non_trainable_variables])
        for m in models
    ]


def _signature(models):
    return tuple(
        (
            tuple((tuple(v.shape), v.dtype) for v in m.trainable_variables),
            tuple((tuple(v.shape), v.dtype) for v in m.non_trainable_variables),
        )
        for m in models
    )


def architecture_key(model):
    """A digest of what ``model`` computes in inference, up to its weights (None: unknown).

    Two models with the same key give the same outputs given the same
    variables (in the order of ``trainable_variables`` and
    ``non_trainable_variables``). Remembered on the model.
    """
    key = model.__dict__.get("_sktransfer_architecture", _NO_KEY)
    if key is not _NO_KEY:
        return key
    tensors = _tensor_ids(model)
    with _LOCK:
        known = _BY_TENSORS.get(tensors)
    if known is not None and all(ref() is not None for ref in known[0]):
        key = known[1]
    else:
        key = _digest(model)
        refs = _tensor_refs(model)
        if key is not None and refs is not None:
            with _LOCK:
                for stale in [k for k, (rs, _) in _BY_TENSORS.items() if any(r() is None for r in rs)]:
                    del _BY_TENSORS[stale]
                _BY_TENSORS[tensors] = (refs, key)
    # object.__setattr__ keeps Keras from tracking it as a layer attribute.
    object.__setattr__(model, "_sktransfer_architecture", key)
    return key


def _tensor_ids(model):
    try:
        return tuple(id(t) for t in model.inputs), tuple(id(t) for t in model.outputs)
    except (AttributeError, TypeError):
        return None


def _tensor_refs(model):
    try:
        return [weakref.ref(t) for t in (*model.inputs, *model.outputs)]
    except (AttributeError, TypeError):
        return None


def _digest(model):
    try:
        config = model.get_config()
    except Exception:
        return None
    names = set()
    _layer_names(config, names)
    names.discard(None)
    text = json.dumps(_canonical(config, names, {}), sort_keys=True, default=repr)
    return f"{type(model).__qualname__}:{hashlib.sha256(text.encode()).hexdigest()}"


def _layer_names(config, names):
    """Collect the names of the layers (and models) of a functional config, nested ones too."""
    if isinstance(config, dict):
        if isinstance(config.get("layers"), list) and isinstance(config.get("name"), str):
            names.add(config["name"])
            for entry in config["layers"]:
                if isinstance(entry, dict):
                    names.add(entry.get("name"))
                    inner = entry.get("config")
                    names.add(inner.get("name") if isinstance(inner, dict) else None)
        for value in config.values():
            _layer_names(value, names)
    elif isinstance(config, (list, tuple)):
        for value in config:
            _layer_names(value, names)


def _canonical(obj, names, renamed, key=None, layer_class=None):
    """``obj`` with layer names numbered in order of appearance, and inference-irrelevant entries left out.

    Names are renamed only where they name a layer (``name``, the first item of
    ``keras_history``, ``input_layers`` / ``output_layers``), never in other
    values (an activation called like a layer stays itself).
    """
    if isinstance(obj, dict):
        layer_class = obj.get("class_name", layer_class)
        out = {}
        for k in sorted(obj):
            if k in _IGNORED_KEYS or k.endswith(_IGNORED_SUFFIXES):
                continue
            if k == "rate" and layer_class in _INFERENCE_IDENTITY:
                continue
            value = obj[k]
            if k == "keras_history" and isinstance(value, (list, tuple)) and value:
                value = [_rename(value[0], names, renamed), *value[1:]]
            out[k] = _canonical(value, names, renamed, k, layer_class)
        return out
    if isinstance(obj, (list, tuple)):
        return [_canonical(v, names, renamed, key, layer_class) for v in obj]
    if isinstance(obj, str) and key in ("name", "input_layers", "output_layers"):
        return _rename(obj, names, renamed)
    return obj


def _rename(name, names, renamed):
    if not isinstance(name, str) or name not in names:
        return name
    return renamed.setdefault(name, f"#{len(renamed)}")


def shared_function(models, x):
    """``call(batch)`` running ``models`` in sequence, in inference mode, through a shared graph.

    Parameters
    ----------
    models : sequence of keras.Model
    x : ndarray
        An input like the batches to come (its shape after the first axis and its dtype).

    Returns
    -------
    call : callable or None
        None when the models cannot share a function (a layer without a config).
    """
    keys = tuple(architecture_key(m) for m in models)
    if any(k is None for k in keys):
        return None
    spec = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
    key = (keys, spec)
    with _LOCK:
        shared = _FUNCTIONS.get(key)
        if shared is not None:
            _FUNCTIONS.move_to_end(key)
    if shared is None:
        shared = _Shared(models, spec)
        with _LOCK:
            _FUNCTIONS[key] = shared
            while len(_FUNCTIONS) > MAX_FUNCTIONS:
                _FUNCTIONS.popitem(last=False)
    if shared.signature != _signature(models):  # a key can't tell: keep to the model's own function
        return None
    variables = _variables(models)
    function = shared.function
    return lambda batch: function(variables, batch)


def n_predictors():
    """How many traced inference functions the pool holds."""
    with _LOCK:
        return len(_FUNCTIONS)


def clear_predictors():
    """Drop every pooled inference function."""
    with _LOCK:
        _FUNCTIONS.clear()
        _BY_TENSORS.clear()
