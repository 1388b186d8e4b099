"""Tests of regjax.masks on plain dicts, flax linen, flax nnx and layer-stacked params."""

from __future__ import annotations

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import regjax
from regjax import masks, penalties


def _flags(mask_tree):
    """{path: flag} for a mask pytree."""
    from regjax._tree import path_str

    return {path_str(p): f for p, f in jax.tree_util.tree_flatten_with_path(mask_tree)[0]}


def _shapes(params):
    from regjax._tree import path_str

    return {path_str(p): np.shape(x) for p, x in jax.tree_util.tree_flatten_with_path(params)[0]}


# --------------------------------------------------------------------------- weights_only


def test_weights_only_plain_dict():
    params = {
        "dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)},
        "emb": {"embedding": jnp.ones((5, 2))},
        "norm": {"scale": jnp.ones(2), "offset": jnp.zeros(2)},
        "ln_f": {"g": jnp.ones(2), "b": jnp.zeros(2)},
        "bn1": {"gamma": jnp.ones(2), "beta": jnp.zeros(2), "running_mean": jnp.zeros(2)},
        "w": jnp.ones(4),  # named a weight: in, even as a vector
        "extra": [jnp.ones((2, 2)), jnp.ones(3)],  # unnamed: by rank
        "step": jnp.array(3, jnp.int32),
        "flags": jnp.ones((2, 2), jnp.bool_),
    }
    got = _flags(masks.weights_only(params))
    assert got == {
        "bn1/beta": False,
        "bn1/gamma": False,
        "bn1/running_mean": False,
        "dense/bias": False,
        "dense/kernel": True,
        "emb/embedding": True,
        "extra/0": True,
        "extra/1": False,
        "flags": False,
        "ln_f/b": False,
        "ln_f/g": False,
        "norm/offset": False,
        "norm/scale": False,
        "step": False,
        "w": True,
    }
    # Python bools, as optax expects.
    assert all(type(f) is bool for f in jax.tree.leaves(masks.weights_only(params)))


def test_weights_only_normal_is_not_norm():
    """`normal_init` or `abnormal` are not normalization layers."""
    params = {"normal_proj": {"kernel": jnp.ones((2, 2))}, "Dense_0": {"kernel": jnp.ones((2, 2))}}
    assert _flags(masks.weights_only(params)) == {
        "Dense_0/kernel": True,
        "normal_proj/kernel": True,
    }


