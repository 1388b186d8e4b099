"""Ridge numerics and alpha checks of regjax.linear, against NumPy references."""

import jax
import numpy as np
import pytest

import regjax


def _loo_refits(X, y, alpha, fit_intercept):
    """Mean squared leave-one-out error by n explicit float64 refits."""
    errs = []
    for i in range(len(y)):
        m = np.arange(len(y)) != i
        Xt, yt = X[m], y[m]
        xm = Xt.mean(0) if fit_intercept else np.zeros(X.shape[1])
        ym = yt.mean() if fit_intercept else 0.0
        Xc = Xt - xm
        w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ (yt - ym))
        errs.append(y[i] - (X[i] - xm) @ w - ym)
    return float(np.mean(np.square(errs)))


def _gcv_loop(X, y, alpha, fit_intercept):
    """GCV from its definition: n·‖(I−H)y‖² / (n − tr H)², H built explicitly."""
    n, p = X.shape
    xm = X.mean(0) if fit_intercept else np.zeros(p)
    Xc = X - xm
    H = Xc @ np.linalg.solve(Xc.T @ Xc + alpha * np.eye(p), Xc.T)
    if fit_intercept:
        H = H + np.ones((n, n)) / n
    r = y - H @ y
    tr = sum(H[i, i] for i in range(n))
    return float(np.sum(r**2) / n / (1 - tr / n) ** 2)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_ridge_path_rank_deficient_matches_pinv(dtype, rtol):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4))
    y = rng.normal(size=12)
    Xd = np.hstack([X, X])
    ref = np.linalg.pinv(Xd) @ y  # float64 minimum-norm least squares
    with jax.enable_x64(dtype == np.float64):
        c, b = regjax.linear.ridge_path(
            Xd.astype(dtype), y.astype(dtype), [0.0], fit_intercept=False
        )
    np.testing.assert_allclose(np.asarray(c)[:, 0], ref, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(b), 0.0)


def test_ridge_path_rank_deficient_intercept_matches_lstsq():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10, 3))
    Xd = np.hstack([X, X[:, :1] * 2.0])
    y = rng.normal(size=10)
    Xc = Xd - Xd.mean(0)
    ref = np.linalg.lstsq(Xc, y - y.mean(), rcond=None)[0]
    with jax.enable_x64(True):
        c, b = regjax.linear.ridge_path(Xd, y, [0.0, 1.0])
    np.testing.assert_allclose(np.asarray(c)[:, 0], ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(b[0]), y.mean() - Xd.mean(0) @ ref, rtol=1e-10)
    ref1 = np.linalg.solve(Xc.T @ Xc + np.eye(4), Xc.T @ (y - y.mean()))
    np.testing.assert_allclose(np.asarray(c)[:, 1], ref1, rtol=1e-10)


@pytest.mark.parametrize("shape,scale", [((11, 20), 10.0), ((30, 4), 1.0)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_cv_loo_float32_matches_float64_refits(shape, scale, fit_intercept):
    rng = np.random.default_rng(2)
    X = rng.normal(size=shape) * scale
    y = rng.normal(size=shape[0])
    alphas = np.array([1e-3, 1.0, 1000.0])
    ref = np.array([_loo_refits(X, y, a, fit_intercept) for a in alphas])
    res = regjax.linear.ridge_cv(
        X.astype(np.float32),
        y.astype(np.float32),
        alphas.astype(np.float32),
        fit_intercept=fit_intercept,
    )
    np.testing.assert_allclose(np.asarray(res.cv_errors), ref, rtol=2e-3)
    assert int(res.best_index) == int(np.argmin(ref))


@pytest.mark.parametrize("shape", [(11, 20), (30, 4)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_cv_gcv_matches_definition(shape, fit_intercept):
    rng = np.random.default_rng(3)
    X = rng.normal(size=shape)
    y = rng.normal(size=shape[0])
    alphas = np.array([0.01, 1.0, 30.0])
    ref = np.array([_gcv_loop(X, y, a, fit_intercept) for a in alphas])
    with jax.enable_x64(True):
        res = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept, mode="gcv")
        loo = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept)
    np.testing.assert_allclose(np.asarray(res.cv_errors), ref, rtol=1e-9)
    refl = np.array([_loo_refits(X, y, a, fit_intercept) for a in alphas])
    np.testing.assert_allclose(np.asarray(loo.cv_errors), refl, rtol=1e-9)
    # the refit at the chosen alpha is ridge itself
    a = float(res.alpha)
    xm = X.mean(0) if fit_intercept else np.zeros(shape[1])
    Xc = X - xm
    w = np.linalg.solve(
        Xc.T @ Xc + a * np.eye(shape[1]), Xc.T @ (y - (y.mean() if fit_intercept else 0))
    )
    np.testing.assert_allclose(np.asarray(res.coef), w, rtol=1e-9, atol=1e-12)


X3 = np.random.default_rng(4).normal(size=(8, 3)).astype(np.float32)
Y3 = np.random.default_rng(5).normal(size=8).astype(np.float32)
BAD = [
    3,
    True,
    "1",
    (1, 1.0, "1"),
    [1.0, True],
    np.array([1.0], dtype=object),
    np.array([1 + 1j]),
    [np.nan],
    [np.inf],
    [[1.0, 2.0]],
    [],
    np.int64(3),
]


@pytest.mark.parametrize("bad", BAD, ids=repr)
@pytest.mark.parametrize(
    "name,call",
    [
        ("ridge_path", lambda a: regjax.linear.ridge_path(X3, Y3, a)),
        ("ridge_cv", lambda a: regjax.linear.ridge_cv(X3, Y3, a)),
        ("lasso_path", lambda a: regjax.linear.lasso_path(X3, Y3, alphas=a)),
        ("enet_path", lambda a: regjax.linear.enet_path(X3, Y3, alphas=a)),
        ("lasso_cv", lambda a: regjax.linear.lasso_cv(X3, Y3, alphas=a, folds=2)),
    ],
)
def test_bad_alphas_raise_naming_function_and_argument(bad, name, call):
    with pytest.raises((ValueError, TypeError), match=rf"{name}\(alphas="):
        call(bad)


@pytest.mark.parametrize("bad", [3, np.int64(3)], ids=repr)
def test_int_alphas_points_to_n_alphas(bad):
    with pytest.raises(TypeError, match="n_alphas="):
        regjax.linear.lasso_path(X3, Y3, alphas=bad)
    with pytest.raises(TypeError, match="list or 1-D array"):
        regjax.linear.ridge_cv(X3, Y3, bad)


def test_float_scalar_alpha_is_one_alpha():
    c, _ = regjax.linear.ridge_path(X3, Y3, 2.0)
    c2, _ = regjax.linear.ridge_path(X3, Y3, [2.0])
    np.testing.assert_array_equal(np.asarray(c), np.asarray(c2))
    assert c.shape == (3, 1)
