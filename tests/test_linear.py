"""regjax.linear against scikit-learn (float64, tight tolerances) and direct checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge, RidgeCV

import regjax

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=8)


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    return X, y - y.mean()


def correlated(n, p, rho=0.6, seed=0, k=5):
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    w = np.zeros(p)
    k = min(k, p)
    w[rng.choice(p, k, replace=False)] = rng.standard_normal(k) * 3
    y = X @ w + rng.standard_normal(n)
    return X, y


# ---------------------------------------------------------------- ridge


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(60, 8), (20, 40)])
def test_ridge_path_matches_sklearn(fit_intercept, shape):
    X, y = correlated(*shape, seed=1)
    y = y + 3.0
    alphas = np.array([1e-3, 0.1, 1.0, 10.0, 1e3])
    with jax.enable_x64(True):
        coefs, b = regjax.linear.ridge_path(X, y, alphas, fit_intercept=fit_intercept)
        for i, a in enumerate(alphas):
            m = Ridge(alpha=a, fit_intercept=fit_intercept, solver="svd").fit(X, y)
            np.testing.assert_allclose(coefs[:, i], m.coef_, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(b[i], m.intercept_, rtol=1e-8, atol=1e-10)


def test_ridge_path_jit_and_vmap_compile_once():
    X, y = correlated(30, 5)
    traces = []

    def f(a):
        traces.append(1)
        return regjax.linear.ridge_path(X, y, a)[0][:, 0]

    grid = jnp.array([0.1, 1.0, 10.0], jnp.float32)
    out = jax.jit(jax.vmap(f))(grid)
    assert len(traces) == 1
    loop = np.stack([np.asarray(regjax.linear.ridge_path(X, y, a)[0][:, 0]) for a in grid])
    np.testing.assert_allclose(out, loop, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("shape", [(80, 6), (25, 40)])
def test_ridge_cv_matches_sklearn(fit_intercept, shape):
    X, y = correlated(*shape, seed=2)
    y = y + 1.5
    alphas = np.geomspace(1e-2, 1e3, 12)
    with jax.enable_x64(True):
        res = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept)
        m = RidgeCV(alphas=alphas, fit_intercept=fit_intercept).fit(X, y)
        assert float(res.alpha) == pytest.approx(m.alpha_, rel=1e-12)
        np.testing.assert_allclose(res.coef, m.coef_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(res.intercept, m.intercept_, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(-float(res.cv_errors[res.best_index]), m.best_score_, rtol=1e-8)


def test_ridge_cv_loo_equals_explicit_refits():
    X, y = correlated(15, 4, seed=3)
    alphas = np.array([0.5, 5.0])
    with jax.enable_x64(True):
        res = regjax.linear.ridge_cv(X, y, alphas)
        for j, a in enumerate(alphas):
            errs = []
            for i in range(len(y)):
                keep = np.arange(len(y)) != i
                m = Ridge(alpha=a).fit(X[keep], y[keep])
                errs.append((y[i] - m.predict(X[i : i + 1])[0]) ** 2)
            np.testing.assert_allclose(res.cv_errors[j], np.mean(errs), rtol=1e-9)
        gcv = regjax.linear.ridge_cv(X, y, alphas, mode="gcv")
        assert np.all(np.asarray(gcv.cv_errors) > 0)
        assert not np.allclose(gcv.cv_errors, res.cv_errors)


@HYP
@given(st.floats(1e-3, 1e3), st.integers(0, 50))
def test_ridge_stationarity_property(alpha, seed):
    X, y = correlated(12, 7, seed=seed)
    with jax.enable_x64(True):
        w, b = regjax.linear.ridge_path(X, y, alpha)
        r = y - X @ np.asarray(w[:, 0]) - float(b[0])
        # gradient of ||y - Xw - b||² + alpha||w||² vanishes
        np.testing.assert_allclose(-2 * X.T @ r + 2 * alpha * w[:, 0], 0, atol=1e-8)
        np.testing.assert_allclose(r.sum(), 0, atol=1e-8)


# ---------------------------------------------------------------- lasso / elastic net


def _enet_obj(X, y, w, a, r):
    n = len(y)
    return 0.5 / n * np.sum((y - X @ w) ** 2) + a * r * np.abs(w).sum() + 0.5 * a * (1 - r) * w @ w


def _check_kkt(X, y, W, alphas, r, tol):
    """Subgradient optimality of every column, directly on regjax's solution."""
    n = len(y)
    for i, a in enumerate(alphas):
        w = np.asarray(W[:, i])
        c = X.T @ (y - X @ w) / n - a * (1 - r) * w
        on = w != 0
        np.testing.assert_allclose(c[on], a * r * np.sign(w[on]), atol=tol * a)
        assert np.all(np.abs(c[~on]) <= a * r * (1 + tol))


