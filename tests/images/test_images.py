import doctest
import io
import os
import pathlib

import numpy as np
import pytest
from PIL import Image

import sktransfer.images as images_module
from sktransfer.images import check_image_input, is_path_input, load_images, num_samples


def _save(path, img, **kwargs):
    img.save(path, **kwargs)
    return str(path)


def test_doctests():
    result = doctest.testmod(images_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ---------------------------------------------------------------- file decoding


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("RGB", (10, 6), (10, 200, 30)), (10, 200, 30)),
        (lambda: Image.new("L", (10, 6), 77), (77, 77, 77)),
        (lambda: Image.new("1", (10, 6), 1), (255, 255, 255)),
        (lambda: Image.new("RGBA", (10, 6), (0, 0, 255, 255)), (0, 0, 255)),
        (lambda: Image.new("RGBA", (10, 6), (0, 0, 0, 0)), (255, 255, 255)),
        (lambda: Image.new("LA", (10, 6), (0, 0)), (255, 255, 255)),
        (lambda: Image.new("LA", (10, 6), (0, 255)), (0, 0, 0)),
    ],
    ids=["RGB", "L", "1", "RGBA-opaque", "RGBA-transparent", "LA-transparent", "LA-opaque"],
)
def test_png_modes_decode_to_rgb(tmp_path, make, expected):
    path = _save(tmp_path / "x.png", make())
    out = load_images([path], (6, 10))
    assert out.shape == (1, 6, 10, 3) and out.dtype == np.uint8
    np.testing.assert_allclose(out[0, 3, 5], expected, atol=1)


def test_rgba_half_transparent_composited_on_white(tmp_path):
    path = _save(tmp_path / "x.png", Image.new("RGBA", (4, 4), (0, 0, 0, 128)))
    np.testing.assert_allclose(load_images([path], 4)[0, 0, 0], (127, 127, 127), atol=1)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.putpixel((0, 0), 1)
    path = _save(tmp_path / "p.png", img, transparency=0)
    out = load_images([path], 4)[0]
    np.testing.assert_array_equal(out[0, 0], (0, 255, 0))  # opaque palette entry
    np.testing.assert_array_equal(out[2, 2], (255, 255, 255))  # transparent entry
    gif = _save(tmp_path / "p.gif", img, transparency=0)
    np.testing.assert_array_equal(load_images([gif], 4)[0, 2, 2], (255, 255, 255))


def test_cmyk_jpeg_red(tmp_path):
    path = _save(tmp_path / "c.jpg", Image.new("CMYK", (16, 16), (0, 255, 255, 0)), quality=95)
    with Image.open(path) as img:
        assert img.mode == "CMYK"
    np.testing.assert_allclose(load_images([path], 8)[0, 4, 4], (255, 0, 0), atol=3)


def test_16bit_png_scaled_not_clipped(tmp_path):
    gradient = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (4, 1))
    path = _save(tmp_path / "g16.png", Image.fromarray(gradient))
    with Image.open(path) as img:
        assert img.mode.startswith("I;16")
    out = load_images([path], (4, 64))[0, :, :, 0]
    assert out.min() == 0 and out.max() == 255
    assert np.all(np.diff(out[0].astype(int)) >= 0)
    assert len(np.unique(out)) > 50  # not clipped to a few saturated values


def test_32bit_int_and_float_tiff(tmp_path):
    ints = np.full((4, 4), 65535, dtype=np.int32)
    assert load_images([_save(tmp_path / "i.tif", Image.fromarray(ints))], 4).max() == 255
    unit = np.full((4, 4), 0.5, dtype=np.float32)
    out = load_images([_save(tmp_path / "f.tif", Image.fromarray(unit))], 4)
    np.testing.assert_allclose(out, 128, atol=1)


def test_ycbcr_jpeg_and_tiny_image(tmp_path):
    path = _save(tmp_path / "one.png", Image.new("RGB", (1, 1), (1, 2, 3)))
    out = load_images([path], (5, 7))
    assert out.shape == (1, 5, 7, 3)
    np.testing.assert_array_equal(out[0, 2, 3], (1, 2, 3))
    jpg = _save(tmp_path / "y.jpg", Image.new("RGB", (8, 8), (200, 10, 10)), quality=100)
    np.testing.assert_allclose(load_images([jpg], 8)[0, 4, 4], (200, 10, 10), atol=6)


@pytest.mark.parametrize("scale", [1, 20])  # 20: large enough for JPEG draft decoding
@pytest.mark.parametrize("crop", [None, "center"])
def test_exif_orientation_applied(tmp_path, scale, crop):
    img = Image.new("RGB", (40 * scale, 20 * scale), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20 * scale, 20 * scale))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewer turns it 90 degrees clockwise
    path = _save(tmp_path / "r.jpg", img, exif=exif, quality=95)
    out = load_images([path], (40, 20), crop=crop)[0]  # shown as 20 wide, 40 high
    assert out[5, 10, 0] > 200 and out[35, 10, 2] > 200  # red on top, blue below
    assert out[:18, :, 0].min() > 200 and out[22:, :, 2].min() > 200
    png = _save(tmp_path / "r.png", img, exif=exif)
    from_png = load_images([png], (40, 20), crop=crop)[0].astype(int)
    assert np.abs(from_png - out).mean() < 8  # only JPEG chroma blur at the edge differs


