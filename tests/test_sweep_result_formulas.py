"""SweepResult's choices and views against NumPy computed from the raw metric arrays."""

import os
import stat

import numpy as np
import pytest

from regjax import sweep
from regjax._io import atomic_write


def _result(seed=0, n_folds=5):
    g = sweep.grid(lam=[0.001, 0.01, 0.1, 1.0, 10.0], p=[0.0, 0.5])
    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.5, 0.9, size=(len(g), n_folds))
    return g, acc, sweep.SweepResult(g, {"acc": acc})


@pytest.mark.parametrize("seed", range(3))
def test_best_max_is_the_largest_fold_mean(seed):
    g, acc, r = _result(seed)
    mean = acc.mean(axis=1)
    assert r.best_index("acc", mode="max") == int(np.argmax(mean))
    assert r.best_index("acc", mode="min") == int(np.argmin(mean))
    assert r.best("acc", mode="max") == g.member(int(np.argmax(mean)))


@pytest.mark.parametrize("simpler", ["larger", "smaller"])
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("seed", range(3))
def test_one_standard_error_against_a_numpy_loop(seed, mode, simpler):
    g, acc, r = _result(seed)
    mean = acc.mean(axis=1)
    se = acc.std(axis=1, ddof=1) / np.sqrt(acc.shape[1])
    b = int(np.argmin(mean) if mode == "min" else np.argmax(mean))
    lam = np.asarray(g["lam"], np.float64)
    chosen = None
    for i in range(len(g)):
        ok = mean[i] <= mean[b] + se[b] if mode == "min" else mean[i] >= mean[b] - se[b]
        if not ok:
            continue
        if chosen is None:
            chosen = i
            continue
        better = lam[i] > lam[chosen] if simpler == "larger" else lam[i] < lam[chosen]
        tie = lam[i] == lam[chosen]
        closer = mean[i] < mean[chosen] if mode == "min" else mean[i] > mean[chosen]
        if better or (tie and closer):
            chosen = i
    assert r.one_standard_error("acc", mode=mode, by="lam", simpler=simpler) == g.member(chosen)


def test_one_standard_error_simpler_sides_differ():
    g = sweep.grid(lam=[0.01, 0.1, 1.0])
    # every member within one standard error of the best: the rule picks an end
    acc = np.array([[0.5, 0.7], [0.55, 0.75], [0.5, 0.72]])
    r = sweep.SweepResult(g, {"loss": acc})
    assert r.one_standard_error("loss", simpler="larger") == {"lam": 1.0}
    assert r.one_standard_error("loss", simpler="smaller") == {"lam": 0.01}


def test_table_rows_and_means_against_numpy():
    g, acc, r = _result(1)
    mean = acc.mean(axis=1)
    lines = r.table(sort_by="acc", mode="max").splitlines()
    assert len(lines) == len(g) + 1
    order = np.argsort(-mean, kind="stable")
    for line, i in zip(lines[1:], order, strict=True):
        cells = line.split()
        assert float(cells[0]) == pytest.approx(float(g["lam"][i]), rel=1e-3)
        assert float(cells[2]) == pytest.approx(mean[i], rel=1e-3)
    assert len(r.table(max_rows=3).splitlines()) == 4
    assert len(r.table(max_rows=0).splitlines()) == 1
    with pytest.raises(ValueError, match=r"SweepResult.table\(max_rows"):
        r.table(max_rows=-1)


def test_save_load_round_trip_is_exact(tmp_path):
    _g, acc, r = _result(2)
    r.save(tmp_path / "r.npz")
    back = sweep.SweepResult.load(tmp_path / "r.npz")
    np.testing.assert_array_equal(back.metric("acc"), acc)
    np.testing.assert_array_equal(back.diverged, r.diverged)
    assert back.best("acc", mode="max") == r.best("acc", mode="max")


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.txt", lambda f: f.write("x"), text=True)
        os.umask(0o077)
        atomic_write(tmp_path / "b.txt", lambda f: f.write("x"), text=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.txt").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "b.txt").st_mode) == 0o600


def test_atomic_write_never_changes_the_umask(tmp_path, monkeypatch):
    # Setting the umask, even to read it, is process-wide: a file another thread creates
    # meanwhile would get the temporary umask.
    old = os.umask(0o027)
    try:

        def refuse(mask):
            raise AssertionError("atomic_write changed the process umask")

        monkeypatch.setattr(os, "umask", refuse)
        atomic_write(tmp_path / "c.txt", lambda f: f.write("x"), text=True)
        monkeypatch.undo()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "c.txt").st_mode) == 0o640
    assert (tmp_path / "c.txt").read_text() == "x"
    assert os.listdir(tmp_path) == ["c.txt"]  # no temporary file left behind