CASES = {
    "diabetes": diabetes,
    "p<n": lambda: correlated(80, 20, seed=4),
    "p>n": lambda: correlated(30, 60, seed=5),
}


@pytest.mark.parametrize(
    ("case", "solver", "l1_ratio"),
    [
        ("diabetes", "path", 1.0),
        ("diabetes", "fista", 1.0),
        ("p<n", "path", 1.0),
        ("p>n", "path", 1.0),
        ("p>n", "fista", 1.0),
        ("p<n", "path", 0.5),
    ],
)
def test_lasso_enet_path_match_sklearn(case, solver, l1_ratio):
    from sklearn.linear_model import enet_path

    X, y = CASES[case]()
    with jax.enable_x64(True):
        alphas, W, gaps = regjax.linear.lasso_path(
            X, y, l1_ratio=l1_ratio, n_alphas=12, tol=1e-11, solver=solver
        )
        sk_alphas, sk_W, _ = enet_path(
            X, y, l1_ratio=l1_ratio, alphas=12, tol=1e-13, max_iter=200_000
        )
    np.testing.assert_allclose(alphas, sk_alphas, rtol=1e-12)
    W = np.asarray(W)
    n = len(y)
    assert np.all(np.asarray(gaps) <= 1e-11 * (y @ y) / n)
    for i, a in enumerate(sk_alphas):
        ours = _enet_obj(X, y, W[:, i], a, l1_ratio)
        ref = _enet_obj(X, y, sk_W[:, i], a, l1_ratio)
        assert abs(ours - ref) <= 1e-8 * abs(ref)
        np.testing.assert_array_equal(W[:, i] != 0, np.abs(sk_W[:, i]) > 0)
    _check_kkt(X, y, W, sk_alphas, l1_ratio, 1e-4)


@pytest.mark.parametrize(
    ("shape", "tiers", "shrink", "compare_masked"),
    [
        # compact_tiers shrunk to (16, 48): the same switch between buffer sizes as
        # the real tiers, small enough for `make test`.
        ((40, 100), (16, 48), True, False),
        # the real tiers: p must exceed 256 for a second one to exist.
        pytest.param((100, 300), (64, 256), False, True, marks=pytest.mark.slow),
    ],
)
def test_compacted_working_sets_match_sklearn(shape, tiers, shrink, compare_masked, monkeypatch):
    """The screened path solves each working set in the smallest compacted
    buffer that holds it: every tier runs on this path, and the solutions are
    scikit-learn's and satisfy the KKT conditions. (The grid this test used
    before, 12 alphas down to 1e-3 alpha_max, has strong sets too large for the
    small buffers: it ran no buffer at 40 x 100 and only 256 at 100 x 300.)"""
    from sklearn.linear_model import lasso_path as sk_lasso_path

    from regjax import _lasso

    X, y = correlated(*shape, seed=7, k=8)
    if shrink:
        monkeypatch.setattr(_lasso, "compact_tiers", lambda p: tiers)
    assert _lasso.compact_tiers(shape[1]) == tiers
    ran = []
    solve_compact = _lasso.solve_compact

    def spy(*args):
        # The callback runs only where lax.switch takes this buffer at run time.
        jax.debug.callback(lambda _, size=args[-1]: ran.append(size), args[3])
        return solve_compact(*args)

    monkeypatch.setattr(_lasso, "solve_compact", spy)
    n = len(y)
    with jax.enable_x64(True):
        quad = _lasso.make_quad(jnp.asarray(X), jnp.asarray(y), use_gram=False)
        alphas = _lasso.default_grid(_lasso.alpha_max(quad, 1.0), 1e-2, 40)
        target = 1e-10 * float(quad.yy) / n

        def path(compact):
            # A fresh function per call, so jit traces the patched module, not a cached program.
            fn = lambda a: _lasso.solve_path(
                quad, a, jnp.asarray(1.0), target, 20_000, compact=compact
            )
            return np.asarray(jax.jit(fn)(alphas)[0]).T

        W = path(True)
        if compare_masked:
            np.testing.assert_allclose(W, path(False), atol=1e-5)
    alphas = np.asarray(alphas)
    assert sorted(set(ran)) == list(tiers), ran
    _, W_sk, _ = sk_lasso_path(X, y, alphas=alphas, tol=1e-12, max_iter=500_000)
    for i, a in enumerate(alphas):
        w = W[:, i]
        r = y - X @ w
        s = min(1.0, n * a / np.max(np.abs(X.T @ r)))
        assert (0.5 * (1 + s * s) * (r @ r) + n * a * np.abs(w).sum() - s * (r @ y)) / n <= target
        ours, ref = _enet_obj(X, y, w, a, 1.0), _enet_obj(X, y, W_sk[:, i], a, 1.0)
        assert ours <= ref * (1 + 1e-8) + 1e-14
        assert abs(ours - ref) <= 1e-8 * ref
    _check_kkt(X, y, W, alphas, 1.0, 1e-4)


