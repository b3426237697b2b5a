"""Helpers shared by the benchmark scripts (not part of the package)."""

import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(ROOT, "..", "shared", "data")
RESULTS = os.path.join(ROOT, "benchmarks", "results")


#: The class-folder data sets of ../shared/data that the accuracy benchmarks use.
DATASETS = ("tf_flowers", "cats_dogs_sample", "animals10_sample")


def dataset_parser(doc):
    """An ArgumentParser with the options every accuracy benchmark shares:
    ``--data`` (repeatable), ``--backbone`` and ``--weights``."""
    import argparse

    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument(
        "--data",
        action="append",
        help="a class-folder dataset (repeatable); default: the three in ../shared/data",
    )
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument(
        "--weights", default="imagenet", help="'imagenet', 'none' (random) or a local weights file"
    )
    return p


def parse_dataset_args(p):
    """Parse, check ``--weights`` (``"none"`` becomes None) and fill ``args.folders``."""
    args = p.parse_args()
    if args.weights not in ("imagenet", "none") and not os.path.isfile(args.weights):
        p.error(f"--weights {args.weights!r} is not a file")
    args.weights = None if args.weights == "none" else args.weights
    args.folders = args.data or [os.path.join(SHARED_DATA, d) for d in DATASETS]
    return args


def machine():
    """A one-line description of where the figures were measured."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = f"{len(gpus)} GPU" if gpus else "CPU only"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {device}, "
        f"TensorFlow {tf.__version__}, Python {platform.python_version()}"
    )


def commit():
    """The checkout's commit, with ``-dirty`` when files differ from it (None outside git)."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def write_json(name, payload, quiet=False):
    """Write ``payload`` to ``name``: a bare file name goes in benchmarks/results/, a path as given.

    Every result says when, where, how and from which commit it was measured
    (``date``, ``machine``, ``command``, ``commit``): the documentation's
    benchmark pages are generated from these files and refuse one without them.
    """
    payload = dict(payload)
    payload.setdefault("date", time.strftime("%Y-%m-%d", time.gmtime()))
    payload.setdefault("command", " ".join(["python"] + sys.argv))
    payload.setdefault("commit", commit())
    if "machine" not in payload:
        payload["machine"] = machine()
    path = name if os.path.dirname(name) else os.path.join(RESULTS, name)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump(payload, fh, indent=2, default=str)
    os.replace(path + ".tmp", path)  # a run stopped midway leaves the last complete file
    if not quiet:
        print(f"\nwrote {path}")
    return path


def print_table(rows, columns):
    widths = [max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(w) for c, w in zip(columns, widths)))


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "" if value is None else str(value)


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def random_weights_file(backbone, size, directory):
    """Save a randomly initialised backbone's weights to a file, once.

    ImageNet weights need internet for most backbones; the compute cost does
    not depend on the weight values, and a weights *file* is treated by both
    sides exactly like a downloaded ImageNet file.
    """
    import keras

    from sktransfer.backbones import build_backbone

    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{backbone}_{size}_random.weights.h5")
    if not os.path.exists(path):
        keras.utils.set_random_seed(0)
        model, _ = build_backbone(backbone, None, size)
        model.save_weights(path)
    return path
