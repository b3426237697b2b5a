"""save / load of scikit-learn objects holding sktransfer estimators: skops + one save per part."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import json
import shutil
import zipfile

import numpy as np
import pytest
import skops.io
from conftest import BACKBONE, SIZE
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sktransfer import PretrainedEmbedder, load, save
from sktransfer.persistence import JSON_NAME


def _halve(X):
    return np.asarray(X) / 2


@pytest.fixture(scope="module")
def pipeline(binary_sample):
    X, y = binary_sample
    return make_pipeline(
        PretrainedEmbedder(BACKBONE, input_size=SIZE), StandardScaler(), LogisticRegression()
    ).fit(X, y)


@pytest.fixture(scope="module")
def pipeline_save(pipeline, tmp_path_factory):
    return save(pipeline, tmp_path_factory.mktemp("saves") / "pipeline")


@pytest.fixture
def copy_of_save(pipeline_save, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(pipeline_save, target)
    return target


def test_pipeline_round_trip_predicts_identically(pipeline, pipeline_save, binary_sample):
    X, _ = binary_sample
    assert sorted(os.listdir(pipeline_save)) == ["composite.skops", JSON_NAME, "part-0"]
    assert sorted(os.listdir(pipeline_save / "part-0")) == [JSON_NAME, "model.keras"]
    loaded = load(pipeline_save)
    assert [name for name, _ in loaded.steps] == [name for name, _ in pipeline.steps]
    assert type(loaded[0]) is PretrainedEmbedder and loaded[0] is not pipeline[0]
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    np.testing.assert_array_equal(loaded[1].mean_, pipeline[1].mean_)
    # The skops file holds the scikit-learn steps and a placeholder, no sktransfer estimator.
    schema = zipfile.ZipFile(pipeline_save / "composite.skops").read("schema.json").decode()
    assert '"SavedPart"' in schema and "PretrainedEmbedder" not in schema
    assert save(loaded, pipeline_save, overwrite=True) == pipeline_save  # a composite save is replaced


def test_calibrated_fine_tuner_and_search_best_estimator(binary_sample, make_classifier, tmp_path):
    X, y = binary_sample
    calibrated = CalibratedClassifierCV(make_classifier(head=(4,)), cv=2).fit(X, y)
    loaded = load(save(calibrated, tmp_path / "calibrated"))
    parts = sorted(p for p in os.listdir(tmp_path / "calibrated") if p.startswith("part-"))
    assert parts == ["part-0", "part-1", "part-2"]  # the unfitted template + one per fold
    assert "model.keras" in os.listdir(tmp_path / "calibrated" / "part-1")
    np.testing.assert_array_equal(loaded.predict_proba(X), calibrated.predict_proba(X))

    search = GridSearchCV(
        make_pipeline(
            PretrainedEmbedder(BACKBONE, input_size=SIZE), FunctionTransformer(np.sqrt), LogisticRegression()
        ),
        {"logisticregression__C": [0.1, 1.0]},
        cv=2,
    ).fit(X, y)
    loaded = load(save(search.best_estimator_, tmp_path / "best"))
    np.testing.assert_array_equal(loaded.predict_proba(X), search.predict_proba(X))


def test_changed_files_are_refused(copy_of_save):
    data = bytearray((copy_of_save / "composite.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy_of_save / "composite.skops").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="composite.skops does not match the sha256"):
        load(copy_of_save)


def test_part_changed_is_refused(copy_of_save):
    part = copy_of_save / "part-0" / JSON_NAME
    part.write_text(part.read_text().replace('"input_size": 32', '"input_size": 64'))
    with pytest.raises(ValueError, match="part-0.estimator.json does not match the sha256"):
        load(copy_of_save)


def test_forged_file_naming_an_untrusted_type_is_refused(copy_of_save, tmp_path):
    """A forger who also rewrites the hashes still cannot make load() create other types."""
    forged = make_pipeline(FunctionTransformer(os.system), LogisticRegression())
    data = skops.io.dumps(forged)
    (copy_of_save / "composite.skops").write_bytes(data)
    document = json.loads((copy_of_save / JSON_NAME).read_text())
    import hashlib

    document["skops"]["sha256"] = hashlib.sha256(data).hexdigest()
    (copy_of_save / JSON_NAME).write_text(json.dumps(document))
    with pytest.raises(ValueError, match=r"refused: .*posix.system"):
        load(copy_of_save)


def test_own_function_needs_trusted(binary_sample, tmp_path):
    X, y = binary_sample
    pipe = make_pipeline(
        PretrainedEmbedder(BACKBONE, input_size=SIZE), FunctionTransformer(_halve), LogisticRegression()
    ).fit(X, y)
    with pytest.warns(UserWarning, match="_halve"):
        target = save(pipe, tmp_path / "own")
    with pytest.raises(ValueError, match="trusted="):
        load(target)
    loaded = load(target, trusted=[f"{__name__}._halve"])
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_bad_objects_and_documents_are_refused(copy_of_save, tmp_path):
    with pytest.raises(TypeError, match="scikit-learn estimators"):
        save(object(), tmp_path / "x")
    document = json.loads((copy_of_save / JSON_NAME).read_text())
    document["parts"][0]["directory"] = "../elsewhere"
    (copy_of_save / JSON_NAME).write_text(json.dumps(document))
    with pytest.raises(ValueError, match="'parts' must list"):
        load(copy_of_save)
