"""compare_models / plot_comparison: the numbers are those of the fitted models."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import doctest
import importlib.util
import json
import sys
import time
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import SVC

import sktransfer.compare as compare_module
import sktransfer.compare._agreement as _agreement_module
import sktransfer.compare._models as _models_module
import sktransfer.compare._plot as _plot_module
from sktransfer import FineTunedClassifier
from sktransfer._utils.peak_memory import PeakMemory, _rss_reader
from sktransfer.compare import (
    ComparisonTable,
    _param_counts,
    agreement,
    compare_models,
    plot_agreement,
    plot_comparison,
    short_names,
)

pytestmark = pytest.mark.usefixtures("close_figures")


def _flatten(X):
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1) / 255


@pytest.fixture(scope="module")
def given():
    return {
        "finetuned": FineTunedClassifier(
            "efficientnet_lite0", input_size=32, epochs=2, learning_rate=0.01, random_state=0
        ),
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
        p, r, f1, _ = skm.precision_recall_fscore_support(y_test, y_pred, average="macro", zero_division=0)
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
        assert line[end - 5 : end] == f"{row['accuracy']:.3f}"
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
    ax, time_ax, memory_ax = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["finetuned", "svc"]
    assert len(ax.containers) == 2  # accuracy, f1
    for container, metric in zip(ax.containers, ("accuracy", "f1")):
        assert container.get_label() == metric
        heights = [bar.get_height() for bar in container]
        assert heights == pytest.approx([row[metric] for row in table])
    centres = [[bar.get_x() + bar.get_width() / 2 for bar in c] for c in ax.containers]
    assert centres[0][0] < centres[1][0] < centres[0][1] < centres[1][1]  # grouped by model
    widths = [bar.get_width() for bar in time_ax.containers[0]]
    assert widths == pytest.approx([row["fit_seconds"] for row in table])
    widths = [bar.get_width() for bar in memory_ax.containers[0]]
    assert widths == pytest.approx([row["peak_memory_mb"] for row in table])
    assert [t.get_text() for t in memory_ax.get_yticklabels()] == ["finetuned", "svc"]
    assert "cold start" in time_ax.get_title()


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
    table = compare_models([LogisticRegression(), LogisticRegression(C=0.01)], X[:80], y[:80], X[80:], y[80:])
    assert table.names == ["LogisticRegression", "LogisticRegression #2"]
    for row in table:
        y_pred = table.estimators_[row["name"]].predict(X[80:])
        assert row["average"] == "binary"
        assert row["precision"] == skm.precision_score(y[80:], y_pred, pos_label="yes")
        assert row["f1"] == skm.f1_score(y[80:], y_pred, pos_label="yes")
    assert compare_models([LogisticRegression()], X[:80], y[:80], X[80:], y[80:], names=["lr"]).names == [
        "lr"
    ]
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
    with PeakMemory() as memory:
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
    for module in (compare_module, _agreement_module, _models_module, _plot_module):
        assert doctest.testmod(module).failed == 0


class _StateProbe(TransformerMixin, BaseEstimator):
    """A pass-through step that notes what the process shared when its pipeline began to fit."""

    def fit(self, X, y=None):
        from sktransfer._engine import templates
        from sktransfer._engine import trainers as _trainers
        from sktransfer._engine.cache import get_cache

        self.seen_ = (len(get_cache()), templates.n_templates(), _trainers.n_trainers())
        return self

    def transform(self, X):
        return X


@pytest.fixture(scope="module")
def twins(sample_split, make_classifier):
    """The same pipeline twice, compared cold (the default) and warm."""
    X_train, X_test, y_train, y_test = sample_split
    models = {
        "first": make_pipeline(_StateProbe(), make_classifier()),
        "second": make_pipeline(_StateProbe(), make_classifier()),
    }
    return {
        warm: compare_models(models, X_train, y_train, X_test, y_test, warm=warm) for warm in (False, True)
    }


def test_cold_start_each_model_finds_nothing_left_by_the_one_before(twins):
    cold, warm = twins[False], twins[True]
    assert [row["start"] for row in cold] == ["cold", "cold"]
    assert [row["start"] for row in warm] == ["warm", "warm"]
    for row in cold:
        assert cold.estimators_[row["name"]][0].seen_ == (0, 0, 0)
        assert row["start_state"] == {
            "cached_activations": 0,
            "backbone_templates": 0,
            "compiled_trainers": 0,
        }
    # warm: the second model finds the first one's activations and backbone
    cached, templates, _ = warm.estimators_["second"][0].seen_
    assert cached >= 28 and templates >= 1
    assert warm[1]["start_state"]["cached_activations"] == cached
    assert warm[1]["start_state"]["backbone_templates"] == templates
    # same model, cold both times: same figures up to noise (loose: 2 shared cores)
    ratio = cold[1]["fit_seconds"] / cold[0]["fit_seconds"]
    assert 0.2 < ratio < 5, [row["fit_seconds"] for row in cold]
    # and the second pays for its own backbone again (warm, it would find the first one's)
    memory = [row["peak_memory_mb"] for row in cold]
    assert memory[1] > 0.25 * memory[0], memory
    assert cold[0]["accuracy"] == cold[1]["accuracy"]
    assert "start" in str(cold).splitlines()[0] and "cold" in str(cold).splitlines()[1]


def test_short_names_of_weights_files():
    assert short_names(["imagenet", None, "none", "/m/rn50.weights.h5", "/m/b0.keras"]) == [
        "imagenet",
        "random",
        "random",
        "rn50",
        "b0",
    ]
    assert short_names(["/x/a/w.h5", "/x/b/w.h5"]) == ["a/w", "b/w"]
    assert short_names(["w.h5", "w.H5"]) == ["w.h5", "w.H5"]  # no distinct stem: the paths


def test_agreement_counts_match_a_hand_count_and_plot():
    y = np.array(["a", "b", "a", "b", "a", "b", "a"])
    first = np.array(["a", "b", "b", "b", "a", "a", "b"])  # right on 0, 1, 3, 4
    second = np.array(["a", "a", "a", "b", "b", "a", "b"])  # right on 0, 2, 3
    result = agreement(y, first, second, names=("tuned", "frozen"))
    # both right {0, 3}; only first {1, 4}; only second {2}; both wrong {5, 6}
    assert result.counts.tolist() == [[2, 2], [1, 2]]
    assert (result.both_right, result.only_first, result.only_second, result.both_wrong) == (2, 2, 1, 2)
    assert result.mcnemar_p == pytest.approx(1.0)  # 2 vs 1 disagreements: 2 * P(X >= 2 | 3, .5) > 1
    lines = str(result).splitlines()
    assert lines[0].split() == ["frozen", "right", "frozen", "wrong"]
    assert lines[1].split() == ["tuned", "right", "2", "2"]
    skewed = agreement(np.zeros(12), np.zeros(12), np.r_[np.ones(10), np.zeros(2)])
    assert skewed.mcnemar_p == pytest.approx(2 * 0.5**10)  # 10 disagreements, all one way
    fig = plot_agreement(result)
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].texts] == ["2", "2", "1", "2"]
    with pytest.raises(ValueError, match="one length"):
        agreement(y, first[:3], second)


def test_plot_of_long_names_keeps_labels_apart():
    weights = [
        "imagenet",
        None,
        "/home/me/models/efficientnet_lite0_flowers_finetuned.weights.h5",
        "/home/me/models/run2/efficientnet_lite0_imagenet21k.h5",
    ]
    rows = [
        dict(
            name=f"efficientnet_lite0 ({w})",
            accuracy=0.9,
            f1=0.8,
            fit_seconds=30.0 + i,
            peak_memory_mb=400.0 + i,
            start="cold",
        )
        for i, w in enumerate(short_names(weights))
    ]
    fig = plot_comparison(rows)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        labels = ax.get_xticklabels() + ax.get_yticklabels()
        boxes = [t.get_window_extent(renderer) for t in labels if t.get_text().strip("-.0123456789")]
        assert len(boxes) >= 4
        for i, box in enumerate(boxes):
            assert not any(box.overlaps(other) for other in boxes[i + 1 :]), ax.get_title()
