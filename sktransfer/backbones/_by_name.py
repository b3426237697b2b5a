"""Keras layer weights by layer name: set on a model, and kept in a NumPy archive.

Keras' ``.weights.h5`` is keyed by layer order, so reading one means building the
model it came from; :mod:`sktransfer.backbones.efficientnet_lite` also keeps its
converted ImageNet weights keyed by name (:func:`write_by_name`), which any variant
of the network (another input size, without its top) reads directly.
"""

import numpy as np

from .._utils.atomic import write_file

__all__ = ["assign_by_name", "by_name_path", "read_by_name", "write_by_name"]


def assign_by_name(model, weights):
    """Set each layer's weights from ``weights[layer.name]`` (the head is optional)."""
    missing = set(weights) - {layer.name for layer in model.layers} - {"predictions"}
    if missing:
        raise ValueError(f"model {model.name!r} lacks the layers {sorted(missing)[:5]}")
    for layer in model.layers:
        if layer.name in weights:
            layer.set_weights(weights[layer.name])


# Keras' .weights.h5 is keyed by layer order, not name, so reading it means building
# the full 224-px model and loading into it (seconds, in every new process). The same
# weights are also kept keyed by layer name in a NumPy archive that names the digest
# of the .weights.h5 it was made from; a missing, stale or unreadable archive is remade.
def by_name_path(target):
    return target[: -len(".weights.h5")] + ".by_name.npz"


def write_by_name(target, digest, model):
    arrays = {
        f"{layer.name}/{i}": value for layer in model.layers for i, value in enumerate(layer.get_weights())
    }
    write_file(by_name_path(target), lambda tmp: np.savez(tmp, __digest__=np.array(digest), **arrays))


def read_by_name(target, digest):
    try:
        with np.load(by_name_path(target)) as archive:
            if str(archive["__digest__"]) != digest:
                return None
            weights = {}
            for key in archive.files:
                if key != "__digest__":
                    name, index = key.rsplit("/", 1)
                    weights.setdefault(name, {})[int(index)] = archive[key]
    except Exception:  # missing, truncated or not an archive: remade from the .weights.h5
        return None
    return {name: [values[i] for i in range(len(values))] for name, values in weights.items()}
