"""Mutation testing of regjax's numerical and bookkeeping cores with mutmut.

Usage: ``python tools/mutants.py [MODULE ...]`` (default: every core below),
or ``make mutants MODULES="regjax/_prox.py regjax/_sam.py"``. ``MODULE:NAME,...``
mutates only the named functions or mutants (mutmut's names, as in ``SCOPE``),
e.g. to recheck survivors after adding tests.

``python tools/mutants.py --confirm MODULE MUTANT TEST [TEST ...]`` confirms one
kill after a run: in a copy of the module's scratch folder, with the working
tree's tests, it runs the named tests (pytest node ids or files), applies
``MUTANT`` (``mutmut apply``) and runs them again. The mutant is killed when
they pass before and fail after.

Each module runs in its own scratch copy under ``.mutants-work/<module>/``, with
a ``[tool.mutmut]`` section that mutates only that module and runs only its
test files (``-x -p no:randomly -m "not slow"``, no doctests); mutmut then runs,
for each mutant, only the tests that called the mutated function in its stats
pass. Statements that begin with ``raise`` are not mutated: they hold error
text, which is not what this run is for (the checks before them are mutated).
``SCOPE`` narrows a module to its numerical and bookkeeping functions.

mutmut runs each mutant's tests in a child of a forkserver that has imported
third-party libraries (``PRELOAD``: JAX, NumPy, pytest, ...) but no regjax module
and no test, and has created no JAX backend, so every mutant traces fresh and no
``jax.jit`` cache compiled from the unmutated code can hide it, while the
children skip seconds of imports each. The tool's own result lines are
appended to ``.mutants-work/summary.txt``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutants-work"

# module -> the test files that exercise it
TESTS = {
    "regjax/_prox.py": ["tests/test_prox.py"],
    "regjax/_proximal.py": ["tests/test_transforms.py", "tests/test_prox.py"],
    "regjax/_weight_decay.py": ["tests/test_transforms.py"],
    "regjax/_sam.py": ["tests/test_sam.py"],
    # SweepResult's own tests are tests/test_sweep_result_*.py (found below);
    # tests/test_sweep.py reaches it only through sweep.run, which compiles a
    # program per test (3-8 s each, per mutant, on a loaded 2-core machine)
    "regjax/_sweep_result.py": [],
    "regjax/_fista.py": ["tests/test_linear.py", "tests/test_linear_logistic.py"],
    "regjax/_lasso.py": ["tests/test_linear.py", "tests/test_lasso_certificates.py"],
    "regjax/_linear.py": ["tests/test_linear.py", "tests/test_linear_ridge.py"],
    "regjax/_logistic.py": ["tests/test_linear_logistic.py"],
}


# module -> the functions mutated (mutmut's names: x_f for a function, xǁCǁm for
# a method); a module not listed is mutated whole.
SCOPE = {
    # the choices and the bookkeeping they rest on; not the views (table, plot,
    # to_dataframe) or the files (save, load)
    "regjax/_sweep_result.py": [
        "x_non_finite_members",
        "xǁSweepResultǁ__init__",
        "xǁSweepResultǁmetric",
        "xǁSweepResultǁ_per_member",
        "xǁSweepResultǁ_usable",
        "xǁSweepResultǁbest_index",
        "xǁSweepResultǁbest",
        "xǁSweepResultǁone_standard_error",
        "x__check_mode",
    ],
    # the solvers, certificates and grids; not the argument checks (check_*,
    # _prepare, resolve_solver) or the public wrappers that only forward to _path
    "regjax/_lasso.py": [
        "xǁQuadǁgrad",
        "xǁQuadǁgrad_near",
        "xǁQuadǁparts_from_grad",
        "xǁQuadǁparts",
        "x_make_quad",
        "x_enet_gap",
        "x_alpha_max",
        "x_default_grid",
        "x__enet_prox",
        "x_solve_grid",
        "x_lipschitz_from_quad",
        "x_compact_tiers",
        "x_solve_compact",
        "x_solve_path",
        "x_residual_parts",
        "x_honest_gaps",
        "x_squares_fit",
        "x_raise_if_nonfinite",
        "x__grid_for",
        "x__cv",
        "x_lasso_cv",
    ],
    # ridge and the shared linear algebra; not the input checks (check_xy,
    # check_alphas, check_l1_ratio)
    "regjax/_linear.py": [
        "x_widest_float",
        "x_xt_dot",
        "x_gram",
        "x_top_eigenvalue_bound",
        "x_top_eigenvalue",
        "x_top_eigenvalue_of_gram",
        "x_center",
        "x_ridge_path",
        "x__cutoff",
        "x__shrink",
        "x__ridge_from_svd",
        "x_ridge_cv",
        "x_warn_if_uncertified",
    ],
    # the placement check (x__check_updates_are_a_gradient) was run on its own
    # first; see MUTANTS.md
    "regjax/_sam.py": [
        "x__perturbation",
        "x__as_params_tree",
        "x__split_aux",
        "x_sam",
        "x_sam_value_and_grad",
    ],
}

# Imported once by the forkserver before it forks a child per mutant. Importing
# these starts no thread and creates no JAX backend, so forking stays safe. No
# pytest plugin (hypothesis is one): pytest warns that it cannot rewrite an
# already imported plugin, and the suite's filterwarnings=error fails every run.
PRELOAD = [
    "numpy",
    "scipy",
    "scipy.optimize",
    "jax",
    "jax.numpy",
    "optax",
    "chex",
    "pytest",
    "_pytest.python",
    "jaxopt",
    "sklearn.linear_model",
]


# module -> a fast first pass: the tests written against NumPy references for
# exactly this module's formulas (seconds per mutant rather than minutes). Its
# survivors are then rerun against the whole table above with
# ``MUTANTS_TESTS=broad`` (usually as ``MODULE:NAME,...``), and only mutants that
# survive that run count as survivors.
FOCUSED = {
    "regjax/_fista.py": ["tests/test_fista_mutants.py"],
    "regjax/_lasso.py": ["tests/test_lasso_mutants.py"],
    "regjax/_linear.py": ["tests/test_linear_mutants.py"],
    "regjax/_logistic.py": ["tests/test_logistic_mutants.py"],
    "regjax/_proximal.py": ["tests/test_proximal_mutants.py"],
}


def _tests_for(module: str) -> list[str]:
    """The module's test files, plus any new ``tests/test_<stem>_*.py`` ones; only
    its ``FOCUSED`` files unless ``MUTANTS_TESTS=broad``."""
    if module in FOCUSED and os.environ.get("MUTANTS_TESTS", "focused") != "broad":
        return FOCUSED[module]
    stem = Path(module).stem.lstrip("_")
    extra = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob(f"test_{stem}_*.py"))
    return [t for t in TESTS[module] if (ROOT / t).exists()] + extra


def _config(module: str, tests: list[str]) -> str:
    def lst(xs: list[str]) -> str:
        return "[" + ", ".join(f'"{x}"' for x in xs) + "]"

    args = ["-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-m", "not slow", "-o", "addopts="]
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = {lst([module])}\n"
        f"pytest_add_cli_args_test_selection = {lst(tests)}\n"
        f"pytest_add_cli_args = {lst(args)}\n"
        'process_isolation = "forkserver"\n'
        'forkserver_warmup = "import"\n'
        'preload_modules_file = "preload.txt"\n'
        "do_not_mutate_patterns = ['^\\s*raise\\b']\n"
        'also_copy = ["conftest.py", "regjax"]\n'
    )


def run_module(module: str, max_children: int, functions: list[str] | None = None) -> int:
    """Run mutmut over one module in a scratch copy; return mutmut's exit code.

    ``functions`` (mutmut's names, as in ``SCOPE``, or single mutants such as
    ``x_f__mutmut_3``) replaces the module's ``SCOPE`` for this run."""
    name = Path(module).stem
    # a narrowed run gets its own folder, so the module's full run stays readable
    work = WORK / (f"{name}-named" if functions else name)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for item in ("regjax", "tests", "conftest.py"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, work / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, work / item)
    text = (ROOT / "pyproject.toml").read_text()
    text = text.split("\n[tool.mutmut]")[0]  # this driver writes its own section
    (work / "pyproject.toml").write_text(text + _config(module, _tests_for(module)))
    (work / "preload.txt").write_text("\n".join(PRELOAD) + "\n")
    dotted = module[: -len(".py")].replace("/", ".")
    scope = [f"{dotted}.{f}*" for f in (functions or SCOPE.get(module, []))]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    # the copy is of the working tree, so say which copied files differ from HEAD
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "regjax", "tests", "conftest.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.split()[1::2]
    mutmut = [sys.executable, "-m", "mutmut"]
    env = dict(os.environ, PYTHONPATH=str(work))
    t0 = time.monotonic()
    proc = subprocess.run(
        [*mutmut, "run", "--max-children", str(max_children), *scope],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - t0
    (work / "run.log").write_text(proc.stdout + proc.stderr)
    res = subprocess.run([*mutmut, "results"], cwd=work, env=env, capture_output=True, text=True)
    lines = [ln.strip() for ln in proc.stdout.replace("\r", "\n").splitlines() if ln.strip()]
    # mutmut's last counts line ("tried/total 🎉 killed 🫥 no tests ⏰ timeout 🤔
    # suspicious 🙁 survived 🔇 skipped 🧙 type check") and its rate; its own
    # output ends with a list of the named mutants instead when SCOPE names them
    counts = [ln for ln in lines if re.search(r"\d+/\d+\s+🎉", ln)][-1:]
    tail = counts + [ln for ln in lines if "/second" in ln]
    tail = tail or lines[-3:]
    # mutants outside SCOPE stay "not checked"; list only what was tried
    tried = [ln for ln in res.stdout.splitlines() if ln.strip() and "not checked" not in ln]
    with open(WORK / "summary.txt", "a") as f:
        f.write(f"## {module} (commit {commit}, {elapsed:.0f} s, exit {proc.returncode})\n")
        if dirty:
            f.write(f"uncommitted changes copied: {' '.join(dirty)}\n")
        f.write(f"scope: {' '.join(scope) or 'whole module'}\n")
        f.write("\n".join(tail) + "\n")
        f.write("not killed:\n" + "\n".join(tried) + "\n\n")
    print(f"{module}: exit {proc.returncode}, {elapsed:.0f} s", *tail, sep="\n  ")
    return proc.returncode


def _pytest(folder: Path, tests: list[str]) -> int:
    args = ["-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", "-o", "addopts="]
    env = dict(os.environ, PYTHONPATH=str(folder))
    cmd = [sys.executable, "-m", "pytest", *args, *tests]
    return subprocess.run(cmd, cwd=folder, env=env, capture_output=True).returncode


def confirm(module: str, mutant: str, tests: list[str]) -> int:
    """Apply one mutant to a copy of the module's scratch folder and run ``tests``
    (from the working tree, so tests written after the run count) before and
    after applying it; return 0 when it is killed."""
    work = WORK / Path(module).stem
    if not (work / "mutants").is_dir():
        raise SystemExit(f"tools/mutants.py --confirm: run `tools/mutants.py {module}` first")
    copy = WORK / f"{Path(module).stem}-confirm"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(work, copy, ignore=shutil.ignore_patterns("__pycache__", "run.log"))
    shutil.rmtree(copy / "tests")
    shutil.copytree(ROOT / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "conftest.py", copy / "conftest.py")
    original = _pytest(copy, tests)
    env = dict(os.environ, PYTHONPATH=str(copy))
    subprocess.run([sys.executable, "-m", "mutmut", "apply", mutant], cwd=copy, env=env, check=True)
    if (copy / module).read_text() == (work / module).read_text():
        raise SystemExit(f"tools/mutants.py --confirm: applying {mutant} changed nothing")
    mutated = _pytest(copy, tests)
    killed = mutated != 0 and original == 0
    verdict = "killed" if killed else "NOT killed" if original == 0 else "tests fail unmutated"
    exits = f"exit {mutated} mutated, {original} unmutated"
    line = f"{mutant}: {verdict} by {' '.join(tests)} ({exits})"
    with open(WORK / "summary.txt", "a") as f:
        f.write(f"confirm {line}\n")
    print(line)
    return 0 if killed else 1


def main(argv: list[str]) -> int:
    """Arguments: ``MODULE`` or ``MODULE:NAME,NAME`` (names replace its SCOPE), or
    ``--confirm MODULE MUTANT TEST...``."""
    if argv[:1] == ["--confirm"]:
        if len(argv) < 4:
            raise SystemExit("usage: tools/mutants.py --confirm MODULE MUTANT TEST [TEST ...]")
        return confirm(argv[1], argv[2], argv[3:])
    runs = []
    for arg in argv:
        module, _, names = arg.partition(":")
        runs.append((module, names.split(",") if names else []))
    runs = runs or [(m, []) for m in TESTS]
    unknown = [m for m, _ in runs if m not in TESTS]
    if unknown:
        raise SystemExit(f"tools/mutants.py: unknown modules {unknown}; choose from {list(TESTS)}")
    max_children = int(os.environ.get("MUTANTS_CHILDREN", "1"))
    WORK.mkdir(exist_ok=True)
    return max(run_module(m, max_children, names) for m, names in runs)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
