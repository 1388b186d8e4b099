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
# # Spectral normalization and the Lipschitz constant
#
# **Claim** (Miyato et al. 2018, §2). Dividing every weight matrix by its largest
# singular value, $\bar W = W/\sigma(W)$, makes each linear layer 1-Lipschitz; with
# 1-Lipschitz activations (ReLU) the network's Lipschitz constant is then bounded by
#
# $$\|f\|_{\mathrm{Lip}} \;\le\; \prod_l \sigma(\bar W_l) \;=\; 1 .$$
#
# Miyato et al. use it to tame a GAN's discriminator; a smaller Lipschitz constant also
# limits how much an input perturbation can move the logits, which is the reason to
# expect **more robustness to input noise** (e.g. Tsuzuku et al. 2018, Lipschitz-margin
# training). The paper does not claim noise robustness for classifiers: that part is our
# extension, checked below.
#
# **Method.** A ReLU MLP 64-h-h-10 on scikit-learn's digits (half train, half test),
# trained with Adam. Without spectral normalization, and with it through
# `regjax.spectral.normalize` on all three kernels (one power iteration per step,
# ``u`` carried between steps, gradient through σ̂ as in the paper), followed by a fixed
# logit scale $c$ so that the network's Lipschitz bound is $c$ (with $c = 1$ the logits
# are too small to fit the data well: the bound also caps the logit margins). Every
# configuration and seed is one member of **one** vmapped program: the "normalize or
# not" switch and $c$ are traced arrays.
#
# We measure, on the trained networks:
# * the **upper bound** $\prod_l \|W_l\|_2$ (times $c$), with exact SVDs;
# * an **empirical lower bound**: the largest $\|J_f(x)\|_2$, the spectral norm of the
#   input–logit Jacobian, over the test inputs and noisy copies of them (any value of
#   the local gradient norm is a lower bound on the Lipschitz constant);
# * test accuracy under Gaussian input noise $x + \mathcal N(0, s^2 I)$ (pixels in [0, 1]).
#
# Each seed draws its own initial weights, minibatches and input-noise sample; within a
# seed, every configuration shares them, so differences between configurations are paired.
#
# **Decision rules, fixed before the runs.** The Lipschitz bounds are computed exactly on
# each trained network, so they are printed with their comparisons evaluated: for every
# normalized network the bound lies in $[c, 1.5c)$; the largest Jacobian norm never exceeds
# the bound, and is within a factor 1.5 of it ("nearly tight"); the plain network's
# largest Jacobian norm exceeds 10 × the c = 1 bound. The accuracy claims are noisy, so each
# is a per-seed difference $d_r$ with mean $\bar d$ and standard error
# $\mathrm{SE} = s_d/\sqrt{R}$ over the $R$ seeds, against the plain network:
#
# 1. *more robust*: $d_r$ = SN's accuracy minus the plain network's at the largest input
#    noise; confirmed if $\bar d > 2\,\mathrm{SE}$, reversed if $\bar d < -2\,\mathrm{SE}$,
#    otherwise no detectable difference (for c = 10 and for c = 1);
# 2. *at equal clean accuracy* (c = 10): $d_r$ = SN's clean test accuracy minus the plain
#    network's; equal if $\bar d \pm 2\,\mathrm{SE}$ lies inside ±0.01 (one point, about
#    half the plain network's test error);
# 3. *c = 1 costs clean accuracy*: $d_r$ = the plain network's clean accuracy minus SN's
#    at c = 1; confirmed if $\bar d > 2\,\mathrm{SE}$.
#
# At smoke size (3 seeds, a small network trained briefly) the rules are computed and
# printed the same way, but only the Lipschitz facts and claims 1 (c = 1) and 3 are
# asserted; the text below reports the full-size run.

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
    X / 16.0, y, test_size=0.5, stratify=y, random_state=0
)
X_train, X_test = jnp.asarray(X_train, jnp.float32), jnp.asarray(X_test, jnp.float32)
y_train, y_test = jnp.asarray(y_train, jnp.int32), jnp.asarray(y_test, jnp.int32)
n_train = X_train.shape[0]

