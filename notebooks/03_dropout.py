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
# # Dropout
#
# **Claims.** (1) Srivastava et al. (2014): dropping each hidden unit with probability $p$
# during training keeps a large network from overfitting, so it **lowers test error**;
# (2) too much dropout **underfits** (their Fig. 9 finds $p \approx 0.5$ best for hidden
# units, with error rising again towards $p = 0.9$); (3) at test time, scaling the weights
# (inverted dropout: doing nothing) approximates averaging the exponentially many thinned
# networks: their §7.5 finds that **Monte-Carlo averaging** over about 50 sampled masks
# **matches** the weight-scaling error. (4) Gal & Ghahramani (2016) read the spread of those
# samples as model uncertainty (**MC dropout**): it should be **larger where the network is
# wrong**.
#
# **Method.** An over-parameterized MLP (two hidden layers, far more weights than training
# examples) on a small training set of scikit-learn's digits, with `regjax.stochastic.dropout`
# after each hidden layer. Each replicate is a random three-way split of the digits images:
# 300 to train, 300 to **validate** (to choose the rate), the rest to **test** (to report).
# Every rate × replicate is one member of **one** `regjax.sweep.run` (the rate is a traced
# array: one compile). Within a replicate, every rate starts from the same initial weights
# and sees the same minibatches, so differences between rates are paired.
# Inside each run, `regjax.stochastic.mc_predict` averages the trained network over T
# dropout masks.
#
# **Decision rules, fixed before the runs.** In each replicate the rate with the lowest
# validation error is chosen (ties go to the smaller rate, so $p = 0$ can be chosen); for the
# MC-dropout claims, which need $p > 0$, the rate $> 0$ with the lowest validation error.
# Each claim is a per-replicate difference $d_r$ on the **test** set, its mean
# $\bar d$ and standard error $\mathrm{SE} = s_d/\sqrt{R}$ over the $R$ replicates:
#
# 1. *dropout lowers test error*: $d_r$ = test error at $p = 0$ minus test error at the chosen
#    rate; confirmed if $\bar d > 2\,\mathrm{SE}$, reversed if $\bar d < -2\,\mathrm{SE}$,
#    otherwise no detectable difference;
# 2. *$p = 0.9$ underfits*: both its training error and its test error exceed those at the
#    chosen rate, each by more than $2\,\mathrm{SE}$;
# 3. *weight scaling ≈ MC averaging*: $d_r$ = MC-averaged minus weight-scaled test error at
#    the chosen rate $> 0$; they match if $\bar d \pm 2\,\mathrm{SE}$ lies inside
#    ±0.005 (half a percentage point: an equivalence margin about a tenth of the error
#    rate);
# 4. *the MC spread flags errors*: per replicate, the AUROC of the MC standard deviation of
#    the predicted class's probability as a score for "the prediction is wrong" (test set);
#    confirmed if the mean AUROC exceeds 0.5 by more than $2\,\mathrm{SE}$.
#
# At smoke size (fewer replicates, shorter training) the rules are computed and printed the
# same way, but only claims 2 and 4 are asserted: the smaller run has too little power for the
# others.

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from _nb import pick, savefig
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

import regjax

X, y = load_digits(return_X_y=True)
X = jnp.asarray(X / 16.0, jnp.float32)
y = jnp.asarray(y, jnp.int32)
n, n_in = X.shape
n_classes = 10

n_train, n_val = 300, 300  # of 1797; the rest is the test set
hidden = 128
steps = pick(400, 1500)
batch = 64
lr = 1e-3
n_reps = pick(3, 8)  # R, the replicates (random three-way splits)
n_mc = pick(20, 50)  # T, the MC-dropout samples
rates = np.array(pick([0.0, 0.3, 0.6, 0.9], [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]))

rng = np.random.default_rng(0)
train_masks = np.zeros((n_reps, n), bool)
val_masks = np.zeros((n_reps, n), bool)
for r in range(n_reps):
    perm = rng.permutation(n)
    train_masks[r, perm[:n_train]] = True
    val_masks[r, perm[n_train : n_train + n_val]] = True
test_masks = ~(train_masks | val_masks)
n_params = n_in * hidden + hidden * hidden + hidden * n_classes + 2 * hidden + n_classes
print(
    f"digits: {n_train} train / {n_val} validation / {n - n_train - n_val} test x {n_reps} "
    f"replicates; MLP 64-{hidden}-{hidden}-10 ({n_params} parameters), {steps} Adam steps "
    f"of {batch}; rates {rates.tolist()}"
)


# %%
def init(key):
    k = jax.random.split(key, 3)
    sizes = [(n_in, hidden), (hidden, hidden), (hidden, n_classes)]
    return [
        {"kernel": jax.random.normal(kk, s) * jnp.sqrt(2.0 / s[0]), "bias": jnp.zeros(s[1])}
        for kk, s in zip(k, sizes, strict=True)
    ]