def test_large_jpeg_uses_draft_and_center_crop(tmp_path):
    arr = np.zeros((600, 1200, 3), dtype=np.uint8)
    arr[:, :300] = (255, 0, 0)  # left quarter red: cut away by the centre crop
    arr[:, 300:900] = (0, 255, 0)
    path = _save(tmp_path / "big.jpg", Image.fromarray(arr), quality=95)
    cropped = load_images([path], 32, crop="center")[0]
    assert cropped[:, :, 1].min() > 200 and cropped[:, :, 0].max() < 60
    squeezed = load_images([path], 32)[0]
    assert squeezed[16, 2, 0] > 200  # no crop: the red quarter is still there


def test_order_preserved_in_parallel(tmp_path):
    paths = [_save(tmp_path / f"{i}.png", Image.new("L", (7 + i % 5, 9), i)) for i in range(40)]
    out = load_images(paths, 4, n_jobs=4)
    np.testing.assert_array_equal(out[:, 0, 0, 0], np.arange(40))
    np.testing.assert_array_equal(load_images(paths, 4, n_jobs=1), out)


def test_path_forms(tmp_path):
    pd = pytest.importorskip("pandas")
    paths = [_save(tmp_path / f"{i}.png", Image.new("L", (4, 4), i)) for i in range(3)]
    expected = load_images(paths, 4)
    for form in (
        tuple(paths),
        [pathlib.Path(p) for p in paths],
        np.array(paths),
        np.array(paths, dtype=object),
        pd.Series(paths, index=[10, 11, 12]),
    ):
        assert is_path_input(form)
        np.testing.assert_array_equal(load_images(form, 4), expected)


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("empty.jpg", b"", r"empty \(0 bytes\)"),
        ("text.jpg", b"this is not an image\n", "cannot identify"),
        ("missing.jpg", None, "does not exist"),
    ],
)
def test_unreadable_files_named(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    good = _save(tmp_path / "good.png", Image.new("RGB", (4, 4)))
    with pytest.raises(ValueError, match=fragment) as info:
        load_images([good, str(path)], 4)
    assert name in str(info.value) and "X[1]" in str(info.value)
    assert "on_error='skip'" in str(info.value)


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ValueError, match="cut.jpg.*truncated.*LOAD_TRUNCATED_IMAGES"):
        load_images([str(path)], 8)


def test_directory_is_not_an_image(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        load_images([str(tmp_path)], 8)


def test_decompression_bomb(tmp_path, monkeypatch):
    path = _save(tmp_path / "huge.png", Image.new("RGB", (100, 100)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="huge.png.*MAX_IMAGE_PIXELS"):
        load_images([path], 8)


def test_skip_bad_files(tmp_path):
    paths = [_save(tmp_path / f"{i}.png", Image.new("L", (4, 4), i)) for i in range(4)]
    (tmp_path / "bad.jpg").write_bytes(b"")
    paths.insert(2, str(tmp_path / "bad.jpg"))
    out, kept, skipped = load_images(paths, 4, on_error="skip", return_skipped=True)
    np.testing.assert_array_equal(kept, [0, 1, 3, 4])
    np.testing.assert_array_equal(out[:, 0, 0, 0], [0, 1, 2, 3])
    assert skipped[0][0] == paths[2] and "empty" in skipped[0][1]
    with pytest.warns(UserWarning, match="Skipped 1 of 5.*bad.jpg.*return_skipped=True"):
        assert load_images(paths, 4, on_error="skip").shape == (4, 4, 4, 3)
    with pytest.raises(ValueError, match="None of the 1 files"):
        load_images([paths[2]], 4, on_error="skip")


# ---------------------------------------------------------------- array input


def test_arrays_at_size_returned_without_copy():
    X = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    assert load_images(X, 8) is X
    F = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    assert load_images(F, (8, 8)) is F
    out, kept, skipped = load_images(X, 8, return_skipped=True)
    assert out is X and list(kept) == [0, 1, 2] and skipped == []


def test_float_arrays_not_rounded():
    F = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3))
    out = load_images(F, 8)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, F, rtol=1e-6)
    resized = load_images(F, 4)
    assert resized.dtype == np.float32 and not np.allclose(resized, np.round(resized))
    assert resized.min() >= F.min() - 1e-3 and resized.max() <= F.max() + 1e-3
    gray = load_images(np.full((1, 6, 6, 1), 10.25), 3)
    np.testing.assert_allclose(gray, 10.25, rtol=1e-6)


