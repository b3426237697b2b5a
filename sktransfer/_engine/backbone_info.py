"""What a fitted network records about its backbone: the one source of ``backbone_info_``.

Every estimator builds a :class:`BackboneInfo`; users see it as the plain dict
:meth:`BackboneInfo.to_dict` returns (the fitted ``backbone_info_``, which saved
models and pickles keep as a dict). Code that reads a fitted ``backbone_info_``
back, possibly from an older save, goes through :meth:`BackboneInfo.of`.
"""

from dataclasses import dataclass, fields

__all__ = ["NOT_RECORDED", "BackboneInfo"]


class _NotRecorded:
    """The default of a field that an estimator does not record (left out of the dict)."""

    def __repr__(self):
        return "NOT_RECORDED"


NOT_RECORDED = _NotRecorded()


@dataclass
class BackboneInfo:
    """The backbone of a fitted network: what was built, and where its frozen part ends.

    Each estimator records the fields that apply to it; the others stay
    :data:`NOT_RECORDED` and are left out of :meth:`to_dict`. The frozen part
    (:mod:`sktransfer._engine.frozen`) is described by ``cut_layer`` (the layer of
    ``model_`` whose output is the cut: ``"pool"`` for head-only training,
    ``"backbone_frozen"`` when some backbone layers train, None without a frozen
    part), ``anchor`` (a lower cut point inside the frozen backbone, or None),
    ``cut`` (the first trainable layer, or ``"pool"``) and ``identity`` (the cache
    key of the frozen weights, None for random weights).
    """

    backbone: object = NOT_RECORDED  #: registry name; None for the scratch CNN
    weights: object = NOT_RECORDED  #: "imagenet", a weights file as a str, or None
    input_size: object = NOT_RECORDED  #: (height, width) the network was built for
    preprocessing: object = NOT_RECORDED  #: the backbone's input normalisation
    pooling: object = NOT_RECORDED  #: "avg" or "max"
    trainable_backbone_layers: object = NOT_RECORDED
    cut: object = NOT_RECORDED
    cut_layer: object = NOT_RECORDED
    anchor: object = NOT_RECORDED
    identity: object = NOT_RECORDED
    feature_dim: object = NOT_RECORDED  #: width of the backbone's pooled features
    n_imagenet_classes: object = NOT_RECORDED
    conv_filters: object = NOT_RECORDED  #: the scratch CNN's convolution widths
    total_params: object = NOT_RECORDED
    trainable_params: object = NOT_RECORDED
    head_epochs: object = NOT_RECORDED  #: epochs of a two-stage fit's head-only stage
    training_input: object = NOT_RECORDED  #: what the trained layers saw each epoch

    def to_dict(self):
        """The recorded fields as the plain dict users get as ``backbone_info_``."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not NOT_RECORDED
        }

    @classmethod
    def from_dict(cls, info):
        """Read a ``backbone_info_`` dict back, to read its fields.

        A key that an older save lacks reads as None; a key this version does not
        know (a newer save's) is not needed to predict, and is left out.
        """
        return cls(**{f.name: info.get(f.name) for f in fields(cls)})

    @classmethod
    def of(cls, info):
        """``info`` itself if it is a :class:`BackboneInfo`, else :meth:`from_dict` of it."""
        return info if isinstance(info, cls) else cls.from_dict(info)
