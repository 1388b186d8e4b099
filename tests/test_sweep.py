"""regjax.sweep: grids, vmapped runs against Python loops, chunks, devices, resume."""

import gc
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import regjax
from regjax import _sweep, sweep

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _width_sensitive import train_mlp

X = jnp.asarray(np.random.default_rng(0).normal(size=(64, 5)), jnp.float32)
W_TRUE = jnp.asarray([1.0, -2.0, 0.0, 0.5, 0.0], jnp.float32)
Y = X @ W_TRUE + 0.1 * jnp.asarray(np.random.default_rng(1).normal(size=64), jnp.float32)

TRACES = []


def train_ridge(hp, key):
    """Gradient descent on ridge with a noisy start: uses the key and two hyperparameters."""
    TRACES.append(1)
    w = 0.1 * jax.random.normal(key, (5,))

    def step(w, _):
        g = jax.grad(lambda w: jnp.mean((X @ w - Y) ** 2) + hp["lam"] * regjax.penalties.l2(w))(w)
        return w - hp["lr"] * g, None

    w, _ = jax.lax.scan(step, w, None, length=50)
    return {"loss": jnp.mean((X @ w - Y) ** 2), "w": w}


def loop_reference(g, key):
    single = jax.jit(train_ridge)
    outs = [
        single({k: jnp.asarray(v) for k, v in g.member(i).items()}, jax.random.fold_in(key, i))
        for i in range(len(g))
    ]
    return jax.tree.map(lambda *a: np.stack(a), *outs)


def test_grid_is_the_cartesian_product_in_order():
    g = sweep.grid(a=[1.0, 2.0], b=[10, 20, 30])
    assert g.shape == (2, 3) and len(g) == 6 and g.names == ("a", "b")
    expected = list(itertools.product([1.0, 2.0], [10, 20, 30]))
    assert [tuple(m.values()) for m in g.members()] == expected
    assert g["a"].dtype == np.float32 and g["b"].dtype == np.int32
    assert g.reshape(np.arange(6)).tolist() == [[0, 1, 2], [3, 4, 5]]
    leaves, tree = jax.tree.flatten(g)
    assert len(leaves) == 2 and jax.tree.unflatten(tree, leaves).shape == (2, 3)


@pytest.mark.parametrize(
    ("axes", "error", "match"),
    [
        ({}, ValueError, r"grid\(\)` needs at least one axis"),
        ({"lam": []}, ValueError, r"grid\(lam=...\)` is empty"),
        ({"lam": [[0.1, 0.2]]}, ValueError, r"grid\(lam=...\)` must be a 1-D"),
        ({"lam": ["a"]}, TypeError, r"grid\(lam=...\)` must hold numbers"),
        ({"lam": [np.nan]}, ValueError, r"NaN or inf"),
    ],
)
def test_grid_bad_input(axes, error, match):
    with pytest.raises(error, match=match):
        sweep.grid(**axes)


def test_run_equals_python_loop_and_compiles_once():
    g = sweep.grid(lr=[0.05, 0.1], lam=[0.0, 0.01, 0.1])
    key = jax.random.key(3)
    TRACES.clear()
    result = sweep.run(train_ridge, g, key, progress=False)
    assert len(TRACES) == 1
    ref = loop_reference(g, key)
    np.testing.assert_allclose(result.metrics["w"], ref["w"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.metrics["loss"], ref["loss"], rtol=1e-5)
    # A second run with the same function and grid shapes reuses the compiled program.
    TRACES.clear()
    again = sweep.run(
        train_ridge, sweep.grid(lr=[0.01, 0.02], lam=[1.0, 2.0, 3.0]), key, progress=False
    )
    assert len(TRACES) == 0
    assert again.metrics["w"].shape == (6, 5)


def test_the_trace_cache_does_not_keep_train_fn_or_its_arrays_alive():
    size = 2**22  # a 16 MB float32 array captured by train_fn's closure

    def make():
        captured = jnp.ones(size, jnp.float32)

        def train(hp, key):
            TRACES.append(1)
            return {"s": jnp.sum(captured) * hp["lam"]}

        return train

    train = make()
    alive = weakref.ref(train)
    g = sweep.grid(lam=[1.0, 2.0])
    TRACES.clear()
    for _ in range(2):  # the second run reuses the first one's trace while train lives
        result = sweep.run(train, g, jax.random.key(0), progress=False)
    assert len(TRACES) == 1
    np.testing.assert_array_equal(result.metrics["s"], [float(size), 2.0 * size])
    del train
    gc.collect()
    assert alive() is None
    assert not [a for a in jax.live_arrays() if a.shape == (size,)]


class _Model:
    def __init__(self, scale):
        self.scale = jnp.asarray(scale)

    def train(self, hp, key):
        TRACES.append(1)
        return {"s": self.scale * hp["lam"]}


class _Slotted:
    __slots__ = ("scale",)  # no __weakref__: cannot be cached without being owned

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, hp, key):
        TRACES.append(1)
        return {"s": self.scale * hp["lam"]}


