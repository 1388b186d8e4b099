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
# # Group lasso: selecting categorical factors, not dummy columns
#
# **Claim** (Yuan & Lin 2006). When a predictor is a categorical factor coded by a
# block of dummy columns, the lasso selects individual dummies: a factor ends up
# half in the model, and which dummies survive depends on the arbitrary choice of
# reference level. The group lasso
#
# $$\min_w \frac{1}{2n}\|y - Xw\|^2 + \alpha\sum_g \sqrt{|g|}\,\|w_g\|_2$$
#
# selects whole factors: every block is in or out, and with each block
# orthonormalized (Yuan & Lin's convention, $X_g^\top X_g = n I$) the fit does not
# depend on how the factor is coded. Their simulations also show factor-level models
# that are sparser for the same prediction error.
#
# **Method.** Diabetes has 9 continuous predictors besides `sex`; we turn each into
# a 4-level factor by its quartiles (3 dummy columns, first level as reference) and
# add 9 **null factors**, row-permuted copies that are independent of $y$ by
# construction, so we know which selections are false. The group lasso
# (`regjax.linear.group_lasso_path`, orthonormalized blocks) and the lasso
# (`regjax.linear.lasso_path`, standardized dummies) are fitted on repeated random
# splits into 300 training and 142 test examples, each on the same kind of grid:
# 60 strengths (30 at smoke size), geometric from the strength that zeroes every
# coefficient down to 0.001 of it. Along each path we count the factors in the
# model (a factor is in if any of its dummies is nonzero).
#
# **Choosing a model uses the training set only.** The error of every strength is
# estimated by 5-fold cross-validation inside the training set. For a **budget** of
# $K$ factors, the candidates are the strengths at which the model fitted on the
# whole training set uses at most $K$ factors; the one with the lowest
# cross-validated error is chosen, and only then is its test error computed. $K = 18$
# (no budget) gives the usual cross-validated choice.
#
# **The decision rule, fixed before the computation.** The claim is "the group lasso
# reaches lower test error than the lasso for every budget of factors",
# $K = 1, \dots, 18$. For each budget we take the paired difference
# $d_s = \mathrm{MSE}_\text{lasso} - \mathrm{MSE}_\text{group}$ on split $s$ and call
# the group lasso better at that budget if the mean of $d_s$ exceeds twice its
# standard error. The splits reuse the same 442 examples, so their differences are
# correlated and the plain standard error $\mathrm{sd}(d)/\sqrt{J}$ is too small;
# we use the corrected standard error of Nadeau & Bengio (2003) for repeated random
# splits, $\mathrm{sd}(d)\sqrt{1/J + n_\text{test}/n_\text{train}}$, with $J$ splits.
# The claim holds if the group lasso is better at every budget. The same rule,
# applied to the number of factors, decides whether the cross-validated group-lasso
# model uses fewer factors than the lasso's.

# %%
import jax
import matplotlib.pyplot as plt
import numpy as np
from _nb import pick, savefig
from sklearn.datasets import load_diabetes

import regjax

jax.config.update("jax_enable_x64", True)

data = load_diabetes()
keep = [j for j, name in enumerate(data.feature_names) if name != "sex"]
Z = data.data[:, keep]
y = data.target - data.target.mean()
n = len(y)
levels = 4
rng = np.random.default_rng(0)
Z_null = np.stack([rng.permutation(Z[:, j]) for j in range(Z.shape[1])], axis=1)
ZZ = np.hstack([Z, Z_null])
n_real, n_factors = Z.shape[1], ZZ.shape[1]
factor_names = [data.feature_names[j] for j in keep] + [f"null{j}" for j in range(n_real)]
codes = np.stack(
    [
        np.searchsorted(np.quantile(ZZ[:, j], [0.25, 0.5, 0.75]), ZZ[:, j], side="right")
        for j in range(n_factors)
    ],
    axis=1,
)
groups = np.repeat(np.arange(n_factors), levels - 1)  # one id per dummy column
n_splits = pick(3, 20)
n_train = 300  # the rest, 142 examples, is the test set
n_folds = 5  # cross-validation inside the training set
n_alphas = pick(30, 60)
eps = 1e-3  # the same grid for both methods: alpha_max down to eps * alpha_max
tol = 1e-8
budgets = np.arange(1, n_factors + 1)
print(f"{n} examples; {n_factors} factors of {levels} levels ({n_real} real, {n_real} null) "
      f"x {levels - 1} dummies = "
      f"{len(groups)} columns; {n_splits} splits of {n_train} train / {n - n_train} test; "
      f"{n_folds}-fold CV inside train; {n_alphas} alphas down to {eps:g} alpha_max")  # fmt: skip


