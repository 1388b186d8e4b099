"""The L1-logistic path's pieces against NumPy definitions.

The KKT residual is the infinity norm of the minimum-norm subgradient of the
objective (1/n) Σ log(1 + exp(−s_i (x_iᵀw + b))) + α r‖w‖₁ + α(1 − r)/2 ‖w‖²;
here it is recomputed in float64 NumPy at every returned (w, b), as are the
loss gradient, the default grid's first alpha, and the solutions themselves
(from scipy's L-BFGS-B on the smooth split of the same objective).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

import regjax
from regjax import _logistic

pytestmark = pytest.mark.usefixtures("float64_enabled")


def _data(n=60, p=8, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    logits = X[:, :3] @ np.array([2.0, -1.5, 1.0]) + 0.7
    y = (rng.rand(n) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    return X, y


def _grad_np(X, y01, w, b, fit_intercept=True):
    s = 2 * y01 - 1
    z = s * (X @ w + b)
    g = -s / (1 + np.exp(z)) / len(y01)
    return X.T @ g, (g.sum() if fit_intercept else 0.0)


def _kkt_np(X, y01, w, b, alpha, r, fit_intercept=True):
    gw, gb = _grad_np(X, y01, w, b, fit_intercept)
    gw = gw + alpha * (1 - r) * w
    a1 = alpha * r
    res = np.where(w != 0, np.abs(gw + a1 * np.sign(w)), np.maximum(np.abs(gw) - a1, 0))
    return max(res.max(), abs(gb))


def _solve_np(X, y01, alpha, r, fit_intercept=True):
    """The same objective by L-BFGS-B with w = u − v, u, v >= 0 (the smooth split)."""
    n, p = X.shape
    s = 2 * y01 - 1

    def f(z):
        u, v, b = z[:p], z[p : 2 * p], (z[-1] if fit_intercept else 0.0)
        w = u - v
        m = s * (X @ w + b)
        loss = np.mean(np.logaddexp(0, -m))
        g = -s / (1 + np.exp(m)) / n
        gw = X.T @ g + alpha * (1 - r) * w
        val = loss + alpha * r * (u.sum() + v.sum()) + 0.5 * alpha * (1 - r) * (w @ w)
        grad = np.concatenate(
            [gw + alpha * r, -gw + alpha * r] + ([[g.sum()]] if fit_intercept else [])
        )
        return val, grad

    z0 = np.zeros(2 * p + int(fit_intercept))
    bounds = [(0, None)] * (2 * p) + [(None, None)] * int(fit_intercept)
    out = minimize(
        f,
        z0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 50_000},
    )
    return out.x[:p] - out.x[p : 2 * p], (out.x[-1] if fit_intercept else 0.0)


def test_kkt_residual_is_the_minimum_norm_subgradient():
    rng = np.random.RandomState(1)
    gw = rng.randn(6)
    gb = 0.3
    w = np.array([0.0, 1.0, -2.0, 0.0, 0.5, 0.0])
    for alpha, r in [(0.4, 1.0), (0.4, 0.5), (2.0, 1.0), (0.3, 0.0)]:
        got = float(
            _logistic.kkt_residual((jnp.asarray(gw), jnp.asarray(gb)), jnp.asarray(w), alpha, r)
        )
        g = gw + alpha * (1 - r) * w
        want = max(
            np.max(
                np.where(
                    w != 0, np.abs(g + alpha * r * np.sign(w)), np.maximum(np.abs(g) - alpha * r, 0)
                )
            ),
            abs(gb),
        )
        assert got == pytest.approx(want, rel=1e-14)
    # the intercept's gradient counts even when it is the largest
    got = float(_logistic.kkt_residual((jnp.zeros(3), jnp.asarray(-7.0)), jnp.zeros(3), 1.0, 1.0))
    assert got == 7.0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_loss_gradient_matches_numpy_and_finite_differences(fit_intercept):
    X, y = _data()
    s = 2 * y - 1
    w = np.random.RandomState(2).randn(X.shape[1]) * 0.3
    b = 0.4
    gw, gb = _logistic._loss_grad(
        jnp.asarray(X),
        jnp.asarray(s),
        jnp.asarray(float(len(y))),
        fit_intercept,
        (jnp.asarray(w), jnp.asarray(b)),
    )
    want_w, want_b = _grad_np(X, y, w, b, fit_intercept)
    np.testing.assert_allclose(np.asarray(gw), want_w, rtol=1e-12, atol=1e-15)
    assert float(gb) == pytest.approx(want_b, rel=1e-12, abs=1e-15)

    def loss(w, b):
        return np.mean(np.logaddexp(0, -s * (X @ w + b)))

    h = 1e-6
    fd = [(loss(w + h * e, b) - loss(w - h * e, b)) / (2 * h) for e in np.eye(len(w))]
    np.testing.assert_allclose(np.asarray(gw), fd, rtol=1e-6, atol=1e-9)
    if fit_intercept:
        assert float(gb) == pytest.approx((loss(w, b + h) - loss(w, b - h)) / (2 * h), rel=1e-6)


def test_sigmoid_neg_is_stable_at_large_arguments():
    z = jnp.asarray([-800.0, -1.0, 0.0, 1.0, 800.0])
    np.testing.assert_allclose(
        np.asarray(_logistic._sigmoid_neg(z)),
        [1.0, 1 / (1 + np.exp(-1.0)), 0.5, 1 / (1 + np.e), 0.0],
        rtol=1e-14,
    )


@pytest.mark.parametrize("solver", ["path", "fista"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("r", [1.0, 0.5])
def test_logistic_path_solutions_and_residuals_against_numpy(solver, fit_intercept, r):
    X, y = _data()
    alphas = np.array([0.002, 0.05, 0.01])  # unsorted: the path sorts them descending
    tol = 1e-9
    a, coefs, b, kkt = regjax.linear.logistic_path(
        X,
        y,
        alphas=alphas,
        l1_ratio=r,
        tol=tol,
        fit_intercept=fit_intercept,
        solver=solver,
        max_iter=200_000,
    )
    np.testing.assert_array_equal(np.asarray(a), np.sort(alphas)[::-1])
    for i, alpha in enumerate(np.asarray(a)):
        w, bi = np.asarray(coefs[:, i]), float(b[i])
        if not fit_intercept:
            assert bi == 0.0
        want = _kkt_np(X, y, w, bi, alpha, r, fit_intercept)
        assert float(kkt[i]) == pytest.approx(want, rel=1e-9, abs=1e-15)
        assert want <= tol
        w_ref, b_ref = _solve_np(X, y, alpha, r, fit_intercept)
        np.testing.assert_allclose(w, w_ref, atol=1e-5)
        assert bi == pytest.approx(b_ref, abs=1e-5)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_grid_starts_where_every_coefficient_is_zero(fit_intercept):
    X, y = _data(seed=3)
    a, coefs, b, _ = regjax.linear.logistic_path(
        X, y, n_alphas=5, eps=1e-2, tol=1e-10, fit_intercept=fit_intercept
    )
    n = len(y)
    pbar = y.mean() if fit_intercept else 0.5
    amax = np.abs(X.T @ (y - pbar)).max() / n
    np.testing.assert_allclose(np.asarray(a), np.geomspace(amax, amax * 1e-2, 5), rtol=1e-12)
    assert not np.any(np.asarray(coefs[:, 0]))
    b0 = np.log(pbar / (1 - pbar)) if fit_intercept else 0.0
    assert float(b[0]) == pytest.approx(b0, abs=1e-9)
    # just below alpha_max a coefficient leaves zero
    assert np.any(np.asarray(coefs[:, 1]))


def test_default_grid_with_an_l1_ratio_divides_by_it():
    X, y = _data(seed=4)
    a, *_ = regjax.linear.logistic_path(X, y, n_alphas=2, l1_ratio=0.25, tol=1e-8)
    amax = np.abs(X.T @ (y - y.mean())).max() / len(y) / 0.25
    assert float(a[0]) == pytest.approx(amax, rel=1e-12)


def test_minus_one_one_labels_equal_zero_one_labels():
    X, y = _data(seed=5)
    out01 = regjax.linear.logistic_path(X, y, n_alphas=4, tol=1e-10)
    outpm = regjax.linear.logistic_path(X, 2 * y - 1, n_alphas=4, tol=1e-10)
    for u, v in zip(out01, outpm):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_float32_data_under_x64_is_solved_in_float32_and_certified_in_float64(fit_intercept):
    X, y = _data(seed=6)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    a, coefs, b, kkt = regjax.linear.logistic_path(
        X32, y32, alphas=np.array([0.05, 0.01], np.float32), tol=1e-4, fit_intercept=fit_intercept
    )
    assert coefs.dtype == b.dtype == kkt.dtype == jnp.float32
    for i, alpha in enumerate(np.asarray(a, np.float64)):
        w, bi = np.asarray(coefs[:, i], np.float64), float(b[i])
        want = _kkt_np(X32.astype(np.float64), y, w, bi, alpha, 1.0, fit_intercept)
        assert float(kkt[i]) == pytest.approx(want, rel=1e-6, abs=1e-12)
        assert want <= 1e-4


def test_labels_are_checked_when_concrete_and_accepted_when_traced():
    X, y = _data(seed=7)
    with pytest.raises(ValueError, match=r"logistic_path\(y=...\)` must hold binary labels"):
        regjax.linear.logistic_path(X, 2 * y, n_alphas=2)
    with pytest.raises(ValueError, match="one class only"):
        regjax.linear.logistic_path(X, np.ones_like(y), n_alphas=2)
    alphas = np.array([0.05, 0.01])
    eager = regjax.linear.logistic_path(X, y, alphas=alphas, tol=1e-8)[1]
    traced = jax.jit(lambda yy: regjax.linear.logistic_path(X, yy, alphas=alphas, tol=1e-8)[1])(y)
    np.testing.assert_allclose(np.asarray(traced), np.asarray(eager), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"X": np.ones((5, 2, 1))}, "X"),
        ({"l1_ratio": 1.5}, "l1_ratio"),
        ({"tol": -1.0}, "tol"),
        ({"n_alphas": 0}, "n_alphas"),
        ({"max_iter": 0}, "max_iter"),
        ({"eps": -1.0}, "eps"),
        ({"solver": "cd"}, "solver"),
        ({"l1_ratio": 0.0}, "alphas"),
    ],
)
def test_bad_arguments_are_named_with_the_function(kwargs, name):
    X, y = _data(seed=8)
    args = {"X": X, "y": y, **kwargs}
    with pytest.raises(ValueError, match=rf"`regjax\.linear\.logistic_path\({name}="):
        regjax.linear.logistic_path(args.pop("X"), args.pop("y"), **args)


def test_the_defaults_are_a_100_alpha_grid_to_1e_3_solved_to_1e_8():
    X, y = _data(seed=9)
    a, coefs, _, kkt = regjax.linear.logistic_path(X, y)
    assert a.shape == (100,) and coefs.shape == (X.shape[1], 100)
    assert float(a[-1] / a[0]) == pytest.approx(1e-3, rel=1e-12)
    assert float(kkt.max()) <= 1e-8  # recomputed at the returned coefficients


def test_alphas_errors_name_logistic_path():
    X, y = _data(seed=10)
    with pytest.raises(ValueError, match=r"`regjax\.linear\.logistic_path\(alphas="):
        regjax.linear.logistic_path(X, y, alphas=[-1.0])


@pytest.mark.parametrize("solver", ["fista", "path"])
def test_fista_solves_each_alpha_from_zero_and_path_warm_starts(solver):
    # from zero, an alpha's solution does not depend on the others in the grid;
    # warm-started, it does (at the level of the loose tolerance)
    X, y = _data(seed=11)
    a1, a2 = 0.05, 0.004
    kw = {"tol": 1e-4, "solver": solver}
    both = np.asarray(regjax.linear.logistic_path(X, y, alphas=[a1, a2], **kw)[1][:, 1])
    alone = np.asarray(regjax.linear.logistic_path(X, y, alphas=[a2], **kw)[1][:, 0])
    diff = np.abs(both - alone).max()
    if solver == "fista":
        assert diff <= 1e-12
    else:
        assert diff > 1e-9


def test_overflow_error_names_the_function_and_the_dtype():
    X = (1e20 * np.random.RandomState(0).uniform(size=(10, 2))).astype(np.float32)
    y = (np.arange(10) % 2).astype(np.float32)
    with (
        jax.enable_x64(False),
        pytest.raises(
            ValueError,
            match=r"`regjax\.linear\.logistic_path`: the squares of `X` or `y` are not finite "
            r"in float32",
        ),
    ):
        regjax.linear.logistic_path(X, y, alphas=[0.1])


@pytest.mark.parametrize("which", [1, 2, 3])
def test_a_non_finite_residual_is_reported_as_such(monkeypatch, which):
    # defence in depth behind the overflow check: whatever made a returned
    # coefficient, intercept or KKT residual NaN, it is an error naming the
    # function and the certificate
    X, y = _data(seed=12)
    solve = _logistic._solve

    def nan_kkt(*args):
        out = list(solve(*args))
        out[which] = out[which].at[0].set(jnp.nan)
        return tuple(out)

    monkeypatch.setattr(_logistic, "_solve", nan_kkt)
    with pytest.raises(
        ValueError, match=r"`regjax\.linear\.logistic_path`: the KKT residual or the coefficients"
    ):
        regjax.linear.logistic_path(X, y, alphas=[0.1])


def test_an_uncertified_path_warns_naming_the_function_and_the_certificate():
    X, y = _data(seed=13)
    with pytest.warns(
        RuntimeWarning,
        match=r"`regjax\.linear\.logistic_path`: the KKT residual target 1e-12 was not reached",
    ):
        regjax.linear.logistic_path(X, y, alphas=[0.01], tol=1e-12, max_iter=5)
