"""Executes the jupytext notebooks at full size into .ipynb files with outputs.

    python notebooks/_execute.py [NAME ...]    # default: every notebooks/[0-9]*.py

Figures go to notebooks/figures/ (the notebooks save them there). The printed
text of each notebook, its stdout streams and the text/plain results of every
cell in order, goes to notebooks/outputs/<name>.txt, which is committed:
tests/test_notebook_numbers.py checks the README's numbers against it.
"""

from __future__ import annotations

import os
import pathlib
import sys

import jupytext
import nbclient

HERE = pathlib.Path(__file__).resolve().parent
OUTPUTS = HERE / "outputs"


def printed_text(notebook) -> str:
    """The stdout streams and text/plain results of every code cell, in order."""
    parts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                parts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                text = output.get("data", {}).get("text/plain")
                if text is not None:
                    parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


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
        OUTPUTS.mkdir(exist_ok=True)
        text_out = OUTPUTS / f"{path.stem}.txt"
        text_out.write_text(printed_text(notebook))
        print(f"wrote {out.relative_to(HERE.parent)} and {text_out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main(sys.argv[1:])
