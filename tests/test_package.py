"""The package's namespace: every public module and name reachable from ``sktransfer``."""

import os
import pkgutil
import subprocess
import sys

import sktransfer


def test_every_public_module_is_an_attribute():
    """``sktransfer.optimizers`` (which README and docstrings pointed to) raised
    AttributeError until something else had imported it: only the modules in
    ``__all__`` loaded on attribute access. The moved modules of 0.1.0 are not in
    ``__all__`` (they warn), but stay reachable as attributes."""
    public = {m.name for m in pkgutil.iter_modules(sktransfer.__path__) if not m.name.startswith("_")}
    deprecated = set(sktransfer._DEPRECATED_MODULES)
    assert public - deprecated <= set(sktransfer.__all__)
    assert not deprecated & set(sktransfer.__all__)
    for name in sktransfer.__all__:
        assert getattr(sktransfer, name) is not None


def test_import_is_light():
    """``import sktransfer`` (and so ``sktransfer --help``) does not import TensorFlow."""
    code = "import sys, sktransfer; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# The modules of 0.1.0 that moved, and a name each must still give.
MOVED = {
    "finetune": ("FineTunedClassifier", "estimators"),
    "embedding": ("PretrainedEmbedder", "estimators"),
    "scratch": ("SimpleCNNClassifier", "estimators"),
    "augment": ("Augmentation", "estimators"),
    "optimizers": ("make_optimizer", "estimators"),
    "imagenet": ("PretrainedImageNetClassifier", "estimators"),
    "efficientnet_lite": ("EfficientNetLite0", "backbones.efficientnet_lite"),
}


def test_moved_modules_warn_and_give_the_same_objects():
    """Each shim warns FutureWarning when imported (in a fresh process: a module
    warns once, when first imported) and gives the very objects of the new home."""
    code = """
import importlib, json, sys, warnings
for name, (attr, new) in json.loads(sys.argv[1]).items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("sktransfer." + name)
    future = [w for w in caught if issubclass(w.category, FutureWarning)]
    assert len(future) == 1 and "sktransfer." + name in str(future[0].message), (name, caught)
    assert getattr(old, attr) is getattr(importlib.import_module("sktransfer." + new), attr)
    for public in old.__all__:
        assert getattr(old, public) is not None
print("ok")
"""
    import json

    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(MOVED)],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
    assert set(MOVED) == set(sktransfer._DEPRECATED_MODULES)


def test_new_modules_do_not_warn():
    """Importing every public name and module of today's layout warns nothing."""
    code = """
import warnings
warnings.simplefilter("error", FutureWarning)
import sktransfer
for name in sktransfer.__all__:
    getattr(sktransfer, name)
from sktransfer.backbones import efficientnet_lite  # noqa: F401
print("ok")
"""
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_cli_entry_point_is_kept():
    """The console script named in pyproject.toml still resolves to the CLI's main."""
    import importlib
    import pathlib

    import tomllib

    pyproject = pathlib.Path(__file__).parent.parent / "pyproject.toml"
    target = tomllib.loads(pyproject.read_text())["project"]["scripts"]["sktransfer"]
    assert target == "sktransfer.cli:main"
    module, _, attr = target.partition(":")
    from sktransfer.cli._main import main

    assert getattr(importlib.import_module(module), attr) is main
