"""Multiclass: a CNN from scratch against fine-tuned ImageNet backbones.

The classic five-flowers assignment. Split every class 300/75/75-style
(4/6 train, 1/6 validation, 1/6 test; the validation images are held out
inside each fit, a stratified ``validation_fraction``, for the learning
curves). Train a 5-convolution CNN from scratch (``SimpleCNNClassifier``) and
fine-tune two ImageNet backbones, EfficientNet-Lite0 and MobileNet
(alpha 0.25), three ways each: the head only, the top blocks, and every
layer (backbone at a 10x smaller learning rate). ``compare_models`` fits all
seven on the same split and tabulates test accuracy, precision, recall, F1
(macro), training time, prediction time, parameters and peak memory; each
model also gets its learning curves (with a diagnosis) and confusion matrix.

Run (MobileNet's ImageNet weights come from ``--mobilenet-weights FILE``;
without the file it starts from random weights):

    python examples/multiclass_scratch_vs_finetune.py --data ../shared/data/tf_flowers --out out/multiclass

A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import SHARED_MOBILENET, add_data_argument, limit_per_class, load_data, save

import sktransfer as skt
from sktransfer.compare import compare_models, plot_comparison
from sktransfer.metrics import evaluate
from sktransfer.plot import diagnose_learning_curves, plot_confusion_matrix, plot_learning_curves

# "Top blocks" of each backbone: that block and everything above it.
TOP_BLOCKS = {"efficientnet_lite0": "block7", "mobilenet_0.25": "block12"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(p)
    p.add_argument("--out", default="out/multiclass_scratch_vs_finetune")
    p.add_argument(
        "--mobilenet-weights",
        default=SHARED_MOBILENET,
        help="MobileNet alpha=0.25 ImageNet weights without top (.h5)",
    )
    p.add_argument("--size", type=int, default=224, help="input size in pixels")
    p.add_argument("--limit-per-class", type=int, default=None, help="use only N images per class")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)

    # 1. Data: 300/75/75 of 450 per class = 4/6 train, 1/6 validation, 1/6 test.
    X, y, classes = load_data(args)
    X, y = limit_per_class(X, y, args.limit_per_class, args.seed)
    per_class = min(np.unique(y, return_counts=True)[1])
    n_test = n_val = max(1, per_class // 6)
    n_train = per_class - n_val - n_test
    X_train, X_test, y_train, y_test = skt.per_class_split(
        X, y, y=y, n_train=n_train + n_val, n_test=n_test, random_state=args.seed
    )
    print(f"{args.data}: {len(classes)} classes {classes}")
    print(f"split per class: {n_train} train, {n_val} validation (inside fit), {n_test} test")

    # 2. MobileNet weights: the local ImageNet file, else random initialisation.
    mobilenet_weights = args.mobilenet_weights
    if not (mobilenet_weights and os.path.isfile(mobilenet_weights)):
        print(
            f"note: no MobileNet weights file at {mobilenet_weights!r}: mobilenet_0.25 starts "
            "from random weights (weights=None), so its 'head only' row is a random-features "
            "baseline."
        )
        mobilenet_weights = None

    # 3. The models. Same epochs, batch size, validation images and seed for all.
    common = dict(
        epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=args.seed,
        validation_fraction=n_val / (n_train + n_val),
    )
    models = {"scratch CNN (5 conv)": skt.SimpleCNNClassifier(input_size=args.size, **common)}
    for backbone, weights in [("efficientnet_lite0", "imagenet"), ("mobilenet_0.25", mobilenet_weights)]:
        ways = {
            "head only": dict(trainable_layers=0),
            f"top ({TOP_BLOCKS[backbone]}+)": dict(trainable_layers=TOP_BLOCKS[backbone]),
            "all layers": dict(trainable_layers="all", backbone_lr_scale=0.1),
        }
        for way, params in ways.items():
            # cache=False: every fit computes its frozen part itself, so the fit times
            # compare cold fits (the shared activation cache would favour later models).
            models[f"{backbone}, {way}"] = skt.FineTunedClassifier(
                backbone, weights=weights, input_size=args.size, cache=False, **params, **common
            )

    # 4. Fit all of them on the same split, evaluate on the same test images.
    print(f"\nfitting {len(models)} models ...")
    table = compare_models(models, X_train, y_train, X_test, y_test)
    print(table)
    save(
        plot_comparison(table, metrics=("accuracy", "precision", "recall", "f1")), args.out, "comparison.png"
    )

    # 5. Per model: learning curves (and what they say) and the confusion matrix.
    n = len(models)
    cm_fig, cm_axes = plt.subplots(2, (n + 1) // 2, figsize=(4.2 * ((n + 1) // 2), 8), layout="constrained")
    for (name, clf), ax in zip(table.estimators_.items(), cm_axes.flat):
        print(f"\n{name}: {diagnose_learning_curves(clf)}")
        fig = plot_learning_curves(clf)
        fig.suptitle(name)
        save(
            fig,
            args.out,
            "learning_curves_" + "".join(c if c.isalnum() else "_" for c in name).strip("_") + ".png",
        )
        plot_confusion_matrix(clf, X_test, y_test, ax=ax)
        ax.set_title(name, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45)
    for ax in cm_axes.flat[n:]:
        ax.axis("off")
    save(cm_fig, args.out, "confusion_matrices.png")

    # 6. The best model by validation accuracy (not by test!), and its test report.
    def val_accuracy(name):
        return table.estimators_[name].history_.get("val_accuracy", [0.0])[-1]

    best = max(table.names, key=val_accuracy)
    print(f"\nbest by validation accuracy: {best} ({val_accuracy(best):.3f}); on the test images:")
    print(evaluate(table.estimators_[best], X_test, y_test))


if __name__ == "__main__":
    main()
