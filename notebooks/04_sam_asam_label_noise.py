# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SAM and ASAM under label noise
#
# **Claim** (Foret et al. 2021, §3.3 and Table 4; Kwon et al. 2021). Sharpness-aware
# minimization looks for weights whose whole neighbourhood has low loss:
#
# $$\min_w \max_{\|\varepsilon\| \le \rho} L(w + \varepsilon), \qquad
#   \hat\varepsilon = \rho\, \frac{\nabla L(w)}{\|\nabla L(w)\|},$$
#
# and ASAM makes the neighbourhood scale-invariant,
# $\hat\varepsilon = \rho\, T^2\nabla L / \|T\nabla L\|$ with $T = |w| + \eta$.
# Trained on labels with noise, both reach **flatter** minima (a smaller top eigenvalue
# of the Hessian of the training loss) and **higher test accuracy** than plain SGD:
# Foret et al. report SAM as robust to label noise as methods built for it.
#
# **Method.** scikit-learn's digits. Each **replicate** is its own random half/half split
# into train and test and its own draw of the label noise: each training label is replaced,
# with probability 0.4, by a different class drawn uniformly (symmetric noise; the test
# labels are clean). The realized fraction of flipped labels differs from 0.4 by chance and
# is printed for each replicate. A fifth of the (noisy) training half is held out as
# **validation** data, which chooses ρ; the clean **test** half only reports. A
# one-hidden-layer ReLU MLP is trained with minibatch SGD + momentum for a fixed number of
# steps, with
# `optax.chain(regjax.transforms.sam(rho, adaptive=...), optax.sgd(lr, momentum=0.9))`.
# `rho` is a traced array, so the whole ρ grid × replicates is **one** `jax.vmap`-ed,
# jitted training program per method (SAM, ASAM); ρ = 0 is plain SGD. Within a replicate,
# every ρ (SAM and ASAM alike) starts from the same weights and sees the same minibatches,
# so differences between SGD and a radius are paired.
#
# **Sharpness** is the top eigenvalue of the Hessian of the (noisy) training loss at the
# final weights, by power iteration on Hessian–vector products
# (`jax.jvp` of `jax.grad`, never forming the Hessian), cross-checked once against
# SciPy's Lanczos (`scipy.sparse.linalg.eigsh`) on the same operator.
#
# **Decision rules, fixed before the runs.** In each replicate, ρ̂ is the radius > 0 with
# the highest accuracy on the noisy validation data (ties go to the smaller radius). The
# papers' default radii are ρ = 0.05 for SAM and ρ = 0.5 for ASAM. Each claim is a
# per-replicate difference $d_r$ against SGD of the same replicate, with mean $\bar d$ and
# standard error $\mathrm{SE} = s_d/\sqrt{R}$ over the $R$ replicates:
#
# 1. *flatter*: $d_r$ = SGD's top Hessian eigenvalue minus the method's; confirmed if
#    $\bar d > 2\,\mathrm{SE}$ (at ρ̂, and separately at the default radius);
# 2. *more accurate*: $d_r$ = the method's clean test accuracy at ρ̂ minus SGD's; confirmed if
#    $\bar d > 2\,\mathrm{SE}$, reversed if $\bar d < -2\,\mathrm{SE}$, otherwise no
#    detectable difference;
# 3. *no gain at the default radius*: the same $d_r$ at the default radius; a gain if
#    $\bar d > 2\,\mathrm{SE}$; "no gain" if not, and $\bar d + 2\,\mathrm{SE} < 0.02$ (a
#    gain of 2 points or more is ruled out); otherwise undecided;
# 4. *only at radii far above the defaults*: ρ̂ is at least 10× the default radius in
#    every replicate.
#
# At smoke size (few replicates, a small network trained briefly, which has not yet
# memorized the noise) the rules are computed and printed the same way, but only claim 1
# is asserted; the text below reports the full-size run.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import scipy.sparse.linalg
from _nb import pick, savefig
from jax.flatten_util import ravel_pytree
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import regjax

X, y = load_digits(return_X_y=True)
noise = 0.4
hidden = pick(64, 256)
steps = pick(400, 2000)
batch = 128
lr = 0.05
n_reps = pick(3, 6)
sam_rhos = np.array(pick([0.0, 0.05, 0.2, 1.0], [0.0, 0.05, 0.2, 0.5, 1.0, 2.0]))
asam_rhos = np.array(pick([0.5, 2.0, 5.0], [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]))
defaults = {"SAM": 0.05, "ASAM": 0.5}


