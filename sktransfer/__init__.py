"""sktransfer: transfer learning from ImageNet CNNs as scikit-learn estimators.

The estimators import TensorFlow, which takes several seconds; they are loaded
on first use so that ``import sktransfer`` (and the command line's ``--help``)
stays fast.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Augmentation": "estimators",
    "FineTunedClassifier": "estimators",
    "PretrainedEmbedder": "estimators",
    "PretrainedImageNetClassifier": "estimators",
    "SimpleCNNClassifier": "estimators",
    "load_image_folder": "datasets",
    "load_sample": "datasets",
    "load_images": "images",
    "PerClassSplit": "model_selection",
    "FirstNPerClassSplit": "model_selection",
    "per_class_split": "model_selection",
    "available_backbones": "backbones",
    "ActivationCache": "_engine.cache",
    "clear_cache": "_engine.cache",
    "get_cache": "_engine.cache",
    "set_cache": "_engine.cache",
    "clear_templates": "_engine.templates",
    "config_context": "_config",
    "get_config": "_config",
    "set_config": "_config",
    "make_tuner": "tuning",
    "tune": "tuning",
    "save": "persistence",
    "load": "persistence",
}
# Every public module, loaded on first attribute access (``sktransfer.metrics``).
_SUBMODULES = (
    "backbones",
    "cli",
    "compare",
    "datasets",
    "estimators",
    "exceptions",
    "images",
    "metrics",
    "model_selection",
    "persistence",
    "plot",
    "report",
    "tuning",
)
# Modules of sktransfer 0.1.0 that moved, each a shim file that warns FutureWarning when
# imported and gives the names of their new homes (pickles of 0.1.0 name these modules).
_DEPRECATED_MODULES = (
    "augment",
    "efficientnet_lite",
    "embedding",
    "finetune",
    "imagenet",
    "optimizers",
    "scratch",
)

__all__ = sorted(_LAZY) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES or name in _DEPRECATED_MODULES:
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