class _LinenModel(nn.Module):
    @nn.compact
    def __call__(self, tokens, train: bool = False):
        x = nn.Embed(11, 4)(tokens)
        x = nn.Dense(6)(x)
        x = nn.LayerNorm()(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.Conv(3, (2,))(x)
        return nn.Dense(2)(x)


def test_weights_only_flax_linen():
    variables = _LinenModel().init(jax.random.key(0), jnp.zeros((1, 5), jnp.int32))
    got = _flags(masks.weights_only(variables))
    assert got == {
        "batch_stats/BatchNorm_0/mean": False,
        "batch_stats/BatchNorm_0/var": False,
        "params/BatchNorm_0/bias": False,
        "params/BatchNorm_0/scale": False,
        "params/Conv_0/bias": False,
        "params/Conv_0/kernel": True,
        "params/Dense_0/bias": False,
        "params/Dense_0/kernel": True,
        "params/Dense_1/bias": False,
        "params/Dense_1/kernel": True,
        "params/Embed_0/embedding": True,
        "params/LayerNorm_0/bias": False,
        "params/LayerNorm_0/scale": False,
    }
    # On the params collection alone, too.
    assert _flags(masks.weights_only(variables["params"]))["Dense_0/kernel"] is True
    assert _flags(masks.weights_only(variables["params"]))["LayerNorm_0/scale"] is False


class _NnxModel(nnx.Module):
    def __init__(self, rngs):
        self.embed = nnx.Embed(11, 4, rngs=rngs)
        self.linear = nnx.Linear(4, 6, rngs=rngs)
        self.ln = nnx.LayerNorm(6, rngs=rngs)
        self.bn = nnx.BatchNorm(6, rngs=rngs)
        self.layers = nnx.List([nnx.Linear(6, 6, rngs=rngs), nnx.Linear(6, 2, rngs=rngs)])


def test_weights_only_flax_nnx_state():
    model = _NnxModel(nnx.Rngs(0))
    state = nnx.state(model, nnx.Param)
    got = _flags(masks.weights_only(state))
    assert got == {
        "bn/bias": False,
        "bn/scale": False,
        "embed/embedding": True,
        "layers/0/bias": False,
        "layers/0/kernel": True,
        "layers/1/bias": False,
        "layers/1/kernel": True,
        "linear/bias": False,
        "linear/kernel": True,
        "ln/bias": False,
        "ln/scale": False,
    }
    # The whole state (running statistics included) too.
    full = _flags(masks.weights_only(nnx.state(model)))
    assert full["bn/mean"] is False and full["bn/var"] is False
    assert full["linear/kernel"] is True
    # A penalty on the State regularizes exactly the kernels and the embedding.
    expected = sum(
        float(jnp.sum(x**2))
        for x in [
            model.embed.embedding[...],
            model.linear.kernel[...],
            model.layers[0].kernel[...],
            model.layers[1].kernel[...],
        ]
    )
    np.testing.assert_allclose(
        float(penalties.l2(state, mask=masks.weights_only)), expected, rtol=1e-6
    )


class _Block(nn.Module):
    @nn.compact
    def __call__(self, x, _):
        h = nn.LayerNorm()(x)
        h = nn.Dense(4)(h)
        return x + h, None


class _Scanned(nn.Module):
    @nn.compact
    def __call__(self, x):
        stack = nn.scan(_Block, variable_axes={"params": 0}, split_rngs={"params": True}, length=3)
        x, _ = stack()(x, None)
        return x


def test_weights_only_linen_scanned_layers():
    variables = _Scanned().init(jax.random.key(0), jnp.zeros((2, 4)))
    shapes = _shapes(variables)
    got = _flags(masks.weights_only(variables))
    assert shapes["params/Scan_Block_0/LayerNorm_0/scale"] == (3, 4)  # 2-D: rank can't tell
    assert shapes["params/Scan_Block_0/Dense_0/kernel"] == (3, 4, 4)
    assert got == {
        "params/Scan_Block_0/Dense_0/bias": False,
        "params/Scan_Block_0/Dense_0/kernel": True,
        "params/Scan_Block_0/LayerNorm_0/bias": False,
        "params/Scan_Block_0/LayerNorm_0/scale": False,
    }


class _NnxBlock(nnx.Module):
    def __init__(self, rngs):
        self.norm = nnx.LayerNorm(4, rngs=rngs)
        self.proj = nnx.Linear(4, 4, rngs=rngs)


def test_weights_only_nnx_vmap_stacked_layers():
    @nnx.split_rngs(splits=3)
    @nnx.vmap(in_axes=(0,), out_axes=0)
    def make(rngs):
        return _NnxBlock(rngs)

    state = nnx.state(make(nnx.Rngs(0)), nnx.Param)
    shapes = _shapes(state)
    assert shapes["norm/scale"] == (3, 4)
    assert shapes["proj/kernel"] == (3, 4, 4)
    assert _flags(masks.weights_only(state)) == {
        "norm/bias": False,
        "norm/scale": False,
        "proj/bias": False,
        "proj/kernel": True,
    }


def test_weights_only_stacked_plain_dict_with_custom_norm_names():
    """Stacked params named by hand: a rank rule alone would catch all (n_layers, d) leaves."""
    n, d = 4, 3
    params = {
        "blocks": {
            "attn_norm": {"scale": jnp.ones((n, d))},
            "rms_norm": {"weight": jnp.ones((n, d))},  # torch-style name inside a norm layer
            "mlp": {"w": jnp.ones((n, d, d)), "b": jnp.ones((n, d))},
        },
        "final_ln": {"scale": jnp.ones(d)},
    }
    assert _flags(masks.weights_only(params)) == {
        "blocks/attn_norm/scale": False,
        "blocks/mlp/b": False,
        "blocks/mlp/w": True,
        "blocks/rms_norm/weight": False,
        "final_ln/scale": False,
    }


# --------------------------------------------------------------------------- optax


def _decay_reference(params, mask_flags, wd):
    return jax.tree.map(lambda p, m: wd * p if m else jnp.zeros_like(p), params, mask_flags)


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_regjax_masks_work_as_optax_masks(kind):
    if kind == "linen":
        params = _LinenModel().init(jax.random.key(1), jnp.zeros((1, 5), jnp.int32))["params"]
    else:
        params = nnx.state(_NnxModel(nnx.Rngs(1)), nnx.Param)
    zeros = jax.tree.map(jnp.zeros_like, params)
    flags = masks.weights_only(params)
    expected = _decay_reference(params, flags, 0.1)
    for mask in [masks.weights_only, flags]:
        tx = optax.add_decayed_weights(0.1, mask=mask)
        updates, _ = tx.update(zeros, tx.init(params), params)
        for u, e in zip(jax.tree.leaves(updates), jax.tree.leaves(expected)):
            np.testing.assert_allclose(np.asarray(u), np.asarray(e), rtol=1e-6)
        masked = optax.masked(optax.add_decayed_weights(0.1), mask)
        updates, _ = masked.update(zeros, masked.init(params), params)
        for u, e in zip(jax.tree.leaves(updates), jax.tree.leaves(expected)):
            np.testing.assert_allclose(np.asarray(u), np.asarray(e), rtol=1e-6)
    # by_path masks as well.
    tx = optax.masked(optax.add_decayed_weights(1.0), masks.by_path("embed"))
    updates, _ = tx.update(zeros, tx.init(params), params)
    flat = _flags(jax.tree.map(lambda u: bool(jnp.any(u != 0)), updates))
    assert {k for k, v in flat.items() if v} == {k for k in flat if "mbed" in k}


def test_optax_style_masks_work_in_regjax():
    params = {"a": jnp.ones((2, 2)), "b": {"c": jnp.full(3, 2.0), "d": jnp.full(1, 5.0)}}
    for mask in [
        {"a": False, "b": True},
        {"a": False, "b": {"c": True, "d": True}},
        lambda p: {"a": False, "b": jax.tree.map(lambda _: True, p["b"])},
    ]:
        assert float(penalties.l1(params, mask=mask)) == 11.0


# --------------------------------------------------------------------------- by_path


def test_by_path_on_dicts_lists_and_flax():
    params = {"encoder": {"kernel": jnp.ones(2)}, "head": {"kernel": jnp.ones(2)}}
    assert masks.by_path(r"^head/")(params) == {
        "encoder": {"kernel": False},
        "head": {"kernel": True},
    }
    assert masks.by_path(re.compile(r"^(?!head/)"))(params) == {
        "encoder": {"kernel": True},
        "head": {"kernel": False},
    }
    lists = [(jnp.ones(1), jnp.ones(1)), (jnp.ones(1), jnp.ones(1))]
    assert masks.by_path(r"^1/0$")(lists) == [(False, False), (True, False)]
    variables = _LinenModel().init(jax.random.key(0), jnp.zeros((1, 5), jnp.int32))
    got = _flags(masks.by_path(r"Dense_\d+/kernel$")(variables))
    assert {k for k, v in got.items() if v} == {
        "params/Dense_0/kernel",
        "params/Dense_1/kernel",
    }
    state = nnx.state(_NnxModel(nnx.Rngs(0)), nnx.Param)
    got = _flags(masks.by_path(r"^layers/\d+/kernel$")(state))
    assert {k for k, v in got.items() if v} == {"layers/0/kernel", "layers/1/kernel"}


def test_by_path_bad_pattern():
    with pytest.raises(ValueError, match=r"`regjax\.masks\.by_path\(pattern=\.\.\.\)` is not a"):
        masks.by_path("(unclosed")
    with pytest.raises(TypeError, match=r"`regjax\.masks\.by_path\(pattern=\.\.\.\)` must be"):
        masks.by_path(3)


# --------------------------------------------------------------------------- describe


def test_describe_table():
    params = {
        "dense": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)},
        "LayerNorm_0": {"scale": jnp.ones(2, jnp.bfloat16)},
    }
    out = masks.describe(masks.weights_only, params)
    assert out.splitlines() == [
        "leaf               shape   dtype     regularized",
        "LayerNorm_0/scale  (2,)    bfloat16  no",
        "dense/bias         (2,)    float32   no",
        "dense/kernel       (3, 2)  float32   yes",
        "regularized: 1 of 3 leaves, 6 of 10 parameters",
    ]


