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
# **Method.** scikit-learn's digits, split half/half into train and test; 40% of the
# training labels are replaced by a different class drawn uniformly (symmetric noise;
# the test labels are clean). A one-hidden-layer ReLU MLP is trained with minibatch
# SGD + momentum for a fixed number of steps, with
# `optax.chain(regjax.transforms.sam(rho, adaptive=...), optax.sgd(lr, momentum=0.9))`.
# `rho` is a traced array, so the whole ρ grid × seeds is **one** `jax.vmap`-ed,
# jitted training program per method (SAM, ASAM); ρ = 0 is plain SGD.
#
# **Sharpness** is the top eigenvalue of the Hessian of the (noisy) training loss at the
# final weights, by power iteration on Hessian–vector products
# (`jax.jvp` of `jax.grad`, never forming the Hessian), cross-checked once against
# SciPy's Lanczos (`scipy.sparse.linalg.eigsh`) on the same operator.

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
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.5, stratify=y, random_state=0
)
noise = 0.4
rng = np.random.default_rng(0)
flipped = rng.random(len(y_train)) < noise
y_noisy = np.where(flipped, (y_train + rng.integers(1, 10, len(y_train))) % 10, y_train)
# A fifth of the noisy training set is held out to choose rho: its labels are noisy too,
# but with symmetric noise, noisy accuracy is an increasing function of clean accuracy.
n_val = len(y_train) // 5
X_val, y_val = jnp.asarray(X_train[:n_val], jnp.float32), jnp.asarray(y_noisy[:n_val], jnp.int32)
X_train, y_noisy = X_train[n_val:], y_noisy[n_val:]

X_train, X_test = jnp.asarray(X_train, jnp.float32), jnp.asarray(X_test, jnp.float32)
y_noisy, y_test = jnp.asarray(y_noisy, jnp.int32), jnp.asarray(y_test, jnp.int32)
n_train = X_train.shape[0]

hidden = pick(64, 256)
steps = pick(400, 2000)
batch = 128
lr = 0.05
n_seeds = pick(2, 3)
sam_rhos = np.array(pick([0.0, 0.05, 0.2, 1.0], [0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]))
asam_rhos = np.array(pick([0.5, 2.0, 5.0], [0.2, 0.5, 1.0, 2.0, 5.0]))
print(
    f"digits: {n_train} train + {n_val} validation ({flipped.mean():.0%} of labels flipped), "
    f"{len(y_test)} clean test; "
    f"MLP 64-{hidden}-10, {steps} steps of batch {batch}, {n_seeds} seeds"
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


def hvp(params, v):
    """Hessian of the full noisy training loss times v, as a jvp of the gradient."""
    grad = lambda p: jax.grad(loss)(p, X_train, y_noisy)
    return jax.jvp(grad, (params,), (v,))[1]


def top_hessian_eigenvalue(params, v, n_iter=50):

    def step(v, _):
        v = jax.tree.map(lambda a: a / jnp.sqrt(tree_dot(v, v)), v)
        hv = hvp(params, v)
        return hv, tree_dot(v, hv)  # Rayleigh quotient of the unit v

    _, rayleigh = jax.lax.scan(step, v, None, length=n_iter)
    return rayleigh[-1]


def train(rho, params, batches, v0, *, adaptive):
    tx = optax.chain(regjax.transforms.sam(rho, adaptive=adaptive), optax.sgd(lr, momentum=0.9))

    def step(carry, idx):
        params, state = carry
        xb, yb = X_train[idx], y_noisy[idx]
        grads = jax.grad(loss)(params, xb, yb)
        updates, state = tx.update(
            grads, state, params, grad_fn=lambda p: jax.grad(loss)(p, xb, yb)
        )
        return (optax.apply_updates(params, updates), state), None

    (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), batches)
    test_acc = jnp.mean(jnp.argmax(apply(params, X_test), -1) == y_test)
    train_acc_noisy = jnp.mean(jnp.argmax(apply(params, X_train), -1) == y_noisy)
    val_acc = jnp.mean(jnp.argmax(apply(params, X_val), -1) == y_val)
    return {
        "test_acc": test_acc,
        "val_acc": val_acc,
        "fit_noisy": train_acc_noisy,
        "sharpness": top_hessian_eigenvalue(params, v0),
        "params": params,
    }


# Per seed: initial weights, minibatch indices, and the power iteration's start vector.
seed_rngs = [np.random.default_rng(1 + s) for s in range(n_seeds)]
inits = jax.tree.map(lambda *a: jnp.stack(a), *[init(r) for r in seed_rngs])
batches = jnp.asarray(np.stack([r.integers(0, n_train, (steps, batch)) for r in seed_rngs]))
starts = jax.tree.map(lambda a: jnp.asarray(np.random.default_rng(99).normal(size=a.shape)), inits)
starts = jax.tree.map(lambda a: a.astype(jnp.float32), starts)
seeds = (inits, batches, starts)
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
        f"{name}: {len(rhos)} rho x {n_seeds} seeds in one program: compiled in "
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
            f"{label:4s} rho={rho:5.2f}: test acc {float(out['test_acc'][i].mean()):.3f} "
            f"(seeds {np.round(np.asarray(out['test_acc'][i]), 3)}), "
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
flat, unflatten = ravel_pytree(sgd_params)
hvp_flat = jax.jit(lambda v: ravel_pytree(hvp(sgd_params, unflatten(v)))[0])
operator = scipy.sparse.linalg.LinearOperator(
    (flat.size, flat.size),
    matvec=lambda v: np.asarray(hvp_flat(jnp.asarray(v, jnp.float32)), np.float64),
    dtype=np.float64,
)
lanczos = scipy.sparse.linalg.eigsh(operator, k=1, which="LA", tol=1e-4, return_eigenvectors=False)
power = float(results["SAM"]["sharpness"][0, 0])
print(f"top Hessian eigenvalue, SGD seed 0: power iteration {power:.4f}, Lanczos {lanczos[0]:.4f}")
assert abs(power - lanczos[0]) < 0.02 * lanczos[0]

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
sgd_acc = float(results["SAM"]["test_acc"][0].mean())
sgd_sharp = float(results["SAM"]["sharpness"][0].mean())
for name, rhos, color in [("SAM", sam_rhos, "C0"), ("ASAM", asam_rhos, "C1")]:
    out = results[name]
    keep = rhos > 0
    for ax, key in zip(axes, ["test_acc", "sharpness"], strict=True):
        vals = np.asarray(out[key])[keep]
        ax.errorbar(rhos[keep], vals.mean(1), yerr=vals.std(1), fmt="o-", color=color, label=name)
