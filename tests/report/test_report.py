"""write_report: one self-contained HTML file, checked by parsing and in a real browser."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import base64
import doctest
import html
import io
import itertools
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

import sktransfer.report._sections as sections_module
import sktransfer.report._write as report_module
from sktransfer import FineTunedClassifier
from sktransfer.compare import ComparisonTable
from sktransfer.metrics import evaluate
from sktransfer.plot import diagnose_learning_curves
from sktransfer.report import write_report

TITLE = 'Flowers <run 1> & "friends"'

pytestmark = pytest.mark.usefixtures("close_figures")


def _flatten(X):
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) / 255


class _Page(HTMLParser):
    """What the tests look at: title, images, tables by id, every URL-like attribute."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.title, self.h1, self.images, self.tables, self.urls, self.tags = "", "", [], {}, [], []
        self._in, self._table, self._row, self._cell = None, None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        self.urls += [v for k, v in attrs.items() if k in ("src", "href", "srcset", "action")]
        if tag in ("title", "h1"):
            self._in = tag
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self._table = self.tables.setdefault(attrs.get("id") or f"#{len(self.tables)}", [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("title", "h1"):
            self._in = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data
        elif self._in == "h1":
            self.h1 += data
        if self._cell is not None:
            self._cell += data

    def rows(self, table_id):
        """{first cell: other cells} of one table."""
        return {row[0]: row[1:] for row in self.tables[table_id]}


@pytest.fixture(scope="module")
def run(sample_split, tmp_path_factory):
    """A fitted multiclass FineTunedClassifier, a small search, a comparison, the report."""
    X_train, X_test, y_train, y_test = sample_split
    clf = FineTunedClassifier(
        "efficientnet_lite0",
        input_size=32,
        epochs=3,
        learning_rate=0.01,
        validation_fraction=0.25,
        random_state=0,
    ).fit(X_train, y_train)
    search = GridSearchCV(
        make_pipeline(FunctionTransformer(_flatten), SVC()),
        {"svc__C": [0.1, 1.0, 10.0], "svc__gamma": ["scale", 0.001]},
        cv=2,
    ).fit(X_train, y_train)
    comparison = ComparisonTable(
        [
            {
                "name": "fine-tuned",
                "accuracy": 0.9,
                "precision": 0.91,
                "recall": 0.9,
                "f1": 0.9,
                "fit_seconds": 3.5,
                "predict_ms_per_image": 2.0,
                "total_params": 3418148,
                "trainable_params": 5124,
                "peak_memory_mb": 120.0,
                "backbone": "efficientnet_lite0",
                "weights": "imagenet",
            },
            {
                "name": "svc <flat>",
                "accuracy": 0.6,
                "precision": 0.7,
                "recall": 0.6,
                "f1": 0.61,
                "fit_seconds": 0.01,
                "predict_ms_per_image": 0.1,
                "total_params": None,
                "trainable_params": None,
                "peak_memory_mb": 0.5,
                "backbone": None,
                "weights": None,
            },
        ]
    )
    path = tmp_path_factory.mktemp("report") / "report.html"
    figures_before = plt.get_fignums()
    returned = write_report(
        path,
        clf,
        X_test,
        y_test,
        X_train=X_train,
        y_train=y_train,
        search=search,
        comparison=comparison,
        title=TITLE,
        data_summary={"source": "sktransfer.datasets.load_sample", "image size": "32 x 32"},
    )
    assert plt.get_fignums() == figures_before  # every figure it made is closed
    text = path.read_text(encoding="utf-8")
    return {
        "clf": clf,
        "path": path,
        "returned": returned,
        "text": text,
        "page": _Page(text),
        "split": sample_split,
    }


# -- the file -----------------------------------------------------------------------
def test_written_atomically_with_title_escaped(run):
    path = run["path"]
    assert run["returned"] == str(path) and path.is_file()
    assert os.listdir(path.parent) == ["report.html"]  # no temporary file left behind
    page = run["page"]
    assert page.title == page.h1 == TITLE
    assert html.escape(TITLE) in run["text"] and TITLE not in run["text"]


def test_self_contained(run):
    text, page = run["text"], run["page"]
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    assert {"script", "link", "iframe", "object", "embed"}.isdisjoint(page.tags)
    for url in page.urls:  # images are data: URIs, links only jump inside the page
        assert url.startswith(("data:image/png;base64,", "#")), url[:60]


def test_one_embedded_png_per_figure(run):
    # learning curves, confusion matrices, ROC + PR, worst errors, grid search, comparison
    images = run["page"].images
    assert [img["alt"] for img in images] == [
        "learning curves",
        "confusion matrix",
        "one-vs-rest matrices",
        "ROC and precision-recall curves",
        "worst errors",
        "grid search",
        "model comparison",
    ]
    for img in images:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        data = base64.b64decode(img["src"][len(prefix) :], validate=True)
        with Image.open(io.BytesIO(data)) as picture:
            assert picture.format == "PNG"
            picture.load()
            assert picture.width > 100 and picture.height > 100
            assert np.asarray(picture).std() > 0  # not a blank image


def test_metrics_equal_evaluate(run):
    _, X_test, _, y_test = run["split"]
    summary = evaluate(run["clf"], X_test, y_test)
    assert summary["kind"] == "multiclass"
    page = run["page"]
    per_class = page.rows("metrics-per-class")
    assert per_class["class"] == ["precision", "sensitivity", "specificity", "F1", "support", "ROC AUC"]
    for label, d in summary["per_class"].items():
        assert per_class[label] == [
            f"{d['precision']:.3f}",
            f"{d['sensitivity']:.3f}",
            f"{d['specificity']:.3f}",
            f"{d['f1']:.3f}",
            str(d["support"]),
            f"{d['roc_auc']:.3f}",
        ]
    macro = summary["macro_avg"]
    assert per_class["macro avg"][:4] == [
        f"{macro[k]:.3f}" for k in ("precision", "sensitivity", "specificity", "f1")
    ]
    overall = page.rows("metrics-summary")
    assert overall["accuracy"] == [f"{summary['accuracy']:.3f}"]
    assert overall["balanced accuracy"] == [f"{summary['balanced_accuracy']:.3f}"]
    assert overall["ROC AUC (one-vs-rest, macro)"] == [f"{summary['roc_auc_ovr_macro']:.3f}"]


def test_data_estimator_and_learning_sections(run):
    page, clf = run["page"], run["clf"]
    _, _, y_train, y_test = run["split"]
    counts = page.rows("class-counts")
    assert counts["class"] == ["train", "test"]
    for label in clf.classes_:
        assert counts[label] == [str(np.sum(y_train == label)), str(np.sum(y_test == label))]
    assert counts["total"] == [str(len(y_train)), str(len(y_test))]
    assert page.rows("data-summary")["image size"] == ["32 x 32"]  # given text, shown as is
    info = page.rows("backbone-info")
    assert info["backbone"] == ["'efficientnet_lite0'"]
    assert info["total_params"] == [str(clf.backbone_info_["total_params"])]
    params = page.rows("parameters-0")
    assert params["epochs"] == ["3"] and params["backbone"] == ["'efficientnet_lite0'"]
    verdict = diagnose_learning_curves(clf)
    assert f'id="verdict">{html.escape(verdict.verdict)}<' in run["text"]
    for reason in verdict.reasons:
        assert html.escape(reason) in run["text"]


def test_search_and_comparison_sections(run):
    page = run["page"]
    top = page.tables["search-top"]
    assert top[0] == ["rank", "parameters", "mean score", "std"] and len(top) == 7
    assert top[1][0] == "1"
    comparison = page.rows("comparison")
    assert comparison["fine-tuned"][:2] == ["0.900", "0.910"]
    assert comparison["fine-tuned"][6] == "3,418,148"
    assert comparison["svc <flat>"][6] == "n/a"  # escaped name, parsed back
    assert "svc &lt;flat&gt;" in run["text"]


def test_pipeline_binary_report_without_probabilities(sample_split, tmp_path):
    """Binary, a Pipeline whose first step has history_, an SVC with decision_function."""
    X_train, X_test, y_train, y_test = sample_split
    keep_train, keep_test = np.isin(y_train, ["dahlia", "temple"]), np.isin(y_test, ["dahlia", "temple"])
    pipe = make_pipeline(
        FineTunedClassifier(
            "efficientnet_lite0", input_size=32, epochs=2, learning_rate=0.01, random_state=0
        ),
        SVC(),
    )
    pipe.fit(X_train[keep_train], y_train[keep_train])
    path = write_report(tmp_path / "binary.html", pipe, X_test[keep_test], y_test[keep_test])
    page = _Page(open(path, encoding="utf-8").read())
    assert [img["alt"] for img in page.images] == [
        "learning curves",
        "confusion matrix",
        "ROC and precision-recall curves",
        "worst errors",
    ]
    summary = evaluate(pipe, X_test[keep_test], y_test[keep_test])
    assert summary["kind"] == "binary" and summary["pos_label"] == "temple"
    overall = page.rows("metrics-summary")
    for key, label in [
        ("accuracy", "accuracy"),
        ("sensitivity", "sensitivity (recall)"),
        ("specificity", "specificity"),
        ("f1", "F1"),
        ("roc_auc", "ROC AUC"),
    ]:
        assert overall[label] == [f"{summary[key]:.3f}"]
    # classes in the confusion matrix's order (classes_: dahlia, temple), positive second
    assert page.tables["confusion-counts"][0] == ["", "predicted dahlia", "predicted temple"]
    counts = page.rows("confusion-counts")
    assert list(counts) == ["", "true dahlia", "true temple"]
    assert counts["true dahlia"] == [str(summary["TN"]), str(summary["FP"])]
    assert counts["true temple"] == [str(summary["FN"]), str(summary["TP"])]
    assert "backbone-info" in page.tables  # from the Pipeline's Keras step
    assert page.rows("parameters-1")["kernel"] == ["'rbf'"]  # one table per step


class _MostFrequent(ClassifierMixin, BaseEstimator):
    """A classifier with predict only (no scores)."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_classifier_without_scores_gets_notes_instead_of_curves(sample_split, tmp_path):
    X_train, X_test, y_train, y_test = sample_split
    clf = _MostFrequent().fit(X_train, y_train)
    text = open(write_report(tmp_path / "r.html", clf, X_test, y_test), encoding="utf-8").read()
    page = _Page(text)
    assert [img["alt"] for img in page.images] == ["confusion matrix", "one-vs-rest matrices"]
    assert text.count("has neither predict_proba nor decision_function") == 2
    assert "No history_" in text
    assert page.rows("metrics-summary")["accuracy"] == [f"{np.mean(y_test == clf.classes_[0]):.3f}"]


def test_search_plots_follow_the_searched_parameters():
    """x = trainable_layers, lines = batch_size, plus by optimizer and by epochs."""
    grid = [
        dict(zip(("trainable_layers", "batch_size", "optimizer", "epochs"), values))
        for values in itertools.product([0, 3, 9], [16, 32], ["adam", "sgd"], [1, 2])
    ]
    rng = np.random.default_rng(0)
    splits = rng.uniform(0.5, 1.0, (2, len(grid)))
    results = {f"param_{name}": np.ma.masked_array([g[name] for g in grid], dtype=object) for name in grid[0]}
    results.update(
        params=grid,
        split0_test_score=splits[0],
        split1_test_score=splits[1],
        mean_test_score=splits.mean(0),
        std_test_score=splits.std(0),
        rank_test_score=np.argsort(np.argsort(-splits.mean(0))) + 1,
    )
    search = SimpleNamespace(cv_results_=results, best_params_=grid[0], refit=True, scoring=None)
    section = sections_module._search_section(search)
    page = _Page(section)
    assert [img["alt"] for img in page.images] == ["grid search", "search by optimizer", "search by epochs"]
    assert "Validation error by trainable_layers and batch_size." in section
    top = page.tables["search-top"]
    assert len(top) == 11 and [row[0] for row in top[1:4]] == ["1", "2", "3"]


def test_failed_write_keeps_the_old_report(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report_module.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        report_module._write_atomically(str(path), "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["report.html"]


def test_doctests():
    assert doctest.testmod(report_module).failed == 0


# -- in a real browser ---------------------------------------------------------------
_PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  var t = e.target;
  window.__errors.push(e.message || ("failed to load " + (t && (t.src || t.href) || t)));
}, true);
var consoleError = console.error;
console.error = function () {
  window.__errors.push(Array.prototype.join.call(arguments, " "));
  consoleError.apply(console, arguments);
};
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var pre = document.createElement("pre");
  pre.id = "sktransfer-probe";
  pre.textContent = JSON.stringify({
    total: images.length,
    decoded: images.filter(function (i) { return i.complete && i.naturalWidth > 0
                                                 && i.naturalHeight > 0; }).length,
    errors: window.__errors,
    resources: performance.getEntriesByType("resource").map(function (r) { return r.name; })
  });
  document.body.appendChild(pre);
});
</script>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no Chromium on this machine: install it (apt-get install chromium); "
        ".ci/run does this before the tests"
    )


def _load_in_browser(text, tmp_path):
    """Open `text` (HTML) with the probe injected; (probe result, console lines, stderr)."""
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + _PROBE, 1), encoding="utf-8")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    command = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        "--dump-dom",
        probed.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="sktransfer-probe"[^>]*>(.*?)</pre>', done.stdout, re.S)
    assert found, f"no probe result; exit {done.returncode}, stderr:\n{done.stderr[-3000:]}"
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    return json.loads(html.unescape(found.group(1))), console, done.stderr


def test_report_renders_in_chromium(run, tmp_path):
    result, console, stderr = _load_in_browser(run["text"], tmp_path)
    assert result["total"] == len(run["page"].images) == 7
    assert result["decoded"] == result["total"]
    assert result["errors"] == []
    assert console == [] and "Uncaught" not in stderr
    assert all(url.startswith("data:") for url in result["resources"]), result["resources"]


def test_browser_probe_catches_broken_images_and_errors(tmp_path):
    """The check above can fail: a broken image and a script error are reported."""
    broken = (
        "<!DOCTYPE html><html><head><title>t</title></head><body>"
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="broken">'
        "<script>undefinedFunction();</script></body></html>"
    )
    result, console, stderr = _load_in_browser(broken, tmp_path)
    assert (result["total"], result["decoded"]) == (1, 0)
    assert any("undefinedFunction" in e for e in result["errors"])
    assert any("failed to load" in e for e in result["errors"])
    assert "Uncaught" in stderr and console
