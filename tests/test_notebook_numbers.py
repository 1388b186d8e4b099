"""Every number in the README's notebook table is printed by its notebook.

``make notebooks`` (``notebooks/_execute.py``) runs each notebook at full size
and writes what it printed (stdout and the text/plain results of every cell,
in order) to ``notebooks/outputs/<notebook stem>.txt``. For each row of the
README's notebook table (the markdown table under ``## Notebooks`` whose first
cell links ``notebooks/NN_....py``), every number in the "what it shows" cell
must appear among the numbers of that file. Nothing is executed here.

The rule, applied alike to the README cell and to the printed text:

- A number is a run of digits, optionally with a decimal part and an exponent
  (``12``, ``0.94``, ``1e-8``, ``5.47e+01``), not preceded by a letter, digit,
  underscore or dot: so ``s3``, ``x64`` and ``float64`` hold no number, and a
  range such as ``0.36–0.87`` or ``7–9×`` gives two. A sign is not part of a
  number (``-0.5`` gives ``0.5``).
- A number is compared as written, as a whole token: ``0.94`` matches a
  printed ``AUROC 0.94`` but not ``0.945`` nor ``0.940``. Only the exponent is
  normalized (``1e-08``, ``1E-8`` and ``1e-8`` are the same token), since
  Python prints exponents with two digits.
- A percent sign directly after the number, or after one space, belongs to
  it: ``4.1%`` in the README matches a printed ``4.1%`` or ``4.1 %``, but not a
  bare ``4.1``, and a bare ``4.1`` does not match a printed ``4.1%``.

Only the "what it shows" cell is read, so the years and section numbers of the
first cell (``Bishop 1995``, ``§7.8``, ``Fig. 2``) are not checked.
"""

from __future__ import annotations

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUTS = ROOT / "notebooks" / "outputs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:[eE]([-+]?\d+))?(\s?%)?")
_LINK = re.compile(r"\(notebooks/(\d\d_[\w-]+)\.py\)")


def numbers(text: str) -> list[str]:
    """The numbers in ``text`` as normalized tokens, in order (see the module docstring)."""
    tokens = []
    for mantissa, exponent, percent in _NUMBER.findall(text):
        token = mantissa + (f"e{int(exponent)}" if exponent else "") + ("%" if percent else "")
        tokens.append(token)
    return tokens


def table_rows() -> list[tuple[str, str]]:
    """``(notebook stem, "what it shows" cell)`` for each row of the README's notebook table."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Notebooks\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        link = _LINK.search(cells[0]) if line.startswith("|") and len(cells) >= 2 else None
        if link:
            rows.append((link.group(1), cells[1]))
    return rows


ROWS = table_rows()


def test_the_readme_table_is_found():
    assert len(ROWS) >= 1, "no rows linking notebooks/NN_....py under README's '## Notebooks'"


@pytest.mark.parametrize(("stem", "cell"), ROWS, ids=[stem for stem, _ in ROWS])
def test_readme_row_numbers_are_printed(stem, cell):
    out = OUTPUTS / f"{stem}.txt"
    assert out.exists(), (
        f"README row {stem}: no {out.relative_to(ROOT)}; run `python notebooks/_execute.py {stem}`"
    )
    printed = set(numbers(out.read_text()))
    missing = [token for token in numbers(cell) if token not in printed]
    assert not missing, (
        f"README row {stem}: numbers not printed in {out.relative_to(ROOT)}: {missing}\n"
        f"row text: {cell}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_an_outputs_file(path):
    out = OUTPUTS / f"{path.stem}.txt"
    assert out.exists(), (
        f"{path.name} has no {out.relative_to(ROOT)}; run `python notebooks/_execute.py "
        f"{path.stem}` (make notebooks writes them all)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AUROC 0.94", ["0.94"]),
        ("AUROC 0.945", ["0.945"]),
        ("from 4.8% to 4.1 %.", ["4.8%", "4.1%"]),
        ("within a factor 0.36–0.87 of 1/(ηt)", ["0.36", "0.87", "1"]),
        ("7–9× flatter", ["7", "9"]),
        ("better than 1e-8, gap 1.0e-08, change 5.47e+01", ["1e-8", "1.0e-8", "5.47e1"]),
        ("`s3` leaving, x64, float64, α_max, a_2", []),
        ("diff -0.5, [2, 3, 18]", ["0.5", "2", "3", "18"]),
    ],
)
def test_numbers_follow_the_documented_rule(text, expected):
    assert numbers(text) == expected
