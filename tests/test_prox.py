"""Tests of regjax.prox against the definition prox_f(v) = argmin_x f(x) + ½‖x − v‖²
(solved independently with scipy, and through the optimality conditions), against
jaxopt.prox, NumPy references, and for jit/vmap/grad behaviour and bad input."""

from __future__ import annotations

import functools

import chex
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings

import regjax

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=20)

# name -> (prox(x, t), penalty(x) such that prox is the prox of t * penalty).
# Elastic net takes two strengths; it is written here with l2 = t / 2 and l1 = t.
OPS = {
    "l1": (regjax.prox.l1, regjax.penalties.l1),
    "l2": (regjax.prox.l2, regjax.penalties.l2),
    "elastic_net": (
        lambda x, t, **kw: regjax.prox.elastic_net(x, t, jax.tree.map(lambda s: s / 2, t), **kw),
        lambda x: regjax.penalties.l1(x) + 0.5 * regjax.penalties.l2(x),
    ),
    "group_lasso": (regjax.prox.group_lasso, regjax.penalties.group_lasso),
    "group_lasso_axis1": (
        functools.partial(regjax.prox.group_lasso, axis=1),
        functools.partial(regjax.penalties.group_lasso, axis=1),
    ),
    "group_lasso_ids": (
        functools.partial(regjax.prox.group_lasso, group_ids=[2, 0, 2, 5]),
        functools.partial(regjax.penalties.group_lasso, group_ids=[2, 0, 2, 5]),
    ),
    "group_lasso_whole": (
        functools.partial(regjax.prox.group_lasso, axis=None),
        functools.partial(regjax.penalties.group_lasso, axis=None),
    ),
    "sparse_group_lasso": (
        functools.partial(regjax.prox.group_lasso, l1_ratio=0.3),
        functools.partial(regjax.penalties.group_lasso, l1_ratio=0.3),
    ),
    "nuclear": (regjax.prox.nuclear, regjax.penalties.nuclear),
}
NAMES = list(OPS)
# Operators whose prox is 0 on a neighbourhood of 0 when t > 0.
SPARSE = [n for n in NAMES if n != "l2"]
# group_ids fix the number of rows (4), so that variant only takes (4, n) leaves.
ANY_SHAPE = [n for n in NAMES if n != "group_lasso_ids"]


def _rand(seed: int, shape=(4, 3), scale: float = 1.0, dtype=np.float64) -> np.ndarray:
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype(dtype)


# --------------------------------------------------------------------------------------
# The definition, solved independently
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("t", [0.6])
def test_is_the_argmin_of_the_definition(name, t):
    """F(x) = t·f(x) + ½‖x − v‖² is 1-strongly convex, so for any point y,
    ‖y − x*‖² ≤ 2(F(y) − F(x*)). Minimize F with scipy from v; the prox must do
    at least as well, and every scipy point certifies how close it is."""
    prox, pen = OPS[name]
    with jax.enable_x64(True):
        v = _rand(7, shape=(4, 3))
        p = np.asarray(prox(jnp.asarray(v), t))

        @jax.jit
        def objective(flat):
            x = flat.reshape(v.shape)
            return t * pen(x) + 0.5 * jnp.sum((x - v) ** 2)

        f_and_g = jax.jit(jax.value_and_grad(objective))
        res = scipy.optimize.minimize(
            lambda z: tuple(np.asarray(a, np.float64) for a in f_and_g(jnp.asarray(z))),
            v.ravel(),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12},
        )
        res2 = scipy.optimize.minimize(
            lambda z: float(objective(jnp.asarray(z))),
            res.x,
            method="Powell",
            options={"xtol": 1e-10, "ftol": 1e-15, "maxfev": 40000},
        )
        f_p = float(objective(jnp.asarray(p.ravel())))
        for x_s in (res.x, res2.x):
            f_s = float(objective(jnp.asarray(x_s)))
            assert f_p <= f_s + 1e-12
            gap = 2 * (f_s - f_p)
            assert np.sum((p.ravel() - x_s) ** 2) <= gap + 1e-12
        np.testing.assert_allclose(p.ravel(), res2.x, atol=1e-3)
        # Random perturbations never do better either.
        rng = np.random.default_rng(0)
        for _ in range(20):
            y = p.ravel() + 1e-3 * rng.normal(size=p.size)
            assert f_p <= float(objective(jnp.asarray(y))) + 1e-13


