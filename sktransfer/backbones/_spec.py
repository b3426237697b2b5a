"""What a backbone is to sktransfer, whatever its source: :class:`BackboneSpec`."""

from dataclasses import dataclass, field
from numbers import Integral

from ..exceptions import WeightsUnavailableError

__all__ = ["BackboneSpec", "WeightsUnavailableError", "normalize_size", "prefix_blocks"]

KERAS_APPLICATIONS = "keras.applications"
KERAS_HUB = "keras-hub"
OFFLINE = "sktransfer (offline weights)"


@dataclass(frozen=True)
class BackboneSpec:
    """What sktransfer knows about one backbone.

    Attributes
    ----------
    name : str
        Registry name (``"resnet50v2"``) or, for keras-hub, the handle as given
        (``"resnet_18_imagenet"``, ``"hf://timm/resnet18.a1_in1k"``, a folder).
    constructor : str
        Dotted path of the ``keras.applications``-style constructor; for
        keras-hub, the backbone class name.
    preprocessing : str
        Mode of :class:`BackbonePreprocessing` that reproduces the backbone's
        own ``preprocess_input`` (``"scale_offset"``: ``scale`` and ``offset``).
    default_size : int
        Input size (pixels, square) the pretrained weights were trained at.
    feature_dim : int
        Number of channels of the last feature map (= pooled embedding size).
    blocks : dict
        Block name -> regular expression matching the block's layer names, in
        order from input to output.
    kwargs : dict
        Extra constructor arguments (e.g. MobileNet's ``alpha``).
    min_size : int
        Smallest input size the architecture accepts.
    source : str
        ``"keras.applications"``, ``"keras-hub"`` or the offline EfficientNet-Lite0.
    params : int or None
        Parameters of the backbone without its classification top.
    block_ends : bool
        The ``blocks`` patterns match each block's *last* layer (Inception,
        NASNet, whose first layers have only automatic names): a block starts
        after the previous block's last layer.
    normalises_inside : bool
        The network normalises its input itself (EfficientNet, EfficientNetV2,
        ConvNeXt, MobileNetV3): ``preprocessing`` is then ``"none"``, so the
        normalisation is never applied twice.
    scale, offset : tuple of float or None
        ``x * scale + offset`` per channel, for ``preprocessing="scale_offset"``.
    weights_id : str or None
        Content hash of a keras-hub preset's weights files: what the activation
        cache and the shared templates know the pretrained weights by.
    """

    name: str
    constructor: str
    preprocessing: str
    default_size: int
    feature_dim: int
    blocks: dict
    kwargs: dict = field(default_factory=dict)
    min_size: int = 32
    source: str = KERAS_APPLICATIONS
    params: int = None
    block_ends: bool = False
    normalises_inside: bool = False
    scale: tuple = None
    offset: tuple = None
    weights_id: str = None

    @property
    def model_name(self):
        """``name`` as a Keras model name may spell it (no ``/`` or ``:`` of a handle or path)."""
        import re

        return re.sub(r"[^0-9A-Za-z_.-]+", "_", self.name).strip("_")[-64:] or "backbone"


def prefix_blocks(names, pattern="{}_"):
    """``{name: "^<pattern with name>"}``: blocks whose layers share a name prefix."""
    import re

    return {n: "^" + re.escape(pattern.format(n)) for n in names}


def normalize_size(input_size, default, min_size=32):
    """Return ``(height, width)`` from an int, a pair or ``None``.

    Raises
    ------
    ValueError
        If the size is not a positive int / pair of ints, or is below ``min_size``.
    """
    if input_size is None:
        return (default, default)

    def is_int(value):
        return isinstance(value, Integral) and not isinstance(value, bool)

    if is_int(input_size):
        size = (int(input_size), int(input_size))
    elif (
        isinstance(input_size, (tuple, list)) and len(input_size) == 2 and all(is_int(s) for s in input_size)
    ):
        size = tuple(int(s) for s in input_size)
    else:
        raise ValueError(f"input_size must be an int or a (height, width) pair of ints, got {input_size!r}.")
    if min(size) < min_size:
        raise ValueError(f"input_size must be at least {min_size} pixels, got {input_size!r}.")
    return size
