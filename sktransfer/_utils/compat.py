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
    "release_train_graphs",
    "safe_mode_scope",
    "set_random_seed",
    "share_gpus",
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
    # Before TensorFlow initialises a GPU (see share_gpus); a value the user set is kept.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    import keras
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    share_gpus(tf)
    return keras


def share_gpus(tf):
    """Let several processes and estimators share each GPU: memory growth on.

    By default TensorFlow reserves nearly all of a GPU's memory for the first
    process that uses it, so a second estimator in another process (dask or
    joblib workers, a notebook next to a script) fails to allocate any. With
    memory growth it takes what it uses. Set on every GPU before TensorFlow
    initialises them (``TF_FORCE_GPU_ALLOW_GROWTH``, set by
    :func:`import_keras`, does the same for GPUs initialised by other code);
    a GPU initialised earlier keeps its setting, and so does a user's
    ``TF_FORCE_GPU_ALLOW_GROWTH=false``. Idempotent; nothing on a machine
    without a GPU.
    """
    if os.environ.get("TF_FORCE_GPU_ALLOW_GROWTH", "").lower() == "false":
        return
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # initialised already: TensorFlow's setting stands
            pass


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


_ARRAY_COPY_WARNING = r"__array__ implementation doesn't accept a copy keyword"


def save_keras_model(model, path):
    """``model.save(path)`` without NumPy 2's warning about Keras variables.

    Keras 3's ``Variable.__array__`` takes no ``copy`` argument, so each
    variable Keras converts with ``np.array`` while saving makes NumPy 2 warn
    (``DeprecationWarning: __array__ implementation doesn't accept a copy
    keyword``): hundreds of warnings per model, from every pickle or save.
    Only that message is silenced, and only during the save.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_ARRAY_COPY_WARNING, category=DeprecationWarning)
        model.save(path)


def set_random_seed(seed, tensorflow=True):
    """``keras.utils.set_random_seed(seed)``; without TensorFlow's global seed unless ``tensorflow``.

    Setting TensorFlow's seed (``tf.random.set_seed``) also clears its kernel
    cache, so every function TensorFlow has traced (an in-graph training loop,
    the shared prediction functions, the frozen passes) is instantiated and
    optimised again on its next call: a fixed cost on every fit of a grid
    search (``benchmarks/head_fit.py`` and its page). Only Keras' ``fit``
    draws from that seed (its ``tf.data`` shuffling); Keras' layers and
    initializers draw theirs from Python's ``random`` and Keras' own seed, set
    here as Keras sets them.
    """
    import random

    import keras
    import numpy as np

    if tensorflow:
        keras.utils.set_random_seed(seed)
        return
    try:  # private, stable since Keras 3.0; what keras.utils.set_random_seed sets besides the backend's
        from keras.src.backend.common import global_state
        from keras.src.random.seed_generator import GLOBAL_SEED_GENERATOR
        from keras.src.utils.rng_utils import GLOBAL_RANDOM_SEED
    except ImportError:  # pragma: no cover - a Keras that moved them
        keras.utils.set_random_seed(seed)
        return
    global_state.set_global_attribute(GLOBAL_RANDOM_SEED, seed)
    global_state.set_global_attribute(GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (what Keras seeds)


def release_train_graphs(model):
    """Context manager around ``model.fit`` that lets its training graph be freed.

    TensorFlow leaks every Keras training graph (tensorflow/tensorflow#97697,
    keras-team/keras#20245): the optimizer all-reduces the gradients through
    ``tf.custom_gradient``, which in graph mode registers a gradient function
    in TensorFlow's global gradient registry (``CustomGradient-<n>``) and never
    removes it; that closure holds tensors of the traced train step, so the
    whole graph, its functions and their kernels stay in memory after the
    model is gone (``benchmarks/memory.py`` measures it; the user guide's
    reliability page quotes the figures).
    ``keras.backend.clear_session()`` does not remove it.

    On exit this drops the entries registered during the fit whose graph read
    one of ``model``'s trainable variables, i.e. the ones built for this fit
    only: a registry entry is only used while a gradient is being built, which
    happens when the train step is traced, inside the fit; a later retrace
    registers its own. Entries of other fits (other threads) are left alone.
    A TensorFlow without the registry (or that no longer leaks) is left as it is.

    It also forgets ``model``'s compiled train / test functions (as Keras'
    own ``compile`` does; ``model.fit`` rebuilds them when called again): a
    fitted estimator whose whole model trained (``trainable_layers="all"``,
    augmentation) otherwise keeps its traced train step for as long as the
    estimator lives.
    """
    import contextlib

    @contextlib.contextmanager
    def scope():
        registry = _gradient_registry()
        before = set(registry) if registry is not None else None
        try:
            yield
        finally:
            _forget_functions(model)
            if before is not None:
                _drop_entries(model, registry, [k for k in list(registry) if k not in before])

    return scope()


def drop_train_graphs(model):
    """Free ``model``'s traced train / test steps now (see :func:`release_train_graphs`).

    For a trainer kept compiled across fits (:mod:`sktransfer._engine.trainers`)
    once it is no longer wanted: forgets its compiled functions and drops every
    gradient-registry entry whose graph read one of its trainable variables.
    """
    _forget_functions(model)
    registry = _gradient_registry()
    if registry is not None:
        _drop_entries(model, registry, list(registry))


def _gradient_registry():
    try:
        from tensorflow.python.framework import ops as tf_ops

        registry = tf_ops._gradient_registry._registry  # private, stable since TF 1.x
    except (ImportError, AttributeError):  # pragma: no cover - a TF that moved it
        return None
    return registry if isinstance(registry, dict) else None


def _forget_functions(model):
    for name in ("train_function", "test_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)


def _drop_entries(model, registry, names):
    """Remove the ``CustomGradient-*`` entries among ``names`` whose graph read ``model``'s variables."""
    ours = set()
    for variable in model.trainable_variables:
        value = getattr(variable, "value", variable)  # the tf.Variable
        # under a tf.distribute strategy, also its per-device copies
        copies = getattr(value, "values", ())
        copies = copies if isinstance(copies, (tuple, list)) else ()
        ours.update(id(v) for v in (variable, value, *copies))
    for name in names:
        if name.startswith("CustomGradient-") and _graph_reads(
            _custom_gradient_graph(registry.get(name)), ours
        ):
            registry.pop(name, None)


def _custom_gradient_graph(entry):
    """The graph a ``tf.custom_gradient`` registry entry was built in (or None)."""
    func = entry.get("type") if isinstance(entry, dict) else None
    for _ in range(4):  # internal_grad_fn -> tape_grad_fn -> captured tensors
        if func is None or not getattr(func, "__closure__", None):
            return None
        inner = None
        for cell in func.__closure__:
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if callable(value) and inner is None:
                inner = value
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            for item in values:
                try:
                    graph = getattr(item, "graph", None)
                except Exception:  # e.g. .graph of an eager tensor or variable
                    graph = None
                if graph is not None and _has_variables(graph):
                    return graph
        func = inner
    return None


def _has_variables(graph):
    # hasattr() is not enough: a FuncGraph whose variables were deleted raises
    # AssertionError from its ``variables`` property.
    try:
        _ = graph.variables
    except Exception:
        return False
    return True


def _graph_reads(graph, variable_ids):
    """Whether ``graph`` (or a graph it is nested in) read one of the variables."""
    while graph is not None:
        try:
            if any(id(v) in variable_ids for v in graph.variables):
                return True
        except Exception:  # pragma: no cover - not a FuncGraph after all
            return False
        graph = getattr(graph, "outer_graph", None)
    return False
