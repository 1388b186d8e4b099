"""Every notebook runs at smoke size, and its own assertions hold; the cheap
ones (``FULL_IN_TEST``, about a minute or less at full size) also run at full
size, the size their README numbers are quoted at.

Each notebook runs in a fresh Jupyter kernel (``notebooks/_execute.py``, as
``make notebooks`` runs them), so the test suite's strict JAX settings and any
matplotlib state stay out of it. What ran is kept in ``notebooks/_executed/``
(with its size in the metadata), and ``make docs``, which ``make test`` runs
next, renders those outputs instead of executing every notebook again.
"""

import pathlib
import sys

import jupytext
import pytest
from nbclient.exceptions import CellExecutionError

HERE = pathlib.Path(__file__).parent.parent / "notebooks"
sys.path.insert(0, str(HERE))

import _execute  # noqa: E402

NOTEBOOKS = sorted(HERE.glob("[0-9]*.py"))

# Notebooks that take about a minute or less at full size on a 2-core CPU
# (notebooks/outputs/ records each one's printed output at full size).
FULL_IN_TEST = (
    "01_lasso_path_diabetes",
    "05_early_stopping_is_l2",
    "06_bayesian_view",
    "09_group_lasso",
)


def _run(path, size, figures):
    try:
        notebook = _execute.execute(path, size, figures, timeout=600)
    except CellExecutionError as error:
        pytest.fail(f"{path.name} failed at {size} size:\n{str(error)[-4000:]}")
    _execute.EXECUTED.mkdir(exist_ok=True)
    jupytext.write(notebook, _execute.EXECUTED / f"{path.stem}.ipynb", fmt="ipynb")
    return notebook


# a notebook run at full size here is not run at smoke size as well
SMOKE_ONLY = [p for p in NOTEBOOKS if p.stem not in FULL_IN_TEST]


@pytest.mark.parametrize("path", SMOKE_ONLY, ids=[p.stem for p in SMOKE_ONLY])
def test_notebook_runs_at_smoke_size(path, tmp_path):
    _run(path, "smoke", tmp_path)


@pytest.mark.parametrize("stem", FULL_IN_TEST)
def test_cheap_notebook_runs_at_full_size(stem, tmp_path):
    path = next(p for p in NOTEBOOKS if p.stem == stem)
    notebook = _run(path, "full", tmp_path)
    assert (tmp_path / f"{stem}.png").exists()  # its figure went to the temporary folder
    figures = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    assert figures, f"{stem}: no figure embedded in the executed notebook"


def test_notebooks_exist():
    assert NOTEBOOKS, "no notebooks found under notebooks/"
