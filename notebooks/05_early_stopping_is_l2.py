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
# # Early stopping ≈ L2 regularization
#
# **Claim** (Bishop 1995; Goodfellow et al. 2016, §7.8). For linear least squares,
# gradient descent from $w_0 = 0$ with step $\eta$, stopped after $t$ steps, lands
# close to the ridge solution with $\lambda \approx 1/(\eta t)$.
#
# Why: in the eigenbasis of $S = X^\top X / n$ (eigenvalues $s_k$), gradient descent on
# $\tfrac{1}{2n}\|y - Xw\|^2$ gives $w_{t,k} = \big(1 - (1 - \eta s_k)^t\big)\, w^*_k$,
# while ridge with penalty $\tfrac{\lambda}{2}\|w\|^2$ gives
# $w_{\lambda,k} = \frac{s_k}{s_k + \lambda}\, w^*_k$. Both shrink the small-eigenvalue
# directions most; for $\eta s_k \ll 1$ the two filters agree when $\lambda \approx 1/(\eta t)$.
#
# We check it on scikit-learn's diabetes data (standardized): run gradient descent with
# JAX, compute the whole ridge path with `regjax.linear.ridge_path` (one SVD), and find
# for each $t$ the ridge strength whose solution is closest to $w_t$.

# %%
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from _nb import pick, savefig
from sklearn.datasets import load_diabetes

import regjax

jax.config.update("jax_enable_x64", True)

X, y = load_diabetes(return_X_y=True)
X = (X - X.mean(0)) / X.std(0)
y = y - y.mean()
n, p = X.shape
eta = 0.05
n_steps = pick(2_000, 20_000)
print(f"diabetes: n={n}, p={p}; gradient descent with eta={eta}, {n_steps} steps")

# %% [markdown]
# ## The gradient-descent trajectory

# %%
Xj, yj = jnp.asarray(X), jnp.asarray(y)


def gd_step(w, _):
    grad = Xj.T @ (Xj @ w - yj) / n
    w = w - eta * grad
    return w, w


_, trajectory = jax.lax.scan(gd_step, jnp.zeros(p), None, length=n_steps)
trajectory = np.asarray(trajectory)  # row t-1 is w_t

# %% [markdown]
# ## The ridge path, and the closest ridge solution to each $w_t$
#
# `ridge_path` uses scikit-learn `Ridge`'s objective $\|y - Xw\|^2 + \alpha\|w\|^2$,
# so $\alpha = n\lambda$ in the notation above.

# %%
lambdas = np.logspace(-5, 3, pick(400, 2_000))
coefs, _ = regjax.linear.ridge_path(X, y, n * lambdas, fit_intercept=False)
coefs = np.asarray(coefs).T  # (n_lambdas, p)

steps = np.unique(np.logspace(0, np.log10(n_steps), pick(25, 60)).astype(int))
matched, gaps = [], []
for t in steps:
    w_t = trajectory[t - 1]
    dist = np.linalg.norm(coefs - w_t, axis=1)
    k = int(np.argmin(dist))
    matched.append(lambdas[k])
    gaps.append(dist[k] / np.linalg.norm(w_t))
matched, gaps = np.asarray(matched), np.asarray(gaps)
predicted = 1.0 / (eta * steps)

every = max(len(steps) // 8, 1)
for t, lam, pred, gap in list(zip(steps, matched, predicted, gaps, strict=True))[::every]:
    print(
        f"t={t:6d}  best ridge lambda={lam:10.4g}  1/(eta t)={pred:10.4g}  "
        f"ratio={lam / pred:5.2f}  relative distance={gap:.3f}"
    )

# %%
s_k = np.linalg.eigvalsh(X.T @ X / n)  # the spectrum both filters act on
fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
ax = axes[0]
t_axis = 1.0 / (eta * np.arange(1, n_steps + 1))
for j in range(p):
    (line,) = ax.plot(t_axis, trajectory[:, j], lw=1.5)
    ax.plot(lambdas, coefs[:, j], ls="--", lw=1, color=line.get_color())
ax.set_xscale("log")
ax.invert_xaxis()
ax.set_xlabel(r"$\lambda$  (ridge, dashed)   /   $1/(\eta t)$  (gradient descent, solid)")
ax.set_ylabel("coefficient")
ax.set_title("Gradient-descent trajectory vs ridge path, diabetes")
ax = axes[1]
ax.loglog(predicted, matched, "o", ms=3, label=r"closest ridge $\lambda$ to $w_t$")
ax.loglog(predicted, predicted, "k--", lw=1, label=r"$\lambda = 1/(\eta t)$")
ax.axvspan(s_k.min(), s_k.max(), color="0.9", zorder=0, label=r"$s_{\min} < 1/(\eta t) < s_{\max}$")
ax.set_xlabel(r"$1/(\eta t)$")
ax.set_ylabel(r"matched $\lambda$")
ax.legend(frameon=False)
ax.set_title("Matched ridge strength")
savefig(fig, "05_early_stopping_is_l2")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the claim
#
# The correspondence is meaningful while the filters are still filtering: once
# $1/(\eta t)$ falls below the smallest eigenvalue $s_{\min}$ of $X^\top X/n$,
# gradient descent has converged in every direction, $w_t \approx w_{\text{OLS}}$, and
# every small $\lambda$ matches equally well (the matched λ is then meaningless, and it
# drifts far from $1/(\eta t)$). Before $1/(\eta t)$ drops below $s_{\max}$ nothing has
# been learned yet. In between, the matched ridge strength tracks $1/(\eta t)$ within a
# constant factor (about 0.35 to 0.9 here, not 1: the spectral filters
# $1-(1-\eta s)^t$ and $s/(s+\lambda)$ have different shapes, so "≈" is the honest
# word), and the ridge solution at that strength is within about 15% of $w_t$.

# %%
print(f"eigenvalues of X^T X / n: min {s_k.min():.4g}, max {s_k.max():.4g}")
middle = (predicted > s_k.min()) & (predicted < s_k.max())
ratio = matched[middle] / predicted[middle]
print(
    f"{middle.sum()} checkpoints with s_min < 1/(eta t) < s_max: ratio lambda/(1/(eta t)) in "
    f"[{ratio.min():.2f}, {ratio.max():.2f}], worst relative distance {gaps[middle].max():.3f}"
)
late = predicted < s_k.min()
if late.any():
    print(
        f"after convergence (1/(eta t) < s_min): ratio down to "
        f"{(matched[late] / predicted[late]).min():.3f}, as expected"
    )
# The claim, checked: a constant-factor match and a close solution, not a tuned margin.
assert middle.sum() >= 5
assert np.all((ratio > 1 / 3) & (ratio < 3)), ratio
assert gaps[middle].max() < 0.15, gaps[middle].max()
# The matched strength decreases as training goes on (more steps = less regularization).
assert np.all(np.diff(matched) <= 0)
