"""Conformance suite: every transform in regjax.transforms runs through these tests.

jit equals eager; a second update does not retrace; inject_hyperparams works;
a vmapped hyperparameter grid equals a Python loop and compiles once; schedules
are evaluated at the step count; bf16/f16 params keep their dtype; state
round-trips through orbax-checkpoint and training resumes bit-identically.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import regjax
from regjax import transforms as T

MASK = {"w": True, "b": False}  # a plain pytree of bools: inject_hyperparams keeps it static


@dataclasses.dataclass(frozen=True)
class Case:
    factory: Callable[..., Any]
    kwargs: Callable[[Any], dict[str, Any]]  # hyperparameter value -> factory kwargs
    hp: str  # the kwarg swept over a grid
    first: bool  # True: before the base optimizer (sees grads); False: after it
    grid: tuple[float, ...] = (0.0, 0.05, 0.2)
    static_args: tuple[str, ...] = ()


CASES = {
    "add_l2_gradient": Case(T.add_l2_gradient, lambda h: {"strength": h}, "strength", True),
    "add_l2_gradient_masked": Case(
        T.add_l2_gradient, lambda h: {"strength": h, "mask": MASK}, "strength", True
    ),
    "decoupled_weight_decay": Case(
        T.decoupled_weight_decay,
        lambda h: {"weight_decay": h, "learning_rate": 0.1},
        "weight_decay",
        False,
    ),
    "decoupled_weight_decay_no_lr": Case(
        T.decoupled_weight_decay, lambda h: {"weight_decay": h, "mask": MASK}, "weight_decay", False
    ),
    "proximal": Case(
        T.proximal,
        lambda h: {"prox_fn": regjax.prox.l1, "strength": h, "learning_rate": 0.1},
        "strength",
        False,
        static_args=("prox_fn",),
    ),
    "proximal_l1": Case(
        T.proximal_l1, lambda h: {"strength": h, "learning_rate": 0.1}, "strength", False
    ),
    "proximal_elastic_net": Case(
        T.proximal_elastic_net,
        lambda h: {"strength": h, "l1_ratio": 0.5, "learning_rate": 0.1},
        "strength",
        False,
    ),
    "proximal_group_lasso": Case(
        T.proximal_group_lasso,
        lambda h: {"strength": h, "learning_rate": 0.1},
        "strength",
        False,
        static_args=("axis",),
    ),
    "proximal_nuclear": Case(
        T.proximal_nuclear,
        lambda h: {"strength": h, "learning_rate": 0.1, "mask": MASK},
        "strength",
        False,
    ),
    "sam": Case(T.sam, lambda h: {"rho": h}, "rho", True),
    "sam_adaptive_masked": Case(
        T.sam, lambda h: {"rho": h, "adaptive": True, "mask": MASK}, "rho", True
    ),
    # The wrapper form; a stateless base (its state is the step counter only,
    # as the dtype test expects) before the sgd of `_build`. test_sam.py covers
    # a stateful base.
    "sam_with_base_optimizer": Case(
        T.sam,
        lambda h: {"rho": h, "base_optimizer": optax.scale(1.0)},
        "rho",
        True,
        static_args=("base_optimizer",),
    ),
}

# Every public optax transform factory must have a case here.
_NOT_TRANSFORMS = {"sam_value_and_grad"}  # a function transform, tested in test_sam.py


def test_every_transform_has_a_case():
    covered = {c.factory.__name__ for c in CASES.values()}
    assert covered == set(T.__all__) - _NOT_TRANSFORMS


def _data(dtype=jnp.float32):
    kx, ky, kw = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(kx, (8, 4)).astype(dtype)
    y = jax.random.normal(ky, (8, 3)).astype(dtype)
    params = {
        "w": (0.5 * jax.random.normal(kw, (4, 3))).astype(dtype),
        "b": jnp.full((3,), 0.1, dtype),
    }
    return params, x, y


def _loss(params, x, y):
    pred = jnp.tanh(x @ params["w"] + params["b"][None, :])
    return jnp.mean((pred - y) ** 2)


def _build(case: Case, h: Any, *, inject: bool = False):
    factory = case.factory
    if inject:
        factory = optax.inject_hyperparams(factory, static_args=case.static_args)
    tx = factory(**case.kwargs(h))
    return optax.chain(tx, optax.sgd(0.1)) if case.first else optax.chain(optax.sgd(0.1), tx)


def _step(tx, params, state, x, y):
    grad_fn = lambda p: jax.grad(_loss)(p, x, y)
    grads = grad_fn(params)
    updates, state = tx.update(grads, state, params, grad_fn=grad_fn)
    return optax.apply_updates(params, updates), state


def _train(tx, params, x, y, n: int, state=None):
    state = tx.init(params) if state is None else state
    for _ in range(n):
        params, state = _step(tx, params, state, x, y)
    return params, state


IDS = list(CASES)


@pytest.mark.parametrize("name", IDS)
def test_jit_equals_eager_and_regularizes(name):
    case = CASES[name]
    params, x, y = _data()
    tx = _build(case, 0.2)
    eager, _ = _train(tx, params, x, y, 3)
    step = jax.jit(lambda p, s: _step(tx, p, s, x, y))
    p, s = params, tx.init(params)
    for _ in range(3):
        p, s = step(p, s)
    chex.assert_trees_all_close(p, eager, rtol=1e-5, atol=1e-6)
    # The hyperparameter matters: a zero strength gives a different trajectory.
    plain, _ = _train(_build(case, 0.0), params, x, y, 3)
    assert not np.allclose(np.asarray(p["w"]), np.asarray(plain["w"]), atol=1e-6)


@pytest.mark.parametrize("name", IDS)
def test_second_update_does_not_retrace(name):
    case = CASES[name]
    params, x, y = _data()
    tx = _build(case, jnp.asarray(0.2))
    traces = 0

    def step(p, s):
        nonlocal traces
        traces += 1
        return _step(tx, p, s, x, y)

    step = jax.jit(step)
    p, s = params, tx.init(params)
    for _ in range(3):
        p, s = step(p, s)
    assert traces == 1


@pytest.mark.parametrize("name", IDS)
def test_inject_hyperparams(name):
    case = CASES[name]
    params, x, y = _data()
    plain, _ = _train(_build(case, 0.2), params, x, y, 2)
    tx = _build(case, 0.2, inject=True)
    injected, state = jax.jit(lambda p: _train(tx, p, x, y, 2))(params)
    chex.assert_trees_all_close(injected, plain, rtol=1e-5, atol=1e-6)
    inner = state[0] if case.first else state[1]
    assert float(inner.hyperparams[case.hp]) == pytest.approx(0.2)


@pytest.mark.parametrize("name", IDS)
def test_vmap_grid_equals_loop_and_compiles_once(name):
    case = CASES[name]
    params, x, y = _data()
    traces = 0

    def run(h):
        nonlocal traces
        traces += 1
        return _train(_build(case, h), params, x, y, 2)[0]

    grid = jnp.asarray(case.grid, jnp.float32)
    batched = jax.jit(jax.vmap(run))(grid)
    assert traces == 1
    single = jax.jit(lambda h: _train(_build(case, h), params, x, y, 2)[0])
    for i, h in enumerate(case.grid):
        ref = single(jnp.asarray(h, jnp.float32))
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, i=i: a[i], batched), ref, rtol=2e-5, atol=1e-6
        )


@pytest.mark.parametrize("name", IDS)
def test_schedule_is_evaluated_at_the_step_count(name):
    case = CASES[name]
    params, x, y = _data()
    sched = optax.linear_schedule(0.3, 0.0, transition_steps=3)
    tx = _build(case, sched)
    p, s = params, tx.init(params)
    for k in range(3):
        grad_fn = lambda q: jax.grad(_loss)(q, x, y)
        g = grad_fn(p)
        updates, s_next = tx.update(g, s, p, grad_fn=grad_fn)
        ref_updates, _ = _build(case, float(sched(k))).update(g, s, p, grad_fn=grad_fn)
        chex.assert_trees_all_close(updates, ref_updates, rtol=1e-6, atol=1e-7)
        p, s = optax.apply_updates(p, updates), s_next
    counts = [leaf for leaf in jax.tree.leaves(s) if leaf.dtype == jnp.int32]
    assert counts and all(int(c) == 3 for c in counts)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", IDS)
def test_low_precision_params_keep_their_dtype(name, dtype):
    case = CASES[name]
    params, x, y = _data(dtype)
    tx = _build(case, 0.2)
    out, state = jax.jit(lambda p: _train(tx, p, x, y, 2))(params)
    for leaf in jax.tree.leaves(out):
        assert leaf.dtype == dtype
        assert np.all(np.isfinite(np.asarray(leaf, np.float32)))
    assert not np.array_equal(np.asarray(out["w"], np.float32), np.asarray(params["w"], np.float32))
    for leaf in jax.tree.leaves(state):
        assert leaf.dtype == jnp.int32  # the only state is the step counter


@pytest.fixture(scope="module")
def checkpointer():
    import orbax.checkpoint as ocp  # in the test extra: a failed import must fail, not skip

    with ocp.StandardCheckpointer() as ckptr:
        yield ckptr


@pytest.mark.parametrize("name", IDS)
def test_orbax_round_trip_resumes_bit_identically(name, tmp_path, checkpointer):
    import orbax.checkpoint as ocp

    case = CASES[name]
    params, x, y = _data()
    sched = optax.linear_schedule(0.2, 0.05, transition_steps=4)  # a live step counter
    tx = _build(case, sched)
    step = jax.jit(lambda p, s: _step(tx, p, s, x, y))
    p, s = params, tx.init(params)
    for _ in range(2):
        p, s = step(p, s)
    tree = {"params": p, "state": s}
    checkpointer.save(tmp_path / "ckpt", tree)
    checkpointer.wait_until_finished()
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
    restored = checkpointer.restore(tmp_path / "ckpt", target)
    assert jax.tree.structure(restored) == jax.tree.structure(tree)
    chex.assert_trees_all_equal(restored, tree)
    rp, rs = restored["params"], restored["state"]
    for _ in range(2):
        p, s = step(p, s)
        rp, rs = step(rp, rs)
    chex.assert_trees_all_equal(rp, p)
    chex.assert_trees_all_equal(rs, s)
