"""Models saved by sktransfer 0.1.0 (the flat layout, before the subpackages) still load.

``tests/fixtures/legacy_0_1_0/`` was written by ``tests/fixtures/make_legacy_0_1_0.py`` run
with the 0.1.0 code: a save of a FineTunedClassifier (its JSON names the module
``sktransfer.finetune``), a save of a Pipeline holding a SimpleCNNClassifier (skops
names ``sktransfer._composite.SavedPart``), and a pickle of the SimpleCNNClassifier
(pickle names ``sktransfer.scratch`` and ``sktransfer.persistence._SerializedModel``).
Their predictions at save time are in ``expected.json``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import pathlib
import pickle
import shutil
import warnings

import numpy as np
import pytest

import sktransfer as skt

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "legacy_0_1_0"


@pytest.fixture(scope="module")
def expected():
    return json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture(scope="module")
def queries():
    return np.load(FIXTURES / "images.npy")[-3:]


@pytest.fixture
def copy_of(tmp_path):
    # load() may not write, but a test must never be able to change the fixture.
    def copy(name):
        return shutil.copytree(FIXTURES / name, tmp_path / name)

    return copy


def test_finetuned_save_loads_with_identical_predictions(copy_of, expected, queries):
    model = skt.load(copy_of("finetuned"))
    assert type(model) is skt.FineTunedClassifier
    assert type(model.augmentation) is skt.Augmentation
    assert model.augmentation.get_params() == skt.Augmentation(flip="horizontal", n_views=2).get_params()
    np.testing.assert_allclose(
        model.predict_proba(queries), expected["finetuned_proba"], rtol=1e-5, atol=1e-6
    )
    assert model.predict(queries).tolist() == expected["finetuned_predict"]


def test_pipeline_save_loads_with_identical_predictions(copy_of, expected, queries):
    pipe = skt.load(copy_of("scratch_pipeline"))
    assert type(pipe.steps[0][1]) is skt.SimpleCNNClassifier
    np.testing.assert_allclose(pipe.predict_proba(queries), expected["pipeline_proba"], rtol=1e-5, atol=1e-6)


def test_pickle_loads_with_identical_predictions(expected, queries):
    with warnings.catch_warnings():
        # The pickle names the 0.1.0 module paths, served by the deprecated shims.
        warnings.simplefilter("ignore", FutureWarning)
        with open(FIXTURES / "scratch.pkl", "rb") as f:
            model = pickle.load(f)
    assert type(model) is skt.SimpleCNNClassifier
    np.testing.assert_allclose(model.predict_proba(queries), expected["scratch_proba"], rtol=1e-5, atol=1e-6)
