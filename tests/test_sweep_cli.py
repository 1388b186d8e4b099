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
