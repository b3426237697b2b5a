"""Saving scikit-learn objects that hold sktransfer estimators: a Pipeline, a calibrated or searched model.

A save of such an object is a folder::

    my_pipeline/
      estimator.json     {"format": "sktransfer-composite", "format_version",
                          "skops": {"file", "sha256"}, "parts": [{"directory",
                          "sha256"}, ...], "versions"}
      composite.skops    the scikit-learn object, every sktransfer estimator in it
                         replaced by a :class:`SavedPart` placeholder
      part-0/ part-1/    one ordinary sktransfer save per sktransfer estimator
                         (estimator.json + .keras files)

The scikit-learn part is written with ``skops.io``, scikit-learn's secure
format: loading it creates only the types on a trust list (skops' own list of
scikit-learn estimators and NumPy / SciPy types, plus :data:`TRUSTED`, plus
what the caller passes as ``trusted=``) and executes nothing else; a file that
names another type is refused before anything is built. The sktransfer parts
load as :func:`sktransfer.load` loads any save (JSON + Keras' safe mode).
"""

import copy
import io
import json
import pathlib
import zipfile

import numpy as np

from ._codec import LEGACY_MODULES

__all__ = ["COMPOSITE_FORMAT", "TRUSTED", "SavedPart", "join", "split", "trusted_types"]

COMPOSITE_FORMAT = "sktransfer-composite"
COMPOSITE_VERSION = 1
SKOPS_FILE = "composite.skops"

#: Plain-data types skops does not trust by default: the placeholder, scikit-learn's
#: calibration helpers and a search's splitters and default scorer, sktransfer's splitters.
TRUSTED = (
    "sktransfer.persistence.SavedPart",
    "sktransfer.model_selection.FirstNPerClassSplit",
    "sktransfer.model_selection.PerClassSplit",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._scorer._PassthroughScorer",
    "sklearn.model_selection._split.KFold",
    "sklearn.model_selection._split.RepeatedStratifiedKFold",
    "sklearn.model_selection._split.ShuffleSplit",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.model_selection._split.StratifiedShuffleSplit",
)


class SavedPart:
    """Stands for the sktransfer estimator saved in ``part-<index>/``."""

    def __init__(self, index):
        self.index = index

    def __repr__(self):
        return f"SavedPart({self.index})"


# skops records a type's __module__: the public path, which sktransfer.persistence serves.
SavedPart.__module__ = "sktransfer.persistence"


def read_skops(path):
    """The bytes of a skops file, with the module names of earlier releases
    (``LEGACY_MODULES``) replaced by today's, for ``skops.io.loads``."""
    with zipfile.ZipFile(path) as archive:
        schema = json.loads(archive.read("schema.json"))
        if not _rename_legacy(schema):
            return pathlib.Path(path).read_bytes()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as out:
            for item in archive.infolist():
                data = json.dumps(schema) if item.filename == "schema.json" else archive.read(item)
                out.writestr(item, data)
    return buffer.getvalue()


def _rename_legacy(node):
    changed = False
    if isinstance(node, dict):
        if node.get("__module__") in LEGACY_MODULES:
            node["__module__"] = LEGACY_MODULES[node["__module__"]]
            changed = True
        for value in node.values():
            changed = _rename_legacy(value) or changed
    elif isinstance(node, list):
        for value in node:
            changed = _rename_legacy(value) or changed
    return changed


def _children(obj):
    if isinstance(obj, dict):
        return list(obj.values()) + list(obj)
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, np.ndarray):
        return list(obj.ravel()) if obj.dtype == object else []
    if isinstance(obj, (str, bytes, int, float, complex, bool, type(None), np.generic, type)):
        return []
    state = getattr(obj, "__dict__", None)
    return list(state.values()) if isinstance(state, dict) else []


