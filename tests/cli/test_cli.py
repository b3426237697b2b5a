"""The ``sktransfer`` command: end to end on a tiny generated folder, errors, parsing.

Most runs call ``main(argv)`` in-process (TensorFlow is imported once); two
subprocesses check ``python -m sktransfer`` itself and that ``--help`` does not
import TensorFlow.
"""

import argparse
import contextlib
import csv
import io
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from PIL import Image

from sktransfer.cli import _args as _cli_args
from sktransfer.cli import _main as cli
from sktransfer.cli import _support as _cli_support
from sktransfer.cli import main
from sktransfer.datasets import load_sample

CLASSES = ["dahlia", "temple"]
COMMANDS = ["fit", "evaluate", "predict", "grid", "compare", "embed"]
FAST = ["--input-size", str(SIZE), "--backbone", BACKBONE]


def _write_folder(root, n_per_class=8, classes=CLASSES):
    X, y = load_sample(size=SIZE, n_per_class=n_per_class, random_state=0, return_X_y=True)
    for label in classes:
        os.makedirs(root / label)
        for j, image in enumerate(X[y == label]):
            Image.fromarray(image).save(root / label / f"{label}_{j}.png")
    return root


def _run(argv):
    """main(argv) with stdout and stderr captured: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def _leftovers(folder):
    return [n for n in os.listdir(folder) if ".tmp-" in n or ".old-" in n]


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Two classes x 8 PNG files of 32 px."""
    return _write_folder(tmp_path_factory.mktemp("cli") / "images")


@pytest.fixture(scope="module")
def run(images, tmp_path_factory):
    """One `sktransfer fit` run, with progress output (not --quiet)."""
    out = tmp_path_factory.mktemp("fit") / "run"
    result = _run(
        [
            "fit",
            images,
            *FAST,
            "--epochs",
            2,
            "--test-per-class",
            2,
            "--augment",
            "flip",
            "--head",
            "8",
            "--out",
            out,
        ]
    )
    return out, result


# -- end to end: fit -> evaluate -> predict ---------------------------------------
def test_fit_writes_model_metrics_and_report(run, images):
    out, (code, stdout, stderr) = run
    assert code == 0, stderr
    assert sorted(os.listdir(out)) == ["metrics.json", "model", "report.html"]
    assert os.path.isfile(out / "model" / "estimator.json")
    assert _leftovers(out.parent) == []
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n"] == 4 and 0 <= metrics["test"]["accuracy"] <= 1
    assert metrics["fit_seconds"] > 0 and metrics["epochs_run"] == 2
    assert metrics["params"]["augmentation"]["flip"] == "horizontal"
    assert metrics["params"]["head"] == [8] and metrics["params"]["input_size"] == SIZE
    assert metrics["command"].startswith("sktransfer fit ")
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert "12 train / 4 test images" in stdout and "accuracy" in stdout
    assert "Epoch 2/2" in stderr and "Epoch" not in stdout  # progress goes to stderr
    assert "Traceback" not in stderr


def test_evaluate_prints_table_and_json(run, images, tmp_path):
    out, _ = run
    code, stdout, stderr = _run(["evaluate", out / "model", images])
    assert code == 0, stderr
    assert "Binary summary" in stdout and "accuracy" in stdout and "16 images" in stdout
    small = _write_folder(tmp_path / "small", n_per_class=2)
    (small / "dahlia" / "notes.txt").write_text("not an image")
    code, stdout, stderr = _run(["--quiet", "evaluate", out, small, "--json"])  # the run folder
    assert code == 0, stderr
    table = json.loads(stdout)
    assert table["n"] == 4 and table["TP"] + table["FN"] + table["FP"] + table["TN"] == 4
    assert stderr.startswith("sktransfer: warning: ignored 1 file(s)") and "notes.txt" in stderr


def test_evaluate_refuses_unknown_classes(run, tmp_path):
    out, _ = run
    other = _write_folder(tmp_path / "other", n_per_class=2, classes=["dahlia", "trees"])
    code, stdout, stderr = _run(["evaluate", out / "model", other])
    assert code == 1 and stdout == ""
    assert stderr.startswith("sktransfer: error:") and "'trees'" in stderr


