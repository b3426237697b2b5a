"""The commands that train: ``fit``, ``grid`` and ``compare`` (see :data:`COMMANDS`).

Each checks its arguments and folders first, then imports TensorFlow, trains,
prints its results to ``out`` and returns the exit code.
"""

import os
import time

from .. import __version__
from .._utils.atomic import write_json
from .._utils.jsonable import jsonable
from ._errors import UsageError
from ._support import (
    Data,
    OutputFolder,
    classifier,
    file_list,
    headline,
    import_tensorflow,
    keras_verbose,
    save_model,
    write_report_safely,
)

__all__ = ["run_compare", "run_fit", "run_grid"]


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


def _write_run(tmp, args, data, est, json_name, record, title, params_of=None, **report_parts):
    """Save ``est`` as the run's model, its report and ``json_name`` (``record`` with the
    command, the data and the parameters of ``params_of``, default ``est``) in ``tmp``;
    the names of what was written."""
    save_model(est, os.path.join(tmp, "model"))
    report = write_report_safely(
        os.path.join(tmp, "report.html"),
        est,
        data.X_test,
        data.y_test,
        X_train=data.X_train,
        y_train=data.y_train,
        title=title,
        data_summary=data.summary(),
        **report_parts,
    )
    record = {"command": args.command_line, "data": data.summary(), **record}
    record.update(params=(params_of or est).get_params(deep=False), sktransfer=__version__)
    write_json(os.path.join(tmp, json_name), jsonable(record))
    return ["model", json_name] + (["report.html"] if report else [])


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
        written = _write_run(
            tmp,
            args,
            data,
            est,
            "metrics.json",
            {
                "fit_seconds": round(fit_seconds, 3),
                "epochs_run": est.n_epochs_,
                "test": table,
                "history": est.history_,
                "backbone_info": est.backbone_info_,
            },
            title=f"sktransfer fit: {est.backbone} on the {data.source}",
        )
    print(
        f"data:   {data.description}\nsplit:  {data.split_description}\n"
        f"model:  {_describe_model(est)}; {est.n_epochs_} epochs in {fit_seconds:.1f} s\n"
        f"test:   {headline(table)}\nwrote:  {file_list(args.out, written)}",
        file=out,
    )
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
        written = _write_run(
            tmp,
            args,
            data,
            search.best_estimator_,
            "grid.json",
            {
                "param_grid": grid,
                "cv": {"n_splits": args.cv, "shuffle": True, "random_state": args.seed},
                "scoring": "accuracy",
                "candidates": candidates,
                "best_params": search.best_params_,
                "best_score": float(search.best_score_),
                "search_seconds": round(seconds, 3),
                "test": table,
            },
            title=f"sktransfer grid: {est.backbone} on the {data.source}",
            params_of=est,  # the grid's fixed parameters; best_params holds the rest
            search=search,
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
        written = _write_run(
            tmp,
            args,
            data,
            est,
            "compare.json",
            {
                "best": best,
                "comparison": table.to_records(),
                "agreement": None
                if agree is None
                else {
                    "names": list(agree.names),
                    "counts": agree.counts.tolist(),
                    "mcnemar_p": agree.mcnemar_p,
                },
            },
            title=f"sktransfer compare on the {data.source} (report of the best: {best})",
            comparison=table,
        )
    print(
        f"data:   {data.description}\nsplit:  {data.split_description}\n{table}\n"
        + ("" if agree is None else f"{agree}\n")
        + f"best:   {best} (saved as the model)\nwrote:  {file_list(args.out, written)}",
        file=out,
    )
    return 0
