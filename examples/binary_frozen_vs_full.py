"""Binary classification: freeze the backbone, or fine-tune all of it?

The classic cats-vs-dogs assignment. Hold out 20 images of each class as a
test set, train two classifiers on the rest with the same ImageNet backbone:
(a) the backbone frozen and only a new head trained (``trainable_layers=0``),
(b) every layer trained (``trainable_layers="all"``), the backbone with a 10x
smaller learning rate than the head (``backbone_lr_scale=0.1``). Each fit holds
out 20 images per class of its training images as a validation set
(``validation=20``) for the learning curves. Then compare the
two: learning curves and their diagnosis, confusion matrix, accuracy,
precision, sensitivity, specificity and ROC curve on the test images.

Run (offline backbone EfficientNet-Lite0; ``--backbone resnet50v2`` needs internet):

    python examples/binary_frozen_vs_full.py --data ../shared/data/cats_dogs_sample --out out/binary

A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import add_data_argument, limit_per_class, load_data, save

import sktransfer as skt
from sktransfer.metrics import evaluate
from sktransfer.plot import (
    diagnose_learning_curves,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_precision_recall,
    plot_roc,
)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(p)
    p.add_argument("--out", default="out/binary_frozen_vs_full", help="folder for the figures")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="imagenet", help="'imagenet', a weights file or 'none'")
    p.add_argument("--size", type=int, default=224, help="input size in pixels")
    p.add_argument("--limit-per-class", type=int, default=None, help="use only N images per class")
    p.add_argument("--n-val", type=int, default=20, help="validation images per class")
    p.add_argument("--n-test", type=int, default=20, help="test images per class")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3, help="of the head")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    weights = None if args.weights.lower() == "none" else args.weights

    # 1. Data: file paths and labels, then a per-class test set.
    X, y, classes = load_data(args, n_classes=2)
    if len(classes) != 2:
        raise SystemExit(f"{args.data} has {len(classes)} classes; this assignment needs 2.")
    X, y = limit_per_class(X, y, args.limit_per_class, args.seed)
    per_class = min(np.unique(y, return_counts=True)[1])
    # With few images (a quick run), keep 3/5 of each class for training.
    n_test = min(args.n_test, max(1, per_class // 5))
    n_val = min(args.n_val, max(1, per_class // 5))
    X_train, X_test, y_train, y_test = skt.per_class_split(X, y, y=y, n_test=n_test, random_state=args.seed)
    n_train = len(y_train) // 2
    print(f"{args.data}: classes {classes}, {per_class} images per class used")
    print(
        f"split per class: {n_train - n_val} train, {n_val} validation (inside fit), "
        f"{n_test} test; positive class = {classes[1]!r}"
    )

    # 2. Two models that differ only in what trains.
    common = dict(
        weights=weights,
        input_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        validation=n_val,  # n_val images of each class
        random_state=args.seed,
    )
    models = {
        "frozen": skt.FineTunedClassifier(args.backbone, trainable_layers=0, **common),
        "full": skt.FineTunedClassifier(
            args.backbone, trainable_layers="all", backbone_lr_scale=0.1, **common
        ),
    }

    # 3. Train, evaluate on the test images, draw the figures.
    summaries, seconds = {}, {}
    roc_fig, roc_ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    pr_fig, pr_ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    for name, clf in models.items():
        print(f"\n=== {name}: trainable_layers={clf.trainable_layers!r} ===")
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds[name] = time.perf_counter() - start
        info = clf.backbone_info_
        print(
            f"fit in {seconds[name]:.1f} s, {clf.n_epochs_} epochs, "
            f"{info['trainable_params']:,} of {info['total_params']:,} parameters trained"
        )
        print("learning curves:", diagnose_learning_curves(clf))
        summaries[name] = evaluate(clf, X_test, y_test)
        print(summaries[name])

        save(plot_learning_curves(clf), args.out, f"{name}_learning_curves.png")
        fig, ax = plt.subplots(figsize=(4.5, 4), layout="constrained")
        plot_confusion_matrix(clf, X_test, y_test, ax=ax)
        ax.set_title(f"{name}: test confusion matrix")
        save(fig, args.out, f"{name}_confusion_matrix.png")
        plot_roc(clf, X_test, y_test, name=name, ax=roc_ax)
        plot_precision_recall(clf, X_test, y_test, name=name, ax=pr_ax)
    roc_ax.set_title("ROC on the test images")
    save(roc_fig, args.out, "roc.png")
    pr_ax.set_title("Precision-recall on the test images")
    save(pr_fig, args.out, "precision_recall.png")

    # 4. The comparison, side by side.
    rows = ["accuracy", "precision", "sensitivity", "specificity", "f1", "roc_auc"]
    print(f"\n{'':<12}" + "".join(f"{name:>10}" for name in models))
    for key in rows:
        values = [summaries[name][key] for name in models]
        print(f"{key:<12}" + "".join("       n/a" if v is None else f"{v:>10.3f}" for v in values))
    print(f"{'fit seconds':<12}" + "".join(f"{seconds[name]:>10.1f}" for name in models))
    best = max(models, key=lambda name: summaries[name]["accuracy"])
    print(f"\nbest test accuracy: {best} ({summaries[best]['accuracy']:.3f} on {len(y_test)} images)")


if __name__ == "__main__":
    main()
