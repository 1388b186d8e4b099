"""Runs the benchmarks and rewrites benchmarks/RESULTS.md.

    python benchmarks/run.py              # every benchmarks/bench_*.py
    python benchmarks/run.py bench_prox   # just these; the others' last results are kept
    python benchmarks/run.py --smoke      # tiny sizes, 1 repeat: checks the code end to end

Each ``bench_*.py`` defines ``run() -> list[Section]``, ``PEERS`` (the
distributions whose versions its part names) and ``IMPORTS`` (the import
statements whose time in a new process its part reports). Its rendered result is
kept in ``benchmarks/results/<name>.md`` so a partial run refreshes only its own
part; RESULTS.md is all parts, each under the machine, versions and load average
it ran with. A smoke run writes to ``$TMPDIR/regjax-bench-smoke/`` instead and
leaves RESULTS.md alone.
"""

from __future__ import annotations

import datetime
import importlib
import os
import pathlib
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main(argv: list[str]) -> None:
    smoke = "--smoke" in argv
    argv = [a for a in argv if a != "--smoke"]
    if smoke:
        os.environ["REGJAX_BENCH_SMOKE"] = "1"  # before the harness is imported
    from _harness import import_seconds, machine_markdown, section_markdown

    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    if smoke:
        out_dir = pathlib.Path(tempfile.gettempdir()) / "regjax-bench-smoke"
        results = out_dir / "results"
    else:
        out_dir, results = HERE, HERE / "results"
    results.mkdir(parents=True, exist_ok=True)
    for name in names:
        print(f"running {name} ...", flush=True)
        load_start = os.getloadavg()
        t0 = time.perf_counter()
        module = importlib.import_module(name)
        sections = module.run()
        imports = {stmt: import_seconds(stmt) for stmt in getattr(module, "IMPORTS", ())}
        took = time.perf_counter() - t0
        load_end = os.getloadavg()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(section_markdown(s) for s in sections)
        header = machine_markdown(getattr(module, "PEERS", ()), load_start, load_end, imports)
        (results / f"{name}.md").write_text(
            f"<!-- {name}, run {stamp}{' (smoke)' if smoke else ''} -->\n{header}"
            f"- this part took {took:.0f} s\n\n{body}"
        )
        print(header, body, sep="\n", flush=True)
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand. Every ratio is "
        "regjax time / peer time for the same work in the same process (below 1: regjax is "
        "faster). Steady-state times are medians of repeats after warm-up. The first-result "
        "columns are the wall time of the first call in a new Python process (trace, compile "
        "and run; the imports and the creation of the data, which also starts jax's backend, "
        "are excluded; import times are listed apart under each part): the time a one-shot "
        "user waits. Each part names the machine, the versions of regjax and its peers, and "
        "the load average at its start and end (the machine may be shared).",
        "",
    ]
    for path in sorted(results.glob("bench_*.md")):
        parts += [f"# {path.stem}", "", path.read_text()]
    (out_dir / "RESULTS.md").write_text("\n".join(parts))
    if smoke:
        print(f"smoke results: {out_dir / 'RESULTS.md'}")


if __name__ == "__main__":
    main(sys.argv[1:])
