"""Memory over many fits: RSS after each of N fit + predict cycles in one process.

A grid search or a notebook fits the same estimator class again and again in
one process; each fit must release the previous network, so the resident
memory must level off after the first cycles instead of growing with every
fit. This script runs ``--cycles`` consecutive ``fit`` + ``predict_proba``
cycles of a fresh ``FineTunedClassifier`` (the previous estimator is dropped,
as a grid search drops its candidates) and prints the RSS (psutil) after each,
the growth from cycle 2 to the last (cycle 1 pays one-off costs: TensorFlow's
kernels and thread pools, the shared backbone template, the activation
cache) and the number of live Keras models, then writes JSON to
``benchmarks/results/<--out>``.

Examples::

    python benchmarks/memory.py                                     # efficientnet_lite0, 64 px, "all"
    python benchmarks/memory.py --backbone resnet50v2 --weights none --size 64
    python benchmarks/memory.py --trainable-layers 0 --cycles 10
    python benchmarks/memory.py --without-fix                       # the TensorFlow leak, unfixed
    python benchmarks/memory.py --backbone resnet50v2 --weights none --epochs 1 \
        --n-per-class 12 --cycles 12 --no-gc --out memory_no_gc.json  # what reference counting frees

``--no-gc`` calls no ``gc.collect()`` between cycles, as a grid search calls
none: a dropped estimator's memory must then come back by reference counting
(the Keras models counted then include those waiting for the collector).
"""

import argparse
import gc
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Timer, commit, machine, print_table, write_json


def rss_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def trimmed_rss_mb():
    """RSS after glibc hands freed heap pages back (malloc_trim); plain RSS elsewhere.

    Freed memory often stays in glibc's arenas, so plain RSS swings by a few
    hundred MB from cycle to cycle; after a trim it shows what is really held.
    """
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    return rss_mb()


def live_keras_models():
    """Keras models still reachable by the garbage collector (leak diagnostics)."""
    import keras

    return sum(isinstance(o, keras.Model) for o in gc.get_objects())


def parse_trainable(value):
    try:
        return int(value)
    except ValueError:
        return value


def run(
    backbone="efficientnet_lite0",
    weights="imagenet",
    size=64,
    cycles=10,
    trainable_layers="all",
    n_per_class=16,
    epochs=2,
    batch_size=16,
    verbose=True,
    collect=True,
):
    """Run the cycles; return the RSS before them and a list of per-cycle rows (dicts).

    ``collect=False``: no ``gc.collect()`` after a cycle (see ``--no-gc``).
    """
    from sktransfer import FineTunedClassifier
    from sktransfer.datasets import load_sample

    X, y = load_sample(size=size, n_per_class=n_per_class, random_state=0, return_X_y=True)
    rows = []
    start = rss_mb()
    for cycle in range(1, cycles + 1):
        with Timer() as t:
            clf = FineTunedClassifier(
                backbone,
                weights=weights,
                trainable_layers=trainable_layers,
                input_size=size,
                epochs=epochs,
                batch_size=batch_size,
                random_state=cycle,
            )
            clf.fit(X, y)
            clf.predict_proba(X)
        del clf
        if collect:
            gc.collect()
        row = {
            "cycle": cycle,
            "rss_mb": rss_mb(),
            "trimmed_rss_mb": trimmed_rss_mb(),
            "python_objects": len(gc.get_objects()),
            "keras_models": live_keras_models(),
            "seconds": t.seconds,
        }
        rows.append(row)
        if verbose:
            print(
                f"cycle {cycle:2d}: RSS {row['rss_mb']:6.0f} MB, after malloc_trim "
                f"{row['trimmed_rss_mb']:6.0f} MB, {row['python_objects']} Python objects, "
                f"{row['keras_models']} live Keras models ({row['seconds']:.1f} s)",
                flush=True,
            )
    return start, rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--weights", default="imagenet", help="'imagenet', 'none' or a weights file")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--cycles", type=int, default=10)
    p.add_argument("--trainable-layers", default="all", type=parse_trainable)
    p.add_argument("--n-per-class", type=int, default=16, help="images per class (4 classes)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", default="memory.json")
    p.add_argument(
        "--no-gc",
        action="store_true",
        help="no gc.collect() after each cycle: measure what reference counting alone frees",
    )
    p.add_argument(
        "--without-fix",
        action="store_true",
        help="switch off sktransfer's release of each fit's training graph "
        "(_compat.release_train_graphs), to measure the leak it fixes",
    )
    args = p.parse_args()
    measured = commit()  # the code the cycles run, whatever changes while they do
    weights = None if args.weights.lower() == "none" else args.weights
    if args.without_fix:
        import contextlib

        import sktransfer.estimators._base

        sktransfer.estimators._base.release_train_graphs = lambda model: contextlib.nullcontext()

    import tensorflow as tf

    print(
        f"{machine()}\n{args.backbone} weights={weights} {args.size} px, "
        f"trainable_layers={args.trainable_layers!r}, {4 * args.n_per_class} images, "
        f"{args.epochs} epochs, {args.cycles} cycles"
    )
    start, rows = run(
        args.backbone,
        weights,
        args.size,
        args.cycles,
        args.trainable_layers,
        args.n_per_class,
        args.epochs,
        args.batch_size,
        collect=not args.no_gc,
    )
    second = rows[min(1, len(rows) - 1)]
    growth = {key: rows[-1][key] - second[key] for key in ("rss_mb", "trimmed_rss_mb", "python_objects")}
    per_cycle = {key: value / max(1, len(rows) - 2) for key, value in growth.items()}
    print()
    print_table(rows, ["cycle", "rss_mb", "trimmed_rss_mb", "python_objects", "keras_models", "seconds"])
    print(
        f"\nRSS before the first fit {start:.0f} MB. Growth from cycle 2 to {len(rows)}: "
        f"RSS {growth['rss_mb']:+.0f} MB ({per_cycle['rss_mb']:+.1f} MB per cycle), "
        f"after malloc_trim {growth['trimmed_rss_mb']:+.0f} MB, "
        f"Python objects {growth['python_objects']:+d}; total RSS growth "
        f"{rows[-1]['rss_mb'] - start:+.0f} MB"
    )
    # Cycles 1-3 pay one-off costs (kernels, the trainer pool, the first full collections).
    fourth = rows[min(3, len(rows) - 1)]
    settled = rows[-1]["trimmed_rss_mb"] - fourth["trimmed_rss_mb"]
    largest = max(row["trimmed_rss_mb"] for row in rows[3:] or rows) - fourth["trimmed_rss_mb"]
    print(
        f"After malloc_trim, cycle {fourth['cycle']} to {rows[-1]['cycle']}: {settled:+.0f} MB "
        f"({fourth['trimmed_rss_mb']:.0f} -> {rows[-1]['trimmed_rss_mb']:.0f} MB; "
        f"at most {largest:+.0f} MB above cycle {fourth['cycle']})"
    )
    write_json(
        args.out,
        {
            "title": "Memory over many fits" + (" without gc.collect()" if args.no_gc else ""),
            "machine": machine(),
            "commit": measured,
            "tensorflow": tf.__version__,
            "command": " ".join(["python", *sys.argv]),
            "config": {k: v for k, v in vars(args).items() if k != "out"},
            "rss_before_mb": start,
            "cycles": rows,
            "growth_cycle2_to_last": growth,
            "growth_per_cycle": per_cycle,
            "trimmed_growth_cycle4_to_last_mb": settled,
            "trimmed_max_above_cycle4_mb": largest,
        },
    )


if __name__ == "__main__":
    main()
