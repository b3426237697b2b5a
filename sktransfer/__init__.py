"""sktransfer: transfer learning from ImageNet CNNs as scikit-learn estimators.

The estimators import TensorFlow, which takes several seconds; they are loaded
on first use so that ``import sktransfer`` (and the command line's ``--help``)
stays fast.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Augmentation": "augment",
    "FineTunedClassifier": "finetune",
    "PretrainedEmbedder": "embedding",
    "PretrainedImageNetClassifier": "imagenet",
    "SimpleCNNClassifier": "scratch",
    "load_image_folder": "datasets",
    "load_sample": "datasets",
    "load_images": "images",
    "PerClassSplit": "model_selection",
    "FirstNPerClassSplit": "model_selection",
    "per_class_split": "model_selection",
    "available_backbones": "backbones",
    "ActivationCache": "_cache",
    "clear_cache": "_cache",
    "get_cache": "_cache",
    "set_cache": "_cache",
    "config_context": "_config",
    "get_config": "_config",
    "set_config": "_config",
    "make_tuner": "tuning",
    "tune": "tuning",
    "save": "persistence",
    "load": "persistence",
}
# Every public module, loaded on first attribute access (``sktransfer.optimizers``).
_SUBMODULES = (
    "augment",
    "backbones",
    "cli",
    "compare",
    "datasets",
    "efficientnet_lite",
    "embedding",
    "finetune",
    "imagenet",
    "images",
    "metrics",
    "model_selection",
    "optimizers",
    "persistence",
    "plot",
    "report",
    "scratch",
    "tuning",
)

__all__ = sorted(_LAZY) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sktransfer' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
