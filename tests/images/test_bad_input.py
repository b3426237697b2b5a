"""Bad input end to end: through the estimators and load_image_folder.

tests/images/test_images.py checks each decoder case at the images.py level; here the
same problems arrive the way a user meets them (``fit`` / ``predict`` on paths,
arrays and folders), and the message must name the file or the argument.
Property-based tests (hypothesis) check that random files and random arrays
only ever raise ValueError / TypeError.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import io
import re

import numpy as np
import pytest
from conftest import SIZE
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image
from sklearn.exceptions import NotFittedError

from sktransfer import load_image_folder
from sktransfer.images import check_image_input, load_images


def _jpeg_bytes(seed=0, size=(40, 40)):
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    """Eight readable RGB JPEG files, two classes."""
    root = tmp_path_factory.mktemp("good")
    paths = []
    for i in range(8):
        path = root / f"good_{i}.jpg"
        path.write_bytes(_jpeg_bytes(i))
        paths.append(str(path))
    return paths, np.array(["a", "b"] * 4, dtype=object)


@pytest.fixture(scope="module")
def fitted(good_files, make_classifier):
    paths, labels = good_files
    return make_classifier().fit(paths, labels)


def _bad_file(tmp_path, kind, monkeypatch):
    """Write one unreadable file; return (path, expected message fragment)."""
    if kind == "truncated":
        path = tmp_path / "half.jpg"
        data = _jpeg_bytes(1)
        path.write_bytes(data[: len(data) // 2])
        return path, "truncated"
    if kind == "corrupt":
        path = tmp_path / "scrambled.jpg"
        data = bytearray(_jpeg_bytes(2))
        data[2:200] = bytes(198)  # header destroyed, SOI kept
        path.write_bytes(bytes(data))
        return path, ""
    if kind == "zero-byte":
        path = tmp_path / "empty.png"
        path.write_bytes(b"")
        return path, r"empty \(0 bytes\)"
    if kind == "not-an-image":
        path = tmp_path / "notes.jpg"
        path.write_text("this is a text file with an image suffix\n")
        return path, "cannot identify"
    if kind == "missing":
        return tmp_path / "gone.jpg", "(does not exist|No such file)"
    if kind == "folder":
        path = tmp_path / "folder.jpg"
        path.mkdir()
        return path, "(folder|directory)"
    if kind == "decompression-bomb":
        path = tmp_path / "bomb.png"
        Image.new("RGB", (100, 100)).save(path)
        # good files are 40x40 = 1600 pixels; Pillow refuses above 2 x the limit
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)
        return path, "MAX_IMAGE_PIXELS"
    raise AssertionError(kind)


BAD_KINDS = ["truncated", "corrupt", "zero-byte", "not-an-image", "missing", "folder", "decompression-bomb"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_fit_names_the_bad_file(kind, good_files, tmp_path, monkeypatch, make_classifier):
    paths, labels = good_files
    bad, fragment = _bad_file(tmp_path, kind, monkeypatch)
    X = [*paths[:5], str(bad), *paths[5:]]
    y = np.array([*labels[:5], "a", *labels[5:]], dtype=object)
    with pytest.raises(ValueError, match=re.escape(bad.name)) as info:
        make_classifier().fit(X, y)
    assert re.search(fragment, str(info.value)), str(info.value)


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_predict_names_the_bad_file(kind, fitted, good_files, tmp_path, monkeypatch):
    paths, _ = good_files
    bad, fragment = _bad_file(tmp_path, kind, monkeypatch)
    with pytest.raises(ValueError, match=re.escape(bad.name)) as info:
        fitted.predict_proba([paths[0], str(bad)])
    assert re.search(fragment, str(info.value)), str(info.value)


def test_index_in_the_message_is_the_users_index(fitted, good_files, tmp_path):
    """The file's position in the user's X, not in an internal chunk."""
    paths, _ = good_files
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    X = [*paths, str(bad)]  # X[8]; X[0] ... X[7] are cached by the fit
    with pytest.raises(ValueError, match=r"empty\.jpg.*\(X\[8\]\)"):
        fitted.predict_proba(X)


def test_index_in_a_fit_message_is_the_users_index(tmp_path, make_classifier):
    """Fit decodes in chunks of 64 images: a bad file in the second chunk."""
    X = []
    for i in range(66):
        path = tmp_path / f"{i}.jpg"
        path.write_bytes(_jpeg_bytes(i, (8, 8)))
        X.append(str(path))
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image\n")
    X.append(str(bad))
    y = ["a", "b"] * 33 + ["a"]
    with pytest.raises(ValueError, match=r"notes\.jpg' \(X\[66\]\): .*on_error='skip' to Fine"):
        make_classifier(cache=False).fit(X, y)


def test_image_modes_and_sizes_fit_and_predict(tmp_path, good_files, make_classifier):
    """Grayscale, RGBA, palette, CMYK, 16-bit and a 1x1 image are converted, not refused."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (24, 24), dtype=np.uint8)
    files = {
        "gray.png": Image.fromarray(gray),
        "gray_as_rgb.png": Image.fromarray(np.repeat(gray[..., None], 3, axis=-1)),
        "rgba.png": Image.fromarray(np.dstack([rgb, np.full((24, 24), 255, np.uint8)])),
        "palette.gif": Image.fromarray(rgb).convert("P"),
        "cmyk.jpg": Image.fromarray(rgb).convert("CMYK"),
        "sixteen_bit.png": Image.fromarray(gray.astype(np.uint16) * 257),
        "one_pixel.png": Image.new("RGB", (1, 1), (200, 30, 30)),
        "wide.png": Image.fromarray(np.tile(rgb, (1, 8, 1))),
    }
    paths = []
    for name, img in files.items():
        img.save(tmp_path / name)
        paths.append(str(tmp_path / name))
    good, labels = good_files
    X = [*good, *paths]
    y = np.array([*labels, *(["a", "b"] * 4)], dtype=object)
    clf = make_classifier().fit(X, y)
    proba = clf.predict_proba(paths)
    assert proba.shape == (len(paths), 2) and np.all(np.isfinite(proba))
    # Grayscale goes in as R = G = B: the same as the RGB file of the same pixels.
    np.testing.assert_allclose(proba[0], proba[1], atol=1e-6)
    # 16-bit 0..65535 is scaled to 0..255 (v / 257), so it equals the 8-bit image.
    np.testing.assert_allclose(proba[5], proba[0], atol=1e-6)


