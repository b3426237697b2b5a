"""``sktransfer backbones``: the list of backbones, one backbone in full, unknown names."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

from sktransfer.cli import main


def test_backbones_lists_every_registered_name(capsys):
    from sktransfer.backbones import BACKBONES

    assert main(["backbones"]) == 0
    out = capsys.readouterr().out
    for name, spec in BACKBONES.items():
        line = next(row for row in out.splitlines() if row.split()[:1] == [name])
        assert spec.source.split()[0] in line and str(spec.default_size) in line
        assert f"{spec.params / 1e6:.1f}M" in line and str(spec.feature_dim) in line
    assert "conv1, conv2, conv3, conv4, conv5" in out  # the ResNets' blocks


def test_backbones_json_has_the_details(capsys):
    assert main(["backbones", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["inceptionv3"]["default_size"] == 299
    assert rows["inceptionv3"]["blocks"][-1] == "mixed10"
    assert rows["efficientnetv2s"]["normalises_inside"] is True
    if "keras_hub" in {m.split(".")[0] for m in __import__("sys").modules} or _has_hub():
        assert "hf://timm/resnet50.tv2_in1k" in rows and "resnet_18_imagenet" in rows


def _has_hub():
    import importlib.util

    return importlib.util.find_spec("keras_hub") is not None


def test_backbones_name_in_full(capsys):
    assert main(["backbones", "MobileNetV2"]) == 0
    out = capsys.readouterr().out
    assert "feature_dim: 1280" in out and "blocks: stem, block0, block1" in out


def test_backbones_timm_folder(tmp_path, capsys):
    pytest.importorskip("keras_hub")
    from hub_checkpoints import write_timm_resnet18

    folder = write_timm_resnet18(tmp_path / "resnet18.a1_in1k")
    assert main(["backbones", folder, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == "keras-hub" and info["feature_dim"] == 512
    assert info["blocks"][-4:] == ["stack0", "stack1", "stack2", "stack3"]


def test_backbones_unknown_name_is_a_usage_error(capsys):
    assert main(["backbones", "resnet50v3"]) == 2
    err = capsys.readouterr().err
    assert "Closest:" in err and "resnet50v2" in err


def test_fit_on_a_timm_folder_and_one_of_its_stages(tmp_path, capsys):
    """--backbone takes a checkpoint folder, --trainable-layers its stage names (stack0..3)."""
    pytest.importorskip("keras_hub")
    import numpy as np
    from hub_checkpoints import write_timm_resnet18
    from PIL import Image

    import sktransfer

    folder = write_timm_resnet18(tmp_path / "resnet18.a1_in1k")
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        os.makedirs(tmp_path / "images" / label)
        for j in range(4):
            pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{j}.png")
    out = tmp_path / "fit"
    code = main(
        [
            "-q",
            "fit",
            str(tmp_path / "images"),
            "--backbone",
            folder,
            "--input-size",
            "32",
            "--epochs",
            "1",
            "--head-epochs",
            "0",
            "--trainable-layers",
            "stack3",
            "--test-per-class",
            "1",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    model = sktransfer.load(out / "model")
    assert model.backbone == folder and model.trainable_layers == "stack3"
    assert model.backbone_info_["feature_dim"] == 512