hidden = pick(64, 256)
steps = pick(500, 3000)
batch = 128
n_seeds = pick(3, 6)
scales = pick([1.0, 10.0], [1.0, 3.0, 10.0, 30.0])
configs = [("plain", 0.0, 1.0)] + [(f"SN, c={c:g}", 1.0, c) for c in scales]
names = [c[0] for c in configs]
use_sn = jnp.asarray([c[1] for c in configs], jnp.float32)
scale = jnp.asarray([c[2] for c in configs], jnp.float32)
noise_levels = np.linspace(0.0, pick(0.6, 0.8), pick(4, 9))
print(
    f"digits: {n_train} train, {len(y_test)} test; MLP 64-{hidden}-{hidden}-10, {steps} Adam "
    f"steps of batch {batch}; {len(configs)} configurations x {n_seeds} seeds"
)

# %% [markdown]
# ## The model: a switch between raw and spectrally normalized kernels

# %%
LAYERS = ["dense1", "dense2", "out"]


def init(rng, key):
    sizes = [(64, hidden), (hidden, hidden), (hidden, 10)]
    params, sn_states = {}, {}
    for name, (m, k), sub in zip(LAYERS, sizes, jax.random.split(key, 3), strict=True):
        kernel = jnp.asarray(rng.normal(size=(m, k)) * np.sqrt(2 / m), jnp.float32)
        params[name] = {"kernel": kernel, "bias": jnp.zeros(k)}
        sn_states[name] = regjax.spectral.init(sub, kernel)
    return params, sn_states


def kernels(params, sn_states, sn, *, train):
    """The kernels the forward pass uses: raw, or W / sigma_hat when sn = 1."""
    used, new_states = {}, {}
    for name in LAYERS:
        w = params[name]["kernel"]
        if train:
            w_bar, new_states[name] = regjax.spectral.normalize(w, sn_states[name])
        else:  # evaluation: the stored u, no update
            w_bar, new_states[name] = regjax.spectral.normalize(
                w, sn_states[name], n_iter=0, update=False
            )
        used[name] = jnp.where(sn > 0, w_bar, w)
    return used, new_states


def forward(params, used, c, x):
    h = x
    for name in LAYERS[:-1]:
        h = jax.nn.relu(h @ used[name] + params[name]["bias"])
    return c * (h @ used["out"] + params["out"]["bias"])


tx = optax.adam(1e-3)
traces = []


def train(sn, c, params, sn_states, batches):
    traces.append(1)

    def loss(params, sn_states, xb, yb):
        used, new_states = kernels(params, sn_states, sn, train=True)
        logits = forward(params, used, c, xb)
        return optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean(), new_states

    def step(carry, idx):
        params, sn_states, opt_state = carry
        grads, sn_states = jax.grad(loss, has_aux=True)(
            params, sn_states, X_train[idx], y_train[idx]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), sn_states, opt_state), None

    carry = (params, sn_states, tx.init(params))
    (params, sn_states, _), _ = jax.lax.scan(step, carry, batches)
    used, _ = kernels(params, sn_states, sn, train=False)
    return params, used, {n: s.sigma for n, s in sn_states.items()}


seed_rngs = [np.random.default_rng(1 + s) for s in range(n_seeds)]
inits = [init(r, k) for r, k in zip(seed_rngs, jax.random.split(jax.random.key(0), n_seeds))]
params0, states0 = jax.tree.map(lambda *a: jnp.stack(a), *inits)
batches = jnp.asarray(np.stack([r.integers(0, n_train, (steps, batch)) for r in seed_rngs]))

run = jax.jit(
    jax.vmap(jax.vmap(train, in_axes=(None, None, 0, 0, 0)), in_axes=(0, 0, None, None, None))
)
t0 = time.perf_counter()
compiled = run.lower(use_sn, scale, params0, states0, batches).compile()
t1 = time.perf_counter()
params, used, sigma_hat = jax.block_until_ready(compiled(use_sn, scale, params0, states0, batches))
print(
    f"compiled in {t1 - t0:.1f} s, ran in {time.perf_counter() - t1:.1f} s, "
    f"traced {len(traces)} time(s)"
)
assert len(traces) == 1