def test_l1_optimality_and_numpy_loop():
    with jax.enable_x64(True):
        v = _rand(1, shape=(50,), scale=2.0)
        t = 0.8
        p = np.asarray(regjax.prox.l1(jnp.asarray(v), t))
        ref = np.empty_like(v)
        for i, vi in enumerate(v):  # a scalar loop, written from the definition
            ref[i] = vi - t if vi > t else (vi + t if vi < -t else 0.0)
        np.testing.assert_allclose(p, ref, rtol=0, atol=1e-15)
        # 0 ∈ t·∂|x| + x − v
        nz = p != 0
        np.testing.assert_allclose(v[nz] - p[nz], t * np.sign(p[nz]), atol=1e-14)
        assert np.all(np.abs(v[~nz]) <= t)
        assert nz.any() and (~nz).any()


def test_elastic_net_optimality():
    with jax.enable_x64(True):
        v = _rand(2, shape=(40,), scale=2.0)
        a, b = 0.7, 0.4
        p = np.asarray(regjax.prox.elastic_net(jnp.asarray(v), a, b))
        nz = p != 0
        # 0 ∈ a·∂|x| + 2b·x + x − v
        np.testing.assert_allclose(v[nz] - p[nz] - 2 * b * p[nz], a * np.sign(p[nz]), atol=1e-14)
        assert np.all(np.abs(v[~nz]) <= a)
        assert nz.any() and (~nz).any()


@pytest.mark.parametrize("l1_ratio", [0.0, 0.4])
def test_group_lasso_optimality(l1_ratio):
    """0 ∈ t·r·∂‖x‖₁ + t(1−r)√|g|·∂‖x_g‖ + x − v, group by group (rows)."""
    with jax.enable_x64(True):
        v = _rand(3, shape=(30, 4))
        v[::3] *= 0.1  # some rows small enough to be zeroed
        t = 0.5
        p = np.asarray(regjax.prox.group_lasso(jnp.asarray(v), t, l1_ratio=l1_ratio))
        c = t * (1 - l1_ratio) * np.sqrt(v.shape[1])
        tr = t * l1_ratio
        zero_rows = 0
        for vg, xg in zip(v, p):
            norm = np.linalg.norm(xg)
            if norm == 0:
                zero_rows += 1
                soft = np.sign(vg) * np.maximum(np.abs(vg) - tr, 0)
                assert np.linalg.norm(soft) <= c + 1e-12
                continue
            nz = xg != 0
            resid = vg - xg - c * xg / norm
            np.testing.assert_allclose(resid[nz], tr * np.sign(xg[nz]), atol=1e-12)
            assert np.all(np.abs(resid[~nz]) <= tr + 1e-12)
        assert 0 < zero_rows < v.shape[0]


def test_group_lasso_group_ids_and_axes_match_a_numpy_loop():
    with jax.enable_x64(True):
        v = _rand(4, shape=(3, 5))
        ids = np.array([1, 0, 1, 3, 0])
        t = 0.4
        p = np.asarray(regjax.prox.group_lasso(jnp.asarray(v), t, axis=1, group_ids=ids))
        ref = np.zeros_like(v)
        for g in np.unique(ids):
            cols = ids == g
            block = v[:, cols]
            cut = t * np.sqrt(block.size)
            norm = np.linalg.norm(block)
            ref[:, cols] = block * max(0.0, 1 - cut / norm)
        np.testing.assert_allclose(p, ref, rtol=1e-13, atol=1e-15)

        # Groups along axis 2 of a 3-D leaf.
        w = _rand(5, shape=(2, 3, 4))
        p3 = np.asarray(regjax.prox.group_lasso(jnp.asarray(w), t, axis=2))
        for k in range(4):
            sl = w[:, :, k]
            scale = max(0.0, 1 - t * np.sqrt(sl.size) / np.linalg.norm(sl))
            np.testing.assert_allclose(p3[:, :, k], sl * scale, rtol=1e-13)


