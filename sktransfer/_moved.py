"""The modules of sktransfer 0.1.0 that moved, still importable (with a FutureWarning).

``import sktransfer.finetune`` (and pickles written by 0.1.0, which name such
modules) keep working: a finder on ``sys.meta_path`` answers for the old names
and builds each module from the names of its new home, warning ``FutureWarning``
once, when it is first imported. No file stays at the old path, so the moved
files keep their history.
"""

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__all__ = ["MOVED", "install"]

#: Old module (under ``sktransfer.``) -> [(new module, names it gives)], ``None``: its ``__all__``.
MOVED = {
    "augment": [("sktransfer.estimators", ["Augmentation"])],
    "efficientnet_lite": [("sktransfer.backbones.efficientnet_lite", None)],
    "embedding": [("sktransfer.estimators", ["PretrainedEmbedder"])],
    "finetune": [("sktransfer.estimators", ["FineTunedClassifier"])],
    "imagenet": [("sktransfer.estimators", ["PretrainedImageNetClassifier", "imagenet_class_names"])],
    "optimizers": [
        ("sktransfer.estimators", ["OPTIMIZERS", "make_optimizer"]),
        ("sktransfer._engine.two_rate", ["BackboneRateFollowsHead", "TwoRateTrainer"]),
    ],
    "scratch": [("sktransfer.estimators", ["SimpleCNNClassifier"])],
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        package, _, name = fullname.partition(".")
        if package == "sktransfer" and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module):
        name = module.__name__.partition(".")[2]
        homes = MOVED[name]
        warnings.warn(
            f"sktransfer.{name} is deprecated and will be removed; import from "
            f"{homes[0][0].replace('._engine.two_rate', '')} (or sktransfer) instead.",
            FutureWarning,
            stacklevel=2,
        )
        names = []
        for home, wanted in homes:
            new = importlib.import_module(home)
            wanted = list(new.__all__) if wanted is None else wanted
            module.__dict__.update({n: getattr(new, n) for n in wanted})
            names += wanted
        module.__all__ = sorted(names)
        module.__doc__ = f"Deprecated: moved to {homes[0][0]}."


def install():
    """Put the finder on ``sys.meta_path`` (once), first: it answers only for the old
    names, and a finder of an editable install of an older sktransfer must not."""
    if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())
