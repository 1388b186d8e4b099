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
# Their Fig. 2 draws learning-rate × weight-decay heatmaps of test error. Claims checked
# here: (1) with decoupled decay the best weight decay depends much less on the learning
# rate (the good region is closer to separable, less of a diagonal), and (2) its best
# test error is no worse than Adam + L2's.
#
# **Method.** A one-hidden-layer MLP on scikit-learn's digits, trained on a small training
# set (so regularization matters) with a cosine learning-rate schedule $\eta_t$, as in the
# paper. Each heatmap is **one** `regjax.sweep.run`: the whole learning-rate × weight-decay
# grid, times several random train/test splits, vmapped in one compiled program.
#
# * Adam + L2: `optax.adam(α·η_t)` on `loss + λ · regjax.penalties.l2(params, mask=weights_only)`.
# * AdamW, the paper's form: `optax.chain(optax.adam(α·η_t),
#   regjax.transforms.decoupled_weight_decay(λ·η_t, mask=weights_only))`: the decay per step
#   is $\eta_t\lambda$, independent of α.
# * AdamW, the optax / PyTorch form: `decoupled_weight_decay(λ, learning_rate=α·η_t)`: the
#   decay per step is $\alpha\eta_t\lambda$ (what `optax.adamw` and `torch.optim.AdamW` do).
#   Same algorithm, but λ is measured in different units, which moves the heatmap.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _nb import pick, savefig
from sklearn.datasets import load_digits

import regjax

X, y = load_digits(return_X_y=True)
X = jnp.asarray(X / 16.0, jnp.float32)
y = jnp.asarray(y, jnp.int32)
n, n_in = X.shape
n_classes = 10

n_train = 400  # of 1797: a small training set, so that regularization matters
hidden = pick(64, 128)
steps = pick(300, 1500)
batch = 64
n_splits = pick(3, 5)
learning_rates = np.logspace(-3.0, -1.0, pick(3, 5))
n_lam = pick(6, 11)  # the same length for all three, so they share one compiled program
l2_strengths = np.logspace(-6, -1, n_lam)  # λ of the L2 penalty λ·Σw²
decays = np.logspace(-6, -1, n_lam)  # λ of the paper's AdamW (decay η_t·λ per step)
decays_optax = np.logspace(-4, 1, n_lam)  # λ of optax.adamw (decay α·η_t·λ per step)

# Repeated random train/test splits, as `regjax.sweep.Folds` masks: the sweep vmaps over
# them inside every member, and averages them in its choices.
rng = np.random.default_rng(0)
train_masks = np.zeros((n_splits, n), bool)
for i in range(n_splits):
    train_masks[i, rng.permutation(n)[:n_train]] = True
splits = regjax.sweep.Folds(train=train_masks, val=~train_masks)
print(
    f"digits: {n_train} train / {n - n_train} test x {n_splits} splits; MLP 64-{hidden}-10, "
    f"{steps} Adam steps of {batch}"
)

# %% [markdown]
# ## One training function, three ways to regularize
#
# `train_fn(hparams, key, (train_mask, test_mask))` is one whole training run. The
# hyperparameters are traced arrays (one per grid member), so they only enter array
# maths: the schedule multiplies them, nothing branches on them.


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


# The method is a hyperparameter too (0: Adam + L2, 1: AdamW as in the paper, 2: AdamW as in
# optax), entering only as 0/1 coefficients, so all three sweeps share ONE compiled program.
traces = []  # appended to each time JAX traces train_fn (not each time it runs)


def train_fn(hp, key, split):
    traces.append(1)
    train_mask, test_mask = split
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

    init_key, data_key = jax.random.split(key)
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
        "test_error": jnp.sum(wrong & test_mask) / jnp.sum(test_mask),
        "train_error": jnp.sum(wrong & train_mask) / jnp.sum(train_mask),
    }


# %% [markdown]
# ## Three sweeps, one compiled program each

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
    grid = regjax.sweep.grid(lr=learning_rates, weight_decay=lams, method=[i])
    t0 = time.perf_counter()
    # The same key for all three: every method sees the same inits and minibatches.
    results[method] = regjax.sweep.run(
        train_fn, grid, jax.random.key(0), folds=splits, progress=False
    )
    print(
        f"{method:12s}: {len(grid)} members x {n_splits} splits in "
        f"{time.perf_counter() - t0:.1f} s; diverged: {int(results[method].diverged.sum())}; "
        f"traces of train_fn so far: {len(traces)}"
    )
    if i == 0:
        traced_once = len(traces)
# The second and third sweeps reuse the first one's compiled program.
assert len(traces) == traced_once, (len(traces), traced_once)

# %% [markdown]
# ## Where is the good region, for each learning rate?
#
# On digits, regularization changes the best test error only a little, so the argmin over
# λ in a row (the circles in the figure) is mostly split-to-split noise. The *edge* of the
# good region is much better determined: for each learning rate, the λ (interpolated in
# $\log\lambda$) at which the test error first exceeds 1.5 × that row's best. If the best
# weight decay did not depend on the learning rate, this edge would not move from row to
# row; on a diagonal it moves with α. We summarize it by the slope of $\log_{10}$ edge
# against $\log_{10}\alpha$: 0 is separable, 1 means "λ ∝ α".


