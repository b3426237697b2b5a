"""Write a fitted estimator's backbone as a weights file that ``weights=`` accepts again."""

import os

from .._utils.compat import import_keras

keras = import_keras()

__all__ = ["export_backbone"]


def _backbone_layers(layers, found, inside=False):
    """Weighted layers of the backbone parts nested in a network, by name: those of its
    sub-models and wrapped models (``InferenceMode``), not the head's."""
    for layer in layers:
        inner = layer if isinstance(layer, keras.Model) else getattr(layer, "model", None)
        if isinstance(inner, keras.Model):
            _backbone_layers(inner.layers, found, inside=True)
        elif inside and layer.weights:
            found.setdefault(layer.name, layer)
    return found


def export_backbone(estimator, path):
    """Write the (fine-tuned) backbone of a fitted estimator as a Keras weights file.

    The file holds the whole backbone, its frozen and its trained layers, and
    is accepted again as ``weights=`` of the same backbone (and input size), so
    fine-tuned weights become one more variant to compare or to start from.

    Parameters
    ----------
    estimator : FineTunedClassifier or PretrainedEmbedder
        Fitted (also one loaded with :func:`sktransfer.load`).
    path : str or os.PathLike
        Where to write; must end in ``.weights.h5`` (Keras' weights format).

    Returns
    -------
    path : str

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.weights.h5``, the estimator is not
        fitted, or its network does not hold every weighted layer of the
        backbone.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sktransfer import PretrainedEmbedder
    >>> from sktransfer.backbones import export_backbone
    >>> X = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    >>> emb = PretrainedEmbedder("mobilenet_0.25", weights=None, input_size=32).fit(X)
    >>> path = export_backbone(emb, os.path.join(tempfile.mkdtemp(), "b.weights.h5"))
    >>> again = PretrainedEmbedder("mobilenet_0.25", weights=path, input_size=32).fit(X)
    >>> bool(np.allclose(emb.transform(X), again.transform(X), atol=1e-5))
    True
    """
    from ._registry import build_backbone

    path = os.fspath(path)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"path must end in '.weights.h5' (Keras' weights format), got {path!r}.")
    info = getattr(estimator, "backbone_info_", None)
    model = getattr(estimator, "model_", None)
    if info is None or model is None:
        raise ValueError(f"{type(estimator).__name__} is not fitted: call fit (or load) first.")
    backbone, spec = build_backbone(info["backbone"], None, tuple(info["input_size"]))
    found = _backbone_layers(model.layers, {})
    missing = [layer.name for layer in backbone.layers if layer.weights and layer.name not in found]
    if missing:
        raise ValueError(
            f"The network of this {type(estimator).__name__} lacks backbone layers "
            f"{missing[:5]} of {spec.name!r}; it cannot be exported."
        )
    for layer in backbone.layers:
        if layer.weights:
            layer.set_weights(found[layer.name].get_weights())
    backbone.save_weights(path)
    return path