def logits_fn(params, x, key, rate, deterministic):
    keys = regjax.stochastic.layer_keys(key, 2)
    h = x
    for layer, k in zip(params[:2], keys, strict=True):
        h = jax.nn.relu(h @ layer["kernel"] + layer["bias"])
        h = regjax.stochastic.dropout(k, h, rate, deterministic=deterministic)
    return h @ params[2]["kernel"] + params[2]["bias"]


train_j, val_j, test_j = (jnp.asarray(m) for m in (train_masks, val_masks, test_masks))
base_key = jax.random.key(0)


def train_fn(hp, key):
    del key  # the replicate's key below: every rate of a replicate shares init and batches
    rate, rep = hp["rate"], hp["rep"]
    train_mask, val_mask, test_mask = train_j[rep], val_j[rep], test_j[rep]
    init_key, data_key, mc_key = jax.random.split(jax.random.fold_in(base_key, rep), 3)
    params = init(init_key)
    tx = optax.adam(lr)
    probs = train_mask / jnp.sum(train_mask)

    def loss_fn(params, idx, k):
        logits = logits_fn(params, X[idx], k, rate, deterministic=False)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y[idx]))

    def step(carry, i):
        params, opt_state = carry
        k_batch, k_drop = jax.random.split(regjax.stochastic.step_key(data_key, i))
        idx = jax.random.choice(k_batch, n, (batch,), p=probs)
        grads = jax.grad(loss_fn)(params, idx, k_drop)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(steps))

    # Weight scaling: the deterministic network (inverted dropout already rescaled).
    det_pred = jnp.argmax(logits_fn(params, X, mc_key, rate, deterministic=True), axis=-1)

    # MC dropout: the predictive mean and variance of the softmax over T masks.
    def sample(k, x):
        return jax.nn.softmax(logits_fn(params, x, k, rate, deterministic=False))

    mc_mean, mc_var = regjax.stochastic.mc_predict(sample, mc_key, X, n_mc)
    mc_pred = jnp.argmax(mc_mean, axis=-1)
    det_wrong, mc_wrong = det_pred != y, mc_pred != y

    def error(wrong, mask):
        return jnp.sum(wrong & mask) / jnp.sum(mask)

    return {
        "train_error": error(det_wrong, train_mask),
        "val_error": error(det_wrong, val_mask),
        "test_error": error(det_wrong, test_mask),
        "mc_test_error": error(mc_wrong, test_mask),
        # Per example, for the uncertainty analysis: the MC standard deviation of the
        # predicted class's probability, and whether the MC prediction is wrong.
        "mc_std": jnp.sqrt(jnp.take_along_axis(mc_var, mc_pred[:, None], axis=-1)[:, 0]),
        "mc_wrong": mc_wrong,
    }


# %%
grid = regjax.sweep.grid(rate=rates, rep=np.arange(n_reps))
t0 = time.perf_counter()
result = regjax.sweep.run(train_fn, grid, jax.random.key(0), progress=False)
print(f"{len(rates)} rates x {n_reps} replicates in {time.perf_counter() - t0:.1f} s (one compile)")


def metric(name):
    return np.asarray(result.metric(name, reshape=True))  # (rates, replicates, ...)


train_err, val_err = metric("train_error"), metric("val_error")
test_err, mc_err = metric("test_error"), metric("mc_test_error")
mc_std, mc_wrong = metric("mc_std"), metric("mc_wrong")
reps = np.arange(n_reps)
print("rate   train error   validation error   test error   MC test error  (means over replicates)")
for i, p in enumerate(rates):
    print(
        f"{p:4.1f}   {train_err[i].mean():11.4f}   {val_err[i].mean():16.4f}   "
        f"{test_err[i].mean():10.4f}   {mc_err[i].mean():13.4f}"
    )

# %% [markdown]
# ## The rates chosen on validation data, and the four decisions


# %%
def paired(d):
    """Mean and standard error over replicates of a per-replicate difference."""
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def sign_verdict(d, positive, negative):
    m, se = paired(d)
    return positive if m > 2 * se else negative if m < -2 * se else "no detectable difference"


# Validation chooses (argmin takes the first of ties: the smaller rate).
chosen = val_err.argmin(0)
chosen_on = 1 + val_err[1:].argmin(0)  # the best rate > 0, for the MC-dropout claims
print(f"rate chosen on validation, per replicate: {rates[chosen].tolist()}")
print(f"rate > 0 chosen on validation, per replicate: {rates[chosen_on].tolist()}")
print(f"validation picks p = 0 in {np.sum(chosen == 0)} of {n_reps} replicates")

