"""Classic grid search: sktransfer vs the naive way (scikeras rebuilding the CNN per fit).

The grid of the classic assignment: trainable layers 1..10 x batch size
32/64/128, 3-fold stratified CV, 3 epochs, binary subset of tf_flowers, with
ResNet50V2. Both sides get the same images, candidates and folds; the naive
side is scikeras' KerasClassifier (with a tags fix so that GridSearchCV
stratifies) building ResNet50V2 and running the frozen layers in every step.
By default the grid's FineTunedClassifier keeps its defaults (two-stage fit
with ``head_epochs=30``, test-time mirror averaging); ``--same-work`` sets
``tta=False, head_epochs=0`` so that it does the naive side's work (train head
and layers together from a random head, predict each test image once). The
head-only candidates are timed with the defaults.

ImageNet weights cannot be downloaded here, so both sides load the same
weights *file* (a random initialisation saved once; the compute is the same as
with ImageNet weights). Pass ``--weights imagenet`` on a machine with internet.

Examples
--------
Full grid, sktransfer only (the naive side would take hours on 2 cores)::

    python benchmarks/grid_search.py --size 224 --skip-naive

Reduced grid on which both sides run, ratio measured in one run::

    python benchmarks/grid_search.py --size 96 --subset 1,5,10:32,64

The grid of issue 24 (120 photos at 128 px, trainable layers 0/2/4 x batch
16/32), with the defaults and with the naive side's work::

    python benchmarks/grid_search.py --size 128 --n-per-class 60 --subset 0,2,4:16,32 --skip-cheap --both
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np
from _common import SHARED_DATA, Timer, machine, print_table, random_weights_file, write_json
from sklearn.model_selection import GridSearchCV, StratifiedKFold


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(SHARED_DATA, "tf_flowers"))
    p.add_argument("--classes", default="daisy,dandelion", help="two class folders")
    p.add_argument("--n-per-class", type=int, default=150)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--backbone", default="resnet50v2")
    p.add_argument("--weights", default=None, help="'imagenet' or a file; default: random file")
    p.add_argument("--subset", default=None, help="reduced grid 'LAYERS:BATCHES', e.g. '1,5,10:32,64'")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument(
        "--same-work",
        action="store_true",
        help="sktransfer with tta=False, head_epochs=0 (the naive side's work); default: its defaults",
    )
    p.add_argument("--both", action="store_true", help="sktransfer with its defaults and with --same-work")
    p.add_argument("--skip-cheap", action="store_true", help="skip the warm head-only / embedder candidates")
    p.add_argument("--out", default="grid_search.json")
    return p.parse_args()


def load_data(args):
    from sktransfer import load_image_folder

    paths, labels, _ = load_image_folder(args.data)
    keep = []
    for cls in args.classes.split(","):
        keep.extend(np.flatnonzero(labels == cls)[: args.n_per_class])
    keep = np.array(keep)
    return paths[keep], labels[keep]


def grid(args):
    layers, batches = list(range(1, 11)), [32, 64, 128]
    if args.subset:
        left, right = args.subset.split(":")
        layers, batches = [int(v) for v in left.split(",")], [int(v) for v in right.split(",")]
    return layers, batches


class _Classic:
    """Tags fix: scikeras 0.13 reports no estimator type on scikit-learn >= 1.6, so
    cv=3 would not stratify and roc_auc would fail; declare it a classifier."""

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags

        tags = super().__sklearn_tags__()
        tags.estimator_type = "classifier"
        tags.classifier_tags = ClassifierTags()
        return tags


def naive_estimator(args, weights):
    import keras
    from scikeras.wrappers import KerasClassifier

    def build(trainable_layers, meta, compile_kwargs):
        base = keras.applications.ResNet50V2(
            include_top=False, weights=weights, input_shape=(args.size, args.size, 3)
        )
        weighted = [layer for layer in base.layers if layer.trainable_weights]
        for layer in base.layers:
            layer.trainable = False
        for layer in weighted[len(weighted) - trainable_layers :]:  # 0: none ([-0:] would be all)
            layer.trainable = True
        inputs = keras.Input((args.size, args.size, 3))
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
        x = base(x, training=False)
        x = keras.layers.GlobalAveragePooling2D()(x)
        outputs = keras.layers.Dense(1, activation="sigmoid")(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=compile_kwargs["optimizer"], loss="binary_crossentropy", metrics=["accuracy"])
        return model

    class NaiveClassifier(_Classic, KerasClassifier):
        pass

    return NaiveClassifier(
        model=build,
        model__trainable_layers=1,
        optimizer="adam",
        epochs=args.epochs,
        batch_size=32,
        verbose=0,
        random_state=0,
    )


def frozen_floor(args, weights, images):
    """Seconds of one frozen forward pass of the backbone over all images."""
    import keras

    from sktransfer._engine.frozen import run_model
    from sktransfer.backbones import build_backbone

    model, _ = build_backbone(args.backbone, weights, args.size)
    x = images.astype("float32") / 127.5 - 1.0
    run_model(model, x[:8], 8)  # warm-up
    with Timer() as t:
        run_model(model, x, 32)
    del model
    keras.backend.clear_session()
    return t.seconds


COLUMNS = ["method", "seconds", "fits", "s_per_fit", "x_floor", "fit_share_of_floor", "best_score"]


def timing_row(method, seconds, n_fits, floor, **extra):
    """One row of the table: total and per-fit seconds, and the total as a multiple of the floor."""
    return {
        "method": method,
        "seconds": seconds,
        "fits": n_fits,
        "s_per_fit": seconds / n_fits,
        "x_floor": seconds / floor,
        **extra,
    }


def fit_seconds(search, param):
    """Mean fit seconds of one fold, by ``param``'s value (averaged over the other parameters)."""
    values = np.array([p[param] for p in search.cv_results_["params"]])
    times = search.cv_results_["mean_fit_time"]
    return {str(v): float(times[values == v].mean()) for v in sorted(set(values.tolist()))}