# ------------------------------------------------------------------ array input


@pytest.mark.parametrize(
    "X, exc, fragment",
    [
        (np.full((8, SIZE, SIZE, 3), np.nan), ValueError, "NaN or infinity"),
        (np.full((8, SIZE, SIZE, 3), np.inf), ValueError, "NaN or infinity"),
        (np.full((8, SIZE, SIZE, 3), 300.0), ValueError, r"above 255 \(max 300"),
        (np.full((8, SIZE, SIZE, 3), -2.0), ValueError, r"Negative values.*min -2"),
        (np.zeros((8, SIZE, SIZE, 2)), ValueError, "2 channels"),
        (np.zeros((8, 3, SIZE, SIZE)), ValueError, "moveaxis"),
        (np.zeros((8, SIZE, SIZE, 3), dtype=bool), TypeError, "bool"),
        (np.zeros((8, SIZE, SIZE, 3), dtype=complex), ValueError, "Complex"),
        (np.zeros((8, SIZE * SIZE * 3)), ValueError, "2-D array"),
    ],
    ids=[
        "nan",
        "inf",
        "above-255",
        "negative",
        "2-channels",
        "channels-first",
        "bool",
        "complex",
        "flattened",
    ],
)
def test_bad_arrays_in_fit_and_predict(X, exc, fragment, fitted, make_classifier):
    y = np.array(["a", "b"] * 4, dtype=object)
    with pytest.raises(exc, match=fragment):
        make_classifier().fit(X, y)
    with pytest.raises(exc, match=fragment):
        fitted.predict(X)