# %%
def edge(lams, row, factor=1.5):
    """The λ (log-interpolated) where the row's error first rises above factor × its min."""
    threshold = factor * row.min()
    j0 = int(row.argmin())
    for j in range(j0, len(row) - 1):
        if row[j + 1] > threshold:
            t = (threshold - row[j]) / (row[j + 1] - row[j])
            return 10 ** ((1 - t) * np.log10(lams[j]) + t * np.log10(lams[j + 1]))
    return lams[-1]  # never rises: the edge is past the grid


summary = {}
for method, title, lams, _ in sweeps:
    r = results[method]
    errors = r.metric("test_error", reshape=True)[:, :, 0]  # (lr, weight_decay, split)
    mean = errors.mean(-1)
    se = errors.std(-1, ddof=1) / np.sqrt(n_splits)
    best_col = mean.argmin(1)  # the best λ for each learning rate (noisy)
    edges = np.array([edge(lams, row) for row in mean])
    slope = np.polyfit(np.log10(learning_rates), np.log10(edges), 1)[0]
    b = np.unravel_index(mean.argmin(), mean.shape)
    summary[method] = dict(mean=mean, best_col=best_col, edges=edges, slope=slope, best=b)
    summary[method].update(best_error=mean[b], best_se=se[b], no_reg=mean[b[0], 0])
    print(
        f"\n{title}: best test error {mean[b]:.4f} ± {se[b]:.4f} at lr={learning_rates[b[0]]:.3g}"
        f", lambda={lams[b[1]]:.3g} (weakest lambda in that row: {mean[b[0], 0]:.4f})"
    )
    for lr, j, row, e in zip(learning_rates, best_col, mean, edges, strict=True):
        print(
            f"  lr={lr:8.2g}: best lambda={lams[j]:8.2g} (error {row[j]:.4f}), "
            f"edge of the good region at lambda={e:8.2g}"
        )
    print(f"  slope of log10(edge) against log10(lr): {slope:+.2f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(17, 4.6), layout="constrained")
for ax, (method, title, lams, xlabel) in zip(axes, sweeps, strict=True):
    s = summary[method]
    regjax.plot.heatmap(
        s["mean"],
        learning_rates,
        lams,
        ylabel=r"learning rate $\alpha$",
        xlabel=xlabel,
        title="test error",
        best=s["best"],
        ax=ax,
    )
    rows = np.arange(len(learning_rates))
    ax.plot(s["best_col"], rows, "wo", ms=5, mfc="none", label="best λ per row")
    # The edge, in the heatmap's cell coordinates (cells are evenly spaced in log λ).
    step = np.log10(lams[1] / lams[0])
    ax.plot(np.log10(s["edges"] / lams[0]) / step, rows, "r--", lw=1.5, label="edge (1.5 × best)")
    ax.legend(loc="lower left", fontsize=8, framealpha=0.8)
    ax.set_title(f"{title}\nbest {s['best_error']:.3f}; edge slope {s['slope']:+.2f}")
savefig(fig, "02_adamw_vs_adam_l2")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# **Claim (1) does not reproduce here; it comes out the other way round.** At full size
# (5 learning rates × 11 strengths × 5 splits) the edge of the good region of Adam + L2 sits
# at λ ≈ 0.01 for every learning rate (slope −0.05: separable), while with the paper's
# AdamW, whose decay per step $\eta_t\lambda$ does not involve α, it moves from λ ≈ 0.003 at
# α = 0.001 to λ ≈ 0.09 at α = 0.1 (slope +0.70: the diagonal the paper reports for the
# *coupled* method). The optax / PyTorch form, decay $\alpha\eta_t\lambda$ per step, is
# close to separable too (slope −0.26). This agrees with where the iterates settle: Adam +
# L2 stops where $\nabla L + 2\lambda w = 0$, and optax's AdamW where
# $\hat m/\sqrt{\hat v} = -\lambda w$, whatever α; the paper's AdamW stops where
# $\alpha\,\hat m/\sqrt{\hat v} = -\lambda w$, so its weights scale like α/λ. In the
# paper (CIFAR-10, ResNets, long runs with warm restarts, far from this equilibrium) the
# diagonal was on the L2 side; on a small MLP over digits trained to near-zero training
# error, it is not. The per-row argmins (circles) scatter over two to three decades for
# every method: on this data they are noise, which is why we measure the edge.
#
# **Claim (2) holds:** the best test error of decoupled weight decay is no worse than
# Adam + L2's (equal within the standard error over splits). Regularization matters little
# on digits (the weakest λ in the best row is within about half a point of the best), so
# neither method wins by much. Full size: Adam + L2 0.0379 ± 0.0024, AdamW (paper)
# 0.0369 ± 0.0015, AdamW (optax) 0.0391 ± 0.0022; the paper reports AdamW ahead by a
# clearer margin on CIFAR-10.

# %%
l2, paper, opt = summary["adam_l2"], summary["adamw"], summary["adamw_optax"]
print(
    f"edge slopes: Adam+L2 {l2['slope']:+.2f}, AdamW (paper) {paper['slope']:+.2f}, "
    f"AdamW (optax) {opt['slope']:+.2f}"
)
# (1) As observed, not as claimed: the L2 edge stays put, the paper's AdamW edge follows α.
assert abs(l2["slope"]) < 0.35, l2["slope"]
assert paper["slope"] > 0.5, paper["slope"]
assert paper["slope"] > l2["slope"] + 0.5
# (2) As claimed: decoupled weight decay's best error is no worse (within 2 standard errors).
assert paper["best_error"] <= l2["best_error"] + 2 * l2["best_se"]
assert opt["best_error"] <= l2["best_error"] + 2 * l2["best_se"]