def test_evaluate_a_model_with_integer_classes(tmp_path):
    """Regression: a model saved from Python with classes 0 and 1, evaluated on
    folders "0" and "1", failed ("pos_label=1 is not one of the labels ['0', '1']")."""
    from sktransfer import FineTunedClassifier, save

    X, y = load_sample(size=SIZE, n_per_class=4, random_state=0, return_X_y=True)
    keep = np.isin(y, CLASSES)
    labels = (y[keep] == CLASSES[1]).astype(int)
    clf = FineTunedClassifier(BACKBONE, input_size=SIZE, epochs=1, random_state=0)
    save(clf.fit(X[keep], labels), tmp_path / "model")
    folder = tmp_path / "data"
    for label in (0, 1):
        os.makedirs(folder / str(label))
        for j, image in enumerate(X[keep][labels == label]):
            Image.fromarray(image).save(folder / str(label) / f"{j}.png")
    code, stdout, stderr = _run(["--quiet", "evaluate", tmp_path / "model", folder, "--json"])
    assert code == 0, stderr
    table = json.loads(stdout)
    assert table["pos_label"] == 1 and table["n"] == 8


def test_predict_writes_csv(run, images):
    out, _ = run
    files = [images / "dahlia" / "dahlia_0.png", images / "temple"]  # a folder: its images
    code, stdout, stderr = _run(["predict", out / "model", *files])
    assert code == 0, stderr
    rows = list(csv.reader(io.StringIO(stdout)))
    assert rows[0] == ["path", "predicted", *CLASSES]
    assert len(rows) == 1 + 1 + 8
    assert rows[1][0] == str(files[0])
    for row in rows[1:]:
        proba = np.array(row[2:], dtype=float)
        assert proba.sum() == pytest.approx(1.0, abs=1e-5)
        assert row[1] == CLASSES[int(np.argmax(proba))]


@pytest.mark.skipif(os.name == "nt", reason="POSIX symlinks")
def test_predict_follows_symlinked_folders(run, images, tmp_path):
    """Regression: the images of a symlinked sub-folder were left out silently."""
    out, _ = run
    folder = tmp_path / "new"
    folder.mkdir()
    os.symlink(images / "temple", folder / "linked")
    code, stdout, stderr = _run(["--quiet", "predict", out / "model", folder])
    assert code == 0, stderr
    assert len(stdout.splitlines()) == 1 + 8


@pytest.mark.skipif(sys.platform != "linux", reason="file names of any bytes")
def test_predict_refuses_a_name_stdout_cannot_encode_before_writing(run, tmp_path):
    """Regression: a file name that is not UTF-8 stopped the CSV after its header
    with a bare UnicodeEncodeError naming no file."""
    out, _ = run
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.new("RGB", (SIZE, SIZE)).save(os.path.join(os.fsencode(folder), b"caf\xe9.png"), format="PNG")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # strict, as a UTF-8 terminal
    err = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(err):
        code = main(["--quiet", "predict", str(out / "model"), str(folder)])
    stdout.flush()
    assert code == 1 and stdout.buffer.getvalue() == b""
    assert "caf\\udce9.png" in err.getvalue() and "PYTHONIOENCODING" in err.getvalue()


def test_predict_names_missing_and_corrupt_files(run, tmp_path):
    out, _ = run
    code, _, stderr = _run(["predict", out / "model", tmp_path / "nope.jpg"])
    assert code == 1 and "nope.jpg" in stderr
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_text("not an image")
    code, stdout, stderr = _run(["predict", out / "model", corrupt])
    assert code == 1 and stdout == ""
    assert "corrupt.jpg" in stderr and "Traceback" not in stderr
    assert "or leave it out." in stderr and "X[" not in stderr  # not the Python API's advice


def test_model_dir_that_is_not_a_save(images):
    code, _, stderr = _run(["evaluate", images, images])
    assert code == 1
    assert stderr.startswith("sktransfer: error:") and "estimator.json" in stderr