def test_array_channels_and_resize():
    gray = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    out = load_images(gray, 4)
    assert out.shape == (2, 4, 4, 3)
    np.testing.assert_array_equal(out[..., 0], gray)
    np.testing.assert_array_equal(out[..., 2], gray)
    rgba = np.zeros((1, 4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[0, :2, :, 3] = 255  # top half opaque red, bottom transparent
    out = load_images(rgba, 4)[0]
    np.testing.assert_array_equal(out[0, 0], (255, 0, 0))
    np.testing.assert_array_equal(out[3, 0], (255, 255, 255))
    ints = np.full((2, 10, 20, 3), 100, dtype=np.int64)
    out = load_images(ints, (5, 5), crop="center", n_jobs=2)
    assert out.dtype == np.uint8 and out.shape == (2, 5, 5, 3) and np.all(out == 100)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "X, exc, fragment",
    [
        (None, ValueError, "None"),
        (3.5, ValueError, "scalar"),
        ("cat.jpg", ValueError, r"single path 'cat.jpg'.*wrap it in a list"),
        (pathlib.Path("cat.jpg"), ValueError, "wrap it in a list"),
        (np.zeros((5, 10)), ValueError, r"got 2-D array of shape \(5, 10\)"),
        (np.zeros(5), ValueError, "1-D array"),
        (np.zeros((1, 2, 3, 4, 5)), ValueError, "5-D"),
        (np.zeros((2, 4, 4, 3), dtype=complex), ValueError, "Complex data not supported"),
        (np.zeros((2, 4, 4, 3), dtype=bool), TypeError, r"bool.*astype"),
        (np.array([1, "a.jpg"], dtype=object), ValueError, r"X\[0\] is 1"),
        (np.array([{}, {}], dtype=object), TypeError, "not file paths"),
        (["a.jpg", None], ValueError, r"X\[1\] is None"),
        ([], ValueError, "empty"),
        (np.zeros((0, 4, 4, 3)), ValueError, "empty"),
        (np.zeros((2, 0, 4, 3)), ValueError, "empty"),
        (np.zeros((2, 4, 4, 2)), ValueError, "2 channels"),
        (np.zeros((2, 3, 8, 8)), ValueError, "moveaxis"),
        (np.full((1, 2, 2, 3), np.nan), ValueError, "NaN or infinity"),
        (np.full((1, 2, 2, 3), np.inf), ValueError, "NaN or infinity"),
        (np.full((1, 2, 2, 3), -1.0), ValueError, r"Negative values in data passed to X \(min -1.0"),
        (np.full((1, 2, 2, 3), 256, dtype=np.int16), ValueError, "above 255 \\(max 256"),
        ([np.zeros((4, 4, 3)), np.zeros((5, 4, 3))], ValueError, "different sizes"),
        (np.array([["a.jpg"], ["b.jpg"]], dtype=object), ValueError, "flat 1-D"),
    ],
)
def test_check_image_input_rejects(X, exc, fragment):
    with pytest.raises(exc, match=fragment):
        check_image_input(X)


def test_check_image_input_rejects_sparse():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse"):
        check_image_input(sparse.csr_matrix(np.eye(3)))


def test_check_image_input_accepts():
    paths = check_image_input([pathlib.Path("a.jpg"), "b.jpg"])
    assert paths.dtype == object and list(paths) == [os.fspath("a.jpg"), "b.jpg"]
    assert check_image_input(np.zeros((2, 4, 4), np.uint8)).shape == (2, 4, 4, 1)
    listed = check_image_input([np.zeros((4, 4, 3), np.uint8)] * 2)
    assert listed.shape == (2, 4, 4, 3) and listed.dtype == np.uint8
    assert check_image_input(np.full((1, 2, 2, 3), 7.5)).dtype == np.float64
    with pytest.warns(UserWarning, match="0..1"):
        check_image_input(np.full((1, 2, 2, 3), 0.5))


def test_helpers():
    assert not is_path_input([])
    assert not is_path_input(np.zeros((2, 4, 4, 3)))
    assert not is_path_input(["a.jpg", 3])
    assert num_samples(np.zeros((7, 2, 2, 3))) == 7
    assert num_samples(("a", "b")) == 2
    with pytest.raises(TypeError, match="wrap a path"):
        num_samples("a.jpg")


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"size": 0}, "positive"),
        ({"size": (2, 2, 2)}, "pair"),
        ({"size": True}, "pair"),
        ({"size": 4, "crop": "left"}, "crop"),
        ({"size": 4, "on_error": "ignore"}, "on_error"),
        ({"size": 4, "n_jobs": 0}, "n_jobs"),
    ],
)
def test_load_images_argument_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        load_images(np.zeros((1, 4, 4, 3), np.uint8), **kwargs)
