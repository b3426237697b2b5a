"""The shared helpers of benchmarks/ (run by hand, so a broken helper would only show after hours)."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def common(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "_bench_common", os.path.join(ROOT, "benchmarks", "_common.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", str(tmp_path / "results"))
    return module


def test_write_json_bare_name_goes_to_results(common, tmp_path):
    path = common.write_json("run.json", {"a": 1}, quiet=True)
    assert path == os.path.join(str(tmp_path / "results"), "run.json")
    assert json.load(open(path)) == {"a": 1}


def test_write_json_path_with_folder_is_used_as_given(common, tmp_path):
    # --out some/folder/run.json used to be joined under benchmarks/results/ and
    # crash on the missing nested folder after the first (hours-long) candidate.
    target = tmp_path / "elsewhere" / "run.json"
    path = common.write_json(str(target), {"b": 2}, quiet=True)
    assert path == str(target)
    assert json.load(open(target)) == {"b": 2}
    assert not os.path.exists(str(target) + ".tmp")


def test_accuracy_scores_without_and_with_tta_whatever_the_model_says(binary_sample, make_classifier):
    # With tta=True the default, accuracy.py's plain row used to be scored with
    # TTA too (identical "" and "+tta" rows).
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "_bench_accuracy", os.path.join(ROOT, "benchmarks", "accuracy.py"))
        accuracy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(accuracy)
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    X, y = binary_sample
    clf = make_classifier(epochs=2, tta=True).fit(X, y)
    seen = []
    predict = clf.predict

    def recording_predict(X):
        seen.append(clf.tta)
        return predict(X)

    clf.predict = recording_predict
    out = accuracy.scores(clf, X, y)
    assert seen == [False, True]
    assert clf.tta is True  # given back as it was
    assert set(out) == {"", "+tta"}
