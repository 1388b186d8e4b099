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
# # AdamW against Adam + L2
#
# **Claim** (Loshchilov & Hutter 2019, Fig. 2). With Adam, an L2 penalty in the loss
# and weight decay are not the same thing: the penalty's gradient $2\lambda w$ is divided
# by Adam's running RMS like every other gradient, so weights with large gradients are
# barely regularized. *Decoupled* weight decay shrinks every weight by the same factor
# after the Adam step (their Algorithm 2, line 12):
#
# $$\theta_t = \theta_{t-1} - \eta_t\Big(\alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)
#   + \lambda\, \theta_{t-1}\Big).$$
#
# Their Fig. 2 draws learning-rate × weight-decay heatmaps of test error, and its claim is
# about their shape: with Adam + L2 the best L2 strength depends on the learning rate (the
# two hyperparameters are coupled, the good region is a diagonal), while with decoupled
# weight decay the best decay is (more) independent of the learning rate (the good region
# is closer to separable), and AdamW reaches the lower test error.
#
# **Method.** A one-hidden-layer MLP on scikit-learn's digits, trained on a small training
# set (so regularization matters) with a cosine learning-rate schedule $\eta_t$, as in the
# paper. Each random split of the 1797 images has 400 training, 400 validation and 997 test
# images; the validation images choose, the test images only report. Each heatmap is **one**
# `regjax.sweep.run`: the whole learning-rate × weight-decay grid, times the splits,
# vmapped in one compiled program.
#
# * Adam + L2: `optax.adam(α·η_t)` on `loss + λ · regjax.penalties.l2(params, mask=weights_only)`.
# * AdamW, the paper's form: `optax.chain(optax.adam(α·η_t),
#   regjax.transforms.decoupled_weight_decay(λ·η_t, mask=weights_only))`: the decay per step
#   is $\eta_t\lambda$, independent of α.
# * AdamW, the optax / PyTorch form: `decoupled_weight_decay(λ, learning_rate=α·η_t)`: the
#   decay per step is $\alpha\eta_t\lambda$ (what `optax.adamw` and `torch.optim.AdamW` do).
#   Same algorithm, but λ is measured in different units, which moves the heatmap.

# %% [markdown]
# ## The decision rule, fixed before the runs
#
# *Claim 1 (coupling).* For each method and learning rate α, the best λ is the minimizer
# of the validation error averaged over the splits: the grid's argmin, refined by the
# vertex of the parabola through it and its two neighbours in $\log_{10}\lambda$ (at the
# edge of the grid, the edge). The coupling of a method is the least-squares slope $b$ of
# $\log_{10}(\text{best }\lambda)$ against $\log_{10}\alpha$ over the learning rates: 0 means
# the best λ does not move with α, 1 means it grows like α. Its uncertainty comes from a
# paired bootstrap over splits (the same resampled splits for every method, 2000
# resamples), which re-does the whole estimate on each resample; intervals are the 2.5% and
# 97.5% percentiles. Rule: with $D = |b_{\text{Adam+L2}}| - |b_{\text{AdamW}}|$ (AdamW in
# the paper's form), the claim **reproduces** if the 95% interval of $D$ lies above 0,
# **reverses** if it lies below 0, and is **undecided** otherwise.
# The optax form is reported with its interval but not part of the rule: it is the paper's
# form with λ divided by α, so its slope should be the paper form's minus 1.
#
# *Claim 2 (error).* For each method, the (α, λ) cell with the lowest mean validation error
# is chosen; its test error is reported per split, and the paired difference
# Adam + L2 − AdamW over splits decides: **AdamW better** if its mean exceeds two standard
# errors, **AdamW worse** if it is below minus two standard errors, **equal within noise**
# otherwise. The paper's claim reproduces only with "AdamW better".
#
# The notebook's conclusion below is what these rules print at full size. At smoke size
# (3 splits, 3 learning rates, short runs) the rules still run and print their decision,
# but it is not asserted: too few replicates to decide anything.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _nb import SMOKE, pick, savefig
from sklearn.datasets import load_digits

import regjax

X, y = load_digits(return_X_y=True)
X = jnp.asarray(X / 16.0, jnp.float32)
y = jnp.asarray(y, jnp.int32)
n, n_in = X.shape
n_classes = 10

n_train, n_val = 400, 400  # of 1797; the other 997 are the test set of the split
hidden = pick(64, 128)
steps = pick(300, 1500)
batch = 64
n_splits = pick(3, 10)
learning_rates = np.logspace(-3.0, -1.0, pick(3, 5))
n_lam = pick(6, 11)  # the same length for all three, so they share one compiled program
l2_strengths = np.logspace(-6, -1, n_lam)  # λ of the L2 penalty λ·Σw²
decays = np.logspace(-6, -1, n_lam)  # λ of the paper's AdamW (decay η_t·λ per step)
decays_optax = np.logspace(-4, 1, n_lam)  # λ of optax.adamw (decay α·η_t·λ per step)
n_boot = 2000

