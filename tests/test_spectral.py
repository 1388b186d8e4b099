"""regjax.spectral against jnp.linalg.svd, an analytic gradient and flax Linen."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regjax
from regjax import spectral


def _gaussian(seed, shape=(256, 256), dtype=jnp.float32):
    return jax.random.normal(jax.random.key(seed), shape, dtype)


def _sigma_max(w):
    return float(jnp.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0])


def _estimate(w, key, **kw):
    state = spectral.init(key, w, **kw)
    _, state = spectral.normalize(w, state)
    return float(state.sigma)


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_warmup_within_8_percent_and_500_within_1_percent(seed):
    w = _gaussian(seed)
    s1, s2 = np.asarray(jnp.linalg.svd(w, compute_uv=False)[:2])
    assert s2 / s1 > 0.95  # the hard case the claim is about: a tiny spectral gap
    key = jax.random.key(100 + seed)
    default = _estimate(w, key)
    long = _estimate(w, key, n_warmup=500)
    assert 0.92 * s1 <= default <= s1 * (1 + 1e-5)
    assert 0.99 * s1 <= long <= s1 * (1 + 1e-5)


def _flax_first_sigma(w, seed):
    from flax import linen as nn

    m = nn.SpectralNorm(nn.Dense(w.shape[1], use_bias=False))
    x = jnp.ones((1, w.shape[0]))
    variables = m.init(jax.random.key(seed), x, update_stats=False)
    variables = {
        "params": {"layer_instance": {"kernel": w}},
        "batch_stats": variables["batch_stats"],
    }
    _, updated = m.apply(variables, x, update_stats=True, mutable=["batch_stats"])
    flat = jax.tree_util.tree_flatten_with_path(updated)[0]
    (sigma,) = [v for p, v in flat if "sigma" in jax.tree_util.keystr(p)]
    return float(sigma)


def test_flax_first_call_is_far_off_where_default_is_close():
    # Supports the module docstring: flax's SpectralNorm starts about 28% low
    # (one iteration from a random u); the default warm-up is within 8%.
    # Over 20 seeds we measured 28% on average (25% to 35%); one seed here.
    w = _gaussian(0)
    s1 = _sigma_max(w)
    err_flax = 1 - _flax_first_sigma(w, 200) / s1
    err_ours = 1 - _estimate(w, jax.random.key(200)) / s1
    assert 0.2 < err_flax < 0.36
    assert 0 <= err_ours < 0.08


@settings(derandomize=True, deadline=None, database=None, max_examples=8)
@given(
    m=st.sampled_from([1, 3, 8]),
    n=st.sampled_from([1, 3, 8]),
    n_warmup=st.sampled_from([0, 3]),
    n_iter=st.sampled_from([0, 2]),
    seed=st.integers(0, 2**16),
)
def test_estimate_never_exceeds_top_singular_value(m, n, n_warmup, n_iter, seed):
    with jax.enable_x64(True):
        w = jax.random.normal(jax.random.key(seed), (m, n), jnp.float64)
        state = spectral.init(jax.random.key(seed + 1), w, n_warmup=n_warmup)
        assert float(state.sigma) <= _sigma_max(w) * (1 + 1e-12)
        _, state = spectral.normalize(w, state, n_iter=n_iter)
        s1 = np.linalg.svd(np.asarray(w), compute_uv=False)[0]
        assert float(state.sigma) <= s1 * (1 + 1e-12)
        assert float(state.sigma) >= 0.0
        # unit up to eps = 1e-12 under the square root
        np.testing.assert_allclose(float(jnp.linalg.norm(state.u)), 1.0, rtol=1e-6)


def test_carried_state_converges_over_steps():
    # In training, u is carried from step to step: 200 calls of one iteration
    # each land where one call after 200 warm-up iterations does.
    w = _gaussian(3, (64, 48))
    state = spectral.init(jax.random.key(0), w, n_warmup=0)
    step = jax.jit(lambda s: spectral.normalize(w, s)[1])
    for _ in range(200):
        state = step(state)
    np.testing.assert_allclose(float(state.sigma), _sigma_max(w), rtol=1e-3)


def test_normalized_weight_has_unit_spectral_norm_after_convergence():
    w = _gaussian(4, (32, 16)) * 7.0
    state = spectral.init(jax.random.key(1), w, n_warmup=300)
    w_bar, _ = spectral.normalize(w, state)
    np.testing.assert_allclose(_sigma_max(w_bar), 1.0, rtol=1e-4)
    np.testing.assert_allclose(np.asarray(w_bar), np.asarray(w) / _sigma_max(w), rtol=1e-4)


# --------------------------------------------------------------------------- conventions


def test_conv_kernel_is_reshaped_to_hw_in_by_out():
    kernel = _gaussian(5, (3, 3, 4, 8))
    mat = kernel.reshape(36, 8)
    s_k = spectral.init(jax.random.key(2), kernel, n_warmup=7)
    s_m = spectral.init(jax.random.key(2), mat, n_warmup=7)
    assert s_k.u.shape == (8,)
    np.testing.assert_allclose(np.asarray(s_k.u), np.asarray(s_m.u), rtol=1e-6)
    k_bar, _ = spectral.normalize(kernel, s_k)
    m_bar, _ = spectral.normalize(mat, s_m)
    assert k_bar.shape == kernel.shape
    np.testing.assert_allclose(np.asarray(k_bar).reshape(36, 8), np.asarray(m_bar), rtol=1e-6)


def test_gradient_is_the_papers():
    # With u, v held fixed, d<C, W/σ>/dW = C/σ − <C, W>/σ² · v uᵀ (Miyato et al., eq. 12).
    with jax.enable_x64(True):
        w = jax.random.normal(jax.random.key(0), (6, 4), jnp.float64)
        c = jax.random.normal(jax.random.key(1), (6, 4), jnp.float64)
        state = spectral.init(jax.random.key(2), w, n_warmup=2)
        grad = jax.grad(lambda w: jnp.sum(c * spectral.normalize(w, state)[0]))(w)
        _, new = spectral.normalize(w, state)
        w_np, c_np, u = np.asarray(w), np.asarray(c), np.asarray(new.u)
        v = w_np @ u / np.linalg.norm(w_np @ u)
        sigma = v @ w_np @ u
        expected = c_np / sigma - np.sum(c_np * w_np) / sigma**2 * np.outer(v, u)
        np.testing.assert_allclose(np.asarray(grad), expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(float(new.sigma), sigma, rtol=1e-12)


def test_update_false_keeps_state_and_n_iter_zero_uses_stored_u():
    w = _gaussian(6, (10, 5))
    state = spectral.init(jax.random.key(0), w, n_warmup=1)
    w_bar, kept = spectral.normalize(w, state, update=False)
    assert kept is state
    _, moved = spectral.normalize(w, state)
    assert not np.allclose(np.asarray(moved.u), np.asarray(state.u))
    w0, s0 = spectral.normalize(w, state, n_iter=0)
    np.testing.assert_allclose(np.asarray(s0.u), np.asarray(state.u), rtol=0, atol=0)
    v = np.asarray(w) @ np.asarray(state.u)
    np.testing.assert_allclose(float(s0.sigma), np.linalg.norm(v), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(w0), np.asarray(w) / np.linalg.norm(v), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(w_bar), np.asarray(w) / float(moved.sigma), rtol=1e-6)


def test_zero_weight_is_returned_with_finite_gradient():
    w = jnp.zeros((4, 3))
    state = spectral.init(jax.random.key(0), w)
    w_bar, new = spectral.normalize(w, state)
    np.testing.assert_array_equal(np.asarray(w_bar), 0.0)
    assert float(new.sigma) == 0.0
    g = jax.grad(lambda w: jnp.sum(spectral.normalize(w, state)[0]))(w)
    assert np.all(np.isfinite(np.asarray(g)))


def test_bfloat16_weight_keeps_dtype_and_float32_state():
    w = _gaussian(7, (16, 8)).astype(jnp.bfloat16)
    state = spectral.init(jax.random.key(0), w, n_warmup=50)
    assert state.u.dtype == jnp.float32
    w_bar, _ = spectral.normalize(w, state)
    assert w_bar.dtype == jnp.bfloat16
    np.testing.assert_allclose(_sigma_max(w_bar.astype(jnp.float32)), 1.0, rtol=2e-2)


def test_raw_and_typed_keys_agree():
    w = _gaussian(8, (5, 4))
    typed = spectral.init(jax.random.key(3), w)
    raw = spectral.init(jax.random.PRNGKey(3), w)
    np.testing.assert_array_equal(np.asarray(typed.u), np.asarray(raw.u))


# --------------------------------------------------------------------------- transforms


def test_jit_equals_eager_and_does_not_retrace():
    w = _gaussian(9, (12, 7))
    traces = []

    def f(w, state):
        traces.append(1)
        return spectral.normalize(w, state, n_iter=2)

    state = spectral.init(jax.random.key(0), w)
    eager = f(w, state)
    jitted = jax.jit(f)
    out1 = jitted(w, state)
    out2 = jitted(w * 2.0, state)  # w / σ̂ is scale-invariant
    assert len(traces) == 2  # one eager call, one trace for both jitted calls
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(out1)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out2[0]), np.asarray(out1[0]), rtol=1e-5)


def test_vmap_over_stacked_layers_equals_loop_and_compiles_once():
    ws = _gaussian(10, (4, 9, 6))
    keys = jax.random.split(jax.random.key(0), 4)
    traces = []

    def step(key, w):
        traces.append(1)
        state = spectral.init(key, w, n_warmup=3)
        return spectral.normalize(w, state)

    batched = jax.jit(jax.vmap(step))(keys, ws)
    assert len(traces) == 1
    for i in range(4):
        w_bar, state = step(keys[i], ws[i])
        np.testing.assert_allclose(np.asarray(batched[0][i]), np.asarray(w_bar), rtol=1e-5)
        np.testing.assert_allclose(np.asarray(batched[1].u[i]), np.asarray(state.u), rtol=1e-5)


def test_vmap_over_eps_grid_equals_loop():
    w = _gaussian(11, (8, 5))
    state = spectral.init(jax.random.key(0), w)
    eps = jnp.array([1e-12, 1e-3, 1.0])
    traces = []

    def f(e):
        traces.append(1)
        return spectral.normalize(w, state, eps=e)[0]

    out = jax.vmap(f)(eps)
    assert len(traces) == 1
    for i, e in enumerate([1e-12, 1e-3, 1.0]):
        np.testing.assert_allclose(np.asarray(out[i]), np.asarray(f(e)), rtol=1e-6)


def test_traced_bad_eps_is_caught_under_checkify():
    w = _gaussian(12, (4, 3))
    state = spectral.init(jax.random.key(0), w)
    err, _ = jax.vmap(regjax.checks.checkify(lambda e: spectral.normalize(w, state, eps=e)[0]))(
        jnp.array([1e-6, -1.0])
    )
    assert "at mapped index 1" in err.get()
    assert "regjax.spectral.normalize(eps=...)" in err.get()


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_call_and_argument():
    w = _gaussian(13, (4, 3))
    key = jax.random.key(0)
    state = spectral.init(key, w)
    with pytest.raises(TypeError, match=r"regjax\.spectral\.init\(key=\.\.\.\)"):
        spectral.init(0, w)
    with pytest.raises(TypeError, match=r"regjax\.spectral\.init\(key=\.\.\.\)"):
        spectral.init(jnp.zeros(2, jnp.float32), w)
    with pytest.raises(ValueError, match=r"regjax\.spectral\.init\(w=\.\.\.\)"):
        spectral.init(key, jnp.ones(3))
    with pytest.raises(TypeError, match=r"regjax\.spectral\.init\(w=\.\.\.\)"):
        spectral.init(key, jnp.ones((3, 3), jnp.int32))
    with pytest.raises(ValueError, match=r"regjax\.spectral\.init\(n_warmup=\.\.\.\)"):
        spectral.init(key, w, n_warmup=-1)
    with pytest.raises(TypeError, match=r"regjax\.spectral\.init\(n_warmup=\.\.\.\)"):
        spectral.init(key, w, n_warmup=2.0)
    with pytest.raises(ValueError, match=r"regjax\.spectral\.normalize\(eps=\.\.\.\)"):
        spectral.normalize(w, state, eps=-1.0)
    with pytest.raises(ValueError, match=r"regjax\.spectral\.normalize\(n_iter=\.\.\.\)"):
        spectral.normalize(w, state, n_iter=-2)
    with pytest.raises(TypeError, match=r"regjax\.spectral\.normalize\(update=\.\.\.\)"):
        spectral.normalize(w, state, update=jnp.array(True))
    with pytest.raises(ValueError, match=r"regjax\.spectral\.normalize\(state=\.\.\.\)"):
        spectral.normalize(w.T, state)
    with pytest.raises(TypeError, match=r"regjax\.spectral\.normalize\(state=\.\.\.\)"):
        spectral.normalize(w, (state.u, state.sigma))
