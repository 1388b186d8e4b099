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
