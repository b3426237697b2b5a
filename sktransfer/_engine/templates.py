"""Pretrained backbones shared by every fit in the process."""

import threading
from collections import OrderedDict

from .release import mark_shared

__all__ = ["TEMPLATE_LOCK", "backbone_template", "clear_templates", "n_templates", "pretrained_identity"]

_TEMPLATES = OrderedDict()
_MAX_TEMPLATES = 2
TEMPLATE_LOCK = threading.RLock()


def pretrained_identity(spec, weights):
    """What the weights of a backbone built from ``spec`` and ``weights`` are, by content.

    A local file by its content hash (a new file at the same path is other
    weights); a keras-hub preset's own weights (``"imagenet"``) by the content
    hash of its files (two timm tags of one architecture never share it);
    ``None`` and Keras' ``"imagenet"`` as they are.
    """
    from .._utils.hashing import weights_identity

    if weights == "imagenet" and spec.weights_id is not None:
        return spec.weights_id
    return weights_identity(weights)


def backbone_template(name, weights, input_size):
    """A shared, frozen instance of a pretrained backbone, built once per process.

    Building ResNet50V2 and reading its 94 MB of weights takes seconds and
    keeps hundreds of MB per build; a grid search builds it for every fit.
    Frozen layers never change, so every fit can share them: the estimators
    use the template's layers below their cut as they are and clone (with the
    template's weights) only the layers that train. Every layer of a template
    is kept ``trainable=False``; the two most recently used templates are
    kept (:func:`clear_templates` drops them).

    Only for ``weights`` that are not ``None``: random weights differ per fit.
    """
    from ..backbones import build_backbone, get_backbone_spec

    spec = get_backbone_spec(name)
    import keras

    # Built in the precision of the scope it is asked for in (see network.precision_scope).
    key = (
        spec.name,
        pretrained_identity(spec, weights),
        tuple(input_size),
        keras.mixed_precision.dtype_policy().name,
    )
    with TEMPLATE_LOCK:
        if key in _TEMPLATES:
            _TEMPLATES.move_to_end(key)
            return _TEMPLATES[key]
        model, spec = build_backbone(name, weights, input_size)
        model.trainable = False
        mark_shared(model)  # a fit's network is released without walking the template
        _TEMPLATES[key] = (model, spec)
        while len(_TEMPLATES) > _MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
        return model, spec


def n_templates():
    """How many shared backbone templates are held now."""
    with TEMPLATE_LOCK:
        return len(_TEMPLATES)


def clear_templates():
    """Forget the shared backbone templates and the compiled trainers built on them.

    Their memory is freed once no fitted estimator uses them (see
    :mod:`sktransfer._engine.trainers`).
    """
    from .trainers import clear_trainers

    with TEMPLATE_LOCK:
        _TEMPLATES.clear()
    clear_trainers()
