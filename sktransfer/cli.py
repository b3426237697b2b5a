"""The ``sktransfer`` command: fit, evaluate, predict, grid, compare, embed.

Run ``sktransfer --help`` or ``sktransfer <command> --help``. Results go to
stdout and everything else (progress bars, Keras' epoch bars, warnings, errors)
to stderr, so ``sktransfer predict model/ *.jpg > predictions.csv`` works.
TensorFlow is imported only when a command runs, so ``--help`` is instant.

Exit codes: 0 success, 1 a runtime error (missing or corrupt data, a folder
that is not a save), 2 a usage error (bad option syntax or value), 130
interrupted. Errors print one line, ``sktransfer: error: <message>``; set
``SKTRANSFER_DEBUG=1`` to get the traceback instead.

Output folders (``--out``) are written into a hidden temporary sibling and
renamed into place at the end, so they are either complete or absent. An
existing folder is replaced only with ``--overwrite``, and only when it is
empty or holds nothing but what these commands write.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import warnings  # noqa: E402

from . import __version__  # noqa: E402

__all__ = ["main"]

SAMPLE_SIZE = 96  # input size when no DATA_DIR is given: the default run takes seconds
SAMPLE_PER_CLASS = 50
_RUN_FILES = {"model", "metrics.json", "report.html", "grid.json", "compare.json"}
_AUGMENT_KEYS = ("flip", "rotation", "shift", "zoom", "shear", "contrast", "brightness",
                 "n_views")


class UsageError(Exception):
    """A bad option value found after parsing: exit code 2, with the usage line."""


class CommandError(Exception):
    """A runtime problem with the user's data or folders: exit code 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"sktransfer: error: {message}\n")


# -- option types (run at parse time: no TensorFlow) ----------------------------
def _number(kind, test, expected):
    def parse(text):
        with contextlib.suppress(ValueError):
            value = kind(text)
            if test(value):
                return value
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: v > 0, "a positive number")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_count = _number(int, lambda v: v >= 0, "an integer >= 0")
_seed = _number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")


def _per_class_count(text):
    """'5' -> 5 images per class; '0.2' -> 20 % of each class."""
    kind = float if "." in text or "e" in text.lower() else int
    test = (lambda v: 0 < v < 1) if kind is float else (lambda v: v >= 1)
    return _number(kind, test, "images per class (an int >= 1) or a fraction in (0, 1)")(text)


def _trainable(text):
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text:
        raise argparse.ArgumentTypeError("expected 0, a number of layers, 'all' or a block name")
    return text.lower() if text.lower() == "all" else text


def _weights(text):
    if text.lower() in ("none", "random"):
        return None
    if text.lower() == "imagenet":
        return "imagenet"
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'imagenet', 'none' or an existing weights file; check the path"
        )
    return text


def _weights_list(text):
    return [_weights(part.strip()) for part in text.split(",")]


def _names(text):
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return names


def _head(text):
    if text.strip().lower() in ("", "none", "()"):
        return ()
    try:
        units = tuple(int(u) for u in text.split(","))
    except ValueError:
        units = (0,)
    if any(u < 1 for u in units):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 64,32 (or 'none'), got {text!r}"
        )
    return units


def _augmentation(text):
    """'flip,rotation=0.1,zoom=0.1' -> Augmentation; only what is listed is switched on."""
    if text.strip().lower() in ("", "none"):
        return None
    kwargs = {"flip": None}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if key not in _AUGMENT_KEYS:
            raise argparse.ArgumentTypeError(
                f"unknown transformation {key!r} in {text!r}; use {', '.join(_AUGMENT_KEYS)} "
                "as in flip,rotation=0.1,zoom=0.1"
            )
        if key == "flip":
            kwargs[key] = value or "horizontal"
            continue
        kind, example = (int, 4) if key == "n_views" else (float, 0.1)
        try:
            kwargs[key] = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{key} needs a number, as in {key}={example}, got {item.strip()!r}"
            ) from None
    from .augment import Augmentation

    augmentation = Augmentation(**kwargs)
    try:
        augmentation.is_active()  # validates the values
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return augmentation


