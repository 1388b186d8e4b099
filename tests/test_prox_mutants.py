"""Cases that tell apart mutants of ``regjax.prox`` which the main tests let through.

References are closed forms in float64 NumPy: prox of s·‖x‖² is x / (1 + 2s); of
a·‖x‖₁ + b·‖x‖² it is soft(x, a) / (1 + 2b).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import regjax


def _soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0)


@pytest.mark.parametrize("name", ["l2", "elastic_net"])
def test_an_integer_leaf_is_named_by_the_prox_called(name):
    x = {"w": jnp.ones(3), "step": jnp.array(2)}
    args = (0.1,) if name == "l2" else (0.1, 0.2)
    with pytest.raises(ValueError, match=rf"^`regjax\.prox\.{name}\(x=\.\.\.\)`: leaf step"):
        getattr(regjax.prox, name)(x, *args)


def test_an_array_strength_keeps_a_bfloat16_leaf_in_bfloat16():
    # A float32 strength array on a bf16 leaf: the strength is cast to the leaf's
    # dtype, so the result stays bf16 (mixing them is refused under strict promotion).
    v = np.array([0.5, -1.25, 3.0, -0.0625], np.float32)
    x = jnp.asarray(v, jnp.bfloat16)
    s, a = jnp.float32(0.25), jnp.float32(0.5)
    out = regjax.prox.l2(x, s)
    assert out.dtype == jnp.bfloat16
    want = np.asarray(x, np.float64) / (1 + 2 * 0.25)
    np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=1e-2)
    out = regjax.prox.elastic_net(x, a, s)
    assert out.dtype == jnp.bfloat16
    want = _soft(np.asarray(x, np.float64), 0.5) / (1 + 2 * 0.25)
    np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=1e-2, atol=1e-3)


def test_l1_with_an_array_threshold_keeps_a_bfloat16_leaf_in_bfloat16():
    x = jnp.asarray([0.5, -1.25, 3.0, -0.0625], jnp.bfloat16)
    out = regjax.prox.l1(x, jnp.float32(0.5))
    assert out.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(out, np.float64), _soft(np.asarray(x, np.float64), 0.5), atol=1e-2
    )


def test_l1_at_the_kink_takes_the_kept_side():
    # Documented: at |x| = t > 0 the Jacobian is the kept side's, 1 (a valid
    # element of the Clarke Jacobian; the zero side's would be 0).
    x = jnp.array([0.5, -0.5])
    out, tangent = jax.jvp(lambda v: regjax.prox.l1(v, 0.5), (x,), (jnp.ones(2),))
    np.testing.assert_array_equal(np.asarray(out), [0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(tangent), [1.0, 1.0])


def test_nuclear_names_itself_and_casts_a_float64_threshold_to_the_leaf():
    with pytest.raises(ValueError, match=r"^`regjax\.prox\.nuclear\(x=\.\.\.\)`: leaf step"):
        regjax.prox.nuclear({"w": jnp.eye(2), "step": jnp.array(1)}, 0.1)
    with pytest.raises(ValueError, match=r"^`regjax\.prox\.nuclear\(mask=\.\.\.\)`"):
        regjax.prox.nuclear({"a": jnp.eye(2), "b": jnp.eye(3)}, 0.1, mask={"a": True})
    rng = np.random.default_rng(0)
    v = rng.normal(size=(4, 3))
    u, s, vt = np.linalg.svd(v, full_matrices=False)
    want = (u * np.maximum(s - 0.5, 0)) @ vt
    with jax.enable_x64(True):
        out = regjax.prox.nuclear(jnp.asarray(v, jnp.float32), jnp.asarray(0.5, jnp.float64))
        assert out.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(out, np.float64), want, rtol=1e-5, atol=1e-6)


def test_group_lasso_names_the_leaf_and_keeps_bfloat16_with_array_strengths():
    with pytest.raises(ValueError, match=r"out of range for leaf w of shape \(3, 4\)"):
        regjax.prox.group_lasso({"w": jnp.ones((3, 4))}, 0.1, axis=5)
    v = np.array([[0.5, -1.0], [2.0, 0.1]], np.float32)
    out = regjax.prox.group_lasso(
        jnp.asarray(v, jnp.bfloat16), jnp.float32(0.25), l1_ratio=jnp.float32(0.5)
    )
    assert out.dtype == jnp.bfloat16
    # The values are those of the float32 computation, to bf16's rounding (the
    # float32 values themselves are checked against NumPy in tests/test_prox.py).
    ref = regjax.prox.group_lasso(jnp.asarray(v), 0.25, l1_ratio=0.5)
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(ref), rtol=2e-2, atol=1e-2)


def test_group_lasso_with_l1_ratio_one_is_soft_thresholding():
    # l1_ratio = 1 leaves no group part: the prox is the L1 prox, elementwise
    x = jnp.asarray([[3.0, -0.2, 0.5], [-1.0, 0.05, 2.0]])
    got = np.asarray(regjax.prox.group_lasso(x, 0.4, l1_ratio=1.0))
    want = np.sign(np.asarray(x)) * np.maximum(np.abs(np.asarray(x)) - 0.4, 0)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_group_lasso_mask_and_leaf_errors_name_it():
    with pytest.raises(ValueError, match=r"^`regjax\.prox\.group_lasso\(mask=\.\.\.\)` must have"):
        regjax.prox.group_lasso({"w": jnp.ones((2, 2))}, 0.1, mask={"x": True})
    with pytest.raises(
        ValueError, match=r"^`regjax\.prox\.group_lasso\(x=\.\.\.\)`: leaf w has dtype int32"
    ):
        regjax.prox.group_lasso({"w": jnp.ones((2, 2), jnp.int32)}, 0.1)
