r"""Proximal steps as optax transforms: exact zeros in any model.

After the base optimizer's update ``u``, the step is
``w⁺ = prox_{η_t·λ·Ω}(w + u)`` and the emitted update is ``w⁺ − w``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import optax

from regjax import _prox
from regjax._checks import check_float_leaf
from regjax._transforms import (
    check_hyperparam,
    evaluate,
    increment,
    reject_none_updates,
    require_params,
    zero_count,
)
from regjax._tree import MaskLike, path_str, resolve_mask, strength_tree


class ProximalState(NamedTuple):
    """State of ``proximal`` and its presets.

    Attributes:
      count: int32 step counter, the argument of scheduled hyperparameters.
    """

    count: jax.Array


_OBJECTIVE = r"""
    **What it minimizes.** After plain SGD with step η (``optax.sgd(lr)`` and
    ``learning_rate=lr``) this is proximal gradient descent (ISTA) on
    ``loss + strength · Ω``: with ``lr <= 1/L`` (L the Lipschitz constant of
    the loss gradient) it converges to that objective's minimizer, with the
    exact zeros of the true solution. After Adam or another preconditioned
    optimizer the step still produces exact zeros, but the prox acts in the
    Euclidean metric while the step acts in the optimizer's: a fixed point
    satisfies ``0 ∈ D·∇loss + λ∂Ω`` with D the optimizer's (diagonal)
    preconditioner, i.e. it is a stationary point of a *reweighted*
    problem (for L1: ``loss + λ Σ_i |w_i| / d_i`` with ``d_i`` Adam's
    ``1/(√v̂_i + ε)``), *not* of ``loss + λ·Ω``. Use it there as a
    sparsifying heuristic; use SGD for the exact objective.

"""


def _with_objective(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Fills the shared paragraph on what a proximal step minimizes into a docstring."""
    fn.__doc__ = (fn.__doc__ or "").replace("    {objective}\n", _OBJECTIVE)
    return fn


def _proximal(
    prox_fn: Callable[[Any, Any], Any],
    strength: Any,
    learning_rate: Any,
    mask: MaskLike,
    *,
    where: str,
    extra_check: Callable[[], None] = lambda: None,
) -> optax.GradientTransformation:
    if not callable(prox_fn):
        raise TypeError(
            f"`{where}(prox_fn=...)` must be a callable `prox_fn(x, threshold) -> x`, such as "
            f"`regjax.prox.l1`; got {type(prox_fn).__name__}."
        )
    check_hyperparam(strength, where=where, name="strength", per_leaf=True)
    check_hyperparam(learning_rate, where=where, name="learning_rate")
    extra_check()

    def init_fn(params: Any) -> ProximalState:
        del params
        return ProximalState(count=zero_count())

    def update_fn(
        updates: Any, state: ProximalState, params: Any = None
    ) -> tuple[Any, ProximalState]:
        require_params(params, where=where)
        reject_none_updates(
            updates,
            where=where,
            why="a proximal step needs an update, possibly zero, for every param: pass "
            "`jnp.zeros_like(p)` where there is none.",
        )
        s = evaluate(strength, state.count, where=where, name="strength")
        lr = evaluate(learning_rate, state.count, where=where, name="learning_rate")
        s_tree = strength_tree(s, params, where=where, name="strength")
        flags = resolve_mask(mask, params, where=where)
        # Checked here, so that a non-float param names this transform's update,
        # not the prox function (or its argument `x`) it is passed on to.
        for (path, p), f in zip(
            jax.tree_util.tree_flatten_with_path(params)[0], jax.tree.leaves(flags), strict=True
        ):
            if f:
                check_float_leaf(
                    p, where=f"{where}(...).update", name="params", path=path_str(path)
                )
        # Leaves left out by the mask become optax.MaskedNode (an empty pytree), so
        # prox_fn only ever sees the leaves it regularizes.
        hide = lambda tree: jax.tree.map(lambda f, x: x if f else optax.MaskedNode(), flags, tree)
        moved = jax.tree.map(lambda p, u: p + u.astype(p.dtype), params, updates)
        thresholds = jax.tree.map(lambda si: lr * si, s_tree)
        proxed = prox_fn(hide(moved), hide(thresholds))
        proxed_leaves = iter(jax.tree.leaves(proxed))

        def emit(f: bool, u: jax.Array, p: jax.Array) -> jax.Array:
            if not f:
                return u
            new = next(proxed_leaves)
            return (new.astype(p.dtype) - p).astype(u.dtype)

        out = jax.tree.map(emit, flags, updates, params)
        return out, ProximalState(count=increment(state.count))

    return optax.GradientTransformation(init_fn, update_fn)