# %% [markdown]
# ## Lipschitz bounds: the product of spectral norms, and the largest Jacobian norm


# %%
def logits_fn(params, used, c):
    return lambda x: forward(params, used, c, x)


@jax.jit
def measure(params, used, c, x, noise_key):
    """Per network: per-layer spectral norms, test accuracy under noise, max Jacobian norm."""
    layer_norms = jnp.stack([jnp.linalg.norm(used[n], ord=2) for n in LAYERS])
    f = logits_fn(params, used, c)
    noisy = []
    for s in noise_levels:
        xn = x + s * jax.random.normal(noise_key, x.shape)
        noisy.append(jnp.mean(jnp.argmax(f(xn), -1) == y_test))
    probes = jnp.concatenate([x, x + 0.3 * jax.random.normal(noise_key, x.shape)])
    jac = jax.vmap(jax.jacrev(f))(probes)  # (probes, 10, 64)
    jac_norm = jnp.max(jnp.linalg.norm(jac, ord=2, axis=(1, 2)))
    return layer_norms, jnp.stack(noisy), jac_norm


rows = []
for i in range(len(names)):
    for s in range(n_seeds):
        p_i = jax.tree.map(lambda a, i=i, s=s: a[i, s], params)
        u_i = jax.tree.map(lambda a, i=i, s=s: a[i, s], used)
        norms, acc, jac = measure(p_i, u_i, scale[i], X_test, jax.random.key(100 + s))
        rows.append((i, s, np.asarray(norms), np.asarray(acc), float(jac)))

summary = {}
for i, name in enumerate(names):
    mine = [r for r in rows if r[0] == i]
    c = float(scale[i])
    summary[name] = {
        "upper": np.array([c * np.prod(r[2]) for r in mine]),  # per seed
        "lower": np.array([r[4] for r in mine]),
        "acc": np.array([r[3] for r in mine]),  # (seeds, noise levels)
        "norms": np.mean([r[2] for r in mine], 0),
    }
    m = summary[name]
    print(
        f"{name:9s} per-layer ||W||_2 {np.round(m['norms'], 3)}  "
        f"upper bound {m['upper'].mean():10.3f}  largest ||J_f(x)||_2 {m['lower'].mean():8.3f}  "
        f"clean acc {m['acc'][:, 0].mean():.3f}  "
        f"acc at noise {noise_levels[-1]:.1f}: {m['acc'][:, -1].mean():.3f}"
    )

# The power-iteration estimate against the SVD, for the normalized networks: sigma_hat
# never exceeds the top singular value, so each normalized layer has norm >= 1.
sn_norms = np.stack([r[2] for r in rows if use_sn[r[0]] > 0])
print(f"normalized layers: ||W / sigma_hat||_2 in [{sn_norms.min():.4f}, {sn_norms.max():.4f}]")
assert np.all(sn_norms > 1 - 1e-3) and np.all(sn_norms < 1.15)

# %% [markdown]
# ## The Lipschitz facts, and the three decisions


# %%
def paired(d):
    """Mean and standard error over seeds of a per-seed difference."""
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def sign_verdict(d, positive, negative):
    m, se = paired(d)
    return positive if m > 2 * se else negative if m < -2 * se else "no detectable difference"


facts = {}
below = all(r[4] <= float(scale[r[0]]) * np.prod(r[2]) * (1 + 1e-4) for r in rows)
facts["largest Jacobian norm <= bound, every network"] = below
print(f"largest Jacobian norm <= upper bound for every network and seed, met: {below}")
for name in names[1:]:
    c, m = float(scale[names.index(name)]), summary[name]
    in_range = bool(np.all((c <= m["upper"]) & (m["upper"] < 1.5 * c)))
    tight = bool(np.all(m["upper"] / m["lower"] < 1.5))
    facts[f"{name}: bound in [c, 1.5c)"] = in_range
    facts[f"{name}: nearly tight"] = tight
    print(
        f"{name:9s} bound per seed in [{m['upper'].min():.3f}, {m['upper'].max():.3f}], "
        f"in [c, 1.5c) = [{c:g}, {1.5 * c:g}), met: {in_range}; bound / largest Jacobian "
        f"norm in [{(m['upper'] / m['lower']).min():.2f}, {(m['upper'] / m['lower']).max():.2f}]"
        f", < 1.5, met: {tight}"
    )
