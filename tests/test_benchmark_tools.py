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
    accuracy = _accuracy_module()
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


def _accuracy_module():
    import sys

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(
            "_bench_accuracy", os.path.join(ROOT, "benchmarks", "accuracy.py"))
        accuracy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(accuracy)
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    return accuracy


def test_accuracy_update_replaces_only_the_redone_runs():
    accuracy = _accuracy_module()

    def row(cand, seed=0, split=None, acc=0.5):
        r = {"dataset": "d", "seed": seed, "candidate": cand, "cv_accuracy": acc,
             "test_accuracy": acc, "test_macro_f1": acc, "fit_seconds": 1.0}
        if split is not None:
            r["split"] = split
        return r

    old = [row("probe"), row("svm"), row("head"), row("head+tta"), row("svm", seed=1),
           row("svm", split=1)]
    new = [row("svm", acc=0.9), row("head", acc=0.8), row("head+tta", acc=0.85)]
    merged = accuracy.merge_rows(old, new)
    assert [(r["candidate"], r["seed"], r.get("split", 0), r["test_accuracy"]) for r in merged] == [
        ("probe", 0, 0, 0.5), ("svm", 1, 0, 0.5), ("svm", 0, 1, 0.5),
        ("svm", 0, 0, 0.9), ("head", 0, 0, 0.8), ("head+tta", 0, 0, 0.85)]
    summary = accuracy.summarise(merged)
    selected = [s for s in summary if s["candidate"].startswith("SELECTED")][0]
    # one run per (split, seed): split 0 seed 0 picks svm (0.9), seed 1 and split 1 svm (0.5)
    assert selected["seeds"] == 3
    assert selected["candidate"] == "SELECTED: svm,svm,svm"