axes[0].axhline(sgd_acc, color="k", ls="--", lw=1, label="SGD (ρ = 0)")
axes[1].axhline(sgd_sharp, color="k", ls="--", lw=1, label="SGD (ρ = 0)")
for ax in axes:
    ax.set_xscale("log")
    ax.set_xlabel("ρ")
    ax.legend(frameon=False)
axes[0].set_ylabel("clean test accuracy")
axes[0].set_title(f"Digits, {noise:.0%} symmetric label noise")
axes[1].set_yscale("log")
axes[1].set_ylabel("top eigenvalue of the training-loss Hessian")
axes[1].set_title("Sharpness at the end of training")
savefig(fig, "04_sam_asam_label_noise")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# At full size (MLP 64-256-10, 2000 steps, 3 seeds) plain SGD fits 100% of the noisy
# training labels and ends at clean test accuracy 0.670 with top Hessian eigenvalue 4.26.
#
# * **Flatter: reproduces.** Every SAM and ASAM run ends flatter than SGD, and sharpness
#   falls steadily with ρ: 2.97 at SAM's default ρ = 0.05, 0.58 at ρ = 1 (0.14× SGD's);
#   1.59 at ASAM's default ρ = 0.5, 0.45 at ρ = 5.
# * **More accurate under noise: reproduces, but only at radii far larger than the
#   papers' defaults.** At SAM ρ = 0.05 and ASAM ρ = 0.5 (defaults tuned for ResNets on
#   CIFAR) the networks still memorize every noisy label and test accuracy is unchanged
#   (0.663, 0.674 vs 0.670, within the seed spread): flatter is not by itself better here.
#   The gain appears once ρ is large enough that the network stops fitting the flipped
#   labels: with ρ chosen on a held-out split of the (noisy) training data, SAM
#   (ρ = 1) reaches 0.808 (+13.8 points) and ASAM (ρ = 5) 0.844 (+17.4 points), both
#   at the upper edge of the grid.
# * Foret et al. also found that label noise calls for larger ρ, but ρ values do not
#   transfer between a ResNet on CIFAR-10 and a 64-input MLP (loss scale, gradient norm
#   and parameter count differ), and ASAM's ρ is on its own, |w|-relative scale.
# * At smoke size (64 hidden units, 400 steps) SGD has not memorized the noise yet and
#   the largest radii underfit in so few steps, so the validation choice falls in the
#   middle of the grid; the claims still hold there. We do not reproduce the paper's
#   comparison with noise-robust methods, nor its scale.


# %%
def summary(name, rhos):
    out = {k: np.asarray(results[name][k]).mean(1) for k in ("test_acc", "val_acc", "sharpness")}
    candidates = np.flatnonzero(rhos > 0)
    best = candidates[np.argmax(out["val_acc"][candidates])]  # chosen on noisy validation
    return out, best


sam, sam_best = summary("SAM", sam_rhos)
asam, asam_best = summary("ASAM", asam_rhos)
print(f"SGD:  test acc {sgd_acc:.3f}, sharpness {sgd_sharp:.2f}")
chosen = [("SAM", sam, sam_best, sam_rhos), ("ASAM", asam, asam_best, asam_rhos)]
for name, out, best, rhos in chosen:
    print(
        f"{name:4s} rho chosen on noisy validation = {rhos[best]}: test acc "
        f"{out['test_acc'][best]:.3f} ({out['test_acc'][best] - sgd_acc:+.3f} over SGD), "
        f"sharpness {out['sharpness'][best]:.2f} ({out['sharpness'][best] / sgd_sharp:.2f}x SGD's)"
    )
# Flatter: every SAM / ASAM run ends flatter than SGD, and sharpness falls as rho grows
# (allowing 10% noise between neighbouring radii).
assert np.all(sam["sharpness"][1:] < sgd_sharp) and np.all(asam["sharpness"] < sgd_sharp)
assert np.all(np.diff(sam["sharpness"]) < 0.1 * sam["sharpness"][:-1])
assert np.all(np.diff(asam["sharpness"]) < 0.1 * asam["sharpness"][:-1])
# At the radius chosen on (noisy) validation data: at most 2/3 of SGD's sharpness, and
# at least 3 points more accurate on the clean test set.
for out, best in [(sam, sam_best), (asam, asam_best)]:
    assert out["sharpness"][best] < 2 / 3 * sgd_sharp
    assert out["test_acc"][best] > sgd_acc + 0.03