plain, sn1, sn10 = summary["plain"], summary["SN, c=1"], summary["SN, c=10"]
ratio = plain["lower"].min() / sn1["upper"].max()
facts["plain Jacobian > 10x the c=1 bound"] = bool(ratio > 10)
print(
    f"plain: bound / largest Jacobian norm {(plain['upper'] / plain['lower']).mean():.2f}; "
    f"its smallest largest-Jacobian-norm over seeds {plain['lower'].min():.3f} is "
    f"{ratio:.1f}x the largest c=1 bound, > 10x, met: {ratio > 10}"
)

verdicts = {}
s_max = noise_levels[-1]
for name, sn in [("SN, c=1", sn1), ("SN, c=10", sn10), ("SN, c=30", summary.get("SN, c=30"))]:
    if sn is None:
        continue
    d = sn["acc"][:, -1] - plain["acc"][:, -1]
    m, se = paired(d)
    verdicts[f"1 {name} more robust"] = sign_verdict(d, "more robust", "less robust")
    print(
        f"1. {name} at noise {s_max:.1f}: acc {sn['acc'][:, -1].mean():.3f} vs plain "
        f"{plain['acc'][:, -1].mean():.3f}; paired difference {m:+.3f} ± {se:.3f} (SE), "
        f"2 SE = {2 * se:.3f}: {verdicts[f'1 {name} more robust']}"
    )
