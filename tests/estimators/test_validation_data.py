"""The user's own validation set (``X_val``, ``validation=``), the two stages in
``history_``, and what ``trainable_layers`` counts."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import warnings

import numpy as np
import pytest
import sklearn
from conftest import BACKBONE, SIZE
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sktransfer import FineTunedClassifier, SimpleCNNClassifier
from sktransfer.model_selection import PerClassSplit, per_class_split


def _clf(**params):
    defaults = dict(
        backbone=BACKBONE,
        input_size=SIZE,
        epochs=2,
        batch_size=8,
        learning_rate=0.01,
        random_state=0,
        tta=False,
    )
    return FineTunedClassifier(**{**defaults, **params})


@pytest.fixture(scope="module")
def parts(sample):
    """(X_train, X_val, y_train, y_val): 4 validation images of each class."""
    X, y = sample
    return per_class_split(X, y, y=y, n_test=4, random_state=0)


def test_x_val_is_the_validation_set_and_all_of_x_trains(parts):
    X, X_val, y, y_val = parts
    clf = _clf().fit(X, y, X_val=X_val, y_val=y_val)
    # Keras computes the last val_loss with the final weights: sklearn's log
    # loss of the fitted model on X_val is the same number.
    expected = log_loss(y_val, clf.predict_proba(X_val), labels=clf.classes_)
    assert clf.history_["val_loss"][-1] == pytest.approx(expected, rel=1e-4)
    assert len(clf.history_["val_accuracy"]) == clf.n_epochs_ == 2
    # Validating changes nothing in the training: every image of X trained.
    plain = _clf().fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), plain.predict_proba(X), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "validation", [3, PerClassSplit(3, random_state=7), 0.25], ids=["per_class", "splitter", "fraction"]
)
def test_validation_holds_out_what_its_splitter_gives(sample, validation):
    X, y = sample
    held_out = _clf(validation=validation).fit(X, y)
    if isinstance(validation, int):  # an int: PerClassSplit seeded by random_state
        splitter = PerClassSplit(validation, random_state=0)
    elif isinstance(validation, float):  # a fraction: as validation_fraction
        splitter = None
        reference = _clf(validation_fraction=validation).fit(X, y)
    else:
        splitter = validation
    if splitter is not None:
        train, val = next(splitter.split(X, y))
        assert len(val) == 4 * 3
        reference = _clf().fit(X[train], y[train], X_val=X[val], y_val=y[val])
    assert held_out.history_ == reference.history_


def test_early_stopping_and_the_head_stage_use_x_val(parts):
    X, X_val, y, y_val = parts
    clf = _clf(trainable_layers=2, head_epochs=3, epochs=2, early_stopping=True, patience=5)
    clf.fit(X, y, X_val=X_val, y_val=y_val)
    assert clf.history_["stage"] == [1, 1, 1, 2, 2]
    assert len(clf.history_["val_loss"]) == 5 and clf.n_epochs_ == 2
    # The head stage is the head-only fit with the same images and seed.
    head = _clf(epochs=3).fit(X, y, X_val=X_val, y_val=y_val)
    np.testing.assert_allclose(clf.history_["val_loss"][:3], head.history_["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(clf.history_["loss"][:3], head.history_["loss"], rtol=1e-5)


def test_simple_cnn_takes_x_val(parts):
    X, X_val, y, y_val = parts
    clf = SimpleCNNClassifier(conv_filters=(4,), dense_units=8, input_size=16, epochs=1, random_state=0).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_x_val_in_a_grid_search(parts):
    X, X_val, y, y_val = parts
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _clf(epochs=1).set_fit_request(X_val=True, y_val=True)
        search = GridSearchCV(clf, {"batch_size": [8, 16]}, cv=StratifiedKFold(2))
        search.fit(X, y, X_val=X_val, y_val=y_val)
    reference = _clf(epochs=1, batch_size=search.best_params_["batch_size"]).fit(
        X, y, X_val=X_val, y_val=y_val
    )
    assert search.best_estimator_.history_ == reference.history_
    # Without routing, GridSearchCV passes fit parameters as they are.
    plain = GridSearchCV(_clf(epochs=1), {"batch_size": [8]}, cv=StratifiedKFold(2))
    plain.fit(X, y, X_val=X_val, y_val=y_val)
    assert "val_loss" in plain.best_estimator_.history_


@pytest.mark.parametrize(
    "params, fit_kwargs, message",
    [
        ({"validation_fraction": 0.2}, {"with_val": True}, "validation set already"),
        ({"validation": 2, "validation_fraction": 0.2}, {}, "set only one"),
        ({}, {"X_val_only": True}, "both X_val and y_val"),
        ({}, {"unknown_label": True}, "y_val has labels that y lacks"),
        ({"early_stopping": True}, {}, "pass X_val and y_val"),
        ({"validation": 20}, {}, "validation=20"),
    ],
)
def test_bad_validation(parts, params, fit_kwargs, message):
    X, X_val, y, y_val = parts
    kwargs = {}
    if fit_kwargs.get("with_val"):
        kwargs = dict(X_val=X_val, y_val=y_val)
    elif fit_kwargs.get("X_val_only"):
        kwargs = dict(X_val=X_val)
    elif fit_kwargs.get("unknown_label"):
        kwargs = dict(X_val=X_val, y_val=np.where(y_val == "dahlia", "daisy", y_val))
    with pytest.raises(ValueError, match=message):
        _clf(**params).fit(X, y, **kwargs)


# -- item: say what things mean ---------------------------------------------------
def test_trainable_layers_of_only_normalisation_warns(sample):
    X, y = sample
    X, y = X[::5], y[::5]
    with pytest.warns(
        UserWarning,
        match=r"trainable_layers=1 .* only normalisation layers: "
        r"top_bn \(BatchNormalization\).*trainable_layers=2 "
        r"reaches top_conv",
    ):
        _clf(trainable_layers=1, head_epochs=0, epochs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*normalisation", category=UserWarning)
        _clf(trainable_layers=2, head_epochs=0, epochs=1).fit(X, y)


def test_cli_validation_per_class_and_stated_defaults(capsys):
    from sktransfer.cli._args import build_parser
    from sktransfer.cli._support import classifier

    parser = build_parser()
    args = parser.parse_args(["fit", "--out", "run", "--validation-per-class", "20"])
    clf = classifier(args)
    assert (clf.validation, clf.validation_fraction) == (20, 0.0)
    default = classifier(parser.parse_args(["fit", "--out", "run"]))
    assert (default.validation, default.validation_fraction) == (None, 0.2)
    with pytest.raises(SystemExit):
        parser.parse_args(["fit", "--out", "run", "--validation-per-class", "0"])
    with pytest.raises(SystemExit):
        parser.parse_args(["fit", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Python estimators' validation_fraction defaults to 0" in help_text
    assert "unlike the Python estimators' default resnet50v2" in help_text
    doc = " ".join(FineTunedClassifier.__doc__.split())
    assert "the command line's default is 0.2" in doc and "the command line's default" in doc


def test_save_and_load_keep_the_validation_splitter(parts, tmp_path):
    from sktransfer import load, save

    X, X_val, y, y_val = parts
    clf = _clf(validation=PerClassSplit(2, random_state=3), epochs=1).fit(X, y)
    save(clf, tmp_path / "model")
    loaded = load(tmp_path / "model")
    assert repr(loaded.validation) == repr(clf.validation)
    assert loaded.validation is not clf.validation
    assert loaded.history_ == clf.history_
