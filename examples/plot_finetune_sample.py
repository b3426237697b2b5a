"""
Fine-tune on the built-in sample, then read the learning curves
===============================================================

The smallest complete run: the four-class built-in sample (crops of
scikit-learn's two sample photographs), the offline ImageNet backbone
EfficientNet-Lite0, a new head trained on the frozen backbone, the learning
curves with their diagnosis, and the confusion matrix on held-out images.
"""

# %%
# Load the sample and hold out a few images of each class
# --------------------------------------------------------
# ``load_sample`` makes small uint8 images in memory; ``per_class_split``
# keeps the same number of test images in every class.
import matplotlib.pyplot as plt

import sktransfer as skt
from sktransfer.plot import diagnose_learning_curves, plot_confusion_matrix, plot_learning_curves

X, y = skt.load_sample(size=96, n_per_class=12, random_state=0, return_X_y=True)
X_train, X_test, y_train, y_test = skt.per_class_split(X, y, y=y, n_test=4, random_state=0)
print(f"{len(X_train)} training and {len(X_test)} test images, classes {sorted(set(y))}")

# %%
# Train the head on the frozen backbone
# -------------------------------------
# ``trainable_layers=0`` (the default) trains only the new head: the backbone
# runs once per image and its activations are cached, so every epoch costs
# milliseconds. ``validation=2`` holds out two training images per class to
# draw the validation curve.
clf = skt.FineTunedClassifier("efficientnet_lite0", input_size=96, epochs=15, validation=2, random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy: {clf.score(X_test, y_test):.2f}")
print(clf.backbone_info_["training_input"])

# %%
# Learning curves and their diagnosis
# -----------------------------------
plot_learning_curves(clf)
print(diagnose_learning_curves(clf))

# %%
# Confusion matrix on the held-out images
# ---------------------------------------
plot_confusion_matrix(clf, X_test, y_test)
plt.show()
