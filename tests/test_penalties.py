"""Tests of regjax.penalties against NumPy loops, np.linalg.svd and scikit-learn."""

from __future__ import annotations

import functools
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from regjax import masks, penalties

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=15)


# --------------------------------------------------------------------------- references


def _leaves64(tree):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def ref_l1(tree):
    total = 0.0
    for leaf in _leaves64(tree):
        for v in leaf.ravel():
            total += abs(v)
    return total


def ref_l2(tree):
    total = 0.0
    for leaf in _leaves64(tree):
        for v in leaf.ravel():
            total += v * v
    return total


def ref_elastic_net(tree, r):
    return r * ref_l1(tree) + 0.5 * (1 - r) * ref_l2(tree)


def ref_group_lasso_leaf(w, axis=0, group_ids=None, l1_ratio=0.0):
    w = np.asarray(w, np.float64)
    if w.ndim == 0 or axis is None or (w.ndim == 1 and group_ids is None):
        groups = [w.ravel()]
    else:
        ax = axis % w.ndim
        slices = [np.take(w, j, axis=ax).ravel() for j in range(w.shape[ax])]
        if group_ids is None:
            groups = slices
        else:
            groups = []
            for g in sorted(set(group_ids)):
                groups.append(np.concatenate([s for s, gid in zip(slices, group_ids) if gid == g]))
    group_part = 0.0
    for g in groups:
        group_part += np.sqrt(g.size) * np.sqrt(sum(v * v for v in g))
    return (1 - l1_ratio) * group_part + l1_ratio * np.abs(w).sum()


def ref_group_lasso(tree, **kw):
    return sum(ref_group_lasso_leaf(w, **kw) for w in _leaves64(tree))


def ref_nuclear(tree):
    return sum(np.linalg.svd(w, compute_uv=False).sum() for w in _leaves64(tree))


def ref_spectral(tree):
    return sum(np.linalg.svd(w, compute_uv=False).max() for w in _leaves64(tree))


def random_tree(seed, matrices_only=False):
    rng = np.random.default_rng(seed)
    tree = {
        "dense": {"kernel": rng.normal(size=(4, 3)), "other": rng.normal(size=(3, 5))},
        "list": [rng.normal(size=(2, 2)), rng.normal(size=(6, 2))],
    }
    if not matrices_only:
        tree["dense"]["bias"] = rng.normal(size=(3,))
        tree["conv"] = rng.normal(size=(2, 3, 4))
        tree["scalar"] = rng.normal(size=())
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), tree)


ALL = {
    "l1": (penalties.l1, ref_l1, False),
    "l2": (penalties.l2, ref_l2, False),
    "elastic_net": (
        lambda p, **k: penalties.elastic_net(p, 0.3, **k),
        lambda t: ref_elastic_net(t, 0.3),
        False,
    ),
    "group_lasso": (penalties.group_lasso, ref_group_lasso, False),
    "sparse_group_lasso": (
        lambda p, **k: penalties.group_lasso(p, l1_ratio=0.25, **k),
        lambda t: ref_group_lasso(t, l1_ratio=0.25),
        False,
    ),
    "nuclear": (penalties.nuclear, ref_nuclear, True),
    "spectral": (penalties.spectral, ref_spectral, True),
}


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_numpy_reference(name, seed):
    fn, ref, matrices_only = ALL[name]
    tree = random_tree(seed, matrices_only)
    out = fn(tree)
    assert out.shape == ()
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(float(out), ref(tree), rtol=2e-6)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"axis": 1},
        {"axis": -1},
        {"axis": 2},
        {"axis": None},
        {"axis": 0, "group_ids": [0, 1, 0, 2, 1]},
        {"axis": 2, "group_ids": [3, 3, 7, 7]},
        {"axis": 1, "group_ids": [1, 0, 1], "l1_ratio": 0.4},
        {"l1_ratio": 1.0},
        {"l1_ratio": 0.0},
    ],
)
def test_group_lasso_group_specs(kw):
    rng = np.random.default_rng(3)
    w = jnp.asarray(rng.normal(size=(5, 3, 4)), jnp.float32)
    np.testing.assert_allclose(
        float(penalties.group_lasso(w, **kw)), ref_group_lasso_leaf(w, **kw), rtol=2e-6
    )