def test_unit_scaled_floats_warn_once_per_call(make_classifier):
    """Regression: the "looks scaled to 0..1" warning came once more per decoded chunk."""
    from sktransfer import PretrainedEmbedder, SimpleCNNClassifier

    X = np.random.default_rng(0).uniform(0, 1, (70, SIZE, SIZE, 3))  # two chunks of 64
    y = np.array(["a", "b"] * 35)
    clf = make_classifier(cache=False)
    cnn = SimpleCNNClassifier((4,), dense_units=4, input_size=SIZE, epochs=1, random_state=0)
    embedder = PretrainedEmbedder(clf.backbone, input_size=SIZE, cache=False)
    for call in (
        lambda: clf.fit(X, y),
        lambda: clf.predict_proba(X),
        lambda: cnn.fit(X, y),
        lambda: cnn.predict(X),
        lambda: embedder.fit(X),
        lambda: embedder.transform(X),
    ):
        with pytest.warns(UserWarning, match="looks scaled to 0..1") as record:
            call()
        assert sum("looks scaled to 0..1" in str(w.message) for w in record) == 1


def test_arrays_of_other_sizes_channels_and_dtypes_are_accepted(fitted):
    rng = np.random.default_rng(0)
    for X in (
        rng.integers(0, 256, (3, 50, 20, 3), dtype=np.uint8),  # other size: resized
        rng.integers(0, 256, (3, SIZE, SIZE, 4), dtype=np.uint8),  # RGBA
        rng.integers(0, 256, (3, SIZE, SIZE), dtype=np.uint8),  # grayscale, no channel axis
        rng.integers(0, 256, (3, SIZE, SIZE, 1)).astype(np.int16),  # one channel, int16
        rng.uniform(0, 255, (3, SIZE, SIZE, 3)),  # float64 0..255
    ):
        proba = fitted.predict_proba(X)
        assert proba.shape == (3, 2) and np.all(np.isfinite(proba))


def test_x_and_y_problems(good_files, fitted, make_classifier):
    paths, labels = good_files
    with pytest.raises(ValueError, match="8 images but 7 labels"):
        make_classifier().fit(paths, labels[:-1])
    with pytest.raises(ValueError, match=r"single path .*wrap it in a list"):
        make_classifier().fit(paths[0], labels[:2])
    with pytest.raises(ValueError, match=r"X\[2\] is None"):
        make_classifier().fit([*paths[:2], None, *paths[3:]], labels)
    with pytest.raises(ValueError, match="at least 2 classes"):
        make_classifier().fit(paths, ["a"] * 8)
    with pytest.raises(NotFittedError):
        make_classifier().predict(paths)


@pytest.mark.parametrize(
    "params, exc, fragment",
    [
        ({"backbone": "resnet5O"}, ValueError, "backbone"),
        ({"optimizer": "adamw2"}, ValueError, "adamw2"),
        ({"optimizer": 0.01}, ValueError, "optimizer"),
        ({"trainable_layers": "conv5"}, ValueError, "conv5"),
        ({"trainable_layers": "block99"}, ValueError, "block99"),
        ({"trainable_layers": -1}, ValueError, "trainable_layers"),
        ({"weights": "/nonexistent/weights.h5"}, ValueError, "/nonexistent/weights.h5"),
        ({"input_size": (32, 32, 3)}, ValueError, "input_size"),
        ({"pooling": "mean"}, ValueError, "pooling"),
        ({"epochs": 0}, ValueError, "epochs"),
    ],
)
def test_bad_parameters_name_the_argument(params, exc, fragment, good_files, make_classifier):
    paths, labels = good_files
    with pytest.raises(exc, match=re.escape(fragment)):
        make_classifier(**params).fit(paths, labels)


# ------------------------------------------------------------------ folders


def test_folder_with_stray_files_fits(tmp_path, make_classifier):
    """Non-image files are left out by suffix and listed; image files of any suffix case load."""
    for label in ("cat", "dog"):
        folder = tmp_path / label
        (folder / "nested").mkdir(parents=True)
        for i in range(3):
            (folder / f"{label}{i}.jpg").write_bytes(_jpeg_bytes(i + (label == "dog") * 10))
        (folder / "nested" / f"{label}.PNG").write_bytes(
            _png_bytes((255, 0, 0) if label == "cat" else (0, 0, 255))
        )
        (folder / "labels.csv").write_text("a,b\n")
        (folder / ".DS_Store").write_bytes(b"\0\0")
    (tmp_path / "README.txt").write_text("top-level files are not a class\n")
    with pytest.warns(UserWarning, match=r"Ignored 2 file.*labels\.csv"):
        X, y, classes = load_image_folder(tmp_path)
    assert classes == ["cat", "dog"] and len(X) == 8
    proba = make_classifier().fit(X, y).predict_proba(X)
    assert proba.shape == (8, 2)