def _split_top_level(text):
    """Split at commas outside brackets: '[64,32],[]' -> ['[64,32]', '[]']."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if depth < 0:
            raise ValueError("unbalanced brackets")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError("unbalanced brackets")
    return parts + [text[start:]]


def _parse_value(text):
    """A grid value: int, float, None, bool, a [tuple] or a string ('all', 'adam', 'conv5')."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    if text[0] in "[(":
        if text[-1] not in "])":
            raise ValueError(f"unbalanced brackets in {text!r}")
        inner = text[1:-1].strip()
        return tuple(_parse_value(v) for v in _split_top_level(inner)) if inner else ()
    lowered = text.lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _grid_param(text):
    """'trainable_layers=0,2,all' -> ('trainable_layers', [0, 2, 'all'])."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f"expected NAME=V1,V2,... such as trainable_layers=0,2,4, got {text!r}"
        )
    try:
        parsed = [_parse_value(v) for v in _split_top_level(values)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {exc}; write values as V1,V2 and tuples as [64,32]"
        ) from None
    return name, parsed


# -- the parser -------------------------------------------------------------------
_EPILOG = {
    "fit": "examples:\n  sktransfer fit --out run/                 # built-in sample, in seconds\n"
           "  sktransfer fit flowers/ --backbone efficientnet_lite0 --trainable-layers 2 \\\n"
           "      --augment flip,rotation=0.1 --epochs 20 --out run/",
    "evaluate": "example:\n  sktransfer evaluate run/model flowers_test/ --json",
    "predict": "example:\n  sktransfer predict run/model photos/*.jpg > predictions.csv",
    "grid": "example:\n  sktransfer grid flowers/ --param trainable_layers=0,2,4 \\\n"
            "      --param batch_size=16,32 --cv 3 --out grid/\n"
            "values: ints, floats, none, true/false, strings (all, adam, conv5), "
            "tuples as [64,32]",
    "compare": "examples:\n  sktransfer compare flowers/ --backbone efficientnet_lite0,mobilenetv2 "
               "\\\n      --weights imagenet,/models/mobilenetv2.h5 --out cmp/\n"
               "  sktransfer compare flowers/ --backbone efficientnet_lite0 --weights "
               "imagenet,none \\\n      --trainable-layers all --out cmp/",
    "embed": "example:\n  sktransfer embed flowers/ -o features.npy   "
             "# + features.npy.json: paths, labels",
}


def _add_data_options(p, *, optional_data):
    p = p.add_argument_group("data and output")
    if optional_data:
        p.add_argument("data_dir", nargs="?", metavar="DATA_DIR",
                       help="folder with one sub-folder of images per class; omit it to use the "
                            "built-in sample (4 classes x 50 images, in memory)")
    else:
        p.add_argument("data_dir", metavar="DATA_DIR",
                       help="folder with one sub-folder of images per class")
    p.add_argument("--test-per-class", type=_per_class_count, default=0.2, metavar="N",
                   help="test images held out of each class: a count or a fraction "
                        "(default: 0.2, rounded up)")
    p.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help="seeds the split and training (default: 0)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output folder of an earlier run")


def _add_model_options(p, *, compare=False):
    p = p.add_argument_group("model and training")
    if compare:
        p.add_argument("--backbone", type=_names, required=True, metavar="A,B,...",
                       help="backbones to compare, comma-separated")
        p.add_argument("--weights", type=_weights_list, default=["imagenet"], metavar="W[,W...]",
                       help="imagenet, none (random) or a weights file; one for all backbones or "
                            "one per backbone; one backbone with several weights compares "
                            "the weights (default: imagenet)")
    else:
        p.add_argument("--backbone", default="efficientnet_lite0",
                       help="backbone name (default: %(default)s, whose ImageNet weights work "
                            "offline; resnet50v2, mobilenetv2, ... need Keras' download)")
        p.add_argument("--weights", type=_weights, default="imagenet",
                       help="imagenet, none (random initialisation) or a weights file "
                            "(default: imagenet)")
    p.add_argument("--trainable-layers", type=_trainable, default=0, metavar="0|N|all|BLOCK",
                   help="0 trains the head only; N the top N backbone layers with weights; "
                        "all; or a block name such as conv5 or block7 (default: 0)")
    p.add_argument("--optimizer", default="adam",
                   help="sgd, rmsprop, adam, adamw, nadam, adamax, adagrad, adadelta "
                        "(default: %(default)s)")
    p.add_argument("--learning-rate", type=_positive_float, metavar="F",
                   help="learning rate (default: the optimizer's own)")
    p.add_argument("--epochs", type=_positive_int, default=10, metavar="N",
                   help="training epochs (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="batch size (default: %(default)s)")
    p.add_argument("--input-size", type=_positive_int, metavar="N",
                   help="images are resized to N x N (default: the backbone's own, 224"
                        + ("" if compare else f"; {SAMPLE_SIZE} for the built-in sample") + ")")
    p.add_argument("--augment", type=_augmentation, metavar="SPEC",
                   help="training-time augmentation, only what is listed: flip[=vertical], "
                        "rotation=F, shift=F, zoom=F, shear=F, contrast=F, brightness=F, "
                        "and n_views=K to train on K cached augmented views per image "
                        "instead of the full forward pass every epoch, e.g. "
                        "flip,rotation=0.1,zoom=0.1,n_views=4 (default: none)")
    p.add_argument("--head", type=_head, default=(), metavar="U1,U2",
                   help="hidden Dense layer sizes of the head, e.g. 64,32 (default: none)")
    p.add_argument("--validation-fraction", type=_fraction, default=0.2, metavar="F",
                   help="part of the training images held out to report val_loss each epoch, "
                        "so the report can draw and diagnose train vs validation curves; 0 "
                        "trains on all of them (default: 0.2)")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop when val_loss stops improving (needs --validation-fraction)")
    p.add_argument("--patience", type=_count, default=3, metavar="N",
                   help="epochs without improvement before early stopping (default: 3)")


def _build_parser():
    formatter = argparse.RawDescriptionHelpFormatter
    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="no progress bars: print only results and errors")
    parser = _Parser(
        prog="sktransfer", formatter_class=formatter,
        description="Transfer learning from ImageNet CNNs, the scikit-learn way.",
        epilog="Run 'sktransfer COMMAND --help' for the options of a command.",
    )
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars: print only results and errors")
    parser.add_argument("--version", action="version", version=f"sktransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_Parser)

    def command(name, func, summary):
        p = commands.add_parser(name, parents=[common], help=summary,
                                description=textwrap.fill(summary, 79),
                                epilog=_EPILOG[name], formatter_class=formatter)
        p.set_defaults(func=func, parser=p)
        return p

    p = command("fit", _cmd_fit, "Fine-tune a classifier on a folder of images; save the model, "
                "metrics.json and report.html.")
    _add_data_options(p, optional_data=True)
    _add_model_options(p)

    p = command("evaluate", _cmd_evaluate, "Evaluate a saved model on every image of a folder.")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a model saved by 'sktransfer fit' "
                   "(RUN/model, or the run folder RUN itself)")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder per class; "
                   "class names must be classes of the model")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                   help="images per prediction batch (default: %(default)s)")

    p = command("predict", _cmd_predict, "Predict images; CSV to stdout: "
                "path,predicted,<probability of each class>.")
    p.add_argument("model_dir", metavar="MODEL_DIR", help="a model saved by 'sktransfer fit' "
                   "(RUN/model, or the run folder RUN itself)")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files; a folder stands for the images in it (recursively)")
    p.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                   help="images per prediction batch (default: %(default)s)")

    p = command("grid", _cmd_grid, "Grid-search model options with cross-validation, then test "
                "the best on held-out images.")
    _add_data_options(p, optional_data=True)
    p.add_argument("--param", type=_grid_param, action="append", required=True,
                   metavar="NAME=V1,V2", help="a FineTunedClassifier parameter and its values; "
                   "repeat for more parameters")
    p.add_argument("--cv", type=_positive_int, default=3, metavar="K",
                   help="stratified, shuffled folds (default: %(default)s)")
    _add_model_options(p)

    p = command("compare", _cmd_compare, "Train several backbones (or weights) on the same split "
                "and compare accuracy, speed and size.")
    _add_data_options(p, optional_data=False)
    _add_model_options(p, compare=True)

    p = command("embed", _cmd_embed, "Save frozen backbone features of a folder of images "
                "as a .npy array.")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder per class")
    p.add_argument("-o", "--output", required=True, metavar="FILE.npy",
                   help="features, shape (n_images, n_features); FILE.npy.json lists the "
                        "paths and labels of the rows")
    p.add_argument("--backbone", default="efficientnet_lite0", help="(default: %(default)s)")
    p.add_argument("--weights", type=_weights, default="imagenet",
                   help="imagenet, none or a weights file (default: imagenet)")
    p.add_argument("--input-size", type=_positive_int, metavar="N",
                   help="resize to N x N (default: the backbone's own, 224)")
    p.add_argument("--pooling", choices=("avg", "max"), default="avg",
                   help="global pooling of the last feature map (default: avg)")
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N",
                   help="(default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return parser


# -- helpers ------------------------------------------------------------------------
def _import_tensorflow():
    """Import TensorFlow and Keras with their C++ start-up lines silenced.

    TensorFlow prints absl lines ("Could not find cuda drivers ...") straight to
    file descriptor 2 while it imports, whatever TF_CPP_MIN_LOG_LEVEL says; they
    are kept in a temporary file and shown only if the import fails.
    """
    from ._compat import import_keras

    if "tensorflow" in sys.modules:  # imported before (in-process use): nothing is printed
        import_keras()
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            import_keras()
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _jsonable(value):
    """Parameters and results as JSON data: tuples -> lists, numpy -> Python, objects -> params."""
    import numpy as np

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if hasattr(value, "get_params"):
        return {"class": type(value).__name__, **_jsonable(value.get_params(deep=False))}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


def _write_json(path, data):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(_jsonable(data), fh, indent=2)
        fh.write("\n")


class _OutputFolder:
    """``--out``: checked up front, written in a hidden sibling, renamed into place at the end."""

    def __init__(self, path, overwrite):
        self.target = os.path.abspath(path)
        self.shown = path
        self.overwrite = overwrite
        self._check()

    def _check(self):
        """'missing', 'empty' or 'run'; CommandError for anything that must be kept."""
        if not os.path.lexists(self.target):
            return "missing"
        if os.path.islink(self.target) or not os.path.isdir(self.target):
            raise CommandError(f"--out {self.shown!r} exists and is not a folder; "
                               "choose another path.")
        names = set(os.listdir(self.target))
        if not names:
            return "empty"
        foreign = sorted(names - _RUN_FILES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise CommandError(f"--out {self.shown!r} holds files sktransfer did not write "
                               f"({shown}); choose a new or empty folder.")
        if not self.overwrite:
            raise CommandError(f"--out {self.shown!r} already holds a run; pass --overwrite to "
                               "replace it, or choose another folder.")
        return "run"

    @contextlib.contextmanager
    def staging(self):
        parent, name = os.path.split(self.target)
        created, folder = [], parent
        while not os.path.exists(folder):
            created.append(folder)
            folder = os.path.dirname(folder)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=parent)
        _make_public(tmp)
        try:
            yield tmp
            self._move_into_place(tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            for folder in created:  # deepest first; stop at the first one not empty
                try:
                    os.rmdir(folder)
                except OSError:
                    break
            raise

    def _move_into_place(self, tmp):
        state = self._check()
        if state == "empty":
            os.rmdir(self.target)
        if state != "run":
            os.rename(tmp, self.target)
            return
        aside = os.path.join(os.path.dirname(self.target),
                             f".{os.path.basename(self.target)}.old-{uuid.uuid4().hex[:8]}")
        os.rename(self.target, aside)
        try:
            os.rename(tmp, self.target)
        except BaseException:
            os.rename(aside, self.target)
            raise
        shutil.rmtree(aside, ignore_errors=True)


def _make_public(path, mode=0o777):
    from .persistence import make_public

    make_public(path, mode)


def _save(estimator, path):
    from .persistence import save

    save(estimator, path)


def _load_folder(path):
    """load_image_folder, with the files it leaves out reported in terms of the command."""
    from .datasets import load_image_folder

    X, y, classes, skipped = load_image_folder(path, return_skipped=True)
    if skipped:
        shown = ", ".join(os.path.relpath(f, path) for f in skipped[:3])
        warnings.warn(f"ignored {len(skipped)} file(s) of {path!r} without an image suffix "
                      f"({shown}{', ...' if len(skipped) > 3 else ''}).")
    return X, y, classes


class _Data:
    """Images and labels, and where they came from."""

    def __init__(self, args, input_size):
        from .datasets import load_sample

        if getattr(args, "data_dir", None):
            self.X, self.y, self.classes = _load_folder(args.data_dir)
            self.source = f"folder {args.data_dir}"
            self.description = (f"{self.source}: {len(self.X)} images, {len(self.classes)} "
                                f"classes ({', '.join(self.classes)})")
        else:
            size = input_size or SAMPLE_SIZE
            data = load_sample(size=size, n_per_class=SAMPLE_PER_CLASS, random_state=0)
            self.X, self.y, self.classes = data.images, data.target, list(data.target_names)
            self.source = "built-in sample"
            self.description = (
                f"built-in sample (no DATA_DIR given; sktransfer.datasets.load_sample, arrays in "
                f"memory): {len(self.classes)} classes x {SAMPLE_PER_CLASS} images of "
                f"{size} x {size} px ({', '.join(self.classes)})"
            )

    def split(self, n_test, seed):
        from .model_selection import per_class_split

        parts = per_class_split(self.X, self.y, y=self.y, n_test=n_test, random_state=seed)
        self.X_train, self.X_test, self.y_train, self.y_test = parts
        share = f"{n_test:.0%}" if isinstance(n_test, float) else str(n_test)
        self.split_description = (f"{len(self.y_train)} train / {len(self.y_test)} test images "
                                  f"({share} of each class held out, seed {seed})")
        return self

    def summary(self):
        return {"data": self.description, "split": self.split_description,
                "classes": ", ".join(map(str, self.classes)),
                "train images": len(self.y_train), "test images": len(self.y_test)}


def _keras_verbose(args):
    """Keras' live progress bar on a terminal, one line per epoch in a log file."""
    if args.quiet:
        return 0
    return 1 if sys.stderr.isatty() else 2


def _input_size(args):
    if args.input_size is not None or getattr(args, "data_dir", None):
        return args.input_size
    return SAMPLE_SIZE


def _classifier(args, *, backbone=None, weights="from args", verbose=0):
    """A FineTunedClassifier from the model options; bad names are usage errors."""
    from .backbones import get_backbone_spec
    from .finetune import FineTunedClassifier
    from .optimizers import make_optimizer

    backbone = backbone or args.backbone
    try:
        get_backbone_spec(backbone)
    except ValueError as exc:
        raise UsageError(f"argument --backbone: {exc}") from None
    try:
        make_optimizer(args.optimizer, args.learning_rate)
    except ValueError as exc:
        raise UsageError(f"argument --optimizer: {exc}") from None
    same = ("trainable_layers", "head", "optimizer", "learning_rate", "epochs", "batch_size",
            "validation_fraction", "early_stopping", "patience")
    return FineTunedClassifier(
        backbone, weights=args.weights if weights == "from args" else weights,
        augmentation=args.augment, input_size=_input_size(args), random_state=args.seed,
        verbose=verbose, **{name: getattr(args, name) for name in same},
    )


def _write_report(path, estimator, X_test, y_test, **kwargs):
    """write_report, or a warning: a failed report must not cost the trained model."""
    try:
        from .report import write_report
    except ImportError as exc:
        warnings.warn(f"report.html not written: sktransfer.report is unavailable ({exc}).")
        return None
    try:
        write_report(path, estimator, X_test, y_test, **kwargs)
    except Exception as exc:
        with contextlib.suppress(OSError):
            os.remove(path)
        warnings.warn(f"report.html not written: {type(exc).__name__}: {exc}")
        return None
    return path


def _headline(table):
    binary = table.get("kind") == "binary"
    f1 = table["f1"] if binary else table["macro_avg"]["f1"]
    return (f"accuracy {table['accuracy']:.3f}, balanced accuracy "
            f"{table['balanced_accuracy']:.3f}, F1{'' if binary else ' (macro)'} {f1:.3f} "
            f"on {table['n']} test images")


def _describe_model(est):
    weights = "random weights" if est.weights is None else (
        "ImageNet weights" if est.weights == "imagenet" else f"weights {est.weights}")
    size = est.backbone_info_["input_size"]
    return (f"{est.backbone} ({weights}), {size[0]} x {size[1]} px, "
            f"trainable_layers={est.trainable_layers!r}")


def _files(out, names):
    return "  ".join(os.path.join(out, n) + ("/" if n == "model" else "") for n in names)


# -- commands -----------------------------------------------------------------------
def _cmd_fit(args, out):
    target = _OutputFolder(args.out, args.overwrite)
    data = _Data(args, args.input_size)
    data.split(args.test_per_class, args.seed)
    _import_tensorflow()
    from .metrics import evaluate

    est = _classifier(args, verbose=_keras_verbose(args))
    with target.staging() as tmp:
        start = time.perf_counter()
        est.fit(data.X_train, data.y_train)
        fit_seconds = time.perf_counter() - start
        table = evaluate(est, data.X_test, data.y_test)
        _save(est, os.path.join(tmp, "model"))
        report = _write_report(
            os.path.join(tmp, "report.html"), est, data.X_test, data.y_test,
            X_train=data.X_train, y_train=data.y_train,
            title=f"sktransfer fit: {est.backbone} on the {data.source}",
            data_summary=data.summary(),
        )
        _write_json(os.path.join(tmp, "metrics.json"), {
            "command": args.command_line, "data": data.summary(),
            "fit_seconds": round(fit_seconds, 3), "epochs_run": est.n_epochs_,
            "test": table, "history": est.history_, "params": est.get_params(deep=False),
            "backbone_info": est.backbone_info_, "sktransfer": __version__,
        })
    written = ["model", "metrics.json"] + (["report.html"] if report else [])
    print(f"data:   {data.description}\nsplit:  {data.split_description}\n"
          f"model:  {_describe_model(est)}; {est.n_epochs_} epochs in {fit_seconds:.1f} s\n"
          f"test:   {_headline(table)}\nwrote:  {_files(args.out, written)}", file=out)
    return 0


def _load_classifier(model_dir):
    from .persistence import load

    inner = os.path.join(model_dir, "model")
    if not os.path.isfile(os.path.join(model_dir, "estimator.json")) and os.path.isfile(
        os.path.join(inner, "estimator.json")
    ):
        model_dir = inner  # a run folder written by 'sktransfer fit'
    if not os.path.isdir(model_dir):
        raise CommandError(f"MODEL_DIR {model_dir!r} is not a folder; pass the model folder "
                           "written by 'sktransfer fit' (RUN/model).")
    try:
        est = load(model_dir)
    except ValueError as exc:
        raise CommandError(f"{exc} Pass the model folder written by 'sktransfer fit' "
                           "(RUN/model).") from None
    if not hasattr(est, "classes_"):
        raise CommandError(f"{model_dir!r} holds an unfitted or non-classifier "
                           f"{type(est).__name__}; pass a model saved by 'sktransfer fit'.")
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


def _cmd_evaluate(args, out):
    X, y, classes = _load_folder(args.data_dir)
    _import_tensorflow()
    from .metrics import evaluate

    est = _load_classifier(args.model_dir)
    known = set(map(str, est.classes_))
    unknown = [c for c in classes if c not in known]
    if unknown:
        raise CommandError(
            f"class folder(s) {', '.join(map(repr, unknown))} of {args.data_dir!r} are not "
            f"classes of the model ({', '.join(map(repr, est.classes_))}); rename or remove them."
        )
    proba = _predict_proba(est, X, args.batch_size, args.quiet)
    table = evaluate(_Scores(est.classes_, proba), X, y)
    if args.json:
        print(json.dumps(_jsonable(table), indent=2), file=out)
    else:
        print(f"{args.data_dir}: {len(X)} images, {len(classes)} classes\n{table}", file=out)
    return 0


def _image_files(items):
    from .datasets import IMAGE_EXTENSIONS

    files = []
    for item in items:
        if os.path.isdir(item):
            found = sorted(
                os.path.join(folder, name)
                for folder, _, names in os.walk(item) for name in names
                if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
            )
            if not found:
                raise CommandError(f"folder {item!r} holds no image file "
                                   f"({', '.join(IMAGE_EXTENSIONS)}).")
            files.extend(found)
        elif not os.path.exists(item):
            raise CommandError(f"image {item!r} does not exist; check the path.")
        else:
            files.append(item)
    return files


def _cmd_predict(args, out):
    import csv

    import numpy as np

    files = _image_files(args.images)
    _import_tensorflow()
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

    known = est.get_params(deep=True)
    grid = {}
    for name, values in params:
        if name not in known:
            hint = " (set --augment first)" if name.startswith("augmentation__") else ""
            names = ", ".join(sorted(est.get_params(deep=False)))
            raise UsageError(f"argument --param: FineTunedClassifier has no parameter {name!r}"
                             f"{hint}; choose from {names}.")
        for value in values:
            try:
                clone(est).set_params(**{name: value})._validate_params()
            except (ValueError, TypeError) as exc:
                raise UsageError(f"argument --param {name}={value!r}: {exc}") from None
        grid[name] = values
    return grid


def _cmd_grid(args, out):
    target = _OutputFolder(args.out, args.overwrite)
    data = _Data(args, args.input_size)
    data.split(args.test_per_class, args.seed)
    _import_tensorflow()
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    from .metrics import evaluate

    est = _classifier(args)
    grid = _check_grid(est, args.param)
    cv = StratifiedKFold(args.cv, shuffle=True, random_state=args.seed)
    search = GridSearchCV(est, grid, cv=cv, error_score="raise", verbose=0 if args.quiet else 3)
    with target.staging() as tmp:
        start = time.perf_counter()
        search.fit(data.X_train, data.y_train)
        seconds = time.perf_counter() - start
        table = evaluate(search.best_estimator_, data.X_test, data.y_test)
        _save(search.best_estimator_, os.path.join(tmp, "model"))
        results = search.cv_results_
        candidates = [
            {"rank": int(results["rank_test_score"][i]), "params": results["params"][i],
             "mean_test_score": float(results["mean_test_score"][i]),
             "std_test_score": float(results["std_test_score"][i]),
             "mean_fit_time": float(results["mean_fit_time"][i])}
            for i in range(len(results["params"]))
        ]
        report = _write_report(
            os.path.join(tmp, "report.html"), search.best_estimator_, data.X_test, data.y_test,
            X_train=data.X_train, y_train=data.y_train, search=search,
            title=f"sktransfer grid: {est.backbone} on the {data.source}",
            data_summary=data.summary(),
        )
        _write_json(os.path.join(tmp, "grid.json"), {
            "command": args.command_line, "data": data.summary(), "param_grid": grid,
            "cv": {"n_splits": args.cv, "shuffle": True, "random_state": args.seed},
            "scoring": "accuracy", "candidates": candidates, "best_params": search.best_params_,
            "best_score": float(search.best_score_), "search_seconds": round(seconds, 3),
            "test": table, "params": est.get_params(deep=False), "sktransfer": __version__,
        })
    names = list(grid)
    rows = [["rank", *names, "mean accuracy", "std", "fit s"]]
    for c in sorted(candidates, key=lambda c: c["rank"]):
        rows.append([str(c["rank"]), *(repr(c["params"][n]) for n in names),
                     f"{c['mean_test_score']:.3f}", f"{c['std_test_score']:.3f}",
                     f"{c['mean_fit_time']:.1f}"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    text = "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
    written = ["model", "grid.json"] + (["report.html"] if report else [])
    print(f"data:   {data.description}\nsplit:  {data.split_description}\n"
          f"search: {len(candidates)} candidates x {args.cv} folds in {seconds:.1f} s\n{text}\n"
          f"best:   {search.best_params_} -> test {_headline(table)}\n"
          f"wrote:  {_files(args.out, written)}", file=out)
    return 0


def _cmd_compare(args, out):
    backbones, weights = args.backbone, args.weights
    if len(backbones) > 1 and len(weights) > 1 and len(backbones) != len(weights):
        raise UsageError(f"argument --weights: give one value for all backbones or one per "
                         f"backbone ({len(backbones)}), got {len(weights)}.")
    n = max(len(backbones), len(weights))
    pairs = [(backbones[i % len(backbones)], weights[i % len(weights)]) for i in range(n)]
    target = _OutputFolder(args.out, args.overwrite)
    data = _Data(args, args.input_size)
    data.split(args.test_per_class, args.seed)
    _import_tensorflow()
    from .compare import compare_models

    estimators = [_classifier(args, backbone=b, weights=w, verbose=_keras_verbose(args))
                  for b, w in pairs]
    names = [b if len(weights) == 1 else f"{b} ({'none' if w is None else w})" for b, w in pairs]
    with target.staging() as tmp:
        table = compare_models(estimators, data.X_train, data.y_train, data.X_test,
                               data.y_test, names=names)
        best = max(table, key=lambda row: row["accuracy"])["name"]  # the first of ties
        est = table.estimators_[best]
        _save(est, os.path.join(tmp, "model"))
        report = _write_report(
            os.path.join(tmp, "report.html"), est, data.X_test, data.y_test,
            X_train=data.X_train, y_train=data.y_train, comparison=table,
            title=f"sktransfer compare on the {data.source} (report of the best: {best})",
            data_summary=data.summary(),
        )
        _write_json(os.path.join(tmp, "compare.json"), {
            "command": args.command_line, "data": data.summary(), "best": best,
            "comparison": table.to_records(), "params": est.get_params(deep=False),
            "sktransfer": __version__,
        })
    written = ["model", "compare.json"] + (["report.html"] if report else [])
    print(f"data:   {data.description}\nsplit:  {data.split_description}\n{table}\n"
          f"best:   {best} (saved as the model)\nwrote:  {_files(args.out, written)}", file=out)
    return 0


def _replace_files(writers):
    """Write every (path, write) to a temporary sibling, then rename them all into place."""
    staged = []
    try:
        for path, write in writers:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.tmp-", dir=folder)
            staged.append((tmp, path))
            with os.fdopen(fd, "wb") as fh:
                write(fh)
            _make_public(tmp, 0o666)
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        raise


def _cmd_embed(args, out):
    import numpy as np
    from tqdm.auto import tqdm

    target = os.path.abspath(args.output)
    sidecar = target + ".json"
    for path in (target, sidecar):
        if os.path.isdir(path):
            raise CommandError(f"{path!r} is a folder; pass a file name such as features.npy.")
        if os.path.exists(path) and not args.overwrite:
            raise CommandError(f"{path!r} exists; pass --overwrite to replace it.")
    X, y, classes = _load_folder(args.data_dir)
    _import_tensorflow()
    from .backbones import get_backbone_spec
    from .embedding import PretrainedEmbedder

    try:
        get_backbone_spec(args.backbone)
    except ValueError as exc:
        raise UsageError(f"argument --backbone: {exc}") from None
    embedder = PretrainedEmbedder(args.backbone, weights=args.weights, pooling=args.pooling,
                                  input_size=args.input_size, batch_size=args.batch_size)
    embedder.fit(X[:1])
    chunk = max(args.batch_size, 64)
    parts = []
    with tqdm(total=len(X), desc="Embedding", unit="img", disable=args.quiet) as bar:
        for i in range(0, len(X), chunk):
            parts.append(embedder.transform(X[i : i + chunk]))
            bar.update(len(parts[-1]))
    features = np.concatenate(parts)
    rows = {"command": args.command_line, "data_dir": args.data_dir,
            "backbone_info": embedder.backbone_info_, "pooling": args.pooling,
            "shape": features.shape, "classes": classes, "paths": X, "labels": y}
    text = json.dumps(_jsonable(rows), indent=1) + "\n"
    _replace_files([(target, lambda fh: np.save(fh, features)),
                    (sidecar, lambda fh: fh.write(text.encode()))])
    print(f"{args.data_dir}: {len(X)} images, {len(classes)} classes -> {args.output} "
          f"{features.shape[0]} x {features.shape[1]} float32 ({args.backbone}, "
          f"{args.pooling} pooling); rows listed in {args.output}.json", file=out)
    return 0


# -- entry point --------------------------------------------------------------------
def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"sktransfer: warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run ``sktransfer`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return exc.code if isinstance(exc.code, int) else 2
    args.command_line = shlex.join(["sktransfer", *argv])
    if getattr(args, "early_stopping", False) and not args.validation_fraction:
        args.parser.print_usage(sys.stderr)
        print("sktransfer: error: --early-stopping needs a validation set: add "
              "--validation-fraction 0.1 (or another fraction).", file=sys.stderr)
        return 2
    debug = os.environ.get("SKTRANSFER_DEBUG", "") not in ("", "0")
    out = sys.stdout
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
            warnings.showwarning = _show_warning
            return args.func(args, out)
    except UsageError as exc:
        if debug:
            raise
        args.parser.print_usage(sys.stderr)
        print(f"sktransfer: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `sktransfer predict ... | head`: stop quietly
        with contextlib.suppress(Exception):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, ValueError, TypeError, OSError, ImportError) as exc:
        if debug:
            raise
        # The library's advice names Python arguments; say what to do here instead.
        message = str(exc).replace(", or pass on_error='skip' to leave unreadable files out",
                                   ", or remove it from the folder")
        print(f"sktransfer: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("sktransfer: interrupted", file=sys.stderr)
        return 130
