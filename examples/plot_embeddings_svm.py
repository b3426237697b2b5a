"""
Frozen embeddings in a scikit-learn pipeline
============================================

``PretrainedEmbedder`` is a transformer: the pooled features of a frozen
ImageNet backbone. Here it feeds a standardised ``SVC`` inside a
``Pipeline`` scored by cross-validation, and a linear probe for comparison.
The frozen backbone runs once per image: every fold and every classifier
reads the same cached activations.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import sktransfer as skt

X, y = skt.load_sample(size=96, n_per_class=12, random_state=1, return_X_y=True)
cv = StratifiedKFold(3, shuffle=True, random_state=0)

scores = {}
for name, classifier in [("linear probe", LogisticRegression(max_iter=1000)), ("SVM (RBF)", SVC(C=10.0))]:
    model = make_pipeline(
        skt.PretrainedEmbedder("efficientnet_lite0", input_size=96), StandardScaler(), classifier
    )
    scores[name] = cross_val_score(model, X, y, cv=cv)
    print(f"{name}: {scores[name].mean():.2f} ± {scores[name].std():.2f}")

# %%
# The cross-validated accuracy of each pipeline
fig, ax = plt.subplots(figsize=(5, 3))
ax.boxplot(list(scores.values()))
ax.set_xticks(np.arange(1, len(scores) + 1), list(scores))
ax.set_ylabel("accuracy (3-fold CV)")
fig.tight_layout()
plt.show()