def test_bound_methods_are_cached_per_object_and_freed_with_it():
    g = sweep.grid(lam=[1.0, 2.0])
    model = _Model(3.0)
    alive = weakref.ref(model)
    TRACES.clear()
    for _ in range(2):  # `model.train` is a new object each time, the same method
        result = sweep.run(model.train, g, jax.random.key(0), progress=False)
    assert len(TRACES) == 1
    np.testing.assert_array_equal(result.metrics["s"], [3.0, 6.0])
    del model
    gc.collect()
    assert alive() is None
    TRACES.clear()
    slotted = _Slotted(2.0)
    for _ in range(2):  # not weakly referenceable: run, traced each time, never kept
        result = sweep.run(slotted, g, jax.random.key(0), progress=False)
    assert len(TRACES) == 2
    np.testing.assert_array_equal(result.metrics["s"], [2.0, 4.0])


def test_chunks_give_the_same_results_with_one_compile(caplog):
    def fresh(hp, key):  # a new function, so no earlier test's trace is reused
        return train_ridge(hp, key)

    g = sweep.grid(lr=[0.05, 0.1], lam=[0.0, 0.01, 0.1, 1.0])
    key = jax.random.key(0)
    TRACES.clear()
    # Bit-identity across chunk sizes is promised for a given vmap_size only: the default
    # width follows the chunk size (8 wide whole, 3 wide in chunks of 3 here), and XLA may
    # round a batch of 8 and a batch of 3 differently in the last bit.
    whole = sweep.run(fresh, g, key, vmap_size=3, progress=False)
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        # 8 members = 3+3+2(padded)
        chunked = sweep.run(fresh, g, key, vmap_size=3, chunk_size=3, progress=False)
    assert len(TRACES) == 1  # train_fn is traced once, whatever the chunking
    compiled = [r for r in caplog.records if "Finished XLA compilation of jit(local)" in r.message]
    assert len(compiled) == 1  # one program for the three chunks
    np.testing.assert_array_equal(chunked.metrics["w"], whole.metrics["w"])
    assert chunked.metrics["w"].shape == (8, 5)


@pytest.mark.parametrize("width", [1, 3, 4])
def test_a_fixed_vmap_width_is_bit_identical_across_chunk_sizes(width):
    g = sweep.grid(lam=np.linspace(0.0, 0.1, 10))
    key = jax.random.key(0)
    whole = sweep.run(train_mlp, g, key, vmap_size=width, progress=False)
    for chunk in (1, 2, 7):
        chunked = sweep.run(train_mlp, g, key, vmap_size=width, chunk_size=chunk, progress=False)
        np.testing.assert_array_equal(chunked.metrics["loss"], whole.metrics["loss"])
    # Every width computes the same training runs (a loop of the jitted member).
    single = jax.jit(train_mlp)
    loop = [single(g.member(i), jax.random.fold_in(key, i))["loss"] for i in range(len(g))]
    np.testing.assert_allclose(whole.metrics["loss"], np.stack(loop), rtol=1e-5)


def test_vmap_size_bad_input():
    g = sweep.grid(lam=[0.1, 0.2])
    with pytest.raises(ValueError, match=r"run\(vmap_size=...\)` must be >= 1"):
        sweep.run(train_ridge, g, jax.random.key(0), vmap_size=0)
    with pytest.raises(TypeError, match=r"run\(vmap_size=...\)` must be an int"):
        sweep.run(train_ridge, g, jax.random.key(0), vmap_size=2.0)


