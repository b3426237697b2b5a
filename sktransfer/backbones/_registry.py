"""The names ``backbone=`` accepts: the registry first, keras-hub for anything else."""

import difflib
import os

from ._keras_applications import KERAS_APPLICATIONS_SPECS, build_application
from ._spec import normalize_size

__all__ = ["BACKBONES", "available_backbones", "build_backbone", "get_backbone_spec"]

BACKBONES = dict(KERAS_APPLICATIONS_SPECS)


def available_backbones(details=False):
    """Names of the registered backbones, sorted; with ``details``, what each one is.

    Parameters
    ----------
    details : bool, default=False
        Return one dict per backbone instead of its name: ``name``, ``source``,
        ``default_size``, ``params`` (without the classification top),
        ``feature_dim``, ``blocks`` (the names ``trainable_layers`` accepts)
        and ``normalises_inside``. With keras-hub installed, its image
        presets follow (``source="keras-hub"``; their size, feature dimension
        and blocks are known once loaded: see :func:`get_backbone_spec`), and
        the known timm weight tags (``hf://timm/<arch>.<tag>``) after them.

    Returns
    -------
    names : list of str, or list of dict

    Examples
    --------
    >>> from sktransfer.backbones import available_backbones
    >>> "resnet50v2" in available_backbones()
    True
    >>> row = available_backbones(details=True)[0]
    >>> sorted(row)
    ['blocks', 'default_size', 'feature_dim', 'name', 'normalises_inside', 'params', 'source']
    """
    if not details:
        return sorted(BACKBONES)
    rows = [_row(BACKBONES[name]) for name in sorted(BACKBONES)]
    from ._keras_hub import hub_catalogue

    return rows + hub_catalogue()


def _row(spec):
    return {
        "name": spec.name,
        "source": spec.source,
        "default_size": spec.default_size,
        "params": spec.params,
        "feature_dim": spec.feature_dim,
        "blocks": list(spec.blocks),
        "normalises_inside": spec.normalises_inside,
    }


def get_backbone_spec(name):
    """Return the :class:`BackboneSpec` of ``name``.

    A registered name (case-insensitive) wins; anything else that keras-hub
    can load (a preset name, ``hf://...``, ``kaggle://...``, a local preset
    folder in keras-hub's or timm's format) is resolved through keras-hub
    (see :doc:`/guide/backbones`).

    Raises
    ------
    ValueError
        If ``name`` is neither; the message lists the closest valid names.
    WeightsUnavailableError
        If a keras-hub handle must be downloaded and cannot be.
    """
    if isinstance(name, str) and name.lower() in BACKBONES:
        return BACKBONES[name.lower()]
    from ._keras_hub import hub_spec, is_hub_handle

    if isinstance(name, (str, os.PathLike)) and is_hub_handle(name):
        return hub_spec(name)
    raise ValueError(_unknown_message(name))


def _match_key(candidate):
    """``hf://timm/resnet18.a1_in1k`` and ``resnet_18_imagenet`` both -> ``resnet18``."""
    base = candidate.split("://")[-1].split("/")[-1].split(".")[0].lower()
    return base.replace("_imagenet", "").replace("_", "")


def _closest(name, candidates, n=6, cutoff=0.75):
    query = _match_key(str(name))
    scored = [
        (difflib.SequenceMatcher(None, query, _match_key(c)).ratio(), i, c) for i, c in enumerate(candidates)
    ]
    return [c for ratio, _, c in sorted(scored, key=lambda t: (-t[0], t[1])) if ratio >= cutoff][:n]


def _unknown_message(name):
    from ._keras_hub import INSTALL, hub_installed, hub_names

    close = _closest(name, available_backbones() + hub_names())
    hint = f" Closest: {', '.join(close)}." if close else ""
    if not hub_installed():  # its preset names are unknown until it is installed
        hint += f" keras-hub is not installed: {INSTALL}."
    return (
        f"Unknown backbone {name!r}.{hint} Registered names: "
        f"{', '.join(available_backbones())}; or a keras-hub preset name, "
        "'hf://timm/<architecture>.<tag>', 'kaggle://...' or a local preset folder "
        "(see sktransfer.backbones.available_backbones(details=True) or "
        "`sktransfer backbones`)."
    )


def build_backbone(name="resnet50v2", weights="imagenet", input_size=None):
    """Build a backbone without its classification top.

    Parameters
    ----------
    name : str or path, default="resnet50v2"
        A registered name (see :func:`available_backbones`) or a keras-hub
        handle (see :func:`get_backbone_spec`).
    weights : "imagenet", str, path or None, default="imagenet"
        ``"imagenet"``: the pretrained weights (Keras' download and cache;
        for a keras-hub handle, the preset's own weights); a path loads a
        local weights file (e.g. one written by
        :func:`sktransfer.backbones.export_backbone`); ``None`` initialises
        randomly.
    input_size : int or (int, int), default=None
        Input height and width; ``None`` means the backbone's default.

    Returns
    -------
    model : keras.Model
        Functional model mapping *preprocessed* images to the last feature map.
    spec : BackboneSpec

    Raises
    ------
    WeightsUnavailableError
        If pretrained weights must be downloaded and the download fails.

    Examples
    --------
    >>> from sktransfer.backbones import build_backbone
    >>> model, spec = build_backbone("mobilenet_0.25", weights=None, input_size=32)
    >>> model.output.shape[-1] == spec.feature_dim
    True
    """
    spec = get_backbone_spec(name)
    height, width = normalize_size(input_size, spec.default_size, spec.min_size)
    if spec.source == "keras-hub":
        from ._keras_hub import build_hub_backbone

        return build_hub_backbone(spec, weights, height, width), spec
    return build_application(spec, weights, height, width), spec