def design(reference: int, orthonormal: bool) -> np.ndarray:
    """Dummy coding of every factor with the given reference level, block by block."""
    blocks = []
    for j in range(n_factors):
        D = np.delete(np.eye(levels)[codes[:, j]], reference, axis=1)
        D = D - D.mean(0)
        if orthonormal:  # Yuan & Lin: X_g^T X_g = n I
            D = np.linalg.qr(D)[0] * np.sqrt(n)
        else:
            D = D / D.std(0)
        blocks.append(D)
    return np.hstack(blocks)


def alpha_grid(method, A, b):
    """scikit-learn's default grid: geometric from the strength that zeroes everything."""
    Ac, bc = A - A.mean(0), b - b.mean()
    score = np.abs(Ac.T @ bc) / len(b)
    if method == "group lasso":
        score = np.sqrt(np.bincount(groups, score**2)) / np.sqrt(levels - 1)
    return np.geomspace(score.max(), eps * score.max(), n_alphas)


def fit(method, A, b, alphas):
    if method == "group lasso":
        return regjax.linear.group_lasso_path(A, b, groups, alphas, tol=tol, fit_intercept=True)
    return regjax.linear.lasso_path(A, b, alphas, tol=tol, fit_intercept=True)


def predict(coefs, A_train, b_train, A_new):
    intercept = b_train.mean() - A_train.mean(0) @ coefs
    return A_new @ coefs + intercept


def mse(coefs, A_train, b_train, A_new, b_new):
    """Mean squared error on (A_new, b_new) of every column of coefs."""
    return ((predict(coefs, A_train, b_train, A_new) - b_new[:, None]) ** 2).mean(0)


def factor_counts(coefs):
    """Per alpha: real factors in, null factors in, factors partly in."""
    per = np.stack([(coefs[groups == k] != 0).sum(0) for k in range(n_factors)])
    used = per > 0
    partial = used & (per < levels - 1)
    return used[:n_real].sum(0), used[n_real:].sum(0), partial.sum(0)


def paired_rule(d):
    """Mean of the paired differences d (one per split), its corrected standard error
    (Nadeau & Bengio 2003), and whether the mean exceeds twice that error."""
    J = len(d)
    se = d.std(ddof=1) * np.sqrt(1 / J + (n - n_train) / n_train)
    return d.mean(), se, bool(d.mean() > 2 * se)


# %% [markdown]
# ## The paths on every split

# %%
methods = {"group lasso": design(0, orthonormal=True), "lasso": design(0, orthonormal=False)}
results = {m: [] for m in methods}
for split in range(n_splits):
    perm = np.random.default_rng(100 + split).permutation(n)
    tr, te = perm[:n_train], perm[n_train:]
    folds = np.array_split(np.random.default_rng(200 + split).permutation(tr), n_folds)
    for m, A in methods.items():
        alphas, coefs, gaps = fit(m, A[tr], y[tr], alpha_grid(m, A[tr], y[tr]))
        coefs = np.asarray(coefs)
        test_mse = mse(coefs, A[tr], y[tr], A[te], y[te])  # read only for chosen models
        cv_mse = np.zeros(n_alphas)
        for val in folds:
            sub = np.setdiff1d(tr, val)
            _, c_sub, _ = fit(m, A[sub], y[sub], alphas)
            cv_mse += mse(np.asarray(c_sub), A[sub], y[sub], A[val], y[val]) / n_folds
        real, null, partial = factor_counts(coefs)
        used = real + null
        # For each budget K: the strength with the lowest CV error among those whose
        # training-set model uses at most K factors (the null model always qualifies).
        chosen = np.array([np.argmin(np.where(used <= K, cv_mse, np.inf)) for K in budgets])
        results[m].append(
            dict(
                real=real,
                null=null,
                partial=partial,
                gap_ok=bool(np.all(np.asarray(gaps) <= tol * y[tr] @ y[tr] / n_train)),
                alphas=np.asarray(alphas),
                coefs=coefs,
                test_at_budget=test_mse[chosen],
                used_at_budget=used[chosen],
                k=chosen[-1],  # no budget: the usual cross-validated choice
            )
        )

