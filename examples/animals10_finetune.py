"""Animals-10: fine-tune ResNet-18 and MobileNetV2 three ways, against a CNN from scratch.

The assignment as written: two ImageNet networks, ResNet-18 and MobileNetV2,
each trained (a) classifier only, (b) the last two blocks plus the classifier,
(c) all layers, and compared with a CNN trained from scratch, on one
per-class train / test split: the A / P / R / F1 table, the confusion matrix
of each model and the one-vs-all (per class) matrices of the best.

ResNet-18 is not in ``keras.applications``; keras-hub loads it (``pip install
"sktransfer[hub]"``): ``--resnet18 hf://timm/resnet18.tv_in1k`` (torchvision's
IMAGENET1K_V1 weights; downloaded once) or ``resnet_18_imagenet`` (keras-hub's
preset). Offline, pass the folder a machine with internet saved::

    huggingface-cli download timm/resnet18.tv_in1k --local-dir resnet18.tv_in1k
    python examples/animals10_finetune.py --data animals10/ --resnet18 resnet18.tv_in1k \\
        --mobilenetv2-weights mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5

``--mobilenetv2-weights`` is ``imagenet`` (Keras' download, once), a local
Keras weights file without top, or ``none``. "Last two blocks" are
``stack2`` (ResNet-18's last two stages, keras-hub's names ``stack0`` ...
``stack3``) and ``block15`` (MobileNetV2's ``block_15``, ``block_16`` and its top
convolution). A quick check: add ``--size 64 --limit-per-class 12 --epochs 1``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import add_run_arguments, confusion_figures, load_split, save
from sklearn.metrics import multilabel_confusion_matrix

import sktransfer as skt
from sktransfer.compare import compare_models, plot_comparison

WAYS = {"classifier only": 0, "last two blocks": None, "all layers": "all"}
LAST_TWO = {"resnet18": "stack2", "mobilenetv2": "block15"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/animals10", help="folder for the figures")
    p.add_argument(
        "--resnet18",
        default="hf://timm/resnet18.tv_in1k",
        help="keras-hub handle or local checkpoint folder of ResNet-18",
    )
    p.add_argument(
        "--mobilenetv2-weights", default="imagenet", help="imagenet, none or a Keras weights file without top"
    )
    add_run_arguments(p)
    return p.parse_args()


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    (X_train, X_test, y_train, y_test), classes = load_split(args)

    mobilenet_weights = None if args.mobilenetv2_weights == "none" else args.mobilenetv2_weights
    backbones = {"resnet18": (args.resnet18, "imagenet"), "mobilenetv2": ("mobilenetv2", mobilenet_weights)}
    common = dict(
        input_size=args.size, epochs=args.epochs, batch_size=args.batch_size, random_state=args.seed
    )
    models = {}
    for short, (backbone, weights) in backbones.items():
        for way, layers in WAYS.items():
            layers = LAST_TWO[short] if layers is None else layers
            models[f"{short}, {way}"] = skt.FineTunedClassifier(
                backbone, weights=weights, trainable_layers=layers, **common
            )
    models["CNN from scratch"] = skt.SimpleCNNClassifier(
        input_size=min(args.size, 128),
        epochs=args.epochs * 3,
        batch_size=args.batch_size,
        random_state=args.seed,
    )

    table = compare_models(models, X_train, y_train, X_test, y_test)
    print(table)  # accuracy, precision, recall, F1 (macro), fit seconds, ms per image, ...
    save(plot_comparison(table), args.out, "comparison.png")

    best = confusion_figures(table.estimators_, X_test, y_test, args.out, "")
    est = table.estimators_[best]
    print(f"\nbest: {best}; one-vs-all matrices [[TN, FP], [FN, TP]] per class:")
    for label, matrix in zip(
        est.classes_, multilabel_confusion_matrix(y_test, est.predict(X_test), labels=est.classes_)
    ):
        print(f"  {label:<12} {matrix.tolist()}")


if __name__ == "__main__":
    main()
