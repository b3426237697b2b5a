"""Shared fixtures: small image sets built in code (no download, no shared data)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

from sktransfer.datasets import load_sample

# The offline ImageNet backbone at a small size keeps every fit to seconds.
BACKBONE = "efficientnet_lite0"
SIZE = 32


@pytest.fixture(scope="session")
def sample():
    """Four classes x 20 images, 32 px, string labels."""
    return load_sample(size=SIZE, n_per_class=20, random_state=0, return_X_y=True)


@pytest.fixture(scope="session")
def binary_sample(sample):
    """Two of the sample's classes (40 images)."""
    X, y = sample
    mask = np.isin(y, ["dahlia", "temple"])
    return X[mask], y[mask]