def test_heavy_members_run_one_after_another_on_cpu():
    """Members whose ops each move much memory are not vmapped: no cache thrash, no padding."""
    heavy = _sweep._Member(fn=None, out_shapes=None, traffic_bytes=600 * 2**20)
    light = _sweep._Member(fn=None, out_shapes=None, traffic_bytes=40 * 2**20)
    assert _sweep._vmap_width(None, heavy, "cpu", n_members=64, per_device=64) == 1
    assert _sweep._vmap_width(None, light, "cpu", n_members=64, per_device=64) == 32  # 2 x 32
    assert _sweep._vmap_width(None, light, "cpu", n_members=256, per_device=256) == 43  # 6 x 43
    assert _sweep._vmap_width(None, light, "cpu", n_members=1, per_device=1) == 1
    assert _sweep._vmap_width(None, heavy, "gpu", n_members=64, per_device=16) == 16
    assert _sweep._vmap_width(5, heavy, "cpu", n_members=64, per_device=2) == 5
    # XLA's estimate is there for a real member, and grows with its work.
    g = sweep.grid(lr=[0.1], lam=[0.1, 0.2])
    signature = _sweep._signature(g, jax.random.key(0), ())
    small = _sweep._trace_member(train_ridge, False, signature).traffic_bytes
    bigger = _sweep._trace_member(train_mlp, False, signature).traffic_bytes
    assert 0 < small < bigger


def test_keys_differ_per_member_and_are_reproducible():
    def draw(hp, key):
        return {"z": jax.random.normal(key, ()) + 0.0 * hp["a"]}

    g = sweep.grid(a=[0.0, 1.0, 2.0, 3.0])
    # one vmap_size for both: bit-identity across chunk sizes is promised at a given width
    r1 = sweep.run(draw, g, jax.random.key(7), vmap_size=2, progress=False)
    r2 = sweep.run(draw, g, jax.random.key(7), vmap_size=2, chunk_size=1, progress=False)
    assert len(set(r1.metrics["z"].tolist())) == 4
    np.testing.assert_array_equal(r1.metrics["z"], r2.metrics["z"])
    raw = sweep.run(draw, g, jax.random.PRNGKey(7), progress=False)  # raw uint32 keys work too
    assert raw.metrics["z"].shape == (4,)


def test_folds_vmapped_with_members_and_one_standard_error():
    n = 60
    x = jnp.asarray(np.random.default_rng(2).normal(size=(n, 8)), jnp.float32)
    y = x[:, 0] + 0.5 * jnp.asarray(np.random.default_rng(3).normal(size=n), jnp.float32)
    folds = sweep.kfold(jax.random.key(1), n, 5)
    assert (folds.val.sum(axis=0) == 1).all() and (folds.train == ~folds.val).all()

    traces = []

    def fit(hp, key, fold):
        traces.append(1)
        train, val = fold
        wt = train.astype(jnp.float32)
        # Weighted ridge in closed form, then validation MSE on the held-out fold.
        a = (x * wt[:, None]).T @ x / wt.sum() + hp["lam"] * jnp.eye(8)
        w = jnp.linalg.solve(a, (x * wt[:, None]).T @ y / wt.sum())
        vt = val.astype(jnp.float32)
        return {"val_mse": jnp.sum(vt * (x @ w - y) ** 2) / vt.sum()}

    lams = np.logspace(-3, 1, 9)
    result = sweep.run(fit, sweep.grid(lam=lams), jax.random.key(0), folds=folds, progress=False)
    mse = result.metric("val_mse")
    assert mse.shape == (9, 5)
    assert len(traces) == 1  # folds x members: one compile
    # Reference: NumPy ridge per fold.
    xn, yn = np.asarray(x, np.float64), np.asarray(y, np.float64)
    for i, lam in enumerate(lams):
        for f in range(5):
            tr, va = folds.indices(f)
            a = xn[tr].T @ xn[tr] / len(tr) + lam * np.eye(8)
            w = np.linalg.solve(a, xn[tr].T @ yn[tr] / len(tr))
            assert mse[i, f] == pytest.approx(np.mean((xn[va] @ w - yn[va]) ** 2), rel=1e-3)
    mean, se = mse.mean(1), mse.std(1, ddof=1) / np.sqrt(5)
    b = int(np.argmin(mean))
    assert result.best("val_mse") == {"lam": pytest.approx(float(np.float32(lams[b])))}
    chosen = max(i for i in range(9) if mean[i] <= mean[b] + se[b])
    assert result.one_standard_error("val_mse")["lam"] == pytest.approx(
        float(np.float32(lams[chosen]))
    )
    assert lams[chosen] >= lams[b]