def test_group_lasso_default_groups_are_rows_and_vectors_are_one_group():
    kernel = jnp.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(float(penalties.group_lasso(kernel)), np.sqrt(2) * 6, rtol=1e-6)
    v = jnp.array([3.0, 4.0])
    np.testing.assert_allclose(float(penalties.group_lasso(v)), np.sqrt(2) * 5, rtol=1e-6)
    # group_ids on a 1-D leaf group element by element.
    w = jnp.array([3.0, 4.0, 1.0])
    np.testing.assert_allclose(
        float(penalties.group_lasso(w, group_ids=np.array([0, 0, 1]))),
        np.sqrt(2) * 5 + 1,
        rtol=1e-6,
    )
    # Non-contiguous, non-dense ids.
    np.testing.assert_allclose(
        float(penalties.group_lasso(w, group_ids=[5, 2, 5])),
        np.sqrt(2) * np.hypot(3, 1) + 4,
        rtol=1e-6,
    )


def test_group_lasso_with_l1_ratio_one_is_l1_and_l1_ratio_interpolates():
    tree = random_tree(4)
    np.testing.assert_allclose(
        float(penalties.group_lasso(tree, l1_ratio=1.0)), float(penalties.l1(tree)), rtol=1e-6
    )
    a, b = float(penalties.group_lasso(tree)), float(penalties.l1(tree))
    np.testing.assert_allclose(
        float(penalties.group_lasso(tree, l1_ratio=0.3)), 0.7 * a + 0.3 * b, rtol=1e-6
    )


def test_elastic_net_relations():
    tree = random_tree(5)
    l1, l2 = float(penalties.l1(tree)), float(penalties.l2(tree))
    np.testing.assert_allclose(float(penalties.elastic_net(tree, 1.0)), l1, rtol=1e-6)
    np.testing.assert_allclose(float(penalties.elastic_net(tree, 0.0)), 0.5 * l2, rtol=1e-6)
    np.testing.assert_allclose(float(penalties.elastic_net(tree, 0)), 0.5 * l2, rtol=1e-6)


