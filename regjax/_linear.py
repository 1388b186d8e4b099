"""Shared plumbing of ``regjax.linear``: input validation, centering, and the
ridge path and its leave-one-out cross-validation (one SVD for every alpha)."""

from __future__ import annotations

import sys
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_nonnegative, check_unit_interval, check_value, is_traced


def widest_float() -> Any:
    """float64 when x64 is enabled, float32 otherwise: the dtype the returned
    certificates are recomputed in, whatever the dtype of X."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


def check_xy(X: Any, y: Any, *, where: str) -> tuple[jax.Array, jax.Array]:
    """Validates a design and a target; returns them as arrays of one float dtype."""
    for name, v, ndim in (("X", X, 2), ("y", y, 1)):
        shape = np.shape(v)
        if len(shape) != ndim:
            raise ValueError(
                f"`{where}({name}=...)` must be {ndim}-D "
                f"({'n_samples x n_features' if ndim == 2 else 'n_samples'}); got shape {shape}."
            )
    if np.shape(X)[0] != np.shape(y)[0]:
        raise ValueError(
            f"`{where}(X=..., y=...)`: X has {np.shape(X)[0]} rows but y has {np.shape(y)[0]} "
            "entries; pass one target per row of X."
        )
    if np.shape(X)[0] < 1 or np.shape(X)[1] < 1:
        raise ValueError(f"`{where}(X=...)` is empty (shape {np.shape(X)}).")
    X = jnp.asarray(X)
    y = jnp.asarray(y)
    for name, v in (("X", X), ("y", y)):
        if not jnp.issubdtype(v.dtype, jnp.floating):
            if jnp.issubdtype(v.dtype, jnp.integer) or v.dtype == jnp.bool_:
                continue
            raise TypeError(f"`{where}({name}=...)` must be real; got dtype {v.dtype}.")
    floats = [np.dtype(v.dtype) for v in (X, y) if jnp.issubdtype(v.dtype, jnp.floating)]
    dtype = np.promote_types(*floats) if len(floats) == 2 else None
    dtype = dtype or (floats[0] if floats else jnp.asarray(0.0).dtype)
    X = X.astype(dtype)
    y = y.astype(dtype)
    for name, v in (("X", X), ("y", y)):
        if not is_traced(v) and not bool(np.all(np.isfinite(np.asarray(v)))):
            raise ValueError(
                f"`{where}({name}=...)` contains NaN or inf; drop or impute those entries first."
            )
    return X, y


def check_alphas(
    alphas: Any, dtype: Any, *, where: str, allow_zero: bool = False, n_alphas_hint: bool = True
) -> jax.Array:
    """Validates a grid of strengths; returns it as a 1-D array of ``dtype``.

    Accepts a 1-D list, tuple or array of real numbers, or one float (a grid of
    one alpha). Refuses a bare int (scikit-learn reads ``alphas=3`` as "a grid
    of 3"), bools, strings, complex and object values, 2-D and empty grids.
    """
    fix = (
        "pass `n_alphas=` for a default grid of that size, or a list/array of alphas"
        if n_alphas_hint
        else "pass a list or 1-D array of alphas, e.g. `alphas=[1.0]`"
    )
    if is_traced(alphas):
        kind, ndim = np.dtype(alphas.dtype).kind, alphas.ndim
    else:
        if isinstance(alphas, bool | np.bool_ | str | bytes):
            raise TypeError(f"`{where}(alphas=...)` must be real numbers; got {alphas!r}; {fix}.")
        if isinstance(alphas, list | tuple) and any(
            isinstance(e, bool | np.bool_ | str | bytes) for e in alphas
        ):
            raise TypeError(
                f"`{where}(alphas=...)` must be real numbers (no bools or strings); "
                f"got {alphas!r}; {fix}."
            )
        arr = np.asarray(alphas)
        kind, ndim = arr.dtype.kind, arr.ndim
    if kind not in "iuf":
        raise TypeError(
            f"`{where}(alphas=...)` must be real numbers; got "
            f"{type(alphas).__name__} of dtype kind {kind!r}; {fix}."
        )
    if ndim == 0 and kind in "iu":
        raise TypeError(
            f"`{where}(alphas=...)` got the int {alphas!r}: scikit-learn reads an int as "
            f"a grid size, regjax refuses it as ambiguous; {fix}."
        )
    if ndim > 1 or (ndim == 1 and np.shape(alphas)[0] < 1):
        raise ValueError(
            f"`{where}(alphas=...)` must be a float or a non-empty 1-D array; "
            f"got shape {np.shape(alphas)}; {fix}."
        )
    if isinstance(alphas, list | tuple):
        alphas = np.asarray(alphas, dtype=np.dtype(dtype))
    if allow_zero:
        check_nonnegative(alphas, where=where, name="alphas")
    else:
        check_value(
            alphas,
            lambda v: (v > 0) & (v < float("inf")),
            "must be positive and finite (scikit-learn's alpha > 0)",
            where=where,
            name="alphas",
            report=lambda v: jnp.min(jnp.where(jnp.isnan(v), jnp.nan, v)),
        )
    return jnp.atleast_1d(jnp.asarray(alphas).astype(dtype))


def check_l1_ratio(l1_ratio: Any, dtype: Any, *, where: str) -> jax.Array:
    check_unit_interval(l1_ratio, where=where, name="l1_ratio")
    r = jnp.asarray(l1_ratio)
    if r.ndim != 0:
        raise ValueError(
            f"`{where}(l1_ratio=...)` must be a scalar; vmap over l1_ratio for a grid of them."
        )
    return r.astype(dtype)


def xt_dot(X: jax.Array, v: jax.Array) -> jax.Array:
    """Xᵀv (or XᵀV for a matrix V), written ``v @ X``.

    XLA:CPU runs ``X.T @ v`` on a row-major X 5-8x slower than the same product
    written ``v @ X`` (measured: 10000 x 1000, float64), and the solvers form it
    at every iteration."""
    return v @ X if v.ndim == 1 else (v.T @ X).T


def gram(X: jax.Array) -> jax.Array:
    """XᵀX, arranged for XLA:CPU, which runs ``X.T @ X`` slowly on a row-major X.

    Tall X (n >= p, the Gram-mode paths): the upper 3 x 3 blocks of column
    slices of Xᵀ, mirrored, two thirds of the products (1.2-1.5x faster than
    the next best arrangement, measured at 2000 x 500 and 10000 x 1000); XLA
    has no symmetric rank-k product. Otherwise a sum over row blocks (1.5-2x
    faster than ``X.T @ X`` at 500 x 5000)."""
    n, p = X.shape
    if n >= p >= 96:
        XT = X.T
        b = -(-p // 3)
        cols = [XT[i * b : (i + 1) * b] for i in range(3)]
        up = {(i, j): cols[i] @ cols[j].T for i in range(3) for j in range(i, 3)}
        return jnp.block([[up[i, j] if j >= i else up[j, i].T for j in range(3)] for i in range(3)])
    blocks = next((k for k in (8, 4, 2) if n % k == 0 and n // k >= p // 4), 1)
    Xb = X.reshape(blocks, n // blocks, p)
    return jnp.einsum("kni,knj->ij", Xb, Xb)


# Below this size an exact eigendecomposition is cheap; above it, Lanczos.
_EXACT_EIGEN_MAX = 256
_LANCZOS_STEPS = 24


def top_eigenvalue_bound(matvec: Any, size: int, dtype: Any) -> jax.Array:
    """λ_max of a symmetric PSD operator, from above, by Lanczos.

    ``_LANCZOS_STEPS`` steps from a fixed pseudo-random start; the result is the
    largest Ritz value θ plus its residual norm, so an eigenvalue lies in
    [θ − ρ, θ + ρ] and, unless Lanczos missed the top of the spectrum (which
    a random start makes vanishingly unlikely), λ_max ≤ θ + ρ. Measured on
    correlated and Gaussian designs from 300 x 300 to 10000 x 1000: above
    λ_max by 1e-15 to 5e-3 relative. It costs a few dozen products where
    ``eigvalsh`` costs a cubic decomposition (20 ms for 500 x 500, 90 ms for
    1000 x 1000 on 2 cores); the step 1/L it sets affects only the speed of
    the solvers, which stop on a certificate.

    References:
      Parlett, B. N. (1998). The Symmetric Eigenvalue Problem, §13.
      SIAM. https://doi.org/10.1137/1.9781611971163
    """
    steps = min(_LANCZOS_STEPS, size)
    v = jax.random.normal(jax.random.key(0), (size,), dtype)
    v = v / jnp.linalg.norm(v)
    tiny = jnp.finfo(dtype).tiny

    def body(carry: Any, _: Any) -> Any:
        v, v_prev, beta_prev = carry
        w = matvec(v) - beta_prev * v_prev
        a = jnp.vdot(v, w)
        w = w - a * v
        beta = jnp.linalg.norm(w)
        v_next = jnp.where(beta > tiny, w / jnp.where(beta > tiny, beta, 1), 0)
        return (v_next, v, beta), (a, beta)

    zero = jnp.zeros((), dtype)
    _, (a, b) = jax.lax.scan(body, (v, jnp.zeros_like(v), zero), None, length=steps)
    T = jnp.diag(a) + jnp.diag(b[:-1], 1) + jnp.diag(b[:-1], -1)
    theta, s = jnp.linalg.eigh(T)
    return theta[-1] + b[-1] * jnp.abs(s[-1, -1])


def top_eigenvalue(A: jax.Array) -> jax.Array:
    """λ_max of a symmetric PSD matrix: exact when small, else a Lanczos bound,
    capped by the Gershgorin bound (also an upper bound)."""
    size = A.shape[0]
    if size <= _EXACT_EIGEN_MAX:
        return jnp.linalg.eigvalsh(A)[-1]
    gershgorin = jnp.max(jnp.sum(jnp.abs(A), axis=1))
    return jnp.minimum(top_eigenvalue_bound(lambda v: A @ v, size, A.dtype), gershgorin)


def top_eigenvalue_of_gram(X: jax.Array) -> jax.Array:
    """λ_max(XᵀX) without forming XᵀX when both sides are large."""
    small = min(X.shape)
    if small <= _EXACT_EIGEN_MAX:
        return jnp.linalg.eigvalsh(gram(X) if X.shape[1] <= X.shape[0] else gram(X.T))[-1]
    return top_eigenvalue_bound(lambda v: xt_dot(X, X @ v), X.shape[1], X.dtype)


def center(
    X: jax.Array, y: jax.Array, fit_intercept: bool
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(Xc, yc, x_mean, y_mean); with ``fit_intercept=False`` the means are zero."""
    if not fit_intercept:
        return X, y, jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), y.dtype)
    x_mean = jnp.mean(X, axis=0)
    y_mean = jnp.mean(y)
    return X - x_mean[None, :], y - y_mean, x_mean, y_mean


