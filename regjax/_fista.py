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
    """x: the solution; gap: its certificate; n_iter: iterations run;
    grad: the exact gradient at x (the certificate's)."""

    x: Any
    gap: jax.Array
    n_iter: jax.Array
    grad: Any


def _vdot(a: Any, b: Any) -> jax.Array:
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def fista(
    grad: Callable[[Any], Any],
    prox: Callable[[Any], Any],
    certificate: Callable[[Any, Any], jax.Array],
    x0: Any,
    step: jax.Array,
    tol: jax.Array,
    max_iter: int,
    check_every: int = 5,
    grad_near: Callable[[Any, Any, Any], Any] | None = None,
) -> FistaResult:
    """Minimizes f + g from ``x0``; ``prox(v)`` is prox of ``step * g``.

    Momentum restarts whenever it points against the last step (O'Donoghue and
    Candès 2015, gradient scheme). Every ``check_every`` iterations the
    certificate is evaluated at the extrapolated point z, as
    ``certificate(z, grad(z))``: that gradient is the one the next step needs
    anyway, so a check costs no extra product with the data. The loop stops
    once it is <= ``tol`` (returning that z and its gradient) or after ``max_iter`` iterations
    (rounded up to a multiple of ``check_every``).

    ``grad_near(z, a, grad_a)``, if given, estimates grad(z) from a point a
    where the exact gradient is known (a cheaper, lower-precision product).
    Each block of ``check_every`` iterations is anchored at the point its
    certificate was checked at: the steps inside the block use the estimate
    and the block's last step the exact gradient, so every certificate and
    every anchor is exact and estimation errors never accumulate.
    """

    def momentum_step(x: Any, z: Any, gz: Any, t: jax.Array) -> tuple[Any, ...]:
        x_new = prox(jax.tree.map(lambda zi, gi: zi - step * gi, z, gz))
        t_new = (1 + jnp.sqrt(1 + 4 * t * t)) / 2
        diff = jax.tree.map(jnp.subtract, x_new, x)
        restart = _vdot(jax.tree.map(jnp.subtract, z, x_new), diff) > 0
        beta = jnp.where(restart, 0, (t - 1) / t_new)
        z_new = jax.tree.map(lambda xn, d: xn + beta * d, x_new, diff)
        return x_new, z_new, jnp.where(restart, jnp.ones_like(t), t_new)

    def cond(s: tuple[Any, ...]) -> jax.Array:
        k, _, _, _, _, gap = s
        return (k < max_iter) & (gap > tol)

    def body(s: tuple[Any, ...]) -> tuple[Any, ...]:
        k, x, z, gz, t, _ = s
        if grad_near is None:

            def inner(_: Any, c: tuple[Any, ...]) -> tuple[Any, ...]:
                x, z, t = momentum_step(*c)
                return x, z, grad(z), t

            x, z, gz, t = jax.lax.fori_loop(0, check_every, inner, (x, z, gz, t))
        else:
            anchor, g_anchor = z, gz

            def inner(_: Any, c: tuple[Any, ...]) -> tuple[Any, ...]:
                x, z, t = momentum_step(*c)
                return x, z, grad_near(z, anchor, g_anchor), t

            x, z, gz, t = jax.lax.fori_loop(0, check_every - 1, inner, (x, z, gz, t))
            x, z, t = momentum_step(x, z, gz, t)
            gz = grad(z)
        return k + check_every, x, z, gz, t, certificate(z, gz)

    t0 = jnp.ones((), jnp.asarray(step).dtype)
    g0 = grad(x0)
    init = (jnp.zeros((), jnp.int32), x0, x0, g0, t0, certificate(x0, g0))
    k, _, z, gz, _, gap = jax.lax.while_loop(cond, body, init)
    return FistaResult(z, gap, k, gz)
