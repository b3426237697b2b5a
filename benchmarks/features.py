"""Frozen embeddings: which input size, and does mirror averaging help? Probe and SVM accuracy.

For each dataset, the same fixed stratified split as ``accuracy.py`` (25 %
test, seed 0). For every input size and for ``PretrainedEmbedder(tta=False)``
(plain pooled features) and ``tta=True`` (the mean of the image's and its
mirror image's features), two classifiers on the standardised embeddings:
``LogisticRegression`` (the linear probe) and ``SVC`` with the inner grid of
``sktransfer.tuning.SVM_GRID``. Each gets a stratified 3-fold CV accuracy on
the training part (fold seeds 0, 1, 2) and a test accuracy after a refit on
the whole training part. The embedder runs once per image, size and view
(the activation cache); everything else is scikit-learn on arrays.

Examples::

    python benchmarks/features.py --backbone mobilenet_0.25 --sizes 224,288,352 \\
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5
    python benchmarks/features.py --backbone efficientnet_lite0 --sizes 224,288
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import Timer, dataset_parser, machine, parse_dataset_args, print_table, write_json


def classifiers(seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from sktransfer.tuning import SVM_GRID

    svm = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(random_state=seed)),
        SVM_GRID,
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
    )
    return {"probe": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), "svm": svm}


def score(name, F_train, y_train, F_test, y_test, seeds):
    """Mean CV accuracy over the fold seeds, and the test accuracy (mean over seeds)."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    cv, test = [], []
    for seed in seeds:
        model = classifiers(seed)[name]
        folds = StratifiedKFold(3, shuffle=True, random_state=seed)
        cv.append(cross_val_score(clone(model), F_train, y_train, cv=folds).mean())
        test.append(clone(model).fit(F_train, y_train).score(F_test, y_test))
    return float(np.mean(cv)), float(np.mean(test)), float(np.std(test))


def main():
    p = dataset_parser(__doc__)
    p.add_argument("--sizes", default="224,288")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--out", default=None)
    args = parse_dataset_args(p)
    sizes = [int(s) for s in args.sizes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]

    from sklearn.model_selection import train_test_split

    import sktransfer
    from sktransfer import PretrainedEmbedder, load_image_folder

    sktransfer.set_cache(max_bytes=6 * 2**30)
    out = args.out or f"features_{args.backbone}.json"
    header = dict(
        machine=machine(),
        command=" ".join(sys.argv),
        backbone=args.backbone,
        weights=args.weights,
        sizes=sizes,
        seeds=seeds,
    )
    print(header["machine"])
    rows = []
    for folder in args.folders:
        X, y, _ = load_image_folder(folder)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        dataset = os.path.basename(os.path.normpath(folder))
        for size in sizes:
            for tta in (False, True):
                embedder = PretrainedEmbedder(args.backbone, weights=args.weights, input_size=size, tta=tta)
                with Timer() as t:
                    F_train = embedder.fit(X_train[:1]).transform(X_train)
                    F_test = embedder.transform(X_test)
                for name in ("probe", "svm"):
                    cv, test, test_sd = score(name, F_train, y_train, F_test, y_test, seeds)
                    rows.append(
                        {
                            "dataset": dataset,
                            "size": size,
                            "tta": tta,
                            "classifier": name,
                            "cv_accuracy": cv,
                            "test_accuracy": test,
                            "test_sd": test_sd,
                            "embed_seconds": t.seconds,
                        }
                    )
                    print_table(rows[-1:], list(rows[-1]))
                write_json(out, {**header, "rows": rows}, quiet=True)
    print()
    print_table(
        rows,
        ["dataset", "size", "tta", "classifier", "cv_accuracy", "test_accuracy", "test_sd", "embed_seconds"],
    )
    write_json(out, {**header, "rows": rows})


if __name__ == "__main__":
    main()
