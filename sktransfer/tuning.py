"""Pick the transfer-learning recipe for your data by cross-validation, in one call.

The usual choice is between a linear probe (logistic regression on frozen
embeddings), an SVM on the same embeddings, and fine-tuning (the head alone,
or the backbone's top block as well). Which one wins depends on the data: on
small, easy sets the probe is hard to beat; on larger or fine-grained sets
fine-tuning pays (see the accuracy benchmarks in the documentation). :func:`make_tuner` returns
an ordinary :class:`~sklearn.model_selection.GridSearchCV` over all of them;
:func:`tune` fits it.

The grid is a one-step :class:`~sklearn.pipeline.Pipeline` whose ``"model"``
step is itself searched (scikit-learn's "estimator as a parameter" idiom), so
``cv_results_``, ``best_estimator_``, ``predict`` and every sklearn Display
work as usual. Every candidate shares the frozen backbone's cached
activations: the images go through the frozen layers once per cut, not once
per candidate and fold.

On a few hundred images, CV accuracies are about as noisy as the gaps
between recipes, so the refit can follow the one-standard-error rule
(:func:`one_standard_error`, ``select="one_se"``): the simplest recipe whose
mean CV score is within one standard error of the best one.
"""

import re
from numbers import Integral

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .backbones import get_backbone_spec

__all__ = ["CANDIDATES", "candidate_grid", "make_tuner", "one_standard_error", "top_block", "tune"]

#: Names accepted by ``include``, in the order they are searched.
CANDIDATES = ("linear_probe", "svm", "head", "top_block")

#: Epochs of the ``"top_block"`` candidate (the head-only one uses the default, 30).
TOP_BLOCK_EPOCHS = 10

# The SVM grid: a linear kernel over C, and an RBF kernel over C (gamma
# "scale" adapts to the standardised features' dimension).
SVM_GRID = [
    {"svc__kernel": ["linear"], "svc__C": [0.01, 0.1, 1.0]},
    {"svc__kernel": ["rbf"], "svc__C": [1.0, 10.0, 100.0], "svc__gamma": ["scale"]},
]


def top_block(backbone):
    """The name of ``backbone``'s last block (the one a "top-block" fine-tune trains).

    A trailing block that is only the final 1x1 convolution (``"top"`` in the
    EfficientNets and MobileNetV2) is taken together with the block below it.

    Examples
    --------
    >>> from sktransfer.tuning import top_block
    >>> top_block("resnet50v2"), top_block("efficientnet_lite0"), top_block("mobilenet_0.25")
    ('conv5', 'block7', 'block13')
    """
    blocks = list(get_backbone_spec(backbone).blocks)
    return blocks[-2] if blocks[-1] == "top" else blocks[-1]