def test_elastic_net_is_sklearn_penalty_formula():
    """alpha * elastic_net(w, r) == alpha*(r*|w|_1 + 0.5*(1-r)*|w|^2), sklearn's penalty."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        w = rng.normal(size=7)
        for alpha, r in [(0.1, 0.5), (2.0, 0.0), (0.7, 1.0), (0.03, 0.15)]:
            expected = alpha * (r * np.abs(w).sum() + 0.5 * (1 - r) * (w @ w))
            got = alpha * penalties.elastic_net(jnp.asarray(w), r)
            assert got.dtype == jnp.float64
            np.testing.assert_allclose(float(got), expected, rtol=1e-13)


def test_alpha_elastic_net_is_what_sklearn_elasticnet_minimizes():
    """sklearn's ElasticNet solution minimizes 1/(2n)|y - Xw|^2 + alpha*elastic_net(w, r)."""
    from sklearn import linear_model

    rng = np.random.default_rng(1)
    n, d = 60, 8
    X = rng.normal(size=(n, d))
    w_true = np.array([2.0, -1.5, 0, 0, 0.7, 0, 0, 0])
    y = X @ w_true + 0.1 * rng.normal(size=n)
    for alpha, r in [(0.1, 0.5), (0.05, 0.9), (0.3, 0.2)]:
        model = linear_model.ElasticNet(
            alpha=alpha, l1_ratio=r, fit_intercept=False, tol=1e-14, max_iter=100_000
        ).fit(X, y)
        coef = model.coef_
        assert np.sum(coef == 0) >= 1  # the L1 part is active somewhere
        with jax.enable_x64(True):
            Xj, yj = jnp.asarray(X), jnp.asarray(y)

            def objective(w, Xj=Xj, yj=yj, alpha=alpha, r=r):
                resid = yj - Xj @ w
                return 0.5 * jnp.mean(resid**2) + alpha * penalties.elastic_net(w, r)

            def smooth(w, Xj=Xj, yj=yj, alpha=alpha, r=r):
                resid = yj - Xj @ w
                return 0.5 * jnp.mean(resid**2) + alpha * 0.5 * (1 - r) * jnp.sum(w * w)

            w0 = jnp.asarray(coef)
            # KKT of the objective: zero gradient on the support; |grad smooth| <= alpha*r off it.
            g = np.asarray(jax.grad(objective)(w0))
            gs = np.asarray(jax.grad(smooth)(w0))
            nz = coef != 0
            np.testing.assert_allclose(g[nz], 0.0, atol=1e-9)
            assert np.all(np.abs(gs[~nz]) <= alpha * r + 1e-9)
            # ... and it is a minimum: no random perturbation does better.
            f0 = float(objective(w0))
            for _ in range(20):
                delta = jnp.asarray(1e-3 * rng.normal(size=d))
                assert float(objective(w0 + delta)) >= f0 - 1e-12
            # A different alpha scaling would move the optimum: 2*alpha is not minimized there.
            g2 = np.asarray(jax.grad(functools.partial(objective, alpha=2 * alpha))(w0))
            assert np.max(np.abs(g2[nz])) > 1e-4


def test_nuclear_and_spectral_match_svd_on_rectangular_and_rank_deficient():
    rng = np.random.default_rng(6)
    u = rng.normal(size=(6, 2))
    low_rank = u @ rng.normal(size=(2, 5))
    for w in [rng.normal(size=(6, 3)), rng.normal(size=(2, 7)), low_rank]:
        s = np.linalg.svd(w, compute_uv=False)
        wj = jnp.asarray(w, jnp.float32)
        np.testing.assert_allclose(float(penalties.nuclear(wj)), s.sum(), rtol=1e-5)
        np.testing.assert_allclose(float(penalties.spectral(wj)), s[0], rtol=1e-5)


def test_nuclear_and_spectral_gradients_are_singular_vectors():
    with jax.enable_x64(True):
        rng = np.random.default_rng(7)
        w = rng.normal(size=(5, 3))
        u, _, vt = np.linalg.svd(w, full_matrices=False)
        np.testing.assert_allclose(
            np.asarray(jax.grad(penalties.nuclear)(jnp.asarray(w))), u @ vt, atol=1e-10
        )
        np.testing.assert_allclose(
            np.asarray(jax.grad(penalties.spectral)(jnp.asarray(w))),
            np.outer(u[:, 0], vt[0]),
            atol=1e-10,
        )


# --------------------------------------------------------------------------- gradients

AT_ZERO = {
    **{k: v[0] for k, v in ALL.items()},
    "group_lasso_axis1": lambda p: penalties.group_lasso(p, axis=1),
    "group_lasso_axis_none": lambda p: penalties.group_lasso(p, axis=None),
    "group_lasso_ids": lambda p: penalties.group_lasso(p, group_ids=[0, 1, 1, 0]),
}


@pytest.mark.parametrize("name", sorted(AT_ZERO))
def test_gradient_finite_at_zero(name):
    fn = AT_ZERO[name]
    zeros = {"a": jnp.zeros((4, 3)), "b": jnp.zeros((4, 2))}
    value, grad = jax.value_and_grad(fn)(zeros)
    assert float(value) == 0.0
    for g in jax.tree.leaves(grad):
        assert bool(jnp.all(jnp.isfinite(g))), name
    # A zero group among non-zero ones keeps everything finite, too.
    mixed = {"a": jnp.zeros((4, 3)).at[1].set(1.0), "b": jnp.zeros((4, 2))}
    for g in jax.tree.leaves(jax.grad(fn)(mixed)):
        assert bool(jnp.all(jnp.isfinite(g))), name


