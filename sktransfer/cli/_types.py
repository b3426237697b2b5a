"""The command line's option types: each checks and converts one option value at
parse time, without TensorFlow, raising ``argparse.ArgumentTypeError``."""

import argparse
import contextlib
import os

_AUGMENT_KEYS = ("flip", "rotation", "shift", "zoom", "shear", "contrast", "brightness", "n_views")


def _number(kind, test, expected):
    def parse(text):
        with contextlib.suppress(ValueError):
            value = kind(text)
            if test(value):
                return value
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: v > 0, "a positive number")
_fraction = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
_count = _number(int, lambda v: v >= 0, "an integer >= 0")
_seed = _number(int, lambda v: 0 <= v < 2**32, "an integer in [0, 2**32)")
_folds = _number(int, lambda v: v >= 2, "an integer >= 2 (folds)")


def _npy_path(text):
    """A path ending in .npy: the features are written in NumPy's format."""
    if not text.lower().endswith(".npy"):
        raise argparse.ArgumentTypeError(
            f"expected a file name ending in .npy (the features are a NumPy array), got {text!r}"
        )
    return text


def _per_class_count(text):
    """'5' -> 5 images per class; '0.2' -> 20 % of each class."""
    kind = float if "." in text or "e" in text.lower() else int
    test = (lambda v: 0 < v < 1) if kind is float else (lambda v: v >= 1)
    return _number(kind, test, "images per class (an int >= 1) or a fraction in (0, 1)")(text)


def _trainable(text):
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text:
        raise argparse.ArgumentTypeError("expected 0, a number of layers, 'all' or a block name")
    return text.lower() if text.lower() == "all" else text


def _weights(text):
    if text.lower() in ("none", "random"):
        return None
    if text.lower() == "imagenet":
        return "imagenet"
    if not os.path.isfile(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not 'imagenet', 'none' or an existing weights file; check the path"
        )
    return text


def _weights_list(text):
    return [_weights(part.strip()) for part in text.split(",")]


def _names(text):
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return names


def _head(text):
    if text.strip().lower() in ("", "none", "()"):
        return ()
    try:
        units = tuple(int(u) for u in text.split(","))
    except ValueError:
        units = (0,)
    if any(u < 1 for u in units):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 64,32 (or 'none'), got {text!r}"
        )
    return units


def _augmentation(text):
    """'flip,rotation=0.1,zoom=0.1' -> Augmentation; only what is listed is switched on."""
    if text.strip().lower() in ("", "none"):
        return None
    kwargs = {"flip": None}
    for item in text.split(","):
        key, sep, value = (part.strip() for part in item.partition("="))
        if key not in _AUGMENT_KEYS:
            raise argparse.ArgumentTypeError(
                f"unknown transformation {key!r} in {text!r}; use {', '.join(_AUGMENT_KEYS)} "
                "as in flip,rotation=0.1,zoom=0.1"
            )
        if key == "flip":
            kwargs[key] = value or "horizontal"
            continue
        kind, example = (int, 4) if key == "n_views" else (float, 0.1)
        try:
            kwargs[key] = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{key} needs a number, as in {key}={example}, got {item.strip()!r}"
            ) from None
    from ..estimators import Augmentation

    augmentation = Augmentation(**kwargs)
    try:
        augmentation.is_active()  # validates the values
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return augmentation


def _split_top_level(text):
    """Split at commas outside brackets: '[64,32],[]' -> ['[64,32]', '[]']."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        if depth < 0:
            raise ValueError("unbalanced brackets")
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError("unbalanced brackets")
    return parts + [text[start:]]


def _parse_value(text):
    """A grid value: int, float, None, bool, a [tuple] or a string ('all', 'adam', 'conv5')."""
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    if text[0] in "[(":
        if text[-1] not in "])":
            raise ValueError(f"unbalanced brackets in {text!r}")
        inner = text[1:-1].strip()
        return tuple(_parse_value(v) for v in _split_top_level(inner)) if inner else ()
    lowered = text.lower()
    if lowered == "none":
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _grid_param(text):
    """'trainable_layers=0,2,all' -> ('trainable_layers', [0, 2, 'all'])."""
    name, sep, values = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(
            f"expected NAME=V1,V2,... such as trainable_layers=0,2,4, got {text!r}"
        )
    try:
        parsed = [_parse_value(v) for v in _split_top_level(values)]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {exc}; write values as V1,V2 and tuples as [64,32]"
        ) from None
    return name, parsed


# -- the parser -------------------------------------------------------------------