# -- grid, compare, embed -----------------------------------------------------------
def test_grid_search(images, tmp_path):
    out = tmp_path / "grid"
    code, stdout, stderr = _run(
        [
            "--quiet",
            "grid",
            images,
            *FAST,
            "--epochs",
            1,
            "--param",
            "trainable_layers=0,2",
            "--cv",
            2,
            "--out",
            out,
        ]
    )
    assert code == 0, stderr
    assert sorted(os.listdir(out)) == ["grid.json", "model", "report.html"]
    grid = json.loads((out / "grid.json").read_text())
    # 2, not 1: Lite0's top layer alone is a BatchNormalization, and that warns.
    assert grid["param_grid"] == {"trainable_layers": [0, 2]}
    assert grid["cv"] == {"n_splits": 2, "shuffle": True, "random_state": 0}
    assert len(grid["candidates"]) == 2
    assert grid["best_params"]["trainable_layers"] in (0, 2) and "accuracy" in grid["test"]
    assert "mean accuracy" in stdout and "2 candidates x 2 folds" in stdout
    assert stderr == ""  # --quiet: no progress


def test_compare_weights(images, tmp_path):
    out = tmp_path / "cmp"
    code, stdout, stderr = _run(
        [
            "-q",
            "compare",
            images,
            "--backbone",
            BACKBONE,
            "--weights",
            "imagenet,none",
            "--input-size",
            SIZE,
            "--epochs",
            1,
            "--out",
            out,
        ]
    )
    assert code == 0, stderr
    rows = json.loads((out / "compare.json").read_text())["comparison"]
    assert [r["name"] for r in rows] == ["imagenet", "random"]  # the weights, shortly
    assert [r["backbone"] for r in rows] == [BACKBONE, BACKBONE]
    assert [r["start"] for r in rows] == ["cold", "cold"]  # each model as if run alone
    agree = json.loads((out / "compare.json").read_text())["agreement"]
    assert agree["names"] == ["imagenet", "random"]
    assert sum(map(sum, agree["counts"])) == 4  # the 2 x 2 test images
    assert "imagenet right" in stdout and "McNemar" in stdout
    assert os.path.isfile(out / "report.html") and os.path.isdir(out / "model")
    assert "accuracy" in stdout


def test_embed(images, tmp_path):
    target = tmp_path / "features" / "f.npy"
    code, stdout, stderr = _run(["embed", images, "-o", target, "--input-size", SIZE])
    assert code == 0, stderr
    features = np.load(target)
    assert features.shape == (16, 1280) and features.dtype == np.float32
    rows = json.loads((tmp_path / "features" / "f.npy.json").read_text())
    assert len(rows["paths"]) == len(rows["labels"]) == 16
    assert rows["paths"][0].endswith("dahlia_0.png") and rows["labels"][-1] == "temple"
    assert "Embedding" in stderr  # the progress bar
    code, _, stderr = _run(["embed", images, "-o", target])
    assert code == 1 and "--overwrite" in stderr  # never replaced silently
    mirrored = tmp_path / "features" / "m.npy"
    code, stdout, stderr = _run(["embed", images, "-o", mirrored, "--input-size", SIZE, "--tta"])
    assert code == 0, stderr
    assert "mirror-averaged" in stdout
    assert json.loads((tmp_path / "features" / "m.npy.json").read_text())["tta"] is True
    other = np.load(mirrored)
    assert other.shape == features.shape and not np.allclose(other, features, atol=1e-3)


