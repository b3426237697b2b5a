"""Helpers shared by the example scripts (run them as ``python examples/NAME.py``)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# The ImageNet MobileNet alpha 0.25 file in ../shared/data next to the project, if present.
SHARED_MOBILENET = os.path.relpath(
    os.path.join(HERE, "..", "..", "shared", "data", "weights", "mobilenet_2_5_224_tf_no_top.h5")
)


def add_data_argument(parser):
    """``--data FOLDER``: the images, one sub-folder per class; the built-in sample by default."""
    parser.add_argument(
        "--data",
        default=None,
        metavar="FOLDER",
        help="folder with one sub-folder of images per class (default: the built-in sample of "
        "sktransfer.datasets.load_sample, written under --out)",
    )


def load_data(args, n_classes=None):
    """``(X, y, classes)``: the image paths and labels of ``--data``.

    Without ``--data``, the built-in sample is written to ``<--out>/sample`` first (and
    only its first ``n_classes`` classes kept when a script needs that many);
    ``args.data`` then names that folder.
    """
    import sktransfer as skt

    if args.data is None:
        args.data = skt.datasets.write_sample_folder(os.path.join(args.out, "sample"), overwrite=True)
        X, y, classes = skt.load_image_folder(args.data)
        if n_classes is not None:
            classes = classes[:n_classes]
            keep = np.isin(y, classes)
            X, y = X[keep], y[keep]
        return X, y, classes
    return skt.load_image_folder(args.data)


def add_run_arguments(parser):
    """The data and training options every comparison script takes."""
    add_data_argument(parser)
    parser.add_argument("--size", type=int, default=224, help="input size in pixels")
    parser.add_argument("--limit-per-class", type=int, default=None, help="use only N images per class")
    parser.add_argument(
        "--n-test",
        type=float,
        default=0.2,
        help="test images per class (>= 1) or fraction of each class (< 1)",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)


def load_split(args):
    """Load ``--data``, keep ``--limit-per-class`` images, split off ``--n-test`` per class.

    Returns ``(X_train, X_test, y_train, y_test), classes`` and prints the sizes.
    """
    import sktransfer as skt

    n_test = int(args.n_test) if args.n_test >= 1 else args.n_test
    X, y, classes = load_data(args)
    X, y = limit_per_class(X, y, args.limit_per_class, args.seed)
    split = skt.per_class_split(X, y, y=y, n_test=n_test, random_state=args.seed)
    print(f"{args.data}: {len(classes)} classes; {len(split[2])} training, {len(split[3])} test images")
    return split, classes


def limit_per_class(X, y, n, seed):
    """A random subset of n images of each class (all of them when n is None)."""
    if n is None:
        return X, y
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n] for c in np.unique(y)]))
    return X[keep], y[keep]


def save(fig, out, name):
    """Write ``fig`` as ``out/name`` and close it."""
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  wrote {path}")


def confusion_figures(estimators, X_test, y_test, out, prefix, ncols=4):
    """Write each model's confusion matrix (one panel each, up to `ncols` a row) as
    ``out/<prefix>confusion_matrices.png`` and the one-vs-rest matrices of the most
    accurate one as ``out/<prefix>one_vs_rest.png``; return the name of that one."""
    from sklearn.metrics import accuracy_score

    from sktransfer.plot import plot_confusion_matrix, plot_one_vs_rest

    n = len(estimators)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 5.0 * nrows), squeeze=False)
    scores = {}
    for ax, (name, est) in zip(axes.flat, estimators.items()):
        y_pred = est.predict(X_test)
        scores[name] = accuracy_score(y_test, y_pred)
        plot_confusion_matrix(y_true=y_test, y_pred=y_pred, labels=est.classes_, ax=ax)
        ax.set_title(f"{name}\naccuracy {scores[name]:.3f}", fontsize=9)
    for ax in axes.flat[n:]:
        ax.set_axis_off()
    fig.tight_layout()
    save(fig, out, f"{prefix}confusion_matrices.png")
    best = max(scores, key=scores.get)
    fig = plot_one_vs_rest(estimators[best], X_test, y_test)
    fig.suptitle(f"one vs rest: {best}", fontsize=10)
    save(fig, out, f"{prefix}one_vs_rest.png")
    return best
