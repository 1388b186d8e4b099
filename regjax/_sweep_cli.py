"""`regjax sweep`: an MLP on scikit-learn's digits, trained across a weight-decay ×
dropout-rate grid in one vmapped program, cross-validated, chosen and drawn."""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from regjax import early_stopping, masks, penalties, stochastic, sweep, transforms

PENALTIES = ("l2", "l1", "elastic_net", "decoupled")
DEFAULT_OUT = "demo_out"
DEFAULT_GRID = ("weight_decay=1e-6:1e-1:16:log", "rate=0:0.6:4")
_AXES = {
    # name: (check, constraint text)
    "weight_decay": (lambda v: v >= 0, ">= 0"),
    "rate": (lambda v: (v >= 0) & (v < 1), "in [0, 1)"),
    "lr": (lambda v: v > 0, "> 0"),
}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def parse_axis(text: str) -> tuple[str, np.ndarray]:
    """``name=v1,v2,...`` or ``name=START:STOP:NUM`` or ``name=START:STOP:NUM:log``."""
    name, sep, spec = text.partition("=")
    name = name.strip()
    if not sep or name not in _AXES:
        raise ValueError(
            f"--grid {text!r}: expected NAME=VALUES with NAME one of {', '.join(_AXES)}"
        )
    spec = spec.strip()
    ranged = re.fullmatch(rf"({_NUMBER}):({_NUMBER}):(\d+)(:log)?", spec)
    if ranged:
        start, stop, num, log = ranged.groups()
        start_f, stop_f, n = float(start), float(stop), int(num)
        if n < 1:
            raise ValueError(f"--grid {text!r}: NUM must be >= 1")
        if log:
            if start_f <= 0 or stop_f <= 0:
                raise ValueError(f"--grid {text!r}: a log range needs START and STOP > 0")
            values = np.logspace(np.log10(start_f), np.log10(stop_f), n)
        else:
            values = np.linspace(start_f, stop_f, n)
    elif re.fullmatch(rf"{_NUMBER}(?:,{_NUMBER})*", spec):
        values = np.asarray([float(v) for v in spec.split(",")])
    else:
        raise ValueError(
            f"--grid {text!r}: VALUES must be a list (0,0.2,0.5), a range (START:STOP:NUM) "
            "or a log range (START:STOP:NUM:log)"
        )
    check, constraint = _AXES[name]
    if not np.all(check(values)):
        raise ValueError(f"--grid {text!r}: every {name} must be {constraint}")
    return name, values


def load_digits_data() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise SystemExit(
            "regjax sweep needs scikit-learn for its data: `pip install 'regjax[data]'`."
        ) from e
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int32)


