"""Timing harness shared by every benchmark.

Rules: the peer and regjax run in the same process, in the same run; every
timed call is warmed up first and ends in ``block_until_ready``; the first
call (trace + compile + run) is reported apart from the steady-state time,
which is the median of repeats.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax


@dataclasses.dataclass(frozen=True)
class Timing:
    first_call_s: float  # trace + compile + one run
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
) -> Timing:
    """Times ``fn(*args)``: first call apart, then the median of ``repeats`` runs.

    ``min_total_s`` raises the repeat count for very fast calls so the median
    rests on at least that much measured time.
    """
    t0 = time.perf_counter()
    _block(fn(*args))
    first = time.perf_counter() - t0
    for _ in range(warmup):
        _block(fn(*args))
    samples: list[float] = []
    while len(samples) < repeats or sum(samples) < min_total_s:
        t0 = time.perf_counter()
        _block(fn(*args))
        samples.append(time.perf_counter() - t0)
        if len(samples) >= 10 * max(repeats, 1):
            break
    return Timing(first, statistics.median(samples), len(samples))


@dataclasses.dataclass
class Row:
    """One comparison. ``ratio`` is regjax time / peer time: below 1, regjax is faster."""

    case: str
    regjax: Timing
    peer_name: str
    peer: Timing
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.regjax.median_s / self.peer.median_s


@dataclasses.dataclass
class Section:
    title: str
    description: str
    rows: Sequence[Row] = ()
    extra_markdown: str = ""


def _fmt_s(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def section_markdown(section: Section) -> str:
    lines = [f"## {section.title}", "", section.description.strip(), ""]
    if section.rows:
        lines += [
            "| case | regjax | first call | peer | peer time | peer first call "
            "| ratio | target | met |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in section.rows:
            met = "" if r.met is None else ("yes" if r.met else "**no**")
            lines.append(
                f"| {r.case} | {_fmt_s(r.regjax.median_s)} | {_fmt_s(r.regjax.first_call_s)} "
                f"| {r.peer_name} | {_fmt_s(r.peer.median_s)} | {_fmt_s(r.peer.first_call_s)} "
                f"| {r.ratio:.3f} | {r.target} | {met} |"
            )
        notes = [f"- {r.case}: {r.note}" for r in section.rows if r.note]
        if notes:
            lines += ["", *notes]
    if section.extra_markdown:
        lines += ["", section.extra_markdown.strip()]
    return "\n".join(lines) + "\n"


def machine_markdown() -> str:
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
    return (
        f"- machine: {platform.system()} {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} logical cores\n"
        f"- devices: {jax.default_backend()} ({devices}), {jax.device_count()} device(s)\n"
        f"- versions: Python {platform.python_version()}, jax {jax.__version__}, "
        f"jaxlib {jaxlib.__version__}, numpy {np.__version__}\n"
    )
