"""Group-lasso path with a duality-gap certificate (``regjax.linear``)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax import _prox
from regjax._fista import fista
from regjax._groups import GroupSpec, safe_norm
from regjax._lasso import (
    AIM,
    Quad,
    check_eps,
    check_static_int,
    check_tol,
    default_grid,
    lipschitz_from_quad,
    make_quad,
    raise_if_nonfinite,
    raise_if_overflowed,
    squares_fit,
)
from regjax._linear import center, check_alphas, check_xy, warn_if_uncertified, widest_float

GROUP_SOLVERS = ("path", "fista")


def check_groups(groups: Any, p: int, *, where: str) -> np.ndarray:
    """A group spec -> one dense integer id per column (0 .. n_groups - 1).

    Accepts one integer id per column, or a list of column-index lists that
    together cover every column exactly once."""
    if isinstance(groups, jax.core.Tracer):
        raise TypeError(
            f"`{where}(groups=...)` must be concrete (NumPy or Python ints): groups are structure."
        )
    ragged = (
        isinstance(groups, list | tuple)
        and len(groups) > 0
        and all(isinstance(g, list | tuple | np.ndarray | range) for g in groups)
    )
    if ragged:
        ids = np.full(p, -1)
        for k, g in enumerate(groups):
            g = np.asarray(g)
            if g.ndim != 1 or g.size == 0 or not np.issubdtype(g.dtype, np.integer):
                raise ValueError(
                    f"`{where}(groups=...)`: group {k} must be a non-empty list of column "
                    f"indices; got {g.tolist()!r}."
                )
            if g.min() < 0 or g.max() >= p:
                raise ValueError(
                    f"`{where}(groups=...)`: group {k} names column {int(g.max())}, but X has "
                    f"{p} columns (0 .. {p - 1})."
                )
            if np.any(ids[g] >= 0) or len(np.unique(g)) != g.size:
                raise ValueError(
                    f"`{where}(groups=...)`: a column appears in more than one group (or twice "
                    f"in group {k}); the groups must partition the columns."
                )
            ids[g] = k
        if np.any(ids < 0):
            missing = np.flatnonzero(ids < 0)
            raise ValueError(
                f"`{where}(groups=...)` does not cover the columns: {missing.size} of {p} "
                f"columns (first: {missing[:5].tolist()}) belong to no group; give every column "
                "a group (a group of one column is a plain lasso penalty)."
            )
    else:
        ids = np.asarray(groups)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(
                f"`{where}(groups=...)` must be one integer group id per column of X, or a list "
                f"of column-index lists; got shape {ids.shape} and dtype {ids.dtype}."
            )
        if ids.shape[0] != p:
            raise ValueError(
                f"`{where}(groups=...)` does not cover the columns: it has {ids.shape[0]} ids "
                f"but X has {p} columns; give one group id per column."
            )
        if ids.min() < 0:
            raise ValueError(f"`{where}(groups=...)` ids must be >= 0; got {int(ids.min())}.")
    return np.unique(ids, return_inverse=True)[1].reshape(-1)


def group_norms(spec: GroupSpec, v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(‖v_g‖₂ per group, sqrt(|g|) per group)."""
    sq, sizes = spec.group_sq_norms(v)
    return safe_norm(sq), jnp.sqrt(sizes)


def group_gap(
    quad: Quad, spec: GroupSpec, w: jax.Array, alpha: jax.Array, g: jax.Array | None = None
) -> jax.Array:
    """Duality gap of the group lasso at w, in units of the 1/(2n) objective.

    The dual of ½‖y − Xw‖² + nα Σ_g √|g| ‖w_g‖ is max_θ θᵀy − ½‖θ‖² subject to
    ‖X_gᵀθ‖ <= nα√|g| for every g. The residual R = y − Xw scaled by
    s = min(1, nα / max_g(‖X_gᵀR‖/√|g|)) is feasible, and the gap is
    (½‖R‖² + nαΩ(w) − sRᵀy + ½s²‖R‖²) / n. With ``g = quad.grad(w)`` given,
    the residual terms come from it, with no product with the data."""
    R2, Ry, XtR = quad.parts(w) if g is None else quad.parts_from_grad(w, g)
    norms, sqrt_sizes = group_norms(spec, XtR)
    # safe_norm maps a NaN square to 0: carry a NaN of XᵀR into the gap explicitly.
    dn = jnp.where(jnp.any(jnp.isnan(XtR)), jnp.nan, jnp.max(norms / sqrt_sizes))
    a = alpha * quad.n
    # NaN-propagating (as enet_gap): an overflowed XᵀR gives a NaN gap, not the scale 1.
    s = jnp.where(dn <= a, 1, a / jnp.where(dn == 0, 1, dn))
    wn, _ = group_norms(spec, w)
    omega = jnp.sum(sqrt_sizes * wn)
    return (0.5 * R2 + a * omega - s * Ry + 0.5 * s**2 * R2) / quad.n


