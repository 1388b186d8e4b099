"""The documentation site's sources: an API page for every public module, the
math check and the offline link check that ``make docs`` relies on.

The site itself is built by ``make docs`` (which ``make test`` runs after the
suite); these tests keep its inputs and checkers honest without a build.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import sys

import pytest

import regjax

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT / "tools"))

import check_docs  # noqa: E402
import mathcheck  # noqa: E402


@pytest.mark.parametrize("module", regjax._SUBMODULES)
def test_every_public_module_has_an_api_page_listed_in_the_reference(module):
    page = DOCS / "api" / f"{module}.md"
    assert page.exists(), f"docs/api/{module}.md is missing"
    assert re.search(rf"\.\. automodule:: regjax\.{module}\n\s+:members:", page.read_text())
    index = (DOCS / "api" / "index.md").read_text()
    assert re.search(rf"^{module}$", index, re.M), f"{module} is not in docs/api/index.md"


def test_autodoc_members_follow_all():
    """``automodule :members:`` documents exactly ``__all__``; a public function
    outside it would silently miss the reference."""
    for module in regjax._SUBMODULES:
        mod = importlib.import_module(f"regjax.{module}")
        public = {
            name
            for name, value in vars(mod).items()
            if not name.startswith("_")
            and callable(value)
            and getattr(value, "__module__", "").startswith("regjax")
        }
        assert public <= set(mod.__all__), (module, public - set(mod.__all__))


@pytest.mark.parametrize(
    "latex, problem",
    [
        (r"\frac{1}{2n}\|y - Xw\|_2^2 + \alpha\|w\|_1", None),
        (r"\begin{cases} a & b \\ c & d \end{cases}", None),
        (r"\left( \tfrac12 x \right)", None),
        (r"\frac{1}{2n", "unclosed {"),
        (r"x}", "closes no group"),
        (r"\alpah", r"unknown command \alpah"),
        (r"\begin{cases} a \end{aligned}", "does not close"),
        (r"\begin{cases} a", "unclosed environments"),
        (r"\left( x", r"\left without \right"),
        (r"x \right)", r"\right without \left"),
        (r"\begin{tabular} x \end{tabular}", "unknown environment tabular"),
    ],
)
def test_mathcheck_finds_what_mathjax_would_render_as_an_error(latex, problem):
    found = mathcheck.problems(latex)
    if problem is None:
        assert found == []
    else:
        assert any(problem in p for p in found), found


def test_every_formula_in_the_docstrings_passes_the_math_check():
    pattern = re.compile(r":math:`([^`]*)`|\.\. math::(.*?)(?=\n\s*\n|$)", re.S)
    checked = 0
    for module in regjax._SUBMODULES:
        mod = importlib.import_module(f"regjax.{module}")
        docs = [mod.__doc__] + [getattr(mod, name).__doc__ for name in mod.__all__]
        for doc in filter(None, docs):
            for inline, block in pattern.findall(doc):
                assert mathcheck.problems(inline or block) == [], (module, inline or block)
                checked += 1
    assert checked > 20  # the pattern finds the formulas


def _page(path: pathlib.Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>")


def test_link_check_finds_missing_files_and_anchors(tmp_path):
    _page(
        tmp_path / "index.html", '<a href="a/page.html#here">ok</a><a href="https://x.org">ext</a>'
    )
    _page(tmp_path / "a" / "page.html", '<h1 id="here">x</h1><a href="../index.html">up</a>')
    assert check_docs.broken_links(tmp_path) == []
    _page(
        tmp_path / "a" / "other.html",
        '<a href="missing.html">m</a><a href="page.html#gone">g</a><img src="fig.png">',
    )
    broken = check_docs.broken_links(tmp_path)
    assert len(broken) == 3, broken
    assert any("missing.html (no such file)" in b for b in broken)
    assert any("no id 'gone'" in b for b in broken)
    assert any("fig.png (no such file)" in b for b in broken)