# Repeated random train / validation / test splits, one row per split.
rng = np.random.default_rng(0)
train_masks = np.zeros((n_splits, n), bool)
val_masks = np.zeros((n_splits, n), bool)
for i in range(n_splits):
    perm = rng.permutation(n)
    train_masks[i, perm[:n_train]] = True
    val_masks[i, perm[n_train : n_train + n_val]] = True
test_masks = ~(train_masks | val_masks)
print(
    f"digits: {n_train} train / {n_val} validation / {test_masks[0].sum()} test x {n_splits} "
    f"splits; MLP 64-{hidden}-10, {steps} Adam steps of {batch}"
)

# %% [markdown]
# ## One training function, three ways to regularize
#
# `train_fn(hparams, key)` is one whole training run. The hyperparameters are traced arrays
# (one per grid member), so they only enter array maths: the schedule multiplies them,
# nothing branches on them. The split is a grid axis too, and the run's randomness (init
# and minibatches) is derived from the split alone, so every (α, λ) cell and every method
# of a split starts from the same weights and sees the same minibatches: differences
# between cells are not differences between seeds.


# %%
def init(key):
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


def logits_fn(params, x):
    h = jax.nn.relu(x @ params["hidden"]["kernel"] + params["hidden"]["bias"])
    return h @ params["out"]["kernel"] + params["out"]["bias"]


def cosine(count):  # η_t: the schedule multiplier, from 1 down to 0
    return 0.5 * (1.0 + jnp.cos(jnp.pi * jnp.minimum(count, steps) / steps))


split_key = jax.random.key(0)
masks = jnp.asarray(np.stack([train_masks, val_masks, test_masks], axis=1))  # (split, 3, n)

# The method is a hyperparameter too (0: Adam + L2, 1: AdamW as in the paper, 2: AdamW as in
# optax), entering only as 0/1 coefficients, so all three sweeps share ONE compiled program.
traces = []  # appended to each time JAX traces train_fn (not each time it runs)


def train_fn(hp, key):
    del key  # the member's key differs between cells; the split's key is shared (see above)
    traces.append(1)
    train_mask, val_mask, test_mask = masks[hp["split"]]
    lr, lam, method = hp["lr"], hp["weight_decay"], hp["method"]
    coupled = jnp.where(method == 0, lam, 0.0)
    decay_paper = jnp.where(method == 1, lam, 0.0)
    decay_optax = jnp.where(method == 2, lam, 0.0)
    tx = optax.chain(
        optax.adam(lambda c: lr * cosine(c)),
        regjax.transforms.decoupled_weight_decay(  # decay η_t·λ per step
            lambda c: decay_paper * cosine(c), mask=regjax.masks.weights_only
        ),
        regjax.transforms.decoupled_weight_decay(  # decay α·η_t·λ per step
            decay_optax, learning_rate=lambda c: lr * cosine(c), mask=regjax.masks.weights_only
        ),
    )

    def loss_fn(params, idx):
        ce = optax.softmax_cross_entropy_with_integer_labels(logits_fn(params, X[idx]), y[idx])
        return jnp.mean(ce) + coupled * regjax.penalties.l2(params, mask=regjax.masks.weights_only)

    init_key, data_key = jax.random.split(jax.random.fold_in(split_key, hp["split"]))
    params = init(init_key)
    probs = train_mask / jnp.sum(train_mask)

    def step(carry, i):
        params, opt_state = carry
        idx = jax.random.choice(regjax.stochastic.step_key(data_key, i), n, (batch,), p=probs)
        grads = jax.grad(loss_fn)(params, idx)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))
    wrong = jnp.argmax(logits_fn(params, X), axis=-1) != y
    return {
        "val_error": jnp.sum(wrong & val_mask) / jnp.sum(val_mask),
        "test_error": jnp.sum(wrong & test_mask) / jnp.sum(test_mask),
        "train_error": jnp.sum(wrong & train_mask) / jnp.sum(train_mask),
    }


# %% [markdown]
# ## Three sweeps, one compiled program

