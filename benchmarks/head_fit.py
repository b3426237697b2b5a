"""What a warm head-only candidate fit costs (activation cache filled, trainer pooled, defaults).

A grid search over head-only candidates pays, per fit, only what follows the
frozen pass: this script fills the cache once (a folder, so later runs start
warm), fits the same candidate a few times and reports the median seconds of
the warm fits, then profiles one more with cProfile (``--profile N`` prints the
N most expensive functions, cumulative).

``--parts`` times what each part of the warm fits costs (the training loop,
building the network, releasing the fit's own layers, the frozen stages, the
rest). ``--kernel`` times, for this fit's shapes, the arithmetic of its
training steps alone: the Dense layer's forward pass and weight gradient for
one batch, in TensorFlow (graph and XLA) and in NumPy, the floor under the
training loop on this machine.

Examples
--------
::

    python benchmarks/head_fit.py --size 224 --n 600 --profile 25
    python benchmarks/head_fit.py --parts --kernel --out head_fit_fixed_costs.json
"""

import argparse
import contextlib
import cProfile
import os
import pstats
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import SHARED_DATA, Timer, machine, random_weights_file, write_json


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(SHARED_DATA, "tf_flowers"))
    p.add_argument("--n", type=int, default=600, help="images (split evenly over the classes)")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--backbone", default="resnet50v2")
    p.add_argument("--weights", default=None, help="'imagenet' or a file; default: random file")
    p.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "sktransfer_head_fit_cache"))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--profile", type=int, default=0, help="print the N costliest functions of one fit")
    p.add_argument("--parts", action="store_true", help="time the parts of the warm fits")
    p.add_argument("--kernel", action="store_true", help="time one training step's arithmetic alone")
    p.add_argument("--out", default=None, help="JSON file (bare name: benchmarks/results/)")
    return p.parse_args()


#: (label, module, function) of the parts that ``--parts`` times, in the order they run.
PARTS = [
    ("building the fit's network", "sktransfer.estimators._finetune", "FineTunedClassifier._build_network"),
    ("frozen_stages (the frozen part's stages)", "sktransfer.estimators._training", "frozen_stages"),
    ("training loop (one graph call)", "sktransfer.estimators._training", "fit_in_graph"),
    ("releasing the fit's own layers", "sktransfer.estimators._training", "release_network"),
]


@contextlib.contextmanager
def timed_parts(totals):
    """Wrap the functions of PARTS, adding each call's seconds to ``totals[label]``."""
    import importlib

    undo = []
    for label, module_name, name in PARTS:
        module = importlib.import_module(module_name)
        owner, attr = (
            (module, name) if "." not in name else (getattr(module, name.split(".")[0]), name.split(".")[1])
        )
        original = getattr(owner, attr)

        def wrapper(*args, _original=original, _label=label, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] = totals.get(_label, 0.0) + time.perf_counter() - start

        setattr(owner, attr, wrapper)
        undo.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in undo:
            setattr(owner, attr, original)


def kernel_rows(n_rows, n_features, n_classes, batch, epochs):
    """Seconds of the fit's batches' forward passes and weight gradients alone, three ways.

    Each step takes its batch's rows from the ``n_rows`` features (as the loop
    does), multiplies them by the Dense kernel and forms the kernel's gradient
    from the batch's output gradient: the arithmetic no loop can avoid.
    """
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(n_rows, n_features)).astype("float32")
    w = rng.normal(size=(n_features, n_classes)).astype("float32")
    g = rng.normal(size=(batch, n_classes)).astype("float32")
    n_batches = n_rows // batch  # whole batches only: the same shapes every step
    order = np.stack([rng.permutation(n_rows)[: n_batches * batch] for _ in range(epochs)])
    order = order.reshape(-1, batch).astype("int32")

    def tf_loop(jit):
        @tf.function(jit_compile=jit, autograph=False)
        def run(x, w, g, order):
            def body(i, acc):
                xb = tf.gather(x, order[i])
                return i + 1, acc + tf.reduce_sum(xb @ w) + tf.reduce_sum(tf.transpose(xb) @ g)

            return tf.while_loop(lambda i, acc: i < tf.shape(order)[0], body, (0, 0.0))[1]

        run(x, w, g, order)  # traced (and compiled) here
        start = time.perf_counter()
        run(x, w, g, order)
        return time.perf_counter() - start

    start = time.perf_counter()
    for ids in order:
        xb = x[ids]
        _ = (xb @ w).sum() + (xb.T @ g).sum()
    numpy_seconds = time.perf_counter() - start
    return [
        ["TensorFlow graph (tf.while_loop)", tf_loop(False)],
        ["TensorFlow XLA (jit_compile)", tf_loop(True)],
        ["NumPy (OpenBLAS)", numpy_seconds],
    ], len(order)


