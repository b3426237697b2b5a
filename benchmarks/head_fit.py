"""What a warm head-only candidate fit costs (activation cache filled, trainer pooled, defaults).

A grid search over head-only candidates pays, per fit, only what follows the
frozen pass: this script fills the cache once (a folder, so later runs start
warm), fits the same candidate a few times and reports the median seconds of
the warm fits, then profiles one more with cProfile (``--profile N`` prints the
N most expensive functions, cumulative).

Examples
--------
::

    python benchmarks/head_fit.py --size 224 --n 600 --profile 25
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import tempfile

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
    p.add_argument("--out", default=None, help="JSON file (bare name: benchmarks/results/)")
    return p.parse_args()


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
    times = []
    for _ in range(args.repeats):
        with Timer() as t:
            clf.fit(X, y)
        times.append(t.seconds)
    median = statistics.median(times)
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
                "machine": machine(),
            },
        )


if __name__ == "__main__":
    main()