# %%
results = {}
sweeps = [
    ("adam_l2", "Adam + L2 penalty", l2_strengths, r"L2 strength $\lambda$"),
    ("adamw", r"AdamW (paper: decay $\eta_t\lambda$)", decays, r"weight decay $\lambda$"),
    (
        "adamw_optax",
        r"AdamW (optax: decay $\alpha\eta_t\lambda$)",
        decays_optax,
        r"weight decay $\lambda$",
    ),
]
for i, (method, _, lams, _) in enumerate(sweeps):
    grid = regjax.sweep.grid(
        lr=learning_rates, weight_decay=lams, method=[i], split=range(n_splits)
    )
    t0 = time.perf_counter()
    results[method] = regjax.sweep.run(train_fn, grid, jax.random.key(0), progress=False)
    print(
        f"{method:12s}: {len(grid)} runs in {time.perf_counter() - t0:.1f} s; "
        f"diverged: {int(results[method].diverged.sum())}; "
        f"traces of train_fn so far: {len(traces)}"
    )
    if i == 0:
        traced_once = len(traces)
# The second and third sweeps reuse the first one's compiled program.
assert len(traces) == traced_once, (len(traces), traced_once)

val = {m: results[m].metric("val_error", reshape=True)[:, :, 0] for m, *_ in sweeps}
test = {m: results[m].metric("test_error", reshape=True)[:, :, 0] for m, *_ in sweeps}
# each (learning rate, λ, split)

# %% [markdown]
# ## Claim 1: how far does the best λ move with the learning rate?


# %%
def best_log_lambda(lams, mean_rows):
    """log10 of each row's best λ: the argmin, refined by a parabola through its neighbours."""
    log_lams = np.log10(lams)
    step = log_lams[1] - log_lams[0]
    out = np.empty(mean_rows.shape[:-1])
    for index in np.ndindex(out.shape):
        e = mean_rows[index]
        j = int(np.argmin(e))
        shift = 0.0
        if 0 < j < len(e) - 1:
            curvature = e[j - 1] - 2 * e[j] + e[j + 1]
            if curvature > 0:
                shift = 0.5 * (e[j - 1] - e[j + 1]) / curvature  # in [-1/2, 1/2]
        out[index] = log_lams[j] + shift * step
    return out


def slope(log_best):
    """Least-squares slope of log10(best λ) against log10(α), over the last axis."""
    x = np.log10(learning_rates)
    x = x - x.mean()
    return (log_best - log_best.mean(-1, keepdims=True)) @ x / (x @ x)


boot = np.random.default_rng(1).integers(0, n_splits, size=(n_boot, n_splits))
claim1 = {}
for method, title, lams, _ in sweeps:
    v = val[method]  # (lr, λ, split)
    log_best = best_log_lambda(lams, v.mean(-1))  # (lr,)
    # the same resampled splits for every method (paired); v[:, :, boot] is (lr, λ, B, split)
    boot_best = best_log_lambda(lams, v[:, :, boot].mean(-1).transpose(2, 0, 1))  # (B, lr)
    claim1[method] = dict(log_best=log_best, b=slope(log_best), boot=slope(boot_best))
    lo, hi = np.percentile(claim1[method]["boot"], [2.5, 97.5])
    at_edge = np.isin(np.round(log_best, 9), np.round(np.log10(lams[[0, -1]]), 9))
    print(f"{title}:")
    for lr, lb in zip(learning_rates, log_best, strict=True):
        print(f"  lr={lr:8.2g}: best lambda (validation) = {10**lb:8.2g}")
    print(
        f"  slope of log10(best lambda) against log10(lr): {claim1[method]['b']:+.2f}, "
        f"95% interval [{lo:+.2f}, {hi:+.2f}] (excludes 0: {lo > 0 or hi < 0}); rows whose best "
        f"lambda is at the grid's edge: {int(at_edge.sum())}"
    )
    claim1[method]["interval"] = (lo, hi)

lo, hi = claim1["adamw_optax"]["interval"]
shifted = claim1["adamw"]["b"] - 1
print(
    f"slope of the paper's form minus 1 = {shifted:+.2f}: inside the optax form's interval: "
    f"{lo <= shifted <= hi}"
)

d_boot = np.abs(claim1["adam_l2"]["boot"]) - np.abs(claim1["adamw"]["boot"])
d = abs(claim1["adam_l2"]["b"]) - abs(claim1["adamw"]["b"])
d_lo, d_hi = np.percentile(d_boot, [2.5, 97.5])
decision1 = "reproduces" if d_lo > 0 else "reverses" if d_hi < 0 else "undecided"
print(
    f"\nD = |slope Adam+L2| - |slope AdamW (paper)| = {d:+.2f}, 95% interval "
    f"[{d_lo:+.2f}, {d_hi:+.2f}]: claim 1 {decision1}"
)

# %% [markdown]
# ## Claim 2: the test error at the cell the validation error chooses

# %%
claim2 = {}
for method, title, lams, _ in sweeps:
    mean_val = val[method].mean(-1)
    b = np.unravel_index(mean_val.argmin(), mean_val.shape)
    t = test[method][b]  # (split,)
    claim2[method] = dict(best=b, test=t)
    print(
        f"{title}: chosen lr={learning_rates[b[0]]:.3g}, lambda={lams[b[1]]:.3g}; "
        f"test error {t.mean():.4f} ± {t.std(ddof=1) / np.sqrt(n_splits):.4f} (mean ± SE over "
        f"{n_splits} splits); weakest lambda at that lr: {test[method][b[0], 0].mean():.4f}"
    )