# -- user errors: one line on stderr, nothing left in --out ----------------------------
def _bad_inputs(tmp_path, images):
    one = tmp_path / "one_class"
    _write_folder(one, n_per_class=3, classes=["dahlia"])
    corrupt = tmp_path / "corrupt"
    _write_folder(corrupt, n_per_class=4)
    (corrupt / "temple" / "broken.jpg").write_text("this is text, not a JPEG")
    return {
        "missing folder": ([tmp_path / "nope"], 1, "does not exist"),
        "not a folder": ([images / "dahlia" / "dahlia_0.png"], 1, "not a folder"),
        "one class": ([one], 1, "at least two class"),
        "corrupt image": ([corrupt], 1, "broken.jpg': "),
        "unknown backbone": ([images, "--backbone", "resnet9"], 2, "resnet9"),
        "bad augment": ([images, "--augment", "flip,spin=3"], 2, "spin"),
        "bad trainable": ([images, "--trainable-layers", "conv99"], 1, "conv99"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing folder",
        "not a folder",
        "one class",
        "corrupt image",
        "unknown backbone",
        "bad augment",
        "bad trainable",
    ],
)
def test_fit_errors_leave_no_output(case, images, tmp_path):
    args, expected_code, fragment = _bad_inputs(tmp_path, images)[case]
    out = tmp_path / "new" / "run"
    code, stdout, stderr = _run(["fit", *args, "--input-size", SIZE, "--epochs", 1, "--out", out])
    assert code == expected_code
    assert stdout == ""
    assert "sktransfer: error:" in stderr and fragment in stderr
    assert "Traceback" not in stderr
    # advice in terms of the command, not of the Python API (a corrupt image's said
    # "pass on_error='skip' to FineTunedClassifier" and named its position in X)
    assert "on_error" not in stderr and "X[" not in stderr
    if case == "corrupt image":
        assert "or remove it from the folder." in stderr
    assert not os.path.exists(tmp_path / "new")  # nor the parent it created
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "param, fragment",
    [
        ("trainable_layers", "NAME=V1,V2"),
        ("trainable_layers=0,[1", "unbalanced"),
        ("nosuch=1,2", "no parameter 'nosuch'"),
        ("batch_size=8,0", "batch_size"),
    ],
)
def test_grid_rejects_bad_params(param, fragment, images, tmp_path):
    out = tmp_path / "grid"
    code, _, stderr = _run(["grid", images, *FAST, "--param", param, "--out", out])
    assert code == 2
    assert "sktransfer: error:" in stderr and fragment in stderr
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "argv, fragment",
    [
        # regressions: each ran (part of) the search, or wrote the wrong thing, first
        (["--param", "batch_size=4", "--param", "batch_size=8"], "'batch_size' is given twice"),
        (["--param", "optimizer=adam,bogus"], "bogus"),
        (["--param", "batch_size=4,8", "--cv", "1"], "an integer >= 2"),
    ],
)
def test_grid_usage_errors_come_before_any_fit(argv, fragment, images, tmp_path):
    out = tmp_path / "grid"
    code, _, stderr = _run(["grid", images, *FAST, *argv, "--out", out])
    assert code == 2
    assert "sktransfer: error:" in stderr and fragment in stderr
    assert not os.path.exists(out) and _leftovers(tmp_path) == []


def test_out_is_never_clobbered(images, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        code, _, stderr = _run(["fit", images, "--out", foreign, *extra])
        assert code == 1 and "thesis.tex" in stderr
    assert os.listdir(foreign) == ["thesis.tex"]


def test_output_folder_is_atomic(tmp_path):
    target = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError):
        with _cli_support.OutputFolder(target, overwrite=False).staging() as tmp:
            open(os.path.join(tmp, "metrics.json"), "w").close()
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []  # no partial folder, no temp folder, no parents

    for content in ("old", "new"):
        with _cli_support.OutputFolder(target, overwrite=True).staging() as tmp:
            with open(os.path.join(tmp, "metrics.json"), "w") as fh:
                fh.write(content)
    assert (target / "metrics.json").read_text() == "new"
    assert os.listdir(target.parent) == ["run"]
    with pytest.raises(cli.CommandError, match="--overwrite"):
        _cli_support.OutputFolder(target, overwrite=False)