# 1. Dropout lowers test error.
d_gain = test_err[0] - test_err[chosen, reps]
verdict_1 = sign_verdict(d_gain, "dropout lowers test error", "dropout raises test error")
m, se = paired(d_gain)
print(
    f"1. test error: no dropout {test_err[0].mean():.4f}, chosen rate "
    f"{test_err[chosen, reps].mean():.4f}; paired difference {m:.4f} ± {se:.4f} (SE), "
    f"2 SE = {2 * se:.4f}: {verdict_1}"
)

# 2. p = 0.9 underfits.
top = len(rates) - 1
d_train = train_err[top] - train_err[chosen, reps]
d_test = test_err[top] - test_err[chosen, reps]
(m_tr, se_tr), (m_te, se_te) = paired(d_train), paired(d_test)
underfits = bool(m_tr > 2 * se_tr and m_te > 2 * se_te)
print(
    f"2. p = {rates[top]}: train error {train_err[top].mean():.4f} (chosen rate "
    f"{train_err[chosen, reps].mean():.4f}; difference {m_tr:.4f} ± {se_tr:.4f}), test error "
    f"{test_err[top].mean():.4f} (difference {m_te:.4f} ± {se_te:.4f}); "
    f"underfits: {underfits}"
)

# 3. Weight scaling ≈ MC averaging at the chosen rate > 0.
margin = 0.005
d_mc = mc_err[chosen_on, reps] - test_err[chosen_on, reps]
m_mc, se_mc = paired(d_mc)
lo, hi = m_mc - 2 * se_mc, m_mc + 2 * se_mc
mc_matches = bool(-margin < lo and hi < margin)
print(
    f"3. chosen rate > 0: MC average (T={n_mc}) test error {mc_err[chosen_on, reps].mean():.4f}, "
    f"weight scaling {test_err[chosen_on, reps].mean():.4f}; difference {m_mc:.4f}, "
    f"± 2 SE = [{lo:.4f}, {hi:.4f}] inside ±{margin}: {mc_matches}"
)

# 4. The MC spread flags the wrong predictions (test set, chosen rate > 0).
std_on = mc_std[chosen_on, reps][test_masks]  # pooled over replicates, for the figure
wrong_on = mc_wrong[chosen_on, reps][test_masks]
aurocs = np.array(
    [
        roc_auc_score(
            mc_wrong[chosen_on[r], r][test_masks[r]], mc_std[chosen_on[r], r][test_masks[r]]
        )
        for r in reps
    ]
)
m_auc, se_auc = paired(aurocs - 0.5)
flags_errors = bool(m_auc > 2 * se_auc)
print(
    f"4. MC std of the predicted class: {std_on[wrong_on].mean():.3f} on wrong predictions, "
    f"{std_on[~wrong_on].mean():.3f} on right ones; AUROC per replicate {np.round(aurocs, 3)}, "
    f"mean {aurocs.mean():.3f} ± {se_auc:.3f} (SE); above 0.5 by more than 2 SE: {flags_errors}"
)
print(
    f"no dropout memorizes its training set: max train error at p = 0 is {train_err[0].max():.4f}"
)

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4), layout="constrained")
ax = axes[0]
for e, label, style in [
    (val_err, "validation error", "o-"),
    (test_err, "test error", "s-"),
    (mc_err, f"MC-dropout test error (T={n_mc})", "d--"),
    (train_err, "train error", "^:"),
]:
    ax.errorbar(
        rates,
        e.mean(1),
        e.std(1, ddof=1) / np.sqrt(n_reps),
        fmt=style,
        ms=3,
        capsize=2,
        label=label,
    )
ylim = 1.6 * max(test_err[:-1].mean(1).max(), val_err[:-1].mean(1).max())
if test_err[-1].mean() > ylim:  # the highest rate underfits badly; keep the rest readable
    ax.set_ylim(0, ylim)
    ax.text(
        0.99,
        0.3,
        f"p = {rates[-1]}:\ntest {test_err[-1].mean():.2f}\n(off scale)",
        transform=ax.transAxes,
        ha="right",
        fontsize=8,
    )
ax.set_xlabel("dropout rate p")
ax.set_ylabel(f"error (mean ± SE over {n_reps} replicates)")
ax.legend(frameon=False, loc="upper left", fontsize=8)
ax.set_title("Error against dropout rate (one sweep)")

ax = axes[1]
pairs = [(d_gain, "no dropout − chosen rate"), (d_mc, "MC average − weight scaling")]
for j, (d, _) in enumerate(pairs):
    m, se = paired(d)
    ax.plot(np.full(n_reps, j) + np.linspace(-0.15, 0.15, n_reps), 100 * d, "o", ms=4, alpha=0.6)
    ax.errorbar(j + 0.3, 100 * m, 200 * se, fmt="ks", capsize=4)
