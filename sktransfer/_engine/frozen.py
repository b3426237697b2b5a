"""Frozen activations through the cache: compute each image's frozen part once.

A fitted network is described by the names recorded in its ``backbone_info_``
(a :class:`~sktransfer._engine.backbone_info.BackboneInfo`): ``cut_layer``, the layer of ``model_`` whose
output is the cut ("pool" for head-only training, "backbone_frozen" when some
backbone layers train), and ``anchor``, a lower cut point inside the frozen
backbone. :func:`frozen_stages` rebuilds the stages from ``model_`` alone, so
they work the same after fitting, unpickling or loading:

* ``pixels -> anchor`` (preprocessing + the backbone up to the anchor),
* ``anchor -> cut`` (the frozen layers between them, + pooling for head-only).

Both stages' outputs are cached. A later fit whose cut is a different layer
above the same anchor (``trainable_layers=1`` ... ``12`` in a grid search)
starts from the cached anchor and runs only the frozen layers in between;
a cut below the anchor is computed from the pixels.

Decoding is overlapped with compute: while the model runs on one chunk of
images, a background thread decodes the next (Pillow and TensorFlow both
release the GIL).

With ``sktransfer.set_config(deterministic=True)`` a pretrained frozen part
runs one image per batch, always compiled: float32 rounding depends on a
batch's shape and on an image's place in it, and the cache mixes
activations computed by many calls (see :mod:`sktransfer._config`).
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._config import get_config, inference_batch
from .._utils.compat import import_keras
from .._utils.hashing import identity_key
from ..images import load_images
from .backbone_info import BackboneInfo
from .cache import content_keys
from .network import BACKBONE_FROZEN, POOL, PREPROCESS
from .predictors import shared_function
from .release import COMPILED

keras = import_keras()
import tensorflow as tf  # noqa: E402  (graph-mode inference, see run_model)

__all__ = [
    "compute_frozen",
    "frozen_identity",
    "frozen_stages",
    "load_pixels",
    "mirror",
    "mirror_view",
    "model_from_cut",
    "retagged",
    "run_model",
]

# Images decoded per chunk when decoding overlaps with compute.
_CHUNK = 64


def run_model(model, x, batch_size, compiled=None):
    """Run ``model`` (or a list of models in sequence) in inference mode over ``x``.

    Every pass runs through the function traced once per architecture
    (:mod:`sktransfer._engine.predictors`): every model of that architecture,
    each fit of a grid search, reuses it with its own weights, so a model's
    outputs never depend on which path ran before (graph and eager kernels
    round differently). Graph mode lets TensorFlow fuse convolution, batch
    normalisation and activation, about twice as fast as eager on a CPU. A
    model that cannot share one (a layer without a config) runs small inputs
    eagerly (a trace of its own costs seconds, a small pass milliseconds) and
    larger ones through a tf.function of its own; ``compiled`` forces the
    choice (a caller that feeds a large input in chunks decides once for all
    of them). ``batch_size`` is the estimator's; the passes run
    :func:`sktransfer._config.inference_batch` images each (on a CPU at most
    8 of 160 px or more, where smaller batches run faster).
    """
    import warnings

    models = tuple(model) if isinstance(model, (list, tuple)) else (model,)
    if compiled is None:
        compiled = len(x) > _EAGER_MAX * batch_size
    outputs = []
    with warnings.catch_warnings():
        # A model reloaded from .keras expects its single input as a list and
        # warns when given a tensor; the call is correct either way.
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        call = _compiled(models, x, compiled) or _eager(models)
        step = inference_batch(batch_size, int(np.prod(x.shape[1:])))
        for i in range(0, len(x), step):
            outputs.append(keras.ops.convert_to_numpy(call(x[i : i + step])))
    if not outputs:
        return np.zeros((0,), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32, copy=False)


# Inputs of more than this many batches run through a compiled function.
_EAGER_MAX = 2


def _eager(models):
    def call(x):
        for m in models:
            x = m(x, training=False)
        return x

    return call


def _compiled(models, x, required=True):
    """The compiled call of ``models`` for inputs like ``x``: the shared one, else (when
    ``required``) their own; None: run eagerly."""
    shared = shared_function(models, x)
    if shared is not None or not required:
        return shared
    # A model that cannot share (a layer without a config): its own function, kept
    # on the first model so that it lives and dies with it (a cycle the garbage
    # collector frees); object.__setattr__ keeps Keras from tracking it.
    functions = models[0].__dict__.get(COMPILED)
    if functions is None:
        functions = {}
        object.__setattr__(models[0], COMPILED, functions)
    # Traced once for any number of rows: with the batch size in the
    # signature, the last, shorter batch of every pass would trace a second
    # graph, a sizeable share of a warm head-only fit.
    spec = tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype))
    key = (tuple(id(m) for m in models), spec)
    if key not in functions:
        functions[key] = tf.function(_eager(models), input_signature=[spec], autograph=False)
    return functions[key]


def load_pixels(X, size, *, crop=None, cache=None, n_jobs=None, verbose=False):
    """Decode / resize ``X`` to ``size``, reusing decoded images from ``cache``."""
    if cache is None or not (isinstance(X, np.ndarray) and X.dtype == object):
        return load_images(X, size, crop=crop, n_jobs=n_jobs, verbose=verbose)
    ident = identity_key("pixels", tuple(size), crop)
    keys = [ident + k for k in content_keys(X)]
    found = cache.get_many(keys)
    missing = [i for i, v in enumerate(found) if v is None]
    if missing:
        decoded = load_images(X[missing], size, crop=crop, n_jobs=n_jobs, verbose=verbose)
        cache.put_many([keys[i] for i in missing], decoded)
        for i, image in zip(missing, decoded):
            found[i] = image
    return np.stack(found)


def frozen_stages(model, info):
    """``[(identity, [models...]), ...]`` from pixels to the cut, or None.

    ``identity`` is None when the frozen part must not be cached (random weights).
    ``info``: a :class:`BackboneInfo`, or a fitted ``backbone_info_`` dict.
    """
    info = BackboneInfo.of(info)
    cut_layer = info.cut_layer
    if cut_layer is None:
        return None
    pre = keras.Model(model.inputs, model.get_layer(PREPROCESS).output)
    frozen = model.get_layer(BACKBONE_FROZEN)
    inner = frozen.model
    base = info.identity

    def ident(*parts):
        return None if base is None else identity_key(*base, *parts)

    stages = []
    anchor = info.anchor
    to_cut = [pre, inner]
    if anchor is not None:
        anchor_tensor = inner.get_layer(anchor).output
        stages.append((ident("cut", anchor), [pre, keras.Model(inner.inputs, anchor_tensor)]))
        to_cut = [keras.Model(anchor_tensor, inner.outputs)]
    if cut_layer == POOL:
        to_cut.append(keras.Model(frozen.output, model.get_layer(POOL).output))
        stages.append((ident(POOL, info.pooling), to_cut))
    else:
        stages.append((ident("cut", info.cut), to_cut))
    return stages


def model_from_cut(model, info, layer_name):
    """Sub-model from the cut tensor to ``layer_name``'s output (None: identity)."""
    cut = model.get_layer(BackboneInfo.of(info).cut_layer).output
    target = model.get_layer(layer_name).output
    if target is cut:
        return None
    return keras.Model(cut, target)


def compute_frozen(
    stages, X, *, size, crop=None, cache=None, batch_size=32, n_jobs=None, verbose=False, transform=None
):
    """Activations at the cut for every image of ``X`` (checked input), via the cache.

    ``transform(pixels, content_keys)``, if given, changes the decoded pixels
    before the first stage (augmented views); the stages' identities must then
    say which transformation it is.
    """
    alone = stages[-1][0] is not None and get_config()["deterministic"]
    if alone:  # one image per batch: cached apart from batched activations
        batch_size, stages = 1, retagged(stages, "deterministic")
    ckeys = content_keys(X) if transform is not None else None
    if cache is None or stages[-1][0] is None:
        return _run_stages(
            stages,
            X,
            range(len(X)),
            0,
            None,
            size,
            crop,
            None,
            batch_size,
            n_jobs,
            verbose,
            cache,
            transform,
            ckeys,
            alone,
        )
    ckeys = ckeys or content_keys(X)
    keys = [[ident + k for k in ckeys] for ident, _ in stages]
    result = cache.get_many(keys[-1])
    missing = [i for i, v in enumerate(result) if v is None]
    # Start each missing image from the highest stage that is cached.
    start = dict.fromkeys(missing, 0)
    resume = {}
    for s in range(len(stages) - 2, -1, -1):
        todo = [i for i in missing if start[i] == 0]
        for i, value in zip(todo, cache.get_many([keys[s][i] for i in todo])):
            if value is not None:
                start[i], resume[i] = s + 1, value
    for s0 in sorted(set(start.values())):
        idx = [i for i in missing if start[i] == s0]
        inputs = np.stack([resume[i] for i in idx]) if s0 else None
        out = _run_stages(
            stages,
            X,
            idx,
            s0,
            inputs,
            size,
            crop,
            keys,
            batch_size,
            n_jobs,
            verbose,
            cache,
            transform,
            ckeys,
            alone,
        )
        for i, value in zip(idx, out):
            result[i] = value
    return np.stack(result) if result else np.zeros((0,), dtype=np.float32)


