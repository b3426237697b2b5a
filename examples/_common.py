"""Helpers shared by the example scripts (run them as ``python examples/NAME.py``)."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# The ImageNet MobileNet alpha 0.25 file in ../shared/data next to the project, if present.
SHARED_MOBILENET = os.path.relpath(os.path.join(
    HERE, "..", "..", "shared", "data", "weights", "mobilenet_2_5_224_tf_no_top.h5"))


def limit_per_class(X, y, n, seed):
    """A random subset of n images of each class (all of them when n is None)."""
    if n is None:
        return X, y
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n]
                                   for c in np.unique(y)]))
    return X[keep], y[keep]


def save(fig, out, name):
    """Write ``fig`` as ``out/name`` and close it."""
    path = os.path.join(out, name)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  wrote {path}")
