"""Timing harness shared by every benchmark.

Rules: the peer and regjax run in the same process, in the same run; every
timed call is warmed up first and ends in ``block_until_ready``; the
steady-state time is the median of repeats. The time to first result is
measured apart, in a new Python process (``first_result``): the first call
there traces, compiles and runs; the imports and the creation of the data
(which also starts jax's backend) happen before the clock starts and are not
included. Import times are measured apart, in their own new processes
(``import_seconds``).

``REGJAX_BENCH_SMOKE=1`` (``python benchmarks/run.py --smoke``) runs every
benchmark end to end at tiny sizes with one repeat, to check the code, not to
measure anything.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax

HERE = pathlib.Path(__file__).resolve().parent
SMOKE = os.environ.get("REGJAX_BENCH_SMOKE") == "1"


def pick(smoke: Any, full: Any) -> Any:
    """``smoke`` under ``REGJAX_BENCH_SMOKE=1``, else ``full``."""
    return smoke if SMOKE else full


@dataclasses.dataclass(frozen=True)
class Timing:
    median_s: float
    repeats: int


def _block(out: Any) -> Any:
    return jax.block_until_ready(out)


def time_call(
    fn: Callable[..., Any],
    *args: Any,
    repeats: int = 20,
    warmup: int = 3,
    min_total_s: float = 0.0,
    max_total_s: float = 20.0,
    warm: bool = False,
) -> Timing:
    """The median of ``repeats`` timed runs of ``fn(*args)``, after warm-up.

    Unless ``warm`` (``fn`` has already run once with these arguments), one
    untimed call comes first (trace + compile). ``min_total_s`` raises the
    repeat count for very fast calls so the median rests on at least that much
    measured time; ``max_total_s`` lowers it for calls that take seconds (at
    least one timed run always happens), and warm-up stops once it and the
    untimed call have taken a quarter of that. Smoke runs time once, without warm-up.
    """
    if SMOKE:
        repeats, warmup, min_total_s = 1, 0, 0.0
    spent = 0.0
    if not warm:
        t0 = time.perf_counter()
        _block(fn(*args))
        spent = time.perf_counter() - t0  # an overestimate of one run: it compiled too
    for _ in range(warmup):
        if spent >= max_total_s / 4:
            break
        t0 = time.perf_counter()
        _block(fn(*args))
        spent += time.perf_counter() - t0
    samples: list[float] = []
    while not samples or len(samples) < repeats or sum(samples) < min_total_s:
        if samples and sum(samples) >= max_total_s:
            break
        t0 = time.perf_counter()
        _block(fn(*args))
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 10 * max(repeats, 1):
            break
    return Timing(statistics.median(samples), len(samples))


_FRESH_CACHE: dict[str, float] = {}


def first_result(module: str, builder: str, **kwargs: Any) -> float:
    """Seconds to the first result of ``module.builder(**kwargs)()`` in a new process.

    The new process imports ``module`` (from benchmarks/) and calls
    ``builder(**kwargs)``, which creates the data and returns a callable with no
    arguments; neither is timed. Then the clock runs over one call of that
    callable, ending in ``block_until_ready``: trace, compile and run. Results
    are cached per (module, builder, kwargs) within this run.
    """
    spec = json.dumps({"module": module, "builder": builder, "kwargs": kwargs}, sort_keys=True)
    if spec not in _FRESH_CACHE:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_fresh.py"), spec],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("FIRST_RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"first_result({spec}) failed:\n{proc.stderr[-4000:]}")
        _FRESH_CACHE[spec] = float(json.loads(lines[-1].split(" ", 1)[1])["first_s"])
    return _FRESH_CACHE[spec]


def import_seconds(statement: str) -> float:
    """Wall time of ``statement`` (an import) in a new Python process."""
    code = f"import time\nt0 = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t0)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1])


@dataclasses.dataclass
class Row:
    """One comparison. ``ratio`` is regjax time / peer time: below 1, regjax is faster.

    ``regjax_first`` and ``peer_first``: seconds to the first result in a new
    process (see ``first_result``). ``regjax_cert`` and ``peer_cert``: whether
    each side's certificate holds, where the benchmark has one (None: no
    certificate applies)."""

    case: str
    regjax: Timing
    peer_name: str
    peer: Timing
    regjax_first: float | None = None
    peer_first: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    regjax_cert: bool | None = None
    peer_cert: bool | None = None

    @property
    def ratio(self) -> float:
        return self.regjax.median_s / self.peer.median_s


@dataclasses.dataclass
class Section:
    title: str
    description: str
    rows: Sequence[Row] = ()
    extra_markdown: str = ""


def fmt_s(s: float | None) -> str:
    if s is None:
        return ""
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def _yes_no(b: bool | None) -> str:
    return "" if b is None else ("yes" if b else "**no**")


def section_markdown(section: Section) -> str:
    lines = [f"## {section.title}", "", section.description.strip(), ""]
    if section.rows:
        certs = any(r.regjax_cert is not None or r.peer_cert is not None for r in section.rows)
        head = [
            "case",
            "regjax",
            "regjax first result",
            "peer",
            "peer time",
            "peer first result",
            "ratio",
        ]
        if certs:
            head += ["regjax gap met", "peer gap met"]
        head += ["target", "met"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in section.rows:
            cells = [
                r.case,
                fmt_s(r.regjax.median_s),
                fmt_s(r.regjax_first),
                r.peer_name,
                fmt_s(r.peer.median_s),
                fmt_s(r.peer_first),
                f"{r.ratio:.3f}",
            ]
            if certs:
                cells += [_yes_no(r.regjax_cert), _yes_no(r.peer_cert)]
            cells += [r.target, _yes_no(r.met)]
            lines.append("| " + " | ".join(cells) + " |")
        notes = [f"- {r.case}, {r.peer_name}: {r.note}" for r in section.rows if r.note]
        if notes:
            lines += ["", *notes]
    if section.extra_markdown:
        lines += ["", section.extra_markdown.strip()]
    return "\n".join(lines) + "\n"


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_markdown(
    peers: Sequence[str] = (),
    load_start: Sequence[float] | None = None,
    load_end: Sequence[float] | None = None,
    imports: dict[str, float] | None = None,
) -> str:
    import jaxlib
    import numpy as np

    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    peer_versions = ", ".join(f"{p} {_version(p)}" for p in peers)
    out = (
        f"- machine: {platform.system()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} logical cores\n"
        f"- devices: {jax.default_backend()} ({devices}), {jax.device_count()} device(s)\n"
        f"- versions: Python {platform.python_version()}, regjax {_version('regjax')}, "
        f"jax {jax.__version__}, jaxlib {jaxlib.__version__}, numpy {np.__version__}"
        + (f"; peers: {peer_versions}" if peer_versions else "")
        + "\n"
    )
    if load_start is not None and load_end is not None:
        fmt = lambda la: " / ".join(f"{x:.2f}" for x in la)
        out += (
            "- load average (1 / 5 / 15 min, `os.getloadavg()`): "
            f"{fmt(load_start)} at the start of this part, {fmt(load_end)} at its end\n"
        )
    if imports:
        out += (
            "- import time in a new Python process (not part of any first-result column): "
            + ", ".join(f"`{stmt}` {fmt_s(s)}" for stmt, s in imports.items())
            + "\n"
        )
    return out
