"""Hyperparameter grids: named axes, one flat member axis, and the shape to go back."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np


@jax.tree_util.register_pytree_node_class
class Grid(Mapping):
    """A product grid of hyperparameters with one flat member axis.

    A ``Grid`` is a read-only mapping ``name -> array of shape (n_members,)``
    and a pytree (its leaves are those arrays), so it can be passed straight to
    ``jax.vmap``. It remembers the shape of the product (one length per named
    axis, in the order given) for reshaping results. Member ``i`` sits at
    ``np.unravel_index(i, grid.shape)``: the last axis varies fastest.

    Attributes:
      names: the axis names, in order.
      shape: the length of each axis.
      axes: the 1-D values of each axis (before the product).

    Examples:
      >>> import regjax
      >>> g = regjax.sweep.grid(lr=[0.1, 0.01], weight_decay=[0.0, 1e-4, 1e-3])
      >>> len(g), g.shape
      (6, (2, 3))
      >>> g["lr"]
      array([0.1 , 0.1 , 0.1 , 0.01, 0.01, 0.01], dtype=float32)
      >>> g.member(4)
      {'lr': 0.01, 'weight_decay': 0.0001}

    References:
      Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter
      Optimization. JMLR 13. https://jmlr.org/papers/v13/bergstra12a.html
    """

    def __init__(
        self,
        axes: Mapping[str, np.ndarray],
        values: Mapping[str, Any] | None = None,
        exact_axes: Mapping[str, np.ndarray] | None = None,
    ):
        self.axes = {k: np.asarray(v) for k, v in axes.items()}
        self.names = tuple(self.axes)
        self.shape = tuple(len(v) for v in self.axes.values())
        if values is None:
            mesh = np.meshgrid(*self.axes.values(), indexing="ij")
            values = {k: m.reshape(-1) for k, m in zip(self.names, mesh, strict=True)}
        self._values = dict(values)
        # The values the grid was built from (float64/int64), before the cast to the
        # dtype train_fn sees; None for a grid built from its cast axes alone.
        self._exact_axes = (
            None if exact_axes is None else {k: np.asarray(exact_axes[k]) for k in self.names}
        )

    # Mapping interface ---------------------------------------------------------------
    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return math.prod(self.shape)

    @property
    def n_members(self) -> int:
        return len(self)

    def __repr__(self) -> str:
        axes = ", ".join(f"{k}: {len(v)}" for k, v in self.axes.items())
        return f"Grid({axes}; {len(self)} members)"

    # pytree --------------------------------------------------------------------------
    def tree_flatten(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        children = tuple(self._values[k] for k in self.names)
        exact = self._exact_axes
        aux = (
            self.names,
            tuple(tuple(v.tolist()) for v in self.axes.values()),
            tuple(str(v.dtype) for v in self.axes.values()),
            # Python floats and ints hold float64/int64 values exactly, so the grid that
            # comes back still reports the values it was built from.
            None
            if exact is None
            else tuple((tuple(exact[k].tolist()), str(exact[k].dtype)) for k in self.names),
        )
        return children, aux

    @classmethod
    def tree_unflatten(cls, aux: tuple[Any, ...], children: tuple[Any, ...]) -> Grid:
        names, axes_values, dtypes, exact = aux
        axes = {n: np.asarray(v, d) for n, v, d in zip(names, axes_values, dtypes, strict=True)}
        values = dict(zip(names, children, strict=True))
        exact_axes = None
        if exact is not None and _unchanged(axes, values):
            exact_axes = {n: np.asarray(v, d) for n, (v, d) in zip(names, exact, strict=True)}
        return cls(axes, values, exact_axes)

    # helpers -------------------------------------------------------------------------
    def member(self, index: int) -> dict[str, float]:
        """The hyperparameters of one member, as Python scalars."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"member {index} out of range for {len(self)} members")
        exact = self._exact_axes
        if exact is not None:
            # the values the grid was built from, not their float32 images
            at = np.unravel_index(index % len(self), self.shape)
            return {k: exact[k][i].item() for k, i in zip(self.names, at, strict=True)}
        return {k: np.asarray(self._values[k])[index].item() for k in self.names}

    def reshape(self, x: Any) -> Any:
        """Reshapes the leading member axis of every leaf of ``x`` to ``self.shape``."""
        return jax.tree.map(lambda a: np.asarray(a).reshape(self.shape + np.shape(a)[1:]), x)

    def members(self) -> Iterator[dict[str, float]]:
        for i in range(len(self)):
            yield self.member(i)


