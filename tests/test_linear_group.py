"""regjax.linear.group_lasso_path against a NumPy proximal-gradient reference,
direct KKT checks, an independently computed duality gap, and lasso_path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import regjax


def correlated(n, p, rho=0.6, seed=0):
    rng = np.random.default_rng(seed)
    cov = rho ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    w = np.zeros(p)
    w[: min(4, p)] = rng.standard_normal(min(4, p)) * 2
    return X, X @ w + rng.standard_normal(n)


IDS = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])  # sizes 3, 2, 4, 1


def objective(X, y, w, a, ids):
    n = len(y)
    pen = sum(np.sqrt(np.sum(ids == g)) * np.linalg.norm(w[ids == g]) for g in np.unique(ids))
    return 0.5 / n * np.sum((y - X @ w) ** 2) + a * pen


def numpy_prox_grad(X, y, a, ids, iters=20_000):
    """Plain proximal gradient (ISTA) with explicit per-group block soft-thresholding."""
    n = len(y)
    step = n / np.linalg.eigvalsh(X.T @ X)[-1]
    w = np.zeros(X.shape[1])
    for _ in range(iters):
        v = w - step * X.T @ (X @ w - y) / n
        for g in np.unique(ids):
            m = ids == g
            t = step * a * np.sqrt(m.sum())
            nv = np.linalg.norm(v[m])
            v[m] = 0.0 if nv <= t else v[m] * (1 - t / nv)
        w = v
    return w


def check_kkt(X, y, w, a, ids, atol):
    """Subgradient optimality per group: X_gᵀr/n = a√|g| w_g/‖w_g‖, or ‖X_gᵀr‖/n <= a√|g|."""
    n = len(y)
    c = X.T @ (y - X @ w) / n
    for g in np.unique(ids):
        m = ids == g
        lim = a * np.sqrt(m.sum())
        nw = np.linalg.norm(w[m])
        if nw > 0:
            np.testing.assert_allclose(c[m], lim * w[m] / nw, atol=atol)
        else:
            assert np.linalg.norm(c[m]) <= lim * (1 + 1e-9) + atol


def test_matches_numpy_reference_and_kkt():
    X, y = correlated(40, 10, seed=1)
    with jax.enable_x64(True):
        alphas, W, gaps = map(
            np.asarray, regjax.linear.group_lasso_path(X, y, IDS, n_alphas=6, tol=1e-12)
        )
    n = len(y)
    amax = max(
        np.linalg.norm(X[:, IDS == g].T @ y) / (n * np.sqrt((IDS == g).sum())) for g in range(4)
    )
    np.testing.assert_allclose(alphas, amax * np.geomspace(1, 1e-3, 6), rtol=1e-12)
    assert np.all(W[:, 0] == 0)
    assert np.all(gaps <= 1e-12 * (y @ y) / n)
    for i, a in enumerate(alphas[1:4], start=1):  # the reference converges fast here
        ref = numpy_prox_grad(X, y, a, IDS, iters=4000)
        ours, theirs = objective(X, y, W[:, i], a, IDS), objective(X, y, ref, a, IDS)
        assert ours <= theirs * (1 + 1e-8)
        assert abs(ours - theirs) <= 1e-8 * theirs
        for g in range(4):  # same group support
            assert (np.linalg.norm(W[IDS == g, i]) > 0) == (np.linalg.norm(ref[IDS == g]) > 1e-9)
    for i, a in enumerate(alphas):
        check_kkt(X, y, W[:, i], a, IDS, atol=1e-6 * a)


def test_gap_recomputed_independently_p_greater_than_n():
    X, y = correlated(20, 10, seed=2)
    X = np.hstack([X, X[:, ::-1] + 0.1])[:, :20]
    ids = np.repeat(np.arange(5), 4)
    with jax.enable_x64(True):
        alphas, W, gaps = map(
            np.asarray, regjax.linear.group_lasso_path(X, y, ids, n_alphas=8, tol=1e-10)
        )
    n = len(y)
    for i, a in enumerate(alphas):
        w = W[:, i]
        r = y - X @ w
        dn = max(np.linalg.norm(X[:, ids == g].T @ r) / 2 for g in range(5))  # √|g| = 2
        theta = r * min(1.0, n * a / dn)
        dual = (theta @ y - 0.5 * theta @ theta) / n
        np.testing.assert_allclose(gaps[i], objective(X, y, w, a, ids) - dual, atol=1e-12)
        assert gaps[i] <= 1e-10 * (y @ y) / n
        check_kkt(X, y, w, a, ids, atol=1e-4 * a)


def test_singleton_groups_reproduce_lasso_path():
    X, y = correlated(30, 8, seed=3)
    with jax.enable_x64(True):
        a1, W1, _ = regjax.linear.group_lasso_path(X, y, np.arange(8), n_alphas=7, tol=1e-12)
        a2, W2, _ = regjax.linear.lasso_path(X, y, n_alphas=7, tol=1e-12)
    np.testing.assert_allclose(a1, a2, rtol=1e-12)
    np.testing.assert_allclose(W1, W2, atol=1e-8)


def test_solvers_gram_and_list_spec_agree_and_fit_intercept():
    X, y = correlated(30, 10, seed=4)
    X, y = X + 3.0, y + 2.0
    groups = [[0, 1, 2], [3, 4], [5, 6, 7, 8], [9]]  # the same partition as IDS
    with jax.enable_x64(True):
        a, W, _ = regjax.linear.group_lasso_path(
            X, y, IDS, n_alphas=5, tol=1e-12, fit_intercept=True
        )
        for kw in ({"solver": "fista"}, {"gram": False}):
            _, W2, _ = regjax.linear.group_lasso_path(
                X, y, groups, n_alphas=5, tol=1e-12, fit_intercept=True, **kw
            )
            np.testing.assert_allclose(W2, W, atol=1e-7)
    Xc, yc = X - X.mean(0), y - y.mean()
    for i in range(5):
        check_kkt(Xc, yc, np.asarray(W[:, i]), float(a[i]), IDS, atol=1e-6 * float(a[i]))


def test_jit_equals_eager_and_traced_alphas():
    X, y = correlated(30, 10, seed=5)
    X, y = X.astype(np.float32), y.astype(np.float32)
    alphas = jnp.array([0.5, 0.2, 0.05], jnp.float32)
    eager = regjax.linear.group_lasso_path(X, y, IDS, alphas, tol=1e-5)[1]
    jitted = jax.jit(lambda a: regjax.linear.group_lasso_path(X, y, IDS, a, tol=1e-5)[1])(alphas)
    # Both are float32 solves certified to a 1e-5 gap, in programs XLA compiles
    # differently (traced vs constant alphas): they agree to what that gap implies.
    np.testing.assert_allclose(jitted, eager, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    ("groups", "match"),
    [
        (np.zeros(9, int), "does not cover the columns"),
        ([[0, 1, 2], [3, 4]], "does not cover the columns"),
        ([[0, 1, 2], [2, 3, 4, 5, 6, 7, 8, 9]], "more than one group"),
        ([[0, 1, 12], list(range(3, 10))], "column 12"),
        (np.zeros(10), "integer group id"),
        (-np.ones(10, int), ">= 0"),
    ],
)
def test_bad_group_spec(groups, match):
    X, y = correlated(12, 10)
    with pytest.raises(ValueError, match=match) as e:
        regjax.linear.group_lasso_path(X, y, groups)
    assert "regjax.linear.group_lasso_path(groups=...)" in str(e.value)


def test_bad_xy_and_alphas():
    X, y = correlated(12, 10)
    with pytest.raises(ValueError, match="12 rows but y has 11"):
        regjax.linear.group_lasso_path(X, y[:-1], IDS)
    with pytest.raises(ValueError, match="positive"):
        regjax.linear.group_lasso_path(X, y, IDS, [1.0, 0.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        regjax.linear.group_lasso_path(np.where(X > 1, np.nan, X), y, IDS)


def test_group_lasso_path_reports_overflowing_x():
    with jax.enable_x64(True):
        X = np.finfo(np.float64).max * np.random.RandomState(0).uniform(size=(10, 4))
        y = np.arange(10.0) % 2
        # The gap stays finite here (w = 0 from θ = 0) though the solver could not
        # move: the overflow itself is the error, not a target missed for want of
        # iterations.
        with pytest.raises(ValueError, match=r"group_lasso_path`: the squares .* float64"):
            regjax.linear.group_lasso_path(X, y, [0, 0, 1, 1], alphas=[0.1])


@pytest.mark.parametrize("solver", ["path", "fista"])
def test_group_lasso_float32_gaps_are_computed_in_float64_under_x64(solver):
    """With x64 on, a float32 path's gaps are its float32 coefficients' gaps
    evaluated in float64 (the group dual point: Xᵀr scaled to feasibility)."""
    X, y = correlated(60, 10, seed=3)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    X64, y64 = X32.astype(np.float64), y32.astype(np.float64)
    n, tol = len(y), 1e-5
    with jax.enable_x64(True):
        alphas, W, gaps = regjax.linear.group_lasso_path(
            X32, y32, IDS, n_alphas=10, tol=tol, solver=solver
        )
    assert gaps.dtype == np.float32
    alphas, W, gaps = (np.asarray(a, np.float64) for a in (alphas, W, gaps))
    sizes = np.bincount(IDS)
    ref = []
    for w, a in zip(W.T, alphas, strict=True):
        r = y64 - X64 @ w
        xtr = X64.T @ r
        dual_norm = max(np.linalg.norm(xtr[IDS == g]) / np.sqrt(sizes[g]) for g in range(4))
        s = min(1.0, n * a / dual_norm)
        pen = sum(np.sqrt(sizes[g]) * np.linalg.norm(w[IDS == g]) for g in range(4))
        ref.append((0.5 * (1 + s * s) * (r @ r) + n * a * pen - s * (r @ y64)) / n)
    # float32's rounding of the gap itself, and float64's of the primal and dual
    # (each about ‖y‖²/(2n)).
    eps = np.finfo(np.float64).eps
    np.testing.assert_allclose(gaps, ref, rtol=1e-6, atol=32 * eps * (y64 @ y64) / n)
    assert max(ref) <= tol * (y64 @ y64) / n
