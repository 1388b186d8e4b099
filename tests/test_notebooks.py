"""Every notebook runs at smoke size, and its own assertions hold.

Each notebook runs in a fresh interpreter, as a script (jupytext percent
format is plain Python), so the test suite's strict JAX settings and any
matplotlib state stay out of it. ``make notebooks`` runs them at full size
through a Jupyter kernel instead.
"""

import os
import pathlib
import subprocess
import sys

import pytest

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("[0-9]*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_at_smoke_size(path):
    env = {**os.environ, "REGJAX_NOTEBOOK_SIZE": "smoke", "MPLBACKEND": "Agg"}
    env.pop("XLA_FLAGS", None)
    done = subprocess.run(
        [sys.executable, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{path.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"
