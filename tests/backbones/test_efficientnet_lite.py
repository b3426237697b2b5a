"""Tests of the offline EfficientNet-Lite0 port (sktransfer.backbones.efficientnet_lite)."""

import os
import pickle
import re
import struct
import sys
import types
import warnings

import keras  # after sktransfer, which quiets TensorFlow's start-up log
import numpy as np
import pytest

from sktransfer.backbones import efficientnet_lite as lite
from sktransfer.backbones.efficientnet_lite import (
    EfficientNetLite0,
    imagenet_weights_path,
    preprocess_input,
    read_legacy_torch_state_dict,
)

# ImageNet classes a correct port gives the scikit-learn sample photos (checked
# against the original model run by PyTorch): china.jpg shows a temple by a lake.
CHINA_CLASSES = {442, 449, 483, 497, 663, 698, 832, 975}  # bell cote, boathouse, castle,
# church, monastery, palace, stupa, lakeside
DAISY = 985


@pytest.fixture(scope="module", autouse=True)
def keras_home(tmp_path_factory):
    """Keep the converted-weights cache of these tests out of ~/.keras."""
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("keras_home")
        mp.setenv("KERAS_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def state_dict():
    return read_legacy_torch_state_dict(lite._source_path())


@pytest.fixture(scope="module")
def imagenet_model():
    return EfficientNetLite0(include_top=True, weights="imagenet")


@pytest.fixture(scope="module")
def sample_photos():
    from PIL import Image
    from sklearn.datasets import load_sample_images

    data = load_sample_images()
    names = [os.path.basename(f) for f in data.filenames]
    photos = [np.asarray(Image.fromarray(img).resize((224, 224), Image.BILINEAR)) for img in data.images]
    return dict(zip(names, photos))


# ------------------------------------------------------------- legacy file writer
def _write_legacy(path, tensors, state_pickle=None):
    """Write a legacy torch save of ``{name: (storage_key, offset, size, stride)}``.

    Fake ``torch`` modules let the standard pickler emit the same globals
    (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``) as torch does.
    """
    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    fake_torch.FloatStorage, fake_utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    fake_torch._utils = fake_utils

    class StorageId:
        def __init__(self, key, numel, view=None):
            self.key, self.numel, self.view = key, numel, view

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, StorageId):
                return ("storage", FloatStorage, obj.key, "cpu", obj.numel, obj.view)
            return None

    class Tensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, {})

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    every = {"0": np.arange(12, dtype="<f4"), "1": np.arange(100, 105, dtype="<f4")}
    storages = {key: every[key] for key, *_ in tensors.values()}
    # Fake torch only while pickling: other libraries (scipy) probe sys.modules["torch"].
    with open(path, "wb") as file, pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "torch", fake_torch)
        mp.setitem(sys.modules, "torch._utils", fake_utils)
        for header in (lite._TORCH_MAGIC, lite._TORCH_PROTOCOL, {"little_endian": True}):
            pickle.dump(header, file, protocol=2)
        if state_pickle is None:
            state = {
                name: Tensor(StorageId(key, storages[key].size, view), *rest)
                for name, (key, view, *rest) in tensors.items()
            }
            Pickler(file, protocol=2).dump(state)
        else:
            file.write(state_pickle)
        pickle.dump(list(storages), file, protocol=2)
        for data in storages.values():
            file.write(struct.pack("<q", data.size) + data.tobytes())


def test_reader_handles_strides_offsets_and_views(tmp_path):
    path = tmp_path / "tiny.pth"
    _write_legacy(
        path,
        {
            "transposed": ("0", None, 1, (2, 3), (1, 2)),  # non-contiguous, storage offset 1
            "contiguous": ("0", None, 6, (3, 2), (2, 1)),
            "view": ("0", ("0v", 4, 8), 2, (2, 2), (2, 1)),  # storage view starting at 4
            "scalar": ("1", None, 3, (), ()),
        },
    )
    got = read_legacy_torch_state_dict(path)
    flat = np.arange(12, dtype=np.float32)
    np.testing.assert_array_equal(got["transposed"], flat[1:7].reshape(3, 2).T)
    np.testing.assert_array_equal(got["contiguous"], flat[6:12].reshape(3, 2))
    np.testing.assert_array_equal(got["view"], flat[6:10].reshape(2, 2))
    assert got["scalar"].shape == () and got["scalar"] == 103
    assert list(got) == ["transposed", "contiguous", "view", "scalar"]


def test_reader_rejects_views_past_the_storage(tmp_path):
    path = tmp_path / "oob.pth"
    _write_legacy(path, {"w": ("0", None, 5, (2, 4), (4, 1))})
    with pytest.raises(ValueError, match="past the end"):
        read_legacy_torch_state_dict(path)