def test_subgradients_at_zero_are_zero_for_l1_and_group_lasso():
    zeros = jnp.zeros((3, 2))
    for fn in [penalties.l1, penalties.group_lasso, lambda p: penalties.elastic_net(p, 0.5)]:
        np.testing.assert_array_equal(np.asarray(jax.grad(fn)(zeros)), 0.0)


def test_check_grads_on_smooth_penalties():
    with jax.enable_x64(True):
        rng = np.random.default_rng(8)
        # Away from 0 so |.| and the group norms are smooth around the point.
        w = {"k": jnp.asarray(rng.uniform(0.5, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)))}
        check_grads(penalties.l2, (w,), order=2, modes=["rev"])
        check_grads(lambda p: penalties.elastic_net(p, 0.3), (w,), order=1, modes=["rev"])
        check_grads(penalties.group_lasso, (w,), order=2, modes=["rev"])
        check_grads(
            lambda p: penalties.group_lasso(p, axis=1, l1_ratio=0.2), (w,), order=1, modes=["rev"]
        )
        check_grads(
            lambda p: penalties.group_lasso(p, group_ids=[0, 1, 0]), (w,), order=1, modes=["rev"]
        )
        # l1_ratio is differentiable, too.
        check_grads(lambda r: penalties.elastic_net(w, r), (0.4,), order=1, modes=["rev"])


def test_l2_gradient_is_two_w():
    w = random_tree(9)
    chex.assert_trees_all_close(jax.grad(penalties.l2)(w), jax.tree.map(lambda x: 2 * x, w))


# --------------------------------------------------------------------------- transforms


@pytest.mark.parametrize("name", sorted(ALL))
def test_jit_equals_eager(name):
    fn, _, matrices_only = ALL[name]
    tree = random_tree(10, matrices_only)
    np.testing.assert_allclose(float(jax.jit(fn)(tree)), float(fn(tree)), rtol=1e-6)
    chex.assert_trees_all_close(
        jax.jit(jax.grad(fn))(tree), jax.grad(fn)(tree), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("name", sorted(ALL))
def test_vmap_over_lambda_equals_loop_and_compiles_once(name):
    fn, _, matrices_only = ALL[name]
    tree = random_tree(11, matrices_only)
    traces = []

    def loss(params, lam):
        traces.append(1)
        return lam * fn(params, mask=masks.weights_only)

    lams = jnp.array([0.0, 0.5, 3.0])
    batched = jax.jit(jax.vmap(jax.value_and_grad(loss), in_axes=(None, 0)))
    values, grads = batched(tree, lams)
    assert len(traces) == 1
    batched(tree, lams * 2)
    assert len(traces) == 1  # same shapes: no retrace
    for i, lam in enumerate(lams):
        v, g = jax.value_and_grad(loss)(tree, lam)
        np.testing.assert_allclose(float(values[i]), float(v), rtol=1e-6)
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, i=i: x[i], grads), g, rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize(
    "fn",
    [
        lambda p, r: penalties.elastic_net(p, r),
        lambda p, r: penalties.group_lasso(p, l1_ratio=r),
        lambda p, r: penalties.group_lasso(p, axis=1, group_ids=[0, 0, 1], l1_ratio=r),
    ],
    ids=["elastic_net", "group_lasso", "group_lasso_ids"],
)
def test_vmap_over_l1_ratio_equals_loop_and_compiles_once(fn):
    tree = {"k": random_tree(12)["dense"]["kernel"]}
    traces = []

    def f(r):
        traces.append(1)
        return fn(tree, r)

    ratios = jnp.array([0.0, 0.25, 0.5, 1.0])
    out = jax.jit(jax.vmap(f))(ratios)
    assert len(traces) == 1
    expected = [float(fn(tree, float(r))) for r in ratios]
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", sorted(ALL))
def test_low_precision_leaves(name, dtype):
    fn, ref, matrices_only = ALL[name]
    tree = jax.tree.map(lambda a: a.astype(dtype), random_tree(13, matrices_only))
    out = fn(tree)
    assert out.dtype == jnp.float32  # accumulated in float32, not in bf16/f16
    # The reference is computed on the same (rounded) values, so agreement is tight.
    np.testing.assert_allclose(float(out), ref(tree), rtol=1e-5)
    grads = jax.grad(fn)(tree)
    for g, leaf in zip(jax.tree.leaves(grads), jax.tree.leaves(tree)):
        assert g.dtype == leaf.dtype
        assert bool(jnp.all(jnp.isfinite(g)))