for m in methods:
    rs = results[m]
    cv = np.array([[r["test_at_budget"][-1], r["real"][r["k"]], r["null"][r["k"]],
                    r["partial"][r["k"]]] for r in rs])  # fmt: skip
    print(
        f"{m:>11}: CV-chosen model: test MSE {cv[:, 0].mean():.0f} (sd {cv[:, 0].std():.0f}), "
        f"real factors {cv[:, 1].mean():.1f}, null factors {cv[:, 2].mean():.1f}, "
        f"partly-in factors {cv[:, 3].mean():.1f}"
    )
    print(f"{'':>11}  factors partly in, max over the path and splits: "
          f"{max(r['partial'].max() for r in rs)}")  # fmt: skip

test_at = {m: np.array([r["test_at_budget"] for r in results[m]]) for m in methods}
used_at = {m: np.array([r["used_at_budget"] for r in results[m]]) for m in methods}
print("\ntest MSE of the CV-chosen model with at most K factors (mean over splits), and the")
print("paired difference lasso - group lasso: mean, corrected SE, better by > 2 SE")
print(f"{'K':>3} {'group':>6} {'lasso':>6} {'diff':>6} {'SE':>5}  better")
better = {}
for i, K in enumerate(budgets):
    d_mean, d_se, better[K] = paired_rule(test_at["lasso"][:, i] - test_at["group lasso"][:, i])
    print(f"{K:3d} {test_at['group lasso'][:, i].mean():6.0f} {test_at['lasso'][:, i].mean():6.0f} "
          f"{d_mean:6.0f} {d_se:5.0f}  {better[K]}")  # fmt: skip
claim_met = all(better.values())
lower_mean = bool(np.all(test_at["lasso"].mean(0) > test_at["group lasso"].mean(0)))
print(f"group lasso lower mean test MSE at every budget, met: {lower_mean}")
better_at = [int(K) for K in budgets if better[K]]
print(f"group lasso better (> 2 SE) at budgets {better_at}")
print(f"claim 'lower test error for every budget of factors', met: {claim_met}")
f_mean, f_se, fewer = paired_rule(
    used_at["lasso"][:, -1].astype(float) - used_at["group lasso"][:, -1]
)
print(f"factors in the CV-chosen model, lasso - group lasso: {f_mean:.1f} (SE {f_se:.1f}); "
      f"fewer factors by > 2 SE, met: {fewer}")  # fmt: skip

# %% [markdown]
# ## Does the fit depend on the dummy coding?
#
# Refit on the first split with the **last** level as reference instead of the first.
# The column space of each block is the same, so an estimator that treats a factor as
# a whole should give the same predictions.

# %%
perm = np.random.default_rng(100).permutation(n)
tr, te = perm[:n_train], perm[n_train:]
coding_diff = {}
for m, A in methods.items():
    A_last = design(levels - 1, orthonormal=m == "group lasso")
    alphas, c_first = results[m][0]["alphas"], results[m][0]["coefs"]  # split 0
    _, c_last, _ = fit(m, A_last[tr], y[tr], alphas)
    p_first = predict(np.asarray(c_first), A[tr], y[tr], A[te])
    p_last = predict(np.asarray(c_last), A_last[tr], y[tr], A_last[te])
    coding_diff[m] = np.abs(p_first - p_last).max()
    print(f"{m:>11}: max |prediction change| over the path = {coding_diff[m]:.2e} "
          f"(y has sd {y.std():.0f})")  # fmt: skip

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
palette = [f"C{i}" for i in (0, 1, 2, 3, 4, 5, 6, 8, 9)]  # tab10 without its grey
for ax, m in zip(axes[:2], methods, strict=True):
    alphas, coefs = results[m][0]["alphas"], results[m][0]["coefs"]
    for k in range(n_factors):
        real = k < n_real
        for i, col in enumerate(np.flatnonzero(groups == k)):
            ax.plot(
                alphas,
                coefs[col],
                color=palette[k] if real else "0.7",
                lw=1.3 if real else 0.8,
                zorder=2 if real else 1,
                label=(factor_names[k] if real else "null factors")
                if i == 0 and (real or k == n_real)
                else None,
            )
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel(r"$\alpha$ (split 0)")
    ax.set_title(f"{m} path: one colour per factor")
axes[0].set_ylabel("coefficient (orthonormalized block)")
axes[1].set_ylabel("coefficient (standardized dummy)")
axes[0].legend(ncol=2, fontsize=7, frameon=False)
ax = axes[2]
for m in methods:
    ax.plot(budgets, test_at[m].mean(0), "o-", ms=4, label=m)
