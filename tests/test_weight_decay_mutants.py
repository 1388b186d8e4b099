"""Weight decay against optax and NumPy, written to kill the mutants of
regjax/_weight_decay.py that the other tests let survive (see MUTANTS.md)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from regjax import transforms as T


@pytest.mark.parametrize("towards", [{"w": 1.0}, {"w": [0.0, 1.0]}, 0.5])
def test_towards_leaves_that_are_not_arrays_are_refused_at_construction(towards):
    with pytest.raises(TypeError, match=r"decoupled_weight_decay\(towards=\.\.\.\)"):
        T.decoupled_weight_decay(0.1, towards=towards)


def test_towards_of_arrays_is_accepted():
    params = {"w": jnp.array([1.0, -2.0])}
    tx = T.decoupled_weight_decay(0.5, towards={"w": jnp.array([1.0, 0.0])})
    u, _ = tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
    # -wd * (w - w_ref), by hand
    assert u["w"].tolist() == [-0.0, 1.0]


def test_decoupled_missing_params_error_names_the_transform():
    tx = T.decoupled_weight_decay(0.1)
    with pytest.raises(
        ValueError, match=r"^`regjax\.transforms\.decoupled_weight_decay\(\.\.\.\)\.update` needs"
    ):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


@pytest.mark.parametrize(
    "make", [lambda: T.decoupled_weight_decay(0), lambda: T.add_l2_gradient(0.0)]
)
def test_a_zero_python_strength_is_the_identity(make):
    # a Python 0 switches the decay off, so it adds nothing even where 0 * w
    # would be NaN (w = inf)
    tx = make()
    params = {"w": jnp.array([jnp.inf, 1.0])}
    updates = {"w": jnp.array([0.5, -0.5])}
    out, _ = tx.update(updates, tx.init(params), params)
    assert out["w"].tolist() == [0.5, -0.5]


def test_decoupled_python_one_decays_by_the_whole_weight():
    # wd = 1 with no learning rate: u - 1 * w, by hand
    params = {"w": jnp.array([2.0, -3.0])}
    tx = T.decoupled_weight_decay(1)
    out, _ = tx.update({"w": jnp.array([0.5, 0.5])}, tx.init(params), params)
    assert out["w"].tolist() == [0.5 - 2.0, 0.5 + 3.0]


def test_decoupled_schedule_is_read_at_each_step():
    schedule = optax.linear_schedule(0.5, 0.1, transition_steps=4)
    params = jnp.array([1.0, -2.0])
    tx = T.decoupled_weight_decay(schedule)
    state = tx.init(params)
    w = np.asarray(params, np.float64)
    for step in range(6):
        out, state = tx.update(jnp.zeros(2), state, params)
        # optax.linear_schedule by its definition: linear from 0.5 to 0.1 over 4 steps
        wd = 0.5 + (0.1 - 0.5) * min(step, 4) / 4
        np.testing.assert_allclose(out, -wd * w, rtol=1e-6)


def test_decoupled_errors_at_update_name_the_argument():
    params = {"w": jnp.ones(2)}
    where = r"^`regjax\.transforms\.decoupled_weight_decay\(weight_decay=\.\.\.\)` must be"
    tx = T.decoupled_weight_decay(lambda count: -0.1)
    with pytest.raises(ValueError, match=where + " finite"):
        tx.update({"w": jnp.zeros(2)}, tx.init(params), params)
    tx = T.decoupled_weight_decay({"a": 0.1, "b": 0.2})
    with pytest.raises(ValueError, match=where + " a scalar"):
        tx.update({"w": jnp.zeros(2)}, tx.init(params), params)


def test_decoupled_learning_rate_schedule_errors_name_it():
    params = jnp.ones(2)
    tx = T.decoupled_weight_decay(0.1, learning_rate=lambda count: -1.0)
    with pytest.raises(
        ValueError,
        match=r"^`regjax\.transforms\.decoupled_weight_decay\(learning_rate=\.\.\.\)` must be",
    ):
        tx.update(jnp.zeros(2), tx.init(params), params)


def test_decoupled_mask_error_names_the_transform():
    params = {"w": jnp.ones(2), "b": jnp.ones(1)}
    tx = T.decoupled_weight_decay(0.1, mask={"w": True})
    with pytest.raises(
        ValueError, match=r"^`regjax\.transforms\.decoupled_weight_decay\(mask=\.\.\.\)`"
    ):
        tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params)


@pytest.mark.parametrize("learning_rate", [None, 0.5])
@pytest.mark.parametrize("with_towards", [False, True])
def test_decoupled_keeps_a_float16_model_in_float16(learning_rate, with_towards):
    # every hyperparameter is cast to the leaf's dtype, so a half-precision
    # model stays half precision (and strict promotion never sees float32)
    w = np.array([1.5, -2.0, 0.25], np.float16)
    u = np.array([0.125, 0.5, -1.0], np.float16)
    ref = np.array([0.5, 0.5, 0.5], np.float16)
    towards = jnp.asarray(ref) if with_towards else None
    tx = T.decoupled_weight_decay(0.1, learning_rate=learning_rate, towards=towards)
    params = jnp.asarray(w)
    out, _ = tx.update(jnp.asarray(u), tx.init(params), params)
    assert out.dtype == jnp.float16
    lr = 1.0 if learning_rate is None else learning_rate
    target = ref.astype(np.float64) if with_towards else 0.0
    expected = u.astype(np.float64) - lr * 0.1 * (w.astype(np.float64) - target)
    np.testing.assert_allclose(np.asarray(out, np.float64), expected, rtol=2e-3, atol=2e-3)


def test_add_l2_gradient_errors_name_the_transform_and_argument():
    params = {"w": jnp.ones(2)}
    zeros = {"w": jnp.zeros(2)}
    where = r"^`regjax\.transforms\.add_l2_gradient"
    tx = T.add_l2_gradient(lambda count: -0.1)
    with pytest.raises(ValueError, match=where + r"\(strength=\.\.\.\)` must be finite"):
        tx.update(zeros, tx.init(params), params)
    tx = T.add_l2_gradient({"a": 0.1, "b": 0.2})
    with pytest.raises(ValueError, match=where + r"\(strength=\.\.\.\)` must be a scalar"):
        tx.update(zeros, tx.init(params), params)
    tx = T.add_l2_gradient(0.1, mask={"w": True, "b": False})
    with pytest.raises(ValueError, match=where + r"\(mask=\.\.\.\)`"):
        tx.update(zeros, tx.init(params), params)
    tx = T.add_l2_gradient(0.1)
    with pytest.raises(ValueError, match=where + r"\(\.\.\.\)\.update` needs"):
        tx.update(zeros, tx.init(params))


def test_add_l2_gradient_python_one_and_a_schedule_against_numpy():
    params = jnp.array([1.0, -2.0])
    w = np.asarray(params, np.float64)
    tx = T.add_l2_gradient(1)
    out, _ = tx.update(jnp.zeros(2), tx.init(params), params)
    np.testing.assert_allclose(out, 2 * 1.0 * w)  # the gradient of 1 * sum(w**2)
    schedule = optax.linear_schedule(0.5, 0.1, transition_steps=4)
    tx = T.add_l2_gradient(schedule)
    state = tx.init(params)
    for step in range(6):
        out, state = tx.update(jnp.zeros(2), state, params)
        lam = 0.5 + (0.1 - 0.5) * min(step, 4) / 4
        np.testing.assert_allclose(out, 2 * lam * w, rtol=1e-6)


def test_add_l2_gradient_keeps_a_float16_model_in_float16():
    w = np.array([1.5, -2.0, 0.25], np.float16)
    u = np.array([0.125, 0.5, -1.0], np.float16)
    tx = T.add_l2_gradient(0.1)
    params = jnp.asarray(w)
    out, _ = tx.update(jnp.asarray(u), tx.init(params), params)
    assert out.dtype == jnp.float16
    expected = u.astype(np.float64) + 2 * 0.1 * w.astype(np.float64)
    np.testing.assert_allclose(np.asarray(out, np.float64), expected, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: T.decoupled_weight_decay(0.1),
        lambda p: T.decoupled_weight_decay(0.1, towards=jax.tree.map(jnp.zeros_like, p)),
        lambda p: T.add_l2_gradient(0.1),
    ],
)
def test_an_integer_param_leaf_error_names_the_update_and_the_leaf(make):
    params = {"w": jnp.ones(2), "steps": jnp.array([3, 4])}
    tx = make(params)
    updates = {"w": jnp.zeros(2), "steps": jnp.zeros(2)}
    with pytest.raises(
        ValueError,
        match=r"^`regjax\.transforms\.\w+\(\.\.\.\)\.update\(params=\.\.\.\)`: leaf steps",
    ):
        tx.update(updates, tx.init(params), params)


@pytest.mark.parametrize("make", [T.decoupled_weight_decay, T.add_l2_gradient])
def test_an_integer_update_leaf_error_names_the_update_and_the_leaf(make):
    params = {"w": jnp.ones(2)}
    tx = make(0.1)
    with pytest.raises(
        ValueError,
        match=r"^`regjax\.transforms\.\w+\(\.\.\.\)\.update\(updates=\.\.\.\)`: leaf w has dtype",
    ):
        tx.update({"w": jnp.array([1, 2])}, tx.init(params), params)
