"""Dropout forward + backward on a (4096, 4096) float32 activation.

regjax.stochastic.dropout against flax.nnx.Dropout and a hand-written
``jax.random.bernoulli`` mask, with threefry and rbg keys side by side.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _harness import Row, Section, Timing, time_call
from flax import nnx

from regjax import stochastic

SHAPE = (4096, 4096)
RATE = 0.5
REPEATS = 10


def _fwd_bwd(drop: Any) -> Any:
    """jit of key, x, cotangent -> (y, dL/dx): one forward and one backward pass."""

    def f(key: jax.Array, x: jax.Array, ct: jax.Array, rate: jax.Array) -> Any:
        y, vjp = jax.vjp(lambda x: drop(key, x, rate), x)
        return y, vjp(ct)[0]

    return jax.jit(f)


def _regjax(key: jax.Array, x: jax.Array, rate: jax.Array) -> jax.Array:
    return stochastic.dropout(key, x, rate)


_FLAX = nnx.Dropout(RATE)


def _flax(key: jax.Array, x: jax.Array, rate: jax.Array) -> jax.Array:
    del rate  # flax.nnx.Dropout needs a Python-float rate: a traced one raises
    return _FLAX(x, rngs=key)


def _bernoulli(key: jax.Array, x: jax.Array, rate: jax.Array) -> jax.Array:
    del rate  # hand-written with a constant rate, as most code does
    keep = jax.random.bernoulli(key, 1.0 - RATE, x.shape)
    return jnp.where(keep, x / (1.0 - RATE), jnp.zeros((), x.dtype))


def _time(fn: Any, key: jax.Array, x: jax.Array, ct: jax.Array, rate: Any) -> Timing:
    return time_call(fn, key, x, ct, rate, repeats=REPEATS, warmup=2)


def run() -> list[Section]:
    x = jax.random.normal(jax.random.key(1), SHAPE, jnp.float32)
    ct = jax.random.normal(jax.random.key(2), SHAPE, jnp.float32)
    rate = jnp.float32(RATE)
    rows: list[Row] = []
    absolute: list[str] = [
        "| PRNG | regjax (traced rate) | flax.nnx.Dropout | bernoulli mask |",
        "|---|---|---|---|",
    ]
    for impl in ("threefry2x32", "rbg"):
        key = jax.random.key(0, impl=impl)
        t_reg = _time(_fwd_bwd(_regjax), key, x, ct, rate)
        t_flax = _time(_fwd_bwd(_flax), key, x, ct, rate)
        t_bern = _time(_fwd_bwd(_bernoulli), key, x, ct, rate)
        name = "threefry" if impl.startswith("threefry") else "rbg"
        for peer_name, t_peer in (("flax.nnx.Dropout", t_flax), ("jax.random.bernoulli", t_bern)):
            ratio = t_reg.median_s / t_peer.median_s
            rows.append(
                Row(
                    case=f"dropout fwd+bwd (4096, 4096) f32, {name} key",
                    regjax=t_reg,
                    peer_name=peer_name,
                    peer=t_peer,
                    target="<= 1.0",
                    met=ratio <= 1.0,
                    note=(
                        "regjax's rate is a traced array (vmappable over a grid); the peer's is "
                        "a Python constant folded into the compiled program"
                    )
                    if peer_name == "flax.nnx.Dropout" and name == "threefry"
                    else "",
                )
            )
        absolute.append(
            f"| {name} | {t_reg.median_s * 1e3:.1f} ms | {t_flax.median_s * 1e3:.1f} ms "
            f"| {t_bern.median_s * 1e3:.1f} ms |"
        )
    return [
        Section(
            title="Dropout forward + backward",
            description=(
                "One jitted call returns the dropout output and its input gradient (a `jax.vjp` "
                f"with a random cotangent) for a {SHAPE} float32 activation at rate {RATE}. "
                "regjax draws 24 random bits per element and compares integers; flax.nnx.Dropout "
                "and the hand-written mask use `jax.random.bernoulli` (a float uniform draw). "
                "The same key is used by all three, with the threefry (default) and rbg PRNG "
                f"implementations. Median of {REPEATS} repeats after warm-up."
            ),
            rows=rows,
            extra_markdown="Median times by PRNG implementation:\n\n" + "\n".join(absolute),
        )
    ]
