"""Ridge and the shared linear algebra of ``regjax.linear`` against NumPy.

Each piece is compared with its definition computed in float64 NumPy: the
rank cutoff and shrinkage factors, the ridge path from the normal equations
(and the minimum-norm least-squares answer at alpha = 0), leave-one-out errors
from explicit refits, GCV from the hat matrix, the Gram matrix in each of its
arrangements, the top eigenvalue and its Lanczos bound, and the warning for a
missed certificate.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import regjax
from regjax import _linear

pytestmark = pytest.mark.usefixtures("float64_enabled")


def _data(n, p, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p) + 0.5  # nonzero means, so centering matters
    y = X[:, : min(p, 5)] @ np.linspace(1.0, -1.0, min(p, 5)) + 0.5 * rng.randn(n) + 3.0
    return X, y


def _ridge_np(X, y, alpha, fit_intercept):
    if fit_intercept:
        xm, ym = X.mean(0), y.mean()
        Xc, yc = X - xm, y - ym
    else:
        xm, ym = np.zeros(X.shape[1]), 0.0
        Xc, yc = X, y
    if alpha == 0:
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0]  # minimum norm
    else:
        w = np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T @ yc)
    return w, ym - xm @ w


def test_cutoff_is_lstsqs_default():
    s = jnp.asarray([5.0, 1.0, 1e-20])
    assert float(_linear._cutoff(s, (7, 3))) == 7 * np.finfo(np.float64).eps * 5.0
    assert float(_linear._cutoff(s, (3, 9))) == 9 * np.finfo(np.float64).eps * 5.0
    s32 = jnp.asarray([2.0], jnp.float32)
    assert float(_linear._cutoff(s32, (4, 4))) == pytest.approx(4 * np.finfo(np.float32).eps * 2.0)


def test_shrink_is_sigma_over_sigma_squared_plus_alpha():
    s = np.array([3.0, 0.5, 0.0])
    a = np.array([0.0, 2.0])
    got = np.asarray(_linear._shrink(jnp.asarray(s), jnp.asarray(a)))
    want = np.array([[1 / 3.0, 1 / 0.5, 0.0], [3 / 11.0, 0.5 / 2.25, 0.0]])
    np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("shape", [(30, 6), (8, 20)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_path_matches_the_normal_equations(shape, fit_intercept):
    X, y = _data(*shape)
    alphas = np.array([0.0, 0.3, 10.0])
    coefs, b = regjax.linear.ridge_path(X, y, alphas, fit_intercept=fit_intercept)
    for i, a in enumerate(alphas):
        w, b0 = _ridge_np(X, y, a, fit_intercept)
        np.testing.assert_allclose(np.asarray(coefs[:, i]), w, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(float(b[i]), b0, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ridge_path_rank_deficient_is_the_minimum_norm_answer(dtype):
    rng = np.random.RandomState(1)
    X = rng.randn(12, 4)
    X = np.hstack([X, X]).astype(dtype)
    y = rng.randn(12).astype(dtype)
    coefs, _ = regjax.linear.ridge_path(X, y, np.array([0.0], dtype), fit_intercept=False)
    want = np.linalg.pinv(X.astype(np.float64)) @ y.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(np.asarray(coefs[:, 0], np.float64), want, atol=tol)


def _loo_np(X, y, alpha, fit_intercept):
    n = X.shape[0]
    err = []
    for i in range(n):
        keep = np.arange(n) != i
        w, b = _ridge_np(X[keep], y[keep], alpha, fit_intercept)
        err.append((y[i] - X[i] @ w - b) ** 2)
    return np.mean(err)


def _gcv_np(X, y, alpha, fit_intercept):
    n = X.shape[0]
    if fit_intercept:
        C = np.eye(n) - np.ones((n, n)) / n
        Xc = C @ X
        H = (
            Xc @ np.linalg.solve(Xc.T @ Xc + alpha * np.eye(X.shape[1]), Xc.T) @ C
            + np.ones((n, n)) / n
        )
    else:
        H = X @ np.linalg.solve(X.T @ X + alpha * np.eye(X.shape[1]), X.T)
    r = y - H @ y
    return np.mean((r / (1 - np.trace(H) / n)) ** 2)


@pytest.mark.parametrize("shape", [(25, 6), (10, 18)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_cv_loo_and_gcv_match_their_definitions(shape, fit_intercept):
    X, y = _data(*shape, seed=2)
    alphas = np.array([0.05, 1.0, 30.0])
    res = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept)
    want = [_loo_np(X, y, a, fit_intercept) for a in alphas]
    np.testing.assert_allclose(np.asarray(res.cv_errors), want, rtol=1e-8)
    best = int(np.argmin(want))
    assert int(res.best_index) == best and float(res.alpha) == alphas[best]
    w, b = _ridge_np(X, y, alphas[best], fit_intercept)
    np.testing.assert_allclose(np.asarray(res.coef), w, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(float(res.intercept), b, rtol=1e-8, atol=1e-10)
    gcv = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept, mode="gcv")
    want_g = [_gcv_np(X, y, a, fit_intercept) for a in alphas]
    np.testing.assert_allclose(np.asarray(gcv.cv_errors), want_g, rtol=1e-8)


def test_ridge_cv_picks_the_first_of_tied_minimizers():
    X, y = _data(20, 4, seed=3)
    res = regjax.linear.ridge_cv(X, y, np.array([5.0, 0.1, 0.1, 5.0]))
    e = np.asarray(res.cv_errors)
    assert e[1] == e[2]
    assert int(res.best_index) == int(np.argmin(e))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_cv_on_a_rank_deficient_tall_design(fit_intercept):
    rng = np.random.RandomState(4)
    X = rng.randn(20, 3)
    X = np.hstack([X, X[:, :1] * 2.0])
    y = rng.randn(20)
    alphas = np.array([0.1, 2.0])
    res = regjax.linear.ridge_cv(X, y, alphas, fit_intercept=fit_intercept)
    want = [_loo_np(X, y, a, fit_intercept) for a in alphas]
    np.testing.assert_allclose(np.asarray(res.cv_errors), want, rtol=1e-8)


def test_center_subtracts_the_means_only_with_an_intercept():
    X, y = _data(9, 3)
    Xc, yc, xm, ym = _linear.center(jnp.asarray(X), jnp.asarray(y), True)
    np.testing.assert_allclose(np.asarray(Xc), X - X.mean(0), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(yc), y - y.mean(), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(xm), X.mean(0), rtol=1e-13)
    assert float(ym) == pytest.approx(y.mean(), rel=1e-13)
    X0, y0, xm0, ym0 = _linear.center(jnp.asarray(X), jnp.asarray(y), False)
    np.testing.assert_array_equal(np.asarray(X0), X)
    np.testing.assert_array_equal(np.asarray(y0), y)
    assert not np.any(np.asarray(xm0)) and float(ym0) == 0.0


@pytest.mark.parametrize(
    "shape",
    [
        (200, 100),
        (97, 97),
        (300, 96),
        (40, 10),
        (36, 30),
        (30, 30),
        (18, 30),
        (7, 30),
        (500, 95),
        (33, 8),
    ],
)
def test_gram_is_x_transpose_x_in_every_arrangement(shape):
    X, _ = _data(*shape, seed=5)
    np.testing.assert_allclose(
        np.asarray(_linear.gram(jnp.asarray(X))), X.T @ X, rtol=1e-12, atol=1e-10
    )


def test_xt_dot_of_a_vector_and_a_matrix():
    X, _ = _data(6, 4)
    v = np.arange(6.0)
    V = np.arange(12.0).reshape(6, 2)
    np.testing.assert_allclose(np.asarray(_linear.xt_dot(jnp.asarray(X), jnp.asarray(v))), X.T @ v)
    np.testing.assert_allclose(np.asarray(_linear.xt_dot(jnp.asarray(X), jnp.asarray(V))), X.T @ V)


@pytest.mark.parametrize("size", [50, 300])
def test_top_eigenvalue_is_exact_when_small_and_a_tight_bound_when_large(size):
    X, _ = _data(size + 20, size, seed=6)
    A = X.T @ X
    lam = np.linalg.eigvalsh(A)[-1]
    got = float(_linear.top_eigenvalue(jnp.asarray(A)))
    assert got >= lam * (1 - 1e-12)
    assert got <= lam * (1 + (1e-12 if size <= 256 else 1e-3))
    got_x = float(_linear.top_eigenvalue_of_gram(jnp.asarray(X)))
    assert lam * (1 - 1e-12) <= got_x <= lam * (1 + 1e-10)


def test_lanczos_bound_on_wide_data_bounds_the_top_eigenvalue_from_above():
    X, _ = _data(300, 400, seed=7)
    lam = np.linalg.eigvalsh(X @ X.T)[-1]
    got = float(_linear.top_eigenvalue_of_gram(jnp.asarray(X)))
    assert lam * (1 - 1e-12) <= got <= lam * (1 + 1e-3)
    bound = float(
        _linear.top_eigenvalue_bound(
            lambda v: jnp.asarray(X.T) @ (jnp.asarray(X) @ v), 400, jnp.float64
        )
    )
    assert lam * (1 - 1e-12) <= bound <= lam * (1 + 1e-3)


def test_lanczos_on_a_low_rank_operator_stops_cleanly():
    # rank 3: the Krylov space is exhausted after 3 steps, and the zero residual
    # norm must not divide
    rng = np.random.RandomState(8)
    B = rng.randn(40, 3)
    A = B @ B.T
    bound = float(_linear.top_eigenvalue_bound(lambda v: jnp.asarray(A) @ v, 40, jnp.float64))
    lam = np.linalg.eigvalsh(A)[-1]
    assert np.isfinite(bound)
    np.testing.assert_allclose(bound, lam, rtol=1e-8)


def test_gershgorin_caps_the_lanczos_bound():
    # a diagonal matrix: Gershgorin is exact, so the capped bound is too
    d = np.linspace(1.0, 2.0, 300)
    got = float(_linear.top_eigenvalue(jnp.asarray(np.diag(d))))
    assert got == pytest.approx(2.0, rel=1e-14)


def test_warn_if_uncertified_counts_misses_and_nans_and_accepts_equality():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _linear.warn_if_uncertified(np.array([1.0, 2.0]), 2.0, where="f", what="gap")
    with pytest.warns(
        RuntimeWarning,
        match=r"`f`: the gap target 2 was not reached at 2 of 3 alphas \(largest gap 5\)",
    ):
        _linear.warn_if_uncertified(np.array([1.0, 5.0, 3.0]), 2.0, where="f", what="gap")
    with pytest.warns(RuntimeWarning, match="at 1 of 2 alphas"):
        _linear.warn_if_uncertified(np.array([1.0, np.nan]), 2.0, where="f", what="gap")
    with pytest.warns(RuntimeWarning, match="target 3 was not reached at 1 of 2"):
        _linear.warn_if_uncertified(
            np.array([1.0, 2.5]), np.array([3.0, 2.0]), where="f", what="gap"
        )


def test_top_eigenvalue_is_exact_up_to_the_exact_size_limit():
    # an evenly spread spectrum, which 24 Lanczos steps do not resolve to 1e-13
    size = _linear._EXACT_EIGEN_MAX
    Q, _ = np.linalg.qr(np.random.RandomState(9).randn(size, size))
    A = (Q * np.linspace(1.0, 2.0, size)) @ Q.T
    got = float(_linear.top_eigenvalue(jnp.asarray(A)))
    assert got == pytest.approx(2.0, rel=1e-13)


def test_top_eigenvalue_of_a_large_float32_matrix_under_x64_stays_float32():
    X, _ = _data(320, 300, seed=10)
    A = jnp.asarray(X.T @ X, jnp.float32)
    got = _linear.top_eigenvalue(A)
    assert got.dtype == jnp.float32
    lam = np.linalg.eigvalsh(np.asarray(A, np.float64))[-1]
    assert lam * (1 - 1e-6) <= float(got) <= lam * (1 + 1e-3)


def test_warn_if_uncertified_is_silent_when_either_side_is_traced():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jax.jit(lambda c: _linear.warn_if_uncertified(c, 0.5, where="f", what="gap") or c)(
            jnp.ones(2)
        )
        jax.jit(lambda t: _linear.warn_if_uncertified(np.ones(2), t, where="f", what="gap") or t)(
            jnp.asarray(0.5)
        )


def _warning_location(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    uncertified = [w for w in caught if "was not reached" in str(w.message)]
    assert uncertified, [str(w.message) for w in caught]
    return uncertified[0].filename


def test_the_uncertified_warning_points_at_the_users_call():
    X, y = _data(30, 6, seed=11)
    y01 = (y > np.median(y)).astype(np.float64)
    calls = [
        lambda: regjax.linear.lasso_path(X, y, alphas=[0.01], tol=1e-14, max_iter=5),
        lambda: regjax.linear.enet_path(X, y, alphas=[0.01], tol=1e-14, max_iter=5),
        lambda: regjax.linear.logistic_path(X, y01, alphas=[0.01], tol=1e-14, max_iter=5),
        lambda: regjax.linear.group_lasso_path(
            X, y, [0, 0, 1, 1, 2, 2], alphas=[0.01], tol=1e-14, max_iter=5
        ),
    ]
    for call in calls:
        assert _warning_location(call) == __file__


def test_the_uncertified_warning_gives_the_whole_advice():
    with pytest.warns(RuntimeWarning) as record:
        _linear.warn_if_uncertified(np.array([3.0]), 2.0, where="f", what="gap")
    assert str(record[0].message) == (
        "`f`: the gap target 2 was not reached at 1 of 1 alphas (largest gap 3). The "
        "returned gaps are honest. In float32, enable float64 "
        "(`jax.config.update('jax_enable_x64', True)`) or raise `tol`; otherwise raise "
        "`max_iter`."
    )


def test_ridge_path_fits_an_intercept_by_default():
    X, y = _data(20, 4, seed=12)
    coefs, b = regjax.linear.ridge_path(X, y, [0.5])
    w, b0 = _ridge_np(X, y, 0.5, True)
    np.testing.assert_allclose(np.asarray(coefs[:, 0]), w, rtol=1e-10)
    assert float(b[0]) == pytest.approx(b0, rel=1e-10)


_RIDGE_BAD_ARGS = [
    ((np.ones((4, 2, 1)), np.ones(4), [1.0]), r"\(X="),
    ((np.ones((4, 2)), np.ones(4), [-1.0]), r"\(alphas="),
    (
        (np.ones((4, 2)), np.ones(4), 3),
        r"\(alphas=\.\.\.\)` got the int 3: .*; pass a list or "
        r"1-D array of alphas, e\.g\. `alphas=\[1\.0\]`\.",
    ),
]


@pytest.mark.parametrize("name", ["ridge_path", "ridge_cv"])
@pytest.mark.parametrize(("args", "match"), _RIDGE_BAD_ARGS)
def test_ridge_errors_name_the_function_and_give_its_own_advice(name, args, match):
    with pytest.raises((ValueError, TypeError), match=rf"`regjax\.linear\.{name}" + match):
        getattr(regjax.linear, name)(*args)


def test_top_eigenvalue_of_a_large_float32_design_under_x64_stays_float32():
    X, _ = _data(300, 400, seed=13)
    got = _linear.top_eigenvalue_of_gram(jnp.asarray(X, jnp.float32))
    assert got.dtype == jnp.float32
    lam = np.linalg.eigvalsh(
        X.astype(np.float32).astype(np.float64) @ X.T.astype(np.float32).astype(np.float64)
    )[-1]
    assert lam * (1 - 1e-5) <= float(got) <= lam * (1 + 1e-3)


def _lanczos_np(A, steps):
    """Lanczos from the same start as regjax (normal draws of jax.random.key(0)),
    transcribed in NumPy: the largest Ritz value plus its residual bound."""
    v = np.asarray(jax.random.normal(jax.random.key(0), (A.shape[0],), jnp.float64))
    v = v / np.linalg.norm(v)
    v_prev, beta_prev = np.zeros_like(v), 0.0
    alphas, betas = [], []
    for _ in range(steps):
        w = A @ v - beta_prev * v_prev
        a = v @ w
        w = w - a * v
        beta = np.linalg.norm(w)
        v_prev, v = v, (w / beta if beta > np.finfo(np.float64).tiny else np.zeros_like(w))
        beta_prev = beta
        alphas.append(a)
        betas.append(beta)
    T = np.diag(alphas) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
    theta, s = np.linalg.eigh(T)
    return theta[-1] + betas[-1] * abs(s[-1, -1])


def test_lanczos_bound_matches_a_numpy_transcription_on_an_unresolved_spectrum():
    # 300 evenly spread eigenvalues: 24 steps leave the top Ritz value short of
    # λ_max, so the residual term is what makes the result an upper bound
    size = 300
    Q, _ = np.linalg.qr(np.random.RandomState(14).randn(size, size))
    A = (Q * np.linspace(1.0, 2.0, size)) @ Q.T
    got = float(_linear.top_eigenvalue_bound(lambda v: jnp.asarray(A) @ v, size, jnp.float64))
    want = _lanczos_np(A, _linear._LANCZOS_STEPS)
    assert got == pytest.approx(want, rel=1e-10)
    assert got >= 2.0


def test_top_eigenvalue_of_gram_is_exact_up_to_the_size_limit_on_either_side():
    size = _linear._EXACT_EIGEN_MAX
    Q, _ = np.linalg.qr(np.random.RandomState(15).randn(300, size))
    # X (300 x 256) with singular values spread so that Lanczos would not be exact
    X = (Q * np.sqrt(np.linspace(1.0, 2.0, size))) @ np.linalg.qr(
        np.random.RandomState(16).randn(size, size)
    )[0]
    for M in (X, X.T):
        assert float(_linear.top_eigenvalue_of_gram(jnp.asarray(M))) == pytest.approx(
            2.0, rel=1e-13
        )


def test_top_eigenvalue_of_gram_of_a_small_wide_design():
    X, _ = _data(20, 50, seed=17)
    got = float(_linear.top_eigenvalue_of_gram(jnp.asarray(X)))
    assert got == pytest.approx(np.linalg.eigvalsh(X @ X.T)[-1], rel=1e-12)


def test_ridge_cv_fits_an_intercept_by_default():
    X, y = _data(15, 4, seed=18)
    res = regjax.linear.ridge_cv(X, y, [0.5, 5.0])
    np.testing.assert_allclose(
        np.asarray(res.cv_errors), [_loo_np(X, y, a, True) for a in (0.5, 5.0)], rtol=1e-9
    )


@pytest.mark.parametrize("shape", [(25, 6), (10, 18)])
@pytest.mark.parametrize("mode", ["loo", "gcv"])
def test_ridge_cv_on_small_singular_values(shape, mode):
    # singular values below 1: their squares must still count as kept
    X, y = _data(*shape, seed=19)
    X = 0.02 * X
    alphas = np.array([1e-5, 1e-3])
    res = regjax.linear.ridge_cv(X, y, alphas, mode=mode)
    ref = _loo_np if mode == "loo" else _gcv_np
    np.testing.assert_allclose(
        np.asarray(res.cv_errors), [ref(X, y, a, True) for a in alphas], rtol=1e-7
    )


@pytest.mark.parametrize("shape", [(25, 6), (10, 18)])
@pytest.mark.parametrize("mode", ["loo", "gcv"])
def test_ridge_cv_keeps_float32_data_in_float32_under_x64(shape, mode):
    X, y = _data(*shape, seed=20)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    alphas = np.array([0.1, 3.0], np.float32)
    res = regjax.linear.ridge_cv(X32, y32, alphas, mode=mode)
    assert res.cv_errors.dtype == res.coef.dtype == res.alpha.dtype == jnp.float32
    ref = _loo_np if mode == "loo" else _gcv_np
    want = [ref(X32.astype(np.float64), y32.astype(np.float64), float(a), True) for a in alphas]
    np.testing.assert_allclose(np.asarray(res.cv_errors), want, rtol=1e-4)