def cheap_candidates(args, weights, paths, y, cv, floor):
    """Warm-cache cost of head-only and embedder candidates, as a share of the floor.

    Each search runs twice; the second (cache and trainers warm) is timed.
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer import FineTunedClassifier, PretrainedEmbedder

    searches = {
        "head-only candidates (warm)": (
            FineTunedClassifier(
                args.backbone,
                weights=weights,
                input_size=args.size,
                trainable_layers=0,
                epochs=args.epochs,
                random_state=0,
            ),
            {"batch_size": [32, 64, 128]},
        ),
        "embedder + logistic regression candidates (warm)": (
            make_pipeline(
                PretrainedEmbedder(args.backbone, weights=weights, input_size=args.size),
                LogisticRegression(max_iter=1000),
            ),
            {"logisticregression__C": [0.1, 1.0, 10.0]},
        ),
    }
    rows = []
    for label, (estimator, grid_) in searches.items():
        for _ in range(2):
            search = GridSearchCV(estimator, grid_, cv=cv, refit=False, error_score="raise")
            with Timer() as t:
                search.fit(paths, y)
        n_fits = len(search.cv_results_["params"]) * cv.get_n_splits()
        rows.append(
            timing_row(
                label,
                t.seconds,
                n_fits,
                floor,
                fit_share_of_floor=t.seconds / n_fits / floor,
                best_score=float(search.best_score_),
            )
        )
        print_table(rows[-1:], COLUMNS)
    # The embedder's own part of those candidates (the rest is the regression's fit):
    # what a pipeline's embedder step does per fit and fold, on the warm cache.
    embedder = PretrainedEmbedder(args.backbone, weights=weights, input_size=args.size)
    n_fits = 3 * cv.get_n_splits()
    with Timer() as t:
        for _ in range(3):
            for train, test in cv.split(paths, y):
                fitted = clone(embedder).fit(paths[train])
                fitted.transform(paths[train]), fitted.transform(paths[test])
    rows.append(
        timing_row(
            "embedder step alone (warm; fit + transform, per candidate and fold)",
            t.seconds,
            n_fits,
            floor,
            fit_share_of_floor=t.seconds / n_fits / floor,
            best_score=None,
        )
    )
    print_table(rows[-1:], COLUMNS)
    return rows


def main():
    args = parse_args()
    from sktransfer import FineTunedClassifier, clear_cache, clear_templates
    from sktransfer.images import load_images

    weights = args.weights or random_weights_file(
        args.backbone, args.size, os.path.join(os.path.dirname(__file__), "results", "weights")
    )
    paths, y = load_data(args)
    layers, batches = grid(args)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    print(
        f"{machine()}\n{len(paths)} images, {args.size} px, {len(layers)} x {len(batches)} "
        f"candidates x 3 folds, {args.epochs} epochs"
    )
    with Timer() as t_decode:
        images = load_images(paths, args.size)
    floor = frozen_floor(args, weights, images)
    print(f"decode once: {t_decode.seconds:.1f} s; one frozen forward pass (floor): {floor:.1f} s")

    rows = []
    # same work: tta=False, the naive side predicts each image once (test-time
    # augmentation also runs every test image's mirror image through the frozen
    # layers); head_epochs=0, like the naive side, head and layers train together
    # from a random head. Otherwise sktransfer's defaults.
    variants = {"defaults": {}, "same work": dict(tta=False, head_epochs=0)}
    chosen = list(variants) if args.both else ["same work" if args.same_work else "defaults"]
    params = {"trainable_layers": layers, "batch_size": batches}
    cold_warm = {}
    for variant in chosen:
        clf = FineTunedClassifier(
            args.backbone,
            weights=weights,
            input_size=args.size,
            epochs=args.epochs,
            random_state=0,
            **variants[variant],
        )
        # Each variant from a cold start, as in a new process.
        clear_cache()
        clear_templates()
        for label in (f"sktransfer {variant} (cold cache)", f"sktransfer {variant} (warm cache)"):
            search = GridSearchCV(clf, params, cv=cv, refit=False, error_score="raise")
            with Timer() as t:
                search.fit(paths, y)
            n_fits = len(search.cv_results_["params"]) * 3
            rows.append(
                timing_row(
                    label,
                    t.seconds,
                    n_fits,
                    floor,
                    best_score=float(search.best_score_),
                    fit_seconds_by_candidate=fit_seconds(search, "trainable_layers"),
                )
            )
            print_table(rows[-1:], COLUMNS)
        cold_warm[variant] = (rows[-2]["seconds"], rows[-1]["seconds"])
        rows[-2]["training_share"] = rows[-1]["seconds"] / rows[-2]["seconds"]
    if not args.skip_cheap:
        rows.extend(cheap_candidates(args, weights, paths, y, cv, floor))

    if not args.skip_naive:
        naive = naive_estimator(args, weights)
        search = GridSearchCV(
            naive,
            {"model__trainable_layers": layers, "batch_size": batches},
            cv=cv,
            refit=False,
            error_score="raise",
        )
        y01 = (y == sorted(set(y))[1]).astype(int)
        with Timer() as t:
            search.fit(images, y01)
        n_fits = len(search.cv_results_["params"]) * 3
        by_layers = fit_seconds(search, "model__trainable_layers")
        rows.append(
            timing_row(
                "naive scikeras",
                t.seconds,
                n_fits,
                floor,
                best_score=float(search.best_score_),
                fit_seconds_by_candidate=by_layers,
            )
        )
        for variant, (cold, warm) in cold_warm.items():
            rows[-1][f"ratio_naive_over_sktransfer_{variant.replace(' ', '_')}_cold"] = t.seconds / cold
            rows[-1][f"ratio_naive_over_sktransfer_{variant.replace(' ', '_')}_warm"] = t.seconds / warm

    print()
    print_table(rows, COLUMNS)
    print("\nmean fit seconds (one fold) by trainable layers, averaged over batch sizes:")
    print_table(
        [
            {"method": row["method"], **row["fit_seconds_by_candidate"]}
            for row in rows
            if "fit_seconds_by_candidate" in row
        ],
        ["method"] + [str(n) for n in layers],
    )
    if not args.skip_naive:
        naive_seconds = rows[-1]["seconds"]
        for variant, (cold, warm) in cold_warm.items():
            print(
                f"\nnaive / sktransfer {variant} (same grid, same run): {naive_seconds / cold:.1f}x cold "
                f"cache, {naive_seconds / warm:.1f}x warm"
            )
    write_json(
        args.out,
        {
            "title": f"Grid search at {args.size} px, sktransfer ({' and '.join(chosen)}) "
            "against the naive way",
            "machine": machine(),
            "command": " ".join(["python"] + sys.argv),
            "sktransfer_params": {variant: variants[variant] or "defaults" for variant in chosen},
            "images": len(paths),
            "size": args.size,
            "grid": params,
            "epochs": args.epochs,
            "decode_seconds": t_decode.seconds,
            "frozen_floor_seconds": floor,
            "rows": rows,
            "time": time.strftime("%Y-%m-%d %H:%M"),
        },
    )


if __name__ == "__main__":
    main()
