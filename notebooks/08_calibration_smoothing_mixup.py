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
# *overconfident*: their confidence exceeds their accuracy (Guo et al. 2017). Label
# smoothing (Müller et al. 2019, §3 and Table 3) trains against
# $\tilde y = (1-\varepsilon)\,y + \varepsilon/K$ and lowers the expected calibration
# error (ECE); mixup (Zhang et al. 2018; Thulasidasan et al. 2019, Fig. 2) trains on
# convex combinations $\lambda x_i + (1-\lambda)x_j$, $\lambda\sim\mathrm{Beta}(\alpha,\alpha)$,
# of inputs and labels, and also gives better-calibrated predictions. Both do so by
# lowering the network's confidence. Both were also introduced as regularizers that
# raise accuracy (Szegedy et al. 2016 for label smoothing; Zhang et al. 2018 for mixup).
#
# **ECE** (Guo et al. 2017): sort the predictions into 15 equal-width confidence
# bins $B_m$ and average the gap between accuracy and confidence,
# $\mathrm{ECE} = \sum_m \frac{|B_m|}{n}\,\big|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\big|$.
# A reliability diagram plots acc($B_m$) against conf($B_m$); the diagonal is perfect
# calibration.
#
# **Method.** A one-hidden-layer MLP on scikit-learn's digits, trained with Adam on a
# small training set (so the test accuracy is not near perfect and any over-confidence
# shows) until the training loss is near zero. Each replicate is a random stratified
# three-way split of the digits images: 500 to train, 300 to **validate** (to choose ε and α),
# the rest to **test** (to report), with its own initial weights, minibatches and mixup
# draws, shared by every configuration of that replicate (so differences are paired).
# Every configuration (plain, label smoothing with `regjax.augment.smooth_labels` at
# several ε, mixup with `regjax.augment.mixup` at several α) and every replicate is one
# member of **one** `jax.vmap`-ed, jitted program: ε, α and a 0/1 "use mixup" switch are
# traced arrays.
#
# **Decision rules, fixed before the runs.** Validation chooses, per replicate: for the
# calibration claims, the ε (and separately the α) with the lowest validation ECE; for the
# accuracy claims, the one with the highest validation accuracy (ties go to the smaller
# value). Each claim is then a per-replicate difference $d_r$ on the **test** set, with mean
# $\bar d$ and standard error $\mathrm{SE} = s_d/\sqrt{R}$ over the $R$ replicates; a claim is
# confirmed if $\bar d > 2\,\mathrm{SE}$, reversed if $\bar d < -2\,\mathrm{SE}$, and
# otherwise undecided (no detectable difference):
#
# 0. *the plain network is overconfident*: $d_r$ = its mean confidence minus its accuracy;
# 1. *label smoothing lowers the ECE*, and 2. *mixup lowers the ECE*: $d_r$ = plain ECE minus
#    the chosen setting's ECE;
# 3. *both lower the confidence*: $d_r$ = plain mean confidence minus the chosen setting's
#    (for each of the two);
# 4. *label smoothing raises accuracy*, and 5. *mixup raises accuracy*: $d_r$ = the
#    accuracy-chosen setting's accuracy minus the plain network's.

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

X_np, y_np = load_digits(return_X_y=True)
X, y = jnp.asarray(X_np / 16.0, jnp.float32), jnp.asarray(y_np, jnp.int32)
n, n_classes = len(y_np), 10
n_train, n_val = 500, 300

hidden = pick(128, 256)
steps = pick(800, 3000)
batch = 64
n_reps = pick(3, 10)  # R
smoothing = pick([0.05, 0.2], [0.01, 0.02, 0.05, 0.1, 0.2])
alphas = pick([0.1, 1.0], [0.05, 0.1, 0.2, 0.4, 1.0])

# Replicate r: a stratified split (train / validation / test) drawn with seed r.
train_idx, val_mask, test_mask = [], np.zeros((n_reps, n), bool), np.zeros((n_reps, n), bool)
for r in range(n_reps):
    tr, rest = train_test_split(np.arange(n), train_size=n_train, stratify=y_np, random_state=r)
    va, te = train_test_split(rest, train_size=n_val, stratify=y_np[rest], random_state=r)
    train_idx.append(tr)
    val_mask[r, va], test_mask[r, te] = True, True
train_idx = jnp.asarray(np.stack(train_idx), jnp.int32)

