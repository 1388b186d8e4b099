"""Accelerated proximal gradient (FISTA) with adaptive restart, as a
``lax.while_loop`` stopped by a certificate (a duality gap or a KKT residual).

The loop is written for one problem; ``jax.vmap`` over it solves a whole grid
at once (members that have converged are frozen by the batched loop).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp


class FistaResult(NamedTuple):
    """x: the solution; gap: its certificate; n_iter: iterations run."""

    x: Any
    gap: jax.Array
    n_iter: jax.Array


def _vdot(a: Any, b: Any) -> jax.Array:
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def fista(
    grad: Callable[[Any], Any],
    prox: Callable[[Any], Any],
    certificate: Callable[[Any], jax.Array],
    x0: Any,
    step: jax.Array,
    tol: jax.Array,
    max_iter: int,
    check_every: int = 10,
) -> FistaResult:
    """Minimizes f + g from ``x0``; ``prox(v)`` is prox of ``step * g``.

    Momentum restarts whenever it points against the last step (O'Donoghue and
    Candès 2015, gradient scheme). The certificate is evaluated every
    ``check_every`` iterations; the loop stops once it is <= ``tol`` or after
    ``max_iter`` iterations (rounded up to a multiple of ``check_every``).
    """

    def inner(_: Any, s: tuple[Any, Any, jax.Array]) -> tuple[Any, Any, jax.Array]:
        x, z, t = s
        g = grad(z)
        x_new = prox(jax.tree.map(lambda zi, gi: zi - step * gi, z, g))
        t_new = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
        diff = jax.tree.map(jnp.subtract, x_new, x)
        restart = _vdot(jax.tree.map(jnp.subtract, z, x_new), diff) > 0
        beta = jnp.where(restart, 0, (t - 1) / t_new)
        z_new = jax.tree.map(lambda xn, d: xn + beta * d, x_new, diff)
        return x_new, z_new, jnp.where(restart, jnp.ones_like(t), t_new)

    def cond(s: tuple[Any, ...]) -> jax.Array:
        k, _, _, _, gap = s
        return (k < max_iter) & (gap > tol)

    def body(s: tuple[Any, ...]) -> tuple[Any, ...]:
        k, x, z, t, _ = s
        x, z, t = jax.lax.fori_loop(0, check_every, inner, (x, z, t))
        return k + check_every, x, z, t, certificate(x)

    t0 = jnp.ones((), jnp.asarray(step).dtype)
    k, x, _, _, gap = jax.lax.while_loop(
        cond, body, (jnp.zeros((), jnp.int32), x0, x0, t0, certificate(x0))
    )
    return FistaResult(x, gap, k)
