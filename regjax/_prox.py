r"""Proximal operators over pytrees.

``prox_f(v) = argmin_x f(x) + ½‖x − v‖²``, where ``f`` is ``strength`` times the
matching ``regjax.penalties`` function, so each operator is the exact
companion of its penalty. Strengths may be scalars (traced or not) or pytrees
of per-leaf strengths; unmasked leaves pass through unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from regjax._checks import check_tree_nonnegative, check_unit_interval
from regjax._groups import GroupSpec, safe_norm
from regjax._tree import MaskLike, map_masked, strength_tree


def _strengths(strength: Any, x: Any, *, where: str, name: str) -> Any:
    check_tree_nonnegative(strength, where=where, name=name)
    return strength_tree(strength, x, where=where, name=name)


def _soft_threshold(x: jax.Array, t: Any) -> jax.Array:
    # Written with `where` rather than sign(x)·max(|x| − t, 0) so that at t = 0
    # (the identity map) the derivative at x = 0 is 1, not 0; at the kinks
    # |x| = t > 0 it takes the "kept" side, a valid element of the Clarke Jacobian.
    # A NaN entry, or a NaN threshold (a traced one, which no check stops),
    # fails both comparisons; the last branch then gives NaN (x + t) rather
    # than 0, so a diverged run stays visible.
    t = jnp.asarray(t, x.dtype)
    cut = jnp.where(jnp.isnan(x) | jnp.isnan(t), x + t, jnp.zeros_like(x))
    return jnp.where(x >= t, x - t, jnp.where(x <= -t, x + t, cut))


def l1(x: Any, threshold: Any, *, mask: MaskLike = None) -> Any:
    r"""Soft-thresholding, the proximal operator of ``threshold * penalties.l1``.

    .. math:: \mathrm{prox}(v)_i = \mathrm{sign}(v_i)\,\max(|v_i| - t, 0)

    Entries with ``|v_i| <= t`` become exactly zero. The Jacobian is finite
    everywhere: 0 where an entry is cut, 1 where it is kept (and at the kinks
    ``|v_i| = t``), so at ``t = 0`` it is the identity, as for the identity map.

    Args:
      x: a pytree of floating arrays (the point v).
      threshold: t >= 0, a scalar or a pytree of per-leaf values (a prefix of
        ``x``'s structure); may be traced.
      mask: which leaves to apply it to (see ``regjax.masks``); the others are
        returned unchanged.

    Returns:
      A pytree with the structure and dtypes of ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> regjax.prox.l1(jnp.array([-2.0, 0.5, 3.0]), 1.0)
      Array([-1.,  0.,  2.], dtype=float32)

    References:
      Donoho, D. L. (1995). De-noising by soft-thresholding. IEEE Trans. Inf.
      Theory 41(3). https://doi.org/10.1109/18.382009
      Parikh, N. and Boyd, S. (2014). Proximal Algorithms, §6.5.2.
      https://web.stanford.edu/~boyd/papers/prox_algs.html
    """
    where = "regjax.prox.l1"
    t = _strengths(threshold, x, where=where, name="threshold")
    return map_masked(lambda v, _, ti: _soft_threshold(v, ti), x, mask, t, where=where)


def l2(x: Any, strength: Any, *, mask: MaskLike = None) -> Any:
    r"""Shrinkage, the proximal operator of ``strength * penalties.l2`` (= s·Σx²).

    .. math:: \mathrm{prox}(v) = \frac{v}{1 + 2s}

    The 2 comes from ``penalties.l2`` having no ½ (its gradient is 2w).

    Args:
      x: a pytree of floating arrays.
      strength: s >= 0, a scalar or a pytree of per-leaf values; may be traced.
      mask: which leaves to apply it to; the others are returned unchanged.

    Returns:
      A pytree with the structure and dtypes of ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> regjax.prox.l2(jnp.array([3.0, -6.0]), 1.0)
      Array([ 1., -2.], dtype=float32)

    References:
      Parikh, N. and Boyd, S. (2014). Proximal Algorithms, §6.1.1.
      https://web.stanford.edu/~boyd/papers/prox_algs.html
    """
    where = "regjax.prox.l2"
    s = _strengths(strength, x, where=where, name="strength")
    return map_masked(
        lambda v, _, si: v / (1 + 2 * jnp.asarray(si, v.dtype)), x, mask, s, where=where
    )


def elastic_net(x: Any, l1: Any, l2: Any, *, mask: MaskLike = None) -> Any:
    r"""Proximal operator of ``l1 * penalties.l1 + l2 * penalties.l2``.

    .. math:: \mathrm{prox}(v) = \frac{\mathrm{soft}(v, \lambda_1)}{1 + 2\lambda_2}

    To take the prox of ``alpha * penalties.elastic_net(·, r)`` (scikit-learn's
    parametrization, which has ½ on the squared norm), pass
    ``l1=alpha * r`` and ``l2=alpha * (1 - r) / 2``.

    Args:
      x: a pytree of floating arrays.
      l1: λ₁ >= 0, scalar or per-leaf pytree; may be traced.
      l2: λ₂ >= 0, scalar or per-leaf pytree; may be traced.
      mask: which leaves to apply it to; the others are returned unchanged.

    Returns:
      A pytree with the structure and dtypes of ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> regjax.prox.elastic_net(jnp.array([-4.0, 0.5, 3.0]), l1=1.0, l2=1.0)
      Array([-1.        ,  0.        ,  0.6666667], dtype=float32)

    References:
      Zou, H. and Hastie, T. (2005). Regularization and Variable Selection via
      the Elastic Net. JRSS B 67(2). https://doi.org/10.1111/j.1467-9868.2005.00503.x
    """
    where = "regjax.prox.elastic_net"
    t1 = _strengths(l1, x, where=where, name="l1")
    t2 = _strengths(l2, x, where=where, name="l2")
    return map_masked(
        lambda v, _, a, b: _soft_threshold(v, a) / (1 + 2 * jnp.asarray(b, v.dtype)),
        x,
        mask,
        t1,
        t2,
        where=where,
    )


def group_lasso(
    x: Any,
    threshold: Any,
    *,
    axis: int | None = 0,
    group_ids: Any = None,
    l1_ratio: Any = 0.0,
    mask: MaskLike = None,
) -> Any:
    r"""Block soft-thresholding, the prox of ``threshold * penalties.group_lasso``.

    .. math:: \mathrm{prox}(v)_g = v_g \max\Big(0,\ 1 - \frac{t\sqrt{|g|}}{\|v_g\|_2}\Big)

    Groups are defined exactly as in ``regjax.penalties.group_lasso`` (same
    ``axis`` and ``group_ids``). Whole groups become exactly zero. With
    ``l1_ratio = r > 0`` (sparse-group lasso) the prox is the composition
    ``block_soft(soft(v, t·r), t·(1 − r))``, which is exact for this penalty.
    The Jacobian is finite at zero groups.

    Args:
      x: a pytree of floating arrays.
      threshold: t >= 0, scalar or per-leaf pytree; may be traced.
      axis: the axis whose slices are the groups, or None (whole leaf).
      group_ids: optional static 1-D ids, one per slice along ``axis``.
      l1_ratio: weight r in [0, 1] of the L1 part; may be traced.
      mask: which leaves to apply it to; the others are returned unchanged.

    Returns:
      A pytree with the structure and dtypes of ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> kernel = jnp.array([[3.0, 4.0], [0.3, 0.4]])
      >>> regjax.prox.group_lasso(kernel, 1.0 / jnp.sqrt(2.0))  # rows shrink by 1
      Array([[2.4, 3.2],
             [0. , 0. ]], dtype=float32)

    References:
      Yuan, M. and Lin, Y. (2006). Model Selection and Estimation in Regression
      with Grouped Variables. JRSS B 68(1).
      Simon, N., Friedman, J., Hastie, T. and Tibshirani, R. (2013). A
      Sparse-Group Lasso. JCGS 22(2). https://doi.org/10.1080/10618600.2012.681250
    """
    return group_lasso_impl(
        x,
        threshold,
        axis=axis,
        group_ids=group_ids,
        l1_ratio=l1_ratio,
        mask=mask,
        where="regjax.prox.group_lasso",
    )


def group_lasso_impl(
    x: Any,
    threshold: Any,
    *,
    axis: int | None,
    group_ids: Any,
    l1_ratio: Any,
    mask: MaskLike,
    where: str,
) -> Any:
    """``group_lasso`` whose errors name ``where``, the public function the user called."""
    t = _strengths(threshold, x, where=where, name="threshold")
    check_unit_interval(l1_ratio, where=where, name="l1_ratio")

    def one(v: jax.Array, path: str, ti: Any) -> jax.Array:
        spec = GroupSpec(v.shape, axis, group_ids, where=where, path=path)
        r = jnp.asarray(l1_ratio, v.dtype)
        ti = jnp.asarray(ti, v.dtype)
        if not (isinstance(l1_ratio, int | float) and l1_ratio == 0):
            v = _soft_threshold(v, ti * r)  # skipped for plain group lasso: one pass fewer
        sq, sizes = spec.group_sq_norms(v)
        norm = jnp.where(jnp.isnan(sq), sq, safe_norm(sq))  # safe_norm maps NaN to 0
        cut = ti * (1 - r) * jnp.sqrt(sizes)
        # `>=` keeps a zero group when cut = 0 (the identity map, Jacobian I);
        # the inner `where` keeps the division finite, and its gradient too.
        # Written as `not (norm < cut)` so that a group holding a NaN (NaN norm)
        # is kept and its scale is NaN: the whole group becomes NaN, never 0.
        keep = ~(norm < cut)
        scale = jnp.where(keep, 1 - cut / jnp.where(norm == 0, 1, norm), 0)
        return v * spec.broadcast_to_leaf(scale, v)

    return map_masked(one, x, mask, t, where=where)


@jax.custom_jvp
def _svt(v: jax.Array, t: jax.Array) -> jax.Array:
    """U max(Σ − t, 0) Vᵀ for one matrix, from a single thin SVD."""
    u, s, vt = jnp.linalg.svd(v, full_matrices=False)
    return (u * jnp.maximum(s - t, 0)[None, :]) @ vt


@_svt.defjvp
def _svt_jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
    # The derivative of the spectral function U f(Σ) Vᵀ with f(s) = max(s − t, 0),
    # written with divided differences of f (Candès, Sing-Long and Trzasko,
    # 2013): finite everywhere, including at repeated and zero singular values,
    # where JAX's own SVD derivative divides by zero (e.g. at V = 0).
    v, t = primals
    dv, dt = tangents
    u, s, vt = jnp.linalg.svd(v, full_matrices=False)
    kept = s >= t  # at t = 0 every s is kept: the identity map, Jacobian I
    f = jnp.where(kept, s - t, jnp.zeros_like(s))
    one, zero = jnp.ones_like(s), jnp.zeros_like(s)
    fprime = jnp.where(kept, one, zero)
    # f(s)/s on the complements of the singular subspaces (limit 1 or 0 at s = 0).
    g = jnp.where(s > 0, f / jnp.where(s > 0, s, one), fprime)
    si, sj = s[:, None], s[None, :]
    diff, summ = si - sj, si + sj
    both = fprime[:, None] * fprime[None, :]
    sym_coef = jnp.where(diff != 0, (f[:, None] - f[None, :]) / jnp.where(diff != 0, diff, 1), both)
    skew_coef = jnp.where(summ > 0, (f[:, None] + f[None, :]) / jnp.where(summ > 0, summ, 1), both)
    dv_v = dv @ vt.T  # (m, k)
    ut_dv = u.T @ dv  # (k, n)
    da = u.T @ dv_v  # (k, k)
    inner = sym_coef * (da + da.T) / 2 + skew_coef * (da - da.T) / 2 - jnp.diag(fprime * dt)
    out_tangent = (
        u @ inner @ vt + ((dv_v - u @ da) * g[None, :]) @ vt + u @ (g[:, None] * (ut_dv - da @ vt))
    )
    out = (u * f[None, :]) @ vt
    return out, out_tangent


def _nuclear_one(v: jax.Array, path: str, t: Any, *, where: str, name: str) -> jax.Array:
    if v.ndim != 2:
        raise ValueError(
            f"`{where}({name}=...)`: leaf {path or '<root>'} has shape {v.shape}; "
            "singular-value thresholding needs matrices (2-D leaves). Exclude other leaves "
            "with `mask=`."
        )
    # LAPACK has no bf16/f16 SVD: compute in at least float32, return x's dtype.
    work = jnp.float32 if jnp.finfo(v.dtype).bits < 32 else v.dtype
    return _svt(v.astype(work), jnp.asarray(t, work)).astype(v.dtype)


def nuclear(x: Any, threshold: Any, *, mask: MaskLike = None) -> Any:
    r"""Singular-value thresholding, the prox of ``threshold * penalties.nuclear``.

    .. math:: \mathrm{prox}(V) = U \max(\Sigma - t, 0) V^\top, \quad V = U\Sigma V^\top

    Small singular values become exactly zero, so the result has low rank.
    Every leaf it applies to must be 2-D; bf16 and f16 leaves are computed in
    float32 (LAPACK has no half-precision SVD) and returned in their dtype.
    One thin SVD per leaf. The Jacobian is finite everywhere, including at
    ``V = 0`` and at repeated singular values: it is given in closed form by
    divided differences of ``max(s − t, 0)`` (Candès et al., 2013) rather
    than by differentiating the SVD.

    Args:
      x: a pytree of floating 2-D arrays (after masking).
      threshold: t >= 0, scalar or per-leaf pytree; may be traced.
      mask: which leaves to apply it to; the others are returned unchanged.

    Returns:
      A pytree with the structure and dtypes of ``x``.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> regjax.prox.nuclear(jnp.diag(jnp.array([3.0, 0.5])), 1.0)
      Array([[2., 0.],
             [0., 0.]], dtype=float32)

    References:
      Cai, J.-F., Candès, E. J. and Shen, Z. (2010). A Singular Value
      Thresholding Algorithm for Matrix Completion. SIAM J. Optim. 20(4).
      https://doi.org/10.1137/080738970
      Candès, E. J., Sing-Long, C. A. and Trzasko, J. D. (2013). Unbiased Risk
      Estimates for Singular Value Thresholding and Spectral Estimators. IEEE
      Trans. Signal Process. 61(19). https://doi.org/10.1109/TSP.2013.2270464
    """
    return nuclear_impl(x, threshold, mask=mask, where="regjax.prox.nuclear", name="x")


def nuclear_impl(x: Any, threshold: Any, *, mask: MaskLike, where: str, name: str) -> Any:
    """``nuclear`` whose errors name ``where(name=...)``, what the user called and passed."""
    t = _strengths(threshold, x, where=where, name="threshold")
    one = lambda v, path, ti: _nuclear_one(v, path, ti, where=where, name=name)
    return map_masked(one, x, mask, t, where=where)