# Configurations: (name, label-smoothing eps, mixup alpha, use mixup).
configs = (
    [("plain", 0.0, 1.0, 0.0)]
    + [(f"smoothing ε={e}", e, 1.0, 0.0) for e in smoothing]
    + [(f"mixup α={a}", 0.0, a, 1.0) for a in alphas]
)
names = [c[0] for c in configs]
i_ls = 1 + np.arange(len(smoothing))  # rows of the label-smoothing configurations
i_mix = 1 + len(smoothing) + np.arange(len(alphas))
hparams = {
    k: jnp.asarray([c[i + 1] for c in configs], jnp.float32)
    for i, k in enumerate(["eps", "alpha", "mix"])
}
print(
    f"digits: {n_train} train, {n_val} validation, {n - n_train - n_val} test x {n_reps} "
    f"replicates; MLP 64-{hidden}-10, Adam, {steps} steps of batch {batch}; "
    f"{len(configs)} configurations"
)


# %% [markdown]
# ## Training: one program for every configuration and replicate


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


def train(hp, params, rows, batches, key):
    """One configuration on one replicate: ``rows`` are its training rows of X."""
    traces.append(1)

    def loss(params, xb, target):
        return optax.softmax_cross_entropy(apply(params, xb), target).mean()

    def step(carry, inputs):
        params, state = carry
        b, k = inputs
        idx = rows[b]
        xb, yb = X[idx], jax.nn.one_hot(y[idx], n_classes)
        xm, ym = regjax.augment.mixup(k, xb, yb, hp["alpha"])
        xb = jnp.where(hp["mix"] > 0, xm, xb)
        yb = jnp.where(hp["mix"] > 0, ym, yb)
        target = regjax.augment.smooth_labels(yb, hp["eps"])
        grads = jax.grad(loss)(params, xb, target)
        updates, state = tx.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), None

    keys = jax.random.split(key, steps)
    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), (batches, keys))
    return jax.nn.softmax(apply(params, X))  # every image; the masks pick val / test


rep_rngs = [np.random.default_rng(1 + r) for r in range(n_reps)]
inits = jax.tree.map(lambda *a: jnp.stack(a), *[init(g) for g in rep_rngs])
batches = jnp.asarray(np.stack([g.integers(0, n_train, (steps, batch)) for g in rep_rngs]))
keys = jax.random.split(jax.random.key(0), n_reps)

per_rep = jax.vmap(train, in_axes=(None, 0, 0, 0, 0))
run = jax.jit(jax.vmap(per_rep, in_axes=(0, None, None, None, None)))
t0 = time.perf_counter()
compiled = run.lower(hparams, inits, train_idx, batches, keys).compile()
t1 = time.perf_counter()
probs = np.asarray(compiled(hparams, inits, train_idx, batches, keys))  # (config, rep, n, K)
print(
    f"compiled in {t1 - t0:.1f} s, ran in {time.perf_counter() - t1:.1f} s, "
    f"traced {len(traces)} time(s)"
)
assert len(traces) == 1


# %% [markdown]
# ## Expected calibration error and reliability diagrams


# %%
N_BINS = 15


def reliability(p, labels, n_bins=N_BINS):
    """Per-bin (count, accuracy, mean confidence) over equal-width confidence bins."""
    conf, correct = p.max(-1), p.argmax(-1) == labels
    which = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    acc = np.bincount(which, correct, minlength=n_bins) / np.maximum(count, 1)
    mean_conf = np.bincount(which, conf, minlength=n_bins) / np.maximum(count, 1)
    return count, acc, mean_conf


def ece(p, labels, n_bins=N_BINS):
    count, acc, mean_conf = reliability(p, labels, n_bins)
    return float(np.sum(count / count.sum() * np.abs(acc - mean_conf)))


def scores(p, labels):
    """ECE, accuracy, mean confidence and NLL of predictions ``p`` for ``labels``."""
    nll = -np.mean(np.log(p[np.arange(len(labels)), labels] + 1e-12))
    return ece(p, labels), np.mean(p.argmax(-1) == labels), np.mean(p.max(-1)), nll


