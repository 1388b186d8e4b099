"""Pytree plumbing shared by penalties, prox and transforms: leaf paths, mask
resolution, per-leaf strengths and the masked sum of per-leaf terms."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_float_leaf

# nnx Variables are pytrees whose single child sits under the attribute
# `value`; skipping it keeps paths the same as the module's attribute names.
_TRANSPARENT_ATTRS = frozenset({"value", "raw_value"})


def key_name(entry: Any) -> str | None:
    """The name one path entry contributes, or None for a transparent one."""
    if isinstance(entry, jax.tree_util.DictKey):
        return str(entry.key)
    if isinstance(entry, jax.tree_util.GetAttrKey):
        return None if entry.name in _TRANSPARENT_ATTRS else entry.name
    if isinstance(entry, jax.tree_util.SequenceKey):
        return str(entry.idx)
    if isinstance(entry, jax.tree_util.FlattenedIndexKey):
        return str(entry.key)
    return str(entry)


def path_names(path: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple(n for n in map(key_name, path) if n is not None)


def path_str(path: tuple[Any, ...]) -> str:
    return "/".join(path_names(path))


MaskLike = Any  # a pytree of bools, a prefix of one, a callable, or None


def resolve_mask(mask: MaskLike, params: Any, *, where: str) -> Any:
    """Expands an optax-style mask to a pytree of Python bools shaped like params."""
    if mask is None:
        return jax.tree.map(lambda _: True, params)
    if callable(mask):
        mask = mask(params)

    def expand(m: Any, sub: Any) -> Any:
        if isinstance(m, jax.core.Tracer):
            raise TypeError(
                f"`{where}(mask=...)` must hold Python or NumPy bools, not traced values: "
                "a mask chooses which leaves are regularized, a structural choice."
            )
        arr = np.asarray(m)
        if arr.ndim != 0 or arr.dtype != np.bool_:
            raise TypeError(
                f"`{where}(mask=...)` must hold one bool per leaf (or per subtree); got "
                f"{type(m).__name__} with shape {arr.shape} and dtype {arr.dtype}. Masks "
                "choose whole leaves, as in optax; to zero single entries, multiply the "
                "params by a 0/1 array first."
            )
        flag = bool(arr)
        return jax.tree.map(lambda _: flag, sub)

    try:
        return jax.tree.map(expand, mask, params)
    except (ValueError, TypeError) as e:
        if isinstance(e, TypeError) and str(e).startswith(f"`{where}"):
            raise
        raise ValueError(
            f"`{where}(mask=...)` must have the structure of the params (or a prefix of it); "
            f"mask is {jax.tree.structure(mask)} but params are {jax.tree.structure(params)}. "
            "Build it from the params, e.g. `regjax.masks.by_path(...)`, or pass a callable."
        ) from e


def strength_tree(strength: Any, params: Any, *, where: str, name: str) -> Any:
    """Broadcasts a scalar strength, or a prefix pytree of strengths, over params."""
    if jax.tree_util.treedef_is_leaf(jax.tree.structure(strength)):
        if strength is None:
            raise ValueError(f"`{where}({name}=...)` is None; pass a number or an array.")
        return jax.tree.map(lambda _: strength, params)
    try:
        return jax.tree.map(lambda s, sub: jax.tree.map(lambda _: s, sub), strength, params)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"`{where}({name}=...)` must be a scalar, or a pytree of strengths with the "
            f"structure of the params (or a prefix of it); got {jax.tree.structure(strength)} "
            f"for params {jax.tree.structure(params)}."
        ) from e


def accumulation_dtype(dtype: Any) -> np.dtype:
    """At least float32, so a bf16 model's penalty is not summed in bf16.

    Chosen explicitly (not by ``jnp.promote_types``) so that it works under
    ``jax_numpy_dtype_promotion="strict"``, where bf16 and f32 do not promote."""
    dtype = np.dtype(dtype)
    return dtype if dtype.itemsize >= 4 else np.dtype(np.float32)


def _widest(dtypes: list[Any]) -> np.dtype:
    """The widest of several floating dtypes, without implicit promotion."""
    return max((np.dtype(d) for d in dtypes), key=lambda d: d.itemsize)


def masked_sum(
    term: Callable[[jax.Array, str], jax.Array],
    params: Any,
    mask: MaskLike,
    *,
    where: str,
) -> jax.Array:
    """Σ over regularized leaves of ``term(leaf, path)``, each leaf upcast to >= float32.

    Every leaf is validated before any term is computed, so a bad leaf raises
    the same error however the leaves are ordered."""
    flags = resolve_mask(mask, params, where=where)
    leaves_with_path = jax.tree_util.tree_flatten_with_path(params)[0]
    flag_leaves = jax.tree.leaves(flags)
    selected = [
        (path_str(path), jnp.asarray(leaf))
        for (path, leaf), flag in zip(leaves_with_path, flag_leaves, strict=True)
        if flag
    ]
    for path, leaf in selected:
        check_float_leaf(leaf, where=where, name="params", path=path)
    terms = [term(leaf.astype(accumulation_dtype(leaf.dtype)), path) for path, leaf in selected]
    if not terms:
        return jnp.zeros((), jnp.float32)
    out_dtype = _widest([t.dtype for t in terms])
    return functools.reduce(jnp.add, [t.astype(out_dtype) for t in terms])


def map_masked(
    fn: Callable[..., jax.Array],
    params: Any,
    mask: MaskLike,
    *extra: Any,
    where: str,
) -> Any:
    """Applies ``fn(leaf, path, *extra_leaves)`` to regularized leaves; others pass through."""
    flags = resolve_mask(mask, params, where=where)

    def one(path: Any, leaf: Any, flag: bool, *rest: Any) -> Any:
        if not flag:
            return leaf
        check_float_leaf(leaf, where=where, name="x", path=path_str(path))
        return fn(jnp.asarray(leaf), path_str(path), *rest)

    return jax.tree_util.tree_map_with_path(one, params, flags, *extra)