def test_grid_never_wraps_integers_or_invents_nan():
    with pytest.raises(ValueError, match=r"regjax.sweep.grid\(steps=.*range"):
        sweep.grid(steps=[100, 2**31 + 5])
    with pytest.raises(ValueError, match=r"regjax.sweep.grid\(lam=.*float32's range"):
        sweep.grid(lam=[1e-50, 1e50])
    with pytest.raises(ValueError, match="NaN or inf"):
        sweep.grid(lam=[1.0, float("nan")])
    # float32 would run 1 + 1e-9 as 1.0, and 1e-50 as 0.0, each with no error
    with pytest.raises(ValueError, match=r"grid\(lam=...\)` holds distinct values that are one"):
        sweep.grid(lam=[1.0, 1.0 + 1e-9])
    with pytest.raises(ValueError, match=r"grid\(lam=...\)` holds nonzero values below"):
        sweep.grid(lam=[0.0, 1e-50, 1e-3])
    assert sweep.grid(lam=[0.0, 1e-30, 1.0, 1.0])["lam"].tolist() == [0.0, np.float32(1e-30), 1, 1]


def test_grid_under_x64_keeps_float64_and_int64():
    import jax

    with jax.enable_x64(True):
        g = sweep.grid(lam=[1.0, 1.0 + 1e-9], steps=[100, 2**31 + 5])
        assert g["lam"].dtype == np.float64 and g["steps"].dtype == np.int64
        assert len(set(g["lam"].tolist())) == 2
        assert g.member(3) == {"lam": 1.0 + 1e-9, "steps": 2**31 + 5}
        big = sweep.grid(lam=[1e-50, 1e50])
        assert big.member(1) == {"lam": 1e50}


def test_best_returns_the_grids_own_values(tmp_path):
    g = sweep.grid(lam=[0.01, 0.1, 1.0])
    r = sweep.SweepResult(g, {"loss": np.array([0.5, 0.3, 0.9])})
    assert r.best("loss") == {"lam": 0.1}
    r.save(tmp_path / "r.npz")
    assert sweep.SweepResult.load(tmp_path / "r.npz").best("loss") == {"lam": 0.1}


def test_grid_keeps_its_own_values_through_flatten_and_unflatten():
    import jax

    g = sweep.grid(lam=[0.01, 0.1, 1.0], steps=[3, 7])
    back = jax.tree.unflatten(*reversed(jax.tree.flatten(g)))
    # the Python values the grid was built from, not their float32 images (0.00999...)
    assert [back.member(i) for i in range(len(back))] == [
        {"lam": lam, "steps": steps} for lam in (0.01, 0.1, 1.0) for steps in (3, 7)
    ]
    mapped = jax.tree.map(lambda a: a, g)
    assert mapped.member(2) == {"lam": 0.1, "steps": 3}
    # values changed by the map are the grid's values now; the old exact ones do not apply
    doubled = jax.tree.map(lambda a: a * 2, g)
    assert doubled.member(2) == {"lam": float(np.float32(0.1) * 2), "steps": 6}
    r = sweep.SweepResult(mapped, {"loss": np.array([0.5, 0.4, 0.3, 0.2, 0.9, 0.8])})
    assert r.best("loss") == {"lam": 0.1, "steps": 7}


@pytest.mark.parametrize("dtype", [bool, np.int32, np.float32])
def test_a_diverged_flag_of_any_dtype_excludes_its_member(dtype):
    g = sweep.grid(lam=[0.01, 0.1, 1.0])
    flags = np.array([[0, 0], [0, 1], [0, 0]], dtype)  # member 1 diverged on its second fold
    r = sweep.SweepResult(g, {"loss": np.array([0.5, 0.1, 0.9]), "diverged": flags})
    assert r.diverged.tolist() == [False, True, False]
    assert r.best("loss") == {"lam": 0.01}  # the lowest loss among the members that did not


