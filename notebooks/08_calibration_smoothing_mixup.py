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
# # Calibration with label smoothing and mixup
#
# **Claims.** Networks trained with cross-entropy to near-zero training loss are
# *overconfident*: their confidence exceeds their accuracy. Label smoothing
# (Müller et al. 2019, §3 and Table 3) trains against
# $\tilde y = (1-\varepsilon)\,y + \varepsilon/K$ and lowers the expected calibration
# error (ECE); mixup (Zhang et al. 2018; Thulasidasan et al. 2019, Fig. 2) trains on
# convex combinations $\lambda x_i + (1-\lambda)x_j$, $\lambda\sim\mathrm{Beta}(\alpha,\alpha)$,
# of inputs and labels, and also gives better-calibrated predictions.
#
# **ECE** (Guo et al. 2017): sort the test predictions into 15 equal-width confidence
# bins $B_m$ and average the gap between accuracy and confidence,
# $\mathrm{ECE} = \sum_m \frac{|B_m|}{n}\,\big|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\big|$.
# A reliability diagram plots acc($B_m$) against conf($B_m$); the diagonal is perfect
# calibration.
#
# **Method.** A one-hidden-layer MLP on scikit-learn's digits, trained with Adam on a
# small training set (so the test accuracy is well below 100% and the over-confidence
# shows) until the training loss is near zero. Every configuration (plain, label
# smoothing with `regjax.augment.smooth_labels` at several ε, mixup with
# `regjax.augment.mixup` at several α) and every seed is one member of **one**
# `jax.vmap`-ed, jitted program: ε, α and a 0/1 "use mixup" switch are traced arrays.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _nb import pick, savefig
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import regjax

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, train_size=500, stratify=y, random_state=0
)
X_train, X_test = jnp.asarray(X_train, jnp.float32), jnp.asarray(X_test, jnp.float32)
y_train, y_test = jnp.asarray(y_train, jnp.int32), jnp.asarray(y_test, jnp.int32)
n_train, n_classes = X_train.shape[0], 10

hidden = pick(128, 256)
steps = pick(800, 3000)
batch = 64
n_seeds = pick(2, 4)
smoothing = pick([0.1, 0.2], [0.05, 0.1, 0.2])
alphas = pick([0.2, 1.0], [0.1, 0.2, 0.4, 1.0])

# Configurations: (label-smoothing eps, mixup alpha, use mixup).
configs = (
    [("plain", 0.0, 1.0, 0.0)]
    + [(f"smoothing ε={e}", e, 1.0, 0.0) for e in smoothing]
    + [(f"mixup α={a}", 0.0, a, 1.0) for a in alphas]
)
names = [c[0] for c in configs]
hparams = {
    k: jnp.asarray([c[i + 1] for c in configs], jnp.float32)
    for i, k in enumerate(["eps", "alpha", "mix"])
}
print(
    f"digits: {n_train} train, {len(y_test)} test; MLP 64-{hidden}-10, Adam, {steps} steps of "
    f"batch {batch}; {len(configs)} configurations x {n_seeds} seeds"
)


# %% [markdown]
# ## Training: one program for every configuration and seed


# %%
def init(rng):
    """He-initialized weights, drawn with NumPy: no PRNG in the program for them."""
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


tx = optax.adam(3e-3)
traces = []


def train(hp, params, batches, key):
    traces.append(1)

    def loss(params, xb, target):
        return optax.softmax_cross_entropy(apply(params, xb), target).mean()

    def step(carry, inputs):
        params, state = carry
        idx, k = inputs
        xb, yb = X_train[idx], jax.nn.one_hot(y_train[idx], n_classes)
        xm, ym = regjax.augment.mixup(k, xb, yb, hp["alpha"])
        xb = jnp.where(hp["mix"] > 0, xm, xb)
        yb = jnp.where(hp["mix"] > 0, ym, yb)
        target = regjax.augment.smooth_labels(yb, hp["eps"])
        grads = jax.grad(loss)(params, xb, target)
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    keys = jax.random.split(key, steps)
    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), (batches, keys))
    return jax.nn.softmax(apply(params, X_test))


seed_rngs = [np.random.default_rng(1 + s) for s in range(n_seeds)]
inits = jax.tree.map(lambda *a: jnp.stack(a), *[init(r) for r in seed_rngs])
batches = jnp.asarray(np.stack([r.integers(0, n_train, (steps, batch)) for r in seed_rngs]))
keys = jax.random.split(jax.random.key(0), n_seeds)

run = jax.jit(jax.vmap(jax.vmap(train, in_axes=(None, 0, 0, 0)), in_axes=(0, None, None, None)))
t0 = time.perf_counter()
compiled = run.lower(hparams, inits, batches, keys).compile()
t1 = time.perf_counter()
probs = np.asarray(compiled(hparams, inits, batches, keys))  # (config, seed, test, class)
print(
    f"compiled in {t1 - t0:.1f} s, ran in {time.perf_counter() - t1:.1f} s, "
    f"traced {len(traces)} time(s)"
)
assert len(traces) == 1


# %% [markdown]
# ## Expected calibration error and reliability diagrams


# %%
def reliability(p, labels, n_bins=15):
    """Per-bin (count, accuracy, mean confidence) over equal-width confidence bins."""
    conf, correct = p.max(-1), p.argmax(-1) == labels
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    acc = np.bincount(which, correct, minlength=n_bins) / np.maximum(count, 1)
    mean_conf = np.bincount(which, conf, minlength=n_bins) / np.maximum(count, 1)
    return count, acc, mean_conf


