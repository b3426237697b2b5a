"""The estimators' ``on_error`` parameter: "skip" leaves unreadable files out of fit only."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pickle
import re

import numpy as np
import pytest
from conftest import BACKBONE, SIZE
from PIL import Image
from sklearn.base import clone

from sktransfer import PretrainedEmbedder, SimpleCNNClassifier
from sktransfer.exceptions import UnreadableImageError
from sktransfer.images import _decode
from sktransfer.persistence import load, save


@pytest.fixture(scope="module")
def files(binary_sample, tmp_path_factory):
    """Ten readable PNG files of two classes, an empty file and a missing one."""
    X, y = binary_sample
    root = tmp_path_factory.mktemp("on_error")
    keep = np.r_[0:5, 20:25]  # five of each class
    paths = []
    for i in keep:
        paths.append(str(root / f"{y[i]}_{i}.png"))
        Image.fromarray(X[i]).save(paths[-1])
    empty, missing = root / "empty.png", root / "missing.png"
    empty.write_bytes(b"")
    return np.array(paths, dtype=object), y[keep], str(empty), str(missing)


def _with_bad(files):
    """The good files with the two bad ones at X[2] and X[7], and their labels."""
    paths, labels, empty, missing = files
    X = [*paths[:2], empty, *paths[2:6], missing, *paths[6:]]
    y = [*labels[:2], labels[0], *labels[2:6], labels[-1], *labels[6:]]
    return X, np.array(y, dtype=object)


def test_skip_drops_files_with_their_labels(files, make_classifier):
    paths, labels, empty, missing = files
    X, y = _with_bad(files)
    with pytest.warns(UserWarning) as record:
        clf = make_classifier(on_error="skip", epochs=3).fit(X, y)
    skip_warnings = [str(w.message) for w in record if "left out" in str(w.message)]
    assert len(skip_warnings) == 1, skip_warnings
    message = skip_warnings[0]
    assert re.search(r"FineTunedClassifier\.fit left out 2 of 12 image files", message)
    assert "empty.png' (X[2]): the file is empty" in message
    assert "missing.png' (X[7]): the file does not exist" in message
    assert clf.skipped_files_ == [empty, missing]
    # The same model as a fit on the good files alone: labels stayed with their files.
    reference = make_classifier(epochs=3).fit(paths, labels)
    assert reference.skipped_files_ == []
    np.testing.assert_allclose(clf.predict_proba(paths), reference.predict_proba(paths), rtol=0, atol=1e-6)
    # Rows of predict must align with X: unreadable files raise there, whatever on_error says.
    for method in (clf.predict, clf.predict_proba, clf.decision_function, clf.transform):
        with pytest.raises(
            ValueError,
            match=r"missing\.png' \(X\[7\]\): the file does not exist; "
            r"check the path, or remove it from X: FineTunedClassifier returns "
            r"one row per image.*applies to fit only",
        ):
            method(X)


def test_raise_is_the_default_and_names_the_skip_option(files, make_classifier):
    X, y = _with_bad(files)
    assert make_classifier().get_params()["on_error"] == "raise"
    with pytest.raises(
        ValueError,
        match=r"\.png' \(X\[[27]\]\): .*or pass on_error='skip' to "
        r"FineTunedClassifier to fit without unreadable files",
    ):
        make_classifier().fit(X, y)


def test_skip_without_bad_files_or_with_arrays_skips_nothing(files, binary_sample):
    X, y = binary_sample
    cnn = SimpleCNNClassifier((4,), dense_units=4, input_size=SIZE, epochs=1, random_state=0, on_error="skip")
    assert cnn.fit(X, y).skipped_files_ == []
    paths, labels, _, _ = files
    assert cnn.fit(paths, labels).skipped_files_ == []


def test_simple_cnn_skips_too(files):
    X, y = _with_bad(files)
    cnn = SimpleCNNClassifier((4,), dense_units=4, input_size=SIZE, epochs=1, random_state=0, on_error="skip")
    with pytest.warns(UserWarning, match="SimpleCNNClassifier.fit left out 2 of 12"):
        cnn.fit(X, y)
    assert cnn.skipped_files_ == [files[2], files[3]]
    assert cnn.predict(files[0]).shape == (10,)


def test_nothing_readable_or_one_class_left(files, make_classifier):
    paths, labels, empty, missing = files
    with pytest.raises(
        ValueError,
        match=r"None of the 2 files could be decoded, so "
        r"FineTunedClassifier has no image to fit on; .*empty\.png' \(X\[0\]\)",
    ):
        make_classifier(on_error="skip").fit([empty, missing], ["a", "b"])
    with pytest.warns(UserWarning, match="left out 1 of 3"):
        with pytest.raises(ValueError, match="at least 2 classes"):
            make_classifier(on_error="skip").fit([paths[0], paths[1], empty], ["a", "a", "b"])


def test_invalid_values_are_refused(files, make_classifier):
    paths, labels, _, _ = files
    for est in (make_classifier(on_error="ignore"), PretrainedEmbedder(on_error=True)):
        with pytest.raises(ValueError, match="'on_error' parameter .* must be a str among"):
            est.fit(paths, labels)


def test_embedder_records_but_transform_raises(files):
    paths, _, empty, missing = files
    X, _ = _with_bad(files)
    embedder = PretrainedEmbedder(BACKBONE, input_size=SIZE)
    assert embedder.fit(X).skipped_files_ == []  # "raise" reads no file in fit
    embedder.set_params(on_error="skip")
    with pytest.warns(UserWarning, match=r"PretrainedEmbedder\.fit left out 2 of 12"):
        embedder.fit(X)
    assert embedder.skipped_files_ == [empty, missing]
    assert embedder.transform(paths).shape[0] == len(paths)
    with (
        pytest.warns(UserWarning, match="left out 2"),
        pytest.raises(
            ValueError,
            match=r"missing\.png' \(X\[7\]\).*remove it from X: "
            r"PretrainedEmbedder returns one row per image",
        ),
    ):
        embedder.fit_transform(X)


def test_param_survives_clone_pickle_and_save(files, make_classifier, tmp_path):
    X, y = _with_bad(files)
    with pytest.warns(UserWarning, match="left out 2"):
        clf = make_classifier(on_error="skip").fit(X, y)
    assert clone(clf).on_error == "skip"
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.on_error == "skip" and restored.skipped_files_ == clf.skipped_files_
    save(clf, tmp_path / "saved")
    loaded = load(tmp_path / "saved")
    assert loaded.get_params()["on_error"] == "skip"
    assert loaded.skipped_files_ == clf.skipped_files_
    np.testing.assert_allclose(loaded.predict_proba(files[0]), clf.predict_proba(files[0]), rtol=0, atol=1e-6)


def test_error_pickles_and_files_are_checked_once(files, monkeypatch):
    """Errors come back from worker processes intact; a grid search decodes each file once."""
    error = UnreadableImageError("a.jpg", "the file is empty (0 bytes)", 3, "remove it")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and (copy.path, copy.index) == ("a.jpg", 3)
    paths, _, empty, _ = files
    X = np.array([*paths, empty], dtype=object)
    assert list(_decode.find_unreadable(X, (SIZE, SIZE))) == [len(paths)]
    decoded = []
    real = _decode.decode_file
    monkeypatch.setattr(_decode, "decode_file", lambda p, *a: decoded.append(p) or real(p, *a))
    assert list(_decode.find_unreadable(X, (SIZE, SIZE))) == [len(paths)]
    assert decoded == [empty]  # the good files were remembered