def test_mixed_precision_leaves_under_x64():
    with jax.enable_x64(True):
        tree = {"a": jnp.ones((2, 2), jnp.float32), "b": jnp.full((2, 2), 2.0, jnp.float64)}
        out = penalties.l2(tree)
        assert out.dtype == jnp.float64
        assert float(out) == 4.0 + 16.0
        half = {"a": jnp.ones(3, jnp.bfloat16), "b": jnp.ones(3, jnp.float16)}
        assert penalties.l1(half).dtype == jnp.float32


# --------------------------------------------------------------------------- masks


def _mlp_params():
    rng = np.random.default_rng(14)
    return jax.tree.map(
        lambda a: jnp.asarray(a, jnp.float32),
        {
            "Dense_0": {"kernel": rng.normal(size=(3, 4)), "bias": rng.normal(size=(4,))},
            "LayerNorm_0": {"scale": rng.normal(size=(4,)), "bias": rng.normal(size=(4,))},
            "head": {"kernel": rng.normal(size=(4, 2)), "bias": rng.normal(size=(2,))},
        },
    )


@pytest.mark.parametrize("name", sorted(ALL))
def test_mask_forms_agree(name):
    fn, ref, _ = ALL[name]
    params = _mlp_params()
    kernels = [params["Dense_0"]["kernel"], params["head"]["kernel"]]
    expected = ref(kernels)
    full_mask = jax.tree.map(lambda _: False, params)
    full_mask["Dense_0"]["kernel"] = True
    full_mask["head"]["kernel"] = True
    prefix_mask = {
        "Dense_0": {"kernel": True, "bias": False},
        "LayerNorm_0": False,
        "head": {"kernel": True, "bias": False},
    }
    for mask in [
        full_mask,
        prefix_mask,
        masks.weights_only,
        masks.by_path(r"/kernel$"),
        lambda p: jax.tree_util.tree_map_with_path(lambda path, _: path[-1].key == "kernel", p),
    ]:
        np.testing.assert_allclose(float(fn(params, mask=mask)), expected, rtol=2e-6)


def test_mask_that_selects_nothing_gives_zero_with_finite_gradient():
    params = _mlp_params()
    for fn in [penalties.l1, penalties.nuclear, penalties.group_lasso]:
        value, grad = jax.value_and_grad(fn)(params, mask=False)
        assert float(value) == 0.0
        for g in jax.tree.leaves(grad):
            np.testing.assert_array_equal(np.asarray(g), 0.0)
    assert float(penalties.l2({})) == 0.0


def test_mask_excludes_leaves_that_would_be_invalid():
    """Integer leaves and vectors are fine when the mask leaves them out."""
    params = {"w": jnp.ones((2, 3)), "step": jnp.array(3, jnp.int32), "b": jnp.ones(3)}
    mask = {"w": True, "step": False, "b": False}
    assert float(penalties.l1(params, mask=mask)) == 6.0
    np.testing.assert_allclose(float(penalties.nuclear(params, mask=mask)), np.sqrt(6), rtol=1e-6)
    np.testing.assert_allclose(float(penalties.spectral(params, mask=mask)), np.sqrt(6), rtol=1e-6)
    # weights_only never selects integer leaves.
    assert float(penalties.l2(params, mask=masks.weights_only)) == 6.0


