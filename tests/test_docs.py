"""The documentation: its API page covers the public names, its benchmark pages
say where every figure comes from, and the built site renders in a browser.

The site itself is built by ``.ci/run`` before the tests
(``python -m sphinx -W -b html docs docs/_build/html``); the browser checks
read that build and skip when it is absent.
"""

import importlib
import json
import os
import re
import shutil
import sys

import pytest

import sktransfer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
BUILD = os.path.join(DOCS, "_build", "html")
RESULTS = os.path.join(ROOT, "benchmarks", "results")
sys.path.insert(0, DOCS)

from _ext.benchmark_pages import REQUIRED, render, write_benchmark_pages  # noqa: E402
from _ext.script_pages import scripts  # noqa: E402


# -- the API reference lists every public name ---------------------------------------
def _api_entries():
    """``{section module: names listed under it}`` from docs/api.rst's autosummaries."""
    with open(os.path.join(DOCS, "api.rst"), encoding="utf-8") as fh:
        text = fh.read()
    entries, module = {}, None
    for line in text.splitlines():
        found = re.match(r"\.\. currentmodule:: (\S+)", line)
        if found:
            module = found.group(1)
        elif re.match(r"   [A-Za-z_][\w]*$", line):
            entries.setdefault(module, set()).add(line.strip())
    return entries


def test_api_page_lists_every_public_name():
    entries = _api_entries()
    top = {n for n in sktransfer.__all__ if n not in sktransfer._SUBMODULES and n != "__version__"}
    assert entries["sktransfer"] == top
    for name in sktransfer._SUBMODULES:
        module = importlib.import_module(f"sktransfer.{name}")
        listed = entries.get(f"sktransfer.{name}", set())
        missing = set(module.__all__) - listed - top
        assert not missing, f"docs/api.rst lacks sktransfer.{name}.{sorted(missing)}"


def test_api_check_sees_a_missing_name(monkeypatch):
    """The check above can fail: a new public name not in api.rst is found."""
    monkeypatch.setattr(sktransfer, "__all__", sktransfer.__all__ + ["brand_new_function"])
    with pytest.raises(AssertionError):
        test_api_page_lists_every_public_name()


# -- benchmark results and their pages -----------------------------------------------
def _results():
    return sorted(f for f in os.listdir(RESULTS) if f.endswith(".json"))


def test_every_committed_result_says_when_where_how_and_from_which_commit():
    assert _results(), "no benchmark results under benchmarks/results/"
    for name in _results():
        with open(os.path.join(RESULTS, name), encoding="utf-8") as fh:
            result = json.load(fh)
        for key in REQUIRED:
            assert result.get(key), f"{name} lacks {key}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", result["date"]), name
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", result["commit"]), name


def test_benchmark_page_shows_provenance_and_every_cell():
    result = {
        "title": "T",
        "date": "2026-01-02",
        "machine": "2 cores",
        "command": "python b.py",
        "commit": "a" * 40,
        "tables": [{"caption": "cap", "columns": ["x", "y|z"], "rows": [["1", "2"]]}],
        "runs": [{"candidate": "probe", "accuracy": 0.91234}],
        "notes": ["a note"],
    }
    page = render("t", result)
    assert page.startswith("# T\n")
    for text in (
        "2026-01-02",
        "2 cores",
        "python b.py",
        "a" * 40,
        "**cap**",
        "| x | y\\|z |",
        "| 1 | 2 |",
        "| candidate | accuracy |",
        "| probe | 0.9123 |",
        "a note",
    ):
        assert text in page, text


@pytest.mark.parametrize("key", REQUIRED)
def test_benchmark_page_refuses_a_result_without_provenance(key):
    result = {"date": "2026-01-02", "machine": "m", "command": "c", "commit": "a" * 40}
    del result[key]
    with pytest.raises(ValueError, match=key):
        render("t", result)