def ridge_path(X: Any, y: Any, alphas: Any, *, fit_intercept: bool = True) -> tuple[Any, Any]:
    r"""Ridge coefficients at every alpha from one SVD.

    Minimizes scikit-learn ``Ridge``'s objective (no ``1/n``, no ½),

    .. math:: \|y - Xw - b\|_2^2 + \alpha \|w\|_2^2,

    with the intercept ``b`` unpenalized. With ``X - \bar X = U \Sigma V^\top``
    (thin SVD of the centered design), every alpha is closed form:

    .. math:: w(\alpha) = V \,\mathrm{diag}\Big(\frac{\sigma_k}{\sigma_k^2 + \alpha}\Big)
              U^\top (y - \bar y), \qquad b = \bar y - \bar X^\top w.

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      alphas: strengths >= 0, a scalar or 1-D array (kept in the given order);
        may be traced, so ``jax.vmap`` over grids works.
      fit_intercept: center X and y and fit an unpenalized intercept (static).

    Returns:
      ``(coefs, intercepts)`` with shapes (n_features, n_alphas) and (n_alphas,).

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> X = jnp.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
      >>> y = jnp.array([1.0, 2.0, 3.0, 4.0])
      >>> coefs, b = regjax.linear.ridge_path(X, y, jnp.array([0.0, 1.0]))
      >>> coefs.shape, b.shape
      ((2, 2), (2,))
      >>> coefs[:, 0]  # alpha = 0 is least squares
      Array([1.0000..., 2.0000...], dtype=float32)

    References:
      Hoerl, A. E. and Kennard, R. W. (1970). Ridge Regression: Biased
      Estimation for Nonorthogonal Problems. Technometrics 12(1).
      https://doi.org/10.1080/00401706.1970.10488634
    """
    where = "regjax.linear.ridge_path"
    X, y = check_xy(X, y, where=where)
    a = check_alphas(alphas, X.dtype, where=where, allow_zero=True, n_alphas_hint=False)
    Xc, yc, x_mean, y_mean = center(X, y, fit_intercept)
    u, s, vt = jnp.linalg.svd(Xc, full_matrices=False)
    s = jnp.where(s > _cutoff(s, Xc.shape), s, 0)  # pinv/lstsq rank cutoff
    uty = u.T @ yc
    coefs, intercepts = _ridge_from_svd(s, vt, uty, a, x_mean, y_mean)
    return coefs, intercepts


