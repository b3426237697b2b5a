"""The ``sktransfer`` command line's parser and option types (see :mod:`sktransfer.cli`).

Option values are checked at parse time, without TensorFlow, so that ``--help``
and usage errors are instant; a bad value exits with code 2 and the usage line.
"""

import argparse
import sys
import textwrap

from .. import __version__
from ._types import (
    _augmentation,
    _count,
    _folds,
    _fraction,
    _grid_param,
    _head,
    _names,
    _npy_path,
    _per_class_count,
    _positive_float,
    _positive_int,
    _seed,
    _trainable,
    _weights,
    _weights_list,
)

__all__ = ["SAMPLE_SIZE", "build_parser"]

SAMPLE_SIZE = 96  # input size when no DATA_DIR is given: the default run takes seconds


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"sktransfer: error: {message}\n")


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
    "embed": "example:\n  sktransfer embed flowers/ -o features.npy   # + features.npy.json: paths, labels",
    "backbones": "examples:\n  sktransfer backbones                      # every name, one line each\n"
    "  sktransfer backbones hf://timm/resnet50.tv2_in1k   # one in full (loaded)\n"
    "  sktransfer backbones ./resnet18.a1_in1k --json     # a checkpoint folder",
}


def _add_data_options(p, *, optional_data):
    p = p.add_argument_group("data and output")
    if optional_data:
        p.add_argument(
            "data_dir",
            nargs="?",
            metavar="DATA_DIR",
            help="folder with one sub-folder of images per class; omit it to use the "
            "built-in sample (4 classes x 50 images, in memory)",
        )
    else:
        p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of images per class")
    p.add_argument(
        "--test-per-class",
        type=_per_class_count,
        default=0.2,
        metavar="N",
        help="test images held out of each class: a count or a fraction (default: 0.2, rounded up)",
    )
    p.add_argument(
        "--seed", type=_seed, default=0, metavar="N", help="seeds the split and training (default: 0)"
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created)")
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing output folder of an earlier run"
    )


def _add_model_options(p, *, compare=False):
    p = p.add_argument_group("model and training")
    if compare:
        p.add_argument(
            "--backbone",
            type=_names,
            required=True,
            metavar="A,B,...",
            help="backbones to compare, comma-separated",
        )
        p.add_argument(
            "--weights",
            type=_weights_list,
            default=["imagenet"],
            metavar="W[,W...]",
            help="imagenet, none (random) or a weights file; one for all backbones or "
            "one per backbone; one backbone with several weights compares "
            "the weights (default: imagenet)",
        )
    else:
        p.add_argument(
            "--backbone",
            default="efficientnet_lite0",
            help="backbone name (default: %(default)s, whose ImageNet weights work "
            "offline, unlike the Python estimators' default resnet50v2; "
            "resnet50v2, mobilenetv2, ... need Keras' download)",
        )
        p.add_argument(
            "--weights",
            type=_weights,
            default="imagenet",
            help="imagenet, none (random initialisation) or a weights file (default: imagenet)",
        )
    p.add_argument(
        "--trainable-layers",
        type=_trainable,
        default=0,
        metavar="0|N|all|BLOCK",
        help="0 trains the head only; N the top N backbone layers with weights, "
        "normalisation layers included; all; or a block name such as conv5 "
        "or block7 (default: 0)",
    )
    p.add_argument(
        "--optimizer",
        default="adam",
        help="sgd, rmsprop, adam, adamw, nadam, adamax, adagrad, adadelta (default: %(default)s)",
    )
    p.add_argument(
        "--learning-rate",
        type=_positive_float,
        metavar="F",
        help="learning rate (default: 0.003 for adam, else the optimizer's own)",
    )
    p.add_argument(
        "--epochs", type=_positive_int, default=30, metavar="N", help="training epochs (default: %(default)s)"
    )
    p.add_argument(
        "--head-epochs",
        type=_count,
        default=30,
        metavar="N",
        help="with --trainable-layers: first train the head alone for N epochs, "
        "then the head and the backbone layers together for --epochs (the "
        "history and learning curves show both stages); 0: both together "
        "from the start (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=32, metavar="N", help="batch size (default: %(default)s)"
    )
    p.add_argument(
        "--input-size",
        type=_positive_int,
        metavar="N",
        help="images are resized to N x N (default: the backbone's own, 224"
        + ("" if compare else f"; {SAMPLE_SIZE} for the built-in sample")
        + ")",
    )
    p.add_argument(
        "--augment",
        type=_augmentation,
        metavar="SPEC",
        help="training-time augmentation, only what is listed: flip[=vertical], "
        "rotation=F, shift=F, zoom=F, shear=F, contrast=F, brightness=F, "
        "and n_views=K to train on K cached augmented views per image "
        "instead of the full forward pass every epoch, e.g. "
        "flip,rotation=0.1,zoom=0.1,n_views=4 (default: none)",
    )
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="test-time augmentation: average each image's probabilities with its "
        "mirror image's (default: on; --no-tta for text, digits, left/right)",
    )
    p.add_argument(
        "--head",
        type=_head,
        default=(),
        metavar="U1,U2",
        help="hidden Dense layer sizes of the head, e.g. 64,32 (default: none)",
    )
    p.add_argument(
        "--validation-fraction",
        type=_fraction,
        default=0.2,
        metavar="F",
        help="part of the training images held out to report val_loss each epoch, "
        "so the report can draw and diagnose train vs validation curves; 0 "
        "trains on all of them (default: 0.2; the Python estimators' "
        "validation_fraction defaults to 0)",
    )
    p.add_argument(
        "--validation-per-class",
        type=_positive_int,
        metavar="N",
        help="hold N training images of each class out as the validation set "
        "instead of --validation-fraction (validation=N in Python)",
    )
    p.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when val_loss stops improving (needs a validation set); with "
        "--head-epochs each stage stops on its own",
    )
    p.add_argument(
        "--patience",
        type=_count,
        default=3,
        metavar="N",
        help="epochs without improvement before early stopping (default: 3)",
    )