def _run_stages(
    stages,
    X,
    idx,
    first,
    inputs,
    size,
    crop,
    keys,
    batch_size,
    n_jobs,
    verbose,
    cache,
    transform=None,
    ckeys=None,
    compiled=False,
):
    """Run stages ``first``.. on images ``idx`` (decoding them when ``first`` is 0).

    ``compiled``: always through the compiled function, however few images.
    """
    idx = list(idx)
    # decided for the whole input, not per chunk
    compiled = compiled or len(idx) > _EAGER_MAX * batch_size

    def run(x, chunk):
        for s in range(first, len(stages)):
            x = run_model(stages[s][1], x, batch_size, compiled)
            if keys is not None:
                cache.put_many([keys[s][i] for i in chunk], x)
        return x

    if first > 0:
        return run(inputs, idx)
    step = batch_size * -(-_CHUNK // batch_size)  # whole batches per chunk
    chunks = [idx[i : i + step] for i in range(0, len(idx), step)] or [[]]

    def decode(chunk):
        pixels = load_pixels(X[chunk], size, crop=crop, cache=cache, n_jobs=n_jobs)
        return pixels if transform is None else transform(pixels, [ckeys[i] for i in chunk])

    outputs = []
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(decode, chunks[0])
        for k, chunk in enumerate(chunks):
            pixels = pending.result()
            if k + 1 < len(chunks):
                pending = pool.submit(decode, chunks[k + 1])
            outputs.append(run(pixels, chunk))
    return np.concatenate(outputs) if outputs else np.zeros((0,), dtype=np.float32)


def retagged(stages, *tag):
    """``stages`` whose cache identities also name a pixel transformation (views, mirrors)."""
    return [(None if ident is None else identity_key(ident, *tag), models) for ident, models in stages]


def mirror(pixels, keys=None):
    """Left-right mirror images of a batch (NHWC); a ``compute_frozen`` transform."""
    return np.ascontiguousarray(pixels[:, :, ::-1])


def mirror_view(stages):
    """``(stages, transform)`` that compute the frozen activations of the mirror images.

    Their cache entries are tagged ``"hflip"``, apart from the images' own.
    """
    return retagged(stages, "hflip"), mirror


def frozen_identity(spec, weights, input_size):
    """What the frozen activations depend on, for the cache key (None: don't cache)."""
    if weights is None:
        return None  # random weights differ from fit to fit
    from .templates import pretrained_identity  # a keras-hub preset: its files' content hash

    # The preprocessing too: a folder cache outlives a release that changes a backbone's.
    identity = (
        spec.name,
        spec.preprocessing,
        pretrained_identity(spec, weights),
        tuple(input_size),
        keras.__version__,
    )
    # Mixed precision computes other activations; float32 keeps the keys it always had.
    policy = keras.mixed_precision.dtype_policy().name
    return identity if policy == "float32" else (*identity, policy)