def test_gaps_are_honest_and_certify_default_tol():
    X, y = correlated(30, 60, seed=5)
    with jax.enable_x64(True):
        alphas, W, gaps = map(np.asarray, regjax.linear.lasso_path(X, y, n_alphas=12))
    n = len(y)
    for i, a in enumerate(alphas):
        w = np.asarray(W[:, i])
        # gap recomputed independently: primal minus the dual at the rescaled residual
        r = y - X @ w
        theta = r / max(1.0, np.max(np.abs(X.T @ r)) / (n * float(a)))
        primal = _enet_obj(X, y, w, float(a), 1.0)
        dual = (0.5 * y @ y - 0.5 * (y - theta) @ (y - theta)) / n
        np.testing.assert_allclose(gaps[i], primal - dual, rtol=1e-6, atol=1e-12)
        assert gaps[i] <= 1e-6 * (y @ y) / n


@pytest.mark.parametrize("use_gram", [True, False])
def test_certified_extrapolated_starts_skip_the_solve_and_stay_honest(use_gram):
    """Between knots the lasso path is linear in alpha, so on a fine grid most
    alphas start at their solution: those are certified from the extrapolated
    gradient without a solve (zero screening rounds), and every returned gap,
    recomputed from X in NumPy, still meets the tolerance."""
    from regjax import _lasso

    X, y = diabetes()
    n, tol = len(y), 1e-9
    with jax.enable_x64(True):
        quad = _lasso.make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
        alphas = _lasso.default_grid(_lasso.alpha_max(quad, 1.0), 1e-3, 200)
        target = tol * float(quad.yy) / n
        W, _, rounds = _lasso.solve_path(quad, alphas, jnp.asarray(1.0), target, 20_000)
    W, rounds, alphas = np.asarray(W), np.asarray(rounds), np.asarray(alphas)
    assert (rounds == 0).sum() >= 100
    for w, a in zip(W, alphas, strict=True):
        r = y - X @ w
        s = min(1.0, n * a / np.max(np.abs(X.T @ r)))
        gap = (0.5 * (1 + s * s) * (r @ r) + n * a * np.abs(w).sum() - s * (r @ y)) / n
        assert gap <= target * (1 + 1e-6)


