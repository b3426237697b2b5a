"""Tests of trainable-layer resolution and the frozen/trainable split (sktransfer._engine.cut)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from sktransfer._engine.cut import cut_points, resolve_trainable, split_at
from sktransfer.backbones import build_backbone

# backbone -> (input size, a block name in the upper half of the network)
CASES = {
    "resnet50v2": (32, "conv5"),
    "mobilenetv2": (32, "block16"),
    "densenet121": (32, "conv5"),
    "efficientnetb0": (32, "block7"),
}
REQUESTS = [0, 1, 5, "all", "block"]


_BUILT = {}


@pytest.fixture(scope="module", autouse=True)
def _free_models():
    yield
    _BUILT.clear()
    keras.backend.clear_session()


def _build(name):
    """(model, spec, block, batch, reference output), built once per backbone per session."""
    if name not in _BUILT:
        size, block = CASES[name]
        model, spec = build_backbone(name, weights=None, input_size=size)
        x = np.random.default_rng(0).uniform(-1.0, 1.0, (2, size, size, 3)).astype("float32")
        expected = np.asarray(model(x, training=False))
        _BUILT[name] = (model, spec, block, x, expected)
    return _BUILT[name]


@pytest.fixture(scope="module", params=list(CASES))
def backbone(request):
    return _build(request.param)


def _weighted(model):
    """Layers that own (possibly frozen) trainable weights, in model order."""
    out = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        saved = layer.trainable
        layer.trainable = True
        if layer.trainable_weights:
            out.append(layer)
        layer.trainable = saved
    return out


def _compose(bottom, top, x):
    out = x
    if bottom is not None:
        out = bottom(out, training=False)
    if top is not None:
        out = top(out, training=False)
    return np.asarray(out)


def _assert_close(got, expected):
    scale = max(float(np.abs(expected).max()), 1e-30)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=max(1e-5 * scale, 1e-30))


@pytest.mark.filterwarnings("ignore:trainable_layers=1 .* only normalisation:UserWarning")
@pytest.mark.parametrize("request_", REQUESTS)
def test_split_composes_and_freezes(backbone, request_):
    model, spec, block, x, expected = backbone
    trainable_layers = block if request_ == "block" else request_
    weighted = _weighted(model)

    trainable = resolve_trainable(model, spec, trainable_layers)
    ids = {id(layer) for layer in trainable}

    # How many layers train.
    if isinstance(trainable_layers, int):
        assert len(trainable) == trainable_layers
        assert [id(layer) for layer in trainable] == [id(layer) for layer in weighted][
            len(weighted) - trainable_layers :
        ]
    elif trainable_layers == "all":
        assert len(trainable) == len(weighted)
    else:
        assert 0 < len(trainable) < len(weighted)
        first = min(model.layers.index(layer) for layer in trainable)
        assert model.layers[first].name.startswith(
            {
                "resnet50v2": "conv5_",
                "densenet121": "conv5_",
                "mobilenetv2": "block_16_",
                "efficientnetb0": "block7",
            }[spec.name]
        )
        # Every weighted layer from the block start upwards trains.
        assert [id(layer) for layer in weighted if model.layers.index(layer) >= first] == [
            id(layer) for layer in trainable
        ]
    n_training = sum(1 for layer in model.layers if layer.trainable and layer.trainable_weights)
    assert n_training == len(trainable)
    assert len(model.trainable_weights) == sum(len(layer.trainable_weights) for layer in trainable)

    # Everything else is frozen.
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if id(layer) not in ids:
            assert layer.trainable is False, layer.name
            assert not layer.trainable_weights, layer.name
        else:
            assert layer.trainable is True, layer.name

    bottom, top, cut_name = split_at(model, trainable)
    assert bottom is not None or top is not None
    if not trainable:
        # Nothing trains: the whole model is the (cacheable) frozen part.
        assert top is None and bottom is model
        assert cut_name == model.layers[-1].name
        return  # bottom(x) is model(x)
    assert top is not None
    top_ids = {id(layer) for layer in top.layers}
    assert ids <= top_ids, "every trainable layer must be above the cut"
    if bottom is None:
        assert cut_name == "input"
        assert top is model
        return  # top(x) is model(x)
    _assert_close(_compose(bottom, top, x), expected)
    # The cut tensor lies below every trainable layer: the bottom holds none of
    # them, is entirely frozen, and ends at the named layer's output.
    assert not ids & {id(layer) for layer in bottom.layers}
    assert not bottom.trainable_weights
    assert bottom.output.shape == model.get_layer(cut_name).output.shape
    assert bottom.layers[-1].name == cut_name
    cut_index = model.layers.index(model.get_layer(cut_name))
    assert all(model.layers.index(layer) > cut_index for layer in trainable)
    # The bottom does real (weighted) work, otherwise there would be no cut.
    assert any(layer.weights for layer in bottom.layers)


def test_out_of_range_and_invalid_requests(backbone):
    model, spec, _, _, _ = backbone
    n = len(_weighted(model))
    for bad in (n + 1, 10**6, -1):
        with pytest.raises(ValueError, match=spec.name) as info:
            resolve_trainable(model, spec, bad)
        assert str(n) in str(info.value)
        assert next(iter(spec.blocks)) in str(info.value)
    for bad in (True, False):
        with pytest.raises(ValueError, match="trainable_layers"):
            resolve_trainable(model, spec, bad)
    with pytest.raises(ValueError, match="trainable_layers") as info:
        resolve_trainable(model, spec, 2.5)
    with pytest.raises(ValueError) as info:
        resolve_trainable(model, spec, "no_such_block")
    message = str(info.value)
    assert "no_such_block" in message and spec.name in message
    assert all(block in message for block in spec.blocks)
    # The upper bound itself is valid.
    assert len(resolve_trainable(model, spec, n)) == n


def test_exact_layer_name_is_accepted(backbone):
    model, spec, _, _, _ = backbone
    last_weighted = _weighted(model)[-1]
    assert resolve_trainable(model, spec, last_weighted.name) == [last_weighted]


def test_cut_points_start_at_input_and_end_at_output(backbone):
    model, _, _, _, _ = backbone
    points, nodes = cut_points(model)
    assert points[0][0] == -1 and points[0][2] is None
    assert points[-1][1] is model.outputs[0]
    positions = [p[0] for p in points]
    assert positions == sorted(positions)
    assert len(nodes) >= len(model.layers)


@pytest.fixture
def resnet50v2():
    model, spec, _, _, _ = _build("resnet50v2")
    return model, spec


def test_resnet50v2_one_layer_trains_post_bn(resnet50v2):
    model, spec = resnet50v2
    trainable = resolve_trainable(model, spec, 1)
    assert [layer.name for layer in trainable] == ["post_bn"]
    bottom, top, cut_name = split_at(model, trainable)
    assert cut_name == "conv5_block3_out"
    assert bottom.layers[-1].name == "conv5_block3_out"
    assert {layer.name for layer in top.layers if layer.weights} == {"post_bn"}


def test_resnet50v2_conv5_cuts_below_conv5_block1(resnet50v2):
    model, spec = resnet50v2
    trainable = resolve_trainable(model, spec, "conv5")
    assert trainable[0].name.startswith("conv5_block1_")
    bottom, top, cut_name = split_at(model, trainable)
    assert cut_name == "conv4_block6_out"
    assert not any(layer.name.startswith("conv5_") for layer in bottom.layers)
    top_names = {layer.name for layer in top.layers}
    assert {"conv5_block1_preact_bn", "conv5_block1_1_conv", "post_bn"} <= top_names
    assert not any(name.startswith("conv4_") for name in top_names if name != cut_name)
