"""A backbone split at its cut: the frozen part shared, the trainable part fresh."""

from typing import NamedTuple

from .._utils.compat import import_keras
from ..backbones import build_backbone
from .cut import anchor_point, cut_position, resolve_trainable, set_trainable, split_at
from .templates import backbone_template

keras = import_keras()

__all__ = ["BackboneParts", "backbone_parts"]


class BackboneParts(NamedTuple):
    """What :func:`backbone_parts` returns."""

    backbone: object  #: the whole backbone (a Keras model)
    spec: object  #: its :class:`~sktransfer.backbones.BackboneSpec`
    trainable: list  #: the trainable layers (of ``top``)
    bottom: object  #: the frozen part below the cut, or None when everything trains
    top: object  #: the trainable part above the cut, or None (head only)
    cut: str  #: the name of the first trainable layer
    anchor: object  #: the name of a frozen layer below the cut to cache at, or None


def backbone_parts(name, weights, size, trainable_layers):
    """The backbone ``name`` split at the cut that ``trainable_layers`` asks for.

    With pretrained ``weights`` the frozen layers are the shared template's
    (:func:`~sktransfer._engine.templates.backbone_template`) and the trainable
    ones a fresh copy, so that training never changes the template. Call it
    holding :data:`~sktransfer._engine.templates.TEMPLATE_LOCK`.
    """
    if weights is None:
        backbone, spec = build_backbone(name, None, size)
    else:
        backbone, spec = backbone_template(name, weights, size)
    trainable = resolve_trainable(backbone, spec, trainable_layers)
    bottom, top, cut = split_at(backbone, trainable)
    anchor_pos, anchor = anchor_point(backbone)
    if top is None:
        cut_pos = float("inf")
    else:
        cut_pos = -1 if bottom is None else cut_position(backbone, cut)
    anchor = anchor if anchor is not None and anchor_pos < cut_pos else None
    if top is not None and weights is not None:
        # Train a copy; the shared template stays as it was loaded.
        names = [layer.name for layer in trainable]
        fresh = keras.models.clone_model(top)
        fresh.set_weights(top.get_weights())
        top, trainable = fresh, [fresh.get_layer(layer_name) for layer_name in names]
    if weights is not None:
        for layer in backbone.layers:
            set_trainable(layer, False)
    return BackboneParts(backbone, spec, trainable, bottom, top, cut, anchor)
