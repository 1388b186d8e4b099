"""regjax.linear.logistic_path against scikit-learn LogisticRegression (saga,
tight tol) in float64, and its KKT conditions checked directly."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import regjax


def data(n, p, seed=0, shift=0.5):
    rng = np.random.default_rng(seed)
    cov = 0.5 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.standard_normal((n, p)) @ np.linalg.cholesky(cov).T
    w = np.zeros(p)
    w[:3] = [1.5, -2.0, 1.0]
    y = (X @ w + shift + rng.standard_normal(n) > 0).astype(float)
    return X, y


def objective(X, y01, w, b, a, r):
    z = (2 * y01 - 1) * (X @ w + b)
    return np.mean(np.logaddexp(0, -z)) + a * r * np.abs(w).sum() + 0.5 * a * (1 - r) * w @ w


def check_kkt(X, y01, w, b, a, r, atol, fit_intercept=True):
    n = len(y01)
    s = 2 * y01 - 1
    g = -s / (1 + np.exp(s * (X @ w + b))) / n
    gw = X.T @ g + a * (1 - r) * w
    on = w != 0
    np.testing.assert_allclose(gw[on], -a * r * np.sign(w[on]), atol=atol)
    assert np.all(np.abs(gw[~on]) <= a * r + atol)
    if fit_intercept:
        assert abs(g.sum()) <= atol


@pytest.mark.parametrize(
    ("shape", "l1_ratio", "fit_intercept"),
    [
        ((100, 8), 1.0, True),
        ((60, 90), 1.0, True),
        ((100, 8), 0.5, False),
    ],
)
def test_matches_sklearn_saga(shape, l1_ratio, fit_intercept):
    X, y = data(*shape, seed=1)
    n = len(y)
    with jax.enable_x64(True):
        alphas, W, B, kkt = map(
            np.asarray,
            regjax.linear.logistic_path(
                X, y, n_alphas=5, eps=0.05, l1_ratio=l1_ratio, tol=1e-10,
                fit_intercept=fit_intercept,
            ),
        )  # fmt: skip
    assert np.all(W[:, 0] == 0) and np.all(kkt <= 1e-10)
    check_kkt(X, y, W[:, 0], B[0], alphas[0], l1_ratio, 1e-9, fit_intercept)
    # saga's stopping rule (relative coefficient change) is loose at alpha_max
    # itself, where every weight is zero; compare the other alphas.
    for i, a in enumerate(alphas[1:], start=1):
        m = LogisticRegression(
            l1_ratio=l1_ratio, solver="saga", C=1 / (a * n), tol=1e-12, max_iter=200_000,
            fit_intercept=fit_intercept, random_state=0,
        ).fit(X, y)  # fmt: skip
        ours = objective(X, y, W[:, i], B[i], a, l1_ratio)
        ref = objective(X, y, m.coef_[0], m.intercept_[0], a, l1_ratio)
        assert ours <= ref * (1 + 1e-12)
        assert abs(ours - ref) <= 1e-8 * ref
        np.testing.assert_array_equal(W[:, i] != 0, np.abs(m.coef_[0]) > 1e-10)
        check_kkt(X, y, W[:, i], B[i], a, l1_ratio, 1e-9, fit_intercept)


def test_default_grid_alpha_max_and_label_encodings():
    X, y = data(50, 6, seed=2)
    n = len(y)
    with jax.enable_x64(True):
        a01, W01, B01, _ = regjax.linear.logistic_path(X, y, n_alphas=4, tol=1e-10)
        apm, Wpm, Bpm, _ = regjax.linear.logistic_path(X, 2 * y - 1, n_alphas=4, tol=1e-10)
        # just below alpha_max one coefficient enters
        _, W_in, _, _ = regjax.linear.logistic_path(X, y, [float(a01[0]) * 0.999], tol=1e-10)
    amax = np.max(np.abs(X.T @ (y - y.mean()))) / n
    np.testing.assert_allclose(a01, amax * np.geomspace(1, 1e-3, 4), rtol=1e-12)
    np.testing.assert_allclose(B01[0], np.log(y.mean() / (1 - y.mean())), rtol=1e-9)
    np.testing.assert_allclose(apm, a01)
    np.testing.assert_allclose(Wpm, W01, atol=1e-12)
    np.testing.assert_allclose(Bpm, B01, atol=1e-12)
    assert np.count_nonzero(np.asarray(W_in)) == 1


def test_solvers_agree_jit_equals_eager_and_vmap_over_l1_ratio_compiles_once():
    X, y = data(60, 5, seed=3)
    X, y = X.astype(np.float32), y.astype(np.float32)
    alphas = jnp.array([0.1, 0.03, 0.01], jnp.float32)
    traces = []

    def f(r):
        traces.append(1)
        return regjax.linear.logistic_path(X, y, alphas, l1_ratio=r, tol=1e-5)[1]

    ratios = jnp.array([0.2, 0.6, 1.0], jnp.float32)
    out = jax.jit(jax.vmap(f))(ratios)
    assert len(traces) == 1
    for k, r in enumerate([0.2, 0.6, 1.0]):
        eager = regjax.linear.logistic_path(X, y, alphas, l1_ratio=r, tol=1e-5)
        grid = regjax.linear.logistic_path(X, y, alphas, l1_ratio=r, tol=1e-5, solver="fista")
        np.testing.assert_allclose(out[k], eager[1], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(grid[1], eager[1], rtol=1e-3, atol=1e-3)
        assert np.all(np.asarray(eager[3]) <= 1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"y": np.arange(10.0)}, "binary labels"),
        ({"y": np.ones(10)}, "one class"),
        ({"y": np.r_[np.zeros(5), np.ones(4)]}, "10 rows but y has 9"),
        ({"l1_ratio": -0.1}, r"\[0, 1\]"),
        ({"alphas": [0.1, -1.0]}, "positive"),
        ({"X": np.full((10, 2), np.inf)}, "NaN or inf"),
        ({"l1_ratio": 0.0}, "explicit `alphas`"),
    ],
)
def test_bad_input(kwargs, match):
    args = {"X": np.ones((10, 2)), "y": np.r_[np.zeros(5), np.ones(5)], **kwargs}
    with pytest.raises(ValueError, match=match) as e:
        regjax.linear.logistic_path(**args)
    assert "regjax.linear.logistic_path" in str(e.value)


def test_logistic_path_raises_on_overflowing_x_float32():
    # float32 X near 1e20: squares overflow; a NaN KKT residual must not pass as met.
    X = (1e20 * np.random.RandomState(0).uniform(size=(10, 2))).astype(np.float32)
    y = (np.arange(10) % 2).astype(np.float32)
    with pytest.raises(ValueError, match=r"regjax\.linear\.logistic_path.*not finite"):
        regjax.linear.logistic_path(X, y, alphas=[0.1])


def numpy_kkt(X, y01, w, b, a, r, fit_intercept=True):
    """The minimum-norm subgradient's infinity norm, in float64 (logistic_path's κ)."""
    s = 2 * y01 - 1
    g = -s / (1 + np.exp(s * (X @ w + b))) / len(y01)
    gw = X.T @ g + a * (1 - r) * w
    res = np.where(w != 0, np.abs(gw + a * r * np.sign(w)), np.maximum(np.abs(gw) - a * r, 0))
    return max(res.max(), abs(g.sum()) if fit_intercept else 0.0)


@pytest.mark.parametrize("solver", ["path", "fista"])
def test_float32_kkt_residuals_are_computed_in_float64_under_x64(solver):
    """With x64 on, a float32 path's residuals are those of its float32
    coefficients evaluated in float64, not float32's rounding of them."""
    X, y = data(200, 8, seed=4)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    X64, y64 = X32.astype(np.float64), y32.astype(np.float64)
    with jax.enable_x64(True):
        alphas, W, B, kkt = regjax.linear.logistic_path(
            X32, y32, n_alphas=8, tol=1e-4, solver=solver
        )
    assert kkt.dtype == np.float32
    alphas, W, B, kkt = (np.asarray(a, np.float64) for a in (alphas, W, B, kkt))
    ref = [numpy_kkt(X64, y64, W[:, i], B[i], a, 1.0) for i, a in enumerate(alphas)]
    # float32's rounding of the residual itself; float64's of a sum of 200 terms.
    np.testing.assert_allclose(kkt, ref, rtol=1e-6, atol=1e-13)
    assert max(ref) <= 1e-4


def test_logistic_path_raises_on_overflowing_x_float32_under_x64():
    # float32 X near 1e20 with x64 on: the float64 residual of w = 0 is finite,
    # but the float32 step overflowed, so nothing was solved.
    X = (1e20 * np.random.RandomState(0).uniform(size=(10, 2))).astype(np.float32)
    y = (np.arange(10) % 2).astype(np.float32)
    with jax.enable_x64(True), pytest.raises(ValueError, match=r"logistic_path`: the squares"):
        regjax.linear.logistic_path(X, y, alphas=[0.1])