def _svt_numpy(v: np.ndarray, t: float) -> np.ndarray:
    u, s, vt = np.linalg.svd(v, full_matrices=False)
    return (u * np.maximum(s - t, 0)) @ vt


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8)])
def test_nuclear_matches_numpy_svd_and_is_low_rank(shape):
    with jax.enable_x64(True):
        v = _rand(6, shape=shape, scale=1.0)
        s = np.linalg.svd(v, compute_uv=False)
        t = float(np.mean(s[1:3]))  # cuts all but the top one or two singular values
        p = np.asarray(regjax.prox.nuclear(jnp.asarray(v), t))
        np.testing.assert_allclose(p, _svt_numpy(v, t), rtol=1e-12, atol=1e-13)
        sp = np.linalg.svd(p, compute_uv=False)
        np.testing.assert_allclose(sp[: len(s)], np.maximum(s - t, 0), atol=1e-12)
        assert np.linalg.matrix_rank(p, tol=1e-10) == int(np.sum(s > t)) < min(shape)
        # Optimality: (v − p)/t ∈ ∂‖p‖_*: U₁ᵀGV₁ = I, and G's spectral norm ≤ 1.
        g = (v - p) / t
        u, sv, vt = np.linalg.svd(p)
        r = int(np.sum(sv > 1e-10))
        np.testing.assert_allclose(u[:, :r].T @ g @ vt[:r].T, np.eye(r), atol=1e-10)
        assert np.linalg.norm(g, 2) <= 1 + 1e-10
        # A threshold above σ_max gives exactly zero.
        z = np.asarray(regjax.prox.nuclear(jnp.asarray(v), float(s[0]) + 1e-3))
        assert np.all(z == 0)


# --------------------------------------------------------------------------------------
# jaxopt
# --------------------------------------------------------------------------------------

jaxopt_marks = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@jaxopt_marks
def test_l1_and_elastic_net_match_jaxopt():
    from jaxopt import prox as jp

    with jax.enable_x64(True):
        x = {"a": jnp.asarray(_rand(8, (5, 4), 2.0)), "b": jnp.asarray(_rand(9, (7,), 2.0))}
        chex.assert_trees_all_close(regjax.prox.l1(x, 0.6), jp.prox_lasso(x, 0.6), rtol=1e-14)
        # jaxopt: l1reg * (‖y‖₁ + γ·½‖y‖²) -> regjax: l1 = l1reg, l2 = l1reg·γ/2.
        lam, gamma = 0.6, 1.5
        chex.assert_trees_all_close(
            regjax.prox.elastic_net(x, lam, lam * gamma / 2),
            jp.prox_elastic_net(x, (lam, gamma)),
            rtol=1e-14,
        )


@jaxopt_marks
def test_l2_matches_jaxopt_ridge():
    from jaxopt import prox as jp

    with jax.enable_x64(True):
        x = jnp.asarray(_rand(10, (6,)))
        # jaxopt.prox_ridge(x, λ) computes x / (1 + λ), the prox of λ·½‖y‖² (its
        # docstring omits the ½); regjax.prox.l2(x, s) is the prox of s·‖y‖², so λ = 2s.
        s = 0.35
        chex.assert_trees_all_close(regjax.prox.l2(x, s), jp.prox_ridge(x, 2 * s), rtol=1e-14)


@jaxopt_marks
@pytest.mark.parametrize("axis", [0, 1, None])
def test_group_lasso_matches_jaxopt(axis):
    from jaxopt import prox as jp

    with jax.enable_x64(True):
        v = jnp.asarray(_rand(11, (6, 4)))
        v = v.at[1].multiply(0.05).at[:, 2].multiply(0.05)
        t = 0.3
        ours = regjax.prox.group_lasso(v, t, axis=axis)
        if axis is None:
            ref = jp.prox_group_lasso(v, t * np.sqrt(v.size))
        else:
            moved = jnp.moveaxis(v, axis, 0)
            size = moved[0].size
            ref = jnp.moveaxis(
                jax.vmap(jp.prox_group_lasso, in_axes=(0, None))(moved, t * np.sqrt(size)),
                0,
                axis,
            )
        chex.assert_trees_all_close(ours, ref, rtol=1e-13, atol=1e-15)
        if axis is not None:
            assert bool(jnp.any(jnp.all(ours == 0, axis=1 - axis)))


