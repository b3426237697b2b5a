"""Where FineTunedClassifier's training defaults come from: a sweep of head-only settings.

On each dataset's training part (the same fixed stratified 75 % as
``accuracy.py``, seed 0), every setting gets a stratified 3-fold CV accuracy,
repeated with fold seeds 0 and 1 (6 fits), for a head-only fine-tune
(``trainable_layers=0``; the backbone runs once per image, through the
activation cache, and every fit trains only the head). The settings cross
the learning rate of Adam with the number of epochs, plus early stopping on a
10 % validation split. Test images are never touched: this chooses defaults,
``accuracy.py`` scores them.

Examples::

    python benchmarks/defaults.py --backbone mobilenet_0.25 \\
        --weights ../shared/data/weights/mobilenet_2_5_224_tf_no_top.h5
    python benchmarks/defaults.py --backbone efficientnet_lite0
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import dataset_parser, machine, parse_dataset_args, print_table, write_json

EARLY = dict(early_stopping=True, validation_fraction=0.1, patience=5)
SETTINGS = {
    "adam 0.001, 10 epochs": dict(learning_rate=0.001, epochs=10),
    "adam 0.001, 30 epochs": dict(learning_rate=0.001, epochs=30),
    "adam 0.003, 30 epochs": dict(learning_rate=0.003, epochs=30),
    "adam 0.01, 30 epochs": dict(learning_rate=0.01, epochs=30),
    "adam 0.003, 100 epochs": dict(learning_rate=0.003, epochs=100),
    "adam 0.003, <=100 epochs, early stopping": dict(learning_rate=0.003, epochs=100, **EARLY),
}


def cv_accuracy(params, args, X, y, seeds=(0, 1)):
    """Mean and SD of the CV accuracy over ``seeds`` x 3 folds, mean epochs run, seconds."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    from sktransfer import FineTunedClassifier

    accs, epochs = [], []
    start = time.perf_counter()
    for seed in seeds:
        for train, val in StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y):
            clf = FineTunedClassifier(
                args.backbone, weights=args.weights, input_size=args.size, random_state=seed, **params
            ).fit(X[train], y[train])
            accs.append(float(np.mean(clf.predict(X[val]) == y[val])))
            epochs.append(clf.n_epochs_)
    return (float(np.mean(accs)), float(np.std(accs)), float(np.mean(epochs)), time.perf_counter() - start)


def main():
    p = dataset_parser(__doc__)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--out", default=None)
    args = parse_dataset_args(p)

    from sklearn.model_selection import train_test_split

    import sktransfer
    from sktransfer import load_image_folder

    sktransfer.set_cache(max_bytes=6 * 2**30)
    out = args.out or f"defaults_{args.backbone}.json"
    header = dict(
        machine=machine(),
        command=" ".join(sys.argv),
        backbone=args.backbone,
        weights=str(args.weights),
        size=args.size,
    )
    print(header["machine"])
    rows = []
    for folder in args.folders:
        X, y, _ = load_image_folder(folder)
        X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
        dataset = os.path.basename(os.path.normpath(folder))
        for name, params in SETTINGS.items():
            acc, sd, epochs, seconds = cv_accuracy(params, args, X_train, y_train)
            rows.append(
                {
                    "dataset": dataset,
                    "setting": name,
                    "cv_acc": acc,
                    "cv_sd": sd,
                    "epochs_run": epochs,
                    "seconds": seconds,
                }
            )
            print(
                f"  {dataset:<18} {name:<42} cv {acc:.3f} +- {sd:.3f}  {epochs:.0f} epochs  {seconds:.0f}s",
                flush=True,
            )
            write_json(out, {**header, "runs": rows}, quiet=True)
    print()
    print_table(rows, ["dataset", "setting", "cv_acc", "cv_sd", "epochs_run", "seconds"])
    write_json(out, {**header, "runs": rows})


if __name__ == "__main__":
    main()
