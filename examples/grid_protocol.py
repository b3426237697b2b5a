"""A full tuning protocol: grid search, optimizers, epochs, a better head, an SVM.

The classic "representation learning" assignment. Keep a per-class test set
aside. On the training images, with 3-fold stratified cross-validation
(``GridSearchCV`` + ``StratifiedKFold``): search trainable layers x batch
size, then compare optimizers (SGD, RMSprop, Adam, Nadam, Adadelta) with the
best of those, then sweep the number of epochs. Evaluate the tuned model on
the test images (precision-recall curve, confusion matrix). Then improve the
head (two hidden layers with batch normalisation, L2 and dropout) and train
it with data augmentation (``Augmentation(..., n_views=...)``: augmented views
cached once), put an SVM on its embeddings
(``make_pipeline(FineTunedClassifier(..., head=(...)), SVC())``) and show the
5 most confident errors of each type (``worst_errors``).

Run (offline backbone EfficientNet-Lite0; ``--backbone resnet50v2`` needs internet):

    python examples/grid_protocol.py --data ../shared/data/cats_dogs_sample --out out/grid

A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``. Bigger grids:
``--layers 0,2,4,8,block7 --batch-sizes 16,32,64 --epochs-grid 1,5,10,20``.
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
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

import sktransfer as skt
from sktransfer.metrics import evaluate
from sktransfer.plot import (
    plot_by_epochs,
    plot_confusion_matrix,
    plot_grid_search,
    plot_learning_curves,
    plot_param_comparison,
    plot_precision_recall,
    worst_errors,
)


def int_or_name(text):
    return int(text) if text.isdigit() else text


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_argument(p)
    p.add_argument("--out", default="out/grid_protocol", help="folder for the figures")
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=224, help="input size in pixels")
    p.add_argument("--limit-per-class", type=int, default=None, help="use only N images per class")
    p.add_argument(
        "--n-test",
        type=float,
        default=0.2,
        help="test images per class (>= 1) or fraction of each class (< 1)",
    )
    p.add_argument("--epochs", type=int, default=10, help="epochs of the grid and optimizer steps")
    p.add_argument("--layers", default="0,2,4", help="trainable_layers grid (ints or block names)")
    p.add_argument("--batch-sizes", default="16,32", help="batch_size grid")
    p.add_argument("--optimizers", default="sgd,rmsprop,adam,nadam,adadelta")
    p.add_argument("--epochs-grid", default=None, help="epochs sweep (default: around --epochs)")
    p.add_argument("--head", default="256,128", help="hidden layers of the improved head")
    p.add_argument("--n-views", type=int, default=4, help="augmented views cached per image")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def search(estimator, grid, X, y, cv, title):
    """Fit a GridSearchCV, print its candidates (mean +- std accuracy over the folds)."""
    start = time.perf_counter()
    result = GridSearchCV(estimator, grid, cv=cv).fit(X, y)
    res = result.cv_results_
    print(
        f"\n=== {title}: {len(res['params'])} candidates x {cv.get_n_splits()} folds, "
        f"{time.perf_counter() - start:.0f} s ==="
    )
    for i in np.argsort(res["rank_test_score"], kind="stable"):
        print(
            f"  {res['params'][i]}: accuracy {res['mean_test_score'][i]:.3f} "
            f"+- {res['std_test_score'][i]:.3f}"
        )
    print(f"best: {result.best_params_}, CV accuracy {result.best_score_:.3f}")
    return result


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    n_test = int(args.n_test) if args.n_test >= 1 else args.n_test

    # 1. Data and a per-class test set that no tuning step sees.
    X, y, classes = load_data(args)
    X, y = limit_per_class(X, y, args.limit_per_class, args.seed)
    X_train, X_test, y_train, y_test = skt.per_class_split(X, y, y=y, n_test=n_test, random_state=args.seed)
    print(f"{args.data}: classes {classes}; {len(y_train)} training, {len(y_test)} test images")
    cv = StratifiedKFold(3, shuffle=True, random_state=args.seed)

    # 2. Trainable layers x batch size. Frozen activations are computed once
    #    and shared by every fold and candidate (sktransfer's activation cache).
    base = skt.FineTunedClassifier(
        args.backbone, input_size=args.size, epochs=args.epochs, random_state=args.seed
    )
    grid = search(
        base,
        {
            "trainable_layers": [int_or_name(v) for v in args.layers.split(",")],
            "batch_size": [int(v) for v in args.batch_sizes.split(",")],
        },
        X_train,
        y_train,
        cv,
        "trainable layers x batch size",
    )
    save(plot_grid_search(grid, x="trainable_layers", hue="batch_size"), args.out, "grid_layers_batch.png")

    # 3. Optimizers, each with its default learning rate (Adadelta: 1.0).
    optimizers = search(
        clone(grid.best_estimator_),
        {"optimizer": args.optimizers.split(",")},
        X_train,
        y_train,
        cv,
        "optimizers",
    )
    save(plot_param_comparison(optimizers, "optimizer"), args.out, "optimizers.png")

    # 4. Number of epochs.
    if args.epochs_grid:
        epochs_grid = [int(v) for v in args.epochs_grid.split(",")]
    else:
        epochs_grid = sorted({1, max(1, args.epochs // 2), args.epochs, 2 * args.epochs})
    epochs = search(
        clone(optimizers.best_estimator_), {"epochs": epochs_grid}, X_train, y_train, cv, "epochs"
    )
    save(plot_by_epochs(epochs), args.out, "epochs.png")

    # 5. The tuned model (refitted on all training images) on the test images.
    tuned = epochs.best_estimator_
    print(
        f"\n=== tuned model: trainable_layers={tuned.trainable_layers!r}, "
        f"batch_size={tuned.batch_size}, optimizer={tuned.optimizer}, epochs={tuned.epochs} ==="
    )
    print(evaluate(tuned, X_test, y_test))
    fig, ax = plt.subplots(figsize=(5.5, 5), layout="constrained")
    plot_precision_recall(tuned, X_test, y_test, name="tuned", ax=ax)
    save(fig, args.out, "tuned_precision_recall.png")
    fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    plot_confusion_matrix(tuned, X_test, y_test, ax=ax)
    save(fig, args.out, "tuned_confusion_matrix.png")

    # 6. A better head, trained with augmentation: n_views augmented copies of
    #    every training image are made once and their frozen activations cached.
    improved = clone(tuned).set_params(
        head=tuple(int(u) for u in args.head.split(",")),
        head_batchnorm=True,
        head_l2=1e-4,
        head_dropout=0.5,
        augmentation=skt.Augmentation(flip="horizontal", rotation=0.1, zoom=0.1, n_views=args.n_views),
    )
    start = time.perf_counter()
    improved.fit(X_train, y_train)
    print(
        f"\n=== improved head {improved.head}, with augmentation "
        f"({time.perf_counter() - start:.0f} s; {improved.backbone_info_['training_input']}) ==="
    )
    print(evaluate(improved, X_test, y_test))
    save(plot_learning_curves(improved), args.out, "improved_learning_curves.png")

    # 7. An SVM on the embeddings of the improved network (its last hidden layer).
    svm = make_pipeline(clone(improved), SVC()).fit(X_train, y_train)
    print("\n=== SVM on the improved network's embeddings ===")
    print(evaluate(svm, X_test, y_test))
    fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    plot_confusion_matrix(svm, X_test, y_test, ax=ax)
    save(fig, args.out, "svm_confusion_matrix.png")

    # 8. The 5 most confident mistakes of each type, with their files.
    for name, model in [("improved", improved), ("svm", svm)]:
        errors = worst_errors(model, X_test, y_test, k=5)
        print(f"\nworst errors of {name} ({errors.score_name}):")
        for panel, rows in errors.panels.items():
            print(
                f"  {panel.replace('_', ' ')}: "
                + (
                    ", ".join(f"{os.path.basename(X_test[r['index']])} ({r['score']:.2f})" for r in rows)
                    or "none"
                )
            )
        save(errors.figure, args.out, f"{name}_worst_errors.png")

    print(
        f"\ntest accuracy: tuned {tuned.score(X_test, y_test):.3f}, improved head "
        f"{improved.score(X_test, y_test):.3f}, SVM on its embeddings {svm.score(X_test, y_test):.3f}"
    )


if __name__ == "__main__":
    main()
