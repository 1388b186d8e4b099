"""The duality gaps regjax.linear returns are true certificates of the returned
coefficients: recomputed in NumPy float64 from X, y and w alone, each meets
its target and equals the returned gap to float64 rounding."""

import jax
import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import lars_path

import regjax

EPS64 = np.finfo(np.float64).eps


def enet_gap_numpy(X, y, w, alpha, l1_ratio):
    """scikit-learn's elastic-net duality gap (in units of its 1/(2n) objective),
    from the residual y - Xw and the dual point Xᵀr scaled to feasibility."""
    n = X.shape[0]
    r = y - X @ w
    a1, b = n * alpha * l1_ratio, n * alpha * (1 - l1_ratio)
    dual_norm = np.max(np.abs(X.T @ r - b * w))
    s = min(1.0, a1 / dual_norm)
    primal = 0.5 * (r @ r) + a1 * np.abs(w).sum() + 0.5 * b * (w @ w)
    dual = s * (r @ y) - 0.5 * s * s * (r @ r) - 0.5 * b * s * s * (w @ w)
    return (primal - dual) / n


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_fine_diabetes_path_gaps_meet_target_and_match_numpy(l1_ratio):
    """Notebook 01's dense grid: 400 alphas at tol=1e-12, where most alphas start
    at their solution (the path is linear between knots) and skip the solve.
    Certifying those starts from extrapolated correlations let rounding build
    up along chains of skipped alphas: two lasso alphas came back at 1.03 and
    1.08 times the target, with no iteration run."""
    X, y = load_diabetes(return_X_y=True)
    X, y = X - X.mean(0), y - y.mean()
    n = len(y)
    knots = lars_path(X, y, method="lasso")[0][:-1]
    grid = np.geomspace(1.2 * knots[0], 0.5 * knots[-1], 400) / l1_ratio
    tol = 1e-12
    target = tol * (y @ y) / n
    with jax.enable_x64(True):
        alphas, W, gaps = regjax.linear.enet_path(
            X, y, grid, l1_ratio=l1_ratio, tol=tol, max_iter=50_000
        )
    alphas, W, gaps = map(np.asarray, (alphas, W, gaps))
    ref = np.array([enet_gap_numpy(X, y, W[:, i], a, l1_ratio) for i, a in enumerate(alphas)])
    assert ref.max() <= target, ref.max() / target
    assert gaps.max() <= target, gaps.max() / target
    # The primal and the dual are each about ‖y‖²/(2n); float64 evaluations of
    # their difference (sums over 442 rows) differ by a few ε·‖y‖²/n. 32 of them
    # is 0.7% of the target here.
    np.testing.assert_allclose(gaps, ref, rtol=0, atol=32 * EPS64 * (y @ y) / n)


def test_float32_gaps_are_computed_in_float64_under_x64():
    """With x64 on, a float32 path's gaps are those of its float32 coefficients
    evaluated in float64, rounded once: in float32 the primal and the dual (each
    about ‖y‖²/(2n)) cancel to 1% of a 1e-5 target."""
    X, y = load_diabetes(return_X_y=True)
    X32 = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    y32 = (y - y.mean()).astype(np.float32)
    X64, y64 = X32.astype(np.float64), y32.astype(np.float64)
    n, tol = len(y), 1e-5
    with jax.enable_x64(True):
        alphas, W, gaps = regjax.linear.lasso_path(X32, y32, n_alphas=20, tol=tol)
    assert W.dtype == gaps.dtype == np.float32
    alphas, W, gaps = (np.asarray(a, np.float64) for a in (alphas, W, gaps))
    ref = np.array([enet_gap_numpy(X64, y64, W[:, i], a, 1.0) for i, a in enumerate(alphas)])
    # float32's rounding of the gap itself, and float64's of ‖y‖²/n (as above).
    np.testing.assert_allclose(gaps, ref, rtol=1e-6, atol=32 * EPS64 * (y64 @ y64) / n)
    assert ref.max() <= tol * (y64 @ y64) / n


@pytest.mark.parametrize("x64", [False, True])
@pytest.mark.parametrize("solver", ["path", "fista"])
def test_overflowing_squares_raise(x64, solver):
    """float32 X near 1e20: ‖X‖² overflows, the step is 0 and w stays 0, while the
    gap of w = 0 at θ = 0 is finite. Under x64 that was a 'target not reached'
    warning that advised raising max_iter; it is an error that says what overflowed."""
    X = (1e20 * np.random.RandomState(0).uniform(size=(10, 3))).astype(np.float32)
    y = (np.arange(10) % 2).astype(np.float32)
    with jax.enable_x64(x64):
        for call, where in [
            (lambda: regjax.linear.enet_path(X, y, [0.1], solver=solver), "enet_path"),
            (lambda: regjax.linear.lasso_path(X, y, [0.1], solver=solver), "lasso_path"),
            (
                lambda: regjax.linear.group_lasso_path(X, y, [0, 0, 1], [0.1], solver=solver),
                "group_lasso_path",
            ),
        ]:
            with pytest.raises(ValueError, match=rf"linear\.{where}`: the squares .* float32"):
                call()


@pytest.mark.parametrize("got", [1.005, np.nan, np.inf])
def test_a_certificate_above_its_target_or_non_finite_warns(got):
    # The returned certificates are recomputed at the returned coefficients and
    # the solvers aim under the target, so any excess is a miss: no slack.
    from regjax._linear import warn_if_uncertified

    with pytest.warns(RuntimeWarning, match="not reached at 1 of 2 alphas"):
        warn_if_uncertified(np.array([0.5, got]), 1.0, where="f", what="duality gap")


def test_a_certificate_at_its_target_does_not_warn():
    from regjax._linear import warn_if_uncertified

    warn_if_uncertified(np.array([0.5, 1.0]), 1.0, where="f", what="duality gap")
