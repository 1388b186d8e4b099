"""Every notebook runs at smoke size, and its own assertions hold; the cheap
ones (``FULL_IN_TEST``, about a minute or less at full size) also run at full
size, the size their README numbers are quoted at.

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

# Notebooks that take about a minute or less at full size on a 2-core CPU
# (notebooks/outputs/ records each one's printed output at full size).
FULL_IN_TEST = (
    "01_lasso_path_diabetes",
    "05_early_stopping_is_l2",
    "06_bayesian_view",
    "09_group_lasso",
)


def _run(path, size, tmp_path):
    env = {
        **os.environ,
        "REGJAX_NOTEBOOK_SIZE": size,
        "MPLBACKEND": "Agg",
        "REGJAX_NOTEBOOK_FIGURES": str(tmp_path),
    }
    env.pop("XLA_FLAGS", None)
    return subprocess.run(
        [sys.executable, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# a notebook run at full size here is not run at smoke size as well
SMOKE_ONLY = [p for p in NOTEBOOKS if p.stem not in FULL_IN_TEST]


@pytest.mark.parametrize("path", SMOKE_ONLY, ids=[p.stem for p in SMOKE_ONLY])
def test_notebook_runs_at_smoke_size(path, tmp_path):
    done = _run(path, "smoke", tmp_path)
    assert done.returncode == 0, (
        f"{path.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )


@pytest.mark.parametrize("stem", FULL_IN_TEST)
def test_cheap_notebook_runs_at_full_size(stem, tmp_path):
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    done = _run(path, "full", tmp_path)
    assert done.returncode == 0, (
        f"{path.name} failed at full size:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    )
    assert (tmp_path / f"{stem}.png").exists()  # its figure went to the temporary folder


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"
