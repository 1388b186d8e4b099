"""Tests for regjax.stochastic: statistics with computed bounds, key discipline,
traced rates under jit/vmap, edge rates, and bad input."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

import regjax
from regjax import stochastic

N_SIGMA = 6.0
KEY = jax.random.key(0)


def _binomial_bound(n: int, p: float) -> float:
    return N_SIGMA * math.sqrt(n * p * (1 - p))


# --------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_dropout_kept_fraction_and_mean_within_binomial_bounds(rate):
    n = 1_000_000
    x = jnp.full((1000, 1000), 3.0)
    y = np.asarray(stochastic.dropout(jax.random.key(1), x, rate))
    kept = int(np.count_nonzero(y))
    assert abs(kept - n * (1 - rate)) <= _binomial_bound(n, 1 - rate)
    # Kept entries are exactly x / (1 - p); dropped ones exactly 0.
    np.testing.assert_allclose(y[y != 0], 3.0 / (1 - rate), rtol=1e-6)
    # E[y] = x: each element has variance x² p/(1-p).
    sd_mean = 3.0 * math.sqrt(rate / (1 - rate) / n)
    assert abs(y.mean() - 3.0) <= N_SIGMA * sd_mean


def test_gaussian_dropout_mean_and_variance_within_bounds():
    n = 1_000_000
    rate = 0.3
    var = rate / (1 - rate)
    y = np.asarray(
        stochastic.gaussian_dropout(jax.random.key(2), jnp.full((n,), 2.0), rate), np.float64
    )
    m = y / 2.0  # the multiplier, N(1, p/(1-p))
    assert abs(m.mean() - 1.0) <= N_SIGMA * math.sqrt(var / n)
    # Var of the sample variance of a normal: 2σ⁴/(n-1).
    assert abs(m.var(ddof=1) - var) <= N_SIGMA * math.sqrt(2 * var**2 / (n - 1))


def test_gaussian_noise_mean_and_std_within_bounds():
    n = 1_000_000
    s = 0.25
    y = np.asarray(stochastic.gaussian_noise(jax.random.key(3), jnp.ones(n), s), np.float64)
    assert abs(y.mean() - 1.0) <= N_SIGMA * s / math.sqrt(n)
    assert abs(y.var(ddof=1) - s**2) <= N_SIGMA * math.sqrt(2 * s**4 / (n - 1))


def test_drop_path_row_fraction_and_whole_rows():
    b = 20_000
    rate = 0.25
    y = np.asarray(stochastic.drop_path(jax.random.key(4), jnp.ones((b, 3, 2)), rate))
    flat = y.reshape(b, -1)
    dropped = (flat == 0).all(axis=1)
    kept = np.isclose(flat, 1 / (1 - rate)).all(axis=1)
    assert np.all(dropped | kept)
    assert abs(kept.sum() - b * (1 - rate)) <= _binomial_bound(b, 1 - rate)


def test_drop_path_batch_mode_frequency():
    # One draw per call: over 2000 keys the kept count is Binomial(2000, 1 - p).
    rate, n = 0.4, 2000
    keys = jax.random.split(jax.random.key(5), n)
    y = jax.vmap(lambda k: stochastic.drop_path(k, jnp.ones((4, 3)), rate, mode="batch"))(keys)
    y = np.asarray(y).reshape(n, -1)
    assert np.all((y == y[:, :1]).all(axis=1))  # the whole batch shares the draw
    kept = int((y[:, 0] != 0).sum())
    assert abs(kept - n * (1 - rate)) <= _binomial_bound(n, 1 - rate)


# --------------------------------------------------------------------------- exact properties


def test_dropout_matches_numpy_reference_from_the_same_bits():
    # Reference: the documented rule, P(drop) = ceil(p 2^24)/2^24 from the top 24 bits.
    key, rate = jax.random.key(7), 0.3
    x = np.asarray(jax.random.normal(jax.random.key(8), (64, 32)), np.float32)
    bits = np.asarray(jax.random.bits(key, x.shape, jnp.uint32))
    keep = (bits >> 8) >= math.ceil(np.float32(rate) * 2**24)
    expected = np.where(keep, x * np.float32(1 / np.float32(1 - np.float32(rate))), 0)
    np.testing.assert_allclose(stochastic.dropout(key, x, rate), expected, rtol=1e-6)


def test_rate_one_gives_zeros_and_zero_gradients_even_traced():
    x = jnp.linspace(-1.0, 1.0, 12).reshape(3, 4)

    def f(x, rate):
        return jnp.sum(stochastic.dropout(KEY, x, rate) ** 2)

    for fn in (f, jax.jit(f)):
        y = stochastic.dropout(KEY, x, 1.0)
        np.testing.assert_array_equal(y, np.zeros((3, 4)))
        gx, grate = jax.grad(fn, argnums=(0, 1))(x, jnp.float32(1.0))
        np.testing.assert_array_equal(gx, np.zeros((3, 4)))
        assert np.isfinite(grate)
    # drop_path and dropconnect too.
    gp = jax.grad(lambda x: jnp.sum(stochastic.drop_path(KEY, x, jnp.float32(1.0))))(x)
    gc = jax.grad(lambda w: jnp.sum(stochastic.dropconnect(KEY, w, jnp.float32(1.0))))(x)
    np.testing.assert_array_equal(gp, np.zeros((3, 4)))
    np.testing.assert_array_equal(gc, np.zeros((3, 4)))


def test_rate_zero_is_identity():
    x = jax.random.normal(KEY, (5, 7))
    np.testing.assert_array_equal(stochastic.dropout(KEY, x, 0.0), x)
    np.testing.assert_array_equal(stochastic.drop_path(KEY, x, 0.0), x)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, d: stochastic.dropout(KEY, x, 0.5, deterministic=d),
        lambda x, d: stochastic.drop_path(KEY, x, 0.5, deterministic=d),
        lambda x, d: stochastic.dropconnect(KEY, x, 0.5, deterministic=d),
        lambda x, d: stochastic.gaussian_dropout(KEY, x, 0.5, deterministic=d),
        lambda x, d: stochastic.gaussian_noise(KEY, x, 0.5, deterministic=d),
    ],
)
def test_deterministic_is_exact_identity(fn):
    x = jax.random.normal(KEY, (4, 6), jnp.float32)
    assert fn(x, True) is x or np.array_equal(fn(x, True), x)
    np.testing.assert_array_equal(jax.jit(fn, static_argnums=1)(x, True), x)
    assert not np.array_equal(fn(x, False), x)


def test_gradients_against_closed_form():
    key, rate = jax.random.key(9), 0.4
    x = jax.random.normal(jax.random.key(10), (6, 5))
    check_grads(lambda x: stochastic.dropout(key, x, rate), (x,), order=1, modes=["rev"])
    keep = np.asarray(stochastic.dropout(key, jnp.ones_like(x), rate)) != 0
    g = jax.grad(lambda p: jnp.sum(stochastic.dropout(key, x, p)))(jnp.float32(rate))
    # d/dp Σ m x/(1-p) = Σ m x /(1-p)² (the mask is piecewise constant in p).
    np.testing.assert_allclose(g, np.sum(keep * np.asarray(x)) / (1 - rate) ** 2, rtol=1e-5)


def test_broadcast_dims_share_the_mask():
    x = jnp.ones((8, 5, 6, 4))  # NHWC: spatial dropout drops whole channels
    y = np.asarray(stochastic.dropout(KEY, x, 0.5, broadcast_dims=(1, -2)))
    assert np.all(y == y[:, :1, :1, :])
    assert 0 < np.count_nonzero(y[:, 0, 0, :]) < 32  # still varies over N and C


def test_dropconnect_pytree_mask_and_gradient():
    params = {"dense": {"kernel": jnp.ones((30, 20)), "bias": jnp.ones(20)}}
    rate = 0.5
    out = stochastic.dropconnect(KEY, params, rate, mask=regjax.masks.weights_only)
    np.testing.assert_array_equal(out["dense"]["bias"], params["dense"]["bias"])
    k = np.asarray(out["dense"]["kernel"])
    assert set(np.unique(k).tolist()) == {0.0, 2.0}

    def total(p):
        out = stochastic.dropconnect(KEY, p, rate, mask=regjax.masks.weights_only)
        return sum(jnp.sum(leaf) for leaf in jax.tree.leaves(out))

    g = jax.grad(total)(params)
    np.testing.assert_array_equal(g["dense"]["bias"], np.ones(20))
    np.testing.assert_array_equal(g["dense"]["kernel"], k)  # mask/(1-p), w = 1
    # Each leaf is keyed by its path: the kernel's mask does not depend on other leaves.
    alone = stochastic.dropconnect(KEY, {"dense": {"kernel": jnp.ones((30, 20))}}, rate)
    np.testing.assert_array_equal(alone["dense"]["kernel"], k)


def test_bfloat16_and_rbg_keys():
    x = jnp.ones((64, 64), jnp.bfloat16)
    y = stochastic.dropout(jax.random.key(0, impl="rbg"), x, 0.5)
    assert y.dtype == jnp.bfloat16
    assert set(np.unique(np.asarray(y, np.float32)).tolist()) == {0.0, 2.0}


# --------------------------------------------------------------------------- keys


def test_same_key_same_mask_raw_and_typed_agree():
    x = jnp.ones(256)
    a = stochastic.dropout(jax.random.key(3), x, 0.5)
    b = stochastic.dropout(jax.random.key(3), x, 0.5)
    c = stochastic.dropout(jax.random.PRNGKey(3), x, 0.5)
    d = stochastic.dropout(jax.random.key(4), x, 0.5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    assert not np.array_equal(a, d)


def test_helpers_preserve_key_kind_and_are_distinct():
    typed, raw = jax.random.key(0), jax.random.PRNGKey(0)
    assert stochastic.step_key(typed, 1).dtype == typed.dtype
    assert stochastic.step_key(raw, 1).dtype == jnp.uint32
    assert stochastic.layer_keys(raw, 3).shape == (3, 2)
    data = jax.random.key_data
    derived = [
        data(stochastic.step_key(typed, 0)),
        data(stochastic.layer_keys(typed, 1)[0]),
        data(stochastic.member_keys(typed, 1)[0]),
        data(stochastic.named_key(typed, "0")),
        data(typed),
    ]
    assert len({tuple(np.asarray(d).tolist()) for d in derived}) == len(derived)
    np.testing.assert_array_equal(data(stochastic.step_key(raw, 5)), stochastic.step_key(raw, 5))
    np.testing.assert_array_equal(data(stochastic.step_key(typed, 5)), stochastic.step_key(raw, 5))


def test_masks_differ_across_vmap_members_and_reproduce():
    n = 6
    keys = stochastic.member_keys(KEY, n)
    f = jax.vmap(lambda k: stochastic.dropout(k, jnp.ones(128), 0.5))
    m1, m2 = np.asarray(f(keys)), np.asarray(f(stochastic.member_keys(KEY, n)))
    np.testing.assert_array_equal(m1, m2)
    assert len({row.tobytes() for row in m1}) == n
    # A python loop gives the same masks as the vmap.
    for i in range(n):
        np.testing.assert_array_equal(stochastic.dropout(keys[i], jnp.ones(128), 0.5), m1[i])


def test_masks_differ_across_scan_steps_and_reproduce():
    def run(key):
        def body(c, t):
            k = stochastic.step_key(key, t)
            return c, stochastic.dropout(k, jnp.ones(128), 0.5)

        return jax.lax.scan(body, None, jnp.arange(8))[1]

    a, b = np.asarray(jax.jit(run)(KEY)), np.asarray(run(KEY))
    np.testing.assert_array_equal(a, b)
    assert len({row.tobytes() for row in a}) == 8
    for t in range(8):  # step t inside scan equals the eager key of step t
        np.testing.assert_array_equal(
            stochastic.dropout(stochastic.step_key(KEY, t), jnp.ones(128), 0.5), a[t]
        )


# --------------------------------------------------------------------------- jit / vmap


def test_jit_equals_eager():
    x = jax.random.normal(KEY, (16, 8))
    for fn in (
        lambda k, x, r: stochastic.dropout(k, x, r, broadcast_dims=(0,)),
        lambda k, x, r: stochastic.drop_path(k, x, r),
        lambda k, x, r: stochastic.gaussian_dropout(k, x, r),
        lambda k, x, r: stochastic.gaussian_noise(k, x, r),
        lambda k, x, r: stochastic.dropconnect(k, x, r),
    ):
        np.testing.assert_allclose(jax.jit(fn)(KEY, x, 0.3), fn(KEY, x, 0.3), rtol=1e-5, atol=1e-6)


def test_vmap_over_rate_grid_equals_loop_and_compiles_once():
    traces = 0

    def loss(rate, key, x):
        nonlocal traces
        traces += 1
        h = stochastic.dropout(key, x, rate)
        h = stochastic.drop_path(stochastic.step_key(key, 1), h, rate / 2)
        return jnp.mean(h**2)

    x = jax.random.normal(KEY, (32, 16))
    rates = jnp.array([0.0, 0.2, 0.5, 0.8, 1.0])
    keys = stochastic.member_keys(KEY, 5)
    fn = jax.jit(jax.vmap(loss, in_axes=(0, 0, None)))
    out = fn(rates, keys, x)
    out2 = fn(rates[::-1], keys, x)  # new values, same shapes: no retrace
    assert traces == 1
    loop = [loss(rates[i], keys[i], x) for i in range(5)]
    np.testing.assert_allclose(out, np.array(loop), rtol=1e-6)
    np.testing.assert_allclose(out2[0], loss(rates[4], keys[0], x), rtol=1e-6)
    assert float(out[-1]) == 0.0


# --------------------------------------------------------------------------- mc_predict


def test_mc_predict_matches_python_loop_and_pytrees():
    w = jax.random.normal(KEY, (8, 3))
    x = jax.random.normal(jax.random.key(1), (5, 8))

    def apply_fn(key, x):
        h = stochastic.dropout(key, x, 0.3) @ w
        return {"out": h, "sq": h**2}

    mean, var = stochastic.mc_predict(apply_fn, jax.random.key(2), x, 16)
    keys = jax.random.split(jax.random.key(2), 16)
    one = jax.jit(apply_fn)
    samples = np.stack([np.asarray(one(k, x)["out"], np.float64) for k in keys])
    np.testing.assert_allclose(mean["out"], samples.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var["out"], samples.var(0), rtol=1e-4, atol=1e-6)
    assert var["sq"].shape == (5, 3)
    m1, v1 = stochastic.mc_predict(apply_fn, jax.random.key(2), x, 1)
    keys1 = jax.random.split(jax.random.key(2), 1)
    np.testing.assert_array_equal(v1["out"], np.zeros((5, 3)))
    np.testing.assert_allclose(m1["out"], one(keys1[0], x)["out"], rtol=1e-6)


# --------------------------------------------------------------------------- hypothesis


@settings(derandomize=True, deadline=None, database=None, max_examples=15)
@given(
    seed=st.integers(0, 2**31 - 1),
    rate=st.sampled_from([0.0, 0.1, 0.37, 0.5, 0.99, 1.0]),
    shape=st.sampled_from([(7,), (3, 5), (2, 3, 4)]),
)
def test_dropout_outputs_are_zero_or_scaled_input(seed, rate, shape):
    x = jax.random.normal(jax.random.key(seed), shape) + 5.0  # nonzero
    y = np.asarray(stochastic.dropout(jax.random.key(seed + 1), x, rate))
    scaled = np.asarray(x) / (1 - rate) if rate < 1 else np.zeros(shape)
    ok = (y == 0) | np.isclose(y, scaled, rtol=1e-6)
    assert ok.all()
    if rate == 0.0:
        np.testing.assert_array_equal(y, x)
    if rate == 1.0:
        assert not y.any()


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rate", [1.5, -0.1, float("nan")])
def test_bad_rate_raises_naming_call_and_argument(rate):
    with pytest.raises(ValueError, match=r"`regjax\.stochastic\.dropout\(rate=\.\.\.\)` must be"):
        stochastic.dropout(KEY, jnp.ones(3), rate)
    with pytest.raises(ValueError, match=r"drop_path\(rate=\.\.\.\)"):
        stochastic.drop_path(KEY, jnp.ones(3), rate)
    with pytest.raises(ValueError, match=r"dropconnect\(rate=\.\.\.\)"):
        stochastic.dropconnect(KEY, jnp.ones(3), rate)


def test_bad_rate_message_is_exact():
    with pytest.raises(ValueError) as e:
        stochastic.dropout(KEY, jnp.ones(3), 1.5)
    assert str(e.value) == "`regjax.stochastic.dropout(rate=...)` must be in [0, 1]; got 1.5."


@pytest.mark.parametrize(
    "key",
    [0, 1.5, np.zeros(2, np.float32), jnp.zeros(2, jnp.int32), jax.random.split(KEY, 3), None],
)
def test_bad_key_raises_type_error(key):
    for fn in (
        lambda k: stochastic.dropout(k, jnp.ones(3), 0.5),
        lambda k: stochastic.gaussian_noise(k, jnp.ones(3), 0.5),
        lambda k: stochastic.mc_predict(lambda k, x: x, k, jnp.ones(3), 2),
        lambda k: stochastic.step_key(k, 0),
        lambda k: stochastic.member_keys(k, 2),
    ):
        with pytest.raises(TypeError, match=r"`regjax\.stochastic\.\w+\(key=\.\.\.\)`"):
            fn(key)


def test_other_bad_arguments():
    s = r"`regjax\.stochastic\."
    with pytest.raises(ValueError, match=s + r"mc_predict\(n_samples=\.\.\.\)` must be >= 1"):
        stochastic.mc_predict(lambda k, x: x, KEY, jnp.ones(3), 0)
    with pytest.raises(TypeError, match=s + r"mc_predict\(n_samples=\.\.\.\)"):
        stochastic.mc_predict(lambda k, x: x, KEY, jnp.ones(3), 2.0)
    with pytest.raises(TypeError, match=s + r"mc_predict\(apply_fn=\.\.\.\)"):
        stochastic.mc_predict(None, KEY, jnp.ones(3), 2)
    with pytest.raises(
        ValueError, match=s + r"gaussian_dropout\(rate=\.\.\.\)` must be in \[0, 1\)"
    ):
        stochastic.gaussian_dropout(KEY, jnp.ones(3), 1.0)
    with pytest.raises(ValueError, match=s + r"gaussian_noise\(stddev=\.\.\.\)"):
        stochastic.gaussian_noise(KEY, jnp.ones(3), -1.0)
    with pytest.raises(ValueError, match=s + r"drop_path\(mode=\.\.\.\)"):
        stochastic.drop_path(KEY, jnp.ones(3), 0.5, mode="col")
    with pytest.raises(ValueError, match=s + r"dropout\(broadcast_dims=\.\.\.\)"):
        stochastic.dropout(KEY, jnp.ones(3), 0.5, broadcast_dims=(1,))
    with pytest.raises(TypeError, match=s + r"dropout\(x=\.\.\.\)` must be a floating"):
        stochastic.dropout(KEY, jnp.ones(3, jnp.int32), 0.5)
    with pytest.raises(ValueError, match=s + r"dropout\(rate=\.\.\.\)` must be a scalar"):
        stochastic.dropout(KEY, jnp.ones(3), jnp.array([0.1, 0.2]))
    with pytest.raises(TypeError, match=s + r"dropout\(deterministic=\.\.\.\)"):
        stochastic.dropout(KEY, jnp.ones(3), 0.5, deterministic=jnp.array(True))
    with pytest.raises(ValueError, match=s + r"layer_keys\(n=\.\.\.\)"):
        stochastic.layer_keys(KEY, 0)
    with pytest.raises(TypeError, match=s + r"step_key\(step=\.\.\.\)"):
        stochastic.step_key(KEY, 1.5)


def test_traced_bad_rate_reported_by_checkify():
    f = regjax.checks.checkify(lambda r: stochastic.dropout(KEY, jnp.ones(3), r))
    err, _ = jax.vmap(f)(jnp.array([0.5, 1.5]))
    msg = err.get()
    assert msg is not None and "at mapped index 1" in msg and "dropout(rate=...)" in msg
    err, _ = jax.vmap(f)(jnp.array([0.5, 1.0]))
    assert err.get() is None


# --------------------------------------------------------------------------- x64, rate derivatives


@pytest.mark.parametrize("name", ["dropout", "drop_path", "dropconnect", "gaussian_dropout"])
def test_float64_inputs_keep_a_float64_scale_under_x64(name):
    # 1/(1 − p) (and the gaussian noise scale) used to be computed in float32 and
    # cast up: under x64, 1/0.9 came out 1.1111111640930176, not 1.1111111111111112.
    p = 0.1
    with jax.enable_x64(True):
        x = jnp.full((64, 8), 3.0, jnp.float64)
        if name == "dropout":
            y = stochastic.dropout(KEY, x, p)
        elif name == "drop_path":
            y = stochastic.drop_path(KEY, x, p)
        elif name == "dropconnect":
            y = stochastic.dropconnect(KEY, {"kernel": x}, p)["kernel"]
        else:
            y = stochastic.gaussian_dropout(KEY, x, p)
            noise = np.asarray(jax.random.normal(KEY, x.shape, jnp.float64))
            want = 3.0 * (1 + np.sqrt(p / (1 - p)) * noise)
            assert y.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(y), want, rtol=1e-14)
            return
        assert y.dtype == jnp.float64
        kept = np.asarray(y)[np.asarray(y) != 0]
        assert kept.size > 0
        np.testing.assert_array_equal(kept, 3.0 * (1.0 / (1.0 - p)))  # float64 NumPy


def test_flax_dropout_keeps_float64_under_x64():
    from flax import nnx

    with jax.enable_x64(True):
        drop = regjax.flax.Dropout(0.1, rngs=nnx.Rngs(dropout=0))
        y = np.asarray(drop(jnp.ones(256, jnp.float64)))
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y[y != 0], 1.0 / 0.9)


def test_gaussian_dropout_rate_derivative_against_the_analytic_slope():
    x = jnp.array([0.0, 1.0, -2.0, 0.5])
    w = jnp.array([1.0, 2.0, 0.5, -1.0])
    with jax.enable_x64(True):
        noise = np.asarray(jax.random.normal(KEY, (4,), jnp.float64))
        c = float(np.sum(np.asarray(w, np.float64) * np.asarray(x, np.float64) * noise))
        x64, w64 = x.astype(jnp.float64), w.astype(jnp.float64)
        loss = lambda r: jnp.sum(w64 * stochastic.gaussian_dropout(KEY, x64, r))
        # d/dr √(r/(1 − r)) = 1 / (2 √r (1 − r)^{3/2}); the loss is linear in it.
        for r in (1e-6, 1e-3, 0.3):
            want = c / (2 * np.sqrt(r) * (1 - r) ** 1.5)
            assert float(jax.grad(loss)(r)) == pytest.approx(want, rel=1e-9)
        # At r = 0 the slope of √r is infinite: the gradient is the limit, ±inf
        # with the sign of the finite difference, not NaN (it was 0·∞ = NaN).
        g0 = float(jax.grad(loss)(0.0))
        fd = (float(loss(1e-12)) - float(loss(0.0))) / 1e-12
        assert math.isinf(g0) and np.sign(g0) == np.sign(fd) == np.sign(c)
    # Also in float32 and through a nonlinear loss.
    g32 = jax.grad(lambda r: jnp.sum(stochastic.gaussian_dropout(KEY, x, r) ** 2))(0.0)
    assert not np.isnan(float(g32))


@pytest.mark.parametrize("name", ["dropout", "drop_path", "dropconnect"])
def test_a_traced_nan_rate_gives_nan_not_zeros(name):
    # A NaN rate escapes the concrete check when traced; the output used to be
    # all zeros (1/(1 − p) was replaced by 0 wherever 1 − p > 0 was False).
    x = jnp.ones((16, 4))
    ops = {
        "dropout": lambda r: stochastic.dropout(KEY, x, r),
        "drop_path": lambda r: stochastic.drop_path(KEY, x, r),
        "dropconnect": lambda r: stochastic.dropconnect(KEY, {"kernel": x}, r)["kernel"],
    }
    y = np.asarray(jax.jit(ops[name])(jnp.float32(np.nan)))
    assert np.isnan(y).any() and not (y == 0).all()