def candidate_grid(
    backbone="resnet50v2",
    *,
    weights="imagenet",
    input_size=None,
    include=CANDIDATES,
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """The parameter grid of :func:`make_tuner`: one dict per candidate recipe.

    Parameters
    ----------
    backbone, weights, input_size
        Passed to every :class:`~sktransfer.PretrainedEmbedder` and
        :class:`~sktransfer.FineTunedClassifier` of the grid.
    include : sequence of str, default=CANDIDATES
        Which recipes: ``"linear_probe"`` (standardised embeddings +
        ``LogisticRegression``), ``"svm"`` (the same embeddings + ``SVC`` over
        :data:`SVM_GRID`, with and without mirror averaging of the
        embeddings, ``PretrainedEmbedder(tta=...)``), ``"head"`` (fine-tune the head only) and
        ``"top_block"`` (fine-tune the head and :func:`top_block`, with the
        backbone at a tenth of the head's learning rate, for
        :data:`TOP_BLOCK_EPOCHS`, after the head alone: the default
        two-stage fine-tuning, ``head_epochs=30``). The grid lists them in
        this order, whatever the order of ``include``.
    random_state : int or None, default=None
        Seeds the fine-tuners and the SVM.
    n_jobs : int or None, default=None
        Image decoding threads.
    verbose : int, default=0

    Returns
    -------
    param_grid : list of dict
        Keys are ``"model"`` and ``"model__<step>__<param>"``; use it with a
        one-step ``Pipeline([("model", ...)])``.

    Examples
    --------
    >>> from sktransfer.tuning import candidate_grid
    >>> grid = candidate_grid("efficientnet_lite0", include=("linear_probe", "head"))
    >>> [type(g["model"][0]).__name__ for g in grid]
    ['Pipeline', 'FineTunedClassifier']
    """
    from .estimators import FineTunedClassifier, PretrainedEmbedder

    unknown = [name for name in include if name not in CANDIDATES]
    if unknown or not include or isinstance(include, str):
        raise ValueError(f"include must be a non-empty list of {CANDIDATES}, got {include!r}.")
    shared = dict(backbone=backbone, weights=weights, input_size=input_size, n_jobs=n_jobs, verbose=verbose)

    def embedder():
        return PretrainedEmbedder(**shared)

    def finetuner(**params):
        return FineTunedClassifier(**shared, random_state=random_state, **params)

    grid = []
    # In CANDIDATES' order, whatever the order of include: the one-SE rule takes
    # the earliest candidate as the simplest.
    for name in (name for name in CANDIDATES if name in include):
        if name == "linear_probe":
            model = make_pipeline(embedder(), StandardScaler(), LogisticRegression(max_iter=2000))
            grid.append({"model": [model]})
        elif name == "svm":
            model = make_pipeline(embedder(), StandardScaler(), SVC(random_state=random_state))
            grid.extend(
                {
                    "model": [model],
                    "model__pretrainedembedder__tta": [False, True],
                    **{f"model__{k}": v for k, v in g.items()},
                }
                for g in SVM_GRID
            )
        elif name == "head":
            grid.append({"model": [finetuner(trainable_layers=0)]})
        else:
            # Fewer epochs than the default: each epoch trains backbone layers.
            grid.append(
                {
                    "model": [
                        finetuner(
                            trainable_layers=top_block(backbone),
                            backbone_lr_scale=0.1,
                            epochs=TOP_BLOCK_EPOCHS,
                        )
                    ]
                }
            )
    return grid


def one_standard_error(cv_results):
    """The simplest candidate whose mean CV score is within one standard error of the best.

    The one-standard-error rule (Hastie, Tibshirani and Friedman, *The
    Elements of Statistical Learning*, 7.10): take the best mean test score
    and its standard error over the CV splits (the sample standard deviation
    of its split scores over the square root of their number); of the
    candidates scoring at least the best minus that, return the first one.
    Candidates count as simpler the earlier they come in the grid, as in
    :func:`candidate_grid`: linear probe, then SVM (its most regularised
    settings first), then fine-tuning. Use it as ``GridSearchCV(refit=...)``;
    such a search sets ``best_index_`` and ``best_params_`` but, as
    scikit-learn does for any callable ``refit``, no ``best_score_``.

    Parameters
    ----------
    cv_results : dict
        A search's ``cv_results_``, with ``mean_test_score`` and
        ``split<i>_test_score`` (one scoring metric, higher is better).

    Returns
    -------
    index : int
        Index into ``cv_results["params"]``.

    Examples
    --------
    >>> from sktransfer.tuning import one_standard_error
    >>> results = {"mean_test_score": [0.80, 0.88, 0.90],
    ...            "split0_test_score": [0.78, 0.86, 0.86],
    ...            "split1_test_score": [0.82, 0.90, 0.94]}
    >>> one_standard_error(results)  # the best is 0.90, standard error 0.04: 0.88 is close enough
    1
    >>> results["split0_test_score"][2], results["split1_test_score"][2] = 0.89, 0.91
    >>> one_standard_error(results)  # the same mean, standard error 0.01
    2
    """
    if "mean_test_score" not in cv_results:
        raise ValueError(
            "one_standard_error needs the cv_results_ of a search with one scoring metric "
            f"(mean_test_score); got the keys {sorted(cv_results)[:8]}..."
        )
    means = np.asarray(cv_results["mean_test_score"], dtype=float)
    splits = [k for k in cv_results if re.fullmatch(r"split\d+_test_score", k)]
    if np.all(np.isnan(means)):
        raise ValueError("one_standard_error: every candidate's mean test score is NaN.")
    best = int(np.nanargmax(means))
    scores = np.asarray([cv_results[k][best] for k in splits], dtype=float)
    se = scores.std(ddof=1) / np.sqrt(len(scores)) if len(scores) > 1 else 0.0
    # NaN (a failed candidate) compares False, so it is never chosen.
    return int(np.flatnonzero(means >= means[best] - se)[0])


def make_tuner(
    backbone="resnet50v2",
    *,
    weights="imagenet",
    input_size=None,
    include=CANDIDATES,
    cv=3,
    scoring="accuracy",
    select="best",
    random_state=None,
    n_jobs=None,
    verbose=0,
):
    """A GridSearchCV that picks linear probe, SVM-on-embeddings or fine-tuning by CV.

    Parameters
    ----------
    backbone : str, default="resnet50v2"
        See :func:`sktransfer.backbones.available_backbones`;
        ``"efficientnet_lite0"`` works offline.
    weights : "imagenet", str or None, default="imagenet"
        ``"imagenet"``, a local weights file, or ``None``.
    input_size : int, (int, int) or None, default=None
        ``None``: the backbone's default (224).
    include : sequence of str, default=CANDIDATES
        The recipes to compare (see :func:`candidate_grid`).
    cv : int or cross-validation splitter, default=3
        An int means ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
    scoring : str or callable, default="accuracy"
        As in GridSearchCV (one metric, higher is better).
    select : {"best", "one_se"}, default="best"
        Which candidate is refit on all the data: the best mean CV score, or
        the simplest recipe within one standard error of it
        (:func:`one_standard_error`; the search then has no ``best_score_``).
    random_state : int or None, default=None
        Seeds the folds and the models.
    n_jobs : int or None, default=None
        Image decoding threads. Candidates run one after the other, in this
        process, so that they share the activation cache.
    verbose : int, default=0
        Passed to GridSearchCV and the models.

    Returns
    -------
    tuner : GridSearchCV
        Not fitted. After ``fit``, ``best_estimator_`` is a one-step Pipeline
        around the chosen model (``best_estimator_["model"]``).

    See Also
    --------
    tune : make the tuner and fit it.

    Examples
    --------
    >>> from sklearn.model_selection import ParameterGrid
    >>> from sktransfer.tuning import make_tuner
    >>> tuner = make_tuner("efficientnet_lite0", input_size=32, cv=2, random_state=0,
    ...                    include=("linear_probe", "svm"))
    >>> len(ParameterGrid(tuner.param_grid))  # the probe + 6 SVM settings x mirror averaging
    13
    >>> type(tuner).__name__  # fit it like any GridSearchCV (see tune)
    'GridSearchCV'
    """
    if select not in ("best", "one_se"):
        raise ValueError(f"select must be 'best' or 'one_se', got {select!r}.")
    grid = candidate_grid(
        backbone,
        weights=weights,
        input_size=input_size,
        include=include,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=verbose,
    )
    if isinstance(cv, Integral) and not isinstance(cv, bool):
        cv = StratifiedKFold(int(cv), shuffle=True, random_state=random_state)
    pipeline = Pipeline([("model", grid[0]["model"][0])])
    refit = one_standard_error if select == "one_se" else True
    return GridSearchCV(
        pipeline, grid, cv=cv, scoring=scoring, refit=refit, verbose=verbose, error_score="raise"
    )


def tune(X, y, **kwargs):
    """Choose and fit the best recipe for ``(X, y)`` by cross-validation: ``make_tuner(**kwargs).fit(X, y)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width, 3) or (n_samples,)
        Images (0..255) or image file paths.
    y : array-like of shape (n_samples,)
        Labels.
    **kwargs
        Passed to :func:`make_tuner`.

    Returns
    -------
    tuner : GridSearchCV
        Fitted; ``tuner.predict`` uses the best recipe refit on all of ``X``.

    Examples
    --------
    >>> from sktransfer.datasets import load_sample
    >>> from sktransfer.tuning import tune
    >>> X, y = load_sample(size=32, n_per_class=6, return_X_y=True)
    >>> tuner = tune(X, y, backbone="efficientnet_lite0", input_size=32, cv=2,
    ...              include=("linear_probe",))
    >>> tuner.predict(X[:2]).shape
    (2,)
    """
    return make_tuner(**kwargs).fit(X, y)
