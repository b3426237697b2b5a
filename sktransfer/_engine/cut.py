"""Which backbone layers train, and where the frozen part can be cut off.

The counting rule for ``trainable_layers``
------------------------------------------
* ``0``: no backbone layer trains (head only).
* ``N`` (int > 0): the top ``N`` layers *that own trainable weights*
  (convolutions, dense, batch/layer normalisation, layer scale), counted from
  the output down in the order of ``model.layers``; layers without weights
  (activations, padding, pooling, additions) do not count.
* ``"all"``: every layer.
* a block name of the backbone (``"conv4"`` for ResNets, ``"block6"`` for
  EfficientNets, see :data:`sktransfer.backbones.BACKBONES`) or an exact layer
  name: that layer and every layer after it.

Where the cut goes
------------------
Everything below the lowest trainable layer is frozen and deterministic, so its
output can be computed once and cached. A network with skip connections can
only be cut where a single tensor carries everything the layers above need
(a block output in a ResNet): :func:`cut_points` finds those tensors as the
points of a topological walk where exactly one tensor is "live". The cut is the
highest such point below every trainable layer; the frozen layers between the
cut and the first trainable layer run (in inference mode) in the top part.
"""

import re
import warnings
import weakref
from numbers import Integral

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["anchor_point", "cut_points", "cut_position", "resolve_trainable", "set_trainable", "split_at"]


# Whether a layer owns trainable weights never changes once it is built; the
# answer is remembered because finding it out means toggling ``trainable``,
# which Keras' attribute tracking makes slow, and every fit of a grid search
# resolves its cut on the shared template.
_OWNS_TRAINABLE = weakref.WeakKeyDictionary()


def _owns_trainable_weights(layer):
    known = _OWNS_TRAINABLE.get(layer)
    if known is not None:
        return known
    # ``trainable_weights`` is empty for a frozen layer, so look at the
    # variables' own flag as well as the layer's current list.
    saved = layer.trainable
    layer.trainable = True
    try:
        owns = bool(layer.trainable_weights)
    finally:
        layer.trainable = saved
    if layer.built:
        _OWNS_TRAINABLE[layer] = owns
    return owns


def resolve_trainable(model, spec, trainable_layers):
    """Set ``layer.trainable`` on ``model`` and return the trainable layers.

    Parameters
    ----------
    model : keras.Model
        The backbone (functional).
    spec : BackboneSpec
        Its registry entry (for block names).
    trainable_layers : int, "all" or str
        See the module docstring.

    Returns
    -------
    trainable : list of keras.layers.Layer
        Layers that own trainable weights and now train.

    Raises
    ------
    ValueError
        For a negative or too large count, or an unknown block / layer name.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    weighted = [layer for layer in layers if _owns_trainable_weights(layer)]
    if isinstance(trainable_layers, bool):
        raise ValueError(f"trainable_layers must be an int, 'all' or a block name, got {trainable_layers!r}.")
    if isinstance(trainable_layers, Integral):
        trainable_layers = int(trainable_layers)  # numpy ints from np.arange grids
        if not 0 <= trainable_layers <= len(weighted):
            raise ValueError(
                f"trainable_layers={trainable_layers} is out of range for backbone "
                f"{spec.name!r}, which has {len(weighted)} layers with weights; use "
                f"0..{len(weighted)}, 'all' or a block name ({', '.join(spec.blocks)})."
            )
        train = set(map(id, weighted[len(weighted) - trainable_layers :]))
    elif trainable_layers == "all":
        train = set(map(id, weighted))
    elif isinstance(trainable_layers, str):
        start = _block_start(layers, spec, trainable_layers)
        train = {id(layer) for layer in layers[start:] if _owns_trainable_weights(layer)}
    else:
        raise ValueError(f"trainable_layers must be an int, 'all' or a block name, got {trainable_layers!r}.")
    for layer in layers:
        set_trainable(layer, id(layer) in train)
    if isinstance(trainable_layers, Integral):
        _warn_if_only_normalisation(weighted, trainable_layers, spec)
    return [layer for layer in weighted if id(layer) in train]


_NORMALISATION = (
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "RMSNormalization",
    "LayerScale",
)


def _warn_if_only_normalisation(weighted, n, spec):
    """Warn when the top ``n`` weighted layers only rescale (say, one BatchNormalization)."""
    top = weighted[len(weighted) - n :]
    if not top or any(type(layer).__name__ not in _NORMALISATION for layer in top):
        return
    below = [
        layer
        for layer in reversed(weighted[: len(weighted) - n])
        if type(layer).__name__ not in _NORMALISATION
    ]
    count = sum(int(w.numpy().size) for layer in top for w in layer.trainable_weights)
    advice = ""
    if below:
        reach = len(weighted) - weighted.index(below[0])
        advice = f"; trainable_layers={reach} reaches {below[0].name} ({type(below[0]).__name__})"
    names = ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in top)
    warnings.warn(
        f"trainable_layers={n} on {spec.name!r} trains only normalisation layers: {names}, "
        f"{count:,} weights in all{advice}, or name a block "
        f"({', '.join(spec.blocks) or 'see sktransfer.backbones'}).",
        UserWarning,
        stacklevel=3,
    )


def set_trainable(layer, value):
    """``layer.trainable = value``, skipped when it already is: Keras' tracked
    setter walks every variable and sublayer, slow on a whole backbone per fit."""
    if layer.trainable != value:
        layer.trainable = value


def _block_start(layers, spec, name):
    pattern = spec.blocks.get(name)
    if pattern is not None and spec.block_ends:
        # The patterns match each block's last layer: this block starts after the previous one's.
        names = list(spec.blocks)
        index = names.index(name)
        if index == 0:
            return 0
        previous = spec.blocks[names[index - 1]]
        for i, layer in enumerate(layers):
            if re.match(previous, layer.name):
                return i + 1
    for i, layer in enumerate(layers):
        if (pattern is not None and re.match(pattern, layer.name)) or layer.name == name:
            return i
    raise ValueError(
        f"trainable_layers={name!r} is neither a block nor a layer of backbone "
        f"{spec.name!r}; its blocks are {', '.join(spec.blocks)} (or pass an int or 'all')."
    )


def _topological_nodes(model):
    """Nodes of ``model``'s graph, inputs first (iterative post-order DFS)."""
    order, seen = [], set()
    stack = [(t._keras_history, False) for t in model.outputs]
    while stack:
        history, expanded = stack.pop()
        node = history.operation._inbound_nodes[history.node_index]
        if id(node) in seen and not expanded:
            continue
        if expanded:
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
            continue
        stack.append((history, True))
        for tensor in node.input_tensors:
            parent = tensor._keras_history
            if id(parent.operation._inbound_nodes[parent.node_index]) not in seen:
                stack.append((parent, False))
    return order


