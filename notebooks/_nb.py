"""Shared by the notebooks: the size switch and where figures go.

``REGJAX_NOTEBOOK_SIZE=smoke`` (what ``make test`` sets) runs every notebook
small and fast, and writes its figures to a temporary directory;
the default, ``full``, is the size the notebook's numbers are quoted at and
writes figures to ``notebooks/figures/`` (``make notebooks``), or to
``REGJAX_NOTEBOOK_FIGURES`` when that is set.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

SIZE = os.environ.get("REGJAX_NOTEBOOK_SIZE", "full")
if SIZE not in ("smoke", "full"):
    raise ValueError(f"REGJAX_NOTEBOOK_SIZE must be 'smoke' or 'full'; got {SIZE!r}.")
SMOKE = SIZE == "smoke"

_HERE = pathlib.Path(__file__).resolve().parent
# REGJAX_NOTEBOOK_FIGURES redirects a full-size run's figures (the test suite
# runs the cheap notebooks at full size without touching the committed ones).
_override = os.environ.get("REGJAX_NOTEBOOK_FIGURES")
if _override:
    FIGURES = pathlib.Path(_override)
elif SMOKE:
    FIGURES = pathlib.Path(tempfile.mkdtemp(prefix="regjax-nb-"))
else:
    FIGURES = _HERE / "figures"


def pick(smoke, full):
    """The smoke-size value in smoke runs, the full-size value otherwise."""
    return smoke if SMOKE else full


def savefig(fig, name: str) -> pathlib.Path:
    """Saves a matplotlib figure as ``<figures>/<name>.png`` and returns the path."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path