# (split, config, replicate, score) with split 0 = validation, 1 = test.
S = np.array(
    [
        [
            [scores(probs[c, r][m[r]], y_np[m[r]]) for r in range(n_reps)]
            for c in range(len(configs))
        ]
        for m in (val_mask, test_mask)
    ]
)
ECE, ACC, CONF, NLL = range(4)
val, test = S[0], S[1]
print(f"test set (ECE over {N_BINS} bins), mean over replicates (± SE):")
for c, name in enumerate(names):
    e, a, conf, nll = test[c].mean(0)
    print(
        f"  {name:16s} ECE {e:.4f} ± {test[c, :, ECE].std(ddof=1) / np.sqrt(n_reps):.4f}  "
        f"accuracy {a:.4f}  mean confidence {conf:.4f}  confidence - accuracy {conf - a:+.4f}  "
        f"NLL {nll:.3f}"
    )

# %% [markdown]
# ## The settings chosen on validation data, and the decisions


# %%
reps = np.arange(n_reps)


def choose(rows, score, best):
    """Per replicate, the row (of ``rows``) with the best validation score; first of ties."""
    v = val[rows][:, :, score]
    return rows[(v.argmin(0) if best == "min" else v.argmax(0))]


def decide(d, label):
    """The rule: confirmed if mean > 2 SE, reversed if mean < -2 SE, else undecided."""
    m, se = d.mean(), d.std(ddof=1) / np.sqrt(len(d))
    verdict = "confirmed" if m > 2 * se else "reversed" if m < -2 * se else "undecided"
    print(f"{label}: mean difference {m:+.4f} ± {se:.4f} (SE), 2 SE = {2 * se:.4f}: {verdict}")
    return verdict


def chosen_values(rows):
    return [configs[c][0].split("=")[1] for c in rows]


ls_cal, mix_cal = choose(i_ls, ECE, "min"), choose(i_mix, ECE, "min")
ls_acc, mix_acc = choose(i_ls, ACC, "max"), choose(i_mix, ACC, "max")
print(f"ε chosen on validation ECE: {chosen_values(ls_cal)}; on accuracy: {chosen_values(ls_acc)}")
print(
    f"α chosen on validation ECE: {chosen_values(mix_cal)}; on accuracy: {chosen_values(mix_acc)}"
)
for what, rows, grid_rows in [("ε", ls_cal, i_ls), ("α", mix_cal, i_mix)]:
    print(
        f"chosen on validation ECE: the smallest {what} of the grid in "
        f"{np.sum(rows == grid_rows[0])} of {n_reps} replicates"
    )
print(
    f"test ECE: plain {test[0, :, ECE].mean():.4f}, smoothing (ECE-chosen ε) "
    f"{test[ls_cal, reps, ECE].mean():.4f}, "
    f"mixup (ECE-chosen α) {test[mix_cal, reps, ECE].mean():.4f}"
)
verdicts = {
    "0 plain is overconfident": decide(
        test[0, :, CONF] - test[0, :, ACC], "0 plain: confidence - accuracy"
    ),
    "1 smoothing lowers ECE": decide(
        test[0, :, ECE] - test[ls_cal, reps, ECE], "1 ECE, plain - smoothing"
    ),
    "2 mixup lowers ECE": decide(
        test[0, :, ECE] - test[mix_cal, reps, ECE], "2 ECE, plain - mixup"
    ),
    "3 smoothing lowers confidence": decide(
        test[0, :, CONF] - test[ls_cal, reps, CONF], "3 confidence, plain - smoothing"
    ),
    "3 mixup lowers confidence": decide(
        test[0, :, CONF] - test[mix_cal, reps, CONF], "3 confidence, plain - mixup"
    ),
    "4 smoothing raises accuracy": decide(
        test[ls_acc, reps, ACC] - test[0, :, ACC], "4 accuracy, smoothing - plain"
    ),
    "5 mixup raises accuracy": decide(
        test[mix_acc, reps, ACC] - test[0, :, ACC], "5 accuracy, mixup - plain"
    ),
}

# %%
shown = [0, int(np.bincount(ls_cal).argmax()), int(np.bincount(mix_cal).argmax())]
fig, axes = plt.subplots(1, 4, figsize=(15, 3.8), layout="constrained")
for ax, c in zip(axes[:3], shown, strict=True):
    p = probs[c][test_mask]  # pooled over replicates
    count, acc, mean_conf = reliability(p, np.tile(y_np, (n_reps, 1))[test_mask])
    edges = np.linspace(0, 1, N_BINS + 1)
    used = count > 0
    ax.bar(
        edges[:-1][used],
        acc[used],
        width=1 / N_BINS,
        align="edge",
        edgecolor="k",
        alpha=0.7,
        label="accuracy in bin",
    )
    ax.plot(
        edges[:-1][used] + 0.5 / N_BINS,
        mean_conf[used],
        "o",
        color="C3",
        ms=4,
        label="mean confidence in bin",
    )
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_title(f"{names[c]}: test ECE {test[c, :, ECE].mean():.3f}")
    ax.set_xlabel("confidence")
