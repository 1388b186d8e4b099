"""Runs the benchmarks and rewrites benchmarks/RESULTS.md.

    python benchmarks/run.py              # every benchmarks/bench_*.py
    python benchmarks/run.py bench_prox   # just these; the others' last results are kept

Each ``bench_*.py`` defines ``run() -> list[Section]``. Its rendered result is
kept in ``benchmarks/results/<name>.md`` so a partial run refreshes only its
own part; RESULTS.md is all parts, under the machine they ran on.
"""

from __future__ import annotations

import datetime
import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import machine_markdown, section_markdown  # noqa: E402


def main(argv: list[str]) -> None:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    for name in names:
        print(f"running {name} ...", flush=True)
        module = importlib.import_module(name)
        sections = module.run()
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        body = "\n".join(section_markdown(s) for s in sections)
        (results / f"{name}.md").write_text(
            f"<!-- {name}, run {stamp} -->\n{machine_markdown()}\n{body}"
        )
        print(body)
    parts = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run.py`); do not edit by hand. Every ratio is "
        "regjax time / peer time for the same work in the same process (below 1: regjax is "
        "faster). Steady-state times are medians of repeats after warm-up; the first call "
        "(trace + compile + run) is reported apart. Each part names the machine it ran on.",
        "",
    ]
    for path in sorted(results.glob("bench_*.md")):
        parts += [f"# {path.stem}", "", path.read_text()]
    (HERE / "RESULTS.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main(sys.argv[1:])
