"""Weight decay and proximal transforms against independent references, and bad input."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import regjax
from regjax import transforms as T

HYP = settings(derandomize=True, deadline=None, database=None, max_examples=15)


def _params():
    k1, k2 = jax.random.split(jax.random.key(1))
    return {"dense": {"kernel": jax.random.normal(k1, (4, 3)), "bias": jax.random.normal(k2, (3,))}}


def _loss(params, x, y):
    pred = x @ params["dense"]["kernel"] + params["dense"]["bias"][None, :]
    return jnp.mean((pred - y) ** 2)


def _xy():
    kx, ky = jax.random.split(jax.random.key(2))
    return jax.random.normal(kx, (16, 4)), jax.random.normal(ky, (16, 3))


# ---------------------------------------------------------------- 1. weight decay


def test_coupled_l2_equals_sgd_on_penalized_loss():
    params, (x, y) = _params(), _xy()
    lam, lr = 0.3, 0.05
    mask = regjax.masks.weights_only
    tx = optax.chain(T.add_l2_gradient(lam, mask=mask), optax.sgd(lr))
    penalized = lambda p: _loss(p, x, y) + lam * regjax.penalties.l2(p, mask=mask)
    p, s, ref = params, tx.init(params), params
    for _ in range(5):
        u, s = tx.update(jax.grad(_loss)(p, x, y), s, p)
        p = optax.apply_updates(p, u)
        ref = jax.tree.map(lambda w, g: w - lr * g, ref, jax.grad(penalized)(ref))
    chex.assert_trees_all_close(p, ref, rtol=1e-6, atol=1e-7)
    plain = params
    for _ in range(5):
        plain = jax.tree.map(lambda w, g: w - lr * g, plain, jax.grad(_loss)(plain, x, y))
    assert not np.allclose(p["dense"]["kernel"], plain["dense"]["kernel"], atol=1e-4)


def test_coupled_l2_per_leaf_strength():
    params = _params()
    strengths = {"dense": {"kernel": 0.5, "bias": 0.0}}
    tx = T.add_l2_gradient(strengths)
    zeros = jax.tree.map(jnp.zeros_like, params)
    u, _ = tx.update(zeros, tx.init(params), params)
    np.testing.assert_allclose(u["dense"]["kernel"], 1.0 * np.asarray(params["dense"]["kernel"]))
    np.testing.assert_array_equal(u["dense"]["bias"], 0.0)


def test_decoupled_with_learning_rate_reproduces_adamw():
    params, (x, y) = _params(), _xy()
    lr = optax.linear_schedule(1e-2, 1e-3, 10)
    wd = 0.1
    with jax.numpy_dtype_promotion("standard"):  # optax.adam itself is not strict-promotion safe
        ours = optax.chain(
            optax.adam(lr),
            T.decoupled_weight_decay(wd, learning_rate=lr, mask=regjax.masks.weights_only),
        )
        ref = optax.adamw(lr, weight_decay=wd, mask=regjax.masks.weights_only)
        p, s = params, ours.init(params)
        q, r = params, ref.init(params)
        for _ in range(6):
            u, s = ours.update(jax.grad(_loss)(p, x, y), s, p)
            v, r = ref.update(jax.grad(_loss)(q, x, y), r, q)
            chex.assert_trees_all_close(u, v, rtol=1e-6, atol=1e-8)
            p, q = optax.apply_updates(p, u), optax.apply_updates(q, v)
    chex.assert_trees_all_close(p, q, rtol=1e-6, atol=1e-7)


def test_decoupled_without_learning_rate_is_independent_of_it():
    params = _params()
    wd = 0.01
    grads = jax.tree.map(jnp.ones_like, params)
    for lr in (0.1, 1.0):
        tx = optax.chain(optax.sgd(lr), T.decoupled_weight_decay(wd))
        u, _ = tx.update(grads, tx.init(params), params)
        expected = jax.tree.map(
            lambda g, w, lr=lr: -lr * np.asarray(g) - wd * np.asarray(w), grads, params
        )
        chex.assert_trees_all_close(u, expected, rtol=1e-6)


def test_decoupled_towards_reference_point():
    params = _params()
    ref = jax.tree.map(lambda w: w + 1.0, params)
    tx = T.decoupled_weight_decay(0.2, towards=ref)
    zeros = jax.tree.map(jnp.zeros_like, params)
    u, _ = tx.update(zeros, tx.init(params), params)
    chex.assert_trees_all_close(
        u, jax.tree.map(lambda w: 0.2 * jnp.ones_like(w), params), rtol=1e-6
    )
    # Repeated decay converges to the reference, not to zero.
    p, s = params, tx.init(params)
    for _ in range(200):
        u, s = tx.update(zeros, s, p)
        p = optax.apply_updates(p, u)
    chex.assert_trees_all_close(p, ref, atol=1e-4)


# ---------------------------------------------------------------- 2. proximal steps


def _lasso_problem():
    rng = np.random.default_rng(0)
    n, d = 60, 10
    X = rng.normal(size=(n, d))
    w_true = np.zeros(d)
    w_true[:3] = [2.0, -1.5, 1.0]
    y = X @ w_true + 0.3 * rng.normal(size=n)
    return X, y


def test_sgd_proximal_l1_converges_to_sklearn_lasso():
    from sklearn import linear_model as sklearn

    X, y = _lasso_problem()
    alpha = 0.1
    ref = sklearn.Lasso(alpha=alpha, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        lr = 1.0 / float(np.linalg.eigvalsh(X.T @ X / len(y)).max())
        loss = lambda w: 0.5 * jnp.mean((Xj @ w - yj) ** 2)  # scikit-learn's objective
        tx = optax.chain(optax.sgd(lr), T.proximal_l1(alpha, lr))

        def body(carry, _):
            w, s = carry
            u, s = tx.update(jax.grad(loss)(w), s, w)
            return (optax.apply_updates(w, u), s), None

        w0 = jnp.zeros(X.shape[1], jnp.float64)
        (w, _), _ = jax.lax.scan(body, (w0, tx.init(w0)), None, length=3000)
        w = np.asarray(w)
    np.testing.assert_array_equal(w == 0, ref.coef_ == 0)
    assert (w == 0).sum() > 0  # the support is a strict subset: exact zeros
    np.testing.assert_allclose(w, ref.coef_, atol=1e-4)


def test_sgd_proximal_elastic_net_matches_sklearn():
    from sklearn import linear_model as sklearn

    X, y = _lasso_problem()
    alpha, r = 0.2, 0.6
    ref = sklearn.ElasticNet(
        alpha=alpha, l1_ratio=r, fit_intercept=False, tol=1e-14, max_iter=100_000
    ).fit(X, y)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        lr = 1.0 / float(np.linalg.eigvalsh(X.T @ X / len(y)).max())
        loss = lambda w: 0.5 * jnp.mean((Xj @ w - yj) ** 2)
        tx = optax.chain(optax.sgd(lr), T.proximal_elastic_net(alpha, r, lr))

        def body(carry, _):
            w, s = carry
            u, s = tx.update(jax.grad(loss)(w), s, w)
            return (optax.apply_updates(w, u), s), None

        w0 = jnp.zeros(X.shape[1], jnp.float64)
        (w, _), _ = jax.lax.scan(body, (w0, tx.init(w0)), None, length=3000)
    np.testing.assert_array_equal(np.asarray(w) == 0, ref.coef_ == 0)
    np.testing.assert_allclose(np.asarray(w), ref.coef_, atol=1e-4)


def test_adam_proximal_l1_gives_exact_zeros():
    # Mini-batches: Adam's normalized step |m/sqrt(v)| is small for noise features,
    # so the prox (threshold lr * lam) holds them at exactly zero.
    X, y = _lasso_problem()
    Xj, yj = jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32)
    loss = lambda w, idx: 0.5 * jnp.mean((Xj[idx] @ w - yj[idx]) ** 2)
    with jax.numpy_dtype_promotion("standard"):  # optax.adam is not strict-promotion safe
        tx = optax.chain(optax.adam(0.02), T.proximal_l1(0.3, 0.02))
        w = jnp.zeros(X.shape[1])
        s = tx.init(w)
        step = jax.jit(lambda w, s, idx: tx.update(jax.grad(loss)(w, idx), s, w))
        for k in range(400):
            idx = jnp.asarray(np.random.default_rng(k).choice(len(y), 10, replace=False))
            u, s = step(w, s, idx)
            w = optax.apply_updates(w, u)
    w = np.asarray(w)
    assert (w[3:] == 0).sum() >= 4  # noise features are exactly zero
    assert np.all(np.abs(w[:3]) > 0.5)


def test_proximal_presets_match_prox_of_moved_point():
    params = _params()
    updates = jax.tree.map(lambda w: 0.1 * jnp.ones_like(w), params)
    lr, lam = 0.5, 0.4
    moved = jax.tree.map(lambda p, u: p + u, params, updates)
    mask = regjax.masks.weights_only
    cases = [
        (
            T.proximal_group_lasso(lam, lr, mask=mask),
            regjax.prox.group_lasso(moved, lr * lam, mask=mask),
        ),
        (T.proximal_nuclear(lam, lr, mask=mask), regjax.prox.nuclear(moved, lr * lam, mask=mask)),
        (T.proximal(regjax.prox.l2, lam, lr), regjax.prox.l2(moved, lr * lam)),
    ]
    for tx, expected in cases:
        u, _ = tx.update(updates, tx.init(params), params)
        chex.assert_trees_all_close(optax.apply_updates(params, u), expected, rtol=1e-6, atol=1e-7)
    # The nuclear prox against an SVD written out here.
    u, _ = cases[1][0].update(updates, cases[1][0].init(params), params)
    k = np.asarray(moved["dense"]["kernel"], np.float64)
    U, S, Vt = np.linalg.svd(k, full_matrices=False)
    ref = (U * np.maximum(S - lr * lam, 0)) @ Vt
    np.testing.assert_allclose(optax.apply_updates(params, u)["dense"]["kernel"], ref, atol=1e-5)
    # The bias is masked out: it gets the incoming update exactly.
    np.testing.assert_array_equal(u["dense"]["bias"], updates["dense"]["bias"])


@HYP
@given(
    v=st.lists(st.floats(-3, 3, allow_nan=False, width=32), min_size=1, max_size=6),
    lam=st.floats(0, 2, width=32),
)
def test_proximal_l1_is_soft_thresholding_numpy(v, lam):
    w = jnp.asarray(v, jnp.float32)
    u = jnp.full_like(w, 0.25)
    tx = T.proximal_l1(lam, 0.5)
    out, _ = tx.update(u, tx.init(w), w)
    z = np.asarray(w) + np.float32(0.25)
    t = np.float32(0.5) * np.float32(lam)
    ref = np.array([np.sign(zi) * max(abs(zi) - t, 0.0) for zi in z], np.float32)
    np.testing.assert_allclose(np.asarray(w + out), ref, atol=1e-6)
    assert np.all((np.asarray(w + out) == 0) == (np.abs(z) <= t))


# ---------------------------------------------------------------- 5. bad input


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: T.add_l2_gradient(-0.1), "strength"),
        (lambda: T.decoupled_weight_decay(-1e-4), "weight_decay"),
        (lambda: T.decoupled_weight_decay({"a": 0.1, "b": -0.2}), "weight_decay"),
        (lambda: T.proximal_l1(-1.0, 0.1), "strength"),
        (lambda: T.proximal_l1(1.0, -0.1), "learning_rate"),
        (lambda: T.sam(-0.05), "rho"),
        (lambda: T.sam(0.05, eta=-1.0), "eta"),
        (lambda: T.proximal_elastic_net(1.0, 1.5, 0.1), "l1_ratio"),
    ],
)
def test_negative_hyperparameters_raise_value_error(make, name):
    with pytest.raises(ValueError, match=rf"`regjax\.transforms\.\w+\({name}=\.\.\.\)`"):
        make()


@pytest.mark.parametrize(
    "make, where",
    [
        (lambda: T.decoupled_weight_decay(0.1, learning_rate="1e-3"), "decoupled_weight_decay"),
        (lambda: T.proximal_l1(0.1, "0.1"), "proximal_l1"),
        (lambda: T.proximal(regjax.prox.l1, 0.1, "fast"), "proximal"),
    ],
)
def test_string_learning_rate_raises_type_error(make, where):
    with pytest.raises(TypeError, match=rf"`regjax\.transforms\.{where}\(learning_rate=\.\.\.\)`"):
        make()


def test_towards_with_wrong_structure_raises():
    params = _params()
    tx = T.decoupled_weight_decay(0.1, towards={"kernel": jnp.zeros((4, 3))})
    with pytest.raises(ValueError, match=r"decoupled_weight_decay\(towards=\.\.\.\)"):
        tx.init(params)
    with pytest.raises(ValueError, match=r"towards=\.\.\.\)"):
        tx.update(params, None, params)  # update checks it too
    wrong_shape = jax.tree.map(lambda w: jnp.zeros((*w.shape, 1)), params)
    with pytest.raises(ValueError, match="structure and shapes"):
        T.decoupled_weight_decay(0.1, towards=wrong_shape).init(params)


def test_missing_params_raises():
    with pytest.raises(ValueError, match=r"add_l2_gradient\(\.\.\.\)\.update` needs the current"):
        tx = T.add_l2_gradient(0.1)
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_traced_negative_strength_is_caught_by_checkify():
    params = jnp.ones(2)

    def f(lam):
        tx = T.add_l2_gradient(lam)
        return tx.update(params, tx.init(params), params)[0]

    err, _ = jax.vmap(regjax.checks.checkify(f))(jnp.array([0.1, -0.1]))
    assert "at mapped index 1" in err.get()
    assert "add_l2_gradient(strength=...)" in err.get()


@pytest.mark.parametrize(
    "tx",
    [
        T.proximal_l1(0.5, 0.1),
        T.proximal_elastic_net(0.5, 0.3, 0.1),
        T.proximal_group_lasso(0.5, 0.1, l1_ratio=0.2),
        T.proximal(regjax.prox.l1, 0.5, 0.1),
    ],
    ids=["l1", "elastic_net", "group_lasso", "proximal"],
)
def test_proximal_steps_keep_a_nan_param_or_update_nan(tx):
    # A diverged run must stay visibly diverged: soft-thresholding used to map
    # NaN to 0, which restarted a blown-up weight from an exact zero.
    params = jnp.array([[1.0, 0.01], [2.0, -3.0]], jnp.float32)
    nan_update = jnp.array([[np.nan, 0.0], [0.0, 0.0]], jnp.float32)
    upd, _ = tx.update(nan_update, tx.init(params), params)
    assert np.isnan(np.asarray(upd)[0, 0])
    nan_params = params.at[0, 0].set(np.nan)
    upd, _ = tx.update(jnp.zeros_like(params), tx.init(nan_params), nan_params)
    new = np.asarray(optax.apply_updates(nan_params, upd))
    assert np.isnan(new[0, 0])
    # Entries (for the group lasso: groups) without a NaN are unaffected.
    assert np.isfinite(new[1]).all()


# ---------------------------------------------------------------- None updates, error names


def _none_params():
    return {"kernel": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "bias": jnp.array([0.25, -1.0])}


@pytest.mark.parametrize(
    "ours, peer",
    [
        (lambda: T.add_l2_gradient(0.05), lambda: optax.add_decayed_weights(0.1)),
        (lambda: T.decoupled_weight_decay(0.1), lambda: optax.add_decayed_weights(-0.1)),
        (
            lambda: T.decoupled_weight_decay(lambda c: 0.1, learning_rate=1.0),
            lambda: optax.add_decayed_weights(lambda c: -0.1),
        ),
        (
            lambda: T.add_l2_gradient(0.05, mask={"kernel": True, "bias": False}),
            lambda: optax.add_decayed_weights(0.1, mask={"kernel": True, "bias": False}),
        ),
    ],
    ids=["add_l2_gradient", "decoupled", "decoupled_schedule", "add_l2_masked"],
)
def test_none_updates_pass_through_as_in_optax_add_decayed_weights(ours, peer):
    params = _none_params()
    tx, ref = ours(), peer()
    # A None leaf (optax: "no update for this param") stays None; the others
    # get the same decay as optax's (−wd·p written as add_decayed_weights(−wd)).
    partial = {"kernel": jnp.ones((2, 2)), "bias": None}
    got, _ = tx.update(partial, tx.init(params), params)
    want, _ = ref.update(partial, ref.init(params), params)
    assert got["bias"] is None and want["bias"] is None
    np.testing.assert_allclose(got["kernel"], want["kernel"], rtol=1e-6)
    # A wholly None update passes through, as optax's unmasked add_decayed_weights.
    got, _ = jax.jit(lambda p: tx.update(None, tx.init(p), p))(params)
    assert got is None
    assert optax.add_decayed_weights(0.1).update(None, ref.init(params), params)[0] is None


def test_none_updates_pass_through_decoupled_with_towards_and_mask():
    params = _none_params()
    ref_point = jax.tree.map(lambda p: 0.5 * p, params)
    tx = T.decoupled_weight_decay(
        0.2, learning_rate=0.5, towards=ref_point, mask=regjax.masks.weights_only
    )
    out, _ = tx.update({"kernel": None, "bias": jnp.ones(2)}, tx.init(params), params)
    assert out["kernel"] is None
    np.testing.assert_array_equal(out["bias"], np.ones(2))  # bias is masked out
    out, _ = tx.update({"kernel": jnp.zeros((2, 2)), "bias": None}, tx.init(params), params)
    np.testing.assert_allclose(
        out["kernel"], -0.5 * 0.2 * (np.asarray(params["kernel"]) * 0.5), rtol=1e-6
    )
    assert out["bias"] is None


@pytest.mark.parametrize(
    "tx",
    [T.proximal_l1(0.1, 0.1), T.proximal_group_lasso(0.1, 0.1), T.sam(0.05)],
    ids=["proximal_l1", "proximal_group_lasso", "sam"],
)
def test_none_updates_refused_by_name_where_optax_has_no_pass_through(tx):
    params = _none_params()
    extra = (
        {"grad_fn": lambda p: p} if isinstance(tx, optax.GradientTransformationExtraArgs) else {}
    )
    for upd in (None, {"kernel": jnp.zeros((2, 2)), "bias": None}):
        with pytest.raises(
            ValueError,
            match=r"`regjax\.transforms\.\w+\(\.\.\.\)\.update\(updates=\.\.\.\)` holds None",
        ):
            tx.update(upd, tx.init(params), params, **extra)


def test_errors_name_the_transform_the_user_called():
    k = jnp.ones((3, 2))
    tx = T.proximal_group_lasso(0.1, 0.1, axis=2)
    with pytest.raises(
        ValueError, match=r"^`regjax\.transforms\.proximal_group_lasso\(axis=\.\.\.\)`"
    ):
        tx.update(k, tx.init(k), k)
    tx = T.proximal_group_lasso(0.1, 0.1, group_ids=[0, 1])
    with pytest.raises(
        ValueError, match=r"^`regjax\.transforms\.proximal_group_lasso\(group_ids=\.\.\.\)`"
    ):
        tx.update(k, tx.init(k), k)
    v = jnp.ones(3)
    tx = T.proximal_nuclear(0.1, 0.1)
    with pytest.raises(
        ValueError,
        match=r"^`regjax\.transforms\.proximal_nuclear\(\.\.\.\)\.update\(params=\.\.\.\)`: "
        r"leaf <root> has shape \(3,\)",
    ):
        tx.update(v, tx.init(v), v)
    # An integer param is reported as a param of update(), not as an `x` no one passed.
    params = {"w": jnp.arange(3), "b": jnp.ones(2)}
    grads = {"w": jnp.zeros(3), "b": jnp.zeros(2)}
    for factory, where in [
        (lambda: T.decoupled_weight_decay(0.1), "decoupled_weight_decay"),
        (lambda: T.add_l2_gradient(0.1), "add_l2_gradient"),
    ]:
        tx = factory()
        with pytest.raises(
            ValueError,
            match=rf"^`regjax\.transforms\.{where}\(\.\.\.\)\.update\(params=\.\.\.\)`: leaf w "
            r"has dtype int32",
        ):
            tx.update(grads, tx.init(params), params)
    # The public prox functions keep their own names.
    with pytest.raises(ValueError, match=r"^`regjax\.prox\.group_lasso\(axis=\.\.\.\)`"):
        regjax.prox.group_lasso(k, 0.1, axis=2)
    with pytest.raises(ValueError, match=r"^`regjax\.prox\.nuclear\(x=\.\.\.\)`"):
        regjax.prox.nuclear(v, 0.1)


@pytest.mark.parametrize(
    "factory, where",
    [
        (lambda: T.proximal_l1(0.1, 0.1), "proximal_l1"),
        (lambda: T.proximal_elastic_net(0.1, 0.5, 0.1), "proximal_elastic_net"),
        (lambda: T.proximal_group_lasso(0.1, 0.1), "proximal_group_lasso"),
        (lambda: T.proximal(regjax.prox.l1, 0.1, 0.1), "proximal"),
    ],
)
def test_an_integer_param_is_reported_by_the_proximal_transform(factory, where):
    # It used to be reported as `regjax.prox.l1(x=...)` (or the transform's `x=`).
    params = {"w": jnp.arange(3), "b": jnp.ones(2)}
    updates = {"w": jnp.zeros(3, jnp.int32), "b": jnp.zeros(2)}
    tx = factory()
    with pytest.raises(
        ValueError,
        match=rf"^`regjax\.transforms\.{where}\(\.\.\.\)\.update\(params=\.\.\.\)`: leaf w has "
        r"dtype int32",
    ):
        tx.update(updates, tx.init(params), params)
