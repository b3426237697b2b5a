import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import hashlib
import json
import shutil
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from sktransfer import Augmentation, FineTunedClassifier, PretrainedEmbedder, SimpleCNNClassifier
from sktransfer._engine.cache import ActivationCache, clear_cache
from sktransfer._utils.compat import import_keras
from sktransfer.datasets import load_sample
from sktransfer.persistence import JSON_NAME, load, save

keras = import_keras()


@pytest.fixture(scope="module")
def data():
    return load_sample(size=32, n_per_class=10, return_X_y=True)


def _string_labels_finetuned(y):
    estimator = FineTunedClassifier(
        "efficientnet_lite0", input_size=32, epochs=1, random_state=0, head=(8,), trainable_layers=2
    )
    return estimator, y


def _int_labels_cnn(y):
    estimator = SimpleCNNClassifier(
        conv_filters=(4, 8),
        dense_units=8,
        input_size=32,
        epochs=1,
        random_state=0,
        class_weight={0: 1.0, 1: 2.0},
        augmentation=Augmentation(flip="horizontal", zoom=0.1),
    )
    return estimator, (y == "dahlia").astype(np.int32)  # binary, int32: the dtype must survive


def _embedder(y):
    return PretrainedEmbedder("efficientnet_lite0", input_size=32), None


@pytest.fixture(scope="module")
def cnn(data):
    X, y = data
    estimator, labels = _int_labels_cnn(y)
    return estimator.fit(X, labels)


@pytest.fixture(scope="module")
def cnn_save(cnn, tmp_path_factory):
    """A fitted SimpleCNNClassifier saved once; tests work on copies of it."""
    return save(cnn, tmp_path_factory.mktemp("saves") / "cnn")


@pytest.fixture
def copy_of_save(cnn_save, tmp_path):
    target = tmp_path / "model"
    shutil.copytree(cnn_save, target)
    return target


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return [est.predict_proba(X), est.predict(X), est.transform(X), est.decision_function(X)]
    return [est.transform(X)]


def _read(directory):
    with open(directory / JSON_NAME, encoding="utf-8") as fh:
        return json.load(fh)


def _write(directory, document):
    with open(directory / JSON_NAME, "w", encoding="utf-8") as fh:
        json.dump(document, fh)


def _snapshot(directory):
    return {p.name: p.read_bytes() for p in directory.iterdir()}