def split(obj, is_part):
    """``obj`` with every sktransfer estimator replaced by a placeholder, and those estimators.

    Parameters
    ----------
    obj : object
        A scikit-learn object (Pipeline, CalibratedClassifierCV, search...).
    is_part : callable
        True for an object that is saved on its own (an sktransfer estimator).

    Returns
    -------
    skeleton : object
        A deep copy of `obj` holding :class:`SavedPart` placeholders.
    parts : list
        The estimators, ``parts[i]`` standing behind ``SavedPart(i)``; each
        appears once however often it is referenced.
    """
    parts, seen, stack = [], set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if is_part(item):
            parts.append(item)
        else:
            stack.extend(reversed(_children(item)))
    memo = {id(part): SavedPart(i) for i, part in enumerate(parts)}
    return copy.deepcopy(obj, memo), parts


def join(skeleton, parts):
    """The object :func:`split` took apart: each placeholder replaced by its part."""
    placeholders, seen, stack = [], set(), [skeleton]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if type(item) is SavedPart:
            placeholders.append(item)
        else:
            stack.extend(_children(item))
    memo = {}
    for placeholder in placeholders:
        index = placeholder.index
        if type(index) is not int or not 0 <= index < len(parts):
            raise ValueError(f"{SKOPS_FILE} refers to part {index!r}; the save has {len(parts)} part(s).")
        memo[id(placeholder)] = parts[index]
    return copy.deepcopy(skeleton, memo)


def trusted_types(extra=()):
    """Every type name a composite load may create: skops' defaults, :data:`TRUSTED`, `extra`."""
    from skops.io import _trusted_types  # private, but where skops keeps its default trust list

    defaults = [getattr(_trusted_types, name) for name in dir(_trusted_types) if name.endswith("_TYPE_NAMES")]
    if isinstance(extra, str):
        extra = [extra]
    return sorted(set().union(*defaults, TRUSTED, (str(name) for name in extra)))


def document(skops_sha256, part_digests, versions):
    """The top ``estimator.json`` of a composite save."""
    return {
        "format": COMPOSITE_FORMAT,
        "format_version": COMPOSITE_VERSION,
        "skops": {"file": SKOPS_FILE, "sha256": skops_sha256},
        "parts": [{"directory": f"part-{i}", "sha256": digest} for i, digest in enumerate(part_digests)],
        "versions": versions,
    }


def check_document(doc):
    """Raise ValueError unless ``doc`` is a well-formed composite document."""
    import re

    sha = re.compile(r"[0-9a-f]{64}")
    keys = {"format", "format_version", "skops", "parts", "versions"}
    if set(doc) != keys:
        raise ValueError(f"expected the keys {sorted(keys)}, got {sorted(doc)}")
    if doc["format_version"] != COMPOSITE_VERSION:
        raise ValueError(
            f"format_version {doc['format_version']!r} is not supported (this "
            f"sktransfer reads version {COMPOSITE_VERSION})"
        )
    skops = doc["skops"]
    if not (
        isinstance(skops, dict)
        and skops.get("file") == SKOPS_FILE
        and set(skops) == {"file", "sha256"}
        and isinstance(skops["sha256"], str)
        and sha.fullmatch(skops["sha256"])
    ):
        raise ValueError(f"'skops' must be {{'file': '{SKOPS_FILE}', 'sha256': '<hex>'}}, got {skops!r}")
    parts = doc["parts"]
    expected = [f"part-{i}" for i in range(len(parts) if isinstance(parts, list) else 0)]
    if not (
        isinstance(parts, list)
        and all(
            isinstance(p, dict)
            and set(p) == {"directory", "sha256"}
            and isinstance(p["sha256"], str)
            and sha.fullmatch(p["sha256"])
            for p in parts
        )
        and [p["directory"] for p in parts] == expected
    ):
        raise ValueError(
            "'parts' must list {'directory': 'part-<i>', 'sha256': '<hex>'} "
            f"for i = 0, 1, ...; got {json.dumps(parts)[:200]}"
        )
    if not (isinstance(doc["versions"], dict) and all(isinstance(v, str) for v in doc["versions"].values())):
        raise ValueError(f"'versions' must map names to strings, got {doc['versions']!r}")
