"""Binary L1 / elastic-net logistic regression paths (``regjax.linear``)."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax import _prox
from regjax._checks import is_traced
from regjax._fista import fista
from regjax._lasso import (
    check_eps,
    check_static_int,
    check_tol,
    default_grid,
    raise_if_nonfinite,
    raise_if_overflowed,
)
from regjax._linear import (
    check_alphas,
    check_l1_ratio,
    check_xy,
    top_eigenvalue_of_gram,
    warn_if_uncertified,
    widest_float,
    xt_dot,
)

LOGISTIC_SOLVERS = ("path", "fista")


def check_labels(y: jax.Array, *, where: str) -> jax.Array:
    """Binary labels {0, 1} or {-1, 1} -> ±1 in y's dtype (concrete labels are checked)."""
    if not is_traced(y):
        vals = np.unique(np.asarray(y))
        if not (set(vals.tolist()) <= {0.0, 1.0} or set(vals.tolist()) <= {-1.0, 1.0}):
            raise ValueError(
                f"`{where}(y=...)` must hold binary labels, all in {{0, 1}} or all in {{-1, 1}}; "
                f"got values {vals[:6].tolist()}. Encode the two classes as 0/1."
            )
        if len(vals) < 2:
            raise ValueError(
                f"`{where}(y=...)` holds one class only ({vals.tolist()}); a logistic path "
                "needs both classes."
            )
    return jnp.where(y > 0, 1, -1).astype(y.dtype)


def _sigmoid_neg(z: jax.Array) -> jax.Array:
    """σ(−z) = 1/(1 + e^z), stable for large |z|."""
    return jax.nn.sigmoid(-z)