def cut_points(model):
    """Tensors of ``model`` through which every input-to-output path passes.

    Returns
    -------
    points : list of (int, keras.KerasTensor, keras.layers.Layer)
        ``(position, tensor, producing layer)`` in topological order, starting
        with the model input (position -1, layer None).
    """
    nodes = _topological_nodes(model)
    consumers = {}
    for node in nodes:
        for tensor in {id(t): t for t in node.input_tensors}.values():
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    points = [(-1, model.inputs[0], None)]
    live = {}
    for position, node in enumerate(nodes):
        if node.is_input:
            live.update({id(t): t for t in node.output_tensors})
            continue
        for tensor in {id(t): t for t in node.input_tensors}.values():
            consumers[id(tensor)] -= 1
            if consumers[id(tensor)] == 0:
                live.pop(id(tensor), None)
        live.update({id(t): t for t in node.output_tensors})
        if len(live) == 1:
            (tensor,) = live.values()
            points.append((position, tensor, node.operation))
    return points, nodes


def split_at(model, trainable):
    """Split ``model`` into a frozen bottom and a top that holds every trainable layer.

    Parameters
    ----------
    model : keras.Model
        Functional backbone whose ``trainable`` flags are already set.
    trainable : list of keras.layers.Layer
        Its trainable layers (from :func:`resolve_trainable`).

    Returns
    -------
    bottom : keras.Model or None
        Input -> cut tensor, all frozen; ``None`` when the cut is the input.
    top : keras.Model or None
        Cut tensor -> output; ``None`` when nothing trains.
    cut_name : str
        Name of the layer whose output is the cut (``"input"`` for the input).
    """
    if not trainable:
        return model, None, model.layers[-1].name
    points, nodes = cut_points(model)
    position = {id(node.operation): i for i, node in enumerate(nodes)}
    lowest = min(position[id(layer)] for layer in trainable)
    pos, tensor, layer = [p for p in points if p[0] < lowest][-1]
    frozen_weighted = [node.operation for node in nodes[: pos + 1] if _owns_trainable_weights(node.operation)]
    if layer is None or not frozen_weighted:
        # Caching padded or rescaled pixels would cost memory and save nothing.
        return None, model, "input"
    bottom = keras.Model(model.inputs[0], tensor, name=f"{model.name}_frozen")
    top = keras.Model(tensor, model.outputs[0], name=f"{model.name}_trainable")
    return bottom, top, layer.name


def anchor_point(model, min_top_layers=12):
    """The highest cut point with at least ``min_top_layers`` weighted layers above it.

    Activations there are cached next to the cut's own, so that grid searches
    over ``trainable_layers`` up to ``min_top_layers`` run only the frozen
    layers between this anchor and their cut instead of the whole bottom.

    Returns
    -------
    position : int
        Topological position of the anchor (compare with :func:`cut_position`).
    name : str or None
        Name of the layer whose output is the anchor; None for tiny models.
    """
    points, nodes = cut_points(model)
    position = {id(node.operation): i for i, node in enumerate(nodes)}
    weighted = [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer) and _owns_trainable_weights(layer)
    ]
    if len(weighted) <= min_top_layers:
        return -1, None
    lowest = min(position[id(layer)] for layer in weighted[-min_top_layers:])
    below = [p for p in points if p[0] < lowest and p[2] is not None]
    if not below:
        return -1, None
    pos, _, layer = below[-1]
    return pos, layer.name


def cut_position(model, name):
    """Topological position of the layer ``name`` in ``model`` (for comparing cuts)."""
    _, nodes = cut_points(model)
    for i, node in enumerate(nodes):
        if node.operation.name == name:
            return i
    raise ValueError(f"No layer named {name!r} in {model.name!r}.")