def replicate(r):
    """Replicate r: its split, its label noise, a noisy validation fifth of the train half."""
    X_tr, X_te, y_tr, y_te = train_test_split(
        X / 16.0, y, test_size=0.5, stratify=y, random_state=r
    )
    rng = np.random.default_rng(r)
    flipped = rng.random(len(y_tr)) < noise
    y_noisy = np.where(flipped, (y_tr + rng.integers(1, 10, len(y_tr))) % 10, y_tr)
    n_val = len(y_tr) // 5
    data = {
        "X_train": X_tr[n_val:],
        "y_train": y_noisy[n_val:],
        "X_val": X_tr[:n_val],
        "y_val": y_noisy[:n_val],
        "X_test": X_te,
        "y_test": y_te,
    }
    return data, flipped.mean()


reps = [replicate(r) for r in range(n_reps)]
flip_frac = np.array([f for _, f in reps])
data = {
    k: jnp.asarray(np.stack([d[k] for d, _ in reps]), jnp.int32 if k[0] == "y" else jnp.float32)
    for k in reps[0][0]
}
n_train, n_val, n_test = (data[k].shape[1] for k in ("X_train", "X_val", "X_test"))
print(
    f"digits, {n_reps} replicates: {n_train} train + {n_val} validation (noisy labels), "
    f"{n_test} clean test; MLP 64-{hidden}-10, {steps} steps of batch {batch}"
)
print(
    f"labels flipped (probability {noise}): realized fraction per replicate "
    f"{np.round(100 * flip_frac, 1).tolist()} %, mean {flip_frac.mean():.1%}"
)


# %% [markdown]
# ## The model, the training run, and the sharpness


# %%
def init(rng):
    """He-initialized weights, drawn with NumPy: no PRNG inside the compiled program."""
    return {
        "hidden": {
            "kernel": jnp.asarray(rng.normal(size=(64, hidden)) * np.sqrt(2 / 64), jnp.float32),
            "bias": jnp.zeros(hidden),
        },
        "out": {
            "kernel": jnp.asarray(rng.normal(size=(hidden, 10)) / np.sqrt(hidden), jnp.float32),
            "bias": jnp.zeros(10),
        },
    }


def apply(params, x):
    h = jax.nn.relu(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def loss(params, x, labels):
    return optax.softmax_cross_entropy_with_integer_labels(apply(params, x), labels).mean()


def tree_dot(a, b):
    return sum(jnp.vdot(u, v) for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def hvp(params, v, d):
    """Hessian of the full noisy training loss of replicate data d times v (jvp of grad)."""
    grad = lambda p: jax.grad(loss)(p, d["X_train"], d["y_train"])
    return jax.jvp(grad, (params,), (v,))[1]


def top_hessian_eigenvalue(params, v, d, n_iter=50):

    def step(v, _):
        v = jax.tree.map(lambda a: a / jnp.sqrt(tree_dot(v, v)), v)
        hv = hvp(params, v, d)
        return hv, tree_dot(v, hv)  # Rayleigh quotient of the unit v

    _, rayleigh = jax.lax.scan(step, v, None, length=n_iter)
    return rayleigh[-1]


def accuracy(params, x, labels):
    return jnp.mean(jnp.argmax(apply(params, x), -1) == labels)


def train(rho, params, batches, v0, d, *, adaptive):
    tx = optax.chain(regjax.transforms.sam(rho, adaptive=adaptive), optax.sgd(lr, momentum=0.9))

    def step(carry, idx):
        params, state = carry
        xb, yb = d["X_train"][idx], d["y_train"][idx]
        grads = jax.grad(loss)(params, xb, yb)
        updates, state = tx.update(
            grads, state, params, grad_fn=lambda p: jax.grad(loss)(p, xb, yb)
        )
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), batches)
    return {
        "test_acc": accuracy(params, d["X_test"], d["y_test"]),
        "val_acc": accuracy(params, d["X_val"], d["y_val"]),
        "fit_noisy": accuracy(params, d["X_train"], d["y_train"]),
        "sharpness": top_hessian_eigenvalue(params, v0, d),
        "params": params,
    }


