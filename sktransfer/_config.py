"""Process-wide options: reuse of compiled trainers, XLA, bitwise determinism.

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
``deterministic`` (default False)
    Compute the frozen activations of a pretrained backbone one image at a
    time, always through the compiled graph, so that they are bitwise the
    same whichever fit or prediction computed them: fits and predictions
    then never depend on what the activation cache held (nor on
    ``cache=False``). By default images run in batches, and a kernel's
    float32 rounding depends on the batch's shape and on an image's place in
    it (measured: up to 2e-5 in EfficientNet-Lite0's activations); a
    cache warmed by other fits (the CV folds before a refit) therefore
    hands a fit slightly different numbers than a cold one, and a long
    training can grow them into another model (measured: 1.1 accuracy
    points on 375 test photos). Cost of ``PretrainedEmbedder`` at 224 px on
    2 CPU cores, against batches of 32 (``benchmarks/throughput.py``):
    none for ResNet50V2 (16.9 vs 15.9 images/s), 6 % for EfficientNet-Lite0
    (53.8 vs 57.5), 48 % for MobileNet alpha 0.25 (186 vs 362); far more on
    a GPU. The two modes' activations are cached apart.
    The environment variable ``SKTRANSFER_DETERMINISTIC=1`` sets the
    default. Like TensorFlow's ``enable_op_determinism`` (which GPUs also
    need), it trades speed for bitwise reproducibility, hence off by default.

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


def _from_environment(name, default):
    """``True``/``False`` for a ``1``/``true``/``0``/``false`` variable, else ``default``."""
    value = os.environ.get(name, "").strip().lower()
    return {"1": True, "true": True, "0": False, "false": False}.get(value, default)


_CONFIG = {
    "reuse_trainers": True,
    "xla": _from_environment("SKTRANSFER_XLA", "auto"),
    "deterministic": _from_environment("SKTRANSFER_DETERMINISTIC", False),
}


def get_config():
    """The current training options, as a new dict.

    Returns
    -------
    config : dict
        ``{"reuse_trainers": bool, "xla": "auto" | bool, "deterministic": bool}``.
    """
    with _LOCK:
        return dict(_CONFIG)


def set_config(*, reuse_trainers=None, xla=None, deterministic=None):
    """Set process-wide training options (``None`` leaves one as it is).

    Parameters
    ----------
    reuse_trainers : bool, default=None
        Train fits of the same architecture on one compiled model.
    xla : {"auto", True, False}, default=None
        XLA-compile the training step of the layers above the cut.
    deterministic : bool, default=None
        Compute pretrained frozen activations one image at a time, so that
        results never depend on what the activation cache held.
    """
    with _LOCK:
        for name, value in (("reuse_trainers", reuse_trainers), ("deterministic", deterministic)):
            if value is not None and not isinstance(value, bool):
                raise TypeError(f"{name} must be True or False, got {value!r}.")
        if reuse_trainers is not None:
            _CONFIG["reuse_trainers"] = reuse_trainers
        if deterministic is not None:
            _CONFIG["deterministic"] = deterministic
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