def _cutoff(s: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """Singular values at or below this are treated as 0: ``max(n, p) * eps * s_max``,
    the default of ``np.linalg.lstsq`` and ``np.linalg.matrix_rank``."""
    return max(shape) * jnp.finfo(s.dtype).eps * jnp.max(s)


def _shrink(s: jax.Array, a: jax.Array) -> jax.Array:
    """sigma / (sigma² + alpha) per (alpha, k), 0 where both vanish."""
    den = s[None, :] ** 2 + a[:, None]
    ok = den > 0
    return jnp.where(ok, s[None, :] / jnp.where(ok, den, 1), 0)


def _ridge_from_svd(s, vt, uty, a, x_mean, y_mean):
    d = _shrink(s, a)  # (A, k)
    coefs = vt.T @ (d * uty[None, :]).T  # (p, A)
    intercepts = y_mean - x_mean @ coefs
    return coefs, intercepts


class RidgeCVResult(NamedTuple):
    """Result of :func:`regjax.linear.ridge_cv`.

    A ``NamedTuple`` of arrays (a pytree: ``jax.jit(regjax.linear.ridge_cv)``
    returns one too), in place of the fitted attributes of scikit-learn's
    ``RidgeCV``: ``alpha`` is ``alpha_``, ``coef`` is ``coef_`` and
    ``intercept`` is ``intercept_``. ``cv_errors`` holds the criterion for
    every alpha (``RidgeCV`` keeps only ``best_score_``, the negated minimum,
    unless ``store_cv_results=True``). ``best_index`` indexes ``alphas`` as
    given (``ridge_cv`` does not sort them). Predictions are
    ``X @ coef + intercept``.

    Attributes:
      alpha: the selected alpha (the first minimizer of ``cv_errors``).
      coef: coefficients refit on all the data at ``alpha``, shape (n_features,).
      intercept: intercept at ``alpha`` (0 without ``fit_intercept``).
      cv_errors: mean squared leave-one-out (or GCV) error per alpha, shape (n_alphas,).
      best_index: index of ``alpha`` in ``alphas``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (60, 5))
      >>> y = X @ jnp.array([2.0, 0.0, 0.0, -1.0, 0.0]) + 1.0
      >>> alphas = jnp.array([10.0, 0.1, 1.0])
      >>> res = regjax.linear.ridge_cv(X, y, alphas)
      >>> res.cv_errors.shape, res.coef.shape
      ((3,), (5,))
      >>> int(res.best_index), float(res.alpha)  # in the order given
      (1, 0.1...)
      >>> bool(res.best_index == jnp.argmin(res.cv_errors))
      True
      >>> (X @ res.coef + res.intercept).shape  # predictions
      (60,)

    References:
      Golub, G. H., Heath, M. and Wahba, G. (1979). Generalized
      Cross-Validation as a Method for Choosing a Good Ridge Parameter.
      Technometrics 21(2). https://doi.org/10.1080/00401706.1979.10489751
    """

    alpha: jax.Array
    coef: jax.Array
    intercept: jax.Array
    cv_errors: jax.Array
    best_index: jax.Array


def ridge_cv(
    X: Any, y: Any, alphas: Any, *, fit_intercept: bool = True, mode: str = "loo"
) -> RidgeCVResult:
    r"""Picks the ridge alpha by exact leave-one-out (or GCV) error, from one SVD.

    With the hat matrix :math:`H_\alpha = \tfrac1n \mathbf 1\mathbf 1^\top
    + U\,\mathrm{diag}(\sigma_k^2/(\sigma_k^2+\alpha))\,U^\top` (the first term
    only with an intercept), the leave-one-out residual is exact in closed form:

    .. math:: e_i(\alpha) = \frac{y_i - \hat y_i(\alpha)}{1 - (H_\alpha)_{ii}},

    and ``cv_errors`` is :math:`\frac1n\sum_i e_i^2`, the criterion of
    scikit-learn's ``RidgeCV`` (default ``scoring=None``, ``cv=None``). With
    ``mode="gcv"`` the diagonal is replaced by its mean, ``tr(H)/n``
    (generalized cross-validation, Golub et al. 1979). When
    ``n_samples < n_features`` the same U and σ² come from the eigendecomposition
    of the n x n matrix :math:`(X - \bar X)(X - \bar X)^\top` (cheaper than the
    SVD), and the refit uses the dual form
    :math:`w = (X - \bar X)^\top ((X - \bar X)(X - \bar X)^\top + \alpha I)^{-1}(y - \bar y)`.

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      alphas: candidate strengths > 0, 1-D; may be traced.
      fit_intercept: fit an unpenalized intercept (static).
      mode: ``"loo"`` (exact leave-one-out, as ``RidgeCV``) or ``"gcv"`` (static).

    Returns:
      A :class:`RidgeCVResult`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (50, 5))
      >>> y = X @ jnp.arange(5.0) + 0.1 * jax.random.normal(jax.random.key(1), (50,))
      >>> res = regjax.linear.ridge_cv(X, y, jnp.array([0.01, 1.0, 100.0]))
      >>> float(res.alpha) < 100.0, res.cv_errors.shape
      (True, (3,))

    References:
      Golub, G. H., Heath, M. and Wahba, G. (1979). Generalized
      Cross-Validation as a Method for Choosing a Good Ridge Parameter.
      Technometrics 21(2). https://doi.org/10.1080/00401706.1979.10489751
      Rifkin, R. M. and Lippert, R. A. (2007). Notes on Regularized Least
      Squares. MIT-CSAIL-TR-2007-025. http://hdl.handle.net/1721.1/37318
    """
    where = "regjax.linear.ridge_cv"
    if mode not in ("loo", "gcv"):
        raise ValueError(f'`{where}(mode=...)` must be "loo" or "gcv"; got {mode!r}.')
    X, y = check_xy(X, y, where=where)
    a = check_alphas(alphas, X.dtype, where=where, n_alphas_hint=False)
    n = X.shape[0]
    Xc, yc, x_mean, y_mean = center(X, y, fit_intercept)
    wide = X.shape[1] > X.shape[0]
    # A full n x n orthonormal basis U: the kept columns (sigma above the rank
    # cutoff) and their complement Q, so that 1 - h_ii and the residuals are
    # sums of nonnegative terms, without the cancellation of 1 - sum(filt u^2).
    if wide:
        # n < p: the eigendecomposition of the n x n kernel Xc Xcᵀ = U diag(σ²) Uᵀ
        # is cheaper than the SVD of Xc (scikit-learn's RidgeCV does the same).
        ev, u = jnp.linalg.eigh(Xc @ Xc.T)
        ev = jnp.maximum(ev, 0)
        # The cutoff applies to the eigenvalues themselves: eigh rounds each by
        # about eps * max(ev), so a zero singular value comes back as
        # sqrt(eps * max(ev)), far above lstsq's eps * s_max on sqrt(ev). With an
        # intercept that zero is the constant direction, which must not count
        # as kept (its 1 - h_ii share would be 1/n instead of 0).
        kept = ev > _cutoff(ev, X.shape)
    else:
        u, s, vt = jnp.linalg.svd(Xc, full_matrices=True)
        s = jnp.where(s > _cutoff(s, X.shape), s, 0)
        ev = jnp.concatenate([s**2, jnp.zeros(n - s.shape[0], s.dtype)])
        kept = ev > 0
    den = jnp.where(kept[None, :], ev[None, :] + a[:, None], 1)
    g = jnp.where(kept[None, :], a[:, None] / den, 0)  # 1 - filt on kept columns
    q = jnp.where(kept[None, :], 0, u)  # complement of the kept columns
    if fit_intercept:  # remove the constant direction, which the intercept fits
        q = q - jnp.mean(q, axis=0, keepdims=True)
    uty = u.T @ yc
    resid = (g * uty[None, :]) @ u.T + (q @ (q.T @ yc))[None, :]  # (A, n)
    if mode == "loo":
        one_minus_h = g @ (u * u).T + jnp.sum(q * q, axis=1)[None, :]  # (A, n)
    else:
        rest = jnp.asarray(n - int(fit_intercept), X.dtype) - jnp.sum(kept).astype(X.dtype)
        one_minus_h = jnp.broadcast_to(((jnp.sum(g, axis=1) + rest) / n)[:, None], resid.shape)
    errors = jnp.mean((resid / one_minus_h) ** 2, axis=1)
    best = jnp.argmin(errors)
    if wide:  # the dual form w = Xcᵀ (Xc Xcᵀ + αI)⁻¹ yc, alpha > 0 here
        coef = xt_dot(Xc, u @ jnp.where(kept, uty / (ev + a[best]), 0))
        intercept = y_mean - x_mean @ coef
        return RidgeCVResult(a[best], coef, intercept, errors, best)
    p = s.shape[0]
    coefs, intercepts = _ridge_from_svd(s, vt, uty[:p], a[best][None], x_mean, y_mean)
    return RidgeCVResult(a[best], coefs[:, 0], intercepts[0], errors, best)


def warn_if_uncertified(certificates: Any, target: Any, *, where: str, what: str) -> None:
    """Warns when a returned certificate misses its target (concrete results only).

    The certificates are recomputed at the returned coefficients, so they are
    honest; a miss means the solver hit ``max_iter`` or the dtype's precision
    (float32 cannot certify a 1e-6 relative gap on most designs).
    """
    if is_traced(certificates) or is_traced(target):
        return
    got, goal = np.asarray(certificates), np.asarray(target)
    # No slack: the solvers aim under the target so that these recomputed values
    # meet it, and a NaN (which fails every comparison) counts as missed.
    missed = ~(got <= goal)
    if missed.any():
        warnings.warn(
            f"`{where}`: the {what} target {float(np.max(goal)):.3g} was not reached at "
            f"{int(missed.sum())} of {missed.size} alphas (largest {what} "
            f"{float(got.max()):.3g}). The returned {what}s are honest. In float32, enable "
            "float64 (`jax.config.update('jax_enable_x64', True)`) or raise `tol`; otherwise "
            "raise `max_iter`.",
            RuntimeWarning,
            stacklevel=_user_stacklevel(),
        )


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning raised by the caller of this function
    at the first frame outside regjax: the user's call, however deep the path
    function that warns (``lasso_path`` warns from ``_path``, ``logistic_path``
    from itself)."""
    frame, level = sys._getframe(2), 2  # 1: the function that calls warnings.warn
    while frame is not None and frame.f_globals.get("__name__", "").startswith("regjax."):
        frame, level = frame.f_back, level + 1
    return level