def make_train_fn(
    x: np.ndarray,
    y: np.ndarray,
    *,
    penalty: str,
    steps: int,
    batch_size: int,
    hidden: int,
    lr: float,
    patience: int,
    eval_every: int,
) -> Callable[..., dict[str, jax.Array]]:
    """The pure ``train_fn(hparams, key, (train_mask, val_mask))`` the sweep vmaps."""
    x_all, y_all = jnp.asarray(x), jnp.asarray(y)
    n_in, n_classes = x.shape[1], int(y.max()) + 1

    def init(key: jax.Array) -> dict[str, Any]:
        k0, k1 = jax.random.split(key)
        return {
            "hidden": {
                "kernel": jax.random.normal(k0, (n_in, hidden)) * jnp.sqrt(2.0 / n_in),
                "bias": jnp.zeros(hidden),
            },
            "out": {
                "kernel": jax.random.normal(k1, (hidden, n_classes)) * jnp.sqrt(1.0 / hidden),
                "bias": jnp.zeros(n_classes),
            },
        }

    def logits_fn(params: Any, xb: jax.Array, key: jax.Array, rate: Any, train: bool) -> Any:
        h = jax.nn.relu(xb @ params["hidden"]["kernel"] + params["hidden"]["bias"][None, :])
        h = stochastic.dropout(key, h, rate, deterministic=not train)
        return h @ params["out"]["kernel"] + params["out"]["bias"][None, :]

    def evaluate(params: Any, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
        logits = logits_fn(params, x_all, jax.random.key(0), 0.0, False)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_all)
        wrong = (jnp.argmax(logits, axis=-1) != y_all).astype(jnp.float32)
        total = jnp.sum(weights)
        return jnp.sum(weights * ce) / total, jnp.sum(weights * wrong) / total

    def train_fn(hp: dict[str, jax.Array], key: jax.Array, fold: Any) -> dict[str, jax.Array]:
        train_mask, val_mask = fold
        train_w = train_mask.astype(jnp.float32)
        val_w = val_mask.astype(jnp.float32)
        wd, rate = hp["weight_decay"], hp["rate"]
        step_lr = hp.get("lr", lr)
        init_key, data_key = jax.random.split(key)
        params = init(init_key)
        if penalty == "decoupled":
            tx = optax.chain(
                optax.adam(step_lr),
                transforms.decoupled_weight_decay(
                    wd, learning_rate=step_lr, mask=masks.weights_only
                ),
            )
        else:
            tx = optax.adam(step_lr)

        def penalty_term(p: Any) -> jax.Array:
            if penalty == "l2":
                return wd * penalties.l2(p, mask=masks.weights_only)
            if penalty == "l1":
                return wd * penalties.l1(p, mask=masks.weights_only)
            if penalty == "elastic_net":
                return wd * penalties.elastic_net(p, 0.5, mask=masks.weights_only)
            return jnp.zeros(())

        def loss_fn(p: Any, idx: jax.Array, key: jax.Array) -> jax.Array:
            logits = logits_fn(p, x_all[idx], key, rate, True)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y_all[idx])
            return jnp.mean(ce) + penalty_term(p)

        probs = train_w / jnp.sum(train_w)
        es = early_stopping.init(params, patience=patience)

        def step(carry: Any, i: jax.Array) -> Any:
            params, opt_state, es, diverged = carry
            sweep.report_progress(i, steps, every=max(steps // 20, 1))
            k_batch, k_drop = jax.random.split(stochastic.step_key(data_key, i))
            idx = jax.random.choice(k_batch, x_all.shape[0], (batch_size,), p=probs)
            loss, grads = jax.value_and_grad(loss_fn)(params, idx, k_drop)
            updates, new_opt = tx.update(grads, opt_state, params)
            proposed = (optax.apply_updates(params, updates), new_opt)
            proposed = early_stopping.freeze_if_stopped(es, (params, opt_state), proposed)
            (params, opt_state), diverged = sweep.freeze_if_diverged(
                (params, opt_state), proposed, loss, diverged
            )
            # Validate every `eval_every` steps; early stopping counts evaluations.
            val_loss, _ = jax.lax.cond(
                (i + 1) % eval_every == 0,
                lambda: evaluate(params, val_w),
                lambda: (es.best_metric, jnp.zeros(())),
            )
            es = jax.lax.cond(
                (i + 1) % eval_every == 0,
                lambda: early_stopping.update(es, val_loss, params),
                lambda: es,
            )
            return (params, opt_state, es, diverged), None

        carry = (params, tx.init(params), es, jnp.asarray(False))
        (params, _, es, diverged), _ = jax.lax.scan(step, carry, jnp.arange(steps))
        best = es.best_params
        val_loss, val_error = evaluate(best, val_w)
        _, train_error = evaluate(best, train_w)
        return {
            "val_loss": val_loss,
            "val_error": val_error,
            "train_error": train_error,
            "best_step": (es.best_step + 1) * eval_every,
            "diverged": diverged,
        }

    return train_fn


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sweep",
        help="train an MLP on digits across a weight-decay x dropout grid in one program",
        description=(
            "Train a one-hidden-layer MLP on scikit-learn's digits (1797 images, 10 classes) "
            "for every member of a hyperparameter grid (default: 16 weight decays x 4 dropout "
            "rates), cross-validated over --folds folds, in one vmapped, compiled program. "
            "Prints the best setting, the one-standard-error choice and a table; writes "
            "OUT/sweep.png (validation-error heatmap) and OUT/sweep.npz (+ sweep.json)."
        ),
        epilog=(
            "grid axes: weight_decay (the penalty's strength), rate (dropout probability), lr "
            "(Adam learning rate). VALUES: a list 0,0.2,0.5 | a range START:STOP:NUM | a log "
            "range START:STOP:NUM:log. Example: regjax sweep --penalty decoupled "
            "--grid weight_decay=1e-4:1:8:log --grid rate=0,0.5 --folds 5"
        ),
    )
    p.add_argument(
        "--penalty", choices=PENALTIES, default="l2",
        help="l2/l1/elastic_net: weight_decay * penalty added to the loss (weights only); "
        "decoupled: AdamW-style decay, lr * weight_decay * w per step (default: l2)",
    )  # fmt: skip
    p.add_argument(
        "--grid", action="append", metavar="NAME=VALUES",
        help=f"a grid axis; repeat for a product (default: {' '.join(DEFAULT_GRID)})",
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=400, help="Adam steps per run (default: 400)")
    p.add_argument("--folds", type=int, default=3, help="cross-validation folds, >= 2 (default: 3)")
    p.add_argument(
        "--devices", type=int, default=None, metavar="N",
        help="shard members across the first N local devices (default: all)",
    )  # fmt: skip
    p.add_argument(
        "--chunk-size", type=int, default=None, metavar="K",
        help="run K members at a time to bound memory (default: all at once)",
    )  # fmt: skip
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default: 64)")
    p.add_argument("--batch-size", type=int, default=128, help="minibatch size (default: 128)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR",
        help=f"directory for sweep.png and sweep.npz, created if missing (default: {DEFAULT_OUT})",
    )  # fmt: skip
    p.add_argument(
        "--checkpoint-dir", default=None, metavar="DIR",
        help="write each finished chunk here; rerunning the same command resumes from it",
    )  # fmt: skip
    p.add_argument(
        "--vmap-size", type=int, default=None, metavar="N",
        help="members vmapped together on one device, >= 1 (default: chosen per platform)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="PRNG seed (default: 0)")
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="hide the progress bar"
    )
    return p