# --------------------------------------------------------------------------------------
# Pytrees: per-leaf strengths, masks
# --------------------------------------------------------------------------------------


def _params():
    return {
        "dense": {
            "kernel": jnp.asarray(_rand(12, (4, 3), dtype=np.float32)),
            "bias": jnp.asarray(_rand(13, (3,), dtype=np.float32)),
        },
        "out": {"kernel": jnp.asarray(_rand(14, (3, 2), dtype=np.float32))},
    }


@pytest.mark.parametrize("name", ANY_SHAPE)
def test_per_leaf_strengths_equal_leafwise_calls(name):
    prox, _ = OPS[name]
    params = {"dense": {"kernel": _params()["dense"]["kernel"]}, "out": _params()["out"]}
    strengths = {"dense": 0.2, "out": {"kernel": jnp.float32(0.9)}}  # a prefix pytree
    got = prox(params, strengths)
    want = {
        "dense": {"kernel": prox(params["dense"]["kernel"], 0.2)},
        "out": {"kernel": prox(params["out"]["kernel"], jnp.float32(0.9))},
    }
    chex.assert_trees_all_close(got, want, rtol=1e-6)
    # Different strengths really differ.
    assert not np.allclose(got["out"]["kernel"], prox(params["out"]["kernel"], 0.2))


@pytest.mark.parametrize("name", ANY_SHAPE)
def test_mask_leaves_other_leaves_unchanged(name):
    prox, _ = OPS[name]
    params = _params()
    masked = prox(params, 0.5, mask=regjax.masks.weights_only)
    assert masked["dense"]["bias"] is params["dense"]["bias"]
    chex.assert_trees_all_close(masked["dense"]["kernel"], prox(params["dense"]["kernel"], 0.5))
    chex.assert_trees_all_close(masked["out"]["kernel"], prox(params["out"]["kernel"], 0.5))
    flags = {"dense": {"kernel": False, "bias": False}, "out": True}
    masked = prox(params, 0.5, mask=flags)
    assert masked["dense"]["kernel"] is params["dense"]["kernel"]
    assert not np.allclose(masked["out"]["kernel"], params["out"]["kernel"])


def test_integer_leaf_outside_mask_passes_through():
    params = {"w": jnp.ones((2, 2)), "step": jnp.array(3)}
    out = regjax.prox.l1(params, 0.5, mask={"w": True, "step": False})
    assert out["step"] is params["step"]
    np.testing.assert_array_equal(out["w"], 0.5 * np.ones((2, 2)))