def test_folder_with_a_corrupt_image_names_it(tmp_path, make_classifier):
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(2):
            (tmp_path / label / f"{i}.jpg").write_bytes(_jpeg_bytes(i))
    (tmp_path / "dog" / "2.jpg").write_text("<html>404 Not Found</html>")
    X, y, _ = load_image_folder(tmp_path)
    with pytest.raises(ValueError, match=r"dog.2\.jpg.*cannot identify"):
        make_classifier().fit(X, y)


# A folder with one class, an empty class folder, a missing folder: see
# tests/test_datasets.py::test_load_image_folder_errors.


def _png_bytes(color):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, "PNG")
    return buf.getvalue()


# ------------------------------------------------------------------ properties

_VALID = {"jpg": _jpeg_bytes(3, (16, 16)), "png": _png_bytes((10, 20, 30))}


@st.composite
def _file_bytes(draw):
    """Random bytes, valid files with random damage, or valid headers with random bodies."""
    ext = draw(st.sampled_from(["jpg", "png"]))
    valid = _VALID[ext]
    how = draw(st.sampled_from(["random", "truncate", "flip", "header"]))
    if how == "random":
        data = draw(st.binary(max_size=512))
    elif how == "truncate":
        data = valid[: draw(st.integers(0, len(valid)))]
    elif how == "flip":
        data = bytearray(valid)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        data = bytes(data)
    else:
        data = valid[:16] + draw(st.binary(max_size=512))
    return ext, data


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=_file_bytes())
def test_random_file_bytes_raise_only_value_error(tmp_path, sample):
    ext, data = sample
    path = tmp_path / f"random.{ext}"
    path.write_bytes(data)
    try:
        out = load_images([str(path)], 8)
    except ValueError as exc:
        assert "random." + ext in str(exc)
    else:
        assert out.shape == (1, 8, 8, 3) and out.dtype == np.uint8


_DTYPES = ["uint8", "float32", "float64", "int16", "bool", "complex128"]


@st.composite
def _arrays(draw, max_side=4):
    """Any shape of ndim 0..5, or (half the time) a plausible image batch; any of _DTYPES."""
    dtype = np.dtype(draw(st.sampled_from(_DTYPES)))
    if draw(st.booleans()):
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=max_side))
    else:  # (n, h, w[, c]): reaches the checks after the shape, and sometimes fit itself
        n, h, w = (draw(st.integers(2, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        channels = draw(st.sampled_from([(), (1,), (2,), (3,), (4,), (5,)]))
        shape = (n, h, w, *channels)
    elements = None  # integers, bool, complex: anything the dtype holds
    if dtype.kind == "f":
        width = dtype.itemsize * 8
        elements = st.one_of(
            st.floats(0, 255, width=width),  # valid pixels, so that some arrays pass
            st.floats(-300, 300, width=width),
            st.sampled_from([np.nan, np.inf, -np.inf]),
        )
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=150, deadline=None)
@given(X=_arrays())
def test_check_image_input_raises_only_value_or_type_error(X):
    try:
        out = check_image_input(X)
    except (ValueError, TypeError) as exc:
        event(type(exc).__name__)
        return
    event("accepted")
    assert out.ndim == 4 and out.shape[-1] in (1, 3, 4) and out.dtype.kind in "uf"


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(X=_arrays(max_side=3))
def test_fit_on_random_arrays_raises_only_value_or_type_error(X, make_classifier):
    n = X.shape[0] if X.ndim else 2
    y = np.arange(n) % 2
    try:
        clf = make_classifier(batch_size=4).fit(X, y)
    except (ValueError, TypeError) as exc:
        event(type(exc).__name__)
        return
    event("fitted")
    assert clf.predict_proba(X).shape == (n, 2)
