"""scikit-learn's own estimator checks on the three estimators.

sklearn's common checks feed 2-D tabular data (``make_blobs``, iris, random
floats including negatives) to ``fit``. Images are 4-D pixel arrays or file
paths, so every check that needs a *successful* fit on such data cannot apply:
our estimators reject 2-D feature matrices with a ValueError that explains the
expected input. Those checks are listed below with that reason; every other
check (the API checks, the error-message checks) must pass. The properties
that apply to images are checked on images in ``test_common.py`` (outputs leave
the estimator unchanged, do not depend on the other images or their order; fit
returns self) and ``test_persistence.py`` (pickling, cloning, parameters left
unchanged by fit).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest
from sklearn.base import is_classifier
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier

TABULAR = (
    "fits on a 2-D tabular array (make_blobs / iris style); images are 4-D pixel "
    "arrays or file paths, so fit rejects it with a ValueError that says so"
)

_TABULAR_FIT_CHECKS = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
    "check_sample_weights_pandas_series",
    "check_sample_weights_not_an_array",
    "check_sample_weights_list",
    "check_all_zero_sample_weights_error",
    "check_sample_weights_shape",
    "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data",
]
_TABULAR_CLASSIFIER_CHECKS = [
    "check_class_weight_classifiers",
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
    "check_classifiers_train",
    "check_decision_proba_consistency",
    "check_supervised_y_2d",
    "check_classifiers_one_label_sample_weights",
]
_OTHER_REASONS = {
    "check_dtype_object": "fits on an object array of numbers; an object array must hold file paths",
    "check_estimators_empty_data_messages": (
        "expects the tabular '0 feature(s) (shape=(n, 0))' message; images have no feature axis"
    ),
    "check_estimators_nan_inf": (
        "the NaN/inf part passes (fit raises 'X contains NaN or infinity'), then it predicts "
        "after fitting on clean 2-D tabular data"
    ),
    "check_fit2d_1sample": "expects the tabular 'n_samples=1' message for a (1, 10) feature matrix",
    "check_fit2d_1feature": "expects the tabular 'n_features=1' message for a (10, 1) feature matrix",
}


def expected_failed_checks(estimator):
    """The checks that cannot apply to an image estimator, with the reason."""
    names = list(_TABULAR_FIT_CHECKS)
    if is_classifier(estimator):
        names += _TABULAR_CLASSIFIER_CHECKS
    return {**{name: TABULAR for name in names}, **_OTHER_REASONS}


def _estimators():
    return [
        SimpleCNNClassifier(conv_filters=(4,), dense_units=4, input_size=8, epochs=1, random_state=0),
        FineTunedClassifier("mobilenet_0.25", weights=None, input_size=32, epochs=1, random_state=0),
        PretrainedEmbedder("mobilenet_0.25", weights=None, input_size=32),
    ]


@parametrize_with_checks(_estimators(), expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", _estimators()[:2], ids=lambda e: type(e).__name__)
def test_is_classifier(estimator):
    assert is_classifier(estimator)
