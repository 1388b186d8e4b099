"""Sphinx configuration of regjax's documentation (``make docs``).

The notebooks are rendered from ``notebooks/``: with the outputs of
``make notebooks`` (full size, ``notebooks/<name>.ipynb``) when they are newer
than the notebook's source and the library, else with those of the test suite
(``notebooks/_executed/``, smoke size or full size for the cheap ones, which
``make test`` leaves there just before it builds the site), else the jupytext
source is executed here at smoke size.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import tempfile

import jupytext

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = ROOT / "notebooks"
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(NOTEBOOKS))

import _execute  # noqa: E402

import regjax  # noqa: E402

project = "regjax"
author = "The regjax authors"
copyright = "The regjax authors, Apache-2.0"
release = version = regjax.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "mathcheck",
]

exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_title = f"regjax {release}"
html_theme_options = {
    "repository_url": "https://github.com/regjax/regjax",
    "use_repository_button": True,
    "show_toc_level": 2,
}

# The API reference: signatures as written, Google-style sections, no type
# hints repeated in the text.
autodoc_typehints = "signature"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a NamedTuple's fields are documented once, by autodoc
add_module_names = False

# Nitpicky mode (``-n``) resolves every cross-reference; names from libraries
# that publish no inventory here (there is no network in the build) are listed.
intersphinx_mapping: dict = {}
nitpick_ignore_regex = [
    ("py:.*", r"(jax|jaxlib|optax|flax|numpy|np|jnp|chex|sklearn|scipy|pandas|matplotlib)(\..*)?"),
    ("py:.*", r"(Array|ArrayLike|PyTree|Params|PRNGKey|Callable|Any|Sequence|Mapping|Iterable)"),
    ("py:.*", r"(typing|collections|pathlib|os|argparse|re)\..*"),
    # private base classes and aliases that appear in signatures
    ("py:.*", r"regjax\._.*"),
    ("py:class", r"(NamedTuple|optional|callable|float|int|bool|str|tuple|dict|list|None)"),
]

# myst and myst-nb: dollar math in the guides and notebooks, executed cells.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True


_SMOKE_BANNER = """```{note}
This page was executed at smoke size when the site was built: its data and
training runs are shrunk to check that the notebook works, so its numbers are
not the full-size ones the README quotes. `make notebooks` followed by
`make docs` renders it at full size.
```
"""


def _fresh_executed(source: pathlib.Path) -> pathlib.Path | None:
    """The newest executed copy of a notebook that is newer than its source,
    its helper and every regjax module: ``make notebooks``' full-size run, else
    the test suite's run (notebooks/_executed/), else None."""
    inputs = [source, NOTEBOOKS / "_nb.py", *(ROOT / "regjax").glob("*.py")]
    newest_input = max(p.stat().st_mtime for p in inputs)
    for executed in (
        source.with_suffix(".ipynb"),
        _execute.EXECUTED / f"{source.stem}.ipynb",
    ):
        if executed.exists() and executed.stat().st_mtime >= newest_input:
            return executed
    return None


def _stage_notebooks() -> None:
    """Copies the notebooks into ``examples/`` as .ipynb files to render."""
    out = DOCS / "examples"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    for source in sorted(NOTEBOOKS.glob("[0-9]*.py")):
        executed = _fresh_executed(source)
        if executed is not None:
            notebook = jupytext.read(executed)
            notebook.metadata["mystnb"] = {"execution_mode": "off"}
            # make notebooks' own copies are full size; the tests' say which size ran
            smoke = notebook.metadata.get("regjax", {}).get("size", "full") == "smoke"
        else:  # executed by the build, at smoke size (nb_execution_mode)
            notebook = jupytext.read(source)
            smoke = True
        if smoke:
            notebook.cells.insert(0, jupytext.reads(_SMOKE_BANNER, fmt="md").cells[0])
        notebook.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
        notebook.metadata["kernelspec"] = dict(_execute.KERNELSPEC)
        jupytext.write(notebook, out / f"{source.stem}.ipynb", fmt="ipynb")
    # the notebooks import their shared helper and read their size from here
    os.environ["REGJAX_NOTEBOOK_SIZE"] = "smoke"
    os.environ.setdefault(
        "REGJAX_NOTEBOOK_FIGURES", tempfile.mkdtemp(prefix="regjax-docs-figures-")
    )
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(NOTEBOOKS), os.environ.get("PYTHONPATH")) if p
    )


_stage_notebooks()
