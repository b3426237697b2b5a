"""The estimators: fine-tuning, embedding, a CNN from scratch, the ImageNet classifier.

:class:`FineTunedClassifier` fine-tunes an ImageNet backbone on your images;
:class:`PretrainedEmbedder` turns images into the backbone's pooled features (a
transformer for scikit-learn pipelines); :class:`SimpleCNNClassifier` trains a small
CNN from scratch; :class:`PretrainedImageNetClassifier` predicts ImageNet's 1,000
classes with no training. :class:`Augmentation` describes random image augmentation,
and :func:`make_optimizer` builds a Keras optimizer from a name (the table of default
learning rates is in :data:`OPTIMIZERS`).

Every name here is also available as ``sktransfer.<name>``.
"""

from ._augment import Augmentation
from ._base import BaseImageClassifier
from ._embedding import PretrainedEmbedder
from ._finetune import FineTunedClassifier
from ._imagenet import PretrainedImageNetClassifier, imagenet_class_names
from ._optimizers import OPTIMIZERS, make_optimizer
from ._scratch import SimpleCNNClassifier

__all__ = [
    "OPTIMIZERS",
    "Augmentation",
    "BaseImageClassifier",
    "FineTunedClassifier",
    "PretrainedEmbedder",
    "PretrainedImageNetClassifier",
    "SimpleCNNClassifier",
    "imagenet_class_names",
    "make_optimizer",
]
