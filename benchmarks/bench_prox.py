"""regjax.prox against jaxopt.prox (and, for nuclear, a plain jnp SVT) on one
square float32 matrix, both jitted, same inputs, same process."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
from _harness import Row, Section, first_result, pick, time_call

import regjax

N = pick(64, 1000)
RTOL = ATOL = 1e-4  # the outputs must agree this closely
PEERS = ("jaxopt",)
IMPORTS = ("import regjax.prox", "import jaxopt.prox")


def _svt_reference(v: jax.Array, t: jax.Array) -> jax.Array:
    u, s, vt = jnp.linalg.svd(v, full_matrices=False)
    return (u * jnp.maximum(s - t, 0)[None, :]) @ vt


def _cases():
    """case -> (regjax fn, peer name, peer fn, regjax args, peer args, repeats)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from jaxopt import prox as jp

    x = jnp.asarray(np.random.default_rng(0).normal(size=(N, N)), jnp.float32)
    t = jnp.float32(0.5)
    t_group = jnp.float32(0.5 / np.sqrt(N))  # regjax scales the cut by √|g|
    return {
        "l1 (soft-threshold)": (
            jax.jit(regjax.prox.l1),
            "jaxopt.prox.prox_lasso",
            jax.jit(jp.prox_lasso),
            (x, t),
            (x, t),
            50,
        ),
        "elastic_net": (
            jax.jit(lambda v, a: regjax.prox.elastic_net(v, a, a / 2)),
            "jaxopt.prox.prox_elastic_net",
            jax.jit(lambda v, a: jp.prox_elastic_net(v, (a, jnp.ones_like(a)))),
            (x, t),
            (x, t),
            50,
        ),
        "group_lasso (rows)": (
            jax.jit(regjax.prox.group_lasso),
            "vmap(jaxopt.prox.prox_group_lasso)",
            jax.jit(jax.vmap(jp.prox_group_lasso, in_axes=(0, None))),
            (x, t_group),
            (x, t),
            50,
        ),
        "nuclear (SVT)": (
            jax.jit(regjax.prox.nuclear),
            "jnp.linalg.svd SVT (jaxopt has none)",
            jax.jit(_svt_reference),
            (x, t),
            (x, t),
            3,
        ),
    }


def fresh_prox(case: str, side: str):
    """For ``_harness.first_result``: one side of one case, inputs made here."""
    ours, _, peer, args, peer_args, _ = _cases()[case]
    return (lambda: ours(*args)) if side == "regjax" else (lambda: peer(*peer_args))


def run() -> list[Section]:
    rows, checks = [], []
    for case, (ours, peer_name, peer, args, peer_args, repeats) in _cases().items():
        # Timed first; the outputs are compared afterwards, so no timing is of a call
        # that the comparison compiled.
        t_ours = time_call(ours, *args, repeats=repeats, warmup=1, min_total_s=0.05)
        t_peer = time_call(peer, *peer_args, repeats=repeats, warmup=1, min_total_s=0.05)
        diff = float(jnp.max(jnp.abs(ours(*args) - peer(*peer_args))))
        np.testing.assert_allclose(
            np.asarray(ours(*args)), np.asarray(peer(*peer_args)), rtol=RTOL, atol=ATOL
        )
        checks.append(f"{case} {diff:.2e}")
        rows.append(
            Row(
                case=case,
                regjax=t_ours,
                peer_name=peer_name,
                peer=t_peer,
                regjax_first=first_result("bench_prox", "fresh_prox", case=case, side="regjax"),
                peer_first=first_result("bench_prox", "fresh_prox", case=case, side="peer"),
            )
        )
    return [
        Section(
            title="Proximal operators",
            description=(
                f"One {N}x{N} float32 matrix, both sides jitted. group_lasso groups the rows; "
                "the jaxopt side is vmapped over rows with the same per-row cut. jaxopt has no "
                "nuclear-norm prox, so its peer is a plain `jnp.linalg.svd` singular-value "
                "thresholding (the same forward computation: one thin SVD). After timing, "
                f"the outputs were checked equal (rtol {RTOL:g}, atol {ATOL:g}); largest "
                f"absolute difference: {'; '.join(checks)}."
            ),
            rows=rows,
        )
    ]
