"""Process-wide options: reuse of compiled trainers, XLA, inference batches, determinism, precision.

Like :func:`sklearn.set_config`, these are performance knobs that do not
change what an estimator learns beyond float32 round-off, so they are global
settings rather than estimator parameters (a grid search should not search
over them, and saved models do not depend on them).

``reuse_trainers`` (default True)
    Fits whose trainable part has the same architecture and optimizer (the
    candidates and CV folds of a grid search) train on one compiled Keras
    model, reloaded with each fit's fresh weights and optimizer state,
    instead of tracing a new training graph every fit. See
    :doc:`/guide/frozen_work`.
``xla`` ({"auto", True, False}, default "auto")
    Compile the training step of the layers above the cut with XLA
    (``jit_compile``). ``"auto"``: on CPU-only machines, when backbone
    layers train, where XLA's backward pass beats TensorFlow's CPU kernels
    (every new batch shape costs one compilation, which reused trainers pay
    once); off on GPUs, where Keras' own default applies. The environment variable
    ``SKTRANSFER_XLA`` (``0``/``1``/``auto``) sets the default, e.g. for
    worker processes.
``inference_batch_size`` ("auto" or a positive int, default "auto")
    Images per forward pass of the frozen layers and of predictions (a
    fine-tuner's ``batch_size`` is its training batch). ``"auto"``: the
    estimator's ``batch_size``, on CPU-only machines at most 8 images of 160
    px or more, where smaller batches run faster, and proportionally more of
    smaller inputs (12 images of 128 px, 22 of 96 px, 50 of 64 px), whose
    batches cost more than they save when small (the measurements:
    :doc:`/benchmarks/generated/inference_batches`). With a GPU: as many
    images as 64 of 224 px hold numbers (256 of 112 px, 16 of 448 px), at most
    256 and never fewer than the estimator's ``batch_size``: inference keeps no
    activations for a backward pass, and a GPU runs a large batch in about the
    time of a small one (a batch size of 1, as in ``deterministic`` passes,
    stays 1). An int: at most that many on any machine. Outputs agree with any
    other batch size to float32 round-off;
    ``deterministic`` passes run one image at a time whatever this says.
``release_networks`` (default True)
    When the last reference to a fitted estimator goes, free its network at
    once instead of at Python's next full garbage collection: Keras layers
    sit in reference cycles, so a grid search's dropped candidates would
    otherwise hold their weights for several fits. It walks the network's
    objects to check that nothing else holds them (a fraction of a second
    per dropped estimator); ``False`` leaves them to the collector. The
    environment variable ``SKTRANSFER_RELEASE_NETWORKS`` (``0``/``1``) sets
    the default. See :doc:`/guide/reliability`.
``deterministic`` (default False)
    Compute the frozen activations of a pretrained backbone one image at a
    time, always through the compiled graph, so that they are bitwise the
    same whichever fit or prediction computed them: fits and predictions
    then never depend on what the activation cache held (nor on
    ``cache=False``). By default images run in batches, and a kernel's
    float32 rounding depends on the batch's shape and on an image's place in
    it; a cache warmed by other fits (the CV folds before a refit) therefore
    hands a fit slightly different numbers than a cold one, and a long
    training can grow them into another model. It costs a sixth to a half of
    the embedding throughput on CPU (:doc:`/benchmarks/generated/inference_batches`),
    far more on a GPU. The two modes' activations are cached apart.
    The environment variable ``SKTRANSFER_DETERMINISTIC=1`` sets the
    default. Like TensorFlow's ``enable_op_determinism`` (which GPUs also
    need), it trades speed for bitwise reproducibility, hence off by default.
``mixed_precision`` (False, True, "mixed_float16" or "mixed_bfloat16"; default False)
    Build the networks of later fits with Keras' mixed precision policy:
    float16 (``True``, ``"mixed_float16"``: for NVIDIA GPUs' tensor cores) or bfloat16
    (``"mixed_bfloat16"``: TPUs, recent CPUs) compute with float32 weights.
    As Keras recommends, the output layer (``"probabilities"``) stays float32
    and float16 training scales its loss (``LossScaleOptimizer``). Outputs
    differ from float32 ones by float16 round-off (tested: within 0.02 on
    the probabilities of a small fit); the activation cache, the shared backbones and the
    compiled trainers keep the precisions apart. A fitted model keeps the
    precision it was built with (saved models too). The environment variable
    ``SKTRANSFER_MIXED_PRECISION`` (``0``/``1``/a policy name) sets the
    default. On a CPU without bfloat16 or float16 units it is slower, not
    faster.

Examples
--------
>>> import sktransfer
>>> with sktransfer.config_context(xla=False):
...     sktransfer.get_config()["xla"]
False
"""

import contextlib
import functools
import os
import threading
from numbers import Integral

__all__ = ["config_context", "cpu_only", "get_config", "inference_batch", "precision_policy", "set_config"]

_LOCK = threading.Lock()


def _from_environment(name, default):
    """``True``/``False`` for a ``1``/``true``/``0``/``false`` variable, else ``default``."""
    value = os.environ.get(name, "").strip().lower()
    return {"1": True, "true": True, "0": False, "false": False}.get(value, default)


_POLICIES = ("mixed_float16", "mixed_bfloat16")


def _precision_from_environment():
    value = os.environ.get("SKTRANSFER_MIXED_PRECISION", "").strip().lower()
    return value if value in _POLICIES else _from_environment("SKTRANSFER_MIXED_PRECISION", False)


