"""Four pretrained weights of one architecture, then six architectures, on one split.

The weights assignment: (0) what each pretrained ResNet-50 itself predicts on
a few test images (its own ImageNet head: top-3 classes); (1) four weights of
ResNet-50, timm's ``tv_in1k`` and ``tv2_in1k`` (torchvision's IMAGENET1K_V1 and
V2), ``a1_in1k`` and ``a2_in1k`` ("ResNet strikes back"), each with a new head
trained on the same split; (2) six architectures. Each comparison prints the
A / P / R / F1 table and writes the confusion matrices; the best model's
one-vs-all matrices are printed. ``sktransfer backbones`` lists the known
weight tags of each timm architecture (``TIMM_TAGS``).

keras-hub downloads ``hf://`` checkpoints once (``pip install "sktransfer[hub]"``).
Offline, download the folders on a machine with internet and pass them::

    for tag in tv_in1k tv2_in1k a1_in1k a2_in1k; do
        huggingface-cli download timm/resnet50.$tag --local-dir resnet50.$tag
    done
    python examples/compare_weights.py --data animals10/ \\
        --resnet50 resnet50.tv_in1k,resnet50.tv2_in1k,resnet50.a1_in1k,resnet50.a2_in1k \\
        --architectures efficientnet_lite0,resnet18.tv_in1k,resnet50.tv2_in1k,...

A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import add_run_arguments, confusion_figures, load_split, save
from sklearn.metrics import multilabel_confusion_matrix

import sktransfer as skt
from sktransfer.compare import compare_models, plot_comparison

RESNET50 = ",".join(f"hf://timm/resnet50.{tag}" for tag in ("tv_in1k", "tv2_in1k", "a1_in1k", "a2_in1k"))
ARCHITECTURES = (
    "efficientnet_lite0,hf://timm/resnet18.tv_in1k,hf://timm/resnet50.tv2_in1k,"
    "hf://timm/densenet169.tv_in1k,mobilenetv2,mobilenetv3large"
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/compare_weights", help="folder for the figures")
    p.add_argument(
        "--resnet50",
        default=RESNET50,
        help="comma-separated keras-hub handles or local folders of ResNet-50 weights",
    )
    p.add_argument(
        "--architectures",
        default=ARCHITECTURES,
        help="comma-separated backbones (registered names, handles or folders)",
    )
    p.add_argument(
        "--weights", default="imagenet", help="weights of the registered backbones: imagenet or none"
    )
    p.add_argument("--trainable-layers", default="0", help="0 (head only), N, all or a block")
    add_run_arguments(p)
    return p.parse_args()


def label(handle):
    """``hf://timm/resnet50.tv2_in1k`` or ``/data/resnet50.tv2_in1k`` -> ``resnet50.tv2_in1k``."""
    return os.path.basename(os.path.normpath(handle.split("://")[-1])) or handle


def report(table, X_test, y_test, out, name):
    print(table)
    save(plot_comparison(table), out, f"{name}.png")
    best = confusion_figures(table.estimators_, X_test, y_test, out, f"{name}_")
    est = table.estimators_[best]
    print(f"best: {best}; one-vs-all [[TN, FP], [FN, TP]]:")
    for cls, matrix in zip(
        est.classes_, multilabel_confusion_matrix(y_test, est.predict(X_test), labels=est.classes_)
    ):
        print(f"  {cls:<12} {matrix.tolist()}")


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    layers = args.trainable_layers
    layers = int(layers) if layers.isdigit() else layers
    (X_train, X_test, y_train, y_test), classes = load_split(args)
    common = dict(
        input_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        trainable_layers=layers,
        random_state=args.seed,
    )
    resnet50 = args.resnet50.split(",")

    print("\n=== 0. what each pretrained ResNet-50 predicts (its own ImageNet head) ===")
    for handle in resnet50:
        clf = skt.PretrainedImageNetClassifier(handle, top_k=3, input_size=args.size).fit()
        names, proba = clf.predict_imagenet(X_test[:3])
        guesses = "; ".join(f"{n[0]} {p[0]:.2f}" for n, p in zip(names, proba))
        print(f"  {label(handle):<24} {guesses}")

    print("\n=== 1. four weights of ResNet-50 ===")
    models = {label(h): skt.FineTunedClassifier(h, **common) for h in resnet50}
    report(compare_models(models, X_train, y_train, X_test, y_test), X_test, y_test, args.out, "weights")

    print("\n=== 2. six architectures ===")
    skt.clear_cache()  # every backbone fits cold: fair fit times
    weights = None if args.weights == "none" else args.weights
    models = {}
    for backbone in args.architectures.split(","):
        registered = backbone.lower() in skt.backbones.available_backbones()
        w = weights if registered and backbone != "efficientnet_lite0" else "imagenet"
        models[label(backbone)] = skt.FineTunedClassifier(
            backbone, weights=w, **{**common, "trainable_layers": layers if w else "all"}
        )
    report(
        compare_models(models, X_train, y_train, X_test, y_test), X_test, y_test, args.out, "architectures"
    )


if __name__ == "__main__":
    main()