def test_reader_refuses_arbitrary_globals(tmp_path):
    marker = tmp_path / "pwned"
    # GLOBAL 'os system', ('touch <marker>',), REDUCE: runs a shell command if unpickled.
    command = f"touch {marker}".encode()
    payload = b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(command)) + command + b"\x85R."
    path = tmp_path / "evil.pth"
    _write_legacy(path, {}, state_pickle=payload)
    with pytest.raises(pickle.UnpicklingError, match=r"os\.system"):
        read_legacy_torch_state_dict(path)
    assert not marker.exists()


@pytest.mark.parametrize("keep", [0, 30, 200, 20_000, 47_000, 18_000_000])
def test_truncated_file_raises_value_error_naming_it(tmp_path, keep):
    path = tmp_path / "truncated.pth"
    with open(lite._source_path(), "rb") as src:
        path.write_bytes(src.read(keep))
    with pytest.raises(ValueError, match="truncated.pth"):
        read_legacy_torch_state_dict(path)


def test_state_dict_contents(state_dict):
    assert len(state_dict) == 296
    assert sum(v.size for v in state_dict.values()) == 4_694_073
    assert state_dict["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state_dict["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert state_dict["_fc.weight"].shape == (1000, 1280)
    assert all(state_dict[k].dtype == np.float32 for k in state_dict if "tracked" not in k)
    assert all(v.flags.c_contiguous for v in state_dict.values())


# ------------------------------------------------------------------- the network
def test_imagenet_head_recognises_sample_photos(imagenet_model, sample_photos):
    x = preprocess_input(np.stack([sample_photos["china.jpg"], sample_photos["flower.jpg"]]))
    china, flower = imagenet_model.predict(x, verbose=0)
    assert china.argmax() in CHINA_CLASSES
    assert flower.argmax() == DAISY and flower[DAISY] > 0.1
    np.testing.assert_allclose(china.sum(), 1.0, rtol=1e-5)

    keras.utils.set_random_seed(0)  # the check must fail for an unconverted network
    random = EfficientNetLite0(include_top=True, weights=None).predict(x, verbose=0)
    assert not (random[0].argmax() in CHINA_CLASSES and random[1].argmax() == DAISY)


def test_converted_weights_follow_torch_layout(imagenet_model, state_dict):
    stem = imagenet_model.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, state_dict["_conv_stem.weight"].transpose(2, 3, 1, 0))
    dw = imagenet_model.get_layer("block7a_dwconv").get_weights()[0]
    np.testing.assert_array_equal(dw, state_dict["_blocks.15._depthwise_conv.weight"].transpose(2, 3, 0, 1))
    gamma, beta, mean, var = imagenet_model.get_layer("top_bn").get_weights()
    np.testing.assert_array_equal(var, state_dict["_bn1.running_var"])
    assert imagenet_model.count_params() == 4_694_073 - 49  # no num_batches_tracked


def test_layer_names_follow_keras_efficientnet(imagenet_model):
    names = [layer.name for layer in imagenet_model.layers[1:]]
    for expected in [
        "stem_conv",
        "stem_bn",
        "stem_activation",
        "block1a_dwconv",
        "block1a_project_bn",
        "block2a_expand_activation",
        "block2b_add",
        "block7a_project_conv",
        "top_conv",
        "top_bn",
        "top_activation",
        "avg_pool",
        "predictions",
    ]:
        assert expected in names
    pattern = r"^(stem_|block[1-7][a-g]_|top_|avg_pool$|predictions$)"
    assert all(re.match(pattern, n) for n in names)


def test_no_top_at_64_pixels_gives_1280_features(state_dict):
    # A user layer in front: ImageNet weights are matched by layer name, not order.
    inputs = keras.Input((64, 64, 3))
    user = keras.layers.Conv2D(3, 1, name="user_conv")
    model = EfficientNetLite0(input_tensor=user(inputs), pooling="avg")
    features = model.predict(preprocess_input(np.full((2, 64, 64, 3), 90, np.uint8)), verbose=0)
    assert features.shape == (2, 1280) and np.isfinite(features).all()
    np.testing.assert_array_equal(
        model.get_layer("top_conv").get_weights()[0][0, 0], state_dict["_conv_head.weight"][:, :, 0, 0].T
    )
    assert model.get_layer("user_conv").get_weights()[0].shape == (1, 1, 3, 3)
    assert EfficientNetLite0(weights=None, pooling="max").output.shape == (None, 1280)
    assert EfficientNetLite0(weights=None, input_shape=(96, 96, 3)).output.shape == (None, 3, 3, 1280)


