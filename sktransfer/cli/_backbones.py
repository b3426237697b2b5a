"""``sktransfer backbones``: what ``--backbone`` accepts, and what each one is."""

import json

from ._errors import UsageError
from ._support import import_tensorflow

__all__ = ["run_backbones"]


def _params(n):
    return "" if n is None else f"{n / 1e6:.1f}M"


def _blocks(blocks):
    if len(blocks) <= 6:
        return ", ".join(blocks)
    return f"{', '.join(blocks[:2])}, ... {', '.join(blocks[-3:])} ({len(blocks)})"


def run_backbones(args, out):
    """``sktransfer backbones [NAME]``: the table of backbones, or one in full."""
    import_tensorflow()
    from ..backbones import TIMM_TAGS, available_backbones, get_backbone_spec

    if args.name is None:
        rows = available_backbones(details=True)
        if args.json:
            print(json.dumps(rows, indent=2), file=out)
            return 0
        header = ("name", "source", "size", "params", "dim", "blocks (--trainable-layers)")
        lines = [header] + [
            (
                r["name"],
                r["source"],
                str(r["default_size"] or ""),
                _params(r["params"]),
                str(r["feature_dim"] or ""),
                _blocks(r["blocks"]),
            )
            for r in rows
        ]
        widths = [max(len(line[i]) for line in lines) for i in range(5)]
        for line in lines:
            print("  ".join(c.ljust(w) for c, w in zip(line, widths)) + "  " + line[5], file=out)
        print(
            "\nAny keras-hub preset name, hf://timm/<architecture>.<tag>, kaggle://... or local "
            'preset folder works too (pip install "sktransfer[hub]"); `sktransfer backbones '
            "NAME` loads one and lists its blocks.",
            file=out,
        )
        return 0
    try:
        spec = get_backbone_spec(args.name)
    except ValueError as exc:
        raise UsageError(f"argument NAME: {exc}") from None
    arch = spec.name.split("/")[-1].split(".")[0] if spec.name.startswith("hf://timm/") else None
    info = {
        "name": spec.name,
        "source": spec.source,
        "constructor": spec.constructor,
        "default_size": spec.default_size,
        "min_size": spec.min_size,
        "params": spec.params,
        "feature_dim": spec.feature_dim,
        "preprocessing": spec.preprocessing,
        "normalises_inside": spec.normalises_inside,
        "blocks": list(spec.blocks),
    }
    if spec.scale is not None:
        info.update(scale=list(spec.scale), offset=list(spec.offset))
    if arch in TIMM_TAGS:
        info["other_timm_tags"] = [f"hf://timm/{arch}.{t}" for t in TIMM_TAGS[arch]]
    if args.json:
        print(json.dumps(info, indent=2), file=out)
    else:
        for key, value in info.items():
            text = ", ".join(map(str, value)) if isinstance(value, list) else value
            print(f"{key}: {text}", file=out)
    return 0