def logistic_path(
    X: Any,
    y: Any,
    alphas: Any = None,
    *,
    l1_ratio: Any = 1.0,
    eps: float = 1e-3,
    n_alphas: int = 100,
    tol: Any = 1e-8,
    max_iter: int = 50_000,
    fit_intercept: bool = True,
    solver: str = "path",
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    r"""Binary L1 / elastic-net logistic regression along a grid of alphas.

    Minimizes the mean logistic loss plus scikit-learn's elastic-net penalty,

    .. math:: \frac1n \sum_{i=1}^n \log\big(1 + e^{-s_i (x_i^\top w + b)}\big)
              + \alpha\,r\,\|w\|_1 + \frac{\alpha(1-r)}{2}\|w\|_2^2,
              \qquad s_i \in \{-1, +1\},\ r = \text{l1\_ratio},

    with the intercept b unpenalized (scikit-learn's ``fit_intercept=True``
    with the ``saga`` solver). scikit-learn's ``LogisticRegression`` minimizes
    :math:`C\sum_i \log(1 + e^{-s_i z_i}) + r\|w\|_1 + \frac{1-r}{2}\|w\|_2^2`
    (``l1_ratio=r``; ``penalty="l1"`` is r = 1); dividing it by
    :math:`Cn` gives the objective above, so

    .. math:: \alpha = \frac{1}{C\,n}, \qquad C = \frac{1}{\alpha\,n},

    and both have the same minimizer.

    Stopping is on the KKT conditions, not a duality gap (with an intercept
    the dual has an equality constraint that the rescaled residual does not
    satisfy): with :math:`g = \nabla` of the smooth part (mean loss plus the
    ridge term), the returned certificate is the infinity norm of the
    minimum-norm subgradient,

    .. math:: \kappa = \max\Big(|g_b|,\ \max_{w_j \ne 0} |g_j + \alpha r\,\mathrm{sign}(w_j)|,
              \ \max_{w_j = 0} (|g_j| - \alpha r)_+\Big),

    zero exactly at the optimum; each alpha stops once :math:`\kappa \le` ``tol``
    (absolute, on the scale of the mean loss). It is recomputed at the
    returned coefficients. The solver is FISTA with adaptive restart, step
    :math:`4n/\lambda_{\max}([X, 1]^\top [X, 1])`.

    Args:
      X: design, shape (n_samples, n_features).
      y: binary labels, all in {0, 1} or all in {-1, 1}, shape (n_samples,).
      alphas: strengths > 0 (sorted decreasing), or None for the default grid
        of ``n_alphas`` values from :math:`\alpha_{\max} = \max_j
        |x_j^\top (y_{01} - \bar p)| / (n r)` (every coefficient zero; ``p̄``
        is the fraction of positives with an intercept, ½ without) down to
        ``eps · α_max``.
      l1_ratio: r in [0, 1]; may be traced (the default grid needs r > 0).
      eps: ratio of the smallest to the largest default alpha.
      n_alphas: size of the default grid (static).
      tol: KKT tolerance κ (absolute).
      max_iter: FISTA iterations per alpha (static).
      fit_intercept: fit an unpenalized intercept (static).
      solver: ``"path"`` (warm-started along the decreasing alphas with
        ``lax.scan``) or ``"fista"`` (every alpha from zero, vmapped).

    Returns:
      ``(alphas, coefs, intercepts, kkt)`` with shapes (n_alphas,),
      (n_features, n_alphas), (n_alphas,), (n_alphas,).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (80, 5))
      >>> y = (X[:, 0] - X[:, 1] > 0).astype(jnp.float32)
      >>> alphas, coefs, b, kkt = regjax.linear.logistic_path(X, y, n_alphas=4, tol=1e-5)
      >>> coefs.shape, b.shape
      ((5, 4), (4,))
      >>> bool((coefs[:, 0] == 0).all()), bool((kkt <= 1e-5).all())
      (True, True)

    References:
      Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization Paths
      for Generalized Linear Models via Coordinate Descent. J. Stat. Softw.
      33(1). https://doi.org/10.18637/jss.v033.i01
      Defazio, A., Bach, F. and Lacoste-Julien, S. (2014). SAGA: A Fast
      Incremental Gradient Method With Support for Non-Strongly Convex
      Composite Objectives. NeurIPS. https://arxiv.org/abs/1407.0202
    """
    where = "regjax.linear.logistic_path"
    X, y = check_xy(X, y, where=where)
    s = check_labels(y, where=where)
    r = check_l1_ratio(l1_ratio, X.dtype, where=where)
    check_tol(tol, where=where)
    n_alphas = check_static_int(n_alphas, where=where, name="n_alphas")
    max_iter = check_static_int(max_iter, where=where, name="max_iter")
    if solver not in LOGISTIC_SOLVERS:
        raise ValueError(
            f"`{where}(solver=...)` must be one of {LOGISTIC_SOLVERS}; got {solver!r}."
        )
    check_eps(eps, where=where)
    default = alphas is None
    if default:
        if isinstance(l1_ratio, int | float) and l1_ratio == 0:
            raise ValueError(
                f"`{where}(alphas=None)` needs l1_ratio > 0: the default grid starts at "
                "max|Xᵀ(y − p̄)|/(n·l1_ratio). Pass explicit `alphas` for l1_ratio=0."
            )
        alphas = jnp.zeros((n_alphas,), X.dtype)
    else:
        alphas = check_alphas(alphas, X.dtype, where=where)
    tol = jnp.asarray(tol, X.dtype)
    *out, fits = _solve(X, s, alphas, r, tol, float(eps), fit_intercept, default, solver, max_iter)
    out = tuple(out)
    raise_if_overflowed(fits, X.dtype, where=where)
    raise_if_nonfinite(*out[1:], where=where, what="KKT residual")
    warn_if_uncertified(out[3], tol, where=where, what="KKT residual")
    return out


def kkt_residual(
    g: tuple[jax.Array, jax.Array], w: jax.Array, alpha: jax.Array, r: jax.Array
) -> jax.Array:
    """κ: the infinity norm of the minimum-norm subgradient (see logistic_path)."""
    gw, gb = g
    gw = gw + alpha * (1 - r) * w
    a1 = alpha * r
    on = jnp.abs(gw + a1 * jnp.sign(w))
    off = jnp.maximum(jnp.abs(gw) - a1, 0)
    return jnp.maximum(jnp.max(jnp.where(w != 0, on, off)), jnp.abs(gb))


def _loss_grad(X, s, nf, fit_intercept, wb):
    """Gradient of the mean logistic loss in (w, b), labels s in {-1, 1}."""
    w, b = wb
    g = -s * _sigmoid_neg(s * (X @ w + b)) / nf
    gb = jnp.sum(g) if fit_intercept else jnp.zeros((), X.dtype)
    return xt_dot(X, g), gb


@functools.partial(jax.jit, static_argnums=(5, 6, 7, 8, 9))
def _solve(X, s, alphas, r, tol, eps, fit_intercept, default, solver, max_iter):
    n, p = X.shape
    nf = jnp.asarray(n, X.dtype)
    y01 = (s + 1) / 2
    pbar = jnp.mean(y01) if fit_intercept else jnp.asarray(0.5, X.dtype)
    b0 = jnp.log(pbar) - jnp.log1p(-pbar) if fit_intercept else jnp.zeros((), X.dtype)
    if default:
        amax = jnp.max(jnp.abs(xt_dot(X, y01 - pbar))) / (nf * jnp.where(r > 0, r, 1))
        alphas = default_grid(amax, eps, alphas.shape[0])
    else:
        alphas = -jnp.sort(-alphas)
    Xa = jnp.concatenate([X, jnp.ones((n, 1), X.dtype)], axis=1) if fit_intercept else X
    lip = top_eigenvalue_of_gram(Xa) / (4 * nf)

    loss_grad = functools.partial(_loss_grad, X, s, nf, fit_intercept)

    def solve_one(alpha, wb0):
        # The ridge part is smooth; it raises the Lipschitz constant by alpha(1 − r).
        step = 1 / (lip + alpha * (1 - r))

        def grad(wb):
            gw, gb = loss_grad(wb)
            return gw + alpha * (1 - r) * wb[0], gb

        def prox(wb):
            return _prox.l1(wb[0], alpha * r * step), wb[1]

        def cert(wb, g):
            # g is grad(wb): the loss gradient plus the ridge part, which is removed here.
            loss_g = (g[0] - alpha * (1 - r) * wb[0], g[1])
            return kkt_residual(loss_g, wb[0], alpha, r)

        return fista(grad, prox, cert, wb0, step, tol, max_iter).x

    wb0 = (jnp.zeros((p,), X.dtype), b0)
    if solver == "fista":
        W, B = jax.vmap(lambda a: solve_one(a, wb0))(alphas)
    else:

        def at_alpha(wb, alpha):
            wb = solve_one(alpha, wb)
            return wb, wb

        _, (W, B) = jax.lax.scan(at_alpha, wb0, alphas)
    # The returned residuals are recomputed at the returned (w, b), in float64
    # whenever x64 is enabled (float32 coefficients are then certified by their
    # float64 gradient), and rounded once to the coefficients' dtype.
    wide = widest_float()
    loss_grad_wide = functools.partial(
        _loss_grad, X.astype(wide), s.astype(wide), nf.astype(wide), fit_intercept
    )
    kkt = jax.vmap(lambda w, b, a: kkt_residual(loss_grad_wide((w, b)), w, a, r.astype(wide)))(
        W.astype(wide), B.astype(wide), alphas.astype(wide)
    )
    # ‖X‖² bounds the Lipschitz constant; when it overflows the step is 0 (see squares_fit).
    return alphas, W.T, B, kkt.astype(W.dtype), jnp.isfinite(jnp.vdot(X, X))