# Per replicate: initial weights, minibatch indices, and the power iteration's start vector.
seed_rngs = [np.random.default_rng(1 + r) for r in range(n_reps)]
inits = jax.tree.map(lambda *a: jnp.stack(a), *[init(g) for g in seed_rngs])
batches = jnp.asarray(np.stack([g.integers(0, n_train, (steps, batch)) for g in seed_rngs]))
starts = jax.tree.map(lambda a: jnp.asarray(np.random.default_rng(99).normal(size=a.shape)), inits)
starts = jax.tree.map(lambda a: a.astype(jnp.float32), starts)
seeds = (inits, batches, starts, data)
results = {}
for name, adaptive, rhos in [("SAM", False, sam_rhos), ("ASAM", True, asam_rhos)]:
    traces = []

    def member(rho, seed, adaptive=adaptive, traces=traces):
        traces.append(1)  # counts compilations: one per method, whatever the grid
        return train(rho, *seed, adaptive=adaptive)

    run = jax.jit(jax.vmap(jax.vmap(member, in_axes=(None, 0)), in_axes=(0, None)))
    t0 = time.perf_counter()
    compiled = run.lower(jnp.asarray(rhos, jnp.float32), seeds).compile()
    t1 = time.perf_counter()
    out = jax.block_until_ready(compiled(jnp.asarray(rhos, jnp.float32), seeds))
    print(
        f"{name}: {len(rhos)} rho x {n_reps} replicates in one program: compiled in "
        f"{t1 - t0:.1f} s, ran in {time.perf_counter() - t1:.1f} s, traced {len(traces)} time(s)"
    )
    assert len(traces) == 1
    results[name] = out

# %%
for name, rhos in [("SAM", sam_rhos), ("ASAM", asam_rhos)]:
    out = results[name]
    for i, rho in enumerate(rhos):
        label = "SGD " if name == "SAM" and rho == 0 else name
        print(
            f"{label:4s} rho={rho:5.2f}: clean test acc {float(out['test_acc'][i].mean()):.3f}, "
            f"noisy validation acc {float(out['val_acc'][i].mean()):.3f}, "
            f"top Hessian eigenvalue {float(out['sharpness'][i].mean()):6.2f}, "
            f"fits {float(out['fit_noisy'][i].mean()):.0%} of the noisy training labels"
        )

# %% [markdown]
# ### Cross-check of the sharpness measure
#
# Power iteration returns the eigenvalue of largest magnitude; Lanczos on the same
# Hessian–vector product (in float32, through SciPy) should agree on the SGD run.

# %%
sgd_params = jax.tree.map(lambda a: a[0, 0], results["SAM"]["params"])
data0 = jax.tree.map(lambda a: a[0], data)
flat, unflatten = ravel_pytree(sgd_params)
hvp_flat = jax.jit(lambda v: ravel_pytree(hvp(sgd_params, unflatten(v), data0))[0])
operator = scipy.sparse.linalg.LinearOperator(
    (flat.size, flat.size),
    matvec=lambda v: np.asarray(hvp_flat(jnp.asarray(v, jnp.float32)), np.float64),
    dtype=np.float64,
)
lanczos = scipy.sparse.linalg.eigsh(operator, k=1, which="LA", tol=1e-4, return_eigenvectors=False)
power = float(results["SAM"]["sharpness"][0, 0])
print(
    f"top Hessian eigenvalue, SGD replicate 0: power iteration {power:.4f}, "
    f"Lanczos {lanczos[0]:.4f}"
)
assert abs(power - lanczos[0]) < 0.02 * lanczos[0]

# %% [markdown]
# ## The radius chosen on validation data, and the four decisions


# %%
def paired(d):
    """Mean and standard error over replicates of a per-replicate difference."""
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def sign_verdict(d, positive, negative):
    m, se = paired(d)
    return positive if m > 2 * se else negative if m < -2 * se else "no detectable difference"


def no_gain_verdict(d, margin=0.02):
    m, se = paired(d)
    if m > 2 * se:
        return "gain"
    return "no gain" if m + 2 * se < margin else "undecided"


