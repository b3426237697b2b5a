"""The package's namespace: every public module and name reachable from ``sktransfer``."""

import pkgutil
import subprocess
import sys

import sktransfer


def test_every_public_module_is_an_attribute():
    """``sktransfer.optimizers`` (which README and docstrings point to) raised
    AttributeError until something else had imported it: only the modules in
    ``__all__`` load on attribute access."""
    public = {m.name for m in pkgutil.iter_modules(sktransfer.__path__) if not m.name.startswith("_")}
    assert public <= set(sktransfer.__all__)
    for name in sktransfer.__all__:
        assert getattr(sktransfer, name) is not None


def test_import_is_light():
    """``import sktransfer`` (and so ``sktransfer --help``) does not import TensorFlow."""
    code = "import sys, sktransfer; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