def test_divergence_is_isolated():
    def train(hp, key):
        w = jnp.zeros(5)
        diverged = jnp.array(False)

        def step(carry, _):
            w, diverged = carry
            loss, g = jax.value_and_grad(lambda w: jnp.mean((X @ w - Y) ** 2))(w)
            w, diverged = sweep.freeze_if_diverged(w, w - hp["lr"] * g, loss, diverged)
            return (w, diverged), None

        (w, diverged), _ = jax.lax.scan(step, (w, diverged), None, length=200)
        return {"loss": jnp.mean((X @ w - Y) ** 2), "w": w, "diverged": diverged}

    key = jax.random.key(0)
    with_bad = sweep.run(train, sweep.grid(lr=[0.05, 50.0, 0.1]), key, progress=False)
    without = sweep.run(train, sweep.grid(lr=[0.05, 0.07, 0.1]), key, progress=False)
    assert with_bad.diverged.tolist() == [False, True, False]
    assert np.isfinite(with_bad.metrics["w"]).all()  # frozen at the last finite state
    for i in (0, 2):
        np.testing.assert_array_equal(with_bad.metrics["w"][i], without.metrics["w"][i])
    assert with_bad.best("loss") in ({"lr": pytest.approx(0.05)}, {"lr": pytest.approx(0.1)})


def _train_with_weight_decay(hp, key):
    """SGD with decoupled weight decay ``hp["wd"]``: checked >= 0 under regjax.checks."""
    tx = optax.chain(
        optax.sgd(0.05), regjax.transforms.decoupled_weight_decay(hp["wd"], learning_rate=0.05)
    )
    w = jax.random.normal(key, (5,))

    def step(carry, _):
        w, state = carry
        g = jax.grad(lambda w: jnp.mean((X @ w - Y) ** 2))(w)
        updates, state = tx.update(g, state, w)
        return (optax.apply_updates(w, updates), state), None

    (w, _), _ = jax.lax.scan(step, (w, tx.init(w)), None, length=20)
    return {"loss": jnp.mean((X @ w - Y) ** 2)}


def test_checkified_train_fn_raises_naming_the_bad_members():
    checked = regjax.checks.checkify(_train_with_weight_decay)
    key = jax.random.key(0)
    bad = sweep.grid(wd=[0.0, 0.01, -1.0, 0.1, -0.5])
    for chunk in (None, 2):  # the members are named by their index in the whole grid
        with pytest.raises(ValueError, match=r"regjax\.sweep\.run\(train_fn=\.\.\.\)`") as info:
            sweep.run(checked, bad, key, chunk_size=chunk, progress=False)
        message = str(info.value)
        assert "member 2 {'wd': -1.0}" in message
        assert "decoupled_weight_decay(weight_decay=...)` must be finite and >= 0" in message
        assert "member 0 " not in message and "member 1 " not in message
        assert ("member 4 {'wd': -0.5}" in message) == (chunk is None)
    # All members pass: the metrics are train_fn's, as from a loop of the unchecked function.
    good = sweep.grid(wd=[0.0, 0.01, 0.1])
    result = sweep.run(checked, good, key, progress=False)
    assert list(result.metrics) == ["loss"]
    single = jax.jit(_train_with_weight_decay)
    loop = [
        single({"wd": jnp.float32(v)}, jax.random.fold_in(key, i))["loss"]
        for i, v in enumerate([0.0, 0.01, 0.1])
    ]
    np.testing.assert_allclose(result.metrics["loss"], np.stack(loop), rtol=1e-6)


def test_checkified_train_fn_with_folds_names_the_member():
    folds = sweep.kfold(jax.random.key(1), 64, 2)

    def fit(hp, key, fold):
        train, _ = fold
        w = regjax.prox.l1(jnp.ones(5), hp["lam"])
        return {"m": jnp.sum(train.astype(jnp.float32)) * jnp.sum(w)}

    grid = sweep.grid(lam=[0.1, -1.0])
    with pytest.raises(ValueError, match=r"member 1 \{'lam': -1\.0\}") as info:
        sweep.run(regjax.checks.checkify(fit), grid, jax.random.key(0), folds=folds, progress=False)
    assert "prox.l1" in str(info.value)


