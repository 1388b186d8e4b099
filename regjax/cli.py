"""The ``regjax`` command::

    regjax [--version]
    regjax sweep [--penalty P] [--grid NAME=VALUES ...] [--steps N] [--folds K]
                 [--devices N] [--vmap-size N] [--checkpoint-dir DIR] [--out DIR] [--seed S]
    regjax path [--l1-ratio R] [--n-alphas N] [--out DIR] [--solver S]

``sweep`` is the main job: an MLP on scikit-learn's digits trained across a
weight-decay × dropout-rate grid (16 × 4 by default) in one vmapped, compiled
program with ``regjax.sweep``, cross-validated; it prints the best setting, the
one-standard-error choice and a table, and writes ``sweep.png`` and
``sweep.npz``. ``path`` computes a lasso (or elastic-net) path on scikit-learn's diabetes
data with ``regjax.linear.lasso_path``, prints alpha, the number of nonzero
coefficients, the objective, the certified duality gap and scikit-learn's
objective at the same alpha, and draws ``DIR/path.png``.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise SystemExit(
            f"regjax: this command needs {module.split('.')[0]}; install it with "
            f"`pip install 'regjax[{extra}]'`."
        ) from e


def _path(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if not args.tol > 0:
        parser.error(f"--tol must be positive; got {args.tol}.")
    if not 0.0 < args.l1_ratio <= 1.0:
        parser.error(f"--l1-ratio must be in (0, 1]; got {args.l1_ratio}.")
    if args.n_alphas < 2:
        parser.error(f"--n-alphas must be at least 2; got {args.n_alphas}.")
    from regjax._sweep_cli import writable_dir_problem

    out = pathlib.Path(args.out)
    problem = writable_dir_problem(out)
    if problem:
        parser.exit(2, f"regjax path: --out {out}: {problem}; choose a writable directory.\n")
    datasets = _need("sklearn.datasets", "data")
    sk_linear = _need("sklearn.linear_model", "data")
    matplotlib = _need("matplotlib", "plot")
    import jax
    import numpy as np

    from regjax.linear import lasso_path

    X, y = datasets.load_diabetes(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = y - y.mean()
    n = len(y)
    r = args.l1_ratio
    with jax.enable_x64(True):
        alphas, coefs, gaps = lasso_path(
            X, y, l1_ratio=r, n_alphas=args.n_alphas, tol=args.tol, solver=args.solver
        )
        alphas, coefs, gaps = (np.asarray(a) for a in (alphas, coefs, gaps))
    _, sk_coefs, _ = sk_linear.enet_path(X, y, l1_ratio=r, alphas=alphas)

    def objective(w: np.ndarray, a: float) -> float:
        res = y - X @ w
        return float(res @ res / (2 * n) + a * r * np.abs(w).sum() + a * (1 - r) / 2 * w @ w)

    print(
        f"{'lasso' if r == 1 else 'elastic-net'} path on diabetes "
        f"({X.shape[0]} x {X.shape[1]}, standardized), l1_ratio={r:g}, tol={args.tol:g}"
    )
    header = (
        f"{'alpha':>12} {'nonzeros':>8} {'objective':>16} {'duality gap':>12} {'sklearn obj':>16}"
    )
    print(header)
    print("-" * len(header))
    for i, a in enumerate(alphas):
        w = coefs[:, i]
        print(
            f"{a:12.5g} {int(np.count_nonzero(w)):8d} {objective(w, a):16.10g} "
            f"{gaps[i]:12.3e} {objective(sk_coefs[:, i], a):16.10g}"
        )
    target = args.tol * (y @ y) / n
    meets = bool(gaps.max() <= target)
    print(
        f"largest duality gap {gaps.max():.3e} {'<=' if meets else '>'} "
        f"tol * ||y||^2 / n = {target:.3e}; meets the target: {'yes' if meets else 'no'}"
    )

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = datasets.load_diabetes().feature_names
    for j in range(coefs.shape[0]):
        ax.plot(alphas, coefs[j], label=names[j])
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("alpha")
    ax.set_ylabel("coefficient")
    ax.set_title(f"regjax.linear.lasso_path, diabetes, l1_ratio={r:g}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "path.png", dpi=120)
    plt.close(fig)
    print(f"wrote {out / 'path.png'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``regjax`` argument parser, one subparser per subcommand.

    Args:
      None.

    Returns:
      An ``argparse.ArgumentParser`` with the ``sweep`` and ``path``
      subcommands; each parsed namespace carries ``run`` (the command's
      function) and ``parser`` (its subparser, for one-line errors).

    Examples:
      >>> from regjax.cli import build_parser
      >>> args = build_parser().parse_args(["sweep", "--penalty", "decoupled"])
      >>> args.command, args.penalty, args.folds
      ('sweep', 'decoupled', 3)

    References:
      Python argparse documentation.
      https://docs.python.org/3/library/argparse.html
    """
    parser = argparse.ArgumentParser(
        prog="regjax", description="regjax: regularizers for JAX, from the command line."
    )
    import importlib.metadata

    try:
        version = importlib.metadata.version("regjax")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"regjax {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    from regjax import _sweep_cli

    sweep = _sweep_cli.add_parser(sub)
    sweep.set_defaults(run=_sweep_cli.run_command, parser=sweep)
    p = sub.add_parser(
        "path",
        help="lasso / elastic-net regularization path on the diabetes data",
        description=(
            "Compute a lasso (or elastic-net) path on scikit-learn's diabetes data "
            "(standardized) with regjax.linear.lasso_path; print each alpha's nonzeros, "
            "objective, certified duality gap and scikit-learn's objective at that alpha; "
            "draw OUT/path.png."
        ),
    )
    p.add_argument(
        "--l1-ratio", type=float, default=1.0, metavar="R",
        help="mix of L1 in (0, 1]; 1 is the lasso (default: 1.0)",
    )  # fmt: skip
    p.add_argument(
        "--n-alphas", type=int, default=30, metavar="N",
        help="number of alphas on the grid, >= 2 (default: 30)",
    )  # fmt: skip
    p.add_argument(
        "--out", default=_sweep_cli.DEFAULT_OUT, metavar="DIR",
        help=f"directory for path.png, created if missing (default: {_sweep_cli.DEFAULT_OUT})",
    )  # fmt: skip
    p.add_argument(
        "--tol", type=float, default=1e-6,
        help="duality-gap tolerance relative to ||y||^2/n (default: 1e-6)",
    )  # fmt: skip
    p.add_argument(
        "--solver", choices=("auto", "path", "fista"), default="auto",
        help="lasso_path solver (default: auto)",
    )  # fmt: skip
    p.set_defaults(run=_path, parser=p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``regjax`` command; returns its exit status.

    Args:
      argv: the arguments after the program name; None reads ``sys.argv``.

    Returns:
      0 on success. Bad options exit with status 2 and a one-line message.

    Examples:
      >>> from regjax.cli import build_parser
      >>> build_parser().parse_args(["path", "--l1-ratio", "0.5"]).l1_ratio
      0.5

    References:
      Python argparse documentation.
      https://docs.python.org/3/library/argparse.html
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args, args.parser)


if __name__ == "__main__":
    sys.exit(main())
