"""Tests of argument validation (regjax._checks) and the opt-in regjax.checks.checkify."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify as jax_checkify

import regjax
from regjax import _checks, penalties
from regjax.checks import checkify

WHERE = "regjax.demo.fn"


# --------------------------------------------------------------------------- concrete values


@pytest.mark.parametrize("good", [0, 0.0, 3, 2.5, np.float32(1.0), np.array([0.0, 4.0])])
def test_check_nonnegative_accepts_and_returns_value(good):
    assert _checks.check_nonnegative(good, where=WHERE, name="lam") is good
    assert _checks.check_tree_nonnegative({"a": good}, where=WHERE, name="lam") == {"a": good}


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (-0.5, "-0.5"),
        (-1, "-1"),
        (float("inf"), "inf"),
        (float("nan"), "nan"),
        (np.array([1.0, -2.0, 3.0]), "[-2.]"),
        (jnp.array(-3.0), "-3.0"),
    ],
)
def test_check_nonnegative_rejects(bad, shown):
    msg = re.escape(f"`{WHERE}(lam=...)` must be finite and >= 0; got {shown}.")
    with pytest.raises(ValueError, match=msg):
        _checks.check_nonnegative(bad, where=WHERE, name="lam")


def test_check_tree_nonnegative_rejects_any_bad_leaf():
    with pytest.raises(ValueError, match=re.escape(f"`{WHERE}(wd=...)` must be finite")):
        _checks.check_tree_nonnegative({"a": 1.0, "b": {"c": -1.0}}, where=WHERE, name="wd")


@pytest.mark.parametrize("good", [0, 1, 0.0, 0.5, 1.0, np.array([0.0, 0.3, 1.0])])
def test_check_unit_interval_accepts(good):
    assert _checks.check_unit_interval(good, where=WHERE, name="rate") is good


@pytest.mark.parametrize(
    ("bad", "shown"),
    [(1.5, "1.5"), (-0.1, "-0.1"), (float("nan"), "nan"), (np.array([0.5, 2.0]), "[2.]")],
)
def test_check_unit_interval_rejects(bad, shown):
    msg = re.escape(f"`{WHERE}(rate=...)` must be in [0, 1]; got {shown}.")
    with pytest.raises(ValueError, match=msg):
        _checks.check_unit_interval(bad, where=WHERE, name="rate")


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        (True, "got a boolean"),
        (np.array([True]), "got a boolean"),
        ("0.1", "got str"),
        (None, "got NoneType"),
        (1j, "got complex"),
        (np.array([1j]), "got dtype complex128"),
    ],
)
def test_check_value_rejects_non_numbers(bad, what):
    with pytest.raises(TypeError, match=re.escape(f"`{WHERE}(lam=...)` must be a real number")):
        _checks.check_nonnegative(bad, where=WHERE, name="lam")
    with pytest.raises(TypeError, match=re.escape(what)):
        _checks.check_nonnegative(bad, where=WHERE, name="lam")


def test_check_value_custom_constraint():
    with pytest.raises(ValueError, match=re.escape(f"`{WHERE}(k=...)` must be even; got 3.")):
        _checks.check_value(3, lambda v: v % 2 == 0, "must be even", where=WHERE, name="k")
    assert _checks.check_value(4, lambda v: v % 2 == 0, "must be even", where=WHERE, name="k") == 4


# --------------------------------------------------------------------------- traced values


def test_traced_values_pass_silently_without_checkify():
    """The default path emits no checks: a bad traced value is not caught, nor does it fail."""

    def f(r):
        return penalties.elastic_net(jnp.ones(2), r)

    assert np.isfinite(float(jax.jit(f)(1.5)))
    jaxpr = jax.make_jaxpr(f)(0.5)
    assert "check" not in str(jaxpr)


def test_checkify_reports_bad_grid_member_under_vmap():
    def f(r):
        return penalties.elastic_net(jnp.array([1.0, -2.0]), r)

    grid = jnp.array([0.0, 0.5, 1.5, 1.0])
    err, out = jax.vmap(checkify(f))(grid)
    msg = err.get()
    assert msg is not None
    assert msg.startswith("at mapped index 2: ")
    assert "`regjax.penalties.elastic_net(l1_ratio=...)` must be in [0, 1]; got 1.5" in msg
    with pytest.raises(jax_checkify.JaxRuntimeError, match=r"l1_ratio=\.\.\.\)` must be in"):
        err.throw()
    # Outputs are those of the unchecked function.
    expected = [float(r) * 3 + 0.5 * (1 - float(r)) * 5 for r in grid]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


def test_checkify_under_jit_of_vmap_and_the_reported_value():
    traces = []

    def f(r):
        traces.append(1)
        return penalties.group_lasso(jnp.ones((2, 2)), l1_ratio=r)

    run = jax.jit(jax.vmap(checkify(f)))
    err, _ = run(jnp.array([0.2, 0.3, -0.25]))
    assert "at mapped index 2" in err.get()
    assert "`regjax.penalties.group_lasso(l1_ratio=...)` must be in [0, 1]; got -0.25" in err.get()
    err, _ = run(jnp.array([0.2, 0.3, 0.4]))
    assert err.get() is None
    assert len(traces) == 1  # checks add no retrace


def test_checkify_reports_negative_strength_in_prox():
    def f(lam):
        return jnp.sum(regjax.prox.l1(jnp.array([1.0, -2.0]), lam))

    err, _ = jax.vmap(checkify(f))(jnp.array([0.1, -1.0, 0.2]))
    assert err.get().startswith("at mapped index 1: ")
    assert "`regjax.prox.l1(threshold=...)` must be finite and >= 0; got -1.0" in err.get()


def test_checkify_reports_nan_and_inf():
    def f(lam):
        return jnp.sum(regjax.prox.l2(jnp.ones(2), lam))

    err, _ = jax.vmap(checkify(f))(jnp.array([0.1, jnp.nan]))
    assert "at mapped index 1" in err.get() and "got nan" in err.get()
    err, _ = jax.jit(checkify(f))(jnp.array(jnp.inf))
    assert "got inf" in err.get()
    # Called eagerly, checkify sees a concrete value, which raises at once.
    with pytest.raises(ValueError, match=re.escape("`regjax.prox.l2(strength=...)` must be")):
        checkify(f)(jnp.array(jnp.inf))


def test_checkify_without_vmap_and_with_good_values():
    def f(r):
        return penalties.elastic_net(jnp.ones(3), r)

    err, out = jax.jit(checkify(f))(0.25)
    assert err.get() is None
    err.throw()  # no-op
    np.testing.assert_allclose(float(out), 0.25 * 3 + 0.375 * 3, rtol=1e-6)
    err, _ = jax.jit(checkify(f))(2.0)
    assert err.get().startswith("`regjax.penalties.elastic_net(l1_ratio=...)` must be in")


def test_checkify_concrete_bad_values_still_raise_value_error():
    def f(x):
        return penalties.elastic_net(x, 1.5)

    with pytest.raises(ValueError, match=re.escape("elastic_net(l1_ratio=...)` must be in")):
        checkify(f)(jnp.ones(2))


def test_checkify_is_opt_in_and_scoped():
    """Checks are on only while the wrapped function is traced."""

    def f(r):
        return penalties.elastic_net(jnp.ones(2), r)

    checkify(f)(0.5)
    assert not _checks._CHECKS_ENABLED.get()
    # Outside checkify a jitted bad value is still not a check error.
    assert np.isfinite(float(jax.jit(f)(3.0)))
    # The wrapper keeps the function's name and docs.
    assert checkify(f).__name__ == "f"


def test_checkify_kwargs_and_pytrees():
    def f(params, *, lam):
        return lam * penalties.l1(regjax.prox.l1(params, lam))

    params = {"a": jnp.ones(2), "b": jnp.full((2, 2), 3.0)}
    err, out = checkify(f)(params, lam=jnp.array(0.5))
    assert err.get() is None
    np.testing.assert_allclose(float(out), 0.5 * (2 * 0.5 + 4 * 2.5), rtol=1e-6)
