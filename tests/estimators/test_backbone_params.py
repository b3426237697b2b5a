"""The backbone parameters FineTunedClassifier and PretrainedEmbedder share: checked and documented once."""

import inspect

import numpy as np
import pytest
from numpydoc.docscrape import ClassDoc
from sklearn.utils._param_validation import InvalidParameterError

from sktransfer import FineTunedClassifier, PretrainedEmbedder

SHARED = ["backbone", "weights", "pooling", "input_size", "batch_size", "n_jobs", "cache"]


def _documented(cls):
    return {p.name: (p.type, p.desc) for p in ClassDoc(cls)["Parameters"]}


@pytest.mark.parametrize("cls", [FineTunedClassifier, PretrainedEmbedder])
def test_docstring_documents_every_parameter_of_the_signature_in_order(cls):
    assert "%(" not in cls.__doc__
    names = [p.name for p in ClassDoc(cls)["Parameters"]]
    assert names == list(inspect.signature(cls.__init__).parameters)[1:]
    assert all(_documented(cls)[name][1] for name in SHARED)


def test_shared_parameters_read_the_same_in_both():
    finetune, embed = _documented(FineTunedClassifier), _documented(PretrainedEmbedder)
    for name in SHARED:
        assert finetune[name] == embed[name], name


@pytest.mark.parametrize("name, bad", [("pooling", "mean"), ("weights", 3), ("cache", 1.5), ("tta", "yes")])
def test_shared_checks_reject_the_same_values_in_both(name, bad):
    X = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    for cls in (FineTunedClassifier, PretrainedEmbedder):
        with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
            cls(**{name: bad}).fit(X, [0, 1])