def _unchanged(axes: Mapping[str, np.ndarray], values: Mapping[str, Any]) -> bool:
    """True if ``values`` are still the product of ``axes`` (not mapped, not traced)."""
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    for product, value in zip(mesh, values.values(), strict=True):
        if not isinstance(value, np.ndarray | jax.Array) or isinstance(value, jax.core.Tracer):
            return False
        value = np.asarray(value)
        if value.dtype != product.dtype or not np.array_equal(value, product.reshape(-1)):
            return False
    return True


def grid(**axes: Any) -> Grid:
    """Builds a product grid over named hyperparameter axes.

    Each keyword is one axis: a 1-D sequence of values. The grid is their
    Cartesian product, flattened into one member axis (the last axis varies
    fastest), and remembers its shape. Floating values are fed to the jitted,
    vmapped ``train_fn`` as float32 and integers as int32 (float64 and int64
    with ``jax_enable_x64``); a value that does not fit raises rather than
    wrapping. :meth:`Grid.member` returns the values the grid was built from.

    Args:
      **axes: ``name=values``, each a non-empty 1-D sequence of numbers.

    Returns:
      A :class:`Grid`.

    Examples:
      >>> import numpy as np
      >>> import regjax
      >>> g = regjax.sweep.grid(weight_decay=np.logspace(-5, -1, 5), rate=[0.0, 0.5])
      >>> g.shape, len(g)
      ((5, 2), 10)
      >>> g.member(3)
      {'weight_decay': 0.0001, 'rate': 0.5}

    References:
      Bergstra, J. and Bengio, Y. (2012). Random Search for Hyper-Parameter
      Optimization. JMLR 13. https://jmlr.org/papers/v13/bergstra12a.html
    """
    where = "regjax.sweep.grid"
    if not axes:
        raise ValueError(
            f"`{where}()` needs at least one axis, e.g. `grid(weight_decay=[1e-4, 1e-3])`."
        )
    clean = {}
    exact_axes = {}
    for name, values in axes.items():
        if isinstance(values, jax.core.Tracer):
            raise TypeError(f"`{where}({name}=...)` must be concrete values, not traced.")
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise ValueError(
                f"`{where}({name}=...)` must be a 1-D sequence of values; got shape {arr.shape}."
            )
        if arr.size == 0:
            raise ValueError(f"`{where}({name}=...)` is empty; give at least one value.")
        if arr.dtype == np.bool_:
            arr = arr.astype(np.int64)
        x64 = bool(jax.config.jax_enable_x64)
        if np.issubdtype(arr.dtype, np.floating):
            exact = arr.astype(np.float64)
            if not np.all(np.isfinite(exact)):
                raise ValueError(f"`{where}({name}=...)` holds NaN or inf.")
            if not x64 and np.any(np.abs(exact) > np.finfo(np.float32).max):
                raise ValueError(
                    f"`{where}({name}=...)` holds values beyond float32's range; "
                    "enable float64 with `jax.config.update('jax_enable_x64', True)`."
                )
            if not x64:
                tiny = np.finfo(np.float32).tiny
                if np.any((exact != 0) & (np.abs(exact) < tiny)):
                    raise ValueError(
                        f"`{where}({name}=...)` holds nonzero values below float32's smallest "
                        f"normal number {tiny:.3g}, which float32 rounds to zero or to few "
                        "digits; enable float64 with "
                        "`jax.config.update('jax_enable_x64', True)`, or rescale the axis."
                    )
                cast = exact.astype(np.float32)
                if len(np.unique(cast)) < len(np.unique(exact)):
                    raise ValueError(
                        f"`{where}({name}=...)` holds distinct values that are one value in "
                        "float32, so their members would be the same run; enable float64 "
                        "with `jax.config.update('jax_enable_x64', True)`, or drop one."
                    )
            arr = exact if x64 else exact.astype(np.float32)
        elif np.issubdtype(arr.dtype, np.integer):
            exact = arr
            info = np.iinfo(np.int64 if x64 else np.int32)
            if arr.min() < info.min or arr.max() > info.max:
                raise ValueError(
                    f"`{where}({name}=...)` holds integers beyond {info.dtype}'s range "
                    f"[{info.min}, {info.max}]; "
                    + (
                        "pass smaller values."
                        if x64
                        else "enable 64-bit integers with "
                        "`jax.config.update('jax_enable_x64', True)`."
                    )
                )
            arr = arr.astype(info.dtype)
        else:
            raise TypeError(f"`{where}({name}=...)` must hold numbers; got dtype {arr.dtype}.")
        exact_axes[name] = exact
        clean[name] = arr
    return Grid(clean, exact_axes=exact_axes)