# -- parsing (no TensorFlow needed) -------------------------------------------------
def test_option_parsing():
    assert _cli_args._grid_param("trainable-layers=0,2,all,conv5") == (
        "trainable_layers",
        [0, 2, "all", "conv5"],
    )
    assert _cli_args._grid_param("head=[],[64],[64,32]")[1] == [(), (64,), (64, 32)]
    assert _cli_args._grid_param("learning_rate=1e-3,0.01,none")[1] == [0.001, 0.01, None]
    assert _cli_args._grid_param("early_stopping=true,false")[1] == [True, False]
    aug = _cli_args._augmentation("flip,rotation=0.1,zoom=0.2")
    assert (aug.flip, aug.rotation, aug.zoom, aug.shift) == ("horizontal", 0.1, 0.2, 0.0)
    assert _cli_args._augmentation("rotation=0.1").flip is None  # only what is listed
    assert _cli_args._augmentation("flip=vertical,n_views=3").n_views == 3
    assert _cli_args._augmentation("none") is None
    assert _cli_args._head("64,32") == (64, 32) and _cli_args._head("none") == ()
    assert _cli_args._trainable("4") == 4 and _cli_args._trainable("ALL") == "all"
    assert _cli_args._per_class_count("5") == 5 and _cli_args._per_class_count("0.25") == 0.25
    assert _cli_args._weights("none") is None and _cli_args._weights("imagenet") == "imagenet"
    for func, text in [
        (_cli_args._augmentation, "flip=sideways"),
        (_cli_args._augmentation, "n_views=0"),
        (_cli_args._augmentation, "zoom=big"),
        (_cli_args._head, "64,x"),
        (_cli_args._per_class_count, "1.5"),
        (_cli_args._grid_param, "=1"),
        (_cli_args._weights, "/no/such/file.h5"),
        (_cli_args._npy_path, "features.csv"),
        (_cli_args._folds, "1"),
    ]:
        with pytest.raises(argparse.ArgumentTypeError):
            func(text)


def test_model_options_reach_the_classifier():
    args = _cli_args.build_parser().parse_args(
        ["fit", "data", "--out", "run", "--trainable-layers", "2", "--head-epochs", "5", "--epochs", "4"]
    )
    clf = _cli_support.classifier(args)
    assert (clf.trainable_layers, clf.head_epochs, clf.epochs) == (2, 5, 4)
    default = _cli_support.classifier(_cli_args.build_parser().parse_args(["fit", "data", "--out", "run"]))
    assert default.head_epochs == 30


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_options(command, capsys):
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"usage: sktransfer {command}" in text and "--quiet" in text
    expected = {
        "fit": ["--trainable-layers", "--augment", "--out", "--test-per-class"],
        "evaluate": ["MODEL_DIR", "--json"],
        "predict": ["IMAGE"],
        "grid": ["--param", "--cv"],
        "compare": ["--backbone", "--weights", "--warm"],
        "embed": ["--output", "--pooling", "--tta"],
    }[command]
    assert all(option in text for option in expected)


def test_usage_errors_exit_2(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a usage error that slipped through must not write into the repo
    assert main([]) == 2
    assert main(["fit", "--epochs", "0", "--out", "x"]) == 2
    assert main(["fit", "--early-stopping", "--validation-fraction", "0", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "sktransfer: error:" in err and "--validation-fraction" in err
    assert not (tmp_path / "x").exists()
    assert main(["--version"]) == 0


# -- subprocesses: the real entry point -------------------------------------------------
def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from sktransfer.cli import main\n"
        f"for c in [[]] + [[c] for c in {COMMANDS!r}]:\n"
        "    try: main(c + ['--help'])\n"
        "    except SystemExit: pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - start < 5


def test_python_m_sktransfer_fit(images, tmp_path):
    out = tmp_path / "run"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sktransfer",
            "fit",
            "--quiet",
            "--input-size",
            "32",
            "--epochs",
            "1",
            "--out",
            str(out),
            str(images),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "test:" in result.stdout and "accuracy" in result.stdout
    assert result.stderr == ""  # quiet: no bars, and TensorFlow's start-up lines are hidden
    assert sorted(os.listdir(out)) == ["metrics.json", "model", "report.html"]