# --------------------------------------------------------------------------------------
# jit, vmap, grad, dtypes
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ANY_SHAPE)
def test_jit_equals_eager(name):
    prox, _ = OPS[name]
    params = _params()
    params = {"dense": {"kernel": params["dense"]["kernel"]}, "out": params["out"]}
    eager = prox(params, 0.4)
    jitted = jax.jit(prox)(params, jnp.float32(0.4))
    chex.assert_trees_all_close(eager, jitted, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_threshold_equals_loop_and_compiles_once(name):
    prox, _ = OPS[name]
    x = jnp.asarray(_rand(15, (4, 3), dtype=np.float32))
    traces = []

    def fn(t):
        traces.append(None)
        return prox(x, t)

    batched = jax.jit(jax.vmap(fn))
    grid = jnp.linspace(0.0, 2.0, 7, dtype=jnp.float32)
    out = batched(grid)
    want = jnp.stack([prox(x, float(t)) for t in grid])
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    out2 = batched(grid[::-1] * 0.5)
    np.testing.assert_allclose(out2[0], prox(x, float(grid[-1] * 0.5)), rtol=1e-5, atol=1e-6)
    assert len(traces) == 1
    # The grid spans identity (t = 0) to heavy shrinkage.
    np.testing.assert_allclose(out[0], x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("t", [0.0, 0.5])
def test_jacobian_at_zero_is_finite(name, t):
    prox, _ = OPS[name]
    x0 = jnp.zeros((4, 3), jnp.float32)
    f = lambda x: prox(x, t)
    jf = jax.jit(jax.jacfwd(f))(x0).reshape(12, 12)
    jr = jax.jit(jax.jacrev(f))(x0).reshape(12, 12)
    assert bool(jnp.all(jnp.isfinite(jf))) and bool(jnp.all(jnp.isfinite(jr)))
    np.testing.assert_allclose(jf, jr, atol=1e-6)
    if t == 0.0:  # the identity map
        np.testing.assert_allclose(jf, np.eye(12), atol=1e-6)
    elif name in SPARSE:  # zero on a neighbourhood of 0
        np.testing.assert_allclose(jf, 0, atol=0)
    # Also the derivative with respect to the threshold.
    dt = jax.grad(lambda s: jnp.sum(prox(x0, s)))(jnp.float32(t))
    assert bool(jnp.isfinite(dt))


def test_nuclear_jacobian_matches_finite_differences_at_repeated_singular_values():
    with jax.enable_x64(True):
        rng = np.random.default_rng(16)
        q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        for v in (2.0 * np.eye(4), np.diag([2.0, 2.0, 0.3, 0.3]) @ q, _rand(17, (5, 3))):
            v = jnp.asarray(v)
            f = jax.jit(lambda x: regjax.prox.nuclear(x, 1.0))
            jf = jax.jit(jax.jacfwd(f))(v)
            jr = jax.jit(jax.jacrev(f))(v)
            np.testing.assert_allclose(jf, jr, atol=1e-12)
            for _ in range(3):
                d = jnp.asarray(rng.normal(size=v.shape))
                eps = 1e-6
                fd = (f(v + eps * d) - f(v - eps * d)) / (2 * eps)
                np.testing.assert_allclose(jnp.tensordot(jf, d, axes=2), fd, rtol=1e-6, atol=1e-7)


def test_jacobians_match_finite_differences_at_a_generic_point():
    with jax.enable_x64(True):
        v = jnp.asarray(_rand(18, (4, 3), scale=1.5))
        d = jnp.asarray(_rand(19, (4, 3)))
        for name in NAMES:
            prox, _ = OPS[name]
            f = lambda x, prox=prox: prox(x, 0.4)
            eps = 1e-7
            fd = (f(v + eps * d) - f(v - eps * d)) / (2 * eps)
            _, jvp = jax.jvp(f, (v,), (d,))
            np.testing.assert_allclose(jvp, fd, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_half_precision_keeps_dtype(name, dtype):
    prox, _ = OPS[name]
    x32 = jnp.asarray(_rand(20, (4, 3), dtype=np.float32))
    out = prox(x32.astype(dtype), 0.3)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.astype(jnp.float32), prox(x32, 0.3), atol=0.05)


# --------------------------------------------------------------------------------------
# Properties (hypothesis, derandomized)
# --------------------------------------------------------------------------------------


@functools.cache
def _jitted(name):
    return jax.jit(OPS[name][0])


@pytest.mark.parametrize("name", NAMES)
@HYP
@given(
    seed=st.integers(0, 2**31 - 1),
    t=st.floats(0.0, 3.0),
    scale=st.sampled_from([0.1, 1.0, 5.0]),
)
def test_firmly_nonexpansive(name, seed, t, scale):
    """‖p(x) − p(y)‖² ≤ ⟨p(x) − p(y), x − y⟩ for the prox of any convex function."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        x = scale * rng.normal(size=(4, 3))
        y = x + rng.normal(size=(4, 3)) * rng.choice([1e-3, 1.0])
        prox = _jitted(name)
        px, py = np.asarray(prox(jnp.asarray(x), t)), np.asarray(prox(jnp.asarray(y), t))
        dp = px - py
        assert np.sum(dp * dp) <= np.sum(dp * (x - y)) + 1e-12


@HYP
@given(seed=st.integers(0, 2**31 - 1), t=st.floats(0.0, 3.0))
def test_moreau_identity(seed, t):
    """v = prox_{tf}(v) + Π(v), with Π the projection onto t·(unit ball of the dual norm):
    ℓ∞ for l1, per-group ℓ2 for group lasso, spectral norm for nuclear."""
    with jax.enable_x64(True):
        v = 2 * np.random.default_rng(seed).normal(size=(5, 4))
        p_l1 = np.asarray(regjax.prox.l1(jnp.asarray(v), t))
        np.testing.assert_allclose(v, p_l1 + np.clip(v, -t, t), atol=1e-13)

        c = t * np.sqrt(v.shape[1])
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        proj = v * np.minimum(1, c / np.maximum(norms, 1e-300))
        p_g = np.asarray(regjax.prox.group_lasso(jnp.asarray(v), t))
        np.testing.assert_allclose(v, p_g + proj, atol=1e-12)

        u, s, vt = np.linalg.svd(v, full_matrices=False)
        p_n = np.asarray(regjax.prox.nuclear(jnp.asarray(v), t))
        np.testing.assert_allclose(v, p_n + (u * np.minimum(s, t)) @ vt, atol=1e-12)


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: regjax.prox.l1(x, -0.5), r"`regjax.prox.l1\(threshold=...\)` must be finite"),
        (lambda x: regjax.prox.l2(x, -1.0), r"`regjax.prox.l2\(strength=...\)`"),
        (lambda x: regjax.prox.elastic_net(x, 0.1, -1.0), r"`regjax.prox.elastic_net\(l2=...\)`"),
        (lambda x: regjax.prox.elastic_net(x, -0.1, 1.0), r"`regjax.prox.elastic_net\(l1=...\)`"),
        (lambda x: regjax.prox.nuclear(x, -2.0), r"`regjax.prox.nuclear\(threshold=...\)`"),
        (
            lambda x: regjax.prox.group_lasso(x, {"w": 0.1, "b": -0.2}),
            r"`regjax.prox.group_lasso\(threshold=...\)` must be finite and >= 0; got -0.2",
        ),
        (lambda x: regjax.prox.l1(x, float("nan")), r"`regjax.prox.l1\(threshold=...\)`"),
        (lambda x: regjax.prox.l1(x, np.inf), r"`regjax.prox.l1\(threshold=...\)`"),
        (
            lambda x: regjax.prox.group_lasso(x, 0.1, l1_ratio=1.5),
            r"`regjax.prox.group_lasso\(l1_ratio=...\)` must be in \[0, 1\]; got 1.5",
        ),
        (
            lambda x: regjax.prox.group_lasso(x, 0.1, l1_ratio=-0.1),
            r"`regjax.prox.group_lasso\(l1_ratio=...\)` must be in \[0, 1\]",
        ),
        (
            lambda x: regjax.prox.group_lasso(x["w"], 0.1, group_ids=[0, 1]),
            r"`regjax.prox.group_lasso\(group_ids=...\)` has 2 ids but leaf <root> has 3",
        ),
        (
            lambda x: regjax.prox.group_lasso(x, 0.1, group_ids=[0, 1, -1]),
            r"`regjax.prox.group_lasso\(group_ids=...\)` must be >= 0",
        ),
        (
            lambda x: regjax.prox.group_lasso(x, 0.1, axis=3),
            r"`regjax.prox.group_lasso\(axis=...\)` is 3, out of range",
        ),
        (
            lambda x: regjax.prox.nuclear(x, 0.1),
            r"`regjax.prox.nuclear\(x=...\)`: leaf b has shape \(3,\)",
        ),
        (
            lambda x: regjax.prox.l1({"w": jnp.ones(3, jnp.int32)}, 0.1),
            r"`regjax.prox.l1\(x=...\)`: leaf w has dtype int32",
        ),
        (
            lambda x: regjax.prox.l1(x, 0.1, mask={"w": True}),
            r"`regjax.prox.l1\(mask=...\)` must have the structure of the params",
        ),
        (
            lambda x: regjax.prox.l1(x, {"w": 0.1, "c": 0.2}),
            r"`regjax.prox.l1\(threshold=...\)` must be a scalar, or a pytree",
        ),
    ],
)
def test_bad_input_raises_naming_the_call_and_argument(call, message):
    x = {"w": jnp.ones((3, 2)), "b": jnp.ones(3)}
    with pytest.raises(ValueError, match=message):
        call(x)


@pytest.mark.parametrize("bad", [True, "0.1", None])
def test_non_numeric_threshold_raises(bad):
    with pytest.raises((TypeError, ValueError), match=r"regjax.prox.l1\(threshold=...\)"):
        regjax.prox.l1(jnp.ones(3), bad)


def test_traced_group_ids_raise():
    with pytest.raises(TypeError, match=r"`regjax.prox.group_lasso\(group_ids=...\)` must be"):
        jax.jit(lambda ids: regjax.prox.group_lasso(jnp.ones(3), 0.1, group_ids=ids))(
            jnp.array([0, 0, 1])
        )


@pytest.mark.parametrize("name", ["l1", "l2", "group_lasso", "nuclear"])
def test_traced_negative_threshold_reported_by_checkify_under_vmap(name):
    prox, _ = OPS[name]
    x = jnp.asarray(_rand(21, (3, 3), dtype=np.float32))
    objective = lambda t: jnp.sum(prox(x, t))
    grid = jnp.array([0.5, 0.1, -1.0, 0.2], jnp.float32)
    err, out = jax.jit(jax.vmap(regjax.checks.checkify(objective)))(grid)
    msg = err.get()
    arg = "strength" if name == "l2" else "threshold"
    assert msg is not None and "at mapped index 2" in msg
    assert f"`regjax.prox.{name}({arg}=...)` must be finite and >= 0" in msg
    assert "index 0" not in msg and "index 1" not in msg
    np.testing.assert_allclose(out[0], objective(0.5), rtol=1e-6)
    # Good grids report nothing, and without checkify no check is emitted.
    err, _ = jax.vmap(regjax.checks.checkify(objective))(jnp.abs(grid))
    assert err.get() is None
    np.testing.assert_allclose(jax.vmap(objective)(grid)[0], objective(0.5), rtol=1e-6)


def test_traced_l1_ratio_reported_by_checkify():
    x = jnp.ones((3, 2))
    fn = lambda r: jnp.sum(regjax.prox.group_lasso(x, 0.1, l1_ratio=r))
    err, _ = jax.vmap(regjax.checks.checkify(fn))(jnp.array([0.2, 1.3], jnp.float32))
    assert "at mapped index 1" in err.get() and "l1_ratio=...)" in err.get()


def _np_soft(v, t):
    out = np.empty_like(v)
    for i, a in enumerate(v):
        if np.isnan(a):
            out[i] = np.nan
        else:
            out[i] = np.sign(a) * max(abs(a) - t, 0.0)
    return out


def test_nan_and_inf_propagate_through_l1_elastic_net_and_group_lasso():
    v = np.array([np.nan, 1.0, -2.0, np.inf, -np.inf, 0.2], np.float32)
    np.testing.assert_array_equal(np.asarray(regjax.prox.l1(jnp.asarray(v), 0.5)), _np_soft(v, 0.5))
    np.testing.assert_allclose(
        np.asarray(regjax.prox.elastic_net(jnp.asarray(v), 0.5, 0.25)),
        _np_soft(v, 0.5) / 1.5,
        rtol=1e-6,
    )
    # A group holding a NaN becomes all NaN; the other groups are unchanged.
    k = np.array([[np.nan, 1.0], [3.0, 4.0], [0.1, 0.1]], np.float32)
    for r in (0.0, 0.5):
        out = np.asarray(regjax.prox.group_lasso(jnp.asarray(k), 0.5, l1_ratio=r))
        assert np.isnan(out[0]).all()
        assert np.isfinite(out[1:]).all()
    # A group holding +inf keeps its direction (scale 1): inf stays inf, no NaN appears.
    out = np.asarray(regjax.prox.group_lasso(jnp.array([[np.inf, 1.0]], jnp.float32), 0.5))
    np.testing.assert_array_equal(out, [[np.inf, 1.0]])


@pytest.mark.parametrize("name", ["l1", "elastic_net", "group_lasso"])
def test_traced_nan_threshold_gives_nan_not_zeros(name):
    # A traced threshold escapes the concrete check (a NaN learning-rate schedule
    # in a sweep member); the result must show it rather than a zeroed model.
    x = jnp.array([[0.1, -3.0], [2.0, 0.0]], jnp.float32)
    ops = {
        "l1": lambda t: regjax.prox.l1(x, t),
        "elastic_net": lambda t: regjax.prox.elastic_net(x, t, 0.1),
        "group_lasso": lambda t: regjax.prox.group_lasso(x, t, l1_ratio=0.5),
    }
    out = np.asarray(jax.jit(ops[name])(jnp.float32(np.nan)))
    assert np.isnan(out).all()
