"""The ``sktransfer`` commands: ``run_<command>(args, out)`` for each, in :data:`COMMANDS`.

Each checks its arguments and folders first, then imports TensorFlow, works,
prints its results to ``out`` and returns the exit code; problems are raised as
:class:`~sktransfer.cli.UsageError` or :class:`~sktransfer.cli.CommandError`.
"""

import json
import os
import time

from .. import __version__
from .._utils.atomic import replace_files, write_json
from .._utils.jsonable import jsonable
from ._backbones import run_backbones
from ._errors import CommandError, UsageError
from ._support import (
    Data,
    OutputFolder,
    classifier,
    file_list,
    headline,
    import_tensorflow,
    keras_verbose,
    load_folder,
    save_model,
    write_report_safely,
)

__all__ = ["COMMANDS"]


def _describe_model(est):
    weights = (
        "random weights"
        if est.weights is None
        else ("ImageNet weights" if est.weights == "imagenet" else f"weights {est.weights}")
    )
    size = est.backbone_info_["input_size"]
    return f"{est.backbone} ({weights}), {size[0]} x {size[1]} px, trainable_layers={est.trainable_layers!r}"


def _start(args):
    """``--out`` checked and the data loaded and split, then TensorFlow imported."""
    target = OutputFolder(args.out, args.overwrite)
    data = Data(args, args.input_size).split(args.test_per_class, args.seed)
    import_tensorflow()
    return target, data


def run_fit(args, out):
    """``sktransfer fit``: fine-tune, test on held-out images, save the run folder."""
    target, data = _start(args)
    from ..metrics import evaluate

    est = classifier(args, verbose=keras_verbose(args))
    with target.staging() as tmp:
        start = time.perf_counter()
        est.fit(data.X_train, data.y_train)
        fit_seconds = time.perf_counter() - start
        table = evaluate(est, data.X_test, data.y_test)
        save_model(est, os.path.join(tmp, "model"))
        report = write_report_safely(
            os.path.join(tmp, "report.html"),
            est,
            data.X_test,
            data.y_test,
            X_train=data.X_train,
            y_train=data.y_train,
            title=f"sktransfer fit: {est.backbone} on the {data.source}",
            data_summary=data.summary(),
        )
        write_json(
            os.path.join(tmp, "metrics.json"),
            jsonable(
                {
                    "command": args.command_line,
                    "data": data.summary(),
                    "fit_seconds": round(fit_seconds, 3),
                    "epochs_run": est.n_epochs_,
                    "test": table,
                    "history": est.history_,
                    "params": est.get_params(deep=False),
                    "backbone_info": est.backbone_info_,
                    "sktransfer": __version__,
                }
            ),
        )
    written = ["model", "metrics.json"] + (["report.html"] if report else [])
    print(
        f"data:   {data.description}\nsplit:  {data.split_description}\n"
        f"model:  {_describe_model(est)}; {est.n_epochs_} epochs in {fit_seconds:.1f} s\n"
        f"test:   {headline(table)}\nwrote:  {file_list(args.out, written)}",
        file=out,
    )
    return 0


def _load_classifier(model_dir):
    from ..persistence import load

    inner = os.path.join(model_dir, "model")
    if not os.path.isfile(os.path.join(model_dir, "estimator.json")) and os.path.isfile(
        os.path.join(inner, "estimator.json")
    ):
        model_dir = inner  # a run folder written by 'sktransfer fit'
    if not os.path.isdir(model_dir):
        raise CommandError(
            f"MODEL_DIR {model_dir!r} is not a folder; pass the model folder "
            "written by 'sktransfer fit' (RUN/model)."
        )
    try:
        est = load(model_dir)
    except ValueError as exc:
        raise CommandError(f"{exc} Pass the model folder written by 'sktransfer fit' (RUN/model).") from None
    if not hasattr(est, "classes_"):
        raise CommandError(
            f"{model_dir!r} holds an unfitted or non-classifier "
            f"{type(est).__name__}; pass a model saved by 'sktransfer fit'."
        )
    return est