def test_input_tensor_and_argument_errors(tmp_path):
    inputs = keras.Input((32, 32, 3))
    model = EfficientNetLite0(weights=None, input_tensor=inputs)
    assert model.inputs[0] is inputs and model.output.shape == (None, 1, 1, 1280)
    with pytest.raises(ValueError, match="classes must be 1000"):
        EfficientNetLite0(include_top=True, classes=10)
    with pytest.raises(ValueError, match=r"\(224, 224, 3\)"):
        EfficientNetLite0(include_top=True, input_shape=(160, 160, 3))
    with pytest.raises(ValueError, match="at least 32x32"):
        EfficientNetLite0(weights=None, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match="pooling"):
        EfficientNetLite0(weights=None, pooling="mean")
    missing = str(tmp_path / "nope.weights.h5")
    with pytest.raises(ValueError, match="nope.weights.h5"):
        EfficientNetLite0(weights=missing)
    other = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    wrong = str(tmp_path / "other.weights.h5")
    other.save_weights(wrong)
    with pytest.raises(ValueError, match="other.weights.h5"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns once per layer it cannot fill
        EfficientNetLite0(weights=wrong, input_shape=(32, 32, 3))


def test_preprocess_input_numpy_and_tensor():
    x = np.array([[0, 127, 255]], dtype=np.uint8)
    np.testing.assert_allclose(preprocess_input(x), [[-127 / 128, 0.0, 1.0]])
    assert preprocess_input(x).dtype == np.float32
    floats = np.array([127.0, 255.0])
    out = preprocess_input(floats)
    assert out is not floats and floats[0] == 127.0  # input not modified
    tensor = preprocess_input(keras.ops.convert_to_tensor(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), [[-127 / 128, 0.0, 1.0]])
    symbolic = preprocess_input(keras.Input((8, 8, 3)))
    assert symbolic.shape == (None, 8, 8, 3)


# ------------------------------------------------------------------------- cache
def test_cache_is_reused_and_rebuilt_when_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    calls = []
    original = lite._converted_model
    monkeypatch.setattr(lite, "_converted_model", lambda: calls.append(1) or original())

    path = imagenet_weights_path()
    assert os.path.dirname(path) == str(tmp_path / "models") and len(calls) == 1
    assert path.endswith(".weights.h5") and os.path.isfile(path + ".sha256")
    mtime = os.stat(path).st_mtime_ns
    assert imagenet_weights_path() == path and len(calls) == 1
    assert os.stat(path).st_mtime_ns == mtime
    by_name = path[: -len(".weights.h5")] + ".by_name.npz"
    assert sorted(os.listdir(tmp_path / "models")) == sorted(
        [os.path.basename(path), os.path.basename(path) + ".sha256", os.path.basename(by_name)]
    )  # no temp files left

    # A new process reads the weights by layer name, without building the 224-px model to
    # load the .weights.h5 into; the copy equals the .weights.h5 loaded into that model.
    full = EfficientNetLite0(include_top=True, weights=None)
    full.load_weights(path)
    expected = {layer.name: layer.get_weights() for layer in full.layers if layer.weights}
    loads = []
    real_load = keras.Model.load_weights
    monkeypatch.setattr(keras.Model, "load_weights", lambda *a, **k: loads.append(1) or real_load(*a, **k))
    weights = lite._imagenet_weights_by_name()
    assert loads == [] and weights.keys() == expected.keys()
    for name, values in expected.items():
        assert len(weights[name]) == len(values)
        for a, b in zip(weights[name], values):
            np.testing.assert_array_equal(a, b)
    with open(by_name, "r+b") as file:  # a damaged copy is remade from the .weights.h5
        file.truncate(os.path.getsize(by_name) // 2)
    np.testing.assert_array_equal(lite._imagenet_weights_by_name()["top_conv"][0], expected["top_conv"][0])
    assert loads == [1]
    assert lite.read_by_name(path, open(path + ".sha256").read().strip()) is not None
    loads.clear()
    monkeypatch.setattr(keras.Model, "load_weights", real_load)

    with open(path, "r+b") as file:  # flip bytes in the middle of the weights
        file.seek(os.path.getsize(path) // 2)
        file.write(b"\xff" * 64)
    assert imagenet_weights_path() == path and len(calls) == 2
    model = EfficientNetLite0(include_top=True, weights=path)  # a Keras-loadable file
    assert model.get_layer("predictions").get_weights()[0].shape == (1280, 1000)


def test_unwritable_cache_converts_in_memory(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    monkeypatch.setenv("KERAS_HOME", str(blocker))
    with pytest.raises(OSError):
        imagenet_weights_path()
    with pytest.warns(UserWarning, match="converting in memory"):
        model = EfficientNetLite0(input_shape=(32, 32, 3), pooling="avg")
    assert model.output.shape == (None, 1280)