def test_masked_gradient_is_zero_on_excluded_leaves():
    params = _mlp_params()
    grads = jax.grad(penalties.l2)(params, mask=masks.weights_only)
    np.testing.assert_array_equal(np.asarray(grads["Dense_0"]["bias"]), 0.0)
    np.testing.assert_array_equal(np.asarray(grads["LayerNorm_0"]["scale"]), 0.0)
    chex.assert_trees_all_close(grads["head"]["kernel"], 2 * params["head"]["kernel"])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), np.array([0.2, 1.2])])
def test_l1_ratio_out_of_range_raises(bad):
    w = jnp.ones(3)
    with pytest.raises(ValueError, match=re.escape("`regjax.penalties.elastic_net(l1_ratio=...)`")):
        penalties.elastic_net(w, bad)
    with pytest.raises(ValueError, match=re.escape("`regjax.penalties.group_lasso(l1_ratio=...)`")):
        penalties.group_lasso(w, l1_ratio=bad)


def test_l1_ratio_message_says_constraint_and_value():
    with pytest.raises(ValueError, match=r"must be in \[0, 1\]; got 1\.5\."):
        penalties.elastic_net(jnp.ones(2), 1.5)
    with pytest.raises(TypeError, match=r"elastic_net\(l1_ratio=\.\.\.\)` must be a real number"):
        penalties.elastic_net(jnp.ones(2), True)
    with pytest.raises(TypeError, match=r"elastic_net\(l1_ratio=\.\.\.\)` must be a real number"):
        penalties.elastic_net(jnp.ones(2), "0.5")


@pytest.mark.parametrize("name", sorted(ALL))
def test_mask_structure_mismatch_raises(name):
    fn = ALL[name][0]
    params = {"a": jnp.ones((2, 2)), "b": jnp.ones((2, 2))}
    for bad in [{"a": True}, {"a": True, "c": False}, [True, False], {"a": {"x": True}, "b": True}]:
        with pytest.raises(ValueError, match=r"regjax\.penalties\.\w+\(mask=\.\.\.\)` must have"):
            fn(params, mask=bad)


def test_per_element_mask_raises_clear_error():
    with pytest.raises(
        TypeError, match=r"`regjax\.penalties\.l1\(mask=\.\.\.\)` must hold one bool"
    ):
        penalties.l1({"a": jnp.ones(2)}, mask={"a": jnp.array([True, False])})


def test_traced_mask_raises():
    def f(flag):
        return penalties.l1({"a": jnp.ones(2)}, mask={"a": flag})

    with pytest.raises(TypeError, match=r"`regjax\.penalties\.l1\(mask=\.\.\.\)` must hold Python"):
        jax.jit(f)(jnp.array(True))


@pytest.mark.parametrize("fn", [penalties.nuclear, penalties.spectral])
@pytest.mark.parametrize("shape", [(3,), (), (2, 3, 4)])
def test_non_matrix_leaf_raises(fn, shape):
    params = {"ok": jnp.ones((2, 2)), "layer": {"bad": jnp.ones(shape)}}
    name = fn.__name__
    with pytest.raises(
        ValueError, match=rf"`regjax\.penalties\.{name}\(params=\.\.\.\)`: leaf layer/bad"
    ):
        fn(params)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_, jnp.complex64])
def test_non_float_leaf_raises(name, dtype):
    fn = ALL[name][0]
    params = {"w": jnp.ones((2, 2)), "counts": jnp.ones((2, 2), dtype)}
    with pytest.raises(
        ValueError, match=r"`regjax\.penalties\.\w+\(params=\.\.\.\)`: leaf counts has dtype"
    ):
        fn(params)