@_with_objective
def proximal(
    prox_fn: Callable[[Any, Any], Any],
    strength: Any,
    learning_rate: Any,
    *,
    mask: MaskLike = None,
) -> optax.GradientTransformation:
    r"""A proximal step after the base optimizer: exact zeros in any model.

    .. math::
       w^+ = \mathrm{prox}_{\eta_t \lambda \Omega}(w + u), \qquad
       \text{emitted update} = w^+ - w

    where ``u`` is the incoming update (the base optimizer's, already scaled by
    its learning rate), η_t the learning rate at step t and λ the strength.
    Place it last in the chain. Leaves left out by ``mask`` pass ``u`` through.
    {objective}
    Args:
      prox_fn: ``prox_fn(x, threshold) -> x``: the proximal operator of
        ``threshold · Ω``, such as ``regjax.prox.l1``. ``x`` holds only the
        masked-in leaves (the others are ``optax.MaskedNode``) and
        ``threshold`` is a pytree of per-leaf ``η_t·λ`` with the same structure.
        Under ``optax.inject_hyperparams`` list it in ``static_args``.
      strength: λ >= 0: a number, a jax array (may be traced), a pytree of
        per-leaf values, or an optax schedule.
      learning_rate: η >= 0: the base optimizer's learning rate (a number, an
        array or the same schedule).
      mask: which leaves to regularize (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> tx = optax.chain(optax.sgd(0.5),
      ...                  regjax.transforms.proximal(regjax.prox.l1, 1.0, 0.5))
      >>> params = jnp.array([2.0, 0.2])
      >>> updates, _ = tx.update(jnp.array([1.0, 0.0]), tx.init(params), params)
      >>> optax.apply_updates(params, updates)  # soft(w - 0.5 g, 0.5)
      Array([1., 0.], dtype=float32)

    References:
      Parikh, N. and Boyd, S. (2014). Proximal Algorithms. Foundations and
      Trends in Optimization 1(3). https://web.stanford.edu/~boyd/papers/prox_algs.html
      Beck, A. and Teboulle, M. (2009). A Fast Iterative Shrinkage-Thresholding
      Algorithm for Linear Inverse Problems. SIAM J. Imaging Sci. 2(1).
      https://doi.org/10.1137/080716542
    """
    return _proximal(prox_fn, strength, learning_rate, mask, where="regjax.transforms.proximal")


@_with_objective
def proximal_l1(
    strength: Any, learning_rate: Any, *, mask: MaskLike = None
) -> optax.GradientTransformation:
    r"""Proximal L1 step (soft-thresholding) after the base optimizer: exact zeros.

    .. math:: w^+ = \mathrm{sign}(v)\max(|v| - \eta_t\lambda, 0), \quad v = w + u

    the prox of ``η_t·λ·penalties.l1``. After ``optax.sgd(lr)`` with
    ``learning_rate=lr`` it is ISTA on ``loss + λ·Σ|w|``; with a mean squared
    loss ``½·mean((Xw − y)²)`` that is scikit-learn's ``Lasso(alpha=λ)``.
    {objective}
    Args:
      strength: λ >= 0: number, array (may be traced), per-leaf pytree or schedule.
      learning_rate: η >= 0 (the base optimizer's): number, array or schedule.
      mask: which leaves to regularize (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> tx = optax.chain(optax.sgd(0.1), regjax.transforms.proximal_l1(0.5, 0.1))
      >>> params = jnp.array([1.0, 0.01])
      >>> updates, _ = tx.update(jnp.array([1.0, -0.3]), tx.init(params), params)
      >>> optax.apply_updates(params, updates)  # soft(w - 0.1 g, 0.05)
      Array([0.85, 0.  ], dtype=float32)

    References:
      Tibshirani, R. (1996). Regression Shrinkage and Selection via the Lasso.
      JRSS B 58(1). https://doi.org/10.1111/j.2517-6161.1996.tb02080.x
      Beck, A. and Teboulle, M. (2009). A Fast Iterative Shrinkage-Thresholding
      Algorithm for Linear Inverse Problems. SIAM J. Imaging Sci. 2(1).
      https://doi.org/10.1137/080716542
    """
    return _proximal(
        lambda x, t: _prox.l1(x, t),
        strength,
        learning_rate,
        mask,
        where="regjax.transforms.proximal_l1",
    )