def test_result_table_dataframe_save_load_and_plots(tmp_path):
    g = sweep.grid(lr=[0.05, 0.1], lam=[0.0, 0.1])
    result = sweep.run(train_ridge, g, jax.random.key(0), progress=False)
    table = result.table(sort_by="loss")
    assert table.splitlines()[0].split()[:3] == ["lr", "lam", "loss"]
    assert len(table.splitlines()) == 5
    df = result.to_dataframe()
    assert list(df.columns[:3]) == ["lr", "lam", "loss"] and len(df) == 4
    result.save(tmp_path / "s.npz")
    assert (tmp_path / "s.json").exists()
    back = sweep.SweepResult.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.metrics["w"], result.metrics["w"])
    assert back.grid.shape == (2, 2) and back.best("loss") == result.best("loss")
    fig = result.plot("loss")
    assert fig.axes[0].get_title() == "loss"
    one_d = sweep.run(
        train_ridge,
        sweep.grid(lam=np.logspace(-3, 0, 4), lr=[0.1]),
        jax.random.key(0),
        progress=False,
    )
    three = sweep.run(
        train_ridge,
        sweep.grid(lam=[0.1, 0.2], lr=[0.1, 0.2], extra=[1, 2]),
        jax.random.key(0),
        progress=False,
    )
    with pytest.raises(ValueError, match="varies along 3 axes"):
        three.plot("loss")
    assert one_d.grid.shape == (4, 1)
    curve = one_d.plot("loss")  # the length-1 axis is held fixed: a curve over lam
    assert curve.axes[0].get_xscale() == "log"
    assert curve.axes[0].get_xlabel() == "lam"


def test_bad_input():
    g = sweep.grid(lam=[0.1, 0.2])
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"run\(chunk_size=...\)` must be >= 1"):
        sweep.run(train_ridge, g, key, chunk_size=0)
    with pytest.raises(TypeError, match=r"run\(grid=...\)"):
        sweep.run(train_ridge, {"lam": [0.1]}, key)
    with pytest.raises(TypeError, match=r"run\(key=...\)"):
        sweep.run(train_ridge, g, 0)

    def python_branch(hp, key):
        if hp["lam"] > 0.15:
            return {"x": jnp.ones(())}
        return {"x": jnp.zeros(())}

    with pytest.raises(TypeError, match="Python value of a hyperparameter"):
        sweep.run(python_branch, g, key, progress=False)

    def returns_text(hp, key):
        return {"x": hp["lam"], "note": "hello"}

    with pytest.raises(TypeError, match="pytree of arrays"):
        sweep.run(returns_text, g, key, progress=False)


def test_an_x64_grid_run_without_x64_is_refused_not_wrapped():
    with jax.enable_x64(True):
        g = sweep.grid(steps=[1, 2**31 + 5], lam=[1.0 + 1e-9])
    with pytest.raises(ValueError, match=r"run\(grid=...\)`: axis 'steps' holds int64"):
        sweep.run(lambda hp, key: {"s": hp["steps"]}, g, jax.random.key(0), progress=False)
    with jax.enable_x64(True):
        exact = sweep.grid(lam=[0.5, 0.25])  # float32 holds these exactly
    r = sweep.run(lambda hp, key: {"l": hp["lam"]}, exact, jax.random.key(0), progress=False)
    np.testing.assert_array_equal(r.metrics["l"], [0.5, 0.25])


def test_progress_bars_over_chunks_and_steps(monkeypatch):
    from regjax import _progress

    seen = []

    class Recording(_progress._Bars):
        def close(self):
            seen.append((self.chunks.n, None if self.steps is None else self.steps.total))
            super().close()

    monkeypatch.setattr(_progress, "_Bars", Recording)
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)

    def train(hp, key):
        def body(i, w):
            sweep.report_progress(i, 40, every=10)
            return w * (1 - hp["lam"])

        return {"w": jax.lax.fori_loop(0, 40, body, jnp.ones(()))}

    sweep.run(train, sweep.grid(lam=[0.1, 0.2, 0.3]), jax.random.key(0), chunk_size=2)
    assert seen == [(2, 40)]
    seen.clear()
    sweep.run(train, sweep.grid(lam=[0.1, 0.2, 0.3]), jax.random.key(0), progress=False)
    assert seen == []


