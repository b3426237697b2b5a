"""backbone_info_: one dataclass inside the package, the 0.1.0 dicts outside it."""

import json
import pathlib

from sktransfer._engine.backbone_info import NOT_RECORDED, BackboneInfo

LEGACY = pathlib.Path(__file__).parent.parent / "fixtures" / "legacy_0_1_0"


def _legacy_info(path):
    """The backbone_info_ dict a 0.1.0 save wrote, its tagged tuples decoded by hand."""

    def decode(value):
        if isinstance(value, dict) and value.get("__type__") == "tuple":
            return tuple(decode(v) for v in value["items"])
        return value

    def find(node):
        if isinstance(node, dict):
            if "backbone_info_" in node:
                return node["backbone_info_"]
            node = list(node.values())
        if isinstance(node, list):
            for child in node:
                if (found := find(child)) is not None:
                    return found
        return None

    return {k: decode(v) for k, v in find(json.loads((LEGACY / path).read_text())).items()}


def test_legacy_dicts_read_back_unchanged():
    for path in ["finetuned/estimator.json", "scratch_pipeline/part-0/estimator.json"]:
        legacy = _legacy_info(path)
        info = BackboneInfo.from_dict(legacy)
        assert info.input_size == (32, 32) and info.backbone == legacy["backbone"]
        assert {k: getattr(info, k) for k in legacy} == legacy
        assert info.n_imagenet_classes is None  # not recorded then: reads as None


def test_to_dict_leaves_out_what_is_not_recorded_and_keeps_none():
    info = BackboneInfo(backbone=None, cut_layer=None, input_size=(8, 8))
    assert info.weights is NOT_RECORDED
    assert info.to_dict() == {"backbone": None, "input_size": (8, 8), "cut_layer": None}
    info.training_input = "images"
    assert info.to_dict()["training_input"] == "images"


def test_of_reads_a_dict_and_passes_a_dataclass_through():
    info = BackboneInfo(backbone="b", input_size=(8, 8))
    assert BackboneInfo.of(info) is info
    # An embedder saved before pooling was recorded; a newer save's unknown key is ignored.
    read = BackboneInfo.of({"backbone": "b", "input_size": (8, 8), "identity": None, "later_key": 1})
    assert read.pooling is None and read.identity is None and read.input_size == (8, 8)