axes[0].set_ylabel("accuracy")
axes[0].legend(frameon=False, loc="upper left", fontsize=8)
ax = axes[3]
x_pos = np.arange(len(names))
ax.bar(
    x_pos,
    test[:, :, ECE].mean(1),
    yerr=test[:, :, ECE].std(1, ddof=1) / np.sqrt(n_reps),
    color=["0.5"] + ["C0"] * len(smoothing) + ["C1"] * len(alphas),
)
ax.set_xticks(x_pos, names, rotation=45, ha="right")
ax.set_ylabel(f"test ECE (mean ± SE, {n_reps} replicates)")
ax.set_title("Calibration error, digits test sets")
savefig(fig, "08_calibration_smoothing_mixup")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the papers
#
# **The premise holds, mildly.** At full size (MLP 64-256-10, 500 training images, 3000 Adam
# steps, 10 replicates) the plain network is overconfident: on test, mean confidence 0.9817
# against accuracy 0.9626, a gap of +0.0191 ± 0.0018 (confirmed), and ECE 0.0213.
#
# **Both calibration claims are reversed on digits.** Validation chose the smallest ε and
# nearly always the smallest α of the grids (the counts are printed above). At those settings
# the test ECE is 0.0364 with label smoothing and 0.0313 with mixup, against 0.0213 for the
# plain network: paired differences (plain minus regularized) of -0.0151 ± 0.0030 and
# -0.0101 ± 0.0038, both below -2 SE. The mechanism the papers describe does reproduce: both
# lower the confidence (by +0.0404 ± 0.0012 and +0.0397 ± 0.0020, confirmed), but they
# overshoot into *under*-confidence: confidence minus accuracy is -0.0334 at ε = 0.01 and
# -0.0268 at α = 0.05, and it keeps falling as ε and α grow (to -0.2528 at ε = 0.2 and -0.0799
# at α = 1.0). The papers' baselines were large networks on harder images, far more
# overconfident than this one: smoothing removes a large gap there, while here it removes a
# small one and goes past it. Because validation picked the edge of each grid, a smaller ε or
# α than we tried might land in between; the grids were fixed before the runs and this
# notebook does not search below them, so the verdict holds for ε from 0.01 to 0.2 and α from
# 0.05 to 1.0, which include the settings the papers use.
#
# **Both accuracy claims reproduce.** With ε and α chosen on validation accuracy, label
# smoothing raises test accuracy by +0.0137 ± 0.0015 and mixup by +0.0091 ± 0.0014 over the
# plain network's 0.9626 (both confirmed).
#
# **How the checks changed.** An earlier version of this notebook scored every ε and α on one
# fixed test split, with several seeds but no validation data, and asserted that each raised
# the ECE and that confidence fell monotonically with ε and α; it also quoted an ECE from a
# separate, longer run that the notebook did not contain. That quote is gone, and the checks
# are now the rules above: validation chooses ε and α, the test sets of 10 replicate splits
# report, and each verdict is a paired difference against twice its standard error. The
# assertions below check that each verdict the rules computed is the one this text reports.
# At smoke size (fewer replicates and settings, shorter training) only claims 1 to 3 are
# checked; the premise and the accuracy claims need the full run's power.

# %%
# The verdicts of the rules above, against the outcomes the text reports.
reported = {
    "0 plain is overconfident": "confirmed",
    "1 smoothing lowers ECE": "reversed",
    "2 mixup lowers ECE": "reversed",
    "3 smoothing lowers confidence": "confirmed",
    "3 mixup lowers confidence": "confirmed",
    "4 smoothing raises accuracy": "confirmed",
    "5 mixup raises accuracy": "confirmed",
}
checked = pick(list(reported)[1:5], list(reported))
for claim in checked:
    assert verdicts[claim] == reported[claim], (claim, verdicts[claim], reported[claim])
print("verdicts checked against the text:", {c: verdicts[c] for c in checked})
