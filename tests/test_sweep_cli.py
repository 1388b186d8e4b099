"""`regjax sweep`: the main job, run in-process at a tiny size."""

import jax
import numpy as np
import pytest

from regjax import _sweep_cli, cli, sweep


def run_sweep(argv):
    # optax's Adam mixes Python floats with its int32 step count, which strict
    # promotion (set for the test suite) refuses; users run with the default.
    with jax.numpy_dtype_promotion("standard"):
        return _run_sweep(argv)


def _run_sweep(argv):
    return cli.main(["sweep", *argv])


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("rate=0,0.25,0.5", [0.0, 0.25, 0.5]),
        ("weight_decay=0:1:3", [0.0, 0.5, 1.0]),
        ("weight_decay=1e-4:1e-2:3:log", [1e-4, 1e-3, 1e-2]),
        ("lr=.1", [0.1]),
    ],
)
def test_parse_axis(text, values):
    name, got = _sweep_cli.parse_axis(text)
    assert name == text.split("=")[0]
    np.testing.assert_allclose(got, values)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("momentum=0.9", "NAME one of"),
        ("rate=1.0", r"rate must be in \[0, 1\)"),
        ("weight_decay=-1,2", "must be >= 0"),
        ("weight_decay=0:1:3:log", "log range needs START and STOP > 0"),
        ("rate=a,b", "VALUES must be"),
    ],
)
def test_parse_axis_rejects(text, match):
    with pytest.raises(ValueError, match=match):
        _sweep_cli.parse_axis(text)


@pytest.mark.parametrize("penalty", ["l2", pytest.param("decoupled", marks=pytest.mark.slow)])
def test_sweep_command_writes_outputs(tmp_path, capsys, penalty):
    status = run_sweep([
        "--penalty", penalty, "--grid", "weight_decay=1e-5:1e-1:3:log", "--grid", "rate=0,0.5",
        "--steps", "40", "--folds", "2", "--hidden", "16", "--out", str(tmp_path / "out"),
        "--no-progress",
    ])  # fmt: skip
    assert status == 0
    out = capsys.readouterr().out
    assert "best:" in out and "1-SE choice:" in out and "val_error" in out
    assert (tmp_path / "out" / "sweep.png").stat().st_size > 0
    result = sweep.SweepResult.load(tmp_path / "out" / "sweep.npz")
    assert result.grid.shape == (3, 2)
    err = result.metric("val_error")
    assert err.shape == (6, 2) and ((err >= 0) & (err <= 1)).all()
    # 40 steps of Adam on digits already beat chance (90% error) by far.
    assert err.mean(axis=1).min() < 0.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--steps", "0"], "--steps must be >= 1"),
        (["--folds", "1"], "--folds must be >= 2"),
        (["--grid", "rate=2"], "rate must be in"),
        (["--grid", "rate=0", "--grid", "rate=0.5"], "names rate twice"),
        (["--devices", "99"], "--devices must be in"),
        (["--penalty", "l3"], "invalid choice"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_sweep(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


TINY = ["--grid", "weight_decay=0,1e-3", "--steps", "2", "--folds", "2", "--hidden", "4",
        "--batch-size", "8", "--no-progress"]  # fmt: skip


def test_every_member_diverged_exits_cleanly_and_writes(tmp_path, capsys):
    # lr=1e30 makes every member's loss NaN or inf within two steps.
    status = run_sweep([*TINY, "--grid", "lr=1e30", "--out", str(tmp_path / "o")])
    assert status == 1
    err = capsys.readouterr().err
    assert "every one of the 2 members diverged" in err and "--lr" in err
    assert (tmp_path / "o" / "sweep.json").exists()
    result = sweep.SweepResult.load(tmp_path / "o" / "sweep.npz")
    assert result.diverged.tolist() == [True, True]


def test_unwritable_out_exits_2_before_training(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep, "run", lambda *a, **k: calls.append(1))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(SystemExit) as e:
        run_sweep([*TINY, "--out", str(blocker / "sub")])
    assert e.value.code == 2 and calls == []
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--out" in err and str(blocker / "sub") in err and "Traceback" not in err


def test_checkpoint_dir_and_vmap_size_pass_through_and_resume(tmp_path, capsys, monkeypatch):
    real_run = sweep.run
    seen = []

    def counting_run(*a, **k):
        seen.append(k)
        return real_run(*a, **k)

    monkeypatch.setattr(sweep, "run", counting_run)
    ckpt = tmp_path / "ckpt"
    argv = [*TINY, "--checkpoint-dir", str(ckpt), "--vmap-size", "1", "--chunk-size", "1"]
    assert run_sweep([*argv, "--out", str(tmp_path / "a")]) == 0
    assert seen[0]["checkpoint_dir"] == str(ckpt) and seen[0]["vmap_size"] == 1
    chunks = sorted(p.name for p in ckpt.iterdir())
    assert chunks
    mtimes = {p: p.stat().st_mtime_ns for p in ckpt.iterdir()}
    assert run_sweep([*argv, "--out", str(tmp_path / "b")]) == 0
    # resumed: no chunk was rewritten, and the result is identical
    assert {p: p.stat().st_mtime_ns for p in ckpt.iterdir()} == mtimes
    a = sweep.SweepResult.load(tmp_path / "a" / "sweep.npz")
    b = sweep.SweepResult.load(tmp_path / "b" / "sweep.npz")
    np.testing.assert_array_equal(a.metric("val_error"), b.metric("val_error"))


@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_bad_vmap_size_exits_2(value, capsys):
    with pytest.raises(SystemExit) as e:
        run_sweep(["--vmap-size", value])
    assert e.value.code == 2
    assert "--vmap-size" in capsys.readouterr().err


def test_out_default_is_shared():
    parser = cli.build_parser()
    assert parser.parse_args(["sweep"]).out == parser.parse_args(["path"]).out == "demo_out"