ax.axhline(0, color="k", lw=0.8)
ax.fill_between(
    [0.6, 1.5], -100 * margin, 100 * margin, color="0.9", zorder=0, label="equivalence margin"
)
ax.legend(frameon=False, loc="upper right", fontsize=8)
ax.set_xticks([0, 1], [label for _, label in pairs])
ax.set_xlim(-0.5, 1.6)
ax.set_ylabel("paired test-error difference (points)")
ax.set_title("Per replicate, and mean ± 2 SE")

ax = axes[2]
bins = np.linspace(0, std_on.max(), 30)
ax.hist(std_on[~wrong_on], bins, density=True, alpha=0.6, label="right predictions")
ax.hist(std_on[wrong_on], bins, density=True, alpha=0.6, label="wrong predictions")
ax.set_xlabel("MC-dropout std of the predicted class's probability")
ax.set_ylabel("density")
ax.set_title(f"MC dropout, chosen rate > 0: mean AUROC {aurocs.mean():.2f} for errors")
ax.legend(frameon=False)
savefig(fig, "03_dropout")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# **Claim 1, dropout lowers test error, does not reproduce under the fair test.** At full
# size (7 rates × 8 replicates, 26122 parameters, 300 training images) the network without
# dropout memorizes its training set (largest train error 0.0000) and makes test error
# 0.0482; the rate chosen on validation makes 0.0464, a paired difference of
# 0.0019 ± 0.0011, short of 2 SE = 0.0022: no detectable difference. The sweep table shows
# why. Every rate from 0.1 to 0.5 is at most a few tenths of a point better than no dropout on
# test (0.0449 to 0.0468 against 0.0482), and 300 validation images cannot rank rates
# that close (0.0492 to 0.0517 against 0.0508): validation picks p = 0 in 3 of the 8
# replicates. Whatever gain dropout has here is smaller than 8 replicates can detect.
# Srivastava et al.'s gains come from much larger networks trained much longer, with
# max-norm constraints, where overfitting without dropout may cost more than it does on
# digits.
#
# **Claim 2, too much dropout underfits, reproduces.** At p = 0.9 the training error is
# 0.3167 (against 0.0000 at the chosen rate) and the test error 0.4029; both paired differences
# exceed 2 SE (the rule prints `underfits: True`).
#
# **Claim 3, weight scaling ≈ MC averaging, reproduces.** At the chosen rate > 0, averaging
# T = 50 thinned networks gives test error 0.0454 against 0.0456 for the deterministic,
# weight-scaled network; the paired difference's ± 2 SE interval, [-0.0013, 0.0009], lies
# inside the ±0.005 margin set in advance.
#
# **Claim 4, MC-dropout spread flags the errors, reproduces.** The standard deviation over
# masks of the predicted class's probability is 0.281 on average on wrong predictions
# against 0.065 on right ones; as a score for spotting errors its AUROC is 0.935 ± 0.003
# over the replicates, more than 2 SE above 0.5.
#
# **How the checks changed.** An earlier version of this notebook picked the best of its
# rates by their test error and asserted that it beat no dropout. That comparison is biased
# towards dropout: the smallest of several noisy means is low even when no rate helps, and
# the same test data chose and scored the winner. It also bounded the MC-averaging gap and
# the AUROC by fixed thresholds not derived from the claims. The rules
# above replace all three: validation chooses the rate, test data reports, and each claim is
# a paired difference over replicates against twice its standard error (or, for claim 3, an
# equivalence margin). The assertions below check that each verdict the rules computed is
# the one this text reports, claim 1's "no detectable difference" included.

# %%
# The setup: without dropout the network memorizes its training set (over-parameterized).
assert train_err[0].max() < 0.01, train_err[0]
# The verdicts of the rules above, against the outcomes the text reports. At smoke size only
# claims 2 and 4 are checked (too little power for 1 and 3 in a few short replicates).
computed = {
    "1 dropout lowers test error": verdict_1,
    "2 p = 0.9 underfits": underfits,
    "3 weight scaling matches MC averaging": mc_matches,
    "4 MC spread flags errors": flags_errors,
}
reported = {
    "1 dropout lowers test error": "no detectable difference",
    "2 p = 0.9 underfits": True,
    "3 weight scaling matches MC averaging": True,
    "4 MC spread flags errors": True,
}
checked = pick(["2 p = 0.9 underfits", "4 MC spread flags errors"], list(reported))
for claim in checked:
    assert computed[claim] == reported[claim], (claim, computed[claim], reported[claim])
print("claims checked against the text:", {c: computed[c] for c in checked})