def writable_dir_problem(path: pathlib.Path) -> str | None:
    """Why ``path`` cannot be (created as) a writable directory, or None if it can."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        return f"{probe} is not a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    for name, low in (("steps", 1), ("folds", 2), ("hidden", 1), ("batch_size", 1)):
        if getattr(args, name) < low:
            parser.error(f"--{name.replace('_', '-')} must be >= {low}; got {getattr(args, name)}")
    if not args.lr > 0:
        parser.error(f"--lr must be > 0; got {args.lr}")
    if args.chunk_size is not None and args.chunk_size < 1:
        parser.error(f"--chunk-size must be >= 1; got {args.chunk_size}")
    if args.vmap_size is not None and args.vmap_size < 1:
        parser.error(f"--vmap-size must be >= 1; got {args.vmap_size}")
    out = pathlib.Path(args.out)
    problem = writable_dir_problem(out)
    if problem:
        parser.exit(2, f"regjax sweep: --out {out}: {problem}; choose a writable directory.\n")
    if args.checkpoint_dir is not None:
        problem = writable_dir_problem(pathlib.Path(args.checkpoint_dir))
        if problem:
            parser.exit(
                2,
                f"regjax sweep: --checkpoint-dir {args.checkpoint_dir}: {problem}; "
                "choose a writable directory.\n",
            )
    local = jax.local_devices()
    if args.devices is not None and not 1 <= args.devices <= len(local):
        parser.error(f"--devices must be in [1, {len(local)}] (local devices); got {args.devices}")
    axes: dict[str, np.ndarray] = {}
    for text in args.grid or DEFAULT_GRID:
        try:
            name, values = parse_axis(text)
        except ValueError as e:
            parser.error(str(e))
        if name in axes:
            parser.error(f"--grid names {name} twice")
        axes[name] = values
    # The training function reads both; an axis left out is held at 0.
    axes.setdefault("weight_decay", np.zeros(1))
    axes.setdefault("rate", np.zeros(1))
    if args.folds > 1797:
        parser.error("--folds must be at most the number of examples (1797)")

    x, y = load_digits_data()
    grid = sweep.grid(**axes)
    key = jax.random.key(args.seed)
    folds = sweep.kfold(jax.random.fold_in(key, 1), len(y), args.folds)
    eval_every = max(args.steps // 20, 1)
    train_fn = make_train_fn(
        x, y, penalty=args.penalty, steps=args.steps, batch_size=args.batch_size,
        hidden=args.hidden, lr=args.lr, patience=5, eval_every=eval_every,
    )  # fmt: skip
    devices = local if args.devices is None else local[: args.devices]
    shape = " x ".join(f"{len(v)} {k}" for k, v in grid.axes.items())
    print(
        f"regjax sweep: MLP(64-{args.hidden}-10) on digits, penalty={args.penalty}, grid "
        f"{shape} = {len(grid)} members x {args.folds} folds, {args.steps} steps, "
        f"{len(devices)} device(s)"
    )
    t0 = time.perf_counter()
    result = sweep.run(
        train_fn, grid, jax.random.fold_in(key, 2), folds=folds, chunk_size=args.chunk_size,
        devices=devices, progress=args.progress, checkpoint_dir=args.checkpoint_dir,
        vmap_size=args.vmap_size,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    trainings = len(grid) * args.folds
    print(f"trained {trainings} models in {elapsed:.1f} s (compile included)")
    if result.diverged.all():
        out.mkdir(parents=True, exist_ok=True)
        result.save(out / "sweep.npz")
        print(
            f"regjax sweep: every one of the {len(grid)} members diverged (a NaN or inf loss), "
            "so there is no best setting. Try a smaller --lr or smaller --grid values. "
            f"Wrote {out / 'sweep.npz'} and {out / 'sweep.json'}.",
            file=sys.stderr,
        )
        return 1
    if result.diverged.any():
        print(f"diverged: {int(result.diverged.sum())} member(s), excluded from the choice")

    def describe(hp: dict[str, float]) -> str:
        return ", ".join(f"{k}={v:.3g}" for k, v in hp.items())

    best = result.best_index("val_error")
    best_err = result.metric("val_error")[best]
    print(
        f"best:        {describe(grid.member(best))}  "
        f"val error {best_err.mean():.4f} ± {best_err.std(ddof=1) / np.sqrt(args.folds):.4f}"
    )
    by = "weight_decay" if len(grid.axes["weight_decay"]) > 1 else grid.names[0]
    one_se = result.one_standard_error("val_error", by=by)
    print(f"1-SE choice: {describe(one_se)}  (largest {by} within one standard error)")
    print()
    print(result.table(sort_by="val_error", max_rows=10))
    print(f"... ({len(grid)} members; the 10 best by mean validation error)")

    out.mkdir(parents=True, exist_ok=True)
    result.save(out / "sweep.npz")
    try:
        import matplotlib
    except ImportError as e:
        raise SystemExit("regjax sweep draws with matplotlib: `pip install 'regjax[plot]'`.") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = result.plot("val_error") if len(grid.names) <= 2 else None
    if fig is not None:
        fig.savefig(out / "sweep.png", dpi=120)
        plt.close(fig)
        print(f"wrote {out / 'sweep.png'}, {out / 'sweep.npz'} and {out / 'sweep.json'}")
    else:
        print(f"wrote {out / 'sweep.npz'} (no plot for a grid of more than 2 axes)")
    return 0
