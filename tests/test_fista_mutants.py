"""FISTA's iterates, stopping rule and anchoring against a NumPy loop.

The solver's results are checked elsewhere through the certificates of the
paths that use it; a change that only slows it down (a lost restart, a wrong
momentum, an estimate used where the exact gradient belongs) still converges,
so those tests cannot see it. Here the whole trajectory is compared with a
plain NumPy transcription of the algorithm in its docstring (O'Donoghue and
Candès 2015, gradient-restart FISTA), iteration for iteration, in float64.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from regjax._fista import fista

pytestmark = pytest.mark.usefixtures("float64_enabled")


def _problem(seed=0, n=30, p=12):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, p)
    X[:, 1] = X[:, 0] + 0.1 * rng.randn(n)  # correlated columns make the restarts fire
    y = X[:, :3] @ np.array([1.5, -2.0, 0.7]) + 0.1 * rng.randn(n)
    G = X.T @ X / n
    q = X.T @ y / n
    alpha = 0.05 * np.abs(q).max()
    step = 1.0 / np.linalg.eigvalsh(G).max()
    return G, q, alpha, step


def _soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _gap_np(G, q, alpha, w, g):
    # any function of (w, grad) works as a certificate; this one is the norm of
    # the prox-gradient step, zero only at the solution
    return float(np.abs(w - _soft(w - g, alpha)).sum())


def _reference(G, q, alpha, step, x0, tol, max_iter, check_every=5, near=None):
    """A NumPy transcription of FISTA with gradient restart and block anchoring."""
    grad = lambda w: G @ w - q

    def momentum(x, z, gz, t):
        x_new = _soft(z - step * gz, step * alpha)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        diff = x_new - x
        if np.dot(z - x_new, diff) > 0:
            return x_new, x_new.copy(), 1.0
        return x_new, x_new + (t - 1) / t_new * diff, t_new

    k, x, z, t = 0, x0.copy(), x0.copy(), 1.0
    gz = grad(x0)
    gap = _gap_np(G, q, alpha, z, gz)
    history = [(k, z.copy(), gap)]
    while k < max_iter and gap > tol:
        if near is None:
            for _ in range(check_every):
                x, z, t = momentum(x, z, gz, t)
                gz = grad(z)
        else:
            anchor, g_anchor = z.copy(), gz.copy()
            for _ in range(check_every - 1):
                x, z, t = momentum(x, z, gz, t)
                gz = near(z, anchor, g_anchor)
            x, z, t = momentum(x, z, gz, t)
            gz = grad(z)
        k += check_every
        gap = _gap_np(G, q, alpha, z, gz)
        history.append((k, z.copy(), gap))
    return k, z, gz, gap, history


def _run(G, q, alpha, step, x0, tol, max_iter, check_every=5, near=None):
    Gj, qj = jnp.asarray(G), jnp.asarray(q)
    grad = lambda w: Gj @ w - qj
    prox = lambda v: jnp.sign(v) * jnp.maximum(jnp.abs(v) - step * alpha, 0.0)

    def cert(w, g):
        return jnp.abs(w - (jnp.sign(w - g) * jnp.maximum(jnp.abs(w - g) - alpha, 0.0))).sum()

    near_j = None if near is None else (lambda z, a, ga: ga + 0.9 * (Gj @ (z - a)))
    res = jax.jit(
        lambda x0: fista(
            grad, prox, cert, x0, jnp.asarray(step), jnp.asarray(tol), max_iter, check_every, near_j
        )
    )(jnp.asarray(x0))
    return res


def _near_np(G):
    # deliberately inexact (0.9 of the true change), so that the trajectory shows
    # exactly where the estimate is used and where the exact gradient is
    return lambda z, a, ga: ga + 0.9 * (G @ (z - a))


@pytest.mark.parametrize("max_iter", [5, 10, 35, 60])
@pytest.mark.parametrize("anchored", [False, True])
def test_trajectory_matches_numpy_iteration_for_iteration(max_iter, anchored):
    G, q, alpha, step = _problem()
    x0 = np.zeros(G.shape[0])
    near = _near_np(G) if anchored else None
    k, z, gz, gap, _ = _reference(G, q, alpha, step, x0, -1.0, max_iter, near=near)
    res = _run(G, q, alpha, step, x0, -1.0, max_iter, near=near)
    assert int(res.n_iter) == k == max_iter
    assert res.n_iter.dtype == jnp.int32  # an iteration count, as the paths report it
    np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(res.grad), gz, rtol=1e-10, atol=1e-12)
    # the returned gradient is the exact one at the returned point
    np.testing.assert_allclose(np.asarray(res.grad), G @ z - q, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(float(res.gap), gap, rtol=1e-9, atol=1e-14)


def test_restarts_fire_and_matter_on_this_problem():
    # guards the previous test's power: without the restart the NumPy loop
    # takes a different path here, so a solver that never restarts cannot match
    G, q, alpha, step = _problem()
    x0 = np.zeros(G.shape[0])
    _k, z, _, _, _ = _reference(G, q, alpha, step, x0, -1.0, 60)
    fired = []

    def momentum_no_restart(max_iter):
        x, zz, t = x0.copy(), x0.copy(), 1.0
        for _ in range(max_iter):
            gz = G @ zz - q
            x_new = _soft(zz - step * gz, step * alpha)
            fired.append(np.dot(zz - x_new, x_new - x) > 0)
            t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
            zz = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
        return zz

    assert np.abs(momentum_no_restart(60) - z).max() > 1e-6
    assert any(fired)


@pytest.mark.parametrize("anchored", [False, True])
def test_stops_at_the_first_check_that_meets_tol_and_returns_that_point(anchored):
    G, q, alpha, step = _problem(seed=1)
    x0 = np.zeros(G.shape[0])
    near = _near_np(G) if anchored else None
    *_, history = _reference(G, q, alpha, step, x0, -1.0, 400, near=near)
    gaps = np.array([h[2] for h in history])
    # a tolerance between two checks' certificates, so the stop is decided by it
    i = int(np.argmax(gaps < 1e-4 * gaps[0]))
    assert i > 2
    tol = 0.5 * (gaps[i] + gaps[:i].min())
    k, z, _, _gap, _ = _reference(G, q, alpha, step, x0, tol, 400, near=near)
    res = _run(G, q, alpha, step, x0, tol, 400, near=near)
    assert int(res.n_iter) == k == history[i][0]
    assert float(res.gap) <= tol < gaps[:i].min()
    np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-10, atol=1e-12)


def test_a_gap_equal_to_tol_stops():
    G, q, alpha, step = _problem()
    x0 = np.zeros(G.shape[0])
    *_, history = _reference(G, q, alpha, step, x0, -1.0, 20)
    tol = history[2][2]  # exactly the certificate of the second check
    res = _run(G, q, alpha, step, x0, tol, 400)
    assert int(res.n_iter) == history[2][0] == 10


def test_a_start_that_meets_tol_runs_no_iteration():
    G, q, alpha, step = _problem()
    x0 = np.zeros(G.shape[0])
    gap0 = _gap_np(G, q, alpha, x0, G @ x0 - q)
    res = _run(G, q, alpha, step, x0, gap0, 400)
    assert int(res.n_iter) == 0
    np.testing.assert_array_equal(np.asarray(res.x), x0)
    assert float(res.gap) == pytest.approx(gap0, rel=1e-12)


def test_max_iter_is_rounded_up_to_a_whole_block():
    G, q, alpha, step = _problem()
    x0 = np.zeros(G.shape[0])
    res = _run(G, q, alpha, step, x0, -1.0, 12, check_every=5)
    assert int(res.n_iter) == 15
    k, z, *_ = _reference(G, q, alpha, step, x0, -1.0, 12, check_every=5)
    assert k == 15
    np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("check_every", [1, 3])
def test_other_check_cadences_match_numpy(check_every):
    G, q, alpha, step = _problem(seed=2)
    x0 = np.zeros(G.shape[0])
    for near in (None, _near_np(G)):
        if near is not None and check_every == 1:
            continue
        k, z, *_ = _reference(G, q, alpha, step, x0, -1.0, 24, check_every, near)
        res = _run(G, q, alpha, step, x0, -1.0, 24, check_every, near)
        assert int(res.n_iter) == k
        np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-10, atol=1e-12)


def test_a_pytree_of_parameters_sums_the_restart_test_over_leaves():
    # two leaves: the restart test must add both leaves' inner products
    G, q, alpha, step = _problem()
    p = G.shape[0]
    Gj, qj = jnp.asarray(G), jnp.asarray(q)
    split = lambda w: (w[:5], w[5:])
    join = lambda t: jnp.concatenate(t)
    grad = lambda t: split(Gj @ join(t) - qj)
    prox = lambda t: jax.tree.map(
        lambda v: jnp.sign(v) * jnp.maximum(jnp.abs(v) - step * alpha, 0.0), t
    )

    def cert(t, g):
        w, gw = join(t), join(g)
        return jnp.abs(w - jnp.sign(w - gw) * jnp.maximum(jnp.abs(w - gw) - alpha, 0.0)).sum()

    x0 = np.zeros(p)
    res = fista(grad, prox, cert, split(jnp.asarray(x0)), jnp.asarray(step), jnp.asarray(-1.0), 40)
    _k, z, *_ = _reference(G, q, alpha, step, x0, -1.0, 40)
    np.testing.assert_allclose(np.asarray(join(res.x)), z, rtol=1e-10, atol=1e-12)


def test_momentum_counter_takes_the_step_dtype():
    G, q, alpha, step = _problem()
    with jax.enable_x64(False):
        Gj, qj = jnp.asarray(G, jnp.float32), jnp.asarray(q, jnp.float32)
        res = fista(
            lambda w: Gj @ w - qj,
            lambda v: jnp.sign(v) * jnp.maximum(jnp.abs(v) - jnp.float32(step * alpha), 0.0),
            lambda w, g: jnp.abs(g).sum(),
            jnp.zeros(G.shape[0], jnp.float32),
            jnp.float32(step),
            jnp.float32(-1.0),
            10,
        )
        assert res.x.dtype == jnp.float32
        assert res.gap.dtype == jnp.float32


def test_a_step_that_does_not_move_does_not_restart_the_momentum():
    # Soft thresholding can return the same point twice in a row away from the
    # solution (x_{k+1} = x_k, z_k != x_k): the restart test's inner product is
    # then exactly 0, and the momentum must carry on (a restart needs > 0).
    # This 2-feature problem, found by search, does that within its first steps.
    G = np.array([[1.53703876, 0.96239672], [0.96239672, 0.81575077]])
    q = np.array([-1.4148261, -0.24602946])
    alpha, step = 1.1527504535868844, 0.453690560942096
    x0 = np.array([-3.26723967, 6.23574116])
    differs = False
    for max_iter in (5, 10, 15, 20, 30, 40):
        _k, z, *_ = _reference(G, q, alpha, step, x0, -1.0, max_iter)
        res = _run(G, q, alpha, step, x0, -1.0, max_iter)
        np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-10, atol=1e-12)
        differs |= (
            np.abs(z - _reference_restart_at_zero(G, q, alpha, step, x0, max_iter)).max() > 1e-6
        )
    assert differs  # the problem really tells the two rules apart


def _reference_restart_at_zero(G, q, alpha, step, x0, max_iter):
    x, z, t = x0.copy(), x0.copy(), 1.0
    for _ in range(-(-max_iter // 5) * 5):
        x_new = _soft(z - step * (G @ z - q), step * alpha)
        t_new = (1 + np.sqrt(1 + 4 * t * t)) / 2
        diff = x_new - x
        restart = np.dot(z - x_new, diff) >= 0
        z = x_new if restart else x_new + (t - 1) / t_new * diff
        x, t = x_new, (1.0 if restart else t_new)
    return z


def test_a_float32_problem_under_x64_keeps_float32_throughout():
    # the momentum counter takes the step's dtype, not the default float (float64 here)
    G, q, alpha, step = _problem()
    Gj, qj = jnp.asarray(G, jnp.float32), jnp.asarray(q, jnp.float32)
    t = jnp.float32(step * alpha)
    res = jax.jit(
        lambda x0: fista(
            lambda w: Gj @ w - qj,
            lambda v: jnp.sign(v) * jnp.maximum(jnp.abs(v) - t, 0.0),
            lambda w, g: jnp.abs(g).sum(),
            x0,
            jnp.float32(step),
            jnp.float32(-1.0),
            10,
        )
    )(jnp.zeros(G.shape[0], jnp.float32))
    assert res.x.dtype == jnp.float32 and res.grad.dtype == jnp.float32
    _k, z, *_ = _reference(G, q, alpha, step, np.zeros(G.shape[0]), -1.0, 10)
    np.testing.assert_allclose(np.asarray(res.x), z, rtol=1e-4, atol=1e-5)
