"""Argument validation shared by every public function.

Concrete bad values raise at call time. Traced values cannot raise at trace
time, so their checks are emitted as `jax.experimental.checkify` checks, and
only while :func:`regjax.checks.checkify` is tracing the user's function: the
default path stays free of checks and of their cost.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import checkify as _checkify

_CHECKS_ENABLED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "regjax_checks_enabled", default=False
)


@contextlib.contextmanager
def traced_checks_enabled() -> Iterator[None]:
    token = _CHECKS_ENABLED.set(True)
    try:
        yield
    finally:
        _CHECKS_ENABLED.reset(token)


def is_traced(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


def _format_scalar(v: np.ndarray) -> str:
    v = np.asarray(v)
    if v.ndim == 0:
        return f"{v.item()!r}"
    return np.array2string(v, threshold=8)


def check_numeric(value: Any, *, where: str, name: str) -> None:
    """Raises TypeError unless ``value`` is a real number, array or tracer of one."""
    if isinstance(value, bool) or (hasattr(value, "dtype") and np.dtype(value.dtype) == np.bool_):
        raise TypeError(f"`{where}({name}=...)` must be a real number or array; got a boolean.")
    if isinstance(value, int | float | np.number | np.ndarray | jax.Array):
        dtype = np.result_type(value) if not isinstance(value, jax.Array) else value.dtype
        if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
            raise TypeError(
                f"`{where}({name}=...)` must be a real number or array; got dtype {dtype}."
            )
        return
    raise TypeError(
        f"`{where}({name}=...)` must be a real number or array; got {type(value).__name__}."
    )


def check_value(
    value: Any,
    ok: Callable[[Any], Any],
    constraint: str,
    *,
    where: str,
    name: str,
    report: Callable[[Any], Any] = lambda v: v,
) -> Any:
    """Checks ``ok(value)`` elementwise; returns ``value`` unchanged.

    ``ok`` must work on NumPy and on jax values. ``report`` picks what the
    error message shows (for arrays, usually the offending extreme).
    """
    check_numeric(value, where=where, name=name)
    if is_traced(value):
        if _CHECKS_ENABLED.get():
            arr = jnp.asarray(value)
            _checkify.check(
                jnp.all(ok(arr)),
                f"`{where}({name}=...)` {constraint}; got {{got}}.",
                got=report(arr),
            )
        return value
    arr = np.asarray(value)
    if not np.all(ok(arr)):
        bad = arr[~np.asarray(ok(arr), dtype=bool)] if arr.ndim else arr
        raise ValueError(f"`{where}({name}=...)` {constraint}; got {_format_scalar(bad)}.")
    return value


def check_nonnegative(value: Any, *, where: str, name: str) -> Any:
    """A strength: finite and >= 0."""
    return check_value(
        value,
        lambda v: (v >= 0) & (v < float("inf")),
        "must be finite and >= 0",
        where=where,
        name=name,
        report=lambda v: jnp.min(jnp.where(jnp.isnan(v), jnp.nan, v)),
    )


def check_unit_interval(value: Any, *, where: str, name: str) -> Any:
    """A ratio or probability: in [0, 1]."""
    return check_value(
        value,
        lambda v: (v >= 0) & (v <= 1),
        "must be in [0, 1]",
        where=where,
        name=name,
        report=_farthest_from_half,
    )


def _farthest_from_half(v: jax.Array) -> jax.Array:
    """The entry of ``v`` farthest outside [0, 1] (NaN if any entry is NaN)."""
    flat = jnp.ravel(v)
    if not jnp.issubdtype(flat.dtype, jnp.floating):
        flat = flat.astype(jnp.float32)
    worst = flat[jnp.argmax(jnp.abs(flat - 0.5))]
    return jnp.where(jnp.any(jnp.isnan(flat)), jnp.nan, worst)


def check_tree_nonnegative(tree: Any, *, where: str, name: str) -> Any:
    """A strength that may be a pytree of per-leaf strengths."""
    for leaf in jax.tree.leaves(tree):
        check_nonnegative(leaf, where=where, name=name)
    return tree


def check_float_leaf(leaf: Any, *, where: str, name: str, path: str) -> None:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None:
        dtype = np.result_type(leaf)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            f"`{where}({name}=...)`: leaf {path or '<root>'} has dtype {dtype}; only real floating "
            "leaves can be regularized. Exclude it with `mask=` (for example "
            "`regjax.masks.weights_only`) or cast it to a float dtype."
        )


def check_key(key: Any, *, where: str, name: str = "key") -> jax.Array:
    """Returns ``key`` as a typed key; TypeError unless it is one PRNG key.

    Accepts typed keys (``jax.random.key``) of shape () and raw uint32 keys
    (``jax.random.PRNGKey``) of the default implementation's shape.
    """
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise TypeError(
                f"`{where}({name}=...)` must be a single PRNG key; got a batch of keys of shape "
                f"{key.shape}. Pass one key, or `jax.vmap` over the batch."
            )
        return key
    if isinstance(key, jax.Array | np.ndarray) and dtype == np.uint32 and key.ndim == 1:
        try:
            return jax.random.wrap_key_data(key)
        except (ValueError, TypeError) as e:
            raise TypeError(
                f"`{where}({name}=...)` is a raw uint32 key of shape {key.shape}, which does not "
                "match the default PRNG implementation. Use `jax.random.key(seed)`."
            ) from e
    what = f"an array of dtype {dtype} and shape {np.shape(key)}" if dtype is not None else None
    raise TypeError(
        f"`{where}({name}=...)` must be a PRNG key from `jax.random.key(seed)` (or a raw "
        f"`jax.random.PRNGKey(seed)`); got {what or type(key).__name__}. Randomness in regjax "
        "is explicit: create a key and split it, e.g. with `regjax.stochastic.step_key`."
    )
