"""Plumbing shared by the optax transforms in ``regjax.transforms``.

A hyperparameter is a Python number, a jax array (possibly traced), a pytree of
per-leaf values (where the transform allows it) or an optax schedule, a
callable of the int32 step count kept in the transform's state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from regjax._checks import check_nonnegative, check_tree_nonnegative

_NUMERIC = (int, float, np.number, np.ndarray, jax.Array)


def _kind_error(value: Any, *, where: str, name: str, per_leaf: bool) -> TypeError:
    tree = ", a pytree of per-leaf values" if per_leaf else ""
    return TypeError(
        f"`{where}({name}=...)` must be a number, a jax array{tree} or an optax schedule "
        f"(a callable of the step count); got {type(value).__name__}."
    )


def check_hyperparam(value: Any, *, where: str, name: str, per_leaf: bool = False) -> None:
    """Validates a nonnegative hyperparameter at factory time.

    Schedules are checked when evaluated (see :func:`evaluate`)."""
    if callable(value):
        return
    if isinstance(value, bool) or value is None:
        raise _kind_error(value, where=where, name=name, per_leaf=per_leaf)
    if isinstance(value, _NUMERIC):
        check_nonnegative(value, where=where, name=name)
        if np.ndim(value) != 0 and not per_leaf:
            raise ValueError(
                f"`{where}({name}=...)` must be a scalar; got shape {np.shape(value)}. To sweep "
                "a grid of values, `jax.vmap` over a function that builds the transform."
            )
        return
    if not per_leaf or isinstance(value, str | bytes):
        raise _kind_error(value, where=where, name=name, per_leaf=per_leaf)
    for leaf in jax.tree.leaves(value):
        if not isinstance(leaf, _NUMERIC) or isinstance(leaf, bool):
            raise _kind_error(leaf, where=where, name=name, per_leaf=per_leaf)
    check_tree_nonnegative(value, where=where, name=name)


def evaluate(value: Any, count: jax.Array, *, where: str, name: str) -> Any:
    """The hyperparameter's value at step ``count``: a schedule is called, others pass."""
    if callable(value):
        value = value(count)
        check_tree_nonnegative(value, where=where, name=name)
    return value


def require_params(params: Any, *, where: str) -> None:
    if params is None:
        raise ValueError(
            f"`{where}(...).update` needs the current parameters: call "
            "`update(updates, state, params)`."
        )


def reject_none_updates(updates: Any, *, where: str, why: str) -> None:
    """ValueError if ``updates`` is None or holds None leaves (optax's "no update")."""
    if updates is None or any(u is None for u in jax.tree.leaves(updates, is_leaf=_is_none)):
        raise ValueError(
            f"`{where}(...).update(updates=...)` holds None, optax's marker for params "
            f"without an update; {why}"
        )


def _is_none(x: Any) -> bool:
    return x is None


def increment(count: jax.Array) -> jax.Array:
    return optax.safe_increment(count)


def zero_count() -> jax.Array:
    return jnp.zeros([], jnp.int32)


def as_dtype(value: Any, dtype: Any) -> jax.Array:
    """A hyperparameter value cast explicitly to a leaf's dtype (strict promotion safe)."""
    return jnp.asarray(value).astype(dtype)


Schedule = Callable[[jax.Array], Any]
