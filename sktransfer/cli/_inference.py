"""The commands that use a saved model or a backbone: ``evaluate``, ``predict`` and
``embed`` (see :data:`COMMANDS`).
"""

import json
import os

from .._utils.atomic import replace_files
from .._utils.jsonable import jsonable
from ._errors import CommandError, UsageError
from ._support import (
    import_tensorflow,
    load_folder,
)

__all__ = ["run_embed", "run_evaluate", "run_predict"]


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
