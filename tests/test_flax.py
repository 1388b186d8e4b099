"""Tests for regjax.flax: nnx modules with traced rates, keys from nnx.Rngs,
fresh masks under plain jax.jit, and a vmapped training sweep over rates."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import regjax
from regjax import stochastic

X = jax.random.normal(jax.random.key(1), (32, 4))
Y = X[:, :1] * 2.0 - X[:, 1:2]


class MLP(nnx.Module):
    def __init__(self, rate, *, rngs):
        self.l1 = nnx.Linear(4, 16, rngs=rngs)
        self.drop = regjax.flax.Dropout(rate, rngs=rngs)
        self.l2 = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.l1(x))))


TRACES = 0


def train(rate, key, n_steps=10):
    """A whole training run as a pure function of (rate, key): sgd on an nnx MLP."""
    global TRACES
    TRACES += 1
    model = MLP(rate, rngs=nnx.Rngs(params=0, dropout=key))
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = optax.sgd(0.05)

    def step(carry, _):
        params, rest, opt_state = carry

        def loss_fn(params):
            # copy=True: fresh Variables at this trace level, so the rng counter may advance.
            m = nnx.merge(graphdef, params, rest, copy=True)
            loss = jnp.mean((m(X) - Y) ** 2)
            return loss, nnx.split(m, nnx.Param, ...)[2]

        (loss, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), rest, opt_state), loss

    init = (params, rest, tx.init(params))
    (params, rest, _), losses = jax.lax.scan(step, init, None, length=n_steps)
    model = nnx.merge(graphdef, params, rest, copy=True)
    eval_loss = jnp.mean((nnx.view(model, deterministic=True)(X) - Y) ** 2)
    return losses, eval_loss


def test_vmapped_training_over_rate_grid_compiles_once_and_equals_loop():
    global TRACES
    TRACES = 0
    rates = jnp.array([0.0, 0.25, 0.5, 1.0])
    keys = stochastic.member_keys(jax.random.key(0), 4)
    sweep = jax.jit(jax.vmap(train))
    losses, evals = sweep(rates, keys)
    losses2, _ = sweep(jnp.array([0.1, 0.2, 0.3, 0.4]), keys)  # new values: no retrace
    assert TRACES == 1
    one = jax.jit(train)
    for i in range(4):
        li, ei = one(rates[i], keys[i])
        np.testing.assert_allclose(losses[i], li, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(evals[i], ei, rtol=1e-5, atol=1e-6)
    assert TRACES == 2  # the loop's single-member jit traced once for all four members
    # rate 0 trains (the loss falls), and its steps differ from the rate-0.1 run.
    assert losses[0, -1] < losses[0, 0]
    assert not np.allclose(losses[0], losses2[0])


def test_flax_dropout_rejects_a_traced_rate_regjax_accepts_it():
    def flax_out(rate):
        return nnx.Dropout(rate, rngs=nnx.Rngs(dropout=0))(jnp.ones(8))

    with pytest.raises(jax.errors.TracerBoolConversionError):
        jax.vmap(flax_out)(jnp.array([0.1, 0.5]))

    def ours(rate):
        return regjax.flax.Dropout(rate, rngs=nnx.Rngs(dropout=0))(jnp.ones(8))

    out = jax.vmap(ours)(jnp.array([0.0, 1.0]))
    np.testing.assert_array_equal(out, np.stack([np.ones(8), np.zeros(8)]))


def test_fresh_masks_under_plain_jit_when_state_is_threaded():
    model = regjax.flax.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
    graphdef, state = nnx.split(model)

    @jax.jit
    def step(state, x):
        m = nnx.merge(graphdef, state)
        y = m(x)
        return y, nnx.state(m)

    x = jnp.ones(64)
    masks = []
    for _ in range(4):
        y, state = step(state, x)
        masks.append(np.asarray(y))
    assert len({m.tobytes() for m in masks}) == 4
    # Reproducible from the seed: a second model with the same seed repeats the sequence.
    _, state2 = nnx.split(regjax.flax.Dropout(0.5, rngs=nnx.Rngs(dropout=0)))
    for m in masks:
        y, state2 = step(state2, x)
        np.testing.assert_array_equal(y, m)
    # Eager calls draw the same sequence as the threaded jitted calls.
    eager = regjax.flax.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
    np.testing.assert_array_equal(eager(x), masks[0])
    np.testing.assert_array_equal(eager(x), masks[1])


def test_fresh_masks_under_nnx_jit():
    model = MLP(0.5, rngs=nnx.Rngs(params=0, dropout=1))

    @nnx.jit
    def fwd(model, x):
        return model(x)

    a, b = fwd(model, X), fwd(model, X)
    assert not np.allclose(a, b)


def test_call_key_equals_functional_dropout_and_rate_override():
    drop = regjax.flax.Dropout(0.3, broadcast_dims=(0,))
    key = jax.random.key(5)
    x = jax.random.normal(key, (4, 16))
    np.testing.assert_array_equal(
        drop(x, rngs=key), stochastic.dropout(key, x, 0.3, broadcast_dims=(0,))
    )
    np.testing.assert_array_equal(
        drop(x, rngs=key, rate=0.7), stochastic.dropout(key, x, 0.7, broadcast_dims=(0,))
    )
    dp = regjax.flax.DropPath(0.3, mode="batch")
    np.testing.assert_array_equal(dp(x, rngs=key), stochastic.drop_path(key, x, 0.3, mode="batch"))


def test_kept_fraction_within_binomial_bound():
    n, rate = 200_000, 0.35
    y = regjax.flax.Dropout(rate, rngs=nnx.Rngs(dropout=3))(jnp.ones(n))
    kept = int(np.count_nonzero(np.asarray(y)))
    assert abs(kept - n * (1 - rate)) <= 6 * math.sqrt(n * rate * (1 - rate))
    b = 20_000
    z = regjax.flax.DropPath(rate, rngs=nnx.Rngs(dropout=4))(jnp.ones((b, 2)))
    rows = int(np.count_nonzero(np.asarray(z)[:, 0]))
    assert abs(rows - b * (1 - rate)) <= 6 * math.sqrt(b * rate * (1 - rate))
    assert np.all((np.asarray(z) == 0).all(1) | (np.asarray(z) != 0).all(1))


def test_deterministic_identity_views_and_train_eval():
    model = MLP(0.5, rngs=nnx.Rngs(params=0, dropout=0))
    x = X
    ev = nnx.view(model, deterministic=True)
    ref = model.l2(nnx.relu(model.l1(x)))
    np.testing.assert_array_equal(ev(x), ref)
    model.eval()
    assert model.drop.deterministic is True
    np.testing.assert_array_equal(model(x), ref)
    model.train()
    assert not np.allclose(model(x), ref)
    xs = jnp.arange(6.0)
    np.testing.assert_array_equal(regjax.flax.DropPath(0.9, deterministic=True)(xs), xs)


def test_rate_one_zero_output_and_zero_grads_and_params_exclude_rate():
    model = MLP(1.0, rngs=nnx.Rngs(params=0, dropout=0))

    def loss(model):
        return jnp.mean(model(X) ** 2)

    grads = nnx.grad(loss)(model)
    np.testing.assert_array_equal(grads.l1.kernel[...], np.zeros((4, 16)))
    np.testing.assert_array_equal(grads.l2.kernel[...], np.zeros((16, 1)))
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree.leaves(grads))
    rates = jax.tree.leaves(nnx.state(model, regjax.flax.DropoutRate))
    assert [float(r) for r in rates] == [1.0]
    params = jax.tree.leaves(nnx.state(model, nnx.Param))
    assert len(params) == 4  # two kernels, two biases; the rate is not a Param


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`regjax\.flax\.Dropout\(rate=\.\.\.\)` must be in"):
        regjax.flax.Dropout(1.5)
    with pytest.raises(ValueError, match=r"`regjax\.flax\.DropPath\(rate=\.\.\.\)` must be in"):
        regjax.flax.DropPath(-0.5)
    with pytest.raises(ValueError, match=r"`regjax\.flax\.DropPath\(mode=\.\.\.\)`"):
        regjax.flax.DropPath(0.5, mode="col")
    with pytest.raises(TypeError, match=r"`regjax\.flax\.Dropout\(rngs=\.\.\.\)`"):
        regjax.flax.Dropout(0.5, rngs=0)
    with pytest.raises(ValueError, match=r"`regjax\.flax\.Dropout`: .* no key"):
        regjax.flax.Dropout(0.5)(jnp.ones(3))
    # Errors in call-time arguments name the module's call, not the function it uses.
    with pytest.raises(TypeError, match=r"`regjax\.flax\.Dropout\(\.\.\.\)\(rngs=\.\.\.\)`"):
        regjax.flax.Dropout(0.5)(jnp.ones(3), rngs=np.zeros(2, np.float32))
    with pytest.raises(
        ValueError,
        match=r"`regjax\.flax\.Dropout\(\.\.\.\)\(rate=\.\.\.\)` must be in \[0, 1\]; got 2\.0",
    ):
        regjax.flax.Dropout(0.5, rngs=nnx.Rngs(dropout=0))(jnp.ones(3), rate=2.0)
    with pytest.raises(TypeError, match=r"`regjax\.flax\.DropPath\(\.\.\.\)\(rate=\.\.\.\)`"):
        regjax.flax.DropPath(0.5, rngs=nnx.Rngs(dropout=0))(jnp.ones((2, 3)), rate="0.1")
    with pytest.raises(
        TypeError, match=r"`regjax\.flax\.Dropout\(\.\.\.\)\(deterministic=\.\.\.\)`"
    ):
        regjax.flax.Dropout(0.5)(jnp.ones(3), deterministic="yes")
    # A call-time rate is also checked when the module is deterministic.
    with pytest.raises(ValueError, match=r"`regjax\.flax\.Dropout\(\.\.\.\)\(rate=\.\.\.\)`"):
        regjax.flax.Dropout(0.5)(jnp.ones(3), rate=-1.0, deterministic=True)


# --------------------------------------------------------------------------- SpectralNorm


def test_spectral_norm_matches_functional_and_svd_and_keeps_raw_kernel():
    rngs = nnx.Rngs(params=0)
    linear = nnx.Linear(12, 6, rngs=rngs)
    sn = regjax.flax.SpectralNorm(linear, n_warmup=200, rngs=nnx.Rngs(params=1))
    w = np.asarray(linear.kernel[...]).copy()
    u0 = sn.u[...]
    x = jax.random.normal(jax.random.key(3), (5, 12))
    y = sn(x)
    # Reference: the functional API from the same state, and the layer's own bias.
    w_bar, new = regjax.spectral.normalize(
        jnp.asarray(w), regjax.spectral.SpectralState(u0, jnp.float32(0))
    )
    np.testing.assert_allclose(y, x @ w_bar + linear.bias[...][None], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sn.u[...], new.u, rtol=1e-6)
    # σ̂ against the SVD, and from below.
    s1 = float(jnp.linalg.svd(jnp.asarray(w), compute_uv=False)[0])
    assert float(sn.sigma[...]) <= s1 * (1 + 1e-6)
    np.testing.assert_allclose(float(sn.sigma[...]), s1, rtol=1e-3)
    # The raw kernel is never overwritten.
    np.testing.assert_array_equal(linear.kernel[...], w)
    # deterministic: no update of u.
    u1 = np.asarray(sn.u[...])
    sn(x, deterministic=True)
    np.testing.assert_array_equal(sn.u[...], u1)


def test_spectral_norm_gradient_equals_functional_and_conv_works():
    lin = nnx.Linear(6, 4, rngs=nnx.Rngs(params=0))
    sn = regjax.flax.SpectralNorm(lin, rngs=nnx.Rngs(params=1))
    x = jax.random.normal(jax.random.key(4), (3, 6))
    state = regjax.spectral.SpectralState(sn.u[...], sn.sigma[...])
    b = lin.bias[...]

    def ref(w):
        w_bar, _ = regjax.spectral.normalize(w, state)
        return jnp.sum(jnp.tanh(x @ w_bar + b[None]))

    g_ref = jax.grad(ref)(lin.kernel[...])
    g = nnx.grad(lambda m: jnp.sum(jnp.tanh(m(x))))(sn)
    np.testing.assert_allclose(g.layer.kernel[...], g_ref, rtol=1e-5, atol=1e-6)
    conv = nnx.Conv(3, 5, kernel_size=(3, 3), rngs=nnx.Rngs(params=0))
    snc = regjax.flax.SpectralNorm(conv, n_warmup=100, rngs=nnx.Rngs(params=1))
    out = snc(jnp.ones((1, 8, 8, 3)))
    assert out.shape == (1, 8, 8, 5)
    s1 = jnp.linalg.svd(conv.kernel[...].reshape(-1, 5), compute_uv=False)[0]
    np.testing.assert_allclose(snc.sigma[...], s1, rtol=1e-3)


def test_spectral_norm_bad_arguments():
    lin = nnx.Linear(3, 2, rngs=nnx.Rngs(params=0))
    with pytest.raises(ValueError, match=r"`regjax\.flax\.SpectralNorm\(param_name=\.\.\.\)`"):
        regjax.flax.SpectralNorm(lin, param_name="weight", rngs=nnx.Rngs(params=0))
    with pytest.raises(TypeError, match=r"`regjax\.flax\.SpectralNorm\(layer=\.\.\.\)`"):
        regjax.flax.SpectralNorm(jnp.ones((3, 2)), rngs=nnx.Rngs(params=0))
    with pytest.raises(TypeError, match=r"`regjax\.flax\.SpectralNorm\(rngs=\.\.\.\)`"):
        regjax.flax.SpectralNorm(lin, rngs=None)
    with pytest.raises(
        ValueError, match=r"`regjax\.flax\.SpectralNorm\(n_warmup=\.\.\.\)` must be >= 0; got -1"
    ):
        regjax.flax.SpectralNorm(lin, n_warmup=-1, rngs=nnx.Rngs(params=0))
    with pytest.raises(TypeError, match=r"`regjax\.flax\.SpectralNorm\(n_warmup=\.\.\.\)`"):
        regjax.flax.SpectralNorm(lin, n_warmup=2.0, rngs=nnx.Rngs(params=0))
    with pytest.raises(
        ValueError, match=r"`regjax\.flax\.SpectralNorm\(param_name=\.\.\.\)`: Linear\.bias"
    ):
        regjax.flax.SpectralNorm(lin, param_name="bias", rngs=nnx.Rngs(params=0))
    sn = regjax.flax.SpectralNorm(lin, rngs=nnx.Rngs(params=0))
    with pytest.raises(
        TypeError, match=r"`regjax\.flax\.SpectralNorm\(\.\.\.\)\(deterministic=\.\.\.\)`"
    ):
        sn(jnp.ones((1, 3)), deterministic=1)
