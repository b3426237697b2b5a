"""The backbone parameters that FineTunedClassifier and PretrainedEmbedder share.

Their checks (:class:`BackboneParamsMixin`'s ``_parameter_constraints``, merged into
each estimator's as scikit-learn's estimators merge their base class') and their
documentation (:func:`fill_parameter_docs`) are written here once. Each estimator's
``__init__`` still lists every parameter, as scikit-learn's ``get_params`` requires.
"""

import os
import textwrap
from numbers import Integral

from .._utils.compat import HasMethods, Interval, StrOptions
from ..backbones import get_backbone_spec, normalize_size

__all__ = ["BackboneParamsMixin", "fill_parameter_docs"]


class BackboneParamsMixin:
    """Checks of the shared parameters, and the input size they resolve to."""

    _parameter_constraints = {
        "backbone": [str, os.PathLike],
        "weights": [StrOptions({"imagenet"}), str, os.PathLike, None],
        "pooling": [StrOptions({"avg", "max"})],
        "input_size": [Interval(Integral, 1, None, closed="left"), tuple, list, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "on_error": [StrOptions({"raise", "skip"})],
        "tta": ["boolean"],
        "cache": ["boolean", str, os.PathLike, HasMethods(["get_many", "put_many"])],
        "verbose": ["verbose"],
    }

    def _input_size(self):
        """``input_size`` as ``(height, width)``, the backbone's default for None."""
        spec = get_backbone_spec(self.backbone)
        return normalize_size(self.input_size, spec.default_size, spec.min_size)


# numpydoc "Parameters" entries, unindented. on_error, tta and verbose are checked
# alike but documented by each estimator: what they do differs (a classifier trains).
_PARAMETER_DOCS = {
    "backbone": """\
        backbone : str or path, default="resnet50v2"
            A name from :func:`sktransfer.backbones.available_backbones` or, with
            keras-hub installed, a keras-hub preset name, ``"hf://timm/<arch>.<tag>"``,
            ``"kaggle://..."`` or a local preset folder (see :doc:`/guide/backbones`);
            ``"efficientnet_lite0"`` has ImageNet weights that work offline.""",
    "weights": """\
        weights : "imagenet", str or None, default="imagenet"
            ``"imagenet"`` (Keras' download and cache; for a keras-hub handle, the
            preset's own weights), a local weights file, or ``None`` for random
            initialisation.""",
    "pooling": """\
        pooling : {"avg", "max"}, default="avg"
            Global pooling of the backbone's last feature map.""",
    "input_size": """\
        input_size : int, (int, int) or None, default=None
            Images are resized to this; ``None`` means the backbone's default (224).""",
    "batch_size": """\
        batch_size : int, default=32
            Images per batch, in training and in the forward passes.""",
    "n_jobs": """\
        n_jobs : int or None, default=None
            Threads that decode image files.""",
    "cache": """\
        cache : bool, str or ActivationCache, default=True
            Where the frozen part's outputs are kept, so that each image's frozen
            work is computed once, across epochs, CV folds, grid candidates and
            clones: ``True`` the process-wide cache, a folder path a cache persisted
            there (shared by worker processes), ``False`` none (then once per fit).
            See :doc:`/guide/frozen_work`.""",
}


def fill_parameter_docs(cls):
    """Class decorator: replace each docstring line ``%(name)s`` by the entry of ``name``.

    The entry is indented as the placeholder is, so that numpydoc reads it as
    part of the "Parameters" section. Without docstrings (``python -OO``), a no-op.
    """
    if cls.__doc__ is None:
        return cls
    lines = []
    for line in cls.__doc__.splitlines():
        stripped = line.strip()
        if stripped.startswith("%(") and stripped.endswith(")s"):
            entry = textwrap.dedent(_PARAMETER_DOCS[stripped[2:-2]])
            lines.append(textwrap.indent(entry, line[: len(line) - len(line.lstrip())]))
        else:
            lines.append(line)
    cls.__doc__ = "\n".join(lines)
    return cls
