"""Process-wide training options: reuse of compiled trainers and XLA.

Like :func:`sklearn.set_config`, these are performance knobs that do not
change what an estimator learns beyond float32 round-off, so they are global
settings rather than estimator parameters (a grid search should not search
over them, and saved models do not depend on them).

``reuse_trainers`` (default True)
    Fits whose trainable part has the same architecture and optimizer (the
    candidates and CV folds of a grid search) train on one compiled Keras
    model, reloaded with each fit's fresh weights and optimizer state,
    instead of tracing a new training graph every fit. See
    :mod:`sktransfer._trainers`.
``xla`` ({"auto", True, False}, default "auto")
    Compile the training step of the layers above the cut with XLA
    (``jit_compile``). ``"auto"``: on CPU-only machines, when backbone
    layers train (measured on 2 CPU cores: the backward pass of ResNet50V2's
    conv5 blocks runs about 3x faster under XLA; every new batch shape costs
    one compilation, which reused trainers pay once); off on GPUs, where
    Keras' own default applies. The environment variable
    ``SKTRANSFER_XLA`` (``0``/``1``/``auto``) sets the default, e.g. for
    worker processes.

Examples
--------
>>> import sktransfer
>>> with sktransfer.config_context(xla=False):
...     sktransfer.get_config()["xla"]
False
"""

import contextlib
import os
import threading

__all__ = ["config_context", "get_config", "set_config"]

_LOCK = threading.Lock()


def _xla_from_environment():
    value = os.environ.get("SKTRANSFER_XLA", "auto").strip().lower()
    return {"1": True, "true": True, "0": False, "false": False}.get(value, "auto")


_CONFIG = {"reuse_trainers": True, "xla": _xla_from_environment()}


def get_config():
    """The current training options, as a new dict.

    Returns
    -------
    config : dict
        ``{"reuse_trainers": bool, "xla": "auto" | bool}``.
    """
    with _LOCK:
        return dict(_CONFIG)


def set_config(*, reuse_trainers=None, xla=None):
    """Set process-wide training options (``None`` leaves one as it is).

    Parameters
    ----------
    reuse_trainers : bool, default=None
        Train fits of the same architecture on one compiled model.
    xla : {"auto", True, False}, default=None
        XLA-compile the training step of the layers above the cut.
    """
    with _LOCK:
        if reuse_trainers is not None:
            if not isinstance(reuse_trainers, bool):
                raise TypeError(f"reuse_trainers must be True or False, got {reuse_trainers!r}.")
            _CONFIG["reuse_trainers"] = reuse_trainers
        if xla is not None:
            if xla not in ("auto", True, False) or (xla != "auto" and not isinstance(xla, bool)):
                raise ValueError(f"xla must be 'auto', True or False, got {xla!r}.")
            _CONFIG["xla"] = xla


@contextlib.contextmanager
def config_context(**options):
    """Set training options inside a ``with`` block, then restore them.

    Parameters
    ----------
    **options
        As for :func:`set_config`.
    """
    old = get_config()
    set_config(**options)
    try:
        yield
    finally:
        set_config(**old)