diff = claim2["adam_l2"]["test"] - claim2["adamw"]["test"]
diff_mean, diff_se = diff.mean(), diff.std(ddof=1) / np.sqrt(n_splits)
decision2 = (
    "AdamW better"
    if diff_mean > 2 * diff_se
    else "AdamW worse"
    if diff_mean < -2 * diff_se
    else "equal within noise"
)
print(
    f"test error, Adam+L2 - AdamW (paper), paired over splits: {diff_mean:+.4f} ± "
    f"{diff_se:.4f} (2 SE = {2 * diff_se:.4f}): {decision2}"
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(17, 4.6), layout="constrained")
for ax, (method, title, lams, xlabel) in zip(axes, sweeps, strict=True):
    c1 = claim1[method]
    lo, hi = np.percentile(c1["boot"], [2.5, 97.5])
    regjax.plot.heatmap(
        val[method].mean(-1),
        learning_rates,
        lams,
        ylabel=r"learning rate $\alpha$",
        xlabel=xlabel,
        title="validation error",
        best=claim2[method]["best"],
        ax=ax,
    )
    rows = np.arange(len(learning_rates))
    # The best λ, in the heatmap's cell coordinates (cells are evenly spaced in log λ).
    step = np.log10(lams[1] / lams[0])
    ax.plot((c1["log_best"] - np.log10(lams[0])) / step, rows, "wo-", ms=5, mfc="none", lw=1)
    ax.set_title(f"{title}\nslope of best λ {c1['b']:+.2f} [{lo:+.2f}, {hi:+.2f}]")
savefig(fig, "02_adamw_vs_adam_l2")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# **Claim 1 is undecided on digits: the rule neither confirms nor reverses it.** At full
# size (5 learning rates × 11 strengths × 10 splits) the slope of $\log_{10}$(best λ)
# against $\log_{10}\alpha$ is +0.88 for Adam + L2, with a 95% interval [−0.70, +1.39] that
# contains 0, and +1.75 for the paper's AdamW, with an interval [+0.17, +1.91] that excludes
# 0. If anything, then, it is the paper's AdamW whose best decay moves with α here, the
# reverse of the paper; but the difference the rule looks at,
# $D = |b_{\text{Adam+L2}}| - |b_{\text{AdamW}}| = -0.87$, has the interval [−1.75, +0.51],
# which contains 0. The validation curves are flat around their minima, so a row's best λ
# moves by decades from one bootstrap resample to the next, and the slope intervals span
# more than two units. The optax form's slope (+1.16) is consistent with the paper form's
# minus 1, as its reparametrization says it should be (the printed check above).
#
# Where the two forms should settle explains why a reversal is plausible on a small,
# quickly fitted network: Adam + L2 stops where $\nabla L + 2\lambda w = 0$ and optax's
# AdamW where $\hat m/\sqrt{\hat v} = -\lambda w$, whatever α; the paper's AdamW stops
# where $\alpha\,\hat m/\sqrt{\hat v} = -\lambda w$, so its weights scale like α/λ and its
# best λ should grow with α. The paper (CIFAR-10, ResNets, long runs with warm restarts,
# far from this equilibrium) found the diagonal on the L2 side.
#
# An earlier version of this notebook summarized each heatmap by the edge of its good
# region, a statistic and thresholds chosen after seeing the heatmaps, chose on the test
# images, and asserted that the claim reverses. Under the rule above, fixed before these
# runs, with validation images choosing, that reversal is not established, so the
# assertion now checks that the decisions stated here are the ones the rules print.
#
# **Claim 2: AdamW is no worse, but not better.** At the cells the validation error
# chooses, the test error is 0.0420 ± 0.0025 for Adam + L2, 0.0411 ± 0.0022 for the
# paper's AdamW and 0.0413 ± 0.0022 for the optax form; paired over splits, Adam + L2
# minus AdamW is +0.0009 ± 0.0016, inside two standard errors: equal within noise, so the
# paper's "AdamW better" does not reproduce here. Regularization matters little on digits:
# at the chosen learning rate the weakest λ gives 0.0456, 0.0454 and 0.0452.

# %%
print(f"claim 1 (best decay less coupled to the learning rate with AdamW): {decision1}")
print(f"claim 2 (test error at the validation choice): {decision2}")
# The text above states the full-size decisions; too few replicates at smoke size to decide.
stated = pick(None, ("undecided", "equal within noise"))
assert SMOKE or (decision1, decision2) == stated, (decision1, decision2, stated)