reps_idx = np.arange(n_reps)
sgd = {k: np.asarray(results["SAM"][k][0]) for k in ("test_acc", "sharpness")}
print(
    f"SGD: clean test acc {sgd['test_acc'].mean():.3f}, top Hessian eigenvalue "
    f"{sgd['sharpness'].mean():.2f}, fits "
    f"{float(results['SAM']['fit_noisy'][0].mean()):.0%} of the noisy training labels"
)
verdicts, chosen_rhos = {}, {}
for name, rhos in [("SAM", sam_rhos), ("ASAM", asam_rhos)]:
    out = {k: np.asarray(results[name][k]) for k in ("test_acc", "val_acc", "sharpness")}
    candidates = np.flatnonzero(rhos > 0)
    # argmax takes the first of ties: the smaller radius.
    chosen = candidates[np.argmax(out["val_acc"][candidates], axis=0)]
    default = int(np.flatnonzero(rhos == defaults[name])[0])
    chosen_rhos[name] = rhos[chosen]
    print(f"{name}: rho chosen on noisy validation, per replicate: {rhos[chosen].tolist()}")
    for where, idx in [("chosen rho", chosen), (f"default rho = {defaults[name]}", default)]:
        acc, sharp = out["test_acc"][idx, reps_idx], out["sharpness"][idx, reps_idx]
        d_flat, d_acc = sgd["sharpness"] - sharp, acc - sgd["test_acc"]
        (mf, sef), (ma, sea) = paired(d_flat), paired(d_acc)
        flat_v = sign_verdict(d_flat, "flatter", "sharper")
        print(
            f"  {name} at {where}: top Hessian eigenvalue {sharp.mean():.2f} "
            f"({sharp.mean() / sgd['sharpness'].mean():.2f}x SGD's); SGD minus {name} "
            f"{mf:.2f} ± {sef:.2f} (SE), 2 SE = {2 * sef:.2f}: {flat_v}"
        )
        if where == "chosen rho":
            acc_v = sign_verdict(d_acc, "more accurate", "less accurate")
            verdicts[f"1 {name} flatter at chosen rho"] = flat_v
            verdicts[f"2 {name} more accurate at chosen rho"] = acc_v
        else:
            acc_v = no_gain_verdict(d_acc)
            verdicts[f"1 {name} flatter at default rho"] = flat_v
            verdicts[f"3 {name} no gain at default rho"] = acc_v
        print(
            f"  {name} at {where}: clean test acc {acc.mean():.3f}; {name} minus SGD "
            f"{ma:+.3f} ± {sea:.3f} (SE), 2 SE = {2 * sea:.3f}, upper end {ma + 2 * sea:+.3f}: "
            f"{acc_v}"
        )
    ratio = rhos[chosen] / defaults[name]
    far = bool(np.all(ratio >= 10))
    verdicts[f"4 {name} chosen rho >= 10x default"] = far
    print(
        f"  {name}: chosen rho / default = {ratio.tolist()}; at least 10x in every "
        f"replicate, met: {far}"
    )

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for name, rhos, color in [("SAM", sam_rhos, "C0"), ("ASAM", asam_rhos, "C1")]:
    out = results[name]
    keep = rhos > 0
    for ax, key in zip(axes, ["test_acc", "sharpness"], strict=True):
        vals = np.asarray(out[key])[keep]
        se = vals.std(1, ddof=1) / np.sqrt(n_reps)
        ax.errorbar(rhos[keep], vals.mean(1), yerr=2 * se, fmt="o-", color=color, label=name)
        ax.axvline(defaults[name], color=color, ls=":", lw=1)
axes[0].axhline(sgd["test_acc"].mean(), color="k", ls="--", lw=1, label="SGD (ρ = 0)")
axes[1].axhline(sgd["sharpness"].mean(), color="k", ls="--", lw=1, label="SGD (ρ = 0)")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("ρ (dotted: the papers' default radii)")
    ax.legend(frameon=False)