def test_benchmark_pages_follow_the_results_folder(tmp_path):
    results, docs = tmp_path / "results", tmp_path / "docs"
    results.mkdir()
    stamp = {"date": "2026-01-02", "machine": "m", "command": "c", "commit": "a" * 40}
    (results / "one.json").write_text(json.dumps(stamp))
    (results / "two.json").write_text(json.dumps(stamp))
    assert write_benchmark_pages(str(results), str(docs)) == ["one", "two"]
    (results / "two.json").unlink()
    write_benchmark_pages(str(results), str(docs))
    assert sorted(os.listdir(docs / "generated")) == ["one.md"]


def test_gallery_runs_only_the_quick_examples():
    examples = os.path.join(ROOT, "examples")
    gallery = sorted(f for f in os.listdir(examples) if f.startswith("plot_") and f.endswith(".py"))
    assert gallery, "no gallery example (examples/plot_*.py)"
    assert "quickstart.py" in scripts(examples) and not set(gallery) & set(scripts(examples))
    assert not any(f.startswith("_") for f in scripts(examples))


# -- the built site in a real browser -------------------------------------------------
def _built(page):
    path = os.path.join(BUILD, page)
    if not os.path.exists(path):
        pytest.skip(
            f"{os.path.relpath(path, ROOT)} is absent: build the site first "
            "(python -m sphinx -W -b html docs docs/_build/html; .ci/run does)"
        )
    return path


def _load_built_page(page, tmp_path):
    """Load a built page with the report test's probe, in a copy of the site
    (the probe is injected into the page; relative links keep working)."""
    # By path: whether pytest put tests/report on sys.path depends on what it collected first.
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "report"))
    try:
        from test_report import _load_in_browser
    finally:
        sys.path.pop(0)

    source = _built(page)
    site = tmp_path / "site"
    shutil.copytree(BUILD, site, ignore=shutil.ignore_patterns("_sources"))
    probe_dir = site / os.path.dirname(page)
    with open(source, encoding="utf-8") as fh:
        text = fh.read()
    result, console, stderr = _load_in_browser(text, probe_dir)
    return result, console, stderr


@pytest.mark.parametrize("page", ["index.html", "auto_examples/plot_finetune_sample.html"])
def test_built_page_renders_in_chromium(page, tmp_path):
    result, console, stderr = _load_built_page(page, tmp_path)
    assert result["errors"] == [], result["errors"]
    # The theme reports its colour mode with console.log ("[PST]: ..."); anything
    # else on the console (console.error lands in the probe's errors as well) fails.
    assert [line for line in console if '"[PST]: ' not in line] == []
    assert "Uncaught" not in stderr
    assert result["decoded"] == result["total"]
    # Every stylesheet and script comes from the site itself: it works offline.
    assert all(url.startswith("file:") or url.startswith("data:") for url in result["resources"]), result[
        "resources"
    ]
    if page.startswith("auto_examples/"):
        assert result["total"] >= 2  # the gallery's figures, not only the logo


def test_cli_page_shows_the_current_help():
    import subprocess

    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(
        [sys.executable, "-m", "sktransfer", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    with open(os.path.join(DOCS, "guide", "cli.md"), encoding="utf-8") as fh:
        page = fh.read()
    assert done.stdout.strip() in page, "docs/guide/cli.md: paste the new `sktransfer --help`"


def test_class_pages_show_sktransfer_methods_not_inherited_ones():
    import conf

    methods = conf.autosummary_context["sktransfer_methods"]
    fine_tuner = methods["sktransfer.FineTunedClassifier"]
    assert {"fit", "predict", "predict_proba", "transform"} <= set(fine_tuner)
    assert not {"get_params", "set_params", "score"} & set(fine_tuner)
    # A method defined without a docstring (an override) is not shown with its parent's.
    assert "fit" in methods["sktransfer.estimators.BaseImageClassifier"]
    assert set(methods) == {
        f"sktransfer.{n}"
        for n in (
            "ActivationCache",
            "Augmentation",
            "FineTunedClassifier",
            "FirstNPerClassSplit",
            "PerClassSplit",
            "PretrainedEmbedder",
            "PretrainedImageNetClassifier",
            "SimpleCNNClassifier",
        )
    } | {n for n in methods if n.count(".") == 2}