RESUME_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import jax, jax.numpy as jnp, numpy as np
    from regjax import sweep

    def train(hp, key):
        jax.debug.callback(lambda: time.sleep(float(sys.argv[3])))
        w = jax.random.normal(key, (3,)) * hp["lam"]
        return {"w": w, "s": jnp.sum(w)}

    g = sweep.grid(lam=np.linspace(0.1, 1.0, 8))
    ckpt = None if sys.argv[1] == "-" else sys.argv[1]
    r = sweep.run(train, g, jax.random.key(5), chunk_size=1, checkpoint_dir=ckpt, progress=False)
    np.save(sys.argv[2], r.metrics["w"])
    """
)


def _python():
    return [sys.executable, "-c", RESUME_SCRIPT]


def test_resume_after_killed_process(tmp_path):
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([*_python(), str(ckpt), str(tmp_path / "x.npy"), "0.4"], env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        if ckpt.exists() and len(list(ckpt.glob("chunk_*.npz"))) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(ckpt.glob("chunk_*.npz")))
    assert 2 <= done_before < 8, "the sweep should have been killed part-way"
    subprocess.run([*_python(), str(ckpt), str(tmp_path / "resumed.npy"), "0"], env=env, check=True)
    subprocess.run([*_python(), "-", str(tmp_path / "fresh.npy"), "0"], env=env, check=True)
    np.testing.assert_array_equal(
        np.load(tmp_path / "resumed.npy"), np.load(tmp_path / "fresh.npy")
    )


def test_resume_after_keyboard_interrupt(tmp_path, monkeypatch):
    from regjax import _sweep

    g = sweep.grid(lr=[0.05, 0.1], lam=[0.0, 0.01, 0.1])
    key = jax.random.key(1)
    fresh = sweep.run(train_ridge, g, key, chunk_size=2, progress=False)
    saves = []
    original = _sweep._ChunkStore.save

    def interrupting_save(self, index, leaves):
        if len(saves) == 2:
            raise KeyboardInterrupt
        saves.append(index)
        original(self, index, leaves)

    monkeypatch.setattr(_sweep._ChunkStore, "save", interrupting_save)
    with pytest.raises(KeyboardInterrupt):
        sweep.run(train_ridge, g, key, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    monkeypatch.setattr(_sweep._ChunkStore, "save", original)
    TRACES.clear()
    resumed = sweep.run(train_ridge, g, key, chunk_size=2, progress=False, checkpoint_dir=tmp_path)
    np.testing.assert_array_equal(resumed.metrics["w"], fresh.metrics["w"])
    with pytest.raises(ValueError, match="different sweep"):
        sweep.run(
            train_ridge, g, jax.random.key(2), chunk_size=2, progress=False, checkpoint_dir=tmp_path
        )


DEVICES_SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"
    import jax, jax.numpy as jnp, numpy as np
    from regjax import sweep
    assert len(jax.devices()) == 4, jax.devices()
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, 4)), jnp.float32)
    y = x @ jnp.arange(4.0)

    def train(hp, key):
        w = jax.random.normal(key, (4,))
        def step(w, _):
            g = jax.grad(lambda w: jnp.mean((x @ w - y) ** 2) + hp["lam"] * jnp.sum(w * w))(w)
            return w - 0.05 * g, None
        w, _ = jax.lax.scan(step, w, None, length=30)
        return {"w": w}

    g = sweep.grid(lam=np.linspace(0.0, 1.0, 10))  # 10 members on 4 devices: padded
    # A given vmap_size: the default width follows the devices and the chunk size.
    many = sweep.run(train, g, jax.random.key(0), vmap_size=2, progress=False)
    one = sweep.run(
        train, g, jax.random.key(0), vmap_size=2, devices=jax.devices()[:1], progress=False
    )
    chunked = sweep.run(train, g, jax.random.key(0), vmap_size=2, chunk_size=4, progress=False)
    np.testing.assert_array_equal(many.metrics["w"], one.metrics["w"])
    np.testing.assert_array_equal(chunked.metrics["w"], one.metrics["w"])

    # A model whose last bits follow the vmap width: a fixed width is bit-identical on
    # one device and four, and members that run one after another shard as well.
    from _width_sensitive import train_mlp  # tests/ is on PYTHONPATH

    for width in (1, 3):
        runs = [
            sweep.run(train_mlp, g, jax.random.key(0), vmap_size=width, progress=False, **kw)
            for kw in ({}, {"devices": jax.devices()[:1]}, {"chunk_size": 5})
        ]
        for r in runs[1:]:
            np.testing.assert_array_equal(r.metrics["loss"], runs[0].metrics["loss"])
    print("ok", many.metrics["w"].shape)
    """
)


def test_four_host_devices_give_the_same_results_as_one():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tests_dir, env.get("PYTHONPATH")) if p)
    out = subprocess.run(
        [sys.executable, "-c", DEVICES_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "ok (10, 4)" in out.stdout
