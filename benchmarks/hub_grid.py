"""Activation-cache speed-up of a grid search on a keras-hub backbone (a timm ResNet-18 folder).

GridSearchCV over ``trainable_layers`` of ``FineTunedClassifier`` on a timm-format
ResNet-18 checkpoint folder (keras-hub converts it on load), once with the
activation cache and once with ``cache=False``; same images, folds, seeds.
Without ``--backbone`` a folder with random weights in timm's key names is
written first (the compute is that of the real weights; no network).

Example::

    python benchmarks/hub_grid.py --n 96 --size 128 --grid 0,2,stack3 --cv 3 --epochs 2
"""

import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the checkpoint writer

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from _common import machine, write_json  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--backbone",
        help="keras-hub handle or checkpoint folder (default: a random "
        "timm ResNet-18 folder written to a temporary folder)",
    )
    p.add_argument("--n", type=int, default=48, help="images (two classes)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument(
        "--grid",
        default="0,2,stack3",
        help="trainable_layers values (1 trains only a BatchNormalization: it warns)",
    )
    p.add_argument("--cv", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--json", help="write the figures here")
    return p.parse_args()


def run(backbone, X, y, grid, args, cache):
    import sktransfer as skt
    from sktransfer._engine.templates import clear_templates

    clear_templates()
    skt.clear_cache()
    clf = skt.FineTunedClassifier(
        backbone,
        input_size=args.size,
        epochs=args.epochs,
        head_epochs=0,
        batch_size=16,
        tta=False,
        cache=cache,
        random_state=0,
    )
    search = GridSearchCV(
        clf, {"trainable_layers": grid}, cv=StratifiedKFold(args.cv, shuffle=True, random_state=0)
    )
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search.cv_results_["mean_test_score"]


def main():
    args = parse_args()
    grid = [int(v) if v.isdigit() else v for v in args.grid.split(",")]
    backbone = args.backbone
    if backbone is None:
        from hub_checkpoints import write_timm_resnet18

        backbone = write_timm_resnet18(os.path.join(tempfile.mkdtemp(), "resnet18.random"))
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(args.n, args.size, args.size, 3), dtype=np.uint8)
    y = np.array(["a", "b"] * (args.n // 2))
    from sktransfer.backbones import get_backbone_spec

    get_backbone_spec(backbone)  # keras-hub import and the spec, outside the timings
    fits = len(grid) * args.cv + 1
    cached, scores_c = run(backbone, X, y, grid, args, True)
    plain, scores_p = run(backbone, X, y, grid, args, False)
    print(
        f"{backbone}: GridSearchCV over trainable_layers={grid}, {args.cv}-fold, {fits} fits, "
        f"{args.n} images at {args.size} px, {args.epochs} epochs"
    )
    print(f"  cache=True   {cached:7.1f} s   mean CV scores {np.round(scores_c, 3).tolist()}")
    print(f"  cache=False  {plain:7.1f} s   mean CV scores {np.round(scores_p, 3).tolist()}")
    print(f"  speed-up     {plain / cached:7.2f}x")
    if args.json:
        write_json(
            args.json,
            {
                "machine": machine(),
                "args": vars(args),
                "cached_s": cached,
                "uncached_s": plain,
                "speedup": plain / cached,
            },
        )


if __name__ == "__main__":
    main()