@pytest.mark.parametrize(
    "make",
    [_string_labels_finetuned, _int_labels_cnn, _embedder],
    ids=["finetuned-str", "cnn-int-binary-augmentation", "embedder"],
)
def test_round_trip_gives_the_same_estimator(make, data, tmp_path):
    X, y = data
    est, labels = make(y)
    expected = _outputs(est.fit(X, labels), X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # same versions: no warning
        save(est, tmp_path / "saved")
        loaded = load(tmp_path / "saved")

    assert type(loaded) is type(est)
    clear_cache()  # the loaded network must compute its outputs, not read the original's
    for a, b in zip(expected, _outputs(loaded, X)):
        if np.asarray(a).dtype.kind in "fc":
            # float32 round-off only: the reloaded graph may pick other CPU kernels
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(a, b)
    if hasattr(est, "predict"):
        np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert repr(loaded.get_params()) == repr(est.get_params())
    assert loaded.backbone_info_ == est.backbone_info_
    assert isinstance(loaded.backbone_info_["input_size"], tuple)
    if hasattr(est, "classes_"):
        np.testing.assert_array_equal(loaded.classes_, est.classes_)
        assert loaded.classes_.dtype == est.classes_.dtype
        assert [type(c) for c in loaded.classes_] == [type(c) for c in est.classes_]
        assert loaded.history_ == est.history_ and loaded.n_epochs_ == est.n_epochs_
    else:
        assert loaded.n_features_out_ == est.n_features_out_

    # usable: clone-able and re-fittable, to the same predictions (same random_state);
    # the embedder's fit learns nothing from X and only costs time
    assert repr(clone(loaded).get_params()) == repr(est.get_params())
    if labels is not None:
        refit = loaded.fit(X, labels)
        np.testing.assert_allclose(_outputs(refit, X)[0], expected[0], atol=1e-5)


def test_layout_hashes_and_versions(cnn, cnn_save):
    assert sorted(p.name for p in cnn_save.iterdir()) == ["estimator.json", "model.keras"]
    document = _read(cnn_save)
    assert document["estimator"] == {"module": "sktransfer", "class": "SimpleCNNClassifier"}
    assert document["models"]["model_"]["file"] == "model.keras"
    digest = hashlib.sha256((cnn_save / "model.keras").read_bytes()).hexdigest()
    assert document["models"]["model_"]["sha256"] == digest
    assert set(document["versions"]) == {
        "sktransfer",
        "keras",
        "tensorflow",
        "scikit-learn",
        "numpy",
        "python",
    }
    assert document["attributes"]["classes_"]["dtype"] == cnn.classes_.dtype.str
    # a class_weight with int keys is stored as tagged pairs and comes back with int keys
    assert load(cnn_save).class_weight == {0: 1.0, 1: 2.0}


def test_unfitted_estimator_saves_its_parameters(tmp_path):
    cnn = SimpleCNNClassifier(
        optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        random_state=np.random.RandomState(3),
        input_size=(32, 48),
        conv_filters=[4, 8],
        callbacks=[keras.callbacks.TerminateOnNaN()],
    )
    with pytest.warns(UserWarning, match="callbacks"):
        save(cnn, tmp_path / "cnn")
    assert os.listdir(tmp_path / "cnn") == ["estimator.json"]
    loaded = load(tmp_path / "cnn")
    assert not hasattr(loaded, "classes_") and loaded.callbacks is None
    assert type(loaded.optimizer) is keras.optimizers.SGD
    assert loaded.optimizer.get_config() == cnn.optimizer.get_config()
    assert (
        loaded.random_state.randint(1000, size=5).tolist()
        == np.random.RandomState(3).randint(1000, size=5).tolist()
    )
    assert loaded.input_size == (32, 48) and loaded.conv_filters == [4, 8]

    finetuned = FineTunedClassifier(
        "efficientnet_lite0",
        weights=tmp_path / "weights.h5",
        cache=ActivationCache(max_bytes=1000),
        head=(np.int64(8),),
    )
    with pytest.warns(UserWarning, match="cache"):
        save(finetuned, tmp_path / "ft")
    loaded = load(tmp_path / "ft")
    assert loaded.cache is True and loaded.weights == tmp_path / "weights.h5"
    assert type(loaded.head[0]) is np.int64


def test_refuses_to_overwrite_by_default(cnn, cnn_save):
    before = _snapshot(cnn_save)
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        save(cnn, cnn_save)
    assert str(cnn_save) in str(info.value)
    assert _snapshot(cnn_save) == before


def test_overwrite_replaces_an_earlier_save(copy_of_save):
    save(PretrainedEmbedder("efficientnet_lite0", input_size=32), copy_of_save, overwrite=True)
    assert isinstance(load(copy_of_save), PretrainedEmbedder)
    assert os.listdir(copy_of_save.parent) == [copy_of_save.name]  # nothing left beside it


def test_only_empty_or_earlier_save_directories_are_written(tmp_path):
    est = SimpleCNNClassifier()
    (tmp_path / "empty").mkdir()
    save(est, tmp_path / "empty")
    assert isinstance(load(tmp_path / "empty"), SimpleCNNClassifier)

    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"not yours")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match="not an sktransfer save"):
            save(est, other, overwrite=overwrite)
    assert os.listdir(other) == ["cat.jpg"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(FileExistsError, match="not a directory"):
        save(est, tmp_path / "file", overwrite=True)
    with pytest.raises(TypeError, match="scikit-learn estimators"):  # a Pipeline is stored, not this
        save(object(), tmp_path / "lr")
    assert sorted(os.listdir(tmp_path)) == ["empty", "file", "photos"]


def test_an_empty_directory_is_filled_in_place(cnn, tmp_path, monkeypatch):
    """Regression: an existing empty directory was removed and a new one renamed
    in its place, losing its permissions and group (a private 0700 folder came
    out 0755), and leaving a shell inside it (``--out .``) in a deleted folder."""
    est = SimpleCNNClassifier()
    target = tmp_path / "private"
    target.mkdir()
    os.chmod(target, 0o700)
    inode = os.stat(target).st_ino
    save(est, target)
    assert os.stat(target).st_ino == inode and os.stat(target).st_mode & 0o777 == 0o700
    assert isinstance(load(target), SimpleCNNClassifier)
    assert sorted(os.listdir(tmp_path)) == ["private"]  # no temporary folder left

    # A move that fails half-way moves the entries back: the folder stays empty.
    second = tmp_path / "second"
    second.mkdir()
    rename, calls = os.rename, []

    def fail_second_move(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("disk full")
        return rename(src, dst)

    monkeypatch.setattr(os, "rename", fail_second_move)
    with pytest.raises(OSError, match="disk full"):
        save(cnn, second)  # a fitted model: its JSON and its Keras file
    monkeypatch.undo()
    assert os.listdir(second) == [] and sorted(os.listdir(tmp_path)) == ["private", "second"]


@pytest.mark.parametrize("failure", ["model_save", "json_dump", "final_rename"])
def test_interrupted_save_keeps_the_previous_one(failure, cnn, data, copy_of_save, monkeypatch):
    before = _snapshot(copy_of_save)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    if failure == "model_save":
        monkeypatch.setattr(keras.Model, "save", boom)
    elif failure == "json_dump":
        monkeypatch.setattr(json, "dump", boom)
    else:
        rename = os.rename
        monkeypatch.setattr(
            os, "rename", lambda src, dst: boom() if ".tmp-" in str(src) else rename(src, dst)
        )
    with pytest.raises(OSError, match="disk full"):
        save(cnn, copy_of_save, overwrite=True)
    monkeypatch.undo()
    assert _snapshot(copy_of_save) == before
    assert os.listdir(copy_of_save.parent) == [copy_of_save.name]  # no temporary directory
    np.testing.assert_array_equal(load(copy_of_save).predict_proba(data[0]), cnn.predict_proba(data[0]))


@pytest.mark.parametrize("where", ["top", "nested", "unsafe_mode_on"])
def test_model_file_with_a_lambda_layer_is_refused(where, copy_of_save):
    from keras.src.backend.common import global_state

    from sktransfer._engine.network import InferenceMode

    inputs = keras.Input((32, 32, 3))
    lambda_model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2.0)(inputs))
    if where == "nested":  # hidden inside the custom layer that wraps the backbone
        lambda_model = keras.Model(inputs, InferenceMode(lambda_model, name="backbone")(inputs))
    path = copy_of_save / "model.keras"
    path.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that lambdas are unsafe
        lambda_model.save(str(path))
    document = _read(copy_of_save)  # a consistent hash: only safe mode can catch it
    document["models"]["model_"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    _write(copy_of_save, document)
    flag = global_state.get_global_attribute("safe_mode_saving")
    try:
        if where == "unsafe_mode_on":  # a process-wide opt-out must not reach load()
            keras.config.enable_unsafe_deserialization()
        with pytest.raises(ValueError, match="arbitrary Python code") as info:
            load(copy_of_save)
    finally:
        global_state.set_global_attribute("safe_mode_saving", flag)
    assert str(path) in str(info.value)


def _set(*keys, value):
    def edit(document):
        target = document
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


TAMPERED = {
    "unknown class": (_set("estimator", "class", value="NoSuchClassifier"), "may create"),
    "outside allow-list": (_set("estimator", value={"module": "os", "class": "system"}), "may create"),
    "unknown parameter": (_set("params", "evil", value=1), "unknown parameter.*evil"),
    "wrong parameter type": (_set("params", "epochs", value="ten"), "epochs"),
    "wrong attribute type": (_set("attributes", "classes_", value="abc"), "classes_ must be"),
    "dunder attribute": (_set("attributes", "__class__", value="x"), "not a fitted-attribute"),
    "model over a method": (
        lambda d: d["models"].update(fit=d["models"]["model_"]),
        "not a fitted-attribute",
    ),
    "unknown tag": (
        _set("params", "conv_filters", value={"__type__": "pickle", "value": "x"}),
        "unknown or malformed",
    ),
    "nested class": (
        _set("params", "augmentation", value={"__type__": "estimator", "class": "Pipeline", "params": {}}),
        "not one of",
    ),
    "bad dtype": (_set("attributes", "classes_", "dtype", value="V8"), "not allowed"),
    "bad array": (_set("attributes", "classes_", "data", value=["a"]), "does not fit"),
    "path in file name": (_set("models", "model_", "file", value="../model.keras"), "plain file name"),
    "future format": (_set("format_version", value=99), "format_version"),
    "hash mismatch": (_set("models", "model_", "sha256", value="0" * 64), "sha256"),
}


@pytest.mark.parametrize("edit, message", TAMPERED.values(), ids=TAMPERED.keys())
def test_tampered_json_is_refused(edit, message, copy_of_save):
    document = _read(copy_of_save)
    edit(document)
    _write(copy_of_save, document)
    with pytest.raises(ValueError, match=message) as info:
        load(copy_of_save)
    named = [str(copy_of_save / name) in str(info.value) for name in (JSON_NAME, "model.keras")]
    assert any(named)  # the message names the file at fault


def test_missing_or_broken_files_are_refused(copy_of_save, tmp_path):
    (copy_of_save / "model.keras").unlink()
    with pytest.raises(ValueError, match="model.keras is missing"):
        load(copy_of_save)
    (copy_of_save / JSON_NAME).write_text('{"format": ')
    with pytest.raises(ValueError, match="estimator.json: not valid JSON"):
        load(copy_of_save)
    (copy_of_save / JSON_NAME).unlink()
    with pytest.raises(ValueError, match="estimator.json is missing"):
        load(copy_of_save)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "nowhere")


def test_version_mismatch_warns(copy_of_save, cnn, data):
    document = _read(copy_of_save)
    keras_major_minor = ".".join(keras.__version__.split(".")[:2])
    document["versions"]["keras"] = keras_major_minor + ".999"  # patch level: no warning
    _write(copy_of_save, document)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        load(copy_of_save)

    document["versions"].update(sktransfer="0.0.1", keras="2.15.0")
    _write(copy_of_save, document)
    expected = r"sktransfer 0\.0\.1, keras 2\.15\.0.*installed"
    with pytest.warns(UserWarning, match=expected) as record:
        loaded = load(copy_of_save)
    assert keras.__version__ in str(record[0].message)
    np.testing.assert_array_equal(loaded.predict_proba(data[0]), cnn.predict_proba(data[0]))


def test_saved_folder_follows_the_umask(cnn, tmp_path):
    """Regression: the save was renamed from a mkdtemp folder and stayed private (0700)."""
    old = os.umask(0o022)
    try:
        path = save(cnn, tmp_path / "m")
    finally:
        os.umask(old)
    assert (os.stat(path).st_mode & 0o777) == 0o755