_CONFIG = {
    "reuse_trainers": True,
    "xla": _from_environment("SKTRANSFER_XLA", "auto"),
    "deterministic": _from_environment("SKTRANSFER_DETERMINISTIC", False),
    "inference_batch_size": "auto",
    "mixed_precision": _precision_from_environment(),
    "release_networks": _from_environment("SKTRANSFER_RELEASE_NETWORKS", True),
}

# Inference passes on CPU-only machines with inference_batch_size="auto": at most
# as many numbers per batch as 8 RGB images of 160 px hold, and never fewer than 8
# images. Small batches run faster on large inputs; on small inputs each batch's fixed
# cost dominates instead, so they run more images per batch, up to the estimator's
# batch size. The sweeps behind both figures: docs/benchmarks, "inference_batches".
_CPU_BATCH_NUMBERS = 8 * 160 * 160 * 3
_CPU_MIN_BATCH = 8
# With a GPU: as many numbers per batch as 64 RGB images of 224 px hold, at most 256
# images (benchmarks/gpu.sh measures it): the rule keeps a ResNet50's inference
# activations within a 16 GB GPU.
_GPU_BATCH_NUMBERS = 64 * 224 * 224 * 3
_GPU_MAX_BATCH = 256


@functools.cache
def cpu_only():
    """Whether TensorFlow sees no GPU (asked once per process)."""
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def inference_batch(batch_size, sample_size):
    """Inputs per inference pass for an estimator whose ``batch_size`` is ``batch_size``, each
    input holding ``sample_size`` numbers (height x width x channels of an image)."""
    setting = get_config()["inference_batch_size"]
    if setting != "auto":
        return min(batch_size, setting)
    if not cpu_only():
        if batch_size == 1:
            return 1
        return max(batch_size, min(_GPU_MAX_BATCH, _GPU_BATCH_NUMBERS // max(sample_size, 1)))
    return min(batch_size, max(_CPU_MIN_BATCH, _CPU_BATCH_NUMBERS // max(sample_size, 1)))


def get_config():
    """The current training options, as a new dict.

    Returns
    -------
    config : dict
        ``{"reuse_trainers": bool, "xla": "auto" | bool, "deterministic": bool,
        "inference_batch_size": "auto" | int, "mixed_precision": bool | str,
        "release_networks": bool}``.
    """
    with _LOCK:
        return dict(_CONFIG)


def precision_policy():
    """The Keras dtype policy the ``mixed_precision`` option asks for, by name."""
    setting = get_config()["mixed_precision"]
    if setting is True:
        return "mixed_float16"
    return setting or "float32"


def set_config(
    *,
    reuse_trainers=None,
    xla=None,
    deterministic=None,
    inference_batch_size=None,
    mixed_precision=None,
    release_networks=None,
):
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
    inference_batch_size : "auto" or int, default=None
        At most this many images per forward pass of the frozen layers and
        of predictions (``"auto"``: on CPU-only machines 8 images of 160 px
        or more, more of smaller ones; with a GPU 64 of 224 px, more of
        smaller ones, and never fewer than the estimator's ``batch_size``).
    mixed_precision : bool, "mixed_float16" or "mixed_bfloat16", default=None
        Build the networks of later fits in mixed precision (``True``:
        ``"mixed_float16"``, for GPUs).
    release_networks : bool, default=None
        Free a dropped estimator's network at once rather than at the next
        full garbage collection.
    """
    # Every value is checked before any is set: a bad one changes nothing.
    for name, value in (
        ("reuse_trainers", reuse_trainers),
        ("deterministic", deterministic),
        ("release_networks", release_networks),
    ):
        if value is not None and not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False, got {value!r}.")
    if xla is not None and (
        xla not in ("auto", True, False) or (xla != "auto" and not isinstance(xla, bool))
    ):
        raise ValueError(f"xla must be 'auto', True or False, got {xla!r}.")
    if (
        inference_batch_size is not None
        and inference_batch_size != "auto"
        and not (
            isinstance(inference_batch_size, Integral)
            and not isinstance(inference_batch_size, bool)
            and inference_batch_size >= 1
        )
    ):
        raise ValueError(
            f"inference_batch_size must be 'auto' or a positive int, got {inference_batch_size!r}."
        )
    if mixed_precision is not None and not (
        isinstance(mixed_precision, bool) or mixed_precision in _POLICIES
    ):
        raise ValueError(
            "mixed_precision must be True, False, 'mixed_float16' or 'mixed_bfloat16', "
            f"got {mixed_precision!r}."
        )
    new = {
        "mixed_precision": mixed_precision,
        "reuse_trainers": reuse_trainers,
        "xla": xla,
        "deterministic": deterministic,
        "inference_batch_size": inference_batch_size,
        "release_networks": release_networks,
    }
    with _LOCK:
        _CONFIG.update({name: value for name, value in new.items() if value is not None})


@contextlib.contextmanager
def config_context(**options):
    """Set training options inside a ``with`` block, then restore them.

    Parameters
    ----------
    **options
        As for :func:`set_config`.
    """
    old = get_config()
    set_config(**options)  # checks every value first: a bad one changes nothing
    try:
        yield
    finally:
        # Only the options this block set go back: the settings are process-wide,
        # and restoring all of them would also undo what another thread set
        # meanwhile, or bring back the value of a block another thread left.
        set_config(**{name: old[name] for name, value in options.items() if value is not None})
