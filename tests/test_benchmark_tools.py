"""The shared helpers of benchmarks/ (run by hand, so a broken helper would only show after hours)."""

import importlib.util
import json
import os
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def common(monkeypatch, tmp_path):
    spec = importlib.util.spec_from_file_location(
        "_bench_common", os.path.join(ROOT, "benchmarks", "_common.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "RESULTS", str(tmp_path / "results"))
    return module


def test_write_json_bare_name_goes_to_results(common, tmp_path):
    path = common.write_json("run.json", {"a": 1}, quiet=True)
    assert path == os.path.join(str(tmp_path / "results"), "run.json")
    written = json.load(open(path))
    assert written["a"] == 1
    # The docs' benchmark pages refuse a result that does not say when, where,
    # how and from which commit it was measured.
    assert written["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert written["commit"] is None or len(written["commit"].split("-")[0]) == 40
    assert written["command"].startswith("python ") and written["machine"]


def test_write_json_path_with_folder_is_used_as_given(common, tmp_path):
    # --out some/folder/run.json used to be joined under benchmarks/results/ and
    # crash on the missing nested folder after the first (hours-long) candidate.
    target = tmp_path / "elsewhere" / "run.json"
    path = common.write_json(str(target), {"b": 2}, quiet=True)
    assert path == str(target)
    assert json.load(open(target))["b"] == 2
    assert not os.path.exists(str(target) + ".tmp")


def test_write_json_keeps_the_stamps_a_script_gives(common, tmp_path):
    given = {"date": "2026-01-02", "machine": "m", "command": "c", "commit": "abc", "x": [1]}
    path = common.write_json(str(tmp_path / "r.json"), given, quiet=True)
    assert json.load(open(path)) == given


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
            "_bench_accuracy", os.path.join(ROOT, "benchmarks", "accuracy.py")
        )
        accuracy = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(accuracy)
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    return accuracy


def test_accuracy_update_replaces_only_the_redone_runs():
    accuracy = _accuracy_module()

    def row(cand, seed=0, split=None, acc=0.5):
        r = {
            "dataset": "d",
            "seed": seed,
            "candidate": cand,
            "cv_accuracy": acc,
            "test_accuracy": acc,
            "test_macro_f1": acc,
            "fit_seconds": 1.0,
        }
        if split is not None:
            r["split"] = split
        return r

    old = [row("probe"), row("svm"), row("head"), row("head+tta"), row("svm", seed=1), row("svm", split=1)]
    new = [row("svm", acc=0.9), row("head", acc=0.8), row("head+tta", acc=0.85)]
    merged = accuracy.merge_rows(old, new)
    assert [(r["candidate"], r["seed"], r.get("split", 0), r["test_accuracy"]) for r in merged] == [
        ("probe", 0, 0, 0.5),
        ("svm", 1, 0, 0.5),
        ("svm", 0, 1, 0.5),
        ("svm", 0, 0, 0.9),
        ("head", 0, 0, 0.8),
        ("head+tta", 0, 0, 0.85),
    ]
    summary = accuracy.summarise(merged)
    selected = [s for s in summary if s["candidate"].startswith("SELECTED")][0]
    # one run per (split, seed): split 0 seed 0 picks svm (0.9), seed 1 and split 1 svm (0.5)
    assert selected["seeds"] == 3
    assert selected["candidate"] == "SELECTED: svm,svm,svm"


def test_accuracy_one_se_selection_prefers_the_simpler_recipe():
    accuracy = _accuracy_module()

    def row(cand, folds, test, seed=0):
        return {
            "dataset": "d",
            "seed": seed,
            "candidate": cand,
            "cv_accuracy": float(np.mean(folds)),
            "cv_folds": folds,
            "test_accuracy": test,
            "test_macro_f1": test,
            "fit_seconds": 1.0,
        }

    rows = [
        # seed 0: head+tta is best in CV (0.90, SE 0.04); svm (0.88) is within, the probe is not
        row("head+tta", [0.86, 0.94], 0.70),
        row("probe", [0.80, 0.80], 0.60),
        row("svm", [0.86, 0.90], 0.80),
        row("head", [0.85, 0.85], 0.75),
        # seed 1: the probe is within reach of the best
        row("probe", [0.88, 0.88], 0.90, seed=1),
        row("svm", [0.86, 0.94], 0.85, seed=1),
        row("head", [0.80, 0.80], 0.5, seed=1),
        row("head+tta", [0.80, 0.80], 0.5, seed=1),
    ]
    summary = {
        s["candidate"].split(":")[0]: s
        for s in accuracy.summarise(rows)
        if s["candidate"].startswith("SELECTED")
    }
    assert summary["SELECTED"]["candidate"] == "SELECTED: head+tta,svm"
    assert summary["SELECTED (1-SE)"]["candidate"] == "SELECTED (1-SE): svm,probe"
    assert summary["SELECTED (1-SE)"]["gain_over_probe"] == pytest.approx((0.20 + 0.0) / 2)
    # a run without per-fold scores (older results): no 1-SE row rather than a partial one
    del rows[-1]["cv_folds"]
    labels = [s["candidate"] for s in accuracy.summarise(rows)]
    assert not any(label.startswith("SELECTED (1-SE)") for label in labels)


@pytest.mark.parametrize(
    "deterministic, flags, message",
    [
        (None, [], "was computed in batches"),  # files from before the mode existed
        (True, ["--batched"], "was computed one image at a time"),
    ],
)
def test_accuracy_update_keeps_one_way_of_computing_activations(
    tmp_path, monkeypatch, capsys, deterministic, flags, message
):
    import json
    import sys

    accuracy = _accuracy_module()
    header = {"backbone": "efficientnet_lite0", "size": 224, "runs": []}
    if deterministic is not None:
        header["deterministic"] = deterministic
    path = tmp_path / "old.json"
    path.write_text(json.dumps(header))
    monkeypatch.setattr(sys, "argv", ["accuracy.py", "--update", str(path), *flags])
    with pytest.raises(SystemExit):
        accuracy.main()
    assert message in capsys.readouterr().err
    assert json.loads(path.read_text()) == header  # untouched


@pytest.mark.parametrize("name", ["vote", "vote_ft"])
def test_accuracy_votes_average_the_probabilities_of_their_named_candidates(name):
    import argparse

    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier

    accuracy = _accuracy_module()
    args = argparse.Namespace(
        backbone="efficientnet_lite0",
        weights=None,
        size=64,
        epochs=None,
        top_epochs=3,
        full_epochs=2,
        n_views=2,
        svm_sizes=[64],
    )
    vote = accuracy.build(name, args, seed=1)
    assert isinstance(vote, VotingClassifier) and vote.voting == "soft"
    assert [label for label, _ in vote.estimators] == list(accuracy.VOTES[name])

    def params(estimator):
        return {key: repr(value) for key, value in estimator.get_params(deep=True).items()}

    for label, member in vote.estimators:  # each member is that candidate, unchanged
        assert params(clone(member)) == params(accuracy.build(label, args, seed=1))
    assert name in accuracy.ALL


def test_accuracy_vote_after_its_members_combines_their_fitted_models(monkeypatch):
    # vote_ft used to fit both top-block fine-tunes again in every fold (44 min on Lite0
    # flowers) although the lpft and top_aug rows just before it had fitted the same models.
    import argparse

    from sklearn.datasets import make_classification
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    accuracy = _accuracy_module()
    fits = []

    class Counted(LogisticRegression):
        def fit(self, X, y):
            fits.append(self.C)
            return super().fit(X, y)

    def build(name, args, seed):
        if name in accuracy.VOTES:
            return VotingClassifier([(m, build(m, args, seed)) for m in accuracy.VOTES[name]], voting="soft")
        if name == "top_aug":
            return DecisionTreeClassifier(max_depth=2, random_state=seed)
        return Counted(C={"probe": 1.0, "lpft": 0.01}[name])

    monkeypatch.setattr(accuracy, "build", build)
    X, y = make_classification(120, 6, n_informative=4, n_classes=3, random_state=0)
    split = dict(X_train=X[:90], y_train=y[:90], X_test=X[90:], y_test=y[90:])
    args = argparse.Namespace(cv=3)
    scratch = accuracy.run_candidate("vote", args, 0, **split)
    assert len(fits) == 8  # each member in 3 folds + the refit
    fitted, keep = {}, {"probe", "lpft", "top_aug"}
    for name in ["probe", "lpft", "top_aug"]:
        accuracy.run_candidate(name, args, 0, **split, fitted=fitted, keep=keep)
    assert len(fits) == 16
    for name in accuracy.VOTES:
        reused = accuracy.run_candidate(name, args, 0, **split, fitted=fitted, keep=keep)
        assert reused[0]["members_reused"] is True
        if name == "vote":
            for key in ["cv_folds", "test_accuracy", "test_macro_f1"]:
                assert reused[0][key] == scratch[0][key]
    assert len(fits) == 16  # no member fitted again
    assert sorted({name for name, _ in fitted}) == sorted(keep)
