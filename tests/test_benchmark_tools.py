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
