"""Penalties Ω(params) -> scalar over any pytree. The strength is never inside:
users write ``loss(params) + lam * l1(params)``, so λ may be traced."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from regjax._checks import check_unit_interval
from regjax._groups import GroupSpec, safe_norm
from regjax._tree import MaskLike, masked_sum


def _abs(x: jax.Array) -> jax.Array:
    """|x| whose derivative is sign(x): 0 at x = 0, the minimum-norm subgradient.

    ``jax.grad(jnp.abs)(0.0)`` is 1, which would push exact zeros away from 0."""
    return x * jnp.sign(x)


def l1(params: Any, *, mask: MaskLike = None) -> jax.Array:
    r"""The L1 norm, Σ|w|, summed over the regularized leaves.

    .. math:: \Omega(w) = \sum_i |w_i|

    Its gradient under ``jax.grad`` is ``sign(w)``, which is 0 at ``w = 0`` (a
    valid subgradient). Plain (sub)gradient descent on it does not produce
    exact zeros; for those use ``regjax.prox.l1`` or
    ``regjax.transforms.proximal_l1``.

    Args:
      params: a pytree of floating arrays.
      mask: which leaves to regularize: a pytree of bools (or a prefix), a
        callable ``params -> pytree of bools`` such as
        ``regjax.masks.weights_only``, or None for all leaves.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> w = {"kernel": jnp.array([[1.0, -2.0]]), "bias": jnp.array([3.0])}
      >>> float(regjax.penalties.l1(w))
      6.0
      >>> float(regjax.penalties.l1(w, mask=regjax.masks.weights_only))
      3.0
      >>> jax.grad(regjax.penalties.l1)(jnp.array([0.0, -2.0]))  # subgradient 0 at 0
      Array([ 0., -1.], dtype=float32)
      >>> loss = lambda p, lam: lam * regjax.penalties.l1(p)
      >>> jax.vmap(loss, in_axes=(None, 0))(w, jnp.array([0.1, 1.0]))
      Array([0.6, 6. ], dtype=float32)

    References:
      Tibshirani, R. (1996). Regression Shrinkage and Selection via the Lasso.
      JRSS B 58(1). https://doi.org/10.1111/j.2517-6161.1996.tb02080.x
    """
    return masked_sum(lambda x, _: jnp.sum(_abs(x)), params, mask, where="regjax.penalties.l1")


def l2(params: Any, *, mask: MaskLike = None) -> jax.Array:
    r"""The squared L2 norm, Σw² = ‖w‖₂², summed over the regularized leaves.

    .. math:: \Omega(w) = \sum_i w_i^2, \qquad \nabla\Omega(w) = 2w

    No ½: this is the convention of ridge regression and of scikit-learn's
    ``Ridge`` (``alpha * l2(w)`` is its penalty). Relation to weight decay:
    one SGD step with learning rate η on ``loss + lam * l2(w)`` is
    ``w ← (1 − 2ηλ)·w − η∇loss``, i.e. weight decay with per-step factor
    ``2ηλ``. That equivalence holds for SGD only; with adaptive optimizers
    such as Adam the L2 gradient is rescaled and it is *not* weight decay
    (use ``regjax.transforms.decoupled_weight_decay``).

    Args:
      params: a pytree of floating arrays.
      mask: which leaves to regularize (see ``regjax.masks``); None for all.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> w = jnp.array([1.0, -2.0])
      >>> float(regjax.penalties.l2(w))
      5.0
      >>> jax.grad(regjax.penalties.l2)(w)
      Array([ 2., -4.], dtype=float32)

    References:
      Hoerl, A. E. and Kennard, R. W. (1970). Ridge Regression: Biased
      Estimation for Nonorthogonal Problems. Technometrics 12(1).
      https://doi.org/10.1080/00401706.1970.10488634
    """
    return masked_sum(lambda x, _: jnp.sum(x * x), params, mask, where="regjax.penalties.l2")


def elastic_net(params: Any, l1_ratio: Any, *, mask: MaskLike = None) -> jax.Array:
    r"""The elastic-net penalty in scikit-learn's parametrization.

    .. math:: \Omega(w) = r\,\|w\|_1 + \tfrac{1}{2}(1 - r)\,\|w\|_2^2

    with ``r = l1_ratio``, so ``alpha * elastic_net(w, r)`` is exactly the
    penalty of ``sklearn.linear_model.ElasticNet(alpha, l1_ratio=r)``. Note the
    ½ on the squared norm, which ``penalties.l2`` does not have:
    ``elastic_net(w, 0) == 0.5 * l2(w)``.

    Args:
      params: a pytree of floating arrays.
      l1_ratio: mixing weight r in [0, 1]; may be traced (vmap over it).
      mask: which leaves to regularize (see ``regjax.masks``); None for all.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> w = jnp.array([1.0, -2.0])
      >>> float(regjax.penalties.elastic_net(w, 0.5))  # 0.5*3 + 0.25*5
      2.75

    References:
      Zou, H. and Hastie, T. (2005). Regularization and Variable Selection via
      the Elastic Net. JRSS B 67(2). https://doi.org/10.1111/j.1467-9868.2005.00503.x
    """
    where = "regjax.penalties.elastic_net"
    check_unit_interval(l1_ratio, where=where, name="l1_ratio")

    def term(x: jax.Array, _: str) -> jax.Array:
        r = jnp.asarray(l1_ratio, x.dtype)
        return r * jnp.sum(_abs(x)) + 0.5 * (1 - r) * jnp.sum(x * x)

    return masked_sum(term, params, mask, where=where)


def group_lasso(
    params: Any,
    *,
    axis: int | None = 0,
    group_ids: Any = None,
    l1_ratio: Any = 0.0,
    mask: MaskLike = None,
) -> jax.Array:
    r"""The group-lasso penalty, Σ_g √|g|·‖w_g‖₂, optionally sparse-group.

    .. math::
       \Omega(w) = (1 - r) \sum_g \sqrt{|g|}\,\|w_g\|_2 + r\,\|w\|_1

    with ``r = l1_ratio`` (0 by default: plain group lasso; r > 0 is the
    sparse-group lasso of Simon et al.). ``|g|`` is the number of elements in
    group g, so groups of different sizes are penalized fairly.

    Groups, per leaf: by default group i is ``leaf[i]`` (the i-th row of a
    ``(in, out)`` kernel: everything one input feature feeds), and a 1-D leaf
    is a single group. ``axis=k`` takes slices along axis k instead;
    ``axis=None`` makes every leaf one group. ``group_ids`` assigns slice j
    along ``axis`` to group ``group_ids[j]``, so slices can share a group
    (a 1-D leaf is then grouped element by element). The gradient is finite
    at zero groups (0 there, a valid subgradient).

    Args:
      params: a pytree of floating arrays.
      axis: the axis whose slices are the groups, or None.
      group_ids: optional 1-D sequence of non-negative ints, one per slice
        along ``axis``; static (NumPy or Python), applied to every
        regularized leaf.
      l1_ratio: weight r in [0, 1] of the added L1 term; may be traced.
      mask: which leaves to regularize (see ``regjax.masks``); None for all.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> kernel = jnp.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
      >>> float(regjax.penalties.group_lasso(kernel))  # sqrt(2) * (5 + 0 + 1)
      8.485...
      >>> w = jnp.array([3.0, 4.0, 1.0])
      >>> float(regjax.penalties.group_lasso(w, group_ids=[0, 0, 1]))  # sqrt(2)*5 + 1
      8.071...

    References:
      Yuan, M. and Lin, Y. (2006). Model Selection and Estimation in Regression
      with Grouped Variables. JRSS B 68(1).
      https://doi.org/10.1111/j.1467-9868.2005.00532.x
      Simon, N., Friedman, J., Hastie, T. and Tibshirani, R. (2013). A
      Sparse-Group Lasso. JCGS 22(2). https://doi.org/10.1080/10618600.2012.681250
    """
    where = "regjax.penalties.group_lasso"
    check_unit_interval(l1_ratio, where=where, name="l1_ratio")

    def term(x: jax.Array, path: str) -> jax.Array:
        spec = GroupSpec(x.shape, axis, group_ids, where=where, path=path)
        sq, sizes = spec.group_sq_norms(x)
        r = jnp.asarray(l1_ratio, x.dtype)
        group_part = jnp.sum(jnp.sqrt(sizes) * safe_norm(sq))
        return (1 - r) * group_part + r * jnp.sum(_abs(x))

    return masked_sum(term, params, mask, where=where)


def _singular_values(x: jax.Array, path: str, where: str) -> jax.Array:
    if x.ndim != 2:
        raise ValueError(
            f"`{where}(params=...)`: leaf {path or '<root>'} has shape {x.shape}; only "
            "matrices (2-D leaves) have singular values. Exclude other leaves with `mask=` "
            "(e.g. `regjax.masks.weights_only`) or reshape them (a conv kernel "
            "(h, w, in, out) as (h*w*in, out))."
        )
    return jnp.linalg.svd(x, compute_uv=False)


def nuclear(params: Any, *, mask: MaskLike = None) -> jax.Array:
    r"""The nuclear (trace) norm: Σ of singular values of every matrix leaf.

    .. math:: \Omega(W) = \|W\|_* = \sum_i \sigma_i(W)

    Computed exactly with ``jnp.linalg.svd(compute_uv=False)``; its gradient
    ``U Vᵀ`` is finite everywhere, including at ``W = 0``. Every regularized
    leaf must be 2-D: mask out biases and reshape conv kernels.

    Args:
      params: a pytree of floating 2-D arrays (after masking).
      mask: which leaves to regularize (see ``regjax.masks``); None for all.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> float(regjax.penalties.nuclear(jnp.diag(jnp.array([3.0, -1.0]))))
      4.0

    References:
      Fazel, M. (2002). Matrix Rank Minimization with Applications. PhD
      thesis, Stanford University.
      Recht, B., Fazel, M. and Parrilo, P. (2010). Guaranteed Minimum-Rank
      Solutions of Linear Matrix Equations via Nuclear Norm Minimization.
      SIAM Review 52(3). https://doi.org/10.1137/070697835
    """
    where = "regjax.penalties.nuclear"
    return masked_sum(
        lambda x, path: jnp.sum(_singular_values(x, path, where)), params, mask, where=where
    )


def spectral(params: Any, *, mask: MaskLike = None) -> jax.Array:
    r"""The spectral norm penalty: Σ over matrix leaves of the largest singular value.

    .. math:: \Omega(\{W_l\}) = \sum_l \sigma_{\max}(W_l)

    Computed exactly, as the first singular value of
    ``jnp.linalg.svd(W, compute_uv=False)`` (a full SVD: O(m n min(m, n))).
    Its gradient is ``u₁ v₁ᵀ``. For a cheap running *estimate* inside a
    training loop, as spectral normalization uses, see ``regjax.spectral``
    (power iteration). Every regularized leaf must be 2-D.

    Args:
      params: a pytree of floating 2-D arrays (after masking).
      mask: which leaves to regularize (see ``regjax.masks``); None for all.

    Returns:
      A scalar of at least float32 precision.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> float(regjax.penalties.spectral(jnp.diag(jnp.array([3.0, -1.0]))))
      3.0

    References:
      Yoshida, Y. and Miyato, T. (2017). Spectral Norm Regularization for
      Improving the Generalizability of Deep Learning.
      https://arxiv.org/abs/1705.10941
    """
    where = "regjax.penalties.spectral"
    return masked_sum(
        lambda x, path: _singular_values(x, path, where)[0], params, mask, where=where
    )