@_with_objective
def proximal_elastic_net(
    strength: Any, l1_ratio: Any, learning_rate: Any, *, mask: MaskLike = None
) -> optax.GradientTransformation:
    r"""Proximal elastic-net step, in scikit-learn's parametrization.

    The prox of ``η_t·λ·penalties.elastic_net(·, r)``, where
    ``elastic_net(w, r) = r‖w‖₁ + ½(1 − r)‖w‖₂²``:

    .. math:: w^+ = \frac{\mathrm{soft}(v, \eta_t\lambda r)}{1 + \eta_t\lambda(1 - r)}

    After ``optax.sgd(lr)`` with a loss ``½·mean((Xw − y)²)`` it minimizes
    scikit-learn's ``ElasticNet(alpha=λ, l1_ratio=r)`` objective.
    {objective}
    Args:
      strength: λ >= 0: number, array (may be traced), per-leaf pytree or schedule.
      l1_ratio: r in [0, 1]: number or array (may be traced).
      learning_rate: η >= 0 (the base optimizer's): number, array or schedule.
      mask: which leaves to regularize (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> tx = regjax.transforms.proximal_elastic_net(2.0, 0.5, 1.0)
      >>> params = jnp.array([3.0, 0.5])
      >>> updates, _ = tx.update(jnp.zeros(2), tx.init(params), params)
      >>> params + updates  # soft(v, 1) / (1 + 1)
      Array([1., 0.], dtype=float32)

    References:
      Zou, H. and Hastie, T. (2005). Regularization and Variable Selection via
      the Elastic Net. JRSS B 67(2). https://doi.org/10.1111/j.1467-9868.2005.00503.x
    """
    where = "regjax.transforms.proximal_elastic_net"

    def check() -> None:
        from regjax._checks import check_unit_interval

        if callable(l1_ratio):
            raise TypeError(
                f"`{where}(l1_ratio=...)` must be a number or an array (it may be traced), "
                "not a schedule."
            )
        check_unit_interval(l1_ratio, where=where, name="l1_ratio")

    def prox_fn(x: Any, t: Any) -> Any:
        a = jax.tree.map(lambda ti: ti * l1_ratio, t)
        b = jax.tree.map(lambda ti: ti * (1 - l1_ratio) / 2, t)
        return _prox.elastic_net(x, l1=a, l2=b)

    return _proximal(prox_fn, strength, learning_rate, mask, where=where, extra_check=check)


