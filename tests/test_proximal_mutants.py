"""The proximal transforms' update against NumPy: w⁺ = prox(w + u, η_t·λ_t), per leaf.

Checked on a masked tree of mixed dtypes with per-leaf strengths, with the
strength and the learning rate as schedules read at the step count, so that
every piece of the update (the moved point, the threshold, which leaves are
touched, the returned difference and its dtype, the counter) shows in the
result.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

import regjax
from regjax import transforms as T


def _soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def _tree():
    params = {
        "a": jnp.asarray([0.5, -1.0, 2.0, 0.05], jnp.float32),
        "b": jnp.asarray([[1.5, -0.25], [0.0, 3.0]], jnp.bfloat16),
        "c": jnp.asarray([4.0, -4.0], jnp.float32),
    }
    updates = {
        "a": jnp.asarray([0.25, 0.5, -0.5, 0.0], jnp.float32),
        "b": jnp.asarray([[-0.5, 0.5], [0.25, -1.0]], jnp.float32),
        "c": jnp.asarray([1.0, 1.0], jnp.float32),
    }
    return params, updates


def _f64(x):
    return np.asarray(x, np.float64)


def test_proximal_l1_with_schedules_per_leaf_strengths_and_a_mask():
    params, updates = _tree()
    mask = {"a": True, "b": True, "c": False}
    strength = {"a": 0.5, "b": 0.25, "c": 10.0}
    lr_at = lambda c: 0.5 + c.astype(jnp.float32)
    tx = T.proximal_l1(strength, lr_at, mask=mask)
    state = tx.init(params)
    for step in range(3):
        out, state = tx.update(updates, state, params)
        lr = 0.5 + step
        for k in params:
            assert out[k].dtype == updates[k].dtype
            p, u = _f64(params[k]), _f64(updates[k])
            want = _soft(p + u, lr * strength[k]) - p if mask[k] else u
            tol = 2e-2 if params[k].dtype == jnp.bfloat16 else 1e-6
            np.testing.assert_allclose(_f64(out[k]), want, rtol=tol, atol=tol)
        assert int(state.count) == step + 1
    # the masked-out leaf passes its update through untouched
    np.testing.assert_array_equal(np.asarray(out["c"]), np.asarray(updates["c"]))


def test_a_strength_schedule_is_read_at_each_step():
    params = {"w": jnp.asarray([1.0, -3.0, 0.2])}
    updates = {"w": jnp.zeros(3)}
    tx = T.proximal_l1(lambda c: 0.1 * (c.astype(jnp.float32) + 1), 2.0)
    state = tx.init(params)
    for step in range(3):
        out, state = tx.update(updates, state, params)
        want = _soft(_f64(params["w"]), 2.0 * 0.1 * (step + 1)) - _f64(params["w"])
        np.testing.assert_allclose(_f64(out["w"]), want, rtol=1e-6)


@pytest.mark.parametrize("r", [1.0, 0.4, 0.0])
def test_proximal_elastic_net_is_scaled_soft_thresholding(r):
    params, updates = _tree()
    lam, lr = 0.8, 0.5
    tx = T.proximal_elastic_net(lam, r, lr)
    out, _ = tx.update(updates, tx.init(params), params)
    for k in params:
        p, u = _f64(params[k]), _f64(updates[k])
        want = _soft(p + u, lr * lam * r) / (1 + lr * lam * (1 - r)) - p
        tol = 2e-2 if params[k].dtype == jnp.bfloat16 else 1e-6
        np.testing.assert_allclose(_f64(out[k]), want, rtol=tol, atol=tol)


def test_proximal_group_lasso_shrinks_each_row_by_its_norm():
    W = jnp.asarray([[3.0, 4.0], [0.3, 0.4], [-6.0, 8.0]])
    U = jnp.asarray([[0.0, 0.0], [0.0, 0.0], [1.0, -1.0]])
    lam, lr = 2.0, 0.5
    tx = T.proximal_group_lasso(lam, lr)  # rows (slices along axis 0) are the groups
    out, _ = tx.update({"w": U}, tx.init({"w": W}), {"w": W})
    V = _f64(W) + _f64(U)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    want = V * np.maximum(1 - lr * lam * np.sqrt(V.shape[1]) / norms, 0) - _f64(W)
    got = _f64(out["w"])
    # the middle row's norm (0.5) is below the threshold: it goes to exactly zero
    np.testing.assert_array_equal(got[1] + _f64(W)[1], 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_proximal_nuclear_is_singular_value_thresholding():
    rng = np.random.RandomState(0)
    W = jnp.asarray(rng.randn(4, 3), jnp.float32)
    U = jnp.asarray(0.1 * rng.randn(4, 3), jnp.float32)
    lam, lr = 0.7, 0.5
    tx = T.proximal_nuclear(lam, lr)
    out, _ = tx.update({"w": U}, tx.init({"w": W}), {"w": W})
    u, s, vt = np.linalg.svd(_f64(W) + _f64(U), full_matrices=False)
    want = u @ np.diag(np.maximum(s - lr * lam, 0)) @ vt - _f64(W)
    np.testing.assert_allclose(_f64(out["w"]), want, rtol=1e-5, atol=1e-5)


def test_generic_proximal_passes_the_moved_point_and_the_threshold():
    seen = []

    def prox_fn(x, t):
        seen.append((x, t))
        return regjax.prox.l1(x, t)

    params, updates = _tree()
    tx = T.proximal(prox_fn, 0.3, 2.0, mask={"a": True, "b": False, "c": True})
    out, _ = tx.update(updates, tx.init(params), params)
    x, t = seen[-1]
    np.testing.assert_allclose(_f64(x["a"]), _f64(params["a"]) + _f64(updates["a"]), rtol=1e-7)
    assert float(t["a"]) == pytest.approx(0.6)
    assert isinstance(x["b"], optax.MaskedNode) and isinstance(t["b"], optax.MaskedNode)
    np.testing.assert_array_equal(np.asarray(out["b"]), np.asarray(updates["b"]))
    want_c = _soft(_f64(params["c"]) + _f64(updates["c"]), 0.6) - _f64(params["c"])
    np.testing.assert_allclose(_f64(out["c"]), want_c, rtol=1e-6)


def test_in_a_chain_after_sgd_the_step_is_the_prox_of_the_gradient_step():
    params = {"w": jnp.asarray([1.0, -0.2, 0.05])}
    grads = {"w": jnp.asarray([0.5, -0.5, 0.1])}
    tx = optax.chain(optax.sgd(0.1), T.proximal_l1(0.4, 0.1))
    out, _ = tx.update(grads, tx.init(params), params)
    v = _f64(params["w"]) - 0.1 * _f64(grads["w"])
    np.testing.assert_allclose(
        _f64(params["w"]) + _f64(out["w"]), _soft(v, 0.04), rtol=1e-6, atol=1e-7
    )


def _message(fn):
    with pytest.raises(ValueError) as err:
        fn()
    return str(err.value)


def test_errors_name_the_transform_and_the_argument():
    p = {"w": jnp.ones(2)}
    assert _message(lambda: T.proximal_l1(-1.0, 0.1)).startswith(
        "`regjax.transforms.proximal_l1(strength=...)` must be"
    )
    assert _message(lambda: T.proximal_l1(0.1, -1.0)).startswith(
        "`regjax.transforms.proximal_l1(learning_rate=...)` must be"
    )
    tx = T.proximal_l1(0.1, 0.1)
    assert _message(lambda: tx.update(p, tx.init(p))).startswith(
        "`regjax.transforms.proximal_l1(...).update` needs the current parameters"
    )
    assert _message(lambda: tx.update({"w": None}, tx.init(p), p)) == (
        "`regjax.transforms.proximal_l1(...).update(updates=...)` holds None, optax's marker "
        "for params without an update; a proximal step needs an update, possibly zero, for "
        "every param: pass `jnp.zeros_like(p)` where there is none."
    )
    bad = T.proximal_l1(lambda c: -1.0, 0.1)
    assert _message(lambda: bad.update(p, bad.init(p), p)).startswith(
        "`regjax.transforms.proximal_l1(strength=...)` must be"
    )


def test_docstrings_carry_the_shared_paragraph_on_what_a_step_minimizes():
    for fn in (T.proximal, T.proximal_l1, T.proximal_elastic_net, T.proximal_group_lasso):
        assert "**What it minimizes.**" in fn.__doc__
        assert "{objective}" not in fn.__doc__


def test_update_time_errors_name_the_transform_the_argument_and_the_leaf():
    q = {"w": jnp.ones(2)}
    lr = T.proximal_l1(0.1, lambda c: -1.0)
    assert _message(lambda: lr.update(q, lr.init(q), q)).startswith(
        "`regjax.transforms.proximal_l1(learning_rate=...)` must be"
    )
    tree = T.proximal_l1({"x": 0.1}, 0.1)
    assert _message(lambda: tree.update(q, tree.init(q), q)).startswith(
        "`regjax.transforms.proximal_l1(strength=...)` must be a scalar, or a pytree"
    )
    masked = T.proximal_l1(0.1, 0.1, mask={"x": True})
    assert _message(lambda: masked.update(q, masked.init(q), q)).startswith(
        "`regjax.transforms.proximal_l1(mask=...)` must have the structure of the params"
    )
    p = {"w": jnp.ones(2), "i": jnp.ones(2, jnp.int32)}
    tx = T.proximal_l1(0.1, 0.1)
    assert _message(
        lambda: tx.update({"w": jnp.ones(2), "i": jnp.ones(2)}, tx.init(p), p)
    ).startswith("`regjax.transforms.proximal_l1(...).update(params=...)`: leaf i has dtype int32")


def test_the_returned_update_keeps_the_updates_dtype():
    params = {"w": jnp.asarray([1.0, -0.2, 0.05], jnp.float32)}
    updates = {"w": jnp.asarray([0.5, -0.5, 0.25], jnp.bfloat16)}
    tx = T.proximal_l1(0.1, 0.5)
    out, _ = tx.update(updates, tx.init(params), params)
    assert out["w"].dtype == jnp.bfloat16
    want = _soft(_f64(params["w"]) + _f64(updates["w"]), 0.05) - _f64(params["w"])
    np.testing.assert_allclose(_f64(out["w"]), want, rtol=1e-2, atol=1e-2)
