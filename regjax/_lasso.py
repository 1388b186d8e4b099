"""Lasso and elastic-net paths with duality-gap certificates (``regjax.linear``)."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from regjax import _prox
from regjax._checks import is_traced
from regjax._fista import FistaResult, fista
from regjax._linear import (
    center,
    check_alphas,
    check_l1_ratio,
    check_xy,
    gram,
    top_eigenvalue,
    top_eigenvalue_of_gram,
    warn_if_uncertified,
    widest_float,
    xt_dot,
)

SOLVERS = ("auto", "fista", "path")

# The solvers' own certificates come from the Gram matrix when there is one
# (no product with X per check), where ‖y − Xw‖² = ‖y‖² − 2wᵀXᵀy + wᵀGw and
# XᵀR = Xᵀy − Gw cancel: their rounding moves a gap by a few ε·(‖y‖² + |w|ᵀ|Xᵀy|),
# a fraction of a percent of the smallest targets (tol = 1e-12). The returned gaps
# are recomputed from the residual itself (``honest_gaps``), so the solvers stop
# this far under the target for those honest gaps to meet it.
AIM = 0.95
# In float32 that cancellation is ~1e-7·‖y‖²/n per check, a tenth of a 1e-5
# target: the solvers aim at half of it there.
AIM_32 = 0.5


def aim(dtype: Any) -> float:
    """The fraction of the target the solvers stop at, for the working dtype."""
    return AIM if jnp.finfo(dtype).bits >= 64 else AIM_32


class Quad(NamedTuple):
    """The least-squares part 1/(2n)‖y − Xw‖², on the Gram matrix or on X.

    ``G`` is None in X mode. ``n`` may be traced (row-masked CV folds).
    ``G_lo`` is a float32 copy of a float64 ``G`` for :meth:`grad_near`."""

    X: jax.Array
    y: jax.Array
    G: jax.Array | None
    q: jax.Array  # Xᵀy
    yy: jax.Array
    n: jax.Array
    G_lo: jax.Array | None = None

    def grad(self, w: jax.Array) -> jax.Array:
        if self.G is not None:
            return (self.G @ w - self.q) / self.n
        return xt_dot(self.X, self.X @ w - self.y) / self.n

    def grad_near(self, w: jax.Array, anchor: jax.Array, g_anchor: jax.Array) -> jax.Array:
        """grad(w) from the exact gradient at a nearby ``anchor``, in float32.

        grad(w) = grad(anchor) + G (w − anchor) / n, and only the correction is
        rounded: its error is ε₃₂·‖G‖·‖w − anchor‖, small next to the exact
        part, while the product reads half the bytes of a float64 one (FISTA
        on a Gram matrix is bound by memory bandwidth)."""
        d = (w - anchor).astype(self.G_lo.dtype)
        return g_anchor + (self.G_lo @ d).astype(g_anchor.dtype) / self.n

    def parts_from_grad(self, w: jax.Array, g: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``parts(w)`` from g = grad(w), with no product with G or X.

        XᵀXw = n g + Xᵀy, so XᵀR = −n g and ‖R‖² = ‖y‖² − wᵀXᵀy + n wᵀg."""
        wq = jnp.vdot(w, self.q)
        return self.yy - wq + self.n * jnp.vdot(w, g), self.yy - wq, -self.n * g

    def parts(self, w: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
        """(‖R‖², Rᵀy, XᵀR) at w, with R = y − Xw."""
        if self.G is not None:
            gw = self.G @ w
            wq = jnp.vdot(w, self.q)
            return self.yy - 2 * wq + jnp.vdot(w, gw), self.yy - wq, self.q - gw
        r = self.y - self.X @ w
        return jnp.vdot(r, r), jnp.vdot(r, self.y), xt_dot(self.X, r)


def make_quad(X: jax.Array, y: jax.Array, use_gram: bool, n: Any = None) -> Quad:
    n = jnp.asarray(X.shape[0] if n is None else n, X.dtype)
    G = gram(X) if use_gram else None
    G_lo = G.astype(jnp.float32) if G is not None and G.dtype == jnp.float64 else None
    return Quad(X, y, G, xt_dot(X, y), jnp.vdot(y, y), n, G_lo)


def enet_gap(
    parts: tuple[jax.Array, jax.Array, jax.Array],
    w: jax.Array,
    alpha: jax.Array,
    r: jax.Array,
    n: jax.Array,
    mask: jax.Array | None = None,
) -> jax.Array:
    """scikit-learn's elastic-net duality gap, in units of the 1/(2n) objective.

    Formulation A (the rescaled residual as dual point) when alpha·r > 0,
    formulation B (ridge) when the L1 part vanishes. With ``mask``, the gap of
    the problem restricted to those features."""
    R2, Ry, XtR = parts
    a1 = alpha * r * n
    b = alpha * (1 - r) * n
    w2 = jnp.vdot(w, w)
    XtA = XtR - b * w
    absA = jnp.abs(XtA) if mask is None else jnp.where(mask, jnp.abs(XtA), 0)
    dn = jnp.max(absA)
    # Written so that a NaN dual norm (an overflowed XᵀR) makes the gap NaN: a
    # comparison with NaN is False, and "dn > a1" would take the scale 1.
    scale = jnp.where(dn <= a1, 1, a1 / jnp.where(dn == 0, 1, dn))
    quad = R2 + b * w2
    gap_a = 0.5 * quad + a1 * jnp.sum(jnp.abs(w)) + 0.5 * scale**2 * quad - scale * Ry
    xtr2 = XtR * XtR if mask is None else jnp.where(mask, XtR * XtR, 0)
    gap_b = R2 + 0.5 * b * w2 - Ry + jnp.sum(xtr2) / (2 * jnp.where(b > 0, b, 1))
    return jnp.where(a1 > 0, gap_a, gap_b) / n


def alpha_max(quad: Quad, r: jax.Array) -> jax.Array:
    return jnp.max(jnp.abs(quad.q)) / (quad.n * jnp.where(r > 0, r, 1))


def default_grid(amax: jax.Array, eps: float, n_alphas: int) -> jax.Array:
    # scikit-learn's _alpha_grid: when alpha_max <= float64 resolution (e.g. a constant
    # y with an intercept), every alpha is that resolution (a flat grid, not a geometric one).
    res = jnp.asarray(np.finfo(np.float64).resolution, amax.dtype)
    flat = amax <= res
    amax = jnp.maximum(amax, res)
    if n_alphas == 1:
        return amax[None]
    e = jnp.asarray(eps, amax.dtype) ** (jnp.arange(n_alphas, dtype=amax.dtype) / (n_alphas - 1))
    return amax * jnp.where(flat, jnp.ones_like(e), e)


def _enet_prox(alpha: jax.Array, r: jax.Array, step: jax.Array, mask: Any = None):
    def prox(v: jax.Array) -> jax.Array:
        out = _prox.elastic_net(v, l1=alpha * r * step, l2=alpha * (1 - r) * step / 2)
        return out if mask is None else jnp.where(mask, out, 0)

    return prox


def solve_grid(
    quad: Quad, alphas: jax.Array, r: jax.Array, tol_abs: jax.Array, max_iter: int
) -> tuple[jax.Array, jax.Array]:
    """Every alpha at once, each from zero: vmapped FISTA. Returns (W (A, p), iters).

    Each stops at ``aim(dtype) * tol_abs`` (see ``AIM``)."""
    step = 1 / lipschitz_from_quad(quad)
    tol_abs = aim(quad.q.dtype) * tol_abs

    def one(alpha: jax.Array) -> tuple[jax.Array, jax.Array]:
        res = fista(
            quad.grad,
            _enet_prox(alpha, r, step),
            lambda w, g: enet_gap(quad.parts_from_grad(w, g), w, alpha, r, quad.n),
            jnp.zeros(quad.q.shape, quad.q.dtype),
            step,
            tol_abs,
            max_iter,
        )
        return res.x, res.n_iter

    return jax.vmap(one)(alphas)


def lipschitz_from_quad(quad: Quad) -> jax.Array:
    """λ_max(XᵀX)/n, the Lipschitz constant of the gradient (a Lanczos bound when large)."""
    if quad.G is not None:
        return top_eigenvalue(quad.G) / quad.n
    return top_eigenvalue_of_gram(quad.X) / quad.n


def compact_tiers(p: int) -> tuple[int, ...]:
    """Static capacities of the compacted working sets (each below ``p``)."""
    # Late on a path most features are active, so buffers just below p pay where
    # the gather is cheap next to the iterations it speeds up: 8% off the
    # 10000x1000 benchmark path, 40% off 500x5000 (384 for p = 500 did not).
    return tuple(k for k in (64, 256, 512, 768, 1024, 2048, 4096) if k < p)


def solve_compact(
    quad: Quad,
    mask: jax.Array,
    w: jax.Array,
    alpha: jax.Array,
    r: jax.Array,
    tol_abs: jax.Array,
    max_iter: int,
    L_full: jax.Array,
    size: int,
) -> FistaResult:
    """FISTA on the features in ``mask`` gathered into a static buffer of ``size``.

    The restricted problem is the one the masked solve would solve, but each
    iteration touches a size x size Gram matrix (or n x size columns of X)
    instead of every feature, and the step is 1/min(L, Gershgorin bound of
    the restricted Gram matrix), both upper bounds of its Lipschitz constant.
    Requires ``sum(mask) <= size``; padding slots have zero columns. The
    result's ``grad`` is the gradient of the full problem at its x, formed from
    the gathered rows of G (or columns of X) alone: w is zero off the buffer."""
    p = quad.q.shape[0]
    idx = jnp.nonzero(mask, size=size, fill_value=0)[0]
    valid = (jnp.arange(size) < jnp.sum(mask)).astype(quad.q.dtype)
    Gs_lo = None
    if quad.G is not None:
        G_rows = jnp.take(quad.G, idx, axis=0)
        Gs = jnp.take(G_rows, idx, axis=1) * (valid[:, None] * valid[None, :])
        if quad.G_lo is not None:
            Gs_lo = Gs.astype(quad.G_lo.dtype)
        Xs = quad.X
    else:
        Xs = jnp.take(quad.X, idx, axis=1) * valid[None, :]
        Gs = gram(Xs) if size <= quad.X.shape[0] else None
    sub = Quad(Xs, quad.y, Gs, quad.q[idx] * valid, quad.yy, quad.n, Gs_lo)
    # A Lipschitz constant of the restricted problem, often several times below
    # the full one, so FISTA takes longer steps: the Gershgorin bound of a small
    # sub-Gram matrix, a Lanczos bound for large working sets (where the
    # iterations saved pay for it).
    if Gs is None:
        L = top_eigenvalue_of_gram(Xs) / quad.n
    elif size >= 1024:
        L = top_eigenvalue(Gs) / quad.n
    else:
        L = jnp.max(jnp.sum(jnp.abs(Gs), axis=1)) / quad.n
    L = jnp.where(L > 0, jnp.minimum(L, L_full), L_full)
    step = 1 / L
    res = fista(
        sub.grad,
        _enet_prox(alpha, r, step),
        lambda v, g: enet_gap(sub.parts_from_grad(v, g), v, alpha, r, sub.n),
        w[idx] * valid,
        step,
        tol_abs,
        max_iter,
        grad_near=sub.grad_near if Gs_lo is not None else None,
    )
    ws = res.x * valid
    w_full = jnp.zeros((p,), w.dtype).at[idx].add(ws)
    if quad.G is not None:
        grad_full = (ws @ G_rows - quad.q) / quad.n  # G symmetric: rows idx are columns idx
    else:
        grad_full = xt_dot(quad.X, Xs @ ws - quad.y) / quad.n
    return FistaResult(w_full, res.gap, res.n_iter, grad_full)


def solve_path(
    quad: Quad,
    alphas: jax.Array,
    r: jax.Array,
    tol_abs: jax.Array,
    max_iter: int,
    max_rounds: int = 6,
    compact: bool = True,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Warm-started along the path (``lax.scan``), with strong-rule screening.

    At each alpha the features kept by the sequential strong rule (and those
    already active) are solved first, compacted into the smallest static
    buffer that holds them (``compact_tiers``; the masked full problem when
    none does); the KKT conditions of the full problem are then checked and
    violators added, until the full gap is <= ``AIM * tol_abs``. An alpha whose
    starting point (see below) is already certified, by a gap from the exact
    gradient there, skips all of that. Returns W (A, p) and, per alpha, the
    FISTA iterations and screening rounds run."""
    tol_abs = aim(quad.q.dtype) * tol_abs
    L_full = lipschitz_from_quad(quad)
    step = 1 / L_full
    p = quad.q.shape[0]
    amax = alpha_max(quad, r)
    tiers = compact_tiers(p) if compact else ()

    def at_alpha(carry, alpha):
        # xtr, xtr2: Xᵀ(y − Xw) at w_prev and w_prev2, from exact gradients there
        # (their KKT checks or their certified starts).
        w_prev, a_prev, w_prev2, a_prev2, xtr, xtr2 = carry
        c = jnp.abs(xtr - alpha * (1 - r) * quad.n * w_prev) / quad.n
        strong = (c >= r * (2 * alpha - a_prev)) | (w_prev != 0)

        def masked(mask, w):
            return fista(
                quad.grad,
                _enet_prox(alpha, r, step, mask),
                lambda v, g: enet_gap(quad.parts_from_grad(v, g), v, alpha, r, quad.n, mask),
                w,
                step,
                tol_abs,
                max_iter,
                grad_near=quad.grad_near if quad.G_lo is not None else None,
            )

        branches = [
            functools.partial(
                lambda k, mask, w: solve_compact(
                    quad, mask, w, alpha, r, tol_abs, max_iter, L_full, k
                ),
                k,
            )
            for k in tiers
        ] + [masked]

        def ocond(s):
            _, _, gap, rounds, _, _ = s
            return (gap > tol_abs) & (rounds < max_rounds)

        def obody(s):
            mask, w, _, rounds, iters, _ = s
            w = jnp.where(mask, w, 0)
            count = jnp.sum(mask)
            which = sum((count > k).astype(jnp.int32) for k in tiers) if tiers else 0
            res = jax.lax.switch(which, branches, mask, w) if tiers else masked(mask, w)
            w = res.x
            parts = quad.parts_from_grad(w, res.grad)
            gap = enet_gap(parts, w, alpha, r, quad.n)
            viol = ~mask & (jnp.abs(parts[2]) / quad.n > alpha * r)
            mask = jnp.where(jnp.any(viol), mask | viol, jnp.ones_like(mask))
            return mask, w, gap, rounds + 1, iters + res.n_iter, parts[2]

        # Between knots the lasso path is linear in alpha (and the elastic net's
        # nearly so): extrapolating the last two solutions starts FISTA at the
        # solution itself while the active set holds, and near it when it grows.
        span = a_prev2 - a_prev
        slope = jnp.where(span > 0, (a_prev - alpha) / jnp.where(span > 0, span, 1), 0)
        start = w_prev + slope * (w_prev - w_prev2)
        # The gradient is affine in w, so the start's residual correlations are
        # the same extrapolation of the last two: an estimate of its gap that
        # costs no product with the data. Where that estimate says certified,
        # the gap is recomputed from the exact gradient at the start (one
        # product with G or X, far below a solve) and only that decides: an
        # extrapolated gradient carries the rounding of every skipped alpha
        # before it. Only a start with w_prev's signs (and zeros) may skip the
        # solve, so that a feature leaving the path is set to an exact zero by it.
        xtr_est = xtr + slope * (xtr - xtr2)
        gap_est = enet_gap(quad.parts_from_grad(start, -xtr_est / quad.n), start, alpha, r, quad.n)
        same_signs = jnp.all(jnp.sign(start) == jnp.sign(w_prev))
        candidate = same_signs & (gap_est <= tol_abs)

        def exact_start(_):
            g = quad.grad(start)
            return enet_gap(quad.parts_from_grad(start, g), start, alpha, r, quad.n), -quad.n * g

        def no_start(_):
            return jnp.asarray(jnp.inf, gap_est.dtype), xtr_est

        # A start that is not certified leaves xtr_est unused: the loop's first
        # round replaces it with an exact one.
        gap_start, xtr_start = jax.lax.cond(candidate, exact_start, no_start, None)
        zero = jnp.zeros((), jnp.int32)
        init = (strong, start, gap_start, zero, zero, xtr_start)
        _, w, _, rounds, iters, xtr_new = jax.lax.while_loop(ocond, obody, init)
        return (w, alpha, w_prev, a_prev, xtr_new, xtr), (w, iters, rounds)

    w0 = jnp.zeros((p,), quad.q.dtype)
    a0 = jnp.maximum(amax, alphas[0])
    init = (w0, a0, w0, a0, quad.q, quad.q)
    _, (W, iters, rounds) = jax.lax.scan(at_alpha, init, alphas)
    return W, iters, rounds


def residual_parts(quad: Quad, W: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(‖R‖², Rᵀy, XᵀR) per row w of W, with the residuals R = y − Xw formed from X.

    Computed in the widest float dtype enabled (float64 under x64, whatever the
    dtype of X). ‖R‖² and Rᵀy are sums over R itself, not ‖y‖² − 2wᵀXᵀy + wᵀGw,
    so the only cancellation left is the gap's own (primal minus dual, each
    about ‖y‖²/(2n)), a few ε·‖y‖²/n. XᵀR comes from the Gram matrix when it is
    held in that dtype (Xᵀy − Gw, p² per alpha rather than np: it enters the
    gap through the dual point's scale, whose rounding is of that same order),
    from R otherwise."""
    wide = widest_float()
    X, y, W = quad.X.astype(wide), quad.y.astype(wide), W.astype(wide)
    R = y[None, :] - W @ X.T  # (A, n)
    if quad.G is not None and quad.G.dtype == wide:
        XtR = quad.q[None, :] - W @ quad.G  # G symmetric
    else:
        # (Xᵀ Rᵀ)ᵀ rather than R @ X: XLA:CPU runs the latter several times slower.
        XtR = (X.T @ R.T).T
    return jnp.sum(R * R, axis=1), R @ y, XtR


def honest_gaps(quad: Quad, W: jax.Array, alphas: jax.Array, r: jax.Array) -> jax.Array:
    """Gaps recomputed at the returned W from the residuals y − Xw (``residual_parts``).

    ‖R‖² is not the expansion ‖y‖² − 2wᵀXᵀy + wᵀGw, which cancels (see ``AIM``),
    and nothing comes from what the solver carried: the gap of exactly the
    returned coefficients, in float64 where x64 is enabled, in the dtype of X
    otherwise."""
    R2, Ry, XtR = residual_parts(quad, W)
    wide = R2.dtype
    gaps = jax.vmap(
        lambda r2, ry, xtr, w, a: enet_gap((r2, ry, xtr), w, a, r.astype(wide), quad.n.astype(wide))
    )(R2, Ry, XtR, W.astype(wide), alphas.astype(wide))
    # Rounded once, to the dtype of the coefficients: a relative error of that
    # dtype's ε on the gap itself, not on ‖y‖² as computing it there would be.
    return gaps.astype(W.dtype)


def squares_fit(quad: Quad) -> jax.Array:
    """Whether ‖X‖_F² and ‖y‖² are finite in the working dtype.

    ‖X‖_F² bounds every entry of XᵀX and its top eigenvalue, so when it is
    finite the Gram matrix and FISTA's step are too. When it overflows (float32
    X near 1e20, say) the step is 0 or NaN and the solver cannot move, while
    the gap of w = 0 from θ = 0 can still be finite: a path that did nothing."""
    return jnp.isfinite(jnp.vdot(quad.X, quad.X)) & jnp.isfinite(quad.yy)


def raise_if_overflowed(fits: Any, dtype: Any, *, where: str) -> None:
    """Raises when ``squares_fit`` is False (concrete results only)."""
    if is_traced(fits) or bool(fits):
        return
    raise ValueError(
        f"`{where}`: the squares of `X` or `y` are not finite in {np.dtype(dtype).name} (they "
        "overflow), so the solver's step and certificates cannot be computed and no alpha is "
        "certified. Rescale `X` and `y` (e.g. standardize), or enable float64 "
        "(`jax.config.update('jax_enable_x64', True)`) and pass float64 arrays."
    )


def raise_if_nonfinite(*arrays: Any, where: str, what: str) -> None:
    """Raises when a returned certificate or coefficient is not finite (concrete results only).

    A NaN or infinite certificate compares False against its target, so it would
    otherwise pass as met. It means the problem overflowed in the working dtype
    (``X`` or ``y`` too large to square, or non-finite inputs).
    """
    if any(is_traced(a) for a in arrays):
        return
    if not all(np.isfinite(np.asarray(a)).all() for a in arrays):
        raise ValueError(
            f"`{where}`: the {what} or the coefficients are not finite (NaN or inf), so no "
            "alpha is certified. `X` and `y` must be finite and small enough that their "
            "squares and products fit the dtype: rescale `X` and `y` (e.g. standardize), or "
            "enable float64 (`jax.config.update('jax_enable_x64', True)`)."
        )


def resolve_solver(solver: str, *, where: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"`{where}(solver=...)` must be one of {SOLVERS}; got {solver!r}.")
    return "path" if solver == "auto" else solver


def check_static_int(v: Any, *, where: str, name: str, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < low:
        raise ValueError(f"`{where}({name}=...)` must be an int >= {low}; got {v!r}.")
    return int(v)


def check_tol(tol: Any, *, where: str) -> None:
    if isinstance(tol, int | float) and not (0 < tol < float("inf")):
        raise ValueError(f"`{where}(tol=...)` must be positive and finite; got {tol!r}.")


def check_eps(eps: Any, *, where: str) -> None:
    """The default grid's alpha_min / alpha_max: a positive Python number (static)."""
    if not (isinstance(eps, int | float) and 0 < eps < float("inf")):
        raise ValueError(f"`{where}(eps=...)` must be a positive number; got {eps!r}.")


def lasso_path(
    X: Any,
    y: Any,
    alphas: Any = None,
    *,
    l1_ratio: Any = 1.0,
    eps: float = 1e-3,
    n_alphas: int = 100,
    tol: Any = 1e-6,
    max_iter: int = 20_000,
    fit_intercept: bool = False,
    solver: str = "auto",
    gram: bool | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Lasso / elastic-net coefficients along a grid of alphas, with certified gaps.

    Minimizes scikit-learn's objective at every alpha,

    .. math:: \frac{1}{2n}\|y - Xw\|_2^2 + \alpha\,r\,\|w\|_1
              + \frac{\alpha(1-r)}{2}\|w\|_2^2, \qquad r = \text{l1\_ratio},

    and stops on scikit-learn's duality gap (Fercoq et al. 2015): at each alpha
    the solver stops once the gap is <= ``tol * ‖y‖² / n``, so equal ``tol``
    means an equal certificate. The returned gaps are recomputed over all
    the features at the returned coefficients, from the residuals y − Xw
    themselves (in float64 whenever x64 is enabled), not taken from the solver:
    they are the gaps of exactly what is returned. The solvers' own gaps come
    from XᵀX in Gram mode, whose expansion ‖y‖² − 2wᵀXᵀy + wᵀXᵀXw rounds
    differently, so they stop at 0.95 of the target for the returned gaps to
    meet it.

    Solvers (``solver=``):

    - ``"path"`` (``"auto"``): warm-started along the decreasing alphas with
      ``lax.scan``; each alpha first solves the features kept by the
      sequential strong rule (Tibshirani et al. 2012) plus the active ones,
      then checks the full KKT conditions and adds violators until the full
      gap is certified. The screened set is gathered into the smallest static
      buffer of 64, 256, 512, 768, 1024, 2048 or 4096 features that holds
      it (a sub-Gram matrix, or the gathered columns of X), so an
      iteration costs the size of the working set rather than of the whole
      design. Each alpha starts from the linear extrapolation of the last two
      solutions, exact between the knots of a lasso path.
    - ``"fista"``: every alpha at once from zero, ``jax.vmap`` over the grid;
      one batched matrix product per iteration, the better choice on
      accelerators.

    Under ``jax.vmap`` (over ``l1_ratio``, say) the switch between buffer
    sizes of ``"path"`` becomes a select that runs every buffer: prefer
    ``"fista"`` there when ``n_features > 64``.

    Both are FISTA with adaptive restart (O'Donoghue and Candès 2015), on the
    Gram matrix when ``n_features <= n_samples`` (``gram=None``) and on X
    otherwise; ``gram=True/False`` forces either. With ``"path"`` on a float64
    Gram matrix, the steps between two certificate checks add a float32
    correction G(w − a)/n to the exact gradient at the last checked point a
    (half the memory traffic per step); every certificate is exact float64.
    An alpha whose extrapolated start is already certified is not solved:
    the start is certified by its gap from the exact gradient there (one
    product with XᵀX or X), never from extrapolated correlations, whose
    rounding would build up along a run of such alphas.

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      alphas: strengths > 0 (sorted decreasing, as scikit-learn does), or None
        for scikit-learn's default grid: ``n_alphas`` values geometrically from
        ``α_max = max|Xᵀy| / (n r)`` down to ``eps · α_max``.
      l1_ratio: r in [0, 1]; may be traced (a grid needs explicit ``alphas`` if 0).
      eps: ratio of the smallest to the largest alpha of the default grid.
      n_alphas: size of the default grid (static).
      tol: duality-gap tolerance relative to ``‖y‖²/n`` (scikit-learn's meaning).
      max_iter: FISTA iterations per alpha (and per screening round), static.
      fit_intercept: center X and y first (the intercept is then
        ``mean(y) − mean(X) @ w``); scikit-learn's ``lasso_path`` does not.
      solver: ``"auto"``, ``"path"`` or ``"fista"`` (static).
      gram: work on XᵀX (True), on X (False), or choose by shape (None).

    Returns:
      ``(alphas, coefs, dual_gaps)`` shaped as ``sklearn.linear_model.lasso_path``:
      (n_alphas,), (n_features, n_alphas), (n_alphas,); the gaps in units of
      the objective above (scikit-learn's ``dual_gaps`` convention).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (40, 6))
      >>> y = X @ jnp.array([2.0, 0.0, 0.0, -1.0, 0.0, 0.0])
      >>> alphas, coefs, gaps = regjax.linear.lasso_path(X, y, n_alphas=5)
      >>> alphas.shape, coefs.shape
      ((5,), (6, 5))
      >>> (coefs[:, 0] == 0).all().item()  # alpha_max zeroes every coefficient
      True
      >>> bool((gaps <= 1e-6 * jnp.vdot(y, y) / 40 + 1e-6).all())
      True

    References:
      Friedman, J., Hastie, T. and Tibshirani, R. (2010). Regularization Paths
      for Generalized Linear Models via Coordinate Descent. J. Stat. Softw.
      33(1). https://doi.org/10.18637/jss.v033.i01
      Tibshirani, R. et al. (2012). Strong Rules for Discarding Predictors in
      Lasso-type Problems. JRSS B 74(2).
      https://doi.org/10.1111/j.1467-9868.2011.01004.x
      Beck, A. and Teboulle, M. (2009). A Fast Iterative Shrinkage-Thresholding
      Algorithm for Linear Inverse Problems. SIAM J. Imaging Sci. 2(1).
      https://doi.org/10.1137/080716542
      O'Donoghue, B. and Candès, E. (2015). Adaptive Restart for Accelerated
      Gradient Schemes. Found. Comput. Math. 15. https://doi.org/10.1007/s10208-013-9150-3
      Fercoq, O., Gramfort, A. and Salmon, J. (2015). Mind the duality gap:
      safer rules for the Lasso. ICML. https://arxiv.org/abs/1505.03410
    """
    return _path("regjax.linear.lasso_path", **locals())


def enet_path(
    X: Any,
    y: Any,
    alphas: Any = None,
    *,
    l1_ratio: Any = 0.5,
    eps: float = 1e-3,
    n_alphas: int = 100,
    tol: Any = 1e-6,
    max_iter: int = 20_000,
    fit_intercept: bool = False,
    solver: str = "auto",
    gram: bool | None = None,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    r"""Elastic-net path: :func:`lasso_path` with ``l1_ratio=0.5`` by default.

    .. math:: \frac{1}{2n}\|y - Xw\|_2^2 + \alpha\,r\,\|w\|_1
              + \frac{\alpha(1-r)}{2}\|w\|_2^2

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      alphas: strengths > 0, or None for the default grid.
      l1_ratio: r in [0, 1], as ``sklearn.linear_model.enet_path``.
      eps: ratio of the smallest to the largest default alpha.
      n_alphas: size of the default grid.
      tol: duality-gap tolerance relative to ``‖y‖²/n``.
      max_iter: FISTA iterations per alpha.
      fit_intercept: center X and y first.
      solver: ``"auto"``, ``"path"`` or ``"fista"``.
      gram: work on XᵀX (True), on X (False), or by shape (None).

    Returns:
      ``(alphas, coefs, dual_gaps)`` as :func:`lasso_path`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (30, 4))
      >>> y = X @ jnp.array([1.0, -1.0, 0.0, 0.0])
      >>> alphas, coefs, gaps = regjax.linear.enet_path(X, y, n_alphas=3)
      >>> coefs.shape
      (4, 3)

    References:
      Zou, H. and Hastie, T. (2005). Regularization and Variable Selection via
      the Elastic Net. JRSS B 67(2). https://doi.org/10.1111/j.1467-9868.2005.00503.x
    """
    return _path("regjax.linear.enet_path", **locals())


def _prepare(where: str, **kw: Any) -> dict[str, Any]:
    """Validates a path call's arguments; returns what the solvers take."""
    X, y = check_xy(kw["X"], kw["y"], where=where)
    r = check_l1_ratio(kw["l1_ratio"], X.dtype, where=where)
    check_tol(kw["tol"], where=where)
    n_alphas = check_static_int(kw["n_alphas"], where=where, name="n_alphas")
    max_iter = check_static_int(kw["max_iter"], where=where, name="max_iter")
    solver = resolve_solver(kw["solver"], where=where)
    eps = kw["eps"]
    check_eps(eps, where=where)
    gram = kw["gram"]
    use_gram = X.shape[1] <= X.shape[0] if gram is None else bool(gram)
    default = kw["alphas"] is None
    if default:
        l1r = kw["l1_ratio"]
        if isinstance(l1r, int | float) and l1r == 0:
            raise ValueError(
                f"`{where}(alphas=None)` needs l1_ratio > 0: the default grid starts at "
                "max|Xᵀy|/(n·l1_ratio). Pass explicit `alphas` for ridge (l1_ratio=0)."
            )
        alphas = jnp.zeros((n_alphas,), X.dtype)
    else:
        alphas = check_alphas(kw["alphas"], X.dtype, where=where)
    return {
        "X": X, "y": y, "alphas": alphas, "r": r, "tol": jnp.asarray(kw["tol"], X.dtype),
        "eps": float(eps), "fit_intercept": kw["fit_intercept"], "use_gram": use_gram,
        "default": default, "solver": solver, "max_iter": max_iter,
    }  # fmt: skip


def _path(where: str, **kw: Any) -> tuple[jax.Array, jax.Array, jax.Array]:
    a = _prepare(where, **kw)
    alphas, coefs, gaps, target, fits = _solve(
        a["X"], a["y"], a["alphas"], a["r"], a["tol"], a["eps"], a["fit_intercept"],
        a["use_gram"], a["default"], a["solver"], a["max_iter"],
    )  # fmt: skip
    raise_if_overflowed(fits, a["X"].dtype, where=where)
    raise_if_nonfinite(gaps, coefs, where=where, what="duality gap")
    warn_if_uncertified(gaps, target, where=where, what="duality gap")
    return alphas, coefs, gaps


def _grid_for(quad: Quad, alphas: jax.Array, r: jax.Array, eps: float, default: bool) -> Any:
    """The default grid from alpha_max, or the given alphas in decreasing order."""
    if default:
        return default_grid(alpha_max(quad, r), eps, alphas.shape[0])
    return -jnp.sort(-alphas)


@functools.partial(jax.jit, static_argnums=(4, 5, 6, 7))
def _grid(X, y, alphas, r, eps, fit_intercept, use_gram, default):
    Xc, yc, _, _ = center(X, y, fit_intercept)
    return _grid_for(make_quad(Xc, yc, use_gram), alphas, r, eps, default)


@functools.partial(jax.jit, static_argnums=(5, 6, 7, 8, 9, 10))
def _solve(X, y, alphas, r, tol, eps, fit_intercept, use_gram, default, solver, max_iter):
    Xc, yc, _, _ = center(X, y, fit_intercept)
    quad = make_quad(Xc, yc, use_gram)
    alphas = _grid_for(quad, alphas, r, eps, default)
    tol_abs = tol * quad.yy / quad.n
    if solver == "fista":
        W, _ = solve_grid(quad, alphas, r, tol_abs, max_iter)
    else:
        W, _, _ = solve_path(quad, alphas, r, tol_abs, max_iter)
    gaps = honest_gaps(quad, W, alphas, r)
    return alphas, W.T, gaps, tol_abs, squares_fit(quad)


class LassoCVResult(NamedTuple):
    """Result of :func:`regjax.linear.lasso_cv`.

    A ``NamedTuple`` of arrays (a pytree), in place of the fitted attributes
    of scikit-learn's ``LassoCV``: ``alpha`` is ``alpha_``, ``coef`` is
    ``coef_``, ``intercept`` is ``intercept_``, ``alphas`` is ``alphas_`` and
    ``mse_path`` is ``mse_path_``; ``alpha_1se`` has no counterpart there.
    Predictions are ``X @ coef + intercept``. Only ``coef`` and ``intercept``
    belong to the refit at ``alpha``; for the coefficients at ``alpha_1se``,
    call :func:`regjax.linear.lasso_path` with ``alphas=[alpha_1se]``.

    Attributes:
      alpha: the alpha of least mean cross-validated error.
      alpha_1se: the largest alpha whose mean error is within one standard
        error of the least (the sparser "one-standard-error" choice); the
        standard error is ``std(ddof=1) / √folds`` over the folds.
      coef: coefficients refit on all the data at ``alpha``, shape (n_features,).
      intercept: the intercept of that refit (0 without ``fit_intercept``).
      alphas: the grid, decreasing, shape (n_alphas,).
      mse_path: held-out mean squared error, shape (n_alphas, folds), as
        scikit-learn's ``LassoCV.mse_path_``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (60, 5))
      >>> y = X @ jnp.array([2.0, 0.0, 0.0, -1.0, 0.0]) + 1.0
      >>> res = regjax.linear.lasso_cv(X, y, n_alphas=8, folds=3)
      >>> res.coef.shape, res.alphas.shape, res.mse_path.shape
      ((5,), (8,), (8, 3))
      >>> best = jnp.argmin(res.mse_path.mean(axis=1))
      >>> bool(res.alpha == res.alphas[best]), bool(res.alpha_1se >= res.alpha)
      (True, True)
      >>> round(float(res.intercept), 2)
      1.0
      >>> (X @ res.coef + res.intercept).shape  # predictions
      (60,)

    References:
      Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of
      Statistical Learning, 2nd ed., §7.10 (the one-standard-error rule).
      https://hastie.su.domains/ElemStatLearn/
    """

    alpha: jax.Array
    alpha_1se: jax.Array
    coef: jax.Array
    intercept: jax.Array
    alphas: jax.Array
    mse_path: jax.Array


def lasso_cv(
    X: Any,
    y: Any,
    alphas: Any = None,
    *,
    l1_ratio: Any = 1.0,
    folds: int = 5,
    eps: float = 1e-3,
    n_alphas: int = 100,
    tol: Any = 1e-6,
    max_iter: int = 20_000,
    fit_intercept: bool = True,
    solver: str = "auto",
) -> LassoCVResult:
    r"""K-fold cross-validated lasso / elastic net, vmapped over folds × alphas.

    For each fold k the path of :func:`lasso_path` is fit on the other folds
    (centered on their own means with ``fit_intercept``) and scored on fold k:

    .. math:: \mathrm{MSE}_k(\alpha) = \frac{1}{|F_k|}\sum_{i \in F_k}
              (y_i - b_{-k}(\alpha) - x_i^\top w_{-k}(\alpha))^2 .

    The folds are contiguous, as scikit-learn's ``KFold`` without shuffling
    (``LassoCV(cv=folds)``), and the grid is built from all the data, so the
    result matches ``LassoCV`` at equal ``tol``. Every fold is one member of a
    ``jax.vmap`` (held-out rows get weight 0), so one program fits them all.

    Args:
      X: design, shape (n_samples, n_features).
      y: target, shape (n_samples,).
      alphas: strengths > 0, or None for the default grid.
      l1_ratio: r in [0, 1].
      folds: number of folds, >= 2 (static).
      eps: ratio of the smallest to the largest default alpha.
      n_alphas: size of the default grid.
      tol: duality-gap tolerance relative to ‖y‖²/n, per fold.
      max_iter: FISTA iterations per alpha.
      fit_intercept: center on the training rows of each fold.
      solver: ``"auto"``, ``"path"`` or ``"fista"``.

    Returns:
      A :class:`LassoCVResult`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> X = jax.random.normal(jax.random.key(0), (60, 5))
      >>> y = X @ jnp.array([2.0, 0.0, 0.0, -1.0, 0.0])
      >>> res = regjax.linear.lasso_cv(X, y, n_alphas=8, folds=3)
      >>> res.mse_path.shape, bool(res.alpha_1se >= res.alpha)
      ((8, 3), True)

    References:
      Hastie, T., Tibshirani, R. and Friedman, J. (2009). The Elements of
      Statistical Learning, 2nd ed., §7.10 (the one-standard-error rule).
      https://hastie.su.domains/ElemStatLearn/
    """
    where = "regjax.linear.lasso_cv"
    X, y = check_xy(X, y, where=where)
    k = check_static_int(folds, where=where, name="folds", low=2)
    if k > X.shape[0]:
        raise ValueError(f"`{where}(folds=...)` is {k}, more than the {X.shape[0]} samples.")
    a = _prepare(
        where, X=X, y=y, alphas=alphas, l1_ratio=l1_ratio, eps=eps, n_alphas=n_alphas, tol=tol,
        max_iter=max_iter, fit_intercept=fit_intercept, solver=solver, gram=None,
    )  # fmt: skip
    alphas = _grid(
        a["X"], a["y"], a["alphas"], a["r"], a["eps"], fit_intercept, a["use_gram"], a["default"]
    )
    r = check_l1_ratio(l1_ratio, X.dtype, where=where)
    n = X.shape[0]
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    ids = np.repeat(np.arange(k), sizes)
    masks = jnp.asarray(ids[None, :] != np.arange(k)[:, None], X.dtype)  # (k, n) train rows
    use_gram = X.shape[1] <= X.shape[0]
    mse = _cv(X, y, masks, alphas, r, jnp.asarray(tol, X.dtype), fit_intercept, use_gram,
              resolve_solver(solver, where=where), check_static_int(max_iter, where=where,
              name="max_iter"))  # fmt: skip
    raise_if_nonfinite(mse, where=where, what="cross-validated mean squared error")
    mean = jnp.mean(mse, axis=1)
    se = jnp.std(mse, axis=1, ddof=1) / np.sqrt(k)
    best = jnp.argmin(mean)
    within = mean <= mean[best] + se[best]
    idx_1se = jnp.argmax(within)  # alphas decrease: the first index is the largest alpha
    _, W, _ = _path(
        where, X=X, y=y, alphas=alphas[best][None], l1_ratio=l1_ratio, eps=eps,
        n_alphas=1, tol=tol, max_iter=max_iter, fit_intercept=fit_intercept,
        solver=solver, gram=None,
    )  # fmt: skip
    coef = W[:, 0]
    intercept = jnp.mean(y) - jnp.mean(X, axis=0) @ coef if fit_intercept else jnp.zeros_like(y[0])
    return LassoCVResult(alphas[best], alphas[idx_1se], coef, intercept, alphas, mse)


@functools.partial(jax.jit, static_argnums=(6, 7, 8, 9))
def _cv(X, y, masks, alphas, r, tol, fit_intercept, use_gram, solver, max_iter):
    def one(m):
        nt = jnp.sum(m)
        if fit_intercept:
            xm = (m @ X) / nt
            ym = jnp.vdot(m, y) / nt
        else:
            xm, ym = jnp.zeros(X.shape[1], X.dtype), jnp.zeros((), X.dtype)
        Xf = (X - xm[None, :]) * m[:, None]
        yf = (y - ym) * m
        quad = make_quad(Xf, yf, use_gram, n=nt)
        tol_abs = tol * quad.yy / quad.n
        if solver == "fista":
            W, _ = solve_grid(quad, alphas, r, tol_abs, max_iter)
        else:
            # vmapped over folds, a switch between buffer sizes would run every
            # branch: the folds use the masked working sets instead.
            W, _, _ = solve_path(quad, alphas, r, tol_abs, max_iter, compact=False)
        pred = (X - xm[None, :]) @ W.T + ym  # (n, A)
        err = (y[:, None] - pred) ** 2
        test = 1 - m
        return (test @ err) / jnp.sum(test)

    return jax.vmap(one)(masks).T