def ece(p, labels, n_bins=15):
    count, acc, mean_conf = reliability(p, labels, n_bins)
    return float(np.sum(count / count.sum() * np.abs(acc - mean_conf)))


labels = np.asarray(y_test)
table = {}
for c, name in enumerate(names):
    per_seed = [
        (
            ece(probs[c, s], labels),
            np.mean(probs[c, s].argmax(-1) == labels),
            np.mean(probs[c, s].max(-1)),
            -np.mean(np.log(probs[c, s][np.arange(len(labels)), labels] + 1e-12)),
        )
        for s in range(n_seeds)
    ]
    table[name] = np.mean(per_seed, axis=0)
    e, a, conf, nll = table[name]
    print(
        f"{name:18s} ECE {e:.4f} (seeds {np.round([r[0] for r in per_seed], 4)})  "
        f"accuracy {a:.3f}  mean confidence {conf:.3f}  NLL {nll:.3f}"
    )

# %%
shown = ["plain", f"smoothing ε={0.1}", f"mixup α={0.2}"]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), layout="constrained")
for ax, name in zip(axes[:3], shown, strict=True):
    c = names.index(name)
    p = probs[c].reshape(-1, n_classes)
    count, acc, mean_conf = reliability(p, np.tile(labels, n_seeds))
    edges = np.linspace(0, 1, 16)
    used = count > 0
    ax.bar(
        edges[:-1][used],
        acc[used],
        width=1 / 15,
        align="edge",
        edgecolor="k",
        alpha=0.7,
        label="accuracy in bin",
    )
    ax.plot(
        edges[:-1][used] + 1 / 30,
        mean_conf[used],
        "o",
        color="C3",
        ms=4,
        label="mean confidence in bin",
    )
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_title(f"{name}: ECE {table[name][0]:.3f}")
    ax.set_xlabel("confidence")
axes[0].set_ylabel("accuracy")
axes[0].legend(frameon=False, loc="upper left", fontsize=8)
ax = axes[3]
x_pos = np.arange(len(names))
ax.bar(
    x_pos,
    [table[n][0] for n in names],
    color=["0.5"] + ["C0"] * len(smoothing) + ["C1"] * len(alphas),
)
ax.set_xticks(x_pos, names, rotation=45, ha="right")
ax.set_ylabel(f"ECE (15 bins, mean of {n_seeds} seeds)")
ax.set_title("Calibration error, digits test set")
savefig(fig, "08_calibration_smoothing_mixup")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the papers
#
# **The calibration claim does not reproduce on digits; the mechanism does.** At full
# size (MLP 64-256-10, 500 training images, 3000 Adam steps, 4 seeds) the plain network
# is only slightly overconfident: mean confidence 0.984 against accuracy 0.971, ECE 0.018.
# Label smoothing and mixup both lower the confidence, as the papers say, but here they
# overshoot into *under*-confidence, so the ECE gets worse, not better:
#
# * label smoothing, ε = 0.05 / 0.1 / 0.2: ECE 0.094 / 0.151 / 0.244, confidence
#   0.888 / 0.831 / 0.737 while accuracy *rises* to 0.982 (Müller et al.'s accuracy gain
#   does reproduce). A network that fits the smoothed targets predicts about
#   $1 - \varepsilon + \varepsilon/K$ on training points, so with 98% accuracy the
#   gap is roughly ε.
# * mixup, α = 0.1 / 0.2 / 0.4 / 1.0: ECE 0.036 / 0.046 / 0.068 / 0.087, confidence 0.942
#   down to 0.882, accuracy unchanged (0.968-0.976). Its test NLL at α = 0.1 (0.111) beats
#   the plain network's (0.140), the one proper-scoring-rule improvement we see.
#
# The papers' baselines were far more overconfident (Müller et al.: ResNet-56 on
# CIFAR-100 at ~70% accuracy with ECE ≈ 0.15; Thulasidasan et al.: similar): their
# smoothing removes a large gap. On digits, with accuracy near 97% and a plain network
# that is nearly calibrated, the same ε and α are too strong. A network trained much
# longer on fewer images (300 images, 10 000 steps, 512 hidden units, 2 seeds; a
# separate run, not part of this notebook) becomes more overconfident (ECE 0.041), and
# even there smoothing (ECE ≥ 0.10) and mixup
# (0.039-0.068) do not beat it. The assertions below check what we observed: the
# reversal, and the monotone loss of confidence with ε and α.

# %%
plain = table["plain"]
print(f"plain: ECE {plain[0]:.4f}, confidence - accuracy = {plain[2] - plain[1]:+.4f}")
for name in names[1:]:
    e, a, conf, _ = table[name]
    print(
        f"{name:18s} ECE {e:.4f} ({e / plain[0]:.2f}x plain), "
        f"confidence - accuracy = {conf - a:+.4f}"
    )
ls = [table[f"smoothing ε={e}"] for e in smoothing]
mix = [table[f"mixup α={a}"] for a in alphas]
# Both regularizers lower the confidence, more so as eps / alpha grow.
assert all(r[2] < plain[2] for r in ls + mix)
assert np.all(np.diff([r[2] for r in ls]) < 0) and np.all(np.diff([r[2] for r in mix]) < 0)
# Label smoothing overshoots into under-confidence by more than 5 points ...
assert all(r[2] < r[1] - 0.05 for r in ls)
# ... so, contrary to the papers' claim, neither lowers the ECE of this network.
assert all(r[0] > plain[0] for r in ls + mix), [r[0] for r in ls + mix]
# Label smoothing does not cost accuracy (it gains some here).
assert ls[0][1] > plain[1]
