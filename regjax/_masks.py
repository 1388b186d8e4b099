"""Masks: which leaves are regularized. Optax's convention: True = regularize."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax._tree import MaskLike, path_names, path_str, resolve_mask

# Matched against each key on a leaf's path, case-insensitively. A leaf inside a
# normalization layer is never regularized, whatever its own name or rank: in
# layer-stacked (scanned) models a norm scale has shape (n_layers, d), so rank
# alone cannot tell it from a kernel.
_NORM_LAYER = re.compile(
    r"(norm(?!al)|^ln(_?\d+)?$|^ln_|^bn(_?\d+)?$|^bn_|^gn(_?\d+)?$|^batch_stats$)", re.I
)
_EXCLUDED_NAMES = frozenset(
    {"bias", "biases", "b", "offset", "beta", "shift", "scale", "scales", "gamma", "g"}
    | {"mean", "var", "variance", "running_mean", "running_var", "num_batches_tracked"}
)
_WEIGHT_NAMES = frozenset(
    {"kernel", "weight", "weights", "w", "embedding", "embeddings", "embed", "table"}
)


def _is_weight(path: tuple[Any, ...], leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
        return False
    names = path_names(path)
    if any(_NORM_LAYER.search(n) for n in names):
        return False
    last = names[-1].lower() if names else ""
    if last in _EXCLUDED_NAMES:
        return False
    if last in _WEIGHT_NAMES:
        return True
    # An unnamed or unknown leaf (a list of arrays, a custom parameter): matrices
    # and higher-rank kernels are weights; vectors and scalars are not.
    return np.ndim(leaf) >= 2


def _refuse_a_step_count(params: Any, where: str) -> None:
    """A mask function is handed the step count by ``optax.inject_hyperparams``,
    which calls every callable argument as a schedule; its answer (one bool for
    a scalar) would then silently switch the whole transform on or off."""
    if isinstance(params, jax.Array | np.ndarray | np.generic) and np.ndim(params) == 0:
        if np.issubdtype(params.dtype, np.integer):
            raise TypeError(
                f"`{where}` was called with an integer scalar, not a params pytree: "
                "`optax.inject_hyperparams` calls every callable argument with the step "
                "count. List the mask in `static_args`, e.g. `optax.inject_hyperparams("
                "regjax.transforms.decoupled_weight_decay, static_args=('mask',))`."
            )


def weights_only(params: Any) -> Any:
    """Mask that regularizes kernels and embeddings, not biases or norm parameters.

    A leaf is excluded when any key on its path names a normalization layer
    (``LayerNorm_0``, ``BatchNorm_1``, ``norm``, ``ln_f``, ``bn1``, …), or its own
    name is a bias, scale or offset (``bias``, ``b``, ``scale``, ``gamma``,
    ``beta``, ``offset``) or a running statistic. It is included when its
    name is ``kernel``, ``weight``, ``w``, ``embedding`` or ``table``. A leaf with
    any other name (or none, as in a list of arrays) is included when it has
    two or more dimensions. Integer, boolean and complex leaves are never included.
    Under ``optax.inject_hyperparams``, list ``mask`` in ``static_args``: a
    callable argument is otherwise called with the step count (this raises a
    ``TypeError`` rather than regularizing nothing).

    Names, not ranks, decide the known cases, so layer-stacked (scanned)
    parameters, whose norm scales have shape ``(n_layers, d)``, are handled
    right. Works on plain dicts, flax linen variable dicts and flax nnx
    ``State``.

    Args:
      params: a pytree of parameters.

    Returns:
      A pytree of Python bools with the structure of ``params``. Pass the
      function itself as ``mask=`` to regjax or to any optax ``mask=``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)},
      ...           "LayerNorm_0": {"scale": jnp.ones(2)}}
      >>> regjax.masks.weights_only(params)
      {'LayerNorm_0': {'scale': False}, 'dense': {'bias': False, 'kernel': True}}
      >>> float(regjax.penalties.l2(params, mask=regjax.masks.weights_only))
      6.0

    References:
      Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay
      Regularization. ICLR. https://arxiv.org/abs/1711.05101 (no decay on
      biases and normalization parameters is the common practice they follow).
    """
    _refuse_a_step_count(params, "regjax.masks.weights_only")
    return jax.tree_util.tree_map_with_path(_is_weight, params)


def by_path(pattern: str | re.Pattern[str]) -> Callable[[Any], Any]:
    """Mask that regularizes the leaves whose key path matches a regex.

    A leaf's path is its keys joined by ``/``: ``params/Dense_0/kernel`` for
    flax linen, ``layers/0/kernel`` for an nnx ``State``, ``0/1`` for a list
    of tuples. The regex is searched (``re.search``), not fully matched.

    Args:
      pattern: a regular expression, as a string or compiled.

    Returns:
      A callable ``params -> pytree of bools``, usable as ``mask=`` in regjax
      and optax.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> params = {"encoder": {"kernel": jnp.ones(2)}, "head": {"kernel": jnp.ones(2)}}
      >>> regjax.masks.by_path(r"^head/")(params)
      {'encoder': {'kernel': False}, 'head': {'kernel': True}}
      >>> regjax.masks.by_path(r"^(?!head/)")(params)  # everything but the head
      {'encoder': {'kernel': True}, 'head': {'kernel': False}}

    References:
      optax authors, ``optax.masked``,
      https://optax.readthedocs.io/en/latest/api/optimizer_wrappers.html
    """
    if not isinstance(pattern, str | re.Pattern):
        raise TypeError(
            f"`regjax.masks.by_path(pattern=...)` must be a regex string; got "
            f"{type(pattern).__name__}."
        )
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"`regjax.masks.by_path(pattern=...)` is not a valid regex: {e}.") from e

    def mask_fn(params: Any) -> Any:
        _refuse_a_step_count(params, f"regjax.masks.by_path({pattern!r})")
        return jax.tree_util.tree_map_with_path(
            lambda path, _: regex.search(path_str(path)) is not None, params
        )

    return mask_fn


def describe(mask: MaskLike, params: Any) -> str:
    """A readable table of every leaf, its shape and whether it is regularized.

    Args:
      mask: a pytree of bools (or a prefix of one), a callable
        ``params -> pytree of bools``, or None (everything regularized).
      params: the pytree of parameters the mask applies to.

    Returns:
      The table as a string, with a closing line of totals. Print it.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> params = {"dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}}
      >>> print(regjax.masks.describe(regjax.masks.weights_only, params))
      leaf          shape   dtype    regularized
      dense/bias    (2,)    float32  no
      dense/kernel  (3, 2)  float32  yes
      regularized: 1 of 2 leaves, 6 of 8 parameters

    References:
      optax authors, ``optax.masked``,
      https://optax.readthedocs.io/en/latest/api/optimizer_wrappers.html
    """
    flags = jax.tree.leaves(resolve_mask(mask, params, where="regjax.masks.describe"))
    rows = [("leaf", "shape", "dtype", "regularized")]
    n_leaves = n_params = reg_leaves = reg_params = 0
    for (path, leaf), flag in zip(jax.tree_util.tree_flatten_with_path(params)[0], flags):
        size = int(np.size(leaf))
        dtype = leaf.dtype if hasattr(leaf, "dtype") else np.asarray(leaf).dtype
        rows.append(
            (
                path_str(path) or "<root>",
                str(tuple(np.shape(leaf))),
                str(dtype),
                "yes" if flag else "no",
            )
        )
        n_leaves += 1
        n_params += size
        reg_leaves += bool(flag)
        reg_params += size if flag else 0
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(
        f"regularized: {reg_leaves} of {n_leaves} leaves, {reg_params} of {n_params} parameters"
    )
    return "\n".join(lines)
