"""Small checkpoints of keras-hub's sources, written by the tests (no network).

:func:`write_timm_resnet18` writes a folder as ``huggingface-cli download
timm/resnet18.<tag>`` leaves it: ``config.json`` (``architecture`` and
``pretrained_cfg``) and ``model.safetensors`` with random weights under timm's
key names, in PyTorch's layouts (convolutions ``(out, in, kh, kw)``).
"""

import json
import os

import numpy as np

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
FILTERS = (64, 128, 256, 512)


_BLOCKS = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3)}


def resnet_state_dict(seed, arch="resnet18"):
    """timm's ``resnet18`` / ``resnet34`` / ``resnet50`` state dict (names, shapes), random values."""
    rng = np.random.default_rng(seed)
    state = {}
    bottleneck = arch == "resnet50"

    def conv(key, out, inp, k):
        std = np.sqrt(2.0 / (inp * k * k))
        state[key + ".weight"] = (rng.standard_normal((out, inp, k, k)) * std).astype("float32")

    def bn(key, n):
        state[key + ".weight"] = (1.0 + 0.1 * rng.standard_normal(n)).astype("float32")
        state[key + ".bias"] = (0.1 * rng.standard_normal(n)).astype("float32")
        state[key + ".running_mean"] = (0.1 * rng.standard_normal(n)).astype("float32")
        state[key + ".running_var"] = rng.uniform(0.5, 1.5, n).astype("float32")
        state[key + ".num_batches_tracked"] = np.zeros((), dtype="int64")

    conv("conv1", 64, 3, 7)
    bn("bn1", 64)
    inp = 64
    for stage, width in enumerate(FILTERS):
        out = width * 4 if bottleneck else width
        for block in range(_BLOCKS[arch][stage]):
            key = f"layer{stage + 1}.{block}"
            first = inp if block == 0 else out
            if bottleneck:
                conv(f"{key}.conv1", width, first, 1)
                bn(f"{key}.bn1", width)
                conv(f"{key}.conv2", width, width, 3)
                bn(f"{key}.bn2", width)
                conv(f"{key}.conv3", out, width, 1)
                bn(f"{key}.bn3", out)
            else:
                conv(f"{key}.conv1", out, first, 3)
                bn(f"{key}.bn1", out)
                conv(f"{key}.conv2", out, out, 3)
                bn(f"{key}.bn2", out)
            if block == 0 and (stage > 0 or bottleneck):
                conv(f"{key}.downsample.0", out, inp, 1)
                bn(f"{key}.downsample.1", out)
        inp = out
    state["fc.weight"] = (rng.standard_normal((1000, inp)) * 0.05).astype("float32")
    state["fc.bias"] = np.zeros(1000, dtype="float32")
    return state


def write_timm_resnet18(
    folder, seed=0, tag="a1_in1k", mean=IMAGENET_MEAN, std=IMAGENET_STD, size=224, arch="resnet18"
):
    """Write a timm-format ResNet-18 (or ``arch``) checkpoint folder; return its path."""
    from safetensors.numpy import save_file

    os.makedirs(folder, exist_ok=True)
    config = {
        "architecture": arch,
        "num_classes": 1000,
        "num_features": 2048 if arch == "resnet50" else 512,
        "global_pool": "avg",
        "pretrained_cfg": {
            "tag": tag,
            "custom_load": False,
            "input_size": [3, size, size],
            "fixed_input_size": False,
            "interpolation": "bicubic",
            "crop_pct": 0.95,
            "crop_mode": "center",
            "mean": list(mean),
            "std": list(std),
            "num_classes": 1000,
            "pool_size": [7, 7],
            "first_conv": "conv1",
            "classifier": "fc",
        },
    }
    with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    save_file(resnet_state_dict(seed, arch), os.path.join(folder, "model.safetensors"))
    return os.fspath(folder)


def write_keras_hub_preset(source, folder):
    """Convert a checkpoint folder with keras-hub and write it with ``save_to_preset``."""
    import keras_hub

    keras_hub.models.Backbone.from_preset(source).save_to_preset(folder)
    keras_hub.layers.ImageConverter.from_preset(source).save_to_preset(folder)
    return os.fspath(folder)
