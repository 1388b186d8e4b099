"""SAM and ASAM: against optax.contrib.sam, NumPy formulas and micro-batch loops."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import regjax
from regjax import transforms as T


def _mlp_params(key=0):
    k1, k2 = jax.random.split(jax.random.key(key))
    return {
        "l1": {"kernel": 0.5 * jax.random.normal(k1, (4, 8)), "bias": jnp.zeros(8)},
        "l2": {"kernel": 0.5 * jax.random.normal(k2, (8, 1)), "bias": jnp.zeros(1)},
    }


def _mlp_loss(params, batch):
    x, y = batch
    h = jnp.tanh(x @ params["l1"]["kernel"] + params["l1"]["bias"][None, :])
    pred = h @ params["l2"]["kernel"] + params["l2"]["bias"][None, :]
    return jnp.mean((pred - y) ** 2)


def _batch(n=16, key=3):
    kx, ky = jax.random.split(jax.random.key(key))
    x = jax.random.normal(kx, (n, 4))
    return x, jnp.sin(x[:, :1]) + 0.1 * jax.random.normal(ky, (n, 1))


def _run(tx, params, batch, n):
    grad_fn = lambda p: jax.grad(_mlp_loss)(p, batch)

    def body(carry, _):
        p, s = carry
        u, s = tx.update(grad_fn(p), s, p, grad_fn=grad_fn)
        return (optax.apply_updates(p, u), s), None

    (p, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=n)
    return p


@pytest.mark.parametrize("rho", [0.0, 0, jnp.asarray(0.0)])
def test_rho_zero_reproduces_base_optimizer_exactly(rho):
    params, batch = _mlp_params(), _batch()
    ours = jax.jit(lambda p: _run(optax.chain(T.sam(rho), optax.sgd(0.1)), p, batch, 5))(params)
    base = jax.jit(lambda p: _run(optax.sgd(0.1), p, batch, 5))(params)
    chex.assert_trees_all_equal(ours, base)


def test_zero_gradient_gives_no_nan_unlike_optax_contrib():
    w = jnp.zeros(3)
    grad_fn = jax.grad(lambda p: jnp.sum(p**2))  # zero at w = 0
    for adaptive in (False, True):
        tx = optax.chain(T.sam(0.05, adaptive=adaptive), optax.sgd(0.1))
        u, _ = tx.update(grad_fn(w), tx.init(w), w, grad_fn=grad_fn)
        np.testing.assert_array_equal(u, 0.0)
    peer = optax.contrib.sam(
        optax.sgd(0.1),
        optax.chain(optax.contrib.normalize(), optax.sgd(0.05)),
        opaque_mode=True,
    )
    u, _ = peer.update(grad_fn(w), peer.init(w), w, grad_fn=lambda p, _: grad_fn(p))
    assert np.all(np.isnan(np.asarray(u)))


@pytest.mark.parametrize("form", ["chain", "wrapper"])
def test_trajectory_matches_optax_contrib_sam_opaque(form):
    # In float64: two mathematically equal float32 programs drift apart by
    # rounding over 20 steps (1e-4 relative on CI), which says nothing about
    # SAM; in float64 the same trajectories agree to ~1e-12, so a tight
    # tolerance still catches any real difference (regjax's eps=1e-12 in the
    # norm, absent from optax, contributes ~1e-12 relative).
    with jax.enable_x64(True):
        f64 = lambda tree: jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tree)
        params, batch = f64(_mlp_params()), f64(_batch())
        rho, lr = 0.05, 0.1
        if form == "chain":
            ours = optax.chain(T.sam(rho), optax.sgd(lr))
        else:
            ours = T.sam(rho, base_optimizer=optax.sgd(lr))
        peer = optax.contrib.sam(
            optax.sgd(lr),
            optax.chain(optax.contrib.normalize(), optax.sgd(rho)),
            sync_period=2,
            opaque_mode=True,
        )
        grad_fn = lambda p: jax.grad(_mlp_loss)(p, batch)
        p, s = params, ours.init(params)
        q, r = params, peer.init(params)
        step_ours = jax.jit(lambda p, s: ours.update(grad_fn(p), s, p, grad_fn=grad_fn))
        step_peer = jax.jit(
            lambda q, r: peer.update(grad_fn(q), r, q, grad_fn=lambda x, _: grad_fn(x))
        )
        for _ in range(20):
            u, s = step_ours(p, s)
            v, r = step_peer(q, r)
            p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
        assert all(a.dtype == jnp.float64 for a in jax.tree.leaves(p))
        chex.assert_trees_all_close(p, q, rtol=1e-10, atol=1e-12)
        moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), p, params)
        assert max(jax.tree.leaves(moved)) > 1e-2


def test_sam_and_asam_perturbations_match_numpy():
    params, batch = _mlp_params(), _batch()
    g = jax.grad(_mlp_loss)(params, batch)
    rho, eta = 0.1, 0.01
    flat_p = [np.asarray(x, np.float64) for x in jax.tree.leaves(params)]
    flat_g = [np.asarray(x, np.float64) for x in jax.tree.leaves(g)]
    for adaptive in (False, True):
        t = [np.abs(p) + eta if adaptive else np.ones_like(p) for p in flat_p]
        norm = np.sqrt(sum(np.sum((ti * gi) ** 2) for ti, gi in zip(t, flat_g)))
        expected = [p + rho * ti**2 * gi / norm for p, ti, gi in zip(flat_p, t, flat_g)]
        seen = []

        def grad_fn(p, seen=seen):
            seen.append(p)
            return jax.grad(_mlp_loss)(p, batch)

        tx = T.sam(rho, adaptive=adaptive)
        u, _ = tx.update(g, tx.init(params), params, grad_fn=grad_fn)
        for got, want in zip(jax.tree.leaves(seen[-1]), expected):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(u, jax.grad(_mlp_loss)(seen[-1], batch), rtol=1e-6)


def test_mask_leaves_chosen_leaves_unperturbed():
    params, batch = _mlp_params(), _batch()
    g = jax.grad(_mlp_loss)(params, batch)
    seen = []

    def grad_fn(p):
        seen.append(p)
        return jax.grad(_mlp_loss)(p, batch)

    tx = T.sam(0.1, mask=regjax.masks.weights_only)
    tx.update(g, tx.init(params), params, grad_fn=grad_fn)
    perturbed = seen[-1]
    for layer in ("l1", "l2"):
        np.testing.assert_array_equal(perturbed[layer]["bias"], params[layer]["bias"])
        assert not np.array_equal(perturbed[layer]["kernel"], params[layer]["kernel"])
    # The norm runs over the perturbed leaves only: ‖ε‖ = ρ.
    eps = [perturbed[k]["kernel"] - params[k]["kernel"] for k in ("l1", "l2")]
    assert float(jnp.sqrt(sum(jnp.sum(e**2) for e in eps))) == pytest.approx(0.1, rel=1e-4)


def test_grad_fn_with_aux_keeps_the_unperturbed_aux():
    params, batch = _mlp_params(), _batch()

    def loss_aux(p, b):
        return _mlp_loss(p, b), {"stat": p["l1"]["kernel"].sum()}

    value_and_grad = jax.value_and_grad(loss_aux, has_aux=True)
    (_, aux), g = value_and_grad(params, batch)
    tx = optax.chain(T.sam(0.05), optax.sgd(0.1))
    grad_aux_fn = lambda p: jax.grad(loss_aux, has_aux=True)(p, batch)
    u, _ = tx.update(g, tx.init(params), params, grad_fn=grad_aux_fn)
    u_plain, _ = tx.update(g, tx.init(params), params, grad_fn=lambda p: grad_aux_fn(p)[0])
    chex.assert_trees_all_equal(u, u_plain)
    # The function transform returns the value and aux of the unperturbed pass.
    f = T.sam_value_and_grad(loss_aux, 0.05, has_aux=True)
    (value, aux_f), grads = f(params, batch)
    assert float(value) == pytest.approx(float(_mlp_loss(params, batch)))
    chex.assert_trees_all_equal(aux_f, aux)
    chex.assert_trees_all_close(grads, jax.tree.map(lambda x: -x / 0.1, u), rtol=1e-5, atol=1e-7)


def test_sam_value_and_grad_vmapped_over_rho_compiles_once():
    params, batch = _mlp_params(), _batch()
    traces = 0

    def grads_at(rho):
        nonlocal traces
        traces += 1
        return T.sam_value_and_grad(_mlp_loss, rho)(params, batch)[1]

    grid = jnp.asarray([0.0, 0.05, 0.2])
    batched = jax.jit(jax.vmap(grads_at))(grid)
    assert traces == 1
    for i, rho in enumerate([0.0, 0.05, 0.2]):
        tx = T.sam(rho)
        ref, _ = tx.update(
            jax.grad(_mlp_loss)(params, batch),
            tx.init(params),
            params,
            grad_fn=lambda p: jax.grad(_mlp_loss)(p, batch),
        )
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], batched), ref, rtol=1e-5, atol=1e-7
        )


@pytest.mark.parametrize("adaptive", [False, True])
def test_m_sharpness_equals_loop_over_micro_batches(adaptive):
    params, batch = _mlp_params(), _batch(n=12)
    m, rho = 4, 0.1
    f = jax.jit(T.sam_value_and_grad(_mlp_loss, rho, adaptive=adaptive, micro_batch_size=m))
    value, grads = f(params, batch)
    per = []
    losses = []
    for i in range(0, 12, m):
        micro = jax.tree.map(lambda a, i=i: a[i : i + m], batch)
        g = jax.grad(_mlp_loss)(params, micro)
        tx = T.sam(rho, adaptive=adaptive)
        per.append(
            tx.update(
                g, tx.init(params), params, grad_fn=lambda p, b=micro: jax.grad(_mlp_loss)(p, b)
            )[0]
        )
        losses.append(float(_mlp_loss(params, micro)))
    ref = jax.tree.map(lambda *gs: sum(gs) / len(gs), *per)
    chex.assert_trees_all_close(grads, ref, rtol=1e-5, atol=1e-7)
    assert float(value) == pytest.approx(np.mean(losses), rel=1e-6)
    # m-sharpness differs from one ε for the whole batch.
    whole = T.sam_value_and_grad(_mlp_loss, rho, adaptive=adaptive)(params, batch)[1]
    assert not np.allclose(grads["l1"]["kernel"], whole["l1"]["kernel"], atol=1e-6)


def test_bad_sam_input():
    params = jnp.ones(2)
    tx = T.sam(0.1)
    with pytest.raises(
        ValueError, match=r"`regjax\.transforms\.sam\(\.\.\.\)\.update` needs `grad_fn=`"
    ):
        tx.update(params, tx.init(params), params)
    with pytest.raises(ValueError, match=r"`regjax\.transforms\.sam\(rho=\.\.\.\)`"):
        T.sam(-0.1)
    with pytest.raises(TypeError, match=r"sam\(rho=\.\.\.\)"):
        T.sam("0.1")
    with pytest.raises(ValueError, match=r"sam_value_and_grad\(micro_batch_size=4\)"):
        T.sam_value_and_grad(_mlp_loss, 0.1, micro_batch_size=4)(_mlp_params(), _batch(n=6))


def test_wrapper_form_equals_sam_first_in_a_chain_with_momentum_and_schedule():
    params, batch = _mlp_params(), _batch()
    rho = lambda count: 0.01 + 0.02 * count.astype(jnp.float32)
    base = optax.sgd(0.05, momentum=0.9)  # a stateful base (adam fails strict promotion)
    ours = jax.jit(lambda p: _run(T.sam(rho, adaptive=True, base_optimizer=base), p, batch, 6))
    ref = jax.jit(lambda p: _run(optax.chain(T.sam(rho, adaptive=True), base), p, batch, 6))
    chex.assert_trees_all_equal(ours(params), ref(params))
    state = T.sam(0.05, base_optimizer=base).init(params)
    assert isinstance(state.base_state, type(base.init(params)))


def test_wrapper_form_descends_where_sam_after_the_optimizer_climbs():
    # The misuse the wrapper rules out: SAM after the base optimizer sees a
    # descent step, perturbs downhill and emits a raw gradient, which
    # apply_updates adds. The wrapper cannot be ordered wrongly.
    params, batch = _mlp_params(), _batch()
    loss0 = float(_mlp_loss(params, batch))
    wrong = optax.chain(optax.sgd(0.1), T.sam(0.05))
    right = T.sam(0.05, base_optimizer=optax.sgd(0.1))
    assert float(_mlp_loss(_run(wrong, params, batch, 10), batch)) > loss0
    assert float(_mlp_loss(_run(right, params, batch, 10), batch)) < 0.9 * loss0


def test_wrapper_forwards_extra_args_but_not_grad_fn_to_the_base_optimizer():
    seen = {}

    def update(updates, state, params=None, **extra):
        seen.update(extra)
        return updates, state

    base = optax.GradientTransformationExtraArgs(lambda p: optax.EmptyState(), update)
    tx = T.sam(0.05, base_optimizer=base)
    w = jnp.array([1.0, 2.0])
    tx.update(w, tx.init(w), w, grad_fn=lambda p: p, value=jnp.float32(3.0))
    assert set(seen) == {"value"}
    with pytest.raises(TypeError, match=r"`regjax\.transforms\.sam\(base_optimizer=\.\.\.\)`"):
        T.sam(0.05, base_optimizer=optax.sgd)


class _Net(nnx.Module):
    def __init__(self, rngs):
        self.l1 = nnx.Linear(4, 8, rngs=rngs)
        self.l2 = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(jnp.tanh(self.l1(x)))


@pytest.mark.parametrize("form", ["chain", "wrapper"])
def test_nnx_optimizer_with_the_grad_fn_nnx_grad_returns(form):
    x, y = _batch()
    loss_fn = lambda m: jnp.mean((m(x) - y) ** 2)
    model = _Net(nnx.Rngs(0))
    rho, lr = 0.05, 0.1
    tx = (
        optax.chain(T.sam(rho), optax.sgd(lr))
        if form == "chain"
        else T.sam(rho, base_optimizer=optax.sgd(lr))
    )
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    graphdef, params0, rest = nnx.split(model, nnx.Param, ...)
    w0 = jax.tree.map(jnp.array, params0)  # a copy: the optimizer updates the model in place

    def grad_fn(params):
        return nnx.grad(loss_fn)(nnx.merge(graphdef, params, rest))

    optimizer.update(model, nnx.grad(loss_fn)(model), grad_fn=grad_fn)
    # Reference: SAM by hand, jax.grad of a pure function and float64 NumPy.
    pure_loss = lambda w: loss_fn(nnx.merge(graphdef, w, rest))
    g = jax.tree.map(lambda a: np.asarray(a, np.float64), jax.grad(pure_loss)(w0))
    norm = np.sqrt(sum(np.sum(a**2) for a in jax.tree.leaves(g)))
    perturbed = jax.tree.map(
        lambda w, gi: jnp.asarray(np.asarray(w, np.float64) + rho * gi / norm, jnp.float32), w0, g
    )
    g_sam = jax.grad(pure_loss)(perturbed)
    want = jax.tree.map(lambda w, gi: np.asarray(w) - lr * np.asarray(gi), w0, g_sam)
    got = nnx.state(model, nnx.Param)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(jax.tree.leaves(got)[0], jax.tree.leaves(w0)[0])


def test_grad_fn_with_wrong_leaves_names_them_without_a_treedef_dump():
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    tx = T.sam(0.1)
    with pytest.raises(ValueError, match=r"missing \['b'\]") as info:
        tx.update(params, tx.init(params), params, grad_fn=lambda p: {"a": p["a"]})
    assert "PyTreeDef" not in str(info.value)


def test_a_nan_gradient_is_not_turned_into_a_finite_sam_gradient():
    # A NaN in the incoming gradient used to give ε = 0 (NaN > 0 is False), so
    # SAM returned the finite gradient at w and hid the NaN.
    w = jnp.array([1.0, 2.0])
    grad_fn = jax.grad(lambda p: jnp.sum(p**2))
    for adaptive in (False, True):
        tx = T.sam(0.05, adaptive=adaptive)
        u, _ = tx.update(jnp.array([np.nan, 1.0]), tx.init(w), w, grad_fn=grad_fn)
        assert np.isnan(np.asarray(u)).all()


def test_sam_after_the_optimizer_is_reported_under_checkify():
    params, batch = _mlp_params(), _batch()
    grad_fn = lambda p: jax.grad(_mlp_loss)(p, batch)

    def step(tx, p):
        u, _ = tx.update(grad_fn(p), tx.init(p), p, grad_fn=grad_fn)
        return u

    for base in (optax.sgd(0.1), optax.rmsprop(0.01), optax.sgd(0.1, momentum=0.9)):
        wrong = optax.chain(base, T.sam(0.05))
        err, _ = jax.jit(regjax.checks.checkify(lambda p, tx=wrong: step(tx, p)))(params)
        assert "points against the gradient" in err.get()
        assert "base_optimizer=opt" in err.get()
    for right in (
        optax.chain(T.sam(0.05), optax.sgd(0.1)),
        T.sam(0.05, base_optimizer=optax.sgd(0.1)),
    ):
        err, _ = jax.jit(regjax.checks.checkify(lambda p, tx=right: step(tx, p)))(params)
        assert err.get() is None
    # Without checkify there is no extra grad_fn call.
    calls = []
    tx = T.sam(0.05)
    tx.update(
        grad_fn(params), tx.init(params), params, grad_fn=lambda p: calls.append(1) or grad_fn(p)
    )
    assert len(calls) == 1