axes[0].set_ylabel("clean test accuracy (mean ± 2 SE)")
axes[0].set_title(f"Digits, {flip_frac.mean():.1%} of training labels flipped (mean)")
axes[1].set_yscale("log")
axes[1].set_ylabel("top eigenvalue of the training-loss Hessian")
axes[1].set_title("Sharpness at the end of training")
savefig(fig, "04_sam_asam_label_noise")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# At full size (MLP 64-256-10, 2000 steps, 6 replicates; means over replicates) the
# training labels were flipped with probability 0.4, and the realized fraction was between
# 37.3% and 41.5% (mean 39.9%). Plain SGD fits 100% of the noisy training labels and ends at
# clean test accuracy 0.649 with top Hessian eigenvalue 4.35.
#
# * **Flatter: reproduces, at every radius tested.** SAM at its chosen ρ ends at top
#   eigenvalue 0.58 (0.13x SGD's; SGD minus SAM 3.76 ± 0.36, above 2 SE = 0.72), ASAM at 0.40
#   (0.09x); at the default radii too, SAM (ρ = 0.05) at 2.91 (0.67x) and ASAM (ρ = 0.5) at
#   1.73 (0.40x), each more than 2 SE flatter than SGD.
# * **More accurate under noise: reproduces at the radius chosen on validation data.** SAM
#   reaches clean test accuracy 0.782 (+0.133 ± 0.003 over SGD) and ASAM 0.848
#   (+0.199 ± 0.017), both far above 2 SE. At these radii the networks stop fitting the
#   flipped labels (SAM at ρ = 1 fits 85% of the noisy training labels, ASAM at ρ = 10 60%).
# * **No gain at the papers' default radii: confirmed for SAM, undecided for ASAM.** At
#   SAM's ρ = 0.05 the network still memorizes every noisy label and its test accuracy is
#   0.644, a difference of -0.005 ± 0.005 whose upper end, +0.005, rules out a gain of 2
#   points: no gain. At ASAM's ρ = 0.5 it is 0.659, +0.010 ± 0.005: not a detectable gain
#   (2 SE = 0.011), but the upper end, +0.021, does not rule out 2 points either, so the rule
#   says undecided. Flatter is not by itself much better here.
# * **Only at radii far above the defaults: reproduces.** Validation chose SAM's ρ = 1.0 in
#   every replicate (20.0x the default) and ASAM's ρ between 5.0 and 20.0 (10.0x to 40.0x): at
#   least 10x in every replicate (`met: True`). The ASAM grid reaches ρ = 20 because a first
#   grid ending at ρ = 10 had its edge chosen in most replicates; the larger radius was added
#   so that the choice is not cut off by the grid, and it was chosen in one replicate. SAM's
#   ρ = 2 is too large: it fits 32% of the training labels and tests at 0.408.
# * Foret et al. also found that label noise calls for larger ρ, but ρ values do not
#   transfer between a ResNet on CIFAR-10 and a 64-input MLP (loss scale, gradient norm
#   and parameter count differ), and ASAM's ρ is on its own, |w|-relative scale. We do not
#   reproduce the paper's comparison with noise-robust methods, nor its scale.
#
# **How the checks changed.** An earlier version used one split and one noise draw, 3
# seeds, and compared means against fixed thresholds (at least 3 points more accurate, at
# most 2/3 of SGD's sharpness, sharpness falling with ρ), with no account of the noise. The
# rules stated at the top replace them: replicates with their own split and noise, paired
# differences against twice their standard error, and a 2-point margin for "no gain". The
# assertions below check that each verdict the rules computed is the one this text reports,
# ASAM's "undecided" at its default radius included. At smoke size (a small network trained
# for 400 steps, which has not yet memorized the noise) only the four "flatter" verdicts are
# checked.

# %%
reported = {
    "1 SAM flatter at chosen rho": "flatter",
    "1 ASAM flatter at chosen rho": "flatter",
    "1 SAM flatter at default rho": "flatter",
    "1 ASAM flatter at default rho": "flatter",
    "2 SAM more accurate at chosen rho": "more accurate",
    "2 ASAM more accurate at chosen rho": "more accurate",
    "3 SAM no gain at default rho": "no gain",
    "3 ASAM no gain at default rho": "undecided",
    "4 SAM chosen rho >= 10x default": True,
    "4 ASAM chosen rho >= 10x default": True,
}
checked = pick([c for c in reported if c.startswith("1 ")], list(reported))
for claim in checked:
    print(f"{claim}: computed {verdicts[claim]!r}, text {reported[claim]!r}")
    assert verdicts[claim] == reported[claim], (claim, verdicts[claim], reported[claim])