def _predict_proba(est, X, batch_size, quiet):
    """predict_proba in chunks, with a progress bar."""
    import numpy as np
    from tqdm.auto import tqdm

    est.set_params(batch_size=min(est.batch_size, batch_size), verbose=0)
    parts = []
    with tqdm(total=len(X), desc="Predicting", unit="img", disable=quiet) as bar:
        for i in range(0, len(X), batch_size):
            parts.append(est.predict_proba(X[i : i + batch_size]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


class _Scores:
    """A fitted classifier stand-in that returns probabilities computed once."""

    def __init__(self, classes, proba):
        self.classes_, self._proba = classes, proba

    def predict_proba(self, X):
        return self._proba


def run_evaluate(args, out):
    """``sktransfer evaluate``: the metrics of a saved model on a folder."""
    X, y, classes = load_folder(args.data_dir)
    import_tensorflow()
    from ..metrics import evaluate

    est = _load_classifier(args.model_dir)
    known = set(map(str, est.classes_))
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise CommandError(
            f"class folder(s) {', '.join(map(repr, unknown))} of {args.data_dir!r} are not "
            f"classes of the model ({', '.join(map(repr, est.classes_))}); rename or remove them."
        )
    # Folder names are strings; a model fitted in Python may have other labels
    # (0 and 1, say): each folder stands for the class its name spells.
    index = {str(c): i for i, c in enumerate(est.classes_)}
    y = est.classes_[[index[label] for label in y]]
    proba = _predict_proba(est, X, args.batch_size, args.quiet)
    table = evaluate(_Scores(est.classes_, proba), X, y)
    if args.json:
        print(json.dumps(jsonable(table), indent=2), file=out)
    else:
        print(f"{args.data_dir}: {len(X)} images, {len(classes)} classes\n{table}", file=out)
    return 0


def _image_files(items):
    from ..datasets import IMAGE_EXTENSIONS, walk_visible

    files = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(
                os.path.join(folder, name)
                for folder, names in walk_visible(item)
                for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS)
            )
            if not found:
                raise CommandError(f"folder {item!r} holds no image file ({', '.join(IMAGE_EXTENSIONS)}).")
            files.extend(found)
        elif not os.path.exists(item):
            raise CommandError(f"image {item!r} does not exist; check the path.")
        else:
            files.append(item)
    return files


def _check_names_can_be_written(files, out):
    """Every path can be written to ``out``, checked before anything is predicted
    or written: a file name that is not valid UTF-8 cannot go to a UTF-8 stdout,
    and the CSV would stop half-way."""
    encoding = getattr(out, "encoding", None)
    if not encoding:
        return
    for path in files:
        try:
            path.encode(encoding, getattr(out, "errors", None) or "strict")
        except UnicodeEncodeError:
            raise CommandError(
                f"the file name {path!a} cannot be written to the output ({encoding}); rename "
                f"the file, or set PYTHONIOENCODING={encoding}:surrogateescape to write the "
                "name's bytes as they are."
            ) from None


def run_predict(args, out):
    """``sktransfer predict``: a CSV row of class probabilities per image."""
    import csv

    import numpy as np

    files = _image_files(args.images)
    _check_names_can_be_written(files, out)
    import_tensorflow()
    est = _load_classifier(args.model_dir)
    proba = _predict_proba(est, np.array(files, dtype=object), args.batch_size, args.quiet)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["path", "predicted", *map(str, est.classes_)])
    for path, row in zip(files, proba):
        writer.writerow([path, est.classes_[int(np.argmax(row))], *(f"{p:.6f}" for p in row)])
    return 0


def _check_grid(est, params):
    """Names and values of --param, checked before any fit (usage errors)."""
    from sklearn.base import clone

    from ..estimators import make_optimizer

    known = est.get_params(deep=True)
    grid = {}
    for name, values in params:
        if name in grid:
            raise UsageError(
                f"argument --param: {name!r} is given twice; list all its values "
                f"in one --param {name}=V1,V2,..."
            )
        if name not in known:
            hint = " (set --augment first)" if name.startswith("augmentation__") else ""
            names = ", ".join(sorted(est.get_params(deep=False)))
            raise UsageError(
                f"argument --param: FineTunedClassifier has no parameter {name!r}{hint}; choose from {names}."
            )
        for value in values:
            try:
                clone(est).set_params(**{name: value})._validate_params()
                if name == "optimizer":  # any string passes _validate_params
                    make_optimizer(value, est.learning_rate)
            except (ValueError, TypeError) as exc:
                raise UsageError(f"argument --param {name}={value!r}: {exc}") from None
        grid[name] = values
    return grid


