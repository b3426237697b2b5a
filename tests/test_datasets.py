import doctest
import os
import time

import numpy as np
import pytest
from PIL import Image
from threadpoolctl import threadpool_limits

import sktransfer.datasets as datasets_module
from sktransfer.datasets import load_image_folder, load_sample, write_sample_folder
from sktransfer.images import load_images

CLASSES = ["blurred_leaves", "dahlia", "temple", "trees"]


def _touch_image(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", (4, 4)).save(path)


def test_doctests():
    assert doctest.testmod(datasets_module).failed == 0


def test_load_image_folder_sorted_and_filtered(tmp_path):
    for rel in ["dog/b.jpg", "dog/A.PNG", "cat/z.jpeg", "cat/sub/a.png", "cat/m.webp"]:
        _touch_image(str(tmp_path / rel))
    (tmp_path / "cat" / "notes.txt").write_text("x")
    (tmp_path / "cat" / ".hidden.jpg").write_text("x")
    _touch_image(str(tmp_path / ".cache" / "x.jpg"))  # hidden folder: not a class
    _touch_image(str(tmp_path / "dog" / ".thumbs" / "x.jpg"))
    _touch_image(str(tmp_path / "loose.jpg"))  # not in a class folder
    with pytest.warns(UserWarning, match=r"Ignored 1 file.*notes.txt"):
        paths, labels, class_names = load_image_folder(tmp_path)
    assert class_names == ["cat", "dog"]
    rel = [os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in paths]
    assert rel == ["cat/m.webp", "cat/sub/a.png", "cat/z.jpeg", "dog/A.PNG", "dog/b.jpg"]
    assert labels.tolist() == ["cat"] * 3 + ["dog"] * 2
    assert paths.dtype == object and labels.dtype == object
    assert all(isinstance(p, str) for p in paths)
    *_, skipped = load_image_folder(str(tmp_path), return_skipped=True)
    assert [os.path.basename(p) for p in skipped] == ["notes.txt"]
    with pytest.warns(UserWarning, match="Ignored 4 file"):
        only_png = load_image_folder(tmp_path, extensions=("png",))
    assert len(only_png[0]) == 2


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_symlinked_folders_are_followed_once(tmp_path):
    """Regression: a symlinked folder inside a class folder was skipped without a
    word (os.walk does not follow links), although linked files were read."""
    elsewhere = tmp_path / "elsewhere"
    for rel in ["more/c.jpg", "more/d.jpg"]:
        _touch_image(str(elsewhere / rel))
    root = tmp_path / "data"
    _touch_image(str(root / "dog" / "a.jpg"))
    _touch_image(str(root / "cat" / "b.jpg"))
    os.symlink(elsewhere / "more", root / "dog" / "more")
    os.symlink(elsewhere / "more", root / "dog" / "again")  # the same folder twice: once
    os.symlink(root / "dog", root / "dog" / "loop")  # a link up the tree: no loop
    paths, labels, _ = load_image_folder(root)
    rel = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
    assert rel == ["cat/b.jpg", "dog/a.jpg", "dog/again/c.jpg", "dog/again/d.jpg"]
    assert labels.tolist() == ["cat", "dog", "dog", "dog"]


def test_load_image_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_image_folder(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        load_image_folder(tmp_path / "file.txt")
    with pytest.raises(ValueError, match=r"at least two class sub-folders \(found none\)"):
        load_image_folder(tmp_path)
    _touch_image(str(tmp_path / "cat" / "a.jpg"))
    with pytest.raises(ValueError, match=r"found only 'cat'"):
        load_image_folder(tmp_path)
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "readme.md").write_text("x")
    with pytest.raises(ValueError, match=r"Class folder .*dog.* holds no image file"):
        load_image_folder(tmp_path)
    with pytest.raises(ValueError, match="extensions"):
        load_image_folder(tmp_path, extensions=())


def test_load_sample_shape_reproducible_fast():
    start = time.perf_counter()
    data = load_sample()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0  # ~0.1 s; the margin absorbs busy CI machines
    assert data.images.shape == (200, 64, 64, 3) and data.images.dtype == np.uint8
    assert data.target_names == CLASSES
    assert data.target.tolist() == sorted(data.target.tolist())
    assert [np.sum(data.target == c) for c in CLASSES] == [50] * 4
    assert "dahlia" in data.DESCR
    X, y = load_sample(return_X_y=True)
    np.testing.assert_array_equal(X, data.images)
    np.testing.assert_array_equal(y, data.target)
    other = load_sample(random_state=1).images
    assert not np.array_equal(other, X)
    small = load_sample(size=24, n_per_class=3, random_state=np.random.RandomState(0))
    assert small.images.shape == (12, 24, 24, 3)


def test_load_sample_not_solved_by_colour_alone():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_sample(return_X_y=True)
    hist = np.concatenate(
        [np.stack([np.histogram(img[..., c], bins=16, range=(0, 256))[0] for img in X]) for c in range(3)],
        axis=1,
    )
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    with threadpool_limits(1):  # BLAS threads only add overhead on this tiny problem
        accuracy = cross_val_score(model, hist, y, cv=cv).mean()
    assert 0.35 < accuracy < 0.85  # above chance (0.25), far from solved
    gray = np.ptp(X.astype(int), axis=-1).max(axis=(1, 2)) <= 1
    assert 0.3 < gray.mean() < 0.7


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_load_sample_argument_errors(bad):
    with pytest.raises(ValueError, match="positive int"):
        load_sample(size=bad)
    with pytest.raises(ValueError, match="positive int"):
        load_sample(n_per_class=bad)


def test_write_sample_folder_round_trip(tmp_path):
    root = write_sample_folder(tmp_path / "sample", n_per_class=4, size=32)
    assert root == str(tmp_path / "sample")
    paths, labels, class_names = load_image_folder(root)
    assert class_names == CLASSES and len(paths) == 16
    X, y = load_sample(n_per_class=4, size=32, return_X_y=True)
    np.testing.assert_array_equal(labels, y)
    decoded = load_images(paths, 32)
    assert np.abs(decoded.astype(int) - X).mean() < 4  # JPEG quality 95

    with pytest.raises(ValueError, match="not empty.*overwrite=True"):
        write_sample_folder(root, n_per_class=2, size=32)
    keep = tmp_path / "sample" / "README.txt"
    keep.write_text("mine")
    write_sample_folder(root, n_per_class=2, size=32, overwrite=True)
    assert keep.read_text() == "mine"
    assert len(load_image_folder(root, return_skipped=True)[0]) == 8  # no stale files
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        write_sample_folder(tmp_path / "f")