def test_lasso_path_jit_vmap_over_l1_ratio_compiles_once():
    X, y = diabetes()
    X, y = X.astype(np.float32), y.astype(np.float32)
    alphas = np.array([5.0, 1.0, 0.2], np.float32)
    traces = []

    def f(r):
        traces.append(1)
        return regjax.linear.lasso_path(X, y, alphas, l1_ratio=r, solver="fista", tol=1e-5)[1]

    ratios = jnp.array([0.3, 0.7, 1.0], jnp.float32)
    out = jax.jit(jax.vmap(f))(ratios)
    assert len(traces) == 1
    for k, r in enumerate([0.3, 0.7, 1.0]):
        eager = regjax.linear.lasso_path(X, y, alphas, l1_ratio=r, solver="fista", tol=1e-5)[1]
        np.testing.assert_allclose(out[k], eager, rtol=2e-3, atol=2e-3)


def test_fit_intercept_matches_sklearn_lasso():
    from sklearn.linear_model import Lasso

    X, y = correlated(80, 20, seed=4)
    X, y = X + 2.0, y + 5.0
    with jax.enable_x64(True):
        _, W, _ = regjax.linear.lasso_path(X, y, [0.3], tol=1e-11, fit_intercept=True)
    m = Lasso(alpha=0.3, tol=1e-13, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(W[:, 0], m.coef_, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"X": np.ones((5, 2)), "y": np.ones(4)}, "5 rows but y has 4"),
        ({"X": np.full((4, 2), np.nan), "y": np.ones(4)}, "NaN or inf"),
        ({"X": np.ones((4, 2)), "y": np.array([1, 2, np.inf, 0.0])}, "NaN or inf"),
        ({"X": np.ones((4, 2)), "y": np.ones(4), "alphas": [1.0, -1.0]}, "positive"),
        ({"X": np.ones((4, 2)), "y": np.ones(4), "alphas": [0.0]}, "positive"),
        ({"X": np.ones((4, 2)), "y": np.ones(4), "l1_ratio": 1.5}, r"\[0, 1\]"),
        ({"X": np.ones((4, 2)), "y": np.ones(4), "solver": "cd"}, "solver"),
        ({"X": np.ones((4, 2)), "y": np.ones(4), "l1_ratio": 0.0}, "explicit `alphas`"),
    ],
)
def test_lasso_path_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match) as e:
        regjax.linear.lasso_path(**kwargs)
    assert "regjax.linear.lasso_path" in str(e.value)


