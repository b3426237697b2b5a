"""What the ``sktransfer`` commands share: output folders, data, the classifier, reports.

Nothing here imports TensorFlow at import time; the commands call
:func:`import_tensorflow` once their arguments and folders are checked.
"""

import contextlib
import os
import sys
import tempfile
import warnings

from .._utils.atomic import staged_directory
from ._args import SAMPLE_SIZE
from ._errors import CommandError, UsageError

__all__ = [
    "Data",
    "OutputFolder",
    "classifier",
    "file_list",
    "headline",
    "import_tensorflow",
    "keras_verbose",
    "load_folder",
    "save_model",
    "write_report_safely",
]

SAMPLE_PER_CLASS = 50
_RUN_FILES = {"model", "metrics.json", "report.html", "grid.json", "compare.json"}


def import_tensorflow():
    """Import TensorFlow and Keras with their C++ start-up lines silenced.

    TensorFlow prints absl lines ("Could not find cuda drivers ...") straight to
    file descriptor 2 while it imports, whatever TF_CPP_MIN_LOG_LEVEL says; they
    are kept in a temporary file and shown only if the import fails.
    """
    from .._utils.compat import import_keras

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


class OutputFolder:
    """``--out``: checked up front, written in a hidden sibling, renamed into place at the end."""

    def __init__(self, path, overwrite):
        self.target = os.path.abspath(path)
        self.shown = path
        self.overwrite = overwrite
        self._check()

    def _check(self):
        """'missing', 'empty' or 'replace'; CommandError for anything that must be kept."""
        if not os.path.lexists(self.target):
            return "missing"
        if os.path.islink(self.target) or not os.path.isdir(self.target):
            raise CommandError(f"--out {self.shown!r} exists and is not a folder; choose another path.")
        names = set(os.listdir(self.target))
        if not names:
            return "empty"
        foreign = sorted(names - _RUN_FILES)
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise CommandError(
                f"--out {self.shown!r} holds files sktransfer did not write "
                f"({shown}); choose a new or empty folder."
            )
        if not self.overwrite:
            raise CommandError(
                f"--out {self.shown!r} already holds a run; pass --overwrite to "
                "replace it, or choose another folder."
            )
        return "replace"

    @contextlib.contextmanager
    def staging(self):
        """Yield a hidden temporary folder that becomes ``--out`` when the block ends.

        If the block fails, the folder is removed, and so are the parent folders
        it created.
        """
        created, folder = [], os.path.dirname(self.target)
        while not os.path.exists(folder):
            created.append(folder)
            folder = os.path.dirname(folder)
        try:
            with staged_directory(self.target, self._check) as tmp:
                yield tmp
        except BaseException:
            for folder in created:  # deepest first; stop at the first one not empty
                try:
                    os.rmdir(folder)
                except OSError:
                    break
            raise


def save_model(estimator, path):
    """:func:`sktransfer.persistence.save`, imported when TensorFlow is."""
    from ..persistence import save

    save(estimator, path)


def load_folder(path):
    """load_image_folder, with the files it leaves out reported in terms of the command."""
    from ..datasets import load_image_folder

    X, y, classes, skipped = load_image_folder(path, return_skipped=True)
    if skipped:
        shown = ", ".join(os.path.relpath(f, path) for f in skipped[:3])
        warnings.warn(
            f"ignored {len(skipped)} file(s) of {path!r} without an image suffix "
            f"({shown}{', ...' if len(skipped) > 3 else ''}).",
            stacklevel=2,
        )
    return X, y, classes


class Data:
    """Images and labels, and where they came from."""

    def __init__(self, args, input_size):
        from ..datasets import load_sample

        if getattr(args, "data_dir", None):
            self.X, self.y, self.classes = load_folder(args.data_dir)
            self.source = f"folder {args.data_dir}"
            self.description = (
                f"{self.source}: {len(self.X)} images, {len(self.classes)} "
                f"classes ({', '.join(self.classes)})"
            )
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
        from ..model_selection import per_class_split

        parts = per_class_split(self.X, self.y, y=self.y, n_test=n_test, random_state=seed)
        self.X_train, self.X_test, self.y_train, self.y_test = parts
        share = f"{n_test:.0%}" if isinstance(n_test, float) else str(n_test)
        self.split_description = (
            f"{len(self.y_train)} train / {len(self.y_test)} test images "
            f"({share} of each class held out, seed {seed})"
        )
        return self

    def summary(self):
        return {
            "data": self.description,
            "split": self.split_description,
            "classes": ", ".join(map(str, self.classes)),
            "train images": len(self.y_train),
            "test images": len(self.y_test),
        }


def keras_verbose(args):
    """Keras' live progress bar on a terminal, one line per epoch in a log file."""
    if args.quiet:
        return 0
    return 1 if sys.stderr.isatty() else 2


def _input_size(args):
    if args.input_size is not None or getattr(args, "data_dir", None):
        return args.input_size
    return SAMPLE_SIZE


def classifier(args, *, backbone=None, weights="from args", verbose=0):
    """A FineTunedClassifier from the model options; bad names are usage errors."""
    from ..backbones import get_backbone_spec
    from ..estimators import FineTunedClassifier, make_optimizer

    backbone = backbone or args.backbone
    try:
        get_backbone_spec(backbone)
    except ValueError as exc:
        raise UsageError(f"argument --backbone: {exc}") from None
    try:
        make_optimizer(args.optimizer, args.learning_rate)
    except ValueError as exc:
        raise UsageError(f"argument --optimizer: {exc}") from None
    same = (
        "trainable_layers",
        "head_epochs",
        "head",
        "optimizer",
        "learning_rate",
        "epochs",
        "batch_size",
        "validation_fraction",
        "early_stopping",
        "patience",
        "tta",
    )
    per_class = getattr(args, "validation_per_class", None)
    if per_class is not None:  # replaces the fraction, whether given or the default
        same = tuple(name for name in same if name != "validation_fraction")
    return FineTunedClassifier(
        backbone,
        weights=args.weights if weights == "from args" else weights,
        validation=per_class,
        augmentation=args.augment,
        input_size=_input_size(args),
        random_state=args.seed,
        verbose=verbose,
        **{name: getattr(args, name) for name in same},
    )


def write_report_safely(path, estimator, X_test, y_test, **kwargs):
    """write_report, or a warning: a failed report must not cost the trained model."""
    try:
        from ..report import write_report
    except ImportError as exc:
        warnings.warn(f"report.html not written: sktransfer.report is unavailable ({exc}).", stacklevel=2)
        return None
    try:
        write_report(path, estimator, X_test, y_test, **kwargs)
    except Exception as exc:
        with contextlib.suppress(OSError):
            os.remove(path)
        warnings.warn(f"report.html not written: {type(exc).__name__}: {exc}", stacklevel=2)
        return None
    return path


def headline(table):
    """The test metrics in one line, for the terminal."""
    binary = table.get("kind") == "binary"
    f1 = table["f1"] if binary else table["macro_avg"]["f1"]
    return (
        f"accuracy {table['accuracy']:.3f}, balanced accuracy "
        f"{table['balanced_accuracy']:.3f}, F1{'' if binary else ' (macro)'} {f1:.3f} "
        f"on {table['n']} test images"
    )


def file_list(out, names):
    """The written entries as paths under ``--out`` (folders with a trailing slash)."""
    return "  ".join(os.path.join(out, n) + ("/" if n == "model" else "") for n in names)
