"""The opt-in placement check of ``transforms.sam`` (under ``regjax.checks.checkify``).

On the quadratic loss ‖w‖², whose gradient 2w is known in closed form, SGD's step
is exactly −lr·2w, so the cosine the check reports is −1 by definition.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import regjax
from regjax import transforms as T

ADVICE = (
    "`regjax.transforms.sam(...).update(updates=...)` points against the gradient "
    "grad_fn(params) (cosine {cos}): sam was given a descent step, not a gradient, so it "
    "would climb the loss. Place it first, `optax.chain(regjax.transforms.sam(rho), opt)`, "
    "or use `regjax.transforms.sam(rho, base_optimizer=opt)`."
)


def _grad_fn(p):
    return {"w": 2 * p["w"]}


def _checked_step(tx, params, grad_fn=_grad_fn):
    def step(p):
        u, _ = tx.update(grad_fn(p), tx.init(p), p, grad_fn=grad_fn)
        return u

    err, _ = jax.jit(regjax.checks.checkify(step))(params)
    return err.get()


def test_the_report_gives_the_true_cosine_and_the_whole_advice():
    params = {"w": jnp.array([0.5, -1.5, 2.0])}
    msg = _checked_step(optax.chain(optax.sgd(0.1), T.sam(0.05)), params)
    assert msg is not None
    cos = re.search(r"\(cosine (\S+)\)", msg)
    assert cos is not None, msg
    np.testing.assert_allclose(float(cos.group(1)), -1.0, atol=1e-6)
    assert ADVICE.format(cos=cos.group(1)) in msg


def test_a_gradient_of_norm_below_one_is_checked_too():
    params = {"w": jnp.array([1e-3, -2e-3])}  # |grad| = 4.5e-3
    msg = _checked_step(optax.chain(optax.sgd(0.1), T.sam(0.05)), params)
    assert msg is not None and "points against the gradient" in msg


def test_a_stationary_point_is_not_reported():
    # Zero updates and a zero gradient: nothing points against anything.
    params = {"w": jnp.zeros(3)}
    for tx in (optax.chain(T.sam(0.05), optax.sgd(0.1)), optax.chain(optax.sgd(0.1), T.sam(0.05))):
        assert _checked_step(tx, params) is None


def test_a_wrong_grad_fn_is_reported_by_sam_under_checkify():
    params = {"w": jnp.ones(3)}
    wrong = lambda p: {"v": 2 * p["w"]}
    with pytest.raises(ValueError, match=r"^`regjax\.transforms\.sam\(\.\.\.\)\.update\(grad_fn"):
        _checked_step(T.sam(0.05), params, grad_fn=wrong)


# ---- the perturbation and the returned gradient, against NumPy ------------------


def _eps_np(grads, params, flags, rho, adaptive, eta, eps0):
    g = {k: np.asarray(v, np.float64) for k, v in grads.items()}
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    t = {k: (np.abs(p[k]) + eta if adaptive else np.ones_like(p[k])) for k in p}
    norm = np.sqrt(sum(np.sum((t[k] * g[k]) ** 2) for k in p if flags[k]))
    coef = 0.0 if norm == 0 else rho / (norm + eps0)
    return {k: (coef * t[k] ** 2 * g[k] if flags[k] else np.zeros_like(p[k])) for k in p}


def _tree():
    params = {
        "a": jnp.asarray([0.5, -1.0, 2.0], jnp.float32),
        "b": jnp.asarray([[1.5, -0.25], [0.0, 3.0]], jnp.bfloat16),
        "c": jnp.asarray([4.0, -4.0], jnp.float32),
    }
    grads = {
        "a": jnp.asarray([0.3, 0.2, -0.1], jnp.float32),
        "b": jnp.asarray([[-0.5, 0.75], [0.25, 0.125]], jnp.bfloat16),
        "c": jnp.asarray([10.0, 20.0], jnp.float32),
    }
    return params, grads


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize("form", ["transform", "value_and_grad"])
def test_masked_mixed_dtype_perturbation_matches_numpy(adaptive, form):
    # "c" is masked out: its large gradient must not enter the norm; eps0 = 0.5
    # and eta = 0.3 are large enough that dropping or moving either shows
    params, grads = _tree()
    flags = {"a": True, "b": True, "c": False}
    rho, eta, eps0 = 0.7, 0.3, 0.5
    want = _eps_np(grads, params, flags, rho, adaptive, eta, eps0)
    seen = []

    def grad_fn(p):
        seen.append(p)
        return jax.tree.map(lambda x: 2 * x, p)

    if form == "transform":
        tx = T.sam(rho, adaptive=adaptive, eta=eta, eps=eps0, mask=flags)
        out, _ = tx.update(grads, tx.init(params), params, grad_fn=grad_fn)
    else:
        # a loss whose gradient at params is `grads` and at any point q is 2q + (grads - 2 params)
        shift = jax.tree.map(
            lambda g, p: g.astype(jnp.float32) - 2 * p.astype(jnp.float32), grads, params
        )

        def loss(q):
            return sum(
                jnp.sum(x.astype(jnp.float32) ** 2 + s * x.astype(jnp.float32))
                for x, s in zip(jax.tree.leaves(q), jax.tree.leaves(shift))
            )

        f = T.sam_value_and_grad(loss, rho, adaptive=adaptive, eta=eta, eps=eps0, mask=flags)
        value, out = f(params)
        assert float(value) == pytest.approx(float(loss(params)))
        seen.append(
            jax.tree.map(
                lambda p, e: p + e.astype(p.dtype),
                params,
                {k: jnp.asarray(v) for k, v in want.items()},
            )
        )
    perturbed = seen[-1]
    for k in params:
        assert perturbed[k].dtype == params[k].dtype
        tol = 1e-2 if params[k].dtype == jnp.bfloat16 else 1e-6
        np.testing.assert_allclose(
            np.asarray(perturbed[k], np.float64),
            np.asarray(params[k], np.float64) + want[k],
            rtol=tol,
            atol=tol * 1e-2,
        )
        assert out[k].dtype == grads[k].dtype
    np.testing.assert_array_equal(np.asarray(perturbed["c"]), np.asarray(params["c"]))


def test_the_returned_gradient_is_taken_at_the_perturbed_point_in_the_updates_dtype():
    params, grads = _tree()

    def grad_fn(p):  # returns float32 for every leaf
        return jax.tree.map(lambda x: 3 * x.astype(jnp.float32) + 1, p)

    tx = T.sam(0.2)
    out, _ = tx.update(grads, tx.init(params), params, grad_fn=grad_fn)
    want = _eps_np(grads, params, {k: True for k in params}, 0.2, False, 0.0, 1e-12)
    for k in params:
        assert out[k].dtype == grads[k].dtype
        tol = 3e-2 if params[k].dtype == jnp.bfloat16 else 1e-5
        np.testing.assert_allclose(
            np.asarray(out[k], np.float64),
            3 * (np.asarray(params[k], np.float64) + want[k]) + 1,
            rtol=tol,
        )


def test_a_rho_schedule_is_read_at_each_step_and_the_count_advances():
    params = {"w": jnp.asarray([1.0, -2.0])}

    def schedule(count):
        return 0.1 * (count.astype(jnp.float32) + 1)

    tx = T.sam(schedule)
    state = tx.init(params)
    for step in range(3):
        g = {"w": 2 * params["w"]}
        seen = []
        _, state = tx.update(
            g, state, params, grad_fn=lambda p, seen=seen: seen.append(p) or {"w": 2 * p["w"]}
        )
        rho = 0.1 * (step + 1)
        gw = np.asarray(g["w"], np.float64)
        want = np.asarray(params["w"]) + rho * gw / (np.linalg.norm(gw) + 1e-12)
        np.testing.assert_allclose(np.asarray(seen[-1]["w"]), want, rtol=1e-6)
        assert int(state.count) == step + 1


def test_a_traced_zero_rho_returns_the_gradient_at_params():
    params = {"w": jnp.asarray([1.0, -2.0])}
    g = {"w": jnp.asarray([0.5, 0.5])}

    @jax.jit
    def step(rho):
        tx = T.sam(rho)
        return tx.update(g, tx.init(params), params, grad_fn=lambda p: {"w": 4 * p["w"]})[0]

    np.testing.assert_allclose(np.asarray(step(jnp.asarray(0.0))["w"]), [4.0, -8.0])


def test_micro_batches_with_aux_average_the_loss_and_stack_the_aux():
    def loss(w, batch):
        r = batch["x"] @ w - batch["y"]
        return jnp.mean(r**2), {"r": r}

    rng = np.random.RandomState(0)
    batch = {
        "x": jnp.asarray(rng.randn(6, 3), jnp.float32),
        "y": jnp.asarray(rng.randn(6), jnp.float32),
    }
    w = jnp.asarray([0.5, -0.5, 1.0])
    f = T.sam_value_and_grad(loss, 0.3, has_aux=True, micro_batch_size=2)
    (value, aux), grads = f(w, batch)
    plain = T.sam_value_and_grad(loss, 0.3, has_aux=True)
    losses, gs, auxes = [], [], []
    for i in range(3):
        mb = jax.tree.map(lambda x, i=i: x[2 * i : 2 * i + 2], batch)
        (li, ai), gi = plain(w, mb)
        losses.append(li)
        gs.append(gi)
        auxes.append(ai["r"])
    assert float(value) == pytest.approx(float(np.mean(losses)), rel=1e-6)
    np.testing.assert_allclose(np.asarray(grads), np.mean(np.stack(gs), axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(aux["r"]), np.stack(auxes), rtol=1e-6)
    assert aux["r"].shape == (3, 2)


def test_micro_batches_use_the_chosen_batch_argument():
    def loss(w, scale, batch):
        return scale * jnp.mean((batch @ w) ** 2)

    rng = np.random.RandomState(1)
    batch = jnp.asarray(rng.randn(4, 2), jnp.float32)
    w = jnp.asarray([1.0, 2.0])
    f = T.sam_value_and_grad(loss, 0.2, micro_batch_size=2, batch_argnum=2)
    value, grads = f(w, 3.0, batch)
    plain = T.sam_value_and_grad(loss, 0.2)
    parts = [plain(w, 3.0, batch[i : i + 2]) for i in (0, 2)]
    assert float(value) == pytest.approx(float(np.mean([v for v, _ in parts])), rel=1e-6)
    np.testing.assert_allclose(
        np.asarray(grads), np.mean([np.asarray(g) for _, g in parts], axis=0), rtol=1e-5
    )