def test_describe_prefix_mask_none_and_root_leaf():
    params = {"a": {"x": jnp.ones((2, 2)), "y": jnp.ones(3)}, "b": jnp.ones(1)}
    out = masks.describe({"a": True, "b": False}, params)
    assert out.splitlines()[-1] == "regularized: 2 of 3 leaves, 7 of 8 parameters"
    assert "a/x   (2, 2)  float32  yes" in out
    assert "b     (1,)    float32  no" in out
    assert masks.describe(None, params).splitlines()[-1] == (
        "regularized: 3 of 3 leaves, 8 of 8 parameters"
    )
    root = masks.describe(None, jnp.ones((2, 3)))
    assert root.splitlines()[1].split() == ["<root>", "(2,", "3)", "float32", "yes"]


def test_describe_mask_mismatch():
    with pytest.raises(ValueError, match=r"`regjax\.masks\.describe\(mask=\.\.\.\)` must have"):
        masks.describe({"c": True}, {"a": jnp.ones(2)})


@pytest.mark.parametrize(
    "mask, name",
    [
        (regjax.masks.weights_only, "regjax.masks.weights_only"),
        (regjax.masks.by_path(r"^(?!b)"), "regjax.masks.by_path"),
    ],
)
def test_a_mask_under_inject_hyperparams_is_refused_unless_static(mask, name):
    """inject_hyperparams calls a callable argument with the step count; the mask's
    answer for a scalar (False, or True for by_path) would switch the transform."""
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    zeros = jax.tree.map(jnp.zeros_like, params)
    make = regjax.transforms.decoupled_weight_decay
    tx = optax.inject_hyperparams(make)(0.1, mask=mask)
    with pytest.raises(TypeError, match=re.escape(name) + r".*static_args"):
        tx.update(zeros, tx.init(params), params)
    tx = optax.inject_hyperparams(make, static_args=("mask",))(0.1, mask=mask)
    updates, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(updates["w"], -0.1 * params["w"])
    np.testing.assert_array_equal(updates["b"], 0.0)