def test_load_refuses_an_npz_and_json_from_different_saves(tmp_path):
    g = sweep.grid(lam=[0.01, 0.1, 1.0])
    first = sweep.SweepResult(g, {"loss": np.array([0.5, 0.3, 0.9])})
    second = sweep.SweepResult(sweep.grid(lam=[1.0, 2.0, 3.0]), {"loss": np.array([0.2, 0.8, 0.9])})
    first.save(tmp_path / "a.npz")
    second.save(tmp_path / "b.npz")
    # as if a save of `second` over a.npz stopped after the npz: its json is first's
    (tmp_path / "a.npz").write_bytes((tmp_path / "b.npz").read_bytes())
    with pytest.raises(ValueError, match=r"SweepResult.load`: .*written by different saves"):
        sweep.SweepResult.load(tmp_path / "a.npz")  # used to give best() == {"lam": 0.01}
    assert sweep.SweepResult.load(tmp_path / "b.npz").best("loss") == {"lam": 1.0}


def test_result_refuses_colliding_metric_names_and_a_wrong_diverged():
    g = sweep.grid(lam=[0.01, 0.1])
    with pytest.raises(ValueError, match=r"names \['a/b'\] each belong to more than one"):
        sweep.SweepResult(g, {"a/b": np.zeros(2), "a": {"b": np.ones(2)}})
    with pytest.raises(ValueError, match=r"SweepResult\(diverged=...\)` must hold one flag"):
        sweep.SweepResult(g, {"loss": np.zeros(2)}, diverged=[True])  # used to broadcast
    flags = sweep.SweepResult(g, {"loss": np.zeros(2)}, diverged=[0, 1]).diverged
    assert flags.tolist() == [False, True]


def test_hparams_and_dataframe_hold_the_grids_own_values():
    import pandas  # noqa: F401  (in the test extra: a failed import must fail, not skip)

    g = sweep.grid(lam=[0.01, 0.1], p=[0.3, 0.5])
    r = sweep.SweepResult(g, {"loss": np.array([0.5, 0.4, 0.3, 0.2])})
    assert r.hparams()["lam"].tolist() == [0.01, 0.01, 0.1, 0.1]  # not 0.009999999776...
    assert r.hparams(reshape=True)["p"].tolist() == [[0.3, 0.5], [0.3, 0.5]]
    df = r.to_dataframe()
    assert len(df[(df.lam == 0.01) & (df.p == 0.3)]) == 1
    assert df.loc[df.loss.idxmin(), ["lam", "p"]].tolist() == list(r.best("loss").values())


def test_freeze_if_diverged_keeps_the_last_finite_state():
    import jax.numpy as jnp

    # loss at the current state is finite, but the step overflows the state:
    # the frozen state must be the last finite one, not the inf it would step to
    state, bad = sweep.freeze_if_diverged(
        jnp.ones(2), jnp.array([1.0, jnp.inf]), jnp.asarray(3.0), jnp.asarray(False)
    )
    np.testing.assert_array_equal(np.asarray(state), [1.0, 1.0])
    assert bool(bad)
    state, bad = sweep.freeze_if_diverged(
        jnp.ones(2), jnp.full(2, 2.0), jnp.asarray(3.0), jnp.asarray(False)
    )
    np.testing.assert_array_equal(np.asarray(state), [2.0, 2.0])
    assert not bool(bad)


@pytest.mark.parametrize("method", ["best", "table", "plot"])
def test_a_bad_mode_is_refused_by_the_method_called(method):
    _, _, res = _result()
    call = {
        "best": lambda: res.best("acc", mode="maximum"),
        "table": lambda: res.table(sort_by="acc", mode="maximum"),
        "plot": lambda: res.plot("acc", mode="maximum"),
    }[method]
    with pytest.raises(ValueError, match=rf"SweepResult\.{method}\(mode=\.\.\.\)"):
        call()
