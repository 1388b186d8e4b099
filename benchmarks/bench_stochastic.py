"""Dropout forward + backward on a large float32 activation.

regjax.stochastic.dropout against flax.nnx.Dropout and a hand-written
``jax.random.bernoulli`` mask, with threefry and rbg keys side by side.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from _harness import Row, Section, Timing, first_result, pick, time_call
from flax import nnx

from regjax import stochastic

SHAPE = pick((256, 256), (4096, 4096))
RATE = 0.5
REPEATS = 10
PEERS = ("flax",)
IMPORTS = ("import regjax.stochastic", "from flax import nnx")


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


_DROPS = {"regjax": _regjax, "flax": _flax, "bernoulli": _bernoulli}


def _inputs():
    x = jax.random.normal(jax.random.key(1), SHAPE, jnp.float32)
    ct = jax.random.normal(jax.random.key(2), SHAPE, jnp.float32)
    return x, ct, jnp.float32(RATE)


def fresh_dropout(impl: str, which: str):
    """For ``_harness.first_result``: one implementation's fwd+bwd, inputs made here."""
    x, ct, rate = _inputs()
    key = jax.random.key(0, impl=impl)
    f = _fwd_bwd(_DROPS[which])
    return lambda: f(key, x, ct, rate)


def run() -> list[Section]:
    x, ct, rate = _inputs()
    repeats_used = set()
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
        repeats_used |= {t_reg.repeats, t_flax.repeats, t_bern.repeats}
        first = {
            w: first_result("bench_stochastic", "fresh_dropout", impl=impl, which=w) for w in _DROPS
        }
        for peer_name, t_peer, w in (
            ("flax.nnx.Dropout", t_flax, "flax"),
            ("jax.random.bernoulli", t_bern, "bernoulli"),
        ):
            ratio = t_reg.median_s / t_peer.median_s
            rows.append(
                Row(
                    case=f"dropout fwd+bwd {SHAPE} f32, {name} key",
                    regjax=t_reg,
                    peer_name=peer_name,
                    peer=t_peer,
                    regjax_first=first["regjax"],
                    peer_first=first[w],
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
                "regjax compares random integer bits with a threshold; flax.nnx.Dropout "
                "and the hand-written mask use `jax.random.bernoulli` (a float uniform draw). "
                "The same key is used by all three, with the threefry (default) and rbg PRNG "
                "implementations. Median of "
                f"{' or '.join(str(r) for r in sorted(repeats_used))} repeats after warm-up."
            ),
            rows=rows,
            extra_markdown="Median times by PRNG implementation:\n\n" + "\n".join(absolute),
        )
    ]