def group_lasso_path(
    X: Any,
    y: Any,
    groups: Any,
    alphas: Any = None,
    *,
    eps: float = 1e-3,
    n_alphas: int = 100,
    tol: Any = 1e-6,
    max_iter: int = 20_000,
    fit_intercept: bool = False,
    solver: str = "path",
    gram: bool | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Group-lasso coefficients along a grid of alphas, with certified duality gaps.

    Minimizes, at every alpha, the scikit-learn-style objective

    .. math:: \frac{1}{2n}\|y - Xw\|_2^2 + \alpha \sum_g \sqrt{|g|}\,\|w_g\|_2,

    where :math:`|g|` is the number of columns in group g (the weight
    :math:`\sqrt{|g|}` of Yuan and Lin 2006, the same as
    ``regjax.penalties.group_lasso``), so groups of one column give exactly
    :func:`lasso_path`. The dual norm of the penalty is
    :math:`\max_g \|X_g^\top r\|_2 / (n\sqrt{|g|})`; hence the default grid
    starts at :math:`\alpha_{\max} = \max_g \|X_g^\top y\|_2 / (n\sqrt{|g|})`
    (every group zero) and goes geometrically down to ``eps · α_max``. The
    duality gap uses the residual :math:`R = y - Xw` rescaled to be dual
    feasible, :math:`\theta = sR` with
    :math:`s = \min(1,\ n\alpha / \max_g(\|X_g^\top R\|/\sqrt{|g|}))`:

    .. math:: \mathrm{gap} = \frac1n\Big(\tfrac12\|R\|^2 + n\alpha\,\Omega(w)
              - s R^\top y + \tfrac12 s^2 \|R\|^2\Big).

    Each alpha stops once its gap is <= ``tol · ‖y‖²/n`` (scikit-learn's
    meaning of ``tol``); the returned gaps are recomputed from X at the
    returned coefficients. The solver is FISTA with adaptive restart whose
    prox step is ``regjax.prox.group_lasso`` (block soft-thresholding), on the
    Gram matrix when ``n_features <= n_samples`` (``gram=None``).

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      groups: static group spec covering every column exactly once: one
        integer id per column (``[0, 0, 1, 1, 1]``), or a list of column-index
        lists (``[[0, 1], [2, 3, 4]]``).
      alphas: strengths > 0, or None for the default grid (sorted decreasing).
      eps: ratio of the smallest to the largest default alpha.
      n_alphas: size of the default grid (static).
      tol: duality-gap tolerance relative to ``‖y‖²/n``.
      max_iter: FISTA iterations per alpha (static).
      fit_intercept: center X and y first (intercept ``mean(y) − mean(X) @ w``).
      solver: ``"path"`` (warm-started along the decreasing alphas with
        ``lax.scan``) or ``"fista"`` (every alpha at once from zero, vmapped).
      gram: work on XᵀX (True), on X (False), or choose by shape (None).

    Returns:
      ``(alphas, coefs, dual_gaps)`` with shapes (n_alphas,),
      (n_features, n_alphas), (n_alphas,), as :func:`lasso_path`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (40, 6))
      >>> y = X @ jnp.array([2.0, 1.0, 0.0, 0.0, 0.0, 0.0])
      >>> alphas, coefs, gaps = regjax.linear.group_lasso_path(
      ...     X, y, [0, 0, 1, 1, 2, 2], n_alphas=4)
      >>> coefs.shape
      (6, 4)
      >>> bool((coefs[:, 0] == 0).all()), bool((coefs[2:, 1] == 0).all())
      (True, True)

    References:
      Yuan, M. and Lin, Y. (2006). Model Selection and Estimation in Regression
      with Grouped Variables. JRSS B 68(1).
      https://doi.org/10.1111/j.1467-9868.2005.00532.x
      Ndiaye, E., Fercoq, O., Gramfort, A. and Salmon, J. (2016). GAP Safe
      Screening Rules for Sparse-Group Lasso. NeurIPS.
      https://arxiv.org/abs/1602.06225
    """
    where = "regjax.linear.group_lasso_path"
    X, y = check_xy(X, y, where=where)
    ids = check_groups(groups, X.shape[1], where=where)
    check_tol(tol, where=where)
    n_alphas = check_static_int(n_alphas, where=where, name="n_alphas")
    max_iter = check_static_int(max_iter, where=where, name="max_iter")
    if solver not in GROUP_SOLVERS:
        raise ValueError(f"`{where}(solver=...)` must be one of {GROUP_SOLVERS}; got {solver!r}.")
    check_eps(eps, where=where)
    use_gram = X.shape[1] <= X.shape[0] if gram is None else bool(gram)
    default = alphas is None
    if default:
        alphas = jnp.zeros((n_alphas,), X.dtype)
    else:
        alphas = check_alphas(alphas, X.dtype, where=where)
    tol = jnp.asarray(tol, X.dtype)
    alphas, coefs, gaps, target, fits = _solve(
        X, y, alphas, tol, tuple(ids.tolist()), float(eps), fit_intercept, use_gram, default,
        solver, max_iter,
    )  # fmt: skip
    raise_if_overflowed(fits, X.dtype, where=where)
    raise_if_nonfinite(gaps, coefs, where=where, what="duality gap")
    warn_if_uncertified(gaps, target, where=where, what="duality gap")
    return alphas, coefs, gaps


@functools.partial(jax.jit, static_argnums=tuple(range(4, 11)))
def _solve(X, y, alphas, tol, ids, eps, fit_intercept, use_gram, default, solver, max_iter):
    where = "regjax.linear.group_lasso_path"
    ids = np.asarray(ids)
    spec = GroupSpec((X.shape[1],), 0, ids, where=where, path="")
    Xc, yc, _, _ = center(X, y, fit_intercept)
    quad = make_quad(Xc, yc, use_gram)
    if default:
        norms, sqrt_sizes = group_norms(spec, quad.q)
        amax = jnp.max(norms / sqrt_sizes) / quad.n
        alphas = default_grid(amax, eps, alphas.shape[0])
    else:
        alphas = -jnp.sort(-alphas)
    tol_abs = tol * quad.yy / quad.n
    step = 1 / lipschitz_from_quad(quad)

    def solve_one(alpha, w0):
        return fista(
            quad.grad,
            lambda v: _prox.group_lasso(v, step * alpha, axis=0, group_ids=ids),
            lambda w, g: group_gap(quad, spec, w, alpha, g),
            w0,
            step,
            AIM * tol_abs,  # its gaps come from G in Gram mode; the returned ones from X
            max_iter,
        ).x

    w0 = jnp.zeros(quad.q.shape, quad.q.dtype)
    if solver == "fista":
        W = jax.vmap(lambda a: solve_one(a, w0))(alphas)
    else:

        def at_alpha(w, alpha):
            w = solve_one(alpha, w)
            return w, w

        _, W = jax.lax.scan(at_alpha, w0, alphas)
    # The returned gaps from the residuals y − Xw themselves, in float64 whenever
    # x64 is enabled (as lasso_path's honest_gaps), rounded once to W's dtype.
    wide = widest_float()
    exact = make_quad(Xc.astype(wide), yc.astype(wide), use_gram=False)
    gaps = jax.vmap(lambda w, a: group_gap(exact, spec, w, a))(W.astype(wide), alphas.astype(wide))
    return alphas, W.T, gaps.astype(W.dtype), tol_abs, squares_fit(quad)
