"""The only place that knows scikit-learn and Keras version differences.

Everything private that sktransfer borrows from scikit-learn (parameter
validation helpers) or that differs between Keras releases is imported here,
so that a future release that moves it needs one fix in one file, the way
imbalanced-learn's ``sklearn_compat`` does it.
"""

import os

import sklearn
from sklearn.utils._param_validation import (  # private, but stable since 1.2
    HasMethods,
    Interval,
    StrOptions,
)
from sklearn.utils.validation import check_is_fitted

__all__ = [
    "HasMethods",
    "Interval",
    "StrOptions",
    "check_is_fitted",
    "fit_context",
    "import_keras",
    "quiet_tensorflow",
    "safe_mode_scope",
    "sklearn_version",
]

sklearn_version = tuple(int(p) for p in sklearn.__version__.split(".")[:2] if p.isdigit())

if sklearn_version < (1, 7):  # 1.6.x is excluded by pyproject; older lack the tags API
    raise ImportError(
        f"sktransfer needs scikit-learn >= 1.7 (found {sklearn.__version__}); "
        "upgrade with `pip install -U scikit-learn`."
    )

from sklearn.base import _fit_context as fit_context  # noqa: E402  (private since 1.3)


def quiet_tensorflow():
    """Silence TensorFlow's C++ start-up log unless the user asked for it.

    Must run before TensorFlow is imported; a value the user set is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_keras():
    """Import Keras (TensorFlow backend) quietly and return the module.

    TensorFlow's Python logger warns about tf.function retracing every time a
    new model predicts, which is expected here (every fit builds a model), so
    only its errors are shown.
    """
    quiet_tensorflow()
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return keras


def safe_mode_scope():
    """Force Keras' safe mode for one load.

    ``keras.config.enable_unsafe_deserialization()`` sets a process-wide flag
    that overrides ``load_model(safe_mode=True)`` (Keras 3.15); Keras' own
    (private) scope puts safe mode back for the duration of a load.
    """
    import contextlib

    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover - a Keras that moved it
        return contextlib.nullcontext()
    return SafeModeScope(True)