def build_parser():
    """Return the ``sktransfer`` argument parser.

    A parsed namespace has ``command`` (the command's name), ``parser`` (its
    sub-parser, to print its usage line for a usage error found later) and
    one attribute per option.
    """
    formatter = argparse.RawDescriptionHelpFormatter
    common = _Parser(add_help=False)
    common.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bars: print only results and errors",
    )
    parser = _Parser(
        prog="sktransfer",
        formatter_class=formatter,
        description="Transfer learning from ImageNet CNNs, the scikit-learn way.",
        epilog="Run 'sktransfer COMMAND --help' for the options of a command.",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bars: print only results and errors"
    )
    parser.add_argument("--version", action="version", version=f"sktransfer {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    def command(name, summary):
        p = commands.add_parser(
            name,
            parents=[common],
            help=summary,
            description=textwrap.fill(summary, 79),
            epilog=_EPILOG[name],
            formatter_class=formatter,
        )
        p.set_defaults(parser=p)
        return p

    p = command(
        "fit", "Fine-tune a classifier on a folder of images; save the model, metrics.json and report.html."
    )
    _add_data_options(p, optional_data=True)
    _add_model_options(p)

    p = command("evaluate", "Evaluate a saved model on every image of a folder.")
    p.add_argument(
        "model_dir",
        metavar="MODEL_DIR",
        help="a model saved by 'sktransfer fit' (RUN/model, or the run folder RUN itself)",
    )
    p.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        help="folder with one sub-folder per class; class names must be classes of the model",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        metavar="N",
        help="images per prediction batch (default: %(default)s)",
    )

    p = command("predict", "Predict images; CSV to stdout: path,predicted,<probability of each class>.")
    p.add_argument(
        "model_dir",
        metavar="MODEL_DIR",
        help="a model saved by 'sktransfer fit' (RUN/model, or the run folder RUN itself)",
    )
    p.add_argument(
        "images",
        nargs="+",
        metavar="IMAGE",
        help="image files; a folder stands for the images in it (recursively)",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=64,
        metavar="N",
        help="images per prediction batch (default: %(default)s)",
    )

    p = command(
        "grid", "Grid-search model options with cross-validation, then test the best on held-out images."
    )
    _add_data_options(p, optional_data=True)
    p.add_argument(
        "--param",
        type=_grid_param,
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="a FineTunedClassifier parameter and its values; repeat for more parameters",
    )
    p.add_argument(
        "--cv", type=_folds, default=3, metavar="K", help="stratified, shuffled folds (default: %(default)s)"
    )
    _add_model_options(p)

    p = command(
        "compare",
        "Train several backbones (or weights) on the same split and compare accuracy, speed and size.",
    )
    _add_data_options(p, optional_data=False)
    _add_model_options(p, compare=True)
    p.add_argument(
        "--warm",
        action="store_true",
        help="let each model reuse the cached activations and backbones of the models "
        "before it: faster, but their time and memory then depend on the order "
        "(default: each model starts cold, as if run alone)",
    )

    p = command("embed", "Save frozen backbone features of a folder of images as a .npy array.")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder per class")
    p.add_argument(
        "-o",
        "--output",
        type=_npy_path,
        required=True,
        metavar="FILE.npy",
        help="features, shape (n_images, n_features); FILE.npy.json lists the paths and labels of the rows",
    )
    p.add_argument("--backbone", default="efficientnet_lite0", help="(default: %(default)s)")
    p.add_argument(
        "--weights",
        type=_weights,
        default="imagenet",
        help="imagenet, none or a weights file (default: imagenet)",
    )
    p.add_argument(
        "--input-size",
        type=_positive_int,
        metavar="N",
        help="resize to N x N (default: the backbone's own, 224)",
    )
    p.add_argument(
        "--pooling",
        choices=("avg", "max"),
        default="avg",
        help="global pooling of the last feature map (default: avg)",
    )
    p.add_argument(
        "--tta",
        action="store_true",
        help="average each image's features with its mirror image's (default: off)",
    )
    p.add_argument("--batch-size", type=_positive_int, default=32, metavar="N", help="(default: %(default)s)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")

    p = command(
        "backbones",
        "List the backbones --backbone accepts: name, source, default "
        "input size, parameters, feature dimension and blocks (--trainable-layers).",
    )
    p.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="describe one backbone in full: a registered name or a keras-hub "
        "handle or preset folder (loaded to read its blocks)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser
