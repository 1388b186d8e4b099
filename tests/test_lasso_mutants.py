"""The lasso path's building blocks against NumPy, one formula at a time.

The paths' tests check their answers through certificates and against
scikit-learn; a mistake that a later screening round or a tighter solve
corrects cannot fail them. These compare each piece with an independent
NumPy computation from X and y in float64: the duality gap from the primal
and dual objectives' definitions (scikit-learn's ``enet_coordinate_descent``
gap), the quadratic model's products, the grid, the prox, the recomputed
certificates, the restricted solve, and the iteration counts that show the
extrapolated starts and the screening at work.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import enet_path as sk_enet_path

from regjax import _lasso
from regjax._lasso import (
    alpha_max,
    compact_tiers,
    default_grid,
    enet_gap,
    honest_gaps,
    lipschitz_from_quad,
    make_quad,
    raise_if_nonfinite,
    residual_parts,
    solve_compact,
    solve_grid,
    solve_path,
    squares_fit,
)

pytestmark = pytest.mark.usefixtures("float64_enabled")


def _data(n=40, p=15, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    X[:, 1] = X[:, 0] + 0.3 * rng.randn(n)
    y = X[:, :4] @ np.array([2.0, -1.0, 0.5, 1.5]) + 0.3 * rng.randn(n)
    return X, y


def _gap_np(X, y, w, alpha, r, mask=None):
    """scikit-learn's elastic-net duality gap (``_cd_fast.enet_coordinate_descent``),
    objective 1/(2n)‖y − Xw‖² + α r‖w‖₁ + α(1 − r)/2 ‖w‖², divided by n.

    With ``mask``: the problem restricted to the masked features (w is zero off them)."""
    n = X.shape[0]
    if mask is not None:
        X = X[:, mask]
        w = w[mask]
    R = y - X @ w
    l1, l2 = alpha * r * n, alpha * (1 - r) * n
    if l1 > 0:
        XtA = X.T @ R - l2 * w
        dual_norm = np.abs(XtA).max()
        if dual_norm > l1:
            const = l1 / dual_norm
            gap = 0.5 * (R @ R + R @ R * const**2)
        else:
            const = 1.0
            gap = R @ R
        gap += l1 * np.abs(w).sum() - const * R @ y + 0.5 * l2 * (1 + const**2) * (w @ w)
        return gap / n
    # ridge (l1 = 0): primal minus the dual at θ = R, from their definitions
    primal = 0.5 * R @ R + 0.5 * l2 * (w @ w)
    XtR = X.T @ R
    dual = R @ y - 0.5 * R @ R - (XtR @ XtR) / (2 * l2)
    return (primal - dual) / n


def _parts_np(X, y, w):
    R = y - X @ w
    return R @ R, R @ y, X.T @ R


# ---- enet_gap ----------------------------------------------------------------


@pytest.mark.parametrize("r", [1.0, 0.6, 0.0])
@pytest.mark.parametrize("where", ["far", "near", "zero"])
def test_enet_gap_matches_scikit_learns_formula(r, where):
    X, y = _data()
    n = X.shape[0]
    amax = np.abs(X.T @ y).max() / n
    alpha = 0.1 * amax
    if where == "far":  # the dual point is rescaled (dual norm > α r n)
        w = np.random.RandomState(1).randn(X.shape[1])
    elif where == "near":  # the solution itself: the scale is 1
        l1 = max(r, 1e-3)  # scikit-learn's enet_path needs l1_ratio > 0
        _, coefs, _ = sk_enet_path(X, y, alphas=[alpha * r / l1], l1_ratio=l1, tol=1e-14)
        w = coefs[:, 0] if r > 0 else np.linalg.solve(X.T @ X / n + alpha * np.eye(15), X.T @ y / n)
    else:
        w = np.zeros(X.shape[1])
    got = float(enet_gap(_parts_np(X, y, w), jnp.asarray(w), alpha, r, float(n)))
    want = _gap_np(X, y, w, alpha, r)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    assert want >= -1e-12


def test_enet_gap_scale_is_one_inside_the_dual_ball():
    # a large alpha makes the dual norm of the residual below α r n: θ = R
    X, y = _data()
    n = X.shape[0]
    alpha = 2.0 * np.abs(X.T @ y).max() / n
    w = np.zeros(X.shape[1])
    w[0] = 1e-3
    got = float(enet_gap(_parts_np(X, y, w), jnp.asarray(w), alpha, 1.0, float(n)))
    np.testing.assert_allclose(got, _gap_np(X, y, w, alpha, 1.0), rtol=1e-12)


def test_enet_gap_at_the_boundary_of_the_dual_ball():
    # dual norm exactly α r n: both branches agree, and the formula is continuous
    X, y = _data()
    n = X.shape[0]
    w = np.zeros(X.shape[1])
    alpha = np.abs(X.T @ y).max() / n  # alpha_max: XᵀR = Xᵀy has dual norm α n
    got = float(enet_gap(_parts_np(X, y, w), jnp.asarray(w), alpha, 1.0, float(n)))
    np.testing.assert_allclose(got, _gap_np(X, y, w, alpha, 1.0), atol=1e-13)
    np.testing.assert_allclose(got, 0.0, atol=1e-12)


@pytest.mark.parametrize("r", [1.0, 0.5, 0.0])
def test_enet_gap_with_a_mask_is_the_restricted_problems(r):
    X, y = _data()
    n = X.shape[0]
    mask = np.zeros(X.shape[1], bool)
    mask[[0, 2, 5, 7]] = True
    w = np.where(mask, np.random.RandomState(2).randn(X.shape[1]), 0.0)
    alpha = 0.05 * np.abs(X.T @ y).max() / n
    # the full problem's X^T R differs off the mask: only the masked part may count
    got = float(enet_gap(_parts_np(X, y, w), jnp.asarray(w), alpha, r, float(n), jnp.asarray(mask)))
    np.testing.assert_allclose(got, _gap_np(X, y, w, alpha, r, mask), rtol=1e-10)
    full = _gap_np(X, y, w, alpha, r)
    assert abs(full - got) > 1e-6 * abs(full)


def test_enet_gap_is_nan_when_the_residual_correlations_are():
    X, y = _data()
    w = np.zeros(X.shape[1])
    R2, Ry, XtR = _parts_np(X, y, w)
    XtR = XtR.copy()
    XtR[3] = np.nan
    for r in (1.0, 0.0):
        assert np.isnan(float(enet_gap((R2, Ry, XtR), jnp.asarray(w), 0.1, r, 40.0)))


def test_enet_gap_with_zero_residual_correlations_is_finite():
    # XᵀR = 0 and w = 0 (y orthogonal to X): the dual norm is 0, no division by it
    X, y = _data()
    y = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    w = np.zeros(X.shape[1])
    got = float(enet_gap(_parts_np(X, y, w), jnp.asarray(w), 0.1, 1.0, 40.0))
    np.testing.assert_allclose(got, _gap_np(X, y, w, 0.1, 1.0), atol=1e-12)


# ---- the quadratic model -----------------------------------------------------


@pytest.mark.parametrize("use_gram", [True, False])
def test_quad_products_match_numpy(use_gram):
    X, y = _data()
    n = X.shape[0]
    w = np.random.RandomState(3).randn(X.shape[1])
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    assert (quad.G is not None) == use_gram
    assert float(quad.n) == n
    np.testing.assert_allclose(quad.q, X.T @ y, rtol=1e-12)
    np.testing.assert_allclose(float(quad.yy), y @ y, rtol=1e-12)
    g = X.T @ (X @ w - y) / n
    np.testing.assert_allclose(quad.grad(jnp.asarray(w)), g, rtol=1e-10, atol=1e-12)
    for got, want in zip(quad.parts(jnp.asarray(w)), _parts_np(X, y, w)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    for got, want in zip(quad.parts_from_grad(jnp.asarray(w), jnp.asarray(g)), _parts_np(X, y, w)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_quad_with_a_given_row_count():
    X, y = _data()
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True, n=25)
    assert float(quad.n) == 25.0
    w = np.ones(X.shape[1])
    np.testing.assert_allclose(quad.grad(jnp.asarray(w)), X.T @ (X @ w - y) / 25, rtol=1e-10)


def test_quad_keeps_a_float32_gram_only_for_float64_data():
    X, y = _data()
    q64 = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    assert q64.G_lo is not None and q64.G_lo.dtype == jnp.float32
    np.testing.assert_allclose(q64.G_lo, (X.T @ X).astype(np.float32), rtol=1e-6)
    q32 = make_quad(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), True)
    assert q32.G_lo is None
    assert make_quad(jnp.asarray(X), jnp.asarray(y), False).G_lo is None


def test_grad_near_corrects_an_exact_anchor_gradient():
    X, y = _data()
    n = X.shape[0]
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    a = np.random.RandomState(4).randn(X.shape[1])
    w = a + 1e-3 * np.random.RandomState(5).randn(X.shape[1])
    ga = X.T @ (X @ a - y) / n
    got = np.asarray(quad.grad_near(jnp.asarray(w), jnp.asarray(a), jnp.asarray(ga)))
    want = X.T @ (X @ w - y) / n
    assert got.dtype == np.float64
    # only the float32 correction is rounded: error ε₃₂·‖G‖·‖w − a‖/n, far below ε₃₂·‖g‖
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)
    # and the anchor's gradient is really used: a wrong one moves the result
    bad = np.asarray(quad.grad_near(jnp.asarray(w), jnp.asarray(a), jnp.asarray(ga + 1.0)))
    np.testing.assert_allclose(bad - got, 1.0, atol=1e-8)


# ---- grid, prox, Lipschitz constant ------------------------------------------


@pytest.mark.parametrize("r", [1.0, 0.5])
def test_alpha_max_matches_numpy(r):
    X, y = _data()
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    np.testing.assert_allclose(
        float(alpha_max(quad, jnp.asarray(r))), np.abs(X.T @ y).max() / (40 * r), rtol=1e-12
    )


def test_alpha_max_at_l1_ratio_zero_is_finite():
    X, y = _data()
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    np.testing.assert_allclose(float(alpha_max(quad, jnp.asarray(0.0))), np.abs(X.T @ y).max() / 40)


def test_default_grid_is_scikit_learns_geometric_grid():
    got = np.asarray(default_grid(jnp.asarray(3.0), 1e-3, 7))
    np.testing.assert_allclose(got, np.geomspace(3.0, 3e-3, 7), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(default_grid(jnp.asarray(3.0), 1e-3, 1)), [3.0])
    res = np.finfo(np.float64).resolution
    flat = np.asarray(default_grid(jnp.asarray(0.0), 1e-3, 4))
    np.testing.assert_array_equal(flat, np.full(4, res))
    # just above the resolution the grid is geometric again
    amax = 2 * res
    np.testing.assert_allclose(
        np.asarray(default_grid(jnp.asarray(amax), 1e-2, 3)), [amax, amax / 10, amax / 100]
    )
    np.testing.assert_array_equal(np.asarray(default_grid(jnp.asarray(res), 1e-2, 2)), [res, res])


def test_enet_prox_matches_the_closed_form():
    v = np.array([-3.0, -0.05, 0.0, 0.2, 2.5])
    alpha, r, step = 0.7, 0.4, 0.5
    got = np.asarray(_lasso._enet_prox(jnp.asarray(alpha), jnp.asarray(r), jnp.asarray(step))(v))
    # prox of step·(α r‖w‖₁ + α(1 − r)/2 ‖w‖²)
    want = np.sign(v) * np.maximum(np.abs(v) - step * alpha * r, 0) / (1 + step * alpha * (1 - r))
    np.testing.assert_allclose(got, want, rtol=1e-13)
    mask = jnp.asarray([True, False, True, False, True])
    got_m = np.asarray(
        _lasso._enet_prox(jnp.asarray(alpha), jnp.asarray(r), jnp.asarray(step), mask)(v)
    )
    np.testing.assert_allclose(got_m, np.where(np.asarray(mask), want, 0.0), rtol=1e-13)


@pytest.mark.parametrize("use_gram", [True, False])
def test_lipschitz_constant_is_the_top_eigenvalue_over_n(use_gram):
    X, y = _data()
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    want = np.linalg.eigvalsh(X.T @ X)[-1] / X.shape[0]
    np.testing.assert_allclose(float(lipschitz_from_quad(quad)), want, rtol=1e-10)


def test_compact_tiers_are_the_capacities_below_p():
    assert compact_tiers(64) == ()
    assert compact_tiers(65) == (64,)
    assert compact_tiers(500) == (64, 256)
    assert compact_tiers(1025) == (64, 256, 512, 768, 1024)
    assert compact_tiers(10_000) == (64, 256, 512, 768, 1024, 2048, 4096)


# ---- the recomputed certificates ---------------------------------------------


@pytest.mark.parametrize("use_gram", [True, False])
@pytest.mark.parametrize("r", [1.0, 0.5])
def test_honest_gaps_are_the_gaps_of_the_returned_coefficients(use_gram, r):
    X, y = _data()
    n = X.shape[0]
    W = np.random.RandomState(6).randn(3, X.shape[1])
    alphas = np.array([0.5, 0.1, 0.02]) * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    R2, Ry, XtR = residual_parts(quad, jnp.asarray(W))
    for i, w in enumerate(W):
        want = _parts_np(X, y, w)
        np.testing.assert_allclose(float(R2[i]), want[0], rtol=1e-12)
        np.testing.assert_allclose(float(Ry[i]), want[1], rtol=1e-12)
        np.testing.assert_allclose(np.asarray(XtR[i]), want[2], rtol=1e-10, atol=1e-10)
    gaps = honest_gaps(quad, jnp.asarray(W), jnp.asarray(alphas), jnp.asarray(r))
    want = [_gap_np(X, y, w, a, r) for w, a in zip(W, alphas)]
    np.testing.assert_allclose(np.asarray(gaps), want, rtol=1e-10)


def test_honest_gaps_of_float32_data_are_computed_in_float64_and_rounded_once():
    X, y = _data()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    W = np.random.RandomState(7).randn(2, X.shape[1]).astype(np.float32)
    alphas = np.array([0.3, 0.05], np.float32)
    quad = make_quad(jnp.asarray(X32), jnp.asarray(y32), True)
    gaps = honest_gaps(quad, jnp.asarray(W), jnp.asarray(alphas), jnp.asarray(1.0, jnp.float32))
    assert gaps.dtype == jnp.float32
    want = [
        _gap_np(X32.astype(np.float64), y32.astype(np.float64), w.astype(np.float64), a, 1.0)
        for w, a in zip(W, alphas.astype(np.float64))
    ]
    np.testing.assert_allclose(np.asarray(gaps), np.float32(want), rtol=2e-7)


def test_squares_fit_flags_overflow_in_x_or_y():
    X, y = _data()
    ok = make_quad(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), False)
    assert bool(squares_fit(ok))
    bigX = make_quad(jnp.asarray(X * 1e20, jnp.float32), jnp.asarray(y, jnp.float32), False)
    assert not bool(squares_fit(bigX))
    bigy = make_quad(jnp.asarray(X, jnp.float32), jnp.asarray(y * 1e20, jnp.float32), False)
    assert not bool(squares_fit(bigy))


def test_raise_if_nonfinite_checks_every_array():
    raise_if_nonfinite(np.ones(3), np.zeros(2), where="f", what="gaps")
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="`f`: the gaps"):
            raise_if_nonfinite(np.ones(3), np.array([0.0, bad]), where="f", what="gaps")
        with pytest.raises(ValueError, match="`f`"):
            raise_if_nonfinite(np.array([bad]), np.ones(2), where="f", what="gaps")


# ---- the solvers -------------------------------------------------------------


def _sk_path(X, y, alphas, r):
    _, coefs, _ = sk_enet_path(X, y, alphas=alphas, l1_ratio=r, tol=1e-15, max_iter=100_000)
    return coefs.T


@pytest.mark.parametrize("r", [1.0, 0.5])
def test_solve_grid_solves_every_alpha_from_zero(r):
    X, y = _data()
    n = X.shape[0]
    alphas = np.array([0.5, 0.1, 0.02]) * np.abs(X.T @ y).max() / n / r
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    tol = 1e-10 * (y @ y) / n
    W, iters = solve_grid(quad, jnp.asarray(alphas), jnp.asarray(r), jnp.asarray(tol), 100_000)
    for w, a in zip(np.asarray(W), alphas):
        assert _gap_np(X, y, w, a, r) <= tol
    np.testing.assert_allclose(np.asarray(W), _sk_path(X, y, alphas, r), atol=1e-5)
    assert np.all(np.asarray(iters) > 0)


@pytest.mark.parametrize("use_gram", [True, False])
@pytest.mark.parametrize("r", [1.0, 0.5])
def test_solve_compact_solves_the_restricted_problem_and_returns_the_full_gradient(use_gram, r):
    X, y = _data(n=60, p=20)
    n, p = X.shape
    mask = np.zeros(p, bool)
    mask[[1, 3, 4, 8, 13]] = True
    alpha = 0.02 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    L_full = lipschitz_from_quad(quad)
    tol = 1e-12 * (y @ y) / n
    w0 = np.where(mask, 0.1, 0.0)
    res = solve_compact(
        quad, jnp.asarray(mask), jnp.asarray(w0), jnp.asarray(alpha), jnp.asarray(r),
        jnp.asarray(tol), 100_000, L_full, 8,
    )  # fmt: skip
    w = np.asarray(res.x)
    assert np.all(w[~mask] == 0)
    assert _gap_np(X, y, w, alpha, r, mask) <= tol
    np.testing.assert_allclose(
        float(res.gap), _gap_np(X, y, w, alpha, r, mask), rtol=1e-6, atol=tol
    )
    want = np.zeros(p)
    want[mask] = _sk_path(X[:, mask], y, [alpha], r)[0]
    np.testing.assert_allclose(w, want, atol=1e-6)
    np.testing.assert_allclose(np.asarray(res.grad), X.T @ (X @ w - y) / n, rtol=1e-9, atol=1e-12)
    assert int(res.n_iter) > 0


def test_solve_compact_takes_a_step_from_the_restricted_lipschitz_constant():
    # uncorrelated kept features: the restricted problem's constant is far below
    # the full one, so the restricted solve needs far fewer iterations than a
    # solve with the full step would
    X, y = _data(n=80, p=30)
    X[:, 20:] = X[:, [0] * 10] + 1e-3 * np.random.RandomState(8).randn(
        80, 10
    )  # a large top eigenvalue
    n, p = X.shape
    mask = np.zeros(p, bool)
    mask[[2, 5, 7]] = True
    alpha = 0.01 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    L_full = lipschitz_from_quad(quad)
    tol = 1e-12 * (y @ y) / n
    args = (jnp.asarray(mask), jnp.zeros(p), jnp.asarray(alpha), jnp.asarray(1.0), jnp.asarray(tol))
    fast = solve_compact(quad, *args, 100_000, L_full, 4)
    slow = _lasso.fista(
        quad.grad,
        _lasso._enet_prox(jnp.asarray(alpha), jnp.asarray(1.0), 1 / L_full, jnp.asarray(mask)),
        lambda v, g: enet_gap(quad.parts_from_grad(v, g), v, alpha, 1.0, quad.n, jnp.asarray(mask)),
        jnp.zeros(p),
        1 / L_full,
        jnp.asarray(tol),
        100_000,
    )
    assert 2 * int(fast.n_iter) < int(slow.n_iter)
    np.testing.assert_allclose(np.asarray(fast.x), np.asarray(slow.x), atol=1e-6)


@pytest.mark.parametrize("use_gram", [True, False])
@pytest.mark.parametrize("r", [1.0, 0.5])
@pytest.mark.parametrize("compact", [True, False])
def test_solve_path_matches_scikit_learn_and_certifies_every_alpha(use_gram, r, compact):
    X, y = _data(n=80, p=70)  # p > 64: the first compaction tier is used
    n = X.shape[0]
    alphas = np.geomspace(1.0, 1e-3, 30) * np.abs(X.T @ y).max() / n / r
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    tol = 1e-10 * (y @ y) / n
    W, iters, rounds = solve_path(
        quad, jnp.asarray(alphas), jnp.asarray(r), jnp.asarray(tol), 100_000, compact=compact
    )
    W = np.asarray(W)
    gaps = np.array([_gap_np(X, y, w, a, r) for w, a in zip(W, alphas)])
    assert np.all(gaps <= tol)
    np.testing.assert_allclose(W, _sk_path(X, y, alphas, r), atol=1e-4)
    # alpha_max itself starts certified at zero: no iteration, no round
    assert int(iters[0]) == 0 and int(rounds[0]) == 0
    # the strong rule is right nearly everywhere: one round per alpha that solves
    solved = np.asarray(rounds) > 0
    assert np.mean(np.asarray(rounds)[solved] == 1) >= 0.8


def test_solve_path_skips_alphas_whose_extrapolated_start_is_certified():
    # between knots the path is linear: extrapolated starts are already solutions
    X, y = _data(n=80, p=10)
    n = X.shape[0]
    amax = np.abs(X.T @ y).max() / n
    alphas = np.linspace(0.999, 0.95, 40) * amax  # a stretch with one active feature
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    tol = 1e-10 * (y @ y) / n
    W, _iters, rounds = solve_path(
        quad, jnp.asarray(alphas), jnp.asarray(1.0), jnp.asarray(tol), 100_000
    )
    W = np.asarray(W)
    assert np.all([_gap_np(X, y, w, a, 1.0) <= tol for w, a in zip(W, alphas)])
    skipped = np.asarray(rounds) == 0
    assert skipped[3:].mean() >= 0.8, np.asarray(rounds)
    # a gap of 1e-10·‖y‖²/n bounds each coefficient's error by about 1e-4 here
    np.testing.assert_allclose(W, _sk_path(X, y, alphas, 1.0), atol=1e-4)


def test_lasso_path_on_a_tall_design_with_compaction_under_strict_rank_promotion():
    # conftest.py sets jax_numpy_rank_promotion="raise": the Gram-mode working-set
    # buffer once broadcast a (k, k) block against a (k,) mask and raised here
    import regjax

    X, y = _data(n=200, p=70)
    alphas, W, _gaps = regjax.linear.lasso_path(X, y, n_alphas=10, tol=1e-10)
    W = np.asarray(W)
    n = X.shape[0]
    assert np.all(
        [
            _gap_np(X, y, W[:, i], a, 1.0) <= 1e-10 * (y @ y) / n
            for i, a in enumerate(np.asarray(alphas))
        ]
    )


# ---- dtypes, user grids and traced calls (survivors of the first run) --------


def test_default_grid_keeps_a_float32_alpha_max_in_float32_under_x64():
    got = default_grid(jnp.asarray(3.0, jnp.float32), 1e-3, 7)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), np.geomspace(3.0, 3e-3, 7), rtol=1e-6)
    assert default_grid(jnp.asarray(0.0, jnp.float32), 1e-3, 3).dtype == jnp.float32


def test_solve_grid_on_float32_data_returns_float32_under_x64():
    X, y = _data()
    quad = make_quad(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), True)
    alphas = jnp.asarray([0.5, 0.05], jnp.float32)
    tol = 1e-5 * (y @ y) / len(y)
    W, _ = solve_grid(quad, alphas, jnp.asarray(1.0, jnp.float32), jnp.float32(tol), 10_000)
    assert W.dtype == jnp.float32
    for w, a in zip(np.asarray(W, np.float64), np.asarray(alphas, np.float64)):
        assert _gap_np(X, y, w, a, 1.0) <= 1.5 * tol  # certified, to float32 rounding


def test_user_alphas_are_solved_in_decreasing_order():
    from regjax.linear import lasso_path

    X, y = _data()
    alphas, coefs, _ = lasso_path(X, y, alphas=[0.1, 1.0, 0.01], tol=1e-12)
    np.testing.assert_array_equal(np.asarray(alphas), [1.0, 0.1, 0.01])
    np.testing.assert_allclose(
        np.asarray(coefs).T, _sk_path(X, y, np.array([1.0, 0.1, 0.01]), 1.0), atol=1e-6
    )


def test_lasso_path_under_jit_skips_the_concrete_finiteness_check():
    import jax

    from regjax.linear import lasso_path

    X, y = _data()
    grid = jnp.asarray([1.0, 0.1])
    eager = lasso_path(X, y, alphas=grid, tol=1e-10)
    traced = jax.jit(lambda X, y: lasso_path(X, y, alphas=grid, tol=1e-10))(X, y)
    for a, b in zip(eager, traced):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-14)


def _compact_and_reference(quad, mask, w0, alpha, L_full, size, ref, step, grad_near=None):
    """Ten iterations (two checks) of ``solve_compact`` from ``w0``, and of FISTA
    on the reference restricted problem ``ref`` at the expected ``step``."""
    one = jnp.asarray(1.0)
    res = solve_compact(
        quad, jnp.asarray(mask), jnp.asarray(w0), jnp.asarray(alpha), one, jnp.asarray(0.0),
        10, jnp.asarray(L_full), size,
    )  # fmt: skip
    want = _lasso.fista(
        ref.grad,
        _lasso._enet_prox(jnp.asarray(alpha), one, jnp.asarray(step)),
        lambda v, g: enet_gap(ref.parts_from_grad(v, g), v, alpha, 1.0, ref.n),
        jnp.asarray(w0)[np.asarray(mask)],
        jnp.asarray(step),
        jnp.asarray(0.0),
        10,
        grad_near=grad_near,
    )
    return res, want


@pytest.mark.parametrize("use_gram", [True, False])
@pytest.mark.parametrize("scale", [1.0, 0.3])  # 0.3: a bound below 1
def test_solve_compact_steps_by_the_gershgorin_bound_of_the_gathered_gram(use_gram, scale):
    """Ten iterations (two checks) from the same start, compared with FISTA on the gathered
    columns at the step 1/min(L_full, Gershgorin(XsᵀXs)/n) computed in NumPy."""
    X, y = _data(n=60, p=20)
    X = scale * X
    n, p = X.shape
    mask = np.zeros(p, bool)
    mask[[1, 3, 4, 8, 13]] = True
    Xs = X[:, mask]
    alpha = 0.02 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
    L_full = float(lipschitz_from_quad(quad))
    gershgorin = np.abs(Xs.T @ Xs).sum(axis=1).max() / n
    top = np.linalg.eigvalsh(Xs.T @ Xs).max() / n
    assert top < 0.95 * gershgorin < 0.95 * L_full  # the bound decides the step here
    step = 1 / gershgorin
    ref = make_quad(jnp.asarray(Xs), jnp.asarray(y), True)
    if not use_gram:  # X's columns are gathered and their Gram formed in the working dtype
        ref = ref._replace(G_lo=None)
    w0 = np.where(mask, 0.1, 0.0)
    grad_near = ref.grad_near if use_gram else None
    res, want = _compact_and_reference(
        quad, mask, w0, alpha, L_full, int(mask.sum()), ref, step, grad_near
    )
    assert int(res.n_iter) == int(want.n_iter) == 10
    np.testing.assert_allclose(np.asarray(res.x)[mask], np.asarray(want.x), rtol=1e-9)
    assert np.all(np.asarray(res.x)[~mask] == 0)


@pytest.mark.parametrize("use_gram", [True, False])
def test_solve_compact_keeps_float32_data_in_float32_under_x64(use_gram):
    X, y = _data(n=60, p=20)
    n, p = X.shape
    mask = np.zeros(p, bool)
    mask[[1, 3, 4, 8, 13]] = True
    alpha = 0.02 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), use_gram)
    tol = 1e-5 * (y @ y) / n
    f32 = lambda v: jnp.asarray(v, jnp.float32)
    res = solve_compact(
        quad, jnp.asarray(mask), jnp.zeros(p, jnp.float32), f32(alpha), f32(1.0), f32(tol),
        10_000, lipschitz_from_quad(quad), 8,
    )  # fmt: skip
    assert res.x.dtype == res.gap.dtype == res.grad.dtype == jnp.float32
    assert _gap_np(X, y, np.asarray(res.x, np.float64), alpha, 1.0, mask) <= 1.5 * tol


@pytest.mark.parametrize("size, uses_gram", [(12, True), (15, False)])
def test_solve_compact_forms_the_gathered_gram_only_up_to_n_columns(size, uses_gram):
    """On n = 12 rows, a buffer of 12 columns takes the Gershgorin step of its
    Gram matrix, one of 15 (wider than tall) the Lanczos bound of XsᵀXs without
    forming it: ten iterations against FISTA at each step."""
    from regjax._linear import top_eigenvalue_of_gram

    X, y = _data(n=12, p=20)
    X[:, 15:] = 3 * X[:, [0] * 5] + 1e-3 * np.random.RandomState(3).randn(12, 5)  # large L_full
    n, p = X.shape
    mask = np.zeros(p, bool)
    mask[:size] = True
    Xs = X[:, mask]
    alpha = 0.05 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), False)
    L_full = float(lipschitz_from_quad(quad))
    gershgorin = np.abs(Xs.T @ Xs).sum(axis=1).max() / n
    lanczos = float(top_eigenvalue_of_gram(jnp.asarray(Xs))) / n
    L = min(gershgorin if uses_gram else lanczos, L_full)
    assert abs(min(gershgorin, L_full) / min(lanczos, L_full) - 1) > 0.05  # they differ here
    ref = make_quad(jnp.asarray(Xs), jnp.asarray(y), uses_gram)._replace(G_lo=None)
    res, want = _compact_and_reference(quad, mask, np.zeros(p), alpha, L_full, size, ref, 1 / L)
    np.testing.assert_allclose(np.asarray(res.x)[mask], np.asarray(want.x), rtol=1e-7, atol=1e-12)


def test_solve_compact_takes_the_top_eigenvalue_from_1024_columns():
    """From a buffer of 1024 columns the step comes from λ_max of the gathered
    Gram matrix (Lanczos), not its Gershgorin bound."""
    from regjax._linear import top_eigenvalue

    rng = np.random.RandomState(0)
    n, p, size = 40, 1030, 1024
    X = rng.randn(n, p)
    X[:, size:] = 10 * X[:, [0] * (p - size)]  # outside the buffer: a large L_full
    y = X[:, :3] @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.randn(n)
    mask = np.zeros(p, bool)
    mask[:size] = True
    alpha = 0.1 * np.abs(X.T @ y).max() / n
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    L_full = float(lipschitz_from_quad(quad))
    Gs = X[:, :size].T @ X[:, :size]
    top = float(top_eigenvalue(jnp.asarray(Gs))) / n
    assert top < 0.9 * min(L_full, np.abs(Gs).sum(axis=1).max() / n)
    ref = make_quad(jnp.asarray(X[:, :size]), jnp.asarray(y), True)
    res, want = _compact_and_reference(
        quad, mask, np.zeros(p), alpha, L_full, size, ref, 1 / top, ref.grad_near
    )
    np.testing.assert_allclose(np.asarray(res.x)[mask], np.asarray(want.x), rtol=1e-7, atol=1e-12)


def test_solve_compact_on_all_zero_columns_falls_back_to_the_full_step():
    """The kept columns are all zero, so their restricted constant is 0: the step
    is 1/L_full (never 1/0), and the solution is zero."""
    X, y = _data(n=30, p=10)
    X[:, [2, 5]] = 0.0
    mask = np.zeros(10, bool)
    mask[[2, 5]] = True
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    start = jnp.asarray(np.where(mask, 0.01, 0.0))  # not certified: FISTA must step
    res = solve_compact(
        quad, jnp.asarray(mask), start, jnp.asarray(0.1), jnp.asarray(1.0),
        jnp.asarray(1e-10), 100, lipschitz_from_quad(quad), 4,
    )  # fmt: skip
    np.testing.assert_array_equal(np.asarray(res.x), 0.0)
    assert np.isfinite(float(res.gap))


def test_solve_path_compacts_by_default():
    """The public paths call solve_path without ``compact``: its default must be
    the compacted solve, which takes longer steps and so fewer iterations."""
    X, y = _data(n=80, p=70)  # p > 64: the first compaction tier is used
    # ten near-copies of a feature y does not use: a large L_full outside the support
    X[:, 60:] = X[:, [10] * 10] + 1e-3 * np.random.RandomState(8).randn(80, 10)
    n = X.shape[0]
    alphas = jnp.asarray(np.geomspace(1.0, 1e-2, 8) * np.abs(X.T @ y).max() / n)
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    tol = jnp.asarray(1e-10 * (y @ y) / n)
    default = solve_path(quad, alphas, jnp.asarray(1.0), tol, 100_000)
    compact = solve_path(quad, alphas, jnp.asarray(1.0), tol, 100_000, compact=True)
    masked = solve_path(quad, alphas, jnp.asarray(1.0), tol, 100_000, compact=False)
    for a, b in zip(default, compact):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(compact[1].sum()) < int(masked[1].sum())


def test_solve_path_stops_screening_after_six_rounds():
    """With FISTA cut to 5 iterations a round, no alpha below alpha_max is
    certified, and each stops after the documented cap of 6 screening rounds."""
    X, y = _data(n=80, p=70)
    n = X.shape[0]
    alphas = jnp.asarray(np.array([0.5, 0.2]) * np.abs(X.T @ y).max() / n)
    quad = make_quad(jnp.asarray(X), jnp.asarray(y), True)
    _, iters, rounds = solve_path(
        quad, alphas, jnp.asarray(1.0), jnp.asarray(1e-14 * (y @ y) / n), 5
    )
    np.testing.assert_array_equal(np.asarray(rounds), [6, 6])
    assert np.all(np.asarray(iters) <= 6 * 5)
