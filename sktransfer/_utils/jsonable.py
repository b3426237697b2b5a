"""Values as the plain Python data that ``json`` writes."""

import os

import numpy as np

__all__ = ["jsonable", "to_python"]


def to_python(value):
    """A numpy scalar (or a label) as the plain Python value json can write."""
    return value.item() if isinstance(value, np.generic) else value


def jsonable(value):
    """Parameters and results as JSON data: tuples -> lists, numpy -> Python, objects -> params."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else repr(value)
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "get_params"):
        return {"class": type(value).__name__, **jsonable(value.get_params(deep=False))}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)
