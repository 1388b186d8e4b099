"""Weight decay against optax and NumPy, written to kill the mutants of
regjax/_weight_decay.py that the other tests let survive (see MUTANTS.md)."""

import jax.numpy as jnp
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
