"""Sweeps: a whole grid of regularization settings trained as one vmapped,
compiled program, chunked for memory, sharded across devices, resumable."""

from regjax._grid import Grid as Grid
from regjax._grid import grid as grid
from regjax._progress import report_progress as report_progress
from regjax._sweep import Folds as Folds
from regjax._sweep import freeze_if_diverged as freeze_if_diverged
from regjax._sweep import kfold as kfold
from regjax._sweep import run as run
from regjax._sweep_result import SweepResult as SweepResult

__all__ = [
    "Folds",
    "Grid",
    "SweepResult",
    "freeze_if_diverged",
    "grid",
    "kfold",
    "report_progress",
    "run",
]
