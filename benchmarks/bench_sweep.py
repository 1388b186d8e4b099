"""regjax.sweep.run (one vmapped program) against a Python loop over members.

The loop calls the *same* jitted single-member training function once per
member, so both sides do the same arithmetic; only batching differs. Each
side's time to first result is measured in a new process; memory is XLA's
own accounting of the compiled program (arguments + outputs + temporaries).
"""

from __future__ import annotations

import io
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import Row, Section, first_result, fmt_s, pick, time_call
from sklearn.datasets import load_digits

from regjax import masks, penalties, stochastic, sweep

PEERS = ("optax", "scikit-learn")
IMPORTS = ("import regjax.sweep",)
MAX_TOTAL_S = 8.0  # per timed side: calls of seconds get 1 or 2 timed runs, no warm-up
SMALL = dict(hidden=32, batch=64, steps=pick(5, 200))
MEDIUM = dict(hidden=256, batch=None, steps=pick(2, 20))
KS = pick((1, 4), (1, 8, 64, 256))
K_FORCED = pick(4, 64)
K_PROGRESS = pick(4, 64)

X, Y = load_digits(return_X_y=True)
X = jnp.asarray(X / 16.0, jnp.float32)
Y = jnp.asarray(Y, jnp.int32)


def make_train_fn(hidden: int, batch: int | None, steps: int, report: bool = False):
    n = X.shape[0]

    def train_fn(hp, key):
        k0, k1, kd = jax.random.split(key, 3)
        params = {
            "h": {"kernel": jax.random.normal(k0, (64, hidden)) * 0.1, "bias": jnp.zeros(hidden)},
            "o": {"kernel": jax.random.normal(k1, (hidden, 10)) * 0.1, "bias": jnp.zeros(10)},
        }
        tx = optax.adam(3e-3)

        def loss_fn(p, xb, yb, key):
            h = jax.nn.relu(xb @ p["h"]["kernel"] + p["h"]["bias"])
            h = stochastic.dropout(key, h, hp["rate"])
            logits = h @ p["o"]["kernel"] + p["o"]["bias"]
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
            return ce + hp["weight_decay"] * penalties.l2(p, mask=masks.weights_only)

        def step(carry, i):
            p, s = carry
            if report:
                sweep.report_progress(i, steps, every=max(steps // 10, 1))
            kb, kdrop = jax.random.split(jax.random.fold_in(kd, i))
            if batch is None:
                xb, yb = X, Y
            else:
                idx = jax.random.randint(kb, (batch,), 0, n)
                xb, yb = X[idx], Y[idx]
            g = jax.grad(loss_fn)(p, xb, yb, kdrop)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None

        (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))
        return {"loss": loss_fn(params, X, Y, kd)}

    return train_fn


def memory_bytes(fn, *args) -> int:
    stats = jax.jit(fn).lower(*args).compile().memory_analysis()
    if stats is None:
        return -1
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def grid_of(k: int):
    wd = np.logspace(-5, -2, k) if k > 1 else np.array([1e-4])
    return sweep.grid(weight_decay=wd, rate=[0.2])


def run_layout(train_fn, g, key, vmap_size):
    """The vmap width and the compiled-program factory `sweep.run` uses for this grid
    on one device, so memory is measured on the very program that runs."""
    from regjax import _sweep

    member = _sweep._trace_member(train_fn, False, _sweep._signature(g, key, ()))
    width = _sweep._vmap_width(vmap_size, member, jax.devices()[0].platform, len(g), len(g))
    chunk = -(-len(g) // width) * width  # padded to whole batches, as `run` does
    return width, chunk, _sweep._program(member, 0, (jax.devices()[0],), width), member


def _sides(train_fn, g, key, vmap_size):
    """The sweep and the loop over the same members, as calls with no arguments."""
    single = jax.jit(train_fn)

    def vmapped():
        return sweep.run(train_fn, g, key, progress=False, vmap_size=vmap_size).metrics["loss"]

    def loop():
        outs = [
            single({n: jnp.asarray(v) for n, v in g.member(i).items()}, jax.random.fold_in(key, i))[
                "loss"
            ]
            for i in range(len(g))
        ]
        return jnp.stack(outs)

    return vmapped, loop


def fresh_sweep(model: str, k: int, side: str, vmap_size: int | None = None):
    """For ``_harness.first_result``: one side of one row, the model built here."""
    cfg = SMALL if model == "small" else MEDIUM
    train_fn = make_train_fn(cfg["hidden"], cfg["batch"], cfg["steps"])
    vmapped, loop = _sides(train_fn, grid_of(k), jax.random.key(0), vmap_size)
    return vmapped if side == "sweep" else loop


def fresh_progress(report: bool):
    """For ``_harness.first_result``: the progress-overhead sweep, with or without reporting."""
    fn = make_train_fn(SMALL["hidden"], SMALL["batch"], SMALL["steps"], report=report)
    g, key = grid_of(K_PROGRESS), jax.random.key(0)
    return lambda: sweep.run(fn, g, key, progress=False).metrics["loss"]


def measure(label: str, model: str, ks, vmap_size: int | None = None):
    cfg = SMALL if model == "small" else MEDIUM
    rows, mem_lines, traffic = [], [], None
    train_fn = make_train_fn(cfg["hidden"], cfg["batch"], cfg["steps"])
    for k in ks:
        g = grid_of(k)
        key = jax.random.key(0)
        width, chunk, program, member = run_layout(train_fn, g, key, vmap_size)
        traffic = member.traffic_bytes
        vmapped, loop = _sides(train_fn, g, key, vmap_size)
        t_v = time_call(vmapped, repeats=5, warmup=1, max_total_s=MAX_TOTAL_S)
        t_l = time_call(loop, repeats=5, warmup=1, max_total_s=MAX_TOTAL_S)
        # Equal work, checked after timing: the two sides agree member by member.
        # float32 rounding differs between batched and single kernels, and 200 Adam steps
        # amplify it a little; the loss still agrees to 0.5%.
        np.testing.assert_allclose(np.asarray(vmapped()), np.asarray(loop()), rtol=5e-3)
        keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(k))
        hp = {n: jnp.asarray(g[n]) for n in g.names}
        padded = np.minimum(np.arange(chunk), k - 1)
        mem_v = memory_bytes(program, {n: v[padded] for n, v in hp.items()}, keys[padded])
        mem_1 = memory_bytes(train_fn, {n: v[0] for n, v in hp.items()}, keys[0])
        target, met = "", None
        if model == "small" and k == 64:
            target, met = "loop/vmapped >= 1.5 (ratio <= 0.667)", t_v.median_s * 1.5 <= t_l.median_s
        if model == "medium" and vmap_size is None:
            target, met = "never slower than the loop (ratio <= 1)", t_v.median_s <= t_l.median_s
        fresh = dict(model=model, k=k, vmap_size=vmap_size)
        rows.append(
            Row(
                f"{label}, K={k}, vmap width {width}",
                t_v,
                "Python loop of the jitted member",
                t_l,
                regjax_first=first_result("bench_sweep", "fresh_sweep", side="sweep", **fresh),
                peer_first=first_result("bench_sweep", "fresh_sweep", side="loop", **fresh),
                target=target,
                met=met,
            )
        )
        mem_lines.append(
            f"| {label} | {k} | {mem_v / 2**20:.2f} MiB | {mem_1 / 2**20:.2f} MiB | "
            f"{t_v.median_s / k * 1e3:.2f} ms | {t_l.median_s / k * 1e3:.2f} ms |"
        )
    return rows, mem_lines, traffic


def progress_overhead(repeats: int) -> str:
    """The cost of `report_progress` with a live progress bar, against none at all."""
    from regjax import _progress

    plain = make_train_fn(SMALL["hidden"], SMALL["batch"], SMALL["steps"], report=False)
    reporting = make_train_fn(SMALL["hidden"], SMALL["batch"], SMALL["steps"], report=True)
    g = grid_of(K_PROGRESS)
    key = jax.random.key(0)
    times = {}
    saved = (_progress._stderr_is_terminal, sys.stderr)
    every = max(SMALL["steps"] // 10, 1)
    try:
        _progress._stderr_is_terminal = lambda: True
        sys.stderr = io.StringIO()  # a live bar that draws nowhere visible
        for name, fn, show in (
            ("no reporting", plain, False),
            (f"report_progress every {every} steps, bar shown", reporting, True),
        ):

            def go(fn=fn, show=show):
                return sweep.run(fn, g, key, progress=show).metrics["loss"]

            times[name] = (time_call(go, repeats=repeats, warmup=1), fn is reporting)
    finally:
        _progress._stderr_is_terminal, sys.stderr = saved
    base = times["no reporting"][0].median_s
    lines = [
        "| variant | median | overhead | first result, new process (bar not shown) |",
        "|---|---|---|---|",
    ]
    for name, (t, report) in times.items():
        first = first_result("bench_sweep", "fresh_progress", report=report)
        lines.append(
            f"| {name} | {t.median_s * 1e3:.1f} ms | {(t.median_s / base - 1) * 100:+.1f}% "
            f"| {fmt_s(first)} |"
        )
    return (
        f"Progress overhead: small MLP, K = {K_PROGRESS}, {SMALL['steps']} steps, "
        f"`report_progress` every {every} steps (a `jax.debug.callback` each time) with the "
        "tqdm bars live, against the same program without reporting.\n\n" + "\n".join(lines)
    )


def run() -> list[Section]:
    from regjax import _sweep

    small = f"small MLP (hidden {SMALL['hidden']}, batch {SMALL['batch']}, {SMALL['steps']} steps)"
    medium = (
        f"medium MLP (hidden {MEDIUM['hidden']}, full digits batch {X.shape[0]}, "
        f"{MEDIUM['steps']} steps)"
    )
    small_rows, small_mem, small_traffic = measure(small, "small", KS)
    medium_rows, medium_mem, medium_traffic = measure(medium, "medium", KS)
    # The same medium sweep forced to one wide vmap: what the default avoids on CPU.
    wide_rows, _, _ = measure(f"{medium}, forced", "medium", (K_FORCED,), vmap_size=K_FORCED)
    mem_table = "\n".join(
        [
            "Memory (XLA's accounting of the compiled program: arguments + outputs + "
            "temporaries) and time per member, by K:",
            "",
            "| model | K | sweep program | one member's program | sweep time / member "
            "| loop time / member |",
            "|---|---|---|---|---|---|",
            *small_mem,
            *medium_mem,
        ]
    )
    overhead = progress_overhead(repeats=5)
    mb = lambda b: "unknown" if b is None else f"{b / 1e6:.1f} MB"
    description = (
        "A K-member sweep (`regjax.sweep.run`: one compiled program over members) against a "
        "Python loop calling the same jitted single-member training function K times (Adam, "
        "dropout, L2 penalty on digits). Ratio = sweep time / loop time, steady state; each "
        "side's first result (trace, compile and run in a new process) apart. Each row names "
        "the vmap width `run` used. On CPU its default divides a budget of "
        f"{_sweep._CPU_BATCH_TRAFFIC_BYTES / 2**30:g} GiB of memory traffic per batch by one "
        "member's traffic as XLA estimates it (`bytes accessed` of the member's compiled "
        f"program, loop bodies counted once): {mb(small_traffic)} for the small model, "
        f"{mb(medium_traffic)} for the medium one; where fewer than "
        f"{_sweep._MIN_USEFUL_WIDTH} members fit, it runs them one after another (width 1). "
        f"The last row forces one {K_FORCED}-wide vmap on the medium model for comparison."
    )
    return [
        Section(
            "sweep: vmapped grid vs Python loop",
            description,
            [*small_rows, *medium_rows, *wide_rows],
            extra_markdown=mem_table + "\n\n" + overhead,
        ),
    ]


if __name__ == "__main__":
    from _harness import section_markdown

    for s in run():
        print(section_markdown(s))
