"""Executes the jupytext notebooks at full size into .ipynb files with outputs.

``execute`` (one notebook through a Jupyter kernel, at either size) is also
what tests/test_notebooks.py runs; the test suite keeps what it executed in
notebooks/_executed/ for ``make docs``.

    python notebooks/_execute.py [NAME ...]    # default: every notebooks/[0-9]*.py

Figures go to notebooks/figures/ (the notebooks save them there) and are
embedded in the .ipynb files, which ``make docs`` renders. The printed
text of each notebook, its stdout streams and the text/plain results of every
cell in order, goes to notebooks/outputs/<name>.txt, which is committed:
tests/test_notebook_numbers.py checks the README's numbers against it. The
wall time of each notebook's execution, with the machine's core count and load
average, goes to notebooks/outputs/timings.json, and the total of the recorded
times is printed at the end (the README quotes it).
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import sys
import time

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
                if "image/png" in output.get("data", {}):
                    continue  # a figure; its text/plain is only "<Figure size ...>"
                text = output.get("data", {}).get("text/plain")
                if text is not None:
                    parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)


# Notebooks executed by the test suite (smoke size, or full size for the cheap
# ones), kept for `make docs` to render instead of executing them again.
EXECUTED = HERE / "_executed"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def execute(
    path: pathlib.Path, size: str, figures: pathlib.Path | None = None, timeout: int = 1800
):
    """Runs one jupytext notebook through a fresh Jupyter kernel at ``size``
    ("smoke" or "full") and returns it with its outputs; figures are embedded
    and also saved to ``figures`` (default: the notebook's own choice).
    Raises ``nbclient.exceptions.CellExecutionError`` when a cell fails."""
    notebook = jupytext.read(path)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["regjax"] = {"size": size}
    env = {
        **os.environ,
        "REGJAX_NOTEBOOK_SIZE": size,
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    env.pop("XLA_FLAGS", None)  # the test suite's several CPU devices are not the notebooks'
    if figures is not None:
        env["REGJAX_NOTEBOOK_FIGURES"] = str(figures)
    client = nbclient.NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env)
    return notebook


def main(names: list[str]) -> None:
    paths = [HERE / f"{n.removesuffix('.py')}.py" for n in names] or sorted(HERE.glob("[0-9]*.py"))
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        load_start = os.getloadavg()[0]
        t0 = time.perf_counter()
        notebook = execute(path, "full")
        seconds = time.perf_counter() - t0
        out = path.with_suffix(".ipynb")
        jupytext.write(notebook, out, fmt="ipynb")
        OUTPUTS.mkdir(exist_ok=True)
        text_out = OUTPUTS / f"{path.stem}.txt"
        text_out.write_text(printed_text(notebook))
        record_time(path.stem, seconds, load_start)
        print(f"wrote {out.relative_to(HERE.parent)} and {text_out.relative_to(HERE.parent)}")
        print(f"{path.stem}: {seconds:.0f} s", flush=True)
    times = json.loads(TIMINGS.read_text())
    total = sum(t["seconds"] for t in times.values())
    print(
        f"recorded full-size times of {len(times)} notebooks: {total:.0f} s in all "
        f"({total / 60:.1f} min)"
    )


TIMINGS = OUTPUTS / "timings.json"


def record_time(stem: str, seconds: float, load_start: float) -> None:
    """Stores one notebook's wall time in notebooks/outputs/timings.json."""
    times = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    times[stem] = {
        "seconds": round(seconds, 1),
        "cpu_count": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "load_average_at_start": round(load_start, 2),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    TIMINGS.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
