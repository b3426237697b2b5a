"""Compare models (or one backbone with different weights) on the same split.

:func:`compare_models` fits clones of several estimators on one train/test
split and measures, for each: accuracy, precision, recall and F1 (from
:mod:`sktransfer.metrics`), fit seconds, prediction milliseconds per image,
total and trainable parameters, peak memory, and the backbone and weights
when known. :func:`plot_comparison` draws the result; :func:`agreement` and
:func:`plot_agreement` show on which test images two of the models are right.

How memory is measured
----------------------
A background thread samples the process's resident set size (RSS, via
``psutil`` when installed, else ``/proc/self/statm``) every 5 ms while the
estimator fits and predicts; ``peak_memory_mb`` is the highest sample minus
the RSS just before the fit, in MiB. When the process's lifetime high-water
mark (``getrusage().ru_maxrss``) rose during the fit, that mark is the true
peak (a spike between two samples), so it is used instead. It is the memory
of the whole process, so run comparisons one at a time. The models fitted
before (kept in ``table.estimators_``) are in the baseline, not in the peak;
from a cold start (below) the shared backbones and activations are not, and
each model pays for its own.

Cold or warm
------------
Fits in one process share the activation cache, the pretrained backbone
templates and the compiled trainers (see :doc:`/guide/frozen_work`), so
a model fitted after another with the same backbone would start warm: its
frozen activations already computed, its backbone already built, in seconds
and megabytes that the first model paid for. By default (``warm=False``)
:func:`compare_models` therefore empties all three (and hands freed heap
memory back to the system) before each model, so that every model is measured
as it would run alone, whatever its place in the list; the table's ``start``
column says ``cold``. ``warm=True`` keeps what earlier models left (faster,
e.g. for several heads on one backbone) and says ``warm``. TensorFlow is
imported before the first model, untimed; what else a process does only once
(TensorFlow's first graph, a few MB) still falls on the first Keras model.
Folders given as ``cache=`` keep their files: a model with a persistent cache
reads what an earlier run wrote there.

How time is measured
--------------------
``fit_seconds`` is the wall-clock time of ``fit``; ``predict_ms_per_image``
that of one ``predict`` over the test images, after an untimed call on one.

Modules: :mod:`._models` (:func:`compare_models`), :mod:`._table`
(:class:`ComparisonTable`), :mod:`._agreement` (:func:`agreement`) and
:mod:`._plot` (:func:`plot_comparison`, :func:`plot_agreement`).
"""

from ._agreement import Agreement, agreement
from ._models import _param_counts, compare_models  # tests import _param_counts
from ._plot import plot_agreement, plot_comparison, short_names
from ._table import COLUMNS, ComparisonTable  # the report imports COLUMNS

__all__ = [
    "Agreement",
    "ComparisonTable",
    "agreement",
    "compare_models",
    "plot_agreement",
    "plot_comparison",
    "short_names",
]
