"""Executes the jupytext notebooks at full size into .ipynb files with outputs.

    python notebooks/_execute.py [NAME ...]    # default: every notebooks/[0-9]*.py

Figures go to notebooks/figures/ (the notebooks save them there).
"""

from __future__ import annotations

import os
import pathlib
import sys

import jupytext
import nbclient

HERE = pathlib.Path(__file__).resolve().parent


def main(names: list[str]) -> None:
    paths = [HERE / f"{n.removesuffix('.py')}.py" for n in names] or sorted(HERE.glob("[0-9]*.py"))
    os.environ.setdefault("REGJAX_NOTEBOOK_SIZE", "full")
    os.environ.setdefault("MPLBACKEND", "Agg")
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        notebook = jupytext.read(path)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        client = nbclient.NotebookClient(
            notebook,
            timeout=1800,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
        )
        client.execute()
        out = path.with_suffix(".ipynb")
        jupytext.write(notebook, out, fmt="ipynb")
        print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