def test_bad_group_ids_raise():
    w = jnp.ones((3, 2))
    with pytest.raises(ValueError, match=r"group_lasso\(group_ids=\.\.\.\)` has 2 ids"):
        penalties.group_lasso(w, group_ids=[0, 1])
    with pytest.raises(ValueError, match=r"group_lasso\(group_ids=\.\.\.\)` must be >= 0"):
        penalties.group_lasso(w, group_ids=[0, -1, 1])
    with pytest.raises(ValueError, match=r"group_lasso\(group_ids=\.\.\.\)` must be a 1-D"):
        penalties.group_lasso(w, group_ids=[0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"group_lasso\(axis=\.\.\.\)` is 4, out of range"):
        penalties.group_lasso(w, axis=4)
    # A 1-D leaf is one group by default, but an impossible axis is still an error.
    with pytest.raises(ValueError, match=r"group_lasso\(axis=\.\.\.\)` is 5, out of range"):
        penalties.group_lasso(jnp.ones(3), axis=5)
    with pytest.raises(TypeError, match=r"group_lasso\(axis=\.\.\.\)` must be an int"):
        penalties.group_lasso(w, axis=1.0)


# --------------------------------------------------------------------------- properties

_floats = st.floats(-10, 10, allow_nan=False, width=32)
_matrix = st.lists(_floats, min_size=12, max_size=12).map(
    lambda xs: jnp.asarray(np.asarray(xs, np.float64).reshape(4, 3))
)
_scale = st.floats(-5, 5, allow_nan=False)

NORMS = {
    "l1": penalties.l1,
    "group_lasso": penalties.group_lasso,
    "group_lasso_axis1_sparse": lambda w: penalties.group_lasso(w, axis=1, l1_ratio=0.3),
    "group_lasso_ids": lambda w: penalties.group_lasso(w, group_ids=[0, 1, 1, 0]),
    "elastic_net_l1": lambda w: penalties.elastic_net(w, 1.0),
    "nuclear": penalties.nuclear,
    "spectral": penalties.spectral,
}


@pytest.mark.parametrize("name", sorted(NORMS))
@HYP
@given(w=_matrix, c=_scale)
def test_positive_homogeneity(name, w, c):
    fn = NORMS[name]
    with jax.enable_x64(True):
        w = w.astype(jnp.float64)
        np.testing.assert_allclose(float(fn(c * w)), abs(c) * float(fn(w)), rtol=1e-10, atol=1e-10)


@HYP
@given(w=_matrix, c=_scale)
def test_l2_is_homogeneous_of_degree_two(w, c):
    with jax.enable_x64(True):
        w = w.astype(jnp.float64)
        np.testing.assert_allclose(
            float(penalties.l2(c * w)), c * c * float(penalties.l2(w)), rtol=1e-10, atol=1e-10
        )


@pytest.mark.parametrize("name", sorted(NORMS))
@HYP
@given(a=_matrix, b=_matrix)
def test_triangle_inequality(name, a, b):
    fn = NORMS[name]
    with jax.enable_x64(True):
        a, b = a.astype(jnp.float64), b.astype(jnp.float64)
        assert float(fn(a + b)) <= float(fn(a)) + float(fn(b)) + 1e-9


@HYP
@given(a=_matrix, b=_matrix)
def test_sqrt_l2_triangle_inequality_and_elastic_net_convexity(a, b):
    with jax.enable_x64(True):
        a, b = a.astype(jnp.float64), b.astype(jnp.float64)
        n = lambda w: float(jnp.sqrt(penalties.l2(w)))
        assert n(a + b) <= n(a) + n(b) + 1e-9
        # elastic_net is convex: Ω((a+b)/2) <= (Ω(a)+Ω(b))/2.
        en = lambda w: float(penalties.elastic_net(w, 0.4))
        assert en(0.5 * (a + b)) <= 0.5 * (en(a) + en(b)) + 1e-9
