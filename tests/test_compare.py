"""compare_models / plot_comparison: the numbers are those of the fitted models."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import doctest  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

import sktransfer.compare as compare_module  # noqa: E402
from sktransfer import FineTunedClassifier  # noqa: E402
from sktransfer._peak_memory import _PeakMemory, _rss_reader  # noqa: E402
from sktransfer.compare import (  # noqa: E402
    ComparisonTable,
    _param_counts,
    compare_models,
    plot_comparison,
)


pytestmark = pytest.mark.usefixtures("close_figures")


def _flatten(X):
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) / 255


@pytest.fixture(scope="module")
def given():
    return {
        "finetuned": FineTunedClassifier("efficientnet_lite0", input_size=32, epochs=2,
                                         learning_rate=0.01, random_state=0),
        "svc": make_pipeline(FunctionTransformer(_flatten), SVC()),
    }


@pytest.fixture(scope="module")
def table(sample_split, given):
    X_train, X_test, y_train, y_test = sample_split
    return compare_models(given, X_train, y_train, X_test, y_test)


def test_one_row_per_model_with_fitted_clones(table, given):
    assert table.names == ["finetuned", "svc"]
    assert list(table.estimators_) == ["finetuned", "svc"]
    assert [row["estimator"] for row in table] == ["FineTunedClassifier", "Pipeline"]
    for name, fitted in table.estimators_.items():
        assert fitted is not given[name]  # cloned: the given estimators stay unfitted
        assert hasattr(fitted, "classes_")
    assert not hasattr(given["finetuned"], "model_")
    assert all(row["n_train"] == 28 and row["n_test"] == 12 for row in table)


def test_metrics_are_those_of_the_fitted_models(table, sample_split):
    _, X_test, _, y_test = sample_split
    for row in table:
        y_pred = table.estimators_[row["name"]].predict(X_test)
        assert row["average"] == "macro"  # four classes
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y_test, y_pred))
        p, r, f1, _ = skm.precision_recall_fscore_support(y_test, y_pred, average="macro",
                                                          zero_division=0)
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f1))


def test_timings_parameters_memory_backbone(table):
    finetuned, svc = table
    for row in table:
        assert row["fit_seconds"] > 0
        assert row["predict_ms_per_image"] > 0
        assert isinstance(row["peak_memory_mb"], float) and row["peak_memory_mb"] >= 0
    model = table.estimators_["finetuned"]
    assert finetuned["total_params"] == model.model_.count_params() > 0
    assert 0 < finetuned["trainable_params"] == model.backbone_info_["trainable_params"]
    assert finetuned["trainable_params"] < finetuned["total_params"]  # head only
    assert (finetuned["backbone"], finetuned["weights"]) == ("efficientnet_lite0", "imagenet")
    assert svc["total_params"] is None and svc["trainable_params"] is None
    assert svc["backbone"] is None and svc["weights"] is None


def test_parameters_of_pipelines_and_bare_keras_models(table):
    finetuned = table.estimators_["finetuned"]
    expected = (table[0]["total_params"], table[0]["trainable_params"])
    assert _param_counts(make_pipeline(finetuned, SVC())) == expected  # the Keras step counts
    assert _param_counts(table.estimators_["svc"]) == (None, None)

    class Model:  # anything with model_ but no backbone_info_: counted on the model
        trainable_weights = [np.zeros((3, 4)), np.zeros(4)]

        def count_params(self):
            return 20

    assert _param_counts(SimpleNamespace(model_=Model())) == (20, 16)


def test_table_prints_aligned_and_serialises(table):
    text = str(table)
    lines = text.splitlines()
    assert len(lines) == 3
    header = lines[0]
    assert header.startswith("model") and "accuracy" in header and "peak MB" in header
    end = header.index("accuracy") + len("accuracy")  # right-aligned numeric columns
    for line, row in zip(lines[1:], table):
        assert line.startswith(row["name"])
        assert line[end - 5:end] == f"{row['accuracy']:.3f}"
    assert f"{table[0]['total_params']:,}" in lines[1]

    records = json.loads(json.dumps(table))
    assert records == table.to_records() == json.loads(table.to_json())
    rebuilt = ComparisonTable(records)
    assert str(rebuilt) == text and rebuilt.estimators_ == {}

    frame = table.to_frame()
    assert list(frame.index) == ["finetuned", "svc"]
    assert frame.loc["svc", "accuracy"] == table[1]["accuracy"]


def test_plot_has_one_bar_group_per_model(table):
    fig = plot_comparison(table)
    ax, time_ax = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["finetuned", "svc"]
    assert len(ax.containers) == 2  # accuracy, f1
    for container, metric in zip(ax.containers, ("accuracy", "f1")):
        assert container.get_label() == metric
        heights = [bar.get_height() for bar in container]
        assert heights == pytest.approx([row[metric] for row in table])
    centres = [[bar.get_x() + bar.get_width() / 2 for bar in c] for c in ax.containers]
    assert centres[0][0] < centres[1][0] < centres[0][1] < centres[1][1]  # grouped by model
    heights = [bar.get_height() for bar in time_ax.containers[0]]
    assert heights == pytest.approx([row["fit_seconds"] for row in table])


def test_plot_into_given_axes_puts_fit_time_on_a_twin_axis(table):
    fig, ax = plt.subplots()
    assert plot_comparison(table.to_records(), metrics=["precision"], ax=ax) is fig
    assert len(ax.containers) == 1 and len(ax.containers[0]) == 2
    twin = [a for a in fig.axes if a is not ax]
    assert len(twin) == 1
    assert list(twin[0].lines[0].get_ydata()) == pytest.approx([r["fit_seconds"] for r in table])
    with pytest.raises(ValueError, match="Unknown metric"):
        plot_comparison(table, metrics=["auc"])


def test_binary_default_names_and_errors():
    X, y = make_classification(n_samples=120, random_state=0)
    y = np.array(["no", "yes"])[y]
    table = compare_models([LogisticRegression(), LogisticRegression(C=0.01)],
                           X[:80], y[:80], X[80:], y[80:])
    assert table.names == ["LogisticRegression", "LogisticRegression #2"]
    for row in table:
        y_pred = table.estimators_[row["name"]].predict(X[80:])
        assert row["average"] == "binary"
        assert row["precision"] == skm.precision_score(y[80:], y_pred, pos_label="yes")
        assert row["f1"] == skm.f1_score(y[80:], y_pred, pos_label="yes")
    assert compare_models([LogisticRegression()], X[:80], y[:80], X[80:], y[80:],
                          names=["lr"]).names == ["lr"]
    with pytest.raises(ValueError, match="at least one"):
        compare_models([], X, y, X, y)
    with pytest.raises(ValueError, match="2 names"):
        compare_models([LogisticRegression()], X, y, X, y, names=["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        compare_models([LogisticRegression()] * 2, X, y, X, y, names=["a", "a"])
    with pytest.raises(ValueError, match="dict"):
        compare_models({"a": LogisticRegression()}, X, y, X, y, names=["a"])
    with pytest.raises(TypeError, match="not an estimator"):
        compare_models({"a": "LogisticRegression"}, X, y, X, y)


def test_peak_memory_sees_a_temporary_allocation():
    with _PeakMemory() as memory:
        block = np.ones(64 * 1024 * 1024 // 8)  # 64 MiB, touched
        time.sleep(0.05)
        del block
    assert memory.peak_mb >= 50


@pytest.mark.parametrize("psutil_installed", [True, False])
def test_rss_is_read_with_or_without_psutil(psutil_installed, monkeypatch):
    if psutil_installed and importlib.util.find_spec("psutil") is None:
        pytest.skip("psutil is not installed")
    if not psutil_installed:
        if not os.path.exists("/proc/self/statm"):
            pytest.skip("no /proc: the fallback is Linux only")
        monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil -> ImportError
    read = _rss_reader()
    assert read is not None and read() > 10 * 1024 * 1024  # a Python with numpy: > 10 MiB


def test_doctests():
    assert doctest.testmod(compare_module).failed == 0