def run_grid(args, out):
    """``sktransfer grid``: cross-validated grid search, the best model tested and saved."""
    target, data = _start(args)
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from ..metrics import evaluate

    est = classifier(args)
    grid = _check_grid(est, args.param)
    cv = StratifiedKFold(args.cv, shuffle=True, random_state=args.seed)
    search = GridSearchCV(est, grid, cv=cv, error_score="raise", verbose=0 if args.quiet else 3)
    with target.staging() as tmp:
        start = time.perf_counter()
        search.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
        table = evaluate(search.best_estimator_, data.X_test, data.y_test)
        save_model(search.best_estimator_, os.path.join(tmp, "model"))
        results = search.cv_results_
        candidates = [
            {
                "rank": int(results["rank_test_score"][i]),
                "params": results["params"][i],
                "mean_test_score": float(results["mean_test_score"][i]),
                "std_test_score": float(results["std_test_score"][i]),
                "mean_fit_time": float(results["mean_fit_time"][i]),
            }
            for i in range(len(results["params"]))
        ]
        report = write_report_safely(
            os.path.join(tmp, "report.html"),
            search.best_estimator_,
            data.X_test,
            data.y_test,
            X_train=data.X_train,
            y_train=data.y_train,
            search=search,
            title=f"sktransfer grid: {est.backbone} on the {data.source}",
            data_summary=data.summary(),
        )
        write_json(
            os.path.join(tmp, "grid.json"),
            jsonable(
                {
                    "command": args.command_line,
                    "data": data.summary(),
                    "param_grid": grid,
                    "cv": {"n_splits": args.cv, "shuffle": True, "random_state": args.seed},
                    "scoring": "accuracy",
                    "candidates": candidates,
                    "best_params": search.best_params_,
                    "best_score": float(search.best_score_),
                    "search_seconds": round(seconds, 3),
                    "test": table,
                    "params": est.get_params(deep=False),
                    "sktransfer": __version__,
                }
            ),
        )
    names = list(grid)
    rows = [["rank", *names, "mean accuracy", "std", "fit s"]]
    for c in sorted(candidates, key=lambda c: c["rank"]):
        rows.append(
            [
                str(c["rank"]),
                *(repr(c["params"][n]) for n in names),
                f"{c['mean_test_score']:.3f}",
                f"{c['std_test_score']:.3f}",
                f"{c['mean_fit_time']:.1f}",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
    written = ["model", "grid.json"] + (["report.html"] if report else [])
    print(
        f"data:   {data.description}\nsplit:  {data.split_description}\n"
        f"search: {len(candidates)} candidates x {args.cv} folds in {seconds:.1f} s\n{text}\n"
        f"best:   {search.best_params_} -> test {headline(table)}\n"
        f"wrote:  {file_list(args.out, written)}",
        file=out,
    )
    return 0


def run_compare(args, out):
    """``sktransfer compare``: several backbones or weights on one split; the best saved."""
    backbones, weights = args.backbone, args.weights
    if len(backbones) > 1 and len(weights) > 1 and len(backbones) != len(weights):
        raise UsageError(
            f"argument --weights: give one value for all backbones or one per "
            f"backbone ({len(backbones)}), got {len(weights)}."
        )
    n = max(len(backbones), len(weights))
    pairs = [(backbones[i % len(backbones)], weights[i % len(weights)]) for i in range(n)]
    target, data = _start(args)
    from ..compare import agreement, compare_models, short_names

    estimators = [classifier(args, backbone=b, weights=w, verbose=keras_verbose(args)) for b, w in pairs]
    labels = short_names([w for _, w in pairs])  # a weights file by its name, not its path
    names = (
        labels
        if len(backbones) == 1
        else backbones
        if len(weights) == 1
        else [f"{b} ({label})" for (b, _), label in zip(pairs, labels)]
    )
    with target.staging() as tmp:
        table = compare_models(
            estimators, data.X_train, data.y_train, data.X_test, data.y_test, names=names, warm=args.warm
        )
        best = max(table, key=lambda row: row["accuracy"])["name"]  # the first of ties
        agree = None
        if len(table) == 2:  # two models (e.g. two weights): where each one is right
            agree = agreement(
                data.y_test,
                *(table.estimators_[n].predict(data.X_test) for n in table.names),
                names=table.names,
            )
        est = table.estimators_[best]
        save_model(est, os.path.join(tmp, "model"))
        report = write_report_safely(
            os.path.join(tmp, "report.html"),
            est,
            data.X_test,
            data.y_test,
            X_train=data.X_train,
            y_train=data.y_train,
            comparison=table,
            title=f"sktransfer compare on the {data.source} (report of the best: {best})",
            data_summary=data.summary(),
        )
        write_json(
            os.path.join(tmp, "compare.json"),
            jsonable(
                {
                    "command": args.command_line,
                    "data": data.summary(),
                    "best": best,
                    "comparison": table.to_records(),
                    "params": est.get_params(deep=False),
                    "agreement": None
                    if agree is None
                    else {
                        "names": list(agree.names),
                        "counts": agree.counts.tolist(),
                        "mcnemar_p": agree.mcnemar_p,
                    },
                    "sktransfer": __version__,
                }
            ),
        )
    written = ["model", "compare.json"] + (["report.html"] if report else [])
    print(
        f"data:   {data.description}\nsplit:  {data.split_description}\n{table}\n"
        + ("" if agree is None else f"{agree}\n")
        + f"best:   {best} (saved as the model)\nwrote:  {file_list(args.out, written)}",
        file=out,
    )
    return 0


def run_embed(args, out):
    """``sktransfer embed``: frozen backbone features as ``.npy``, rows listed in a sidecar."""
    import numpy as np
    from tqdm.auto import tqdm

    target = os.path.abspath(args.output)
    sidecar = target + ".json"
    for path in (target, sidecar):
        if os.path.isdir(path):
            raise CommandError(f"{path!r} is a folder; pass a file name such as features.npy.")
        if os.path.exists(path) and not args.overwrite:
            raise CommandError(f"{path!r} exists; pass --overwrite to replace it.")
    X, y, classes = load_folder(args.data_dir)
    import_tensorflow()
    from ..backbones import get_backbone_spec
    from ..estimators import PretrainedEmbedder

    try:
        get_backbone_spec(args.backbone)
    except ValueError as exc:
        raise UsageError(f"argument --backbone: {exc}") from None
    embedder = PretrainedEmbedder(
        args.backbone,
        weights=args.weights,
        pooling=args.pooling,
        input_size=args.input_size,
        batch_size=args.batch_size,
        tta=args.tta,
    )
    embedder.fit(X[:1])
    chunk = max(args.batch_size, 64)
    parts = []
    with tqdm(total=len(X), desc="Embedding", unit="img", disable=args.quiet) as bar:
        for i in range(0, len(X), chunk):
            parts.append(embedder.transform(X[i : i + chunk]))
            bar.update(len(parts[-1]))
    features = np.concatenate(parts)
    rows = {
        "command": args.command_line,
        "data_dir": args.data_dir,
        "backbone_info": embedder.backbone_info_,
        "pooling": args.pooling,
        "tta": args.tta,
        "shape": features.shape,
        "classes": classes,
        "paths": X,
        "labels": y,
    }
    text = json.dumps(jsonable(rows), indent=1) + "\n"

    def save_features(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, features)

    os.makedirs(os.path.dirname(target), exist_ok=True)
    replace_files([(target, save_features), (sidecar, text)])
    print(
        f"{args.data_dir}: {len(X)} images, {len(classes)} classes -> {args.output} "
        f"{features.shape[0]} x {features.shape[1]} float32 ({args.backbone}, "
        f"{args.pooling} pooling{', mirror-averaged' if args.tta else ''}); "
        f"rows listed in {args.output}.json",
        file=out,
    )
    return 0


COMMANDS = {
    "fit": run_fit,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "grid": run_grid,
    "compare": run_compare,
    "embed": run_embed,
    "backbones": run_backbones,
}