def test_ridge_bad_input():
    with pytest.raises(ValueError, match=r"regjax\.linear\.ridge_cv"):
        regjax.linear.ridge_cv(np.ones((4, 2)), np.ones(3), [1.0])
    with pytest.raises(ValueError, match="positive"):
        regjax.linear.ridge_cv(np.ones((4, 2)), np.ones(4), [0.0, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        regjax.linear.ridge_path(np.ones((4, 2)), np.array([1, 2, np.nan, 0]), [1.0])


def test_lasso_cv_matches_sklearn_lassocv():
    from sklearn.linear_model import LassoCV

    X, y = correlated(83, 12, seed=6)
    y = y + 2.0
    with jax.enable_x64(True):
        res = regjax.linear.lasso_cv(X, y, n_alphas=10, folds=4, tol=1e-12)
    m = LassoCV(alphas=10, cv=4, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(res.alphas, m.alphas_, rtol=1e-10)
    np.testing.assert_allclose(res.mse_path, m.mse_path_, rtol=1e-5)
    assert float(res.alpha) == pytest.approx(m.alpha_, rel=1e-10)
    np.testing.assert_allclose(res.coef, m.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(res.intercept, m.intercept_, rtol=1e-6)
    mean = m.mse_path_.mean(1)
    se = m.mse_path_.std(1, ddof=1) / 2
    best = np.argmin(mean)
    assert float(res.alpha_1se) == pytest.approx(
        m.alphas_[np.argmax(mean <= mean[best] + se[best])], rel=1e-12
    )
    assert float(res.alpha_1se) >= float(res.alpha)


def test_uncertified_float32_path_warns_and_float64_does_not():
    X, y = load_diabetes(return_X_y=True)
    y = y - y.mean()
    # A gap of 1e-9 relative is below float32's rounding of the gap itself (about
    # eps32 * ||y||^2 / n = 1.2e-7 relative), so float32 cannot certify it on any
    # JAX version: say so instead of returning quietly. float64 can.
    tol = 1e-9
    with pytest.warns(RuntimeWarning, match=r"lasso_path`: the duality gap target"):
        _, _, gaps = regjax.linear.lasso_path(
            X.astype(np.float32), y.astype(np.float32), n_alphas=10, tol=tol
        )
    assert float(np.max(gaps)) > tol * (y @ y) / len(y)
    with jax.enable_x64(True):  # warnings are errors in this suite: none may be raised here
        _, _, gaps = regjax.linear.lasso_path(X, y, n_alphas=10, tol=tol)
        assert float(np.max(gaps)) <= tol * (y @ y) / len(y)


# ---------------------------------------------------------------- shared kernels


@pytest.mark.parametrize("shape", [(300, 100), (301, 97), (200, 10), (50, 400), (64, 640)])
def test_layout_aware_products_match_numpy(shape):
    """XᵀX (symmetric blocks or row blocks) and Xᵀv (as v @ X) against NumPy in float64."""
    from regjax import _linear

    X = np.random.default_rng(1).standard_normal(shape)
    v = np.random.default_rng(2).standard_normal(shape[0])
    V = np.random.default_rng(3).standard_normal((shape[0], 3))
    with jax.enable_x64(True):
        np.testing.assert_allclose(_linear.gram(jnp.asarray(X)), X.T @ X, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(
            _linear.xt_dot(jnp.asarray(X), jnp.asarray(v)), X.T @ v, rtol=1e-12
        )
        np.testing.assert_allclose(
            _linear.xt_dot(jnp.asarray(X), jnp.asarray(V)), X.T @ V, rtol=1e-12
        )


@pytest.mark.parametrize("seed", range(4))
def test_lanczos_bound_is_a_tight_upper_bound_of_the_top_eigenvalue(seed):
    """The FISTA step's λ_max: above numpy's eigenvalue, and close enough not to slow
    FISTA (iterations grow as √L: 5% costs 2.5%), on correlated, Gaussian (no gap at
    the top of the spectrum, Lanczos's slowest case) and shifted designs."""
    from regjax import _linear

    rng = np.random.default_rng(seed)
    for X in (
        correlated(400, 300, rho=0.9, seed=seed)[0],
        rng.standard_normal((300, 400)),
        rng.standard_normal((500, 300)) + 0.3,
    ):
        exact = np.linalg.eigvalsh(X.T @ X)[-1]
        with jax.enable_x64(True):
            bound = float(_linear.top_eigenvalue_of_gram(jnp.asarray(X)))
            from_gram = float(_linear.top_eigenvalue(jnp.asarray(X.T @ X)))
        for b in (bound, from_gram):
            assert exact * (1 - 1e-12) <= b <= exact * 1.05


def test_residual_parts_from_the_gradient_equal_the_direct_ones():
    """‖R‖², Rᵀy and XᵀR from the gradient (no product with the data) against X itself."""
    from regjax import _lasso

    X, y = correlated(60, 20, seed=4)
    w = np.random.default_rng(5).standard_normal(20)
    with jax.enable_x64(True):
        for use_gram in (True, False):
            quad = _lasso.make_quad(jnp.asarray(X), jnp.asarray(y), use_gram)
            got = quad.parts_from_grad(jnp.asarray(w), quad.grad(jnp.asarray(w)))
            r = y - X @ w
            for a, b in zip(got, (r @ r, r @ y, X.T @ r), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10)


def test_float32_gradient_correction_is_accurate_and_fista_result_gradient_is_exact():
    """grad_near against NumPy: only the correction G(w − a)/n is rounded to float32,
    so its error scales with ‖w − a‖ (zero at the anchor, far below a float32
    gradient's). FISTA run with it reaches the same certified solution as without,
    and the gradient it returns is the exact one at its x."""
    from regjax import _lasso, _prox
    from regjax._fista import fista

    X, y = correlated(80, 30, seed=6)
    rng = np.random.default_rng(7)
    a = rng.standard_normal(30)
    with jax.enable_x64(True):
        quad = _lasso.make_quad(jnp.asarray(X), jnp.asarray(y), True)
        assert quad.G_lo.dtype == jnp.float32
        g_a = quad.grad(jnp.asarray(a))
        exact = lambda w: X.T @ (X @ w - y) / 80
        np.testing.assert_array_equal(quad.grad_near(jnp.asarray(a), jnp.asarray(a), g_a), g_a)
        L = np.linalg.eigvalsh(X.T @ X / 80)[-1]
        for scale in (1e-6, 1e-3, 1.0):
            w = a + scale * rng.standard_normal(30)
            err = np.abs(np.asarray(quad.grad_near(jnp.asarray(w), jnp.asarray(a), g_a)) - exact(w))
            assert err.max() <= 1e-6 * L * np.linalg.norm(w - a)
            assert err.max() > 0 or scale < 1e-3

        alpha, step, tol = 0.05, 1 / L, 1e-13
        prox = lambda v: _prox.elastic_net(v, l1=alpha * step, l2=0.0)
        cert = lambda w, g: _lasso.enet_gap(quad.parts_from_grad(w, g), w, alpha, 1.0, quad.n)
        x0 = jnp.zeros(30)
        plain = fista(quad.grad, prox, cert, x0, step, tol, 20_000)
        near = fista(quad.grad, prox, cert, x0, step, tol, 20_000, grad_near=quad.grad_near)
        for res in (plain, near):
            assert float(res.gap) <= tol
            np.testing.assert_allclose(res.grad, exact(np.asarray(res.x)), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(near.x, plain.x, atol=1e-6)


def test_enet_path_raises_on_overflowing_x_instead_of_nan_certificate():
    # X near the float64 maximum: Xᵀy and the gap overflow; a NaN gap must not pass as met.
    with jax.enable_x64(True):
        X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 2))
        y = np.arange(10.0) % 2
        with pytest.raises(ValueError, match=r"regjax\.linear\.enet_path.*not finite"):
            regjax.linear.enet_path(X, y, alphas=[0.1])


def test_lasso_cv_raises_on_overflowing_x():
    with jax.enable_x64(True):
        X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(20, 2))
        y = np.arange(20.0) % 2
        with pytest.raises(ValueError, match=r"regjax\.linear\.lasso_cv.*not finite"):
            regjax.linear.lasso_cv(X, y, alphas=[0.1, 0.01])


def test_enet_path_l1_ratio_zero_matches_sklearn_ridge():
    # l1_ratio=0 is ridge: 1/(2n)‖y − Xw‖² + α/2‖w‖² is Ridge(alpha=n·α) with an intercept.
    X, y = diabetes()
    n = X.shape[0]
    alphas = np.array([1.0, 0.1, 0.01])
    with jax.enable_x64(True):
        _, W, gaps = regjax.linear.enet_path(X, y, l1_ratio=0.0, alphas=alphas, tol=1e-10)
        W = np.asarray(W)
    for j, a in enumerate(alphas):
        ref = Ridge(alpha=n * a, solver="cholesky").fit(X, y).coef_
        # α-strong convexity: ‖w − w*‖² ≤ 2·gap/α; the returned gap must bound the error.
        err2 = float(np.sum((W[:, j] - ref) ** 2))
        assert err2 <= 2 * float(gaps[j]) / a * 1.01 + 1e-18
        np.testing.assert_allclose(W[:, j], ref, rtol=1e-2)
    assert np.all(np.abs(W) > 0)
    assert np.all(np.asarray(gaps) >= 0)


def test_default_grid_for_constant_y_matches_sklearn_alpha_grid():
    from sklearn.linear_model._coordinate_descent import _alpha_grid

    X = np.random.RandomState(0).randn(20, 3)
    y = np.full(20, 3.0)
    ref = _alpha_grid(X, y, fit_intercept=True, n_alphas=5, eps=1e-3)
    with jax.enable_x64(True):
        alphas, W, _ = regjax.linear.lasso_path(X, y, n_alphas=5, eps=1e-3, fit_intercept=True)
    np.testing.assert_allclose(np.asarray(alphas), ref, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(W), 0.0)
