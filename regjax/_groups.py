"""Group specifications shared by `penalties.group_lasso` and `prox.group_lasso`.

A leaf's groups are slices along ``axis``: by default slice ``leaf[i]`` is
group i (one input feature of a kernel), and a 1-D leaf is a single group.
``group_ids`` instead assigns slice j along ``axis`` to group ``group_ids[j]``,
so several slices share one group (for example the one-hot columns of one
categorical feature). Groups are structure, so they are static NumPy values.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


class GroupSpec:
    """How one leaf is cut into groups: per-slice groups, or segment ids."""

    def __init__(
        self,
        leaf_shape: tuple[int, ...],
        axis: int | None,
        group_ids: Any,
        *,
        where: str,
        path: str,
    ):
        self.leaf_shape = leaf_shape
        path = path or "<root>"
        ndim = len(leaf_shape)
        if axis is not None and not isinstance(axis, int | np.integer):
            raise TypeError(f"`{where}(axis=...)` must be an int or None; got {axis!r}.")
        if axis is not None and ndim >= 1 and not -ndim <= axis < ndim:
            raise ValueError(
                f"`{where}(axis=...)` is {axis}, out of range for leaf {path} of shape "
                f"{leaf_shape}."
            )
        if ndim == 0 or axis is None or (ndim == 1 and group_ids is None):
            self.axis = None  # the whole leaf is one group
        else:
            self.axis = int(axis) % ndim
        self.ids = None
        self.n_groups = None
        if group_ids is not None:
            if isinstance(group_ids, jax.core.Tracer):
                raise TypeError(
                    f"`{where}(group_ids=...)` must be concrete (a NumPy or Python sequence of "
                    "ints): groups are structure, not a hyperparameter."
                )
            ids = np.asarray(group_ids)
            if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
                raise ValueError(
                    f"`{where}(group_ids=...)` must be a 1-D array of integer ids; got shape "
                    f"{ids.shape} and dtype {ids.dtype}."
                )
            if self.axis is None:
                self.axis = 0
            if ids.shape[0] != leaf_shape[self.axis]:
                raise ValueError(
                    f"`{where}(group_ids=...)` has {ids.shape[0]} ids but leaf {path} has "
                    f"{leaf_shape[self.axis]} slices along axis {self.axis}; give one id per "
                    "slice so the groups cover the leaf."
                )
            if ids.min() < 0:
                raise ValueError(f"`{where}(group_ids=...)` must be >= 0; got {ids.min()}.")
            uniq, dense = np.unique(ids, return_inverse=True)
            self.ids = dense.reshape(-1)
            self.n_groups = len(uniq)

    def group_sq_norms(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(squared norm of each group, size of each group), both 1-D."""
        if self.axis is None:
            return jnp.sum(x * x)[None], jnp.asarray([x.size], x.dtype)
        moved = jnp.moveaxis(x, self.axis, 0)
        per_slice = jnp.sum((moved * moved).reshape(moved.shape[0], -1), axis=1)
        slice_size = moved[0].size
        if self.ids is None:
            return per_slice, jnp.full(per_slice.shape, slice_size, x.dtype)
        sq = jax.ops.segment_sum(per_slice, self.ids, num_segments=self.n_groups)
        counts = np.bincount(self.ids, minlength=self.n_groups) * slice_size
        return sq, jnp.asarray(counts, x.dtype)

    def broadcast_to_leaf(self, per_group: jax.Array, x: jax.Array) -> jax.Array:
        """Spreads a per-group value back over the leaf's elements."""
        if self.axis is None:
            return jnp.broadcast_to(per_group[0], x.shape)
        per_slice = per_group if self.ids is None else per_group[self.ids]
        shape = [1] * x.ndim
        shape[self.axis] = -1
        return per_slice.reshape(shape)


def safe_norm(sq: jax.Array) -> jax.Array:
    """sqrt with a finite (zero) derivative at 0, a valid subgradient of the norm."""
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1)), 0)