ax.plot(
    better_at,
    test_at["group lasso"].mean(0)[np.asarray(better_at, dtype=int) - 1],
    "k*",
    ms=9,
    label="group lasso better by > 2 SE",
)
ax.set_xlabel("budget: factors in the model (at most)")
ax.set_ylabel("test MSE of the CV-chosen model")
ax.set_title(f"Test error vs factor budget ({n_splits} splits)")
ax.legend(frameon=False)
savefig(fig, "09_group_lasso")
plt.show()

# %% [markdown]
# ## What we got, and how it differs from the paper
#
# Numbers at full size (20 splits of 300 train / 142 test examples, 5-fold CV inside
# each training set):
#
# - **Whole factors.** The group lasso never puts a factor partly in the model, at any
#   strength on any split; the lasso has up to 17 of 18 factors partly in at some
#   strengths (11.8 on average at the cross-validated strength), so its factor-level
#   model is not well defined.
# - **Coding invariance.** With orthonormalized blocks the group-lasso predictions are
#   the same whichever level is the reference (largest change 1.69e-12); the lasso's
#   predictions change by up to 5.47e+01 units of $y$ (sd 77) along the path.
# - **Lower test error for every budget of factors: not met.** The group lasso's mean
#   test MSE is lower than the lasso's at every budget, but by the rule stated above
#   (paired difference larger than twice its corrected standard error) it is better
#   only at budgets 2 to 9 and with no budget (18): e.g. 4439 against 5547 with at most
#   2 factors, 3564 against 4661 with 5. With 1 factor (difference 222, SE 221) and
#   with 10 to 17 (differences of 116 to 148, SEs of 69 to 77) the difference is within
#   the noise of 20 overlapping splits. So the claim holds at budgets 2 to 9 and
#   with no budget, and elsewhere only as a tendency that this data cannot confirm.
# - **Selection.** With no budget the cross-validated group lasso uses 6.2 real + 3.4
#   null factors against the lasso's 7.8 + 5.6, and its test MSE is 3400 (sd 360)
#   against 3545 (sd 396). The lasso uses 3.8 more factors on average, with SE 2.0,
#   so "fewer factors" is also not met by the 2-SE rule, though only just.
#
# **What changed in the assertions.** An earlier version of this notebook took, for
# each budget, the best test error along the path (a choice made on the test set),
# asserted the group lasso lower at a few small budgets, and asserted the chosen model
# no larger and its test error within a fixed margin of the lasso's. Those checks are
# replaced by the cross-validated choice and the paired rule above; since the claim is
# not met by that rule, the final cell asserts that the outcome reported here is the
# one computed.
#
# Differences from the paper: Yuan & Lin simulate factors from latent Gaussians with a
# known sparse truth and compare group lasso with group LARS, group garrote and
# stepwise selection; here the factors are quartiles of real diabetes measurements,
# the "truth" is only known for the permuted null factors, and the comparison is
# with the plain lasso on dummy columns. Null factors are not always excluded by
# either method: selection by prediction error lets in some noise (3.4 of 9 null
# factors for the group lasso), a known trait of tuning the lasso family for
# prediction rather than selection.
#
# Reference: Yuan, M. and Lin, Y. (2006). Model Selection and Estimation in Regression
# with Grouped Variables. JRSS B 68(1), https://doi.org/10.1111/j.1467-9868.2005.00532.x

# %%
# Whole factors in or out, at every strength; the lasso splits factors.
assert all(r["partial"].max() == 0 for r in results["group lasso"])
assert max(r["partial"].max() for r in results["lasso"]) >= 3
assert all(r["gap_ok"] for m in methods for r in results[m])
# Coding invariance: solver precision for the group lasso, not for the lasso.
assert coding_diff["group lasso"] < 1e-6 * y.std(), coding_diff
assert coding_diff["lasso"] > 1.0, coding_diff
# The budget claim, decided by the rule stated before the computation. At full size it
# is not met, and this checks that the text above reports what was computed (budgets
# 2-9 and 18 pass the rule, the mean is lower at every budget, the factor counts do not
# pass). At smoke size (3 splits) the rule is too noisy for the text's outcome, so
# there is nothing to compare with: pick() gives None and only full size is checked.
text_says = pick(
    None,
    dict(claim_met=False, better_at=[2, 3, 4, 5, 6, 7, 8, 9, 18], lower_mean=True, fewer=False),
)
computed = dict(claim_met=claim_met, better_at=better_at, lower_mean=lower_mean, fewer=fewer)
assert text_says is None or computed == text_says, (computed, text_says)
