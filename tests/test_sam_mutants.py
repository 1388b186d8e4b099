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
