"""Progress bars for sweeps: one over chunks, one over training steps.

Step reports come from inside compiled code through ``jax.debug.callback``; the
callback finds the bars of the sweep that is running now. The compiled program
outlives any one sweep, so that lookup happens at run time, not trace time.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "regjax's progress bars need tqdm: `pip install 'regjax[sweep]'`, or pass "
            "`progress=False`."
        ) from e
    return tqdm


class _Bars:
    def __init__(self, n_chunks: int, n_members: int):
        tqdm = _tqdm()
        self.chunks = tqdm(total=n_chunks, desc=f"sweep ({n_members} members)", unit="chunk")
        self.steps: Any = None
        self.lock = threading.Lock()

    def chunk_done(self) -> None:
        self.chunks.update(1)
        if self.steps is not None:
            self.steps.reset()

    def step_to(self, step: int, total: int) -> None:
        with self.lock:
            if self.steps is None:
                self.steps = _tqdm()(total=total, desc="steps", unit="step", leave=False)
            # Every vmapped member reports the same step; keep the furthest.
            if step > self.steps.n:
                self.steps.update(step - self.steps.n)

    def close(self) -> None:
        if self.steps is not None:
            self.steps.close()
        self.chunks.close()


class _NoBars:
    def chunk_done(self) -> None:
        pass

    def step_to(self, step: int, total: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Active:
    """The bars of the sweep running now (one at a time per process)."""

    bars: Any = _NoBars()


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress_bars(*, enabled: bool, n_chunks: int, n_members: int) -> Iterator[Any]:
    bars: Any = _NoBars()
    if enabled and _stderr_is_terminal():
        bars = _Bars(n_chunks, n_members)
    previous, _Active.bars = _Active.bars, bars
    try:
        yield bars
    finally:
        jax.effects_barrier()  # let pending step callbacks land before the bars close
        _Active.bars = previous
        bars.close()


def _on_step(step: Any, total: int) -> None:
    _Active.bars.step_to(int(step) + 1, total)


def report_progress(step: Any, n_steps: int, *, every: int = 100) -> None:
    """Reports a training step to the progress bar of the running sweep.

    Call it inside a ``train_fn``'s training loop with the (unbatched) step
    counter of a ``lax.scan`` or ``fori_loop``. It reports only every
    ``every`` steps and on the last one, through ``jax.debug.callback``, so
    its cost is one host call per ``every`` steps, not per step. Outside
    :func:`regjax.sweep.run`, or when progress is off, it does nothing
    visible. The step counter must not depend on the member (it is the same
    in every vmapped member), otherwise every step would report.

    Args:
      step: the current step, an integer scalar (traced is fine).
      n_steps: the total number of steps (a Python int).
      every: report every this many steps (a Python int >= 1).

    Returns:
      None.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> def loop(w):
      ...     def body(i, w):
      ...         regjax.sweep.report_progress(i, 1000, every=250)
      ...         return w * 0.99
      ...     return jax.lax.fori_loop(0, 1000, body, w)
      >>> float(jax.jit(loop)(jnp.ones(())))
      4.3...e-05

    References:
      da Costa-Luis, C. et al. tqdm: A Fast, Extensible Progress Bar for
      Python and CLI. https://doi.org/10.5281/zenodo.595120
    """
    where = "regjax.sweep.report_progress"
    for name, value in (("n_steps", n_steps), ("every", every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{where}({name}=...)` must be a Python int >= 1; got {value!r}.")
    step = jnp.asarray(step)
    due = (step % every == 0) | (step == n_steps - 1)
    jax.lax.cond(
        due,
        lambda: jax.debug.callback(functools.partial(_on_step, total=n_steps), step),
        lambda: None,
    )