@_with_objective
def proximal_group_lasso(
    strength: Any,
    learning_rate: Any,
    *,
    axis: int | None = 0,
    group_ids: Any = None,
    l1_ratio: Any = 0.0,
    mask: MaskLike = None,
) -> optax.GradientTransformation:
    r"""Proximal group-lasso step (block soft-thresholding): whole groups become zero.

    The prox of ``η_t·λ·penalties.group_lasso`` (same ``axis``, ``group_ids``
    and ``l1_ratio``):

    .. math::
       w^+_g = v_g \max\Big(0,\ 1 - \frac{\eta_t\lambda\sqrt{|g|}}{\|v_g\|_2}\Big)

    With the default ``axis=0``, group i of a ``(in, out)`` kernel is row i,
    everything input feature i feeds, so zeroed rows prune input features.
    {objective}
    Args:
      strength: λ >= 0: number, array (may be traced), per-leaf pytree or schedule.
      learning_rate: η >= 0 (the base optimizer's): number, array or schedule.
      axis: static; the axis whose slices are the groups, or None (whole leaf).
        Under ``optax.inject_hyperparams`` list it in ``static_args`` (an int
        would otherwise be injected as a traced hyperparameter).
      group_ids: static; optional 1-D ids, one per slice along ``axis`` (also
        in ``static_args`` under ``optax.inject_hyperparams``).
      l1_ratio: r in [0, 1], the weight of the L1 part (sparse-group lasso).
      mask: which leaves to regularize (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> tx = regjax.transforms.proximal_group_lasso(1.0 / jnp.sqrt(2.0), 1.0)
      >>> kernel = jnp.array([[3.0, 4.0], [0.3, 0.4]])
      >>> updates, _ = tx.update(jnp.zeros((2, 2)), tx.init(kernel), kernel)
      >>> kernel + updates
      Array([[2.4, 3.2],
             [0. , 0. ]], dtype=float32)

    References:
      Yuan, M. and Lin, Y. (2006). Model Selection and Estimation in Regression
      with Grouped Variables. JRSS B 68(1). https://doi.org/10.1111/j.1467-9868.2005.00532.x
      Simon, N., Friedman, J., Hastie, T. and Tibshirani, R. (2013). A
      Sparse-Group Lasso. JCGS 22(2). https://doi.org/10.1080/10618600.2012.681250
    """
    where = "regjax.transforms.proximal_group_lasso"

    def check() -> None:
        from regjax._checks import check_unit_interval

        check_unit_interval(l1_ratio, where=where, name="l1_ratio")

    def prox_fn(x: Any, t: Any) -> Any:
        return _prox.group_lasso_impl(
            x, t, axis=axis, group_ids=group_ids, l1_ratio=l1_ratio, mask=None, where=where
        )

    return _proximal(prox_fn, strength, learning_rate, mask, where=where, extra_check=check)


@_with_objective
def proximal_nuclear(
    strength: Any, learning_rate: Any, *, mask: MaskLike = None
) -> optax.GradientTransformation:
    r"""Proximal nuclear-norm step (singular-value thresholding): low-rank matrices.

    .. math::
       W^+ = U \max(\Sigma - \eta_t\lambda, 0) V^\top, \quad W + U_\text{upd} = U\Sigma V^\top

    the prox of ``η_t·λ·penalties.nuclear``. Every leaf it applies to must be
    2-D; exclude the others with ``mask=`` (for example
    ``regjax.masks.weights_only``). One SVD per leaf per step.
    {objective}
    Args:
      strength: λ >= 0: number, array (may be traced), per-leaf pytree or schedule.
      learning_rate: η >= 0 (the base optimizer's): number, array or schedule.
      mask: which leaves to regularize (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> tx = regjax.transforms.proximal_nuclear(1.0, 1.0)
      >>> w = jnp.diag(jnp.array([3.0, 0.5]))
      >>> updates, _ = tx.update(jnp.zeros((2, 2)), tx.init(w), w)
      >>> w + updates
      Array([[2., 0.],
             [0., 0.]], dtype=float32)

    References:
      Cai, J.-F., Candès, E. J. and Shen, Z. (2010). A Singular Value
      Thresholding Algorithm for Matrix Completion. SIAM J. Optim. 20(4).
      https://doi.org/10.1137/080738970
    """
    where = "regjax.transforms.proximal_nuclear"
    return _proximal(
        # The leaves it sees are params + updates; a wrong shape is the params'.
        lambda x, t: _prox.nuclear_impl(
            x, t, mask=None, where=f"{where}(...).update", name="params"
        ),
        strength,
        learning_rate,
        mask,
        where=where,
    )
