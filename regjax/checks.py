"""Opt-in runtime checks for traced hyperparameters.

Concrete bad values (a negative Python float, an ``l1_ratio`` of 1.5) raise a
``ValueError`` as soon as a regjax function sees them. A traced value, such as
one member of a vmapped λ grid, cannot raise at trace time. Wrap the function
that receives it with :func:`checkify` to get those checks as a
``jax.experimental.checkify`` error instead; under ``jax.vmap`` the error names
the grid member that is bad, and ``regjax.sweep.run(checkify(train_fn), ...)``
raises a ``ValueError`` naming the bad members' indices and grid values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jax.experimental import checkify as _checkify

from regjax._checks import traced_checks_enabled as _traced_checks_enabled

__all__ = ["checkify"]


def checkify(fn: Callable[..., Any]) -> Callable[..., tuple[_checkify.Error, Any]]:
    """Turns on regjax's argument checks for traced values inside ``fn``.

    Returns a function with ``fn``'s signature that returns ``(error, out)``,
    exactly like ``jax.experimental.checkify.checkify``. Call
    ``error.throw()`` (outside jit) to raise, or ``error.get()`` for the
    message. Vmap the *checkified* function, ``jax.vmap(checkify(fn))``, and the
    message says ``at mapped index i`` for each bad grid member.

    The checks are added while ``fn`` is traced, so wrap the un-jitted
    function: ``jax.jit(regjax.checks.checkify(fn))``, not
    ``regjax.checks.checkify(jax.jit(fn))`` (the inner jit may reuse a trace
    made without checks).

    Args:
      fn: any function that calls regjax with possibly traced hyperparameters.

    Returns:
      The checkified function, returning ``(error, out)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> def objective(lam):
      ...     w = jnp.array([1.0, -2.0])
      ...     return jnp.sum(regjax.prox.l1(w, lam))
      >>> err, out = jax.vmap(regjax.checks.checkify(objective))(jnp.array([0.5, -1.0]))
      >>> print(err.get().split(":")[0])
      at mapped index 1

    References:
      JAX authors, "The checkify transformation",
      https://docs.jax.dev/en/latest/debugging/checkify_guide.html
    """

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> tuple[_checkify.Error, Any]:
        with _traced_checks_enabled():
            return _checkify.checkify(fn, errors=_checkify.user_checks)(*args, **kwargs)

    return wrapped