def main():
    args = parse_args()
    from sktransfer import FineTunedClassifier, load_image_folder

    paths, labels, _ = load_image_folder(args.data)
    classes = sorted(set(labels.tolist()))
    keep = np.concatenate([np.flatnonzero(labels == c)[: args.n // len(classes)] for c in classes])
    X, y = paths[keep], labels[keep]
    weights = args.weights or random_weights_file(
        args.backbone, args.size, os.path.join(os.path.dirname(__file__), "results", "weights")
    )
    clf = FineTunedClassifier(
        args.backbone, weights=weights, input_size=args.size, cache=args.cache_dir, random_state=0
    )
    with Timer() as first:
        clf.fit(X, y)  # fills the cache (or reads it from the folder) and the trainer pool
    times, totals = [], {}
    with timed_parts(totals) if args.parts else contextlib.nullcontext():
        for _ in range(args.repeats):
            with Timer() as t:
                clf.fit(X, y)
            times.append(t.seconds)
    median = statistics.median(times)
    parts = []
    if args.parts:
        parts = [["whole fit (mean)", statistics.mean(times)]]
        parts += [[label, totals.get(label, 0.0) / args.repeats] for label, _, _ in PARTS]
        parts.append(
            [
                "the rest (validation, labels, cache look-up, trainer load)",
                statistics.mean(times) - sum(p[1] for p in parts[1:]),
            ]
        )
        print("mean seconds per warm fit, by part:")
        for label, seconds in parts:
            print(f"  {label:<60} {seconds:.3f}")
    kernel = []
    if args.kernel:
        n_features = clf.model_.get_layer("logits").kernel.shape[0]
        kernel, steps = kernel_rows(len(X), n_features, len(clf.classes_), clf.batch_size, clf.epochs)
        print(f"the arithmetic of {steps} training steps alone (forward + weight gradient of one batch):")
        for label, seconds in kernel:
            print(f"  {label:<40} {seconds:.3f} s")
    print(machine())
    print(f"{len(X)} images, {args.size} px, {args.backbone}: first fit {first.seconds:.2f} s")
    each = ", ".join(f"{t:.3f}" for t in times)
    print(f"warm head-only fit: median {median:.3f} s over {args.repeats} ({each})")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        clf.fit(X, y)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.profile)
    if args.out:
        write_json(
            args.out,
            {
                "title": "A warm head-only candidate fit",
                "images": len(X),
                "size": args.size,
                "backbone": args.backbone,
                "first_fit_seconds": first.seconds,
                "warm_fit_seconds": times,
                "warm_fit_median_seconds": median,
                "tables": [
                    {
                        "caption": "Mean seconds per warm fit, by part",
                        "columns": ["part", "seconds"],
                        "rows": parts,
                    },
                    {
                        "caption": "The arithmetic of the training steps alone (forward and weight gradient)",
                        "columns": ["run by", "seconds"],
                        "rows": kernel,
                    },
                ],
                "machine": machine(),
            },
        )


if __name__ == "__main__":
    main()
