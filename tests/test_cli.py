"""The `regjax` command, run in-process."""

import subprocess
import sys

import numpy as np
import pytest

from regjax.cli import build_parser, main


def test_path_prints_table_and_writes_png(tmp_path, capsys):
    assert main(["path", "--n-alphas", "6", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    png = tmp_path / "o" / "path.png"
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = out.splitlines()
    assert "duality gap" in out and "sklearn obj" in out
    rows = [ln.split() for ln in lines if ln[:1] == " " and len(ln.split()) == 5]
    rows = [r for r in rows if r[0][0].isdigit()]
    assert len(rows) == 6
    table = np.array(rows, float)
    assert table[0, 1] == 0  # alpha_max: no nonzeros
    # certified: each objective is at most scikit-learn's (default tol) + our gap
    assert np.all(table[:, 2] <= table[:, 4] + table[:, 3] + 1e-9 * np.abs(table[:, 4]))


def test_elastic_net_option(tmp_path, capsys):
    assert main(["path", "--l1-ratio", "0.5", "--n-alphas", "4", "--out", str(tmp_path)]) == 0
    assert "elastic-net path" in capsys.readouterr().out
    assert (tmp_path / "path.png").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["path", "--l1-ratio", "1.5"],
        ["path", "--l1-ratio", "0"],
        ["path", "--n-alphas", "1"],
        ["path", "--n-alphas", "many"],
        ["path", "--tol", "-1"],
        ["path", "--solver", "cd"],
        ["nope"],
        [],
    ],
)
def test_bad_options_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("regjax")


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["path", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--l1-ratio", "--n-alphas", "--out", "diabetes"):
        assert flag in out


def test_module_entry_point_runs():
    res = subprocess.run(
        [sys.executable, "-m", "regjax.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and "path" in res.stdout


def test_version_prints_installed_version(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"regjax {importlib.metadata.version('regjax')}"


@pytest.mark.filterwarnings("ignore:`regjax.linear.lasso_path`. the duality gap target")
@pytest.mark.parametrize("tol", ["1e-6", "1e-300"])
def test_path_gap_line_states_the_evaluated_comparison(tmp_path, capsys, tol):
    assert main(["path", "--n-alphas", "3", "--tol", tol, "--out", str(tmp_path)]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if "largest duality gap" in ln)
    parts = line.split()
    gap, target = float(parts[3]), float(parts[-5].rstrip(";"))
    meets = gap <= target
    assert parts[4] == ("<=" if meets else ">")
    assert line.endswith("yes" if meets else "no")