d = sn10["acc"][:, 0] - plain["acc"][:, 0]
m, se = paired(d)
equal = bool(-0.01 < m - 2 * se and m + 2 * se < 0.01)
verdicts["2 SN, c=10 equal clean accuracy"] = equal
print(
    f"2. clean acc SN, c=10 {sn10['acc'][:, 0].mean():.3f} vs plain {plain['acc'][:, 0].mean():.3f}"
    f"; paired difference {m:+.4f} ± {se:.4f} (SE), ± 2 SE = [{m - 2 * se:+.4f}, "
    f"{m + 2 * se:+.4f}], inside ±0.01, met: {equal}"
)
d = plain["acc"][:, 0] - sn1["acc"][:, 0]
m, se = paired(d)
costs = bool(m > 2 * se)
verdicts["3 SN, c=1 costs clean accuracy"] = costs
print(
    f"3. clean acc plain {plain['acc'][:, 0].mean():.3f} vs SN, c=1 {sn1['acc'][:, 0].mean():.3f}"
    f"; paired difference {m:+.3f} ± {se:.3f} (SE), 2 SE = {2 * se:.3f}, met: {costs}"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ax = axes[0]
x_pos = np.arange(len(names))
ax.bar(
    x_pos - 0.2,
    [summary[n]["upper"].mean() for n in names],
    0.4,
    label=r"upper: $c\prod_l \|W_l\|_2$",
)
ax.bar(
    x_pos + 0.2,
    [summary[n]["lower"].mean() for n in names],
    0.4,
    label=r"lower: $\max_x \|J_f(x)\|_2$",
)
ax.set_yscale("log")
ax.set_xticks(x_pos, names)
ax.set_ylabel("Lipschitz constant of the logits")
ax.set_title("Measured Lipschitz bounds (mean over seeds)")
ax.legend(frameon=False)
ax = axes[1]
for i, name in enumerate(names):
    ax.plot(
        noise_levels,
        summary[name]["acc"].mean(0),
        "o-",
        color="k" if i == 0 else f"C{i - 1}",
        label=name,
    )
ax.set_xlabel("input noise std s (pixels in [0, 1])")
ax.set_ylabel("test accuracy")
ax.set_title("Robustness to Gaussian input noise")
ax.legend(frameon=False)
savefig(fig, "07_spectral_normalization")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# At full size (MLP 64-256-256-10, 3000 Adam steps, 6 seeds; means over seeds):
#
# * **The bound: reproduces, up to the power iteration's lag.** The plain network's
#   layers have spectral norms 4.85, 7.093 and 2.542, an upper bound of 87.488 on its
#   Lipschitz constant, and its Jacobian reaches 39.364 on test inputs, so its true constant
#   lies between the two (the bound is 2.22 times the Jacobian norm). With spectral
#   normalization every layer has norm between 1.0052 and 1.1374 (not exactly 1: with one
#   power iteration per step, as in the paper, σ̂ lags behind the weights that Adam keeps
#   moving, and σ̂ is always a *lower* estimate of σ₁), so the bound is 1.184 for c = 1,
#   3.532 for c = 3, 12.054 for c = 10 and 31.865 for c = 30, in $[c, 1.5c)$ for every seed
#   (`met: True`). The largest Jacobian norm (1.071, 3.013, 9.316, 23.623) is within a factor
#   1.5 of the bound for every seed (`met: True`): nearly tight. The plain network's
#   Jacobian norm is 27.5x the c = 1 bound (`met: True`).
# * **Robustness to input noise at equal clean accuracy: reproduces (c = 10).** At noise
#   s = 0.8, SN with c = 10 keeps 0.468 accuracy against the plain network's 0.401, a paired
#   difference of +0.066 ± 0.006 (SE), above 2 SE = 0.012: more robust. Its clean accuracy,
#   0.980 against 0.979, differs by +0.0011 ± 0.0014, and the ± 2 SE interval
#   [-0.0016, +0.0039] lies inside the ±0.01 margin: equal clean accuracy.
# * **A smaller c buys more robustness at a price in clean accuracy.** With c = 1 the
#   network keeps 0.509 at s = 0.8 (+0.108 ± 0.009, more robust), but its clean accuracy
#   drops to 0.886 (the plain network is ahead by +0.093 ± 0.004, above 2 SE = 0.008),
#   because a 1-Lipschitz network cannot produce large logit margins on inputs this close
#   together. At c = 30 (bound 31.865, near the plain network's measured 39.364) most of
#   the gain is gone: 0.421 against 0.401, +0.020 ± 0.009, just above 2 SE = 0.018.
# * Miyato et al. apply it to GAN discriminators and claim stable training and better
#   samples; we do not reproduce that. Random-noise robustness of a classifier is our
#   extension, and random noise is far weaker than the adversarial perturbations the
#   Lipschitz bound actually certifies against.
#
# **How the checks changed.** An earlier version compared means over 3 seeds against fixed
# thresholds (robustness gain above 3 points, clean accuracies within 2 points), with no
# account of the seed-to-seed noise. The rules stated above replace them: paired per-seed
# differences over 6 seeds against twice their standard error, and an equivalence margin for
# "equal clean accuracy". The assertions below check the Lipschitz facts, and that each
# verdict the rules computed is the one this text reports.

# %%
# The Lipschitz facts are exact and checked at both sizes. The verdicts of the rules above
# are checked against the outcomes the text reports; at smoke size only claims 1 (c = 1)
# and 3 (too little power for the others in 3 short runs).
for fact, met in facts.items():
    assert met, fact
reported = {
    "1 SN, c=1 more robust": "more robust",
    "1 SN, c=10 more robust": "more robust",
    "1 SN, c=30 more robust": "more robust",
    "2 SN, c=10 equal clean accuracy": True,
    "3 SN, c=1 costs clean accuracy": True,
}
checked = pick(["1 SN, c=1 more robust", "3 SN, c=1 costs clean accuracy"], list(reported))
for claim in checked:
    print(f"{claim}: computed {verdicts[claim]!r}, text {reported[claim]!r}")
    assert verdicts[claim] == reported[claim], (claim, verdicts[claim], reported[claim])
