"""The ``sktransfer`` commands: ``run_<command>(args, out)`` for each, in :data:`COMMANDS`.

Each checks its arguments and folders first, then imports TensorFlow, works,
prints its results to ``out`` and returns the exit code; problems are raised as
:class:`~sktransfer.cli.UsageError` or :class:`~sktransfer.cli.CommandError`.
"""

from ._backbones import run_backbones
from ._inference import run_embed, run_evaluate, run_predict
from ._training import run_compare, run_fit, run_grid

__all__ = ["COMMANDS"]


COMMANDS = {
    "fit": run_fit,
    "evaluate": run_evaluate,
    "predict": run_predict,
    "grid": run_grid,
    "compare": run_compare,
    "embed": run_embed,
    "backbones": run_backbones,
}
