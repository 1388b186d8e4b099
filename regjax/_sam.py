"""Sharpness-aware minimization (SAM) and adaptive SAM (ASAM).

One SAM step: ascend to ``w + ε`` with ``ε = ρ·g/‖g‖`` (ASAM:
``ε = ρ·T²g/‖Tg‖``, ``T = |w| + η``), take the gradient there, and hand it to
the base optimizer, which updates the *unperturbed* weights ``w``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from regjax._checks import check_nonnegative
from regjax._transforms import (
    check_hyperparam,
    evaluate,
    increment,
    reject_none_updates,
    require_params,
    zero_count,
)
from regjax._tree import MaskLike, accumulation_dtype, resolve_mask


class SAMState(NamedTuple):
    """State of ``sam``.

    Attributes:
      count: int32 step counter, the argument of a scheduled ``rho``.
    """

    count: jax.Array


def _perturbation(
    grads: Any, params: Any, rho: Any, flags: Any, *, adaptive: bool, eta: Any, eps: Any
) -> Any:
    """ε per leaf (zero where the mask is False), in each leaf's dtype.

    The norm is taken over the perturbed (masked-in) leaves only, in at least
    float32. A zero gradient gives ε = 0, not NaN, whatever ``eps`` is."""

    def scaled(f: bool, g: jax.Array, p: jax.Array) -> jax.Array | None:
        if not f:
            return None
        acc = accumulation_dtype(g.dtype)
        g = g.astype(acc)
        if adaptive:
            t = jnp.abs(p.astype(acc)) + jnp.asarray(eta).astype(acc)
            return t, t * g
        return None, g

    pairs = jax.tree.map(scaled, flags, grads, params)
    is_pair = lambda x: isinstance(x, tuple) and len(x) == 2 and not hasattr(x, "_fields")
    pair_leaves = [x for x in jax.tree.leaves(pairs, is_leaf=is_pair) if is_pair(x)]
    if not pair_leaves:
        return jax.tree.map(jnp.zeros_like, params)
    sq = [jnp.sum(tg * tg) for _, tg in pair_leaves]
    acc = max((s.dtype for s in sq), key=lambda d: np.dtype(d).itemsize)
    norm = jnp.sqrt(sum(s.astype(acc) for s in sq))
    positive = norm > 0
    denom = jnp.where(positive, norm, 1) + jnp.asarray(eps).astype(acc)
    coef = jnp.where(positive, jnp.asarray(rho).astype(acc) / denom, 0)

    def eps_leaf(pair: Any, p: jax.Array) -> jax.Array:
        if pair is None:
            return jnp.zeros_like(p)
        t, tg = pair
        e = coef.astype(tg.dtype) * (tg if t is None else t * tg)
        return e.astype(p.dtype)

    return jax.tree.map(eps_leaf, pairs, params, is_leaf=lambda x: x is None or is_pair(x))


def _split_aux(out: Any, params: Any, *, where: str) -> tuple[Any, Any]:
    """``grad_fn``'s output as (grads, aux); aux is None when it returned grads only."""
    s_par = jax.tree.structure(params)
    if jax.tree.structure(out) == s_par:
        return out, None
    if isinstance(out, tuple) and len(out) == 2 and jax.tree.structure(out[0]) == s_par:
        return out
    raise ValueError(
        f"`{where}(...).update(grad_fn=...)` must return gradients with the structure of the "
        f"params, or a pair (grads, aux); got {jax.tree.structure(out)} for params {s_par}."
    )


def _check_static(where: str, rho: Any, eta: Any, eps: Any, adaptive: Any) -> None:
    check_hyperparam(rho, where=where, name="rho")
    if not callable(eta):
        check_nonnegative(eta, where=where, name="eta")
    else:
        raise TypeError(f"`{where}(eta=...)` must be a number or an array, not a schedule.")
    check_nonnegative(eps, where=where, name="eps")
    if not isinstance(adaptive, bool | np.bool_):
        raise TypeError(f"`{where}(adaptive=...)` must be a Python bool; got {adaptive!r}.")


def sam(
    rho: Any,
    *,
    adaptive: bool = False,
    eta: Any = 0.01,
    eps: Any = 1e-12,
    mask: MaskLike = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Sharpness-aware minimization (SAM, or ASAM with ``adaptive=True``) as a transform.

    Given the gradient ``g = ∇L(w)`` (the incoming update), it perturbs the weights
    and replaces ``g`` by the gradient at the perturbed point:

    .. math::
       \varepsilon = \rho\,\frac{g}{\|g\| + \epsilon_0} \;\;\text{(SAM)}, \qquad
       \varepsilon = \rho\,\frac{T^2 g}{\|T g\| + \epsilon_0},\; T = |w| + \eta
       \;\;\text{(ASAM)}, \qquad
       u = \nabla L(w + \varepsilon)

    Place it *first*, before the base optimizer:
    ``optax.chain(regjax.transforms.sam(0.05), optax.sgd(0.1))``. Its ``update``
    takes ``update(grads, state, params, *, grad_fn)`` where
    ``grad_fn(params) -> grads`` (or ``-> (grads, aux)``) is the user's closure
    over the current batch. ``grad_fn`` is called once, at ``w + ε``; its aux is
    discarded, so the aux you keep (batch-norm statistics, metrics) is the one
    from your own unperturbed pass that produced ``grads``, as in the SAM
    authors' code. A zero gradient gives ``ε = 0`` (no NaN). Leaves left out
    by ``mask`` are not perturbed and do not enter the norm.

    For m-sharpness (an independent ε per micro-batch) use
    :func:`sam_value_and_grad` with ``micro_batch_size=m`` and feed its
    gradients to the base optimizer directly.

    Args:
      rho: ρ >= 0, the radius: a number, a jax array (may be traced: vmap a
        training run over a grid of ρ) or an optax schedule. A scalar (the norm
        is global, so per-leaf radii are not offered).
      adaptive: static; False for SAM, True for ASAM.
      eta: η >= 0 of ASAM's ``T = |w| + η`` (ignored by SAM).
      eps: ε₀ >= 0 added to the norm, as in the authors' code.
      mask: which leaves to perturb (a regjax/optax mask); None for all.

    Returns:
      An ``optax.GradientTransformationExtraArgs``. ``update`` needs ``params``
      and the keyword ``grad_fn``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import regjax
      >>> loss = lambda w: jnp.sum(w ** 4)
      >>> tx = optax.chain(regjax.transforms.sam(0.1), optax.sgd(0.1))
      >>> w = jnp.array([1.0, 0.0])
      >>> updates, _ = tx.update(jax.grad(loss)(w), tx.init(w), w, grad_fn=jax.grad(loss))
      >>> updates  # -0.1 * 4 * (1 + 0.1)**3
      Array([-0.5324,  0. ], dtype=float32)

    References:
      Foret, P., Kleiner, A., Mobahi, H. and Neyshabur, B. (2021).
      Sharpness-Aware Minimization for Efficiently Improving Generalization.
      ICLR. https://arxiv.org/abs/2010.01412
      Kwon, J., Kim, J., Park, H. and Choi, I. K. (2021). ASAM: Adaptive
      Sharpness-Aware Minimization for Scale-Invariant Learning of Deep Neural
      Networks. ICML. https://arxiv.org/abs/2102.11600
    """
    where = "regjax.transforms.sam"
    _check_static(where, rho, eta, eps, adaptive)

    def init_fn(params: Any) -> SAMState:
        del params
        return SAMState(count=zero_count())

    def update_fn(
        updates: Any,
        state: SAMState,
        params: Any = None,
        *,
        grad_fn: Callable[[Any], Any] | None = None,
        **extra_args: Any,
    ) -> tuple[Any, SAMState]:
        del extra_args
        require_params(params, where=where)
        if grad_fn is None:
            raise ValueError(
                f"`{where}(...).update` needs `grad_fn=`: call "
                "`update(grads, state, params, grad_fn=lambda p: jax.grad(loss)(p, batch))` "
                "with a closure over the current batch."
            )
        if not callable(grad_fn):
            raise TypeError(
                f"`{where}(...).update(grad_fn=...)` must be a callable params -> grads; got "
                f"{type(grad_fn).__name__}."
            )
        reject_none_updates(
            updates,
            where=where,
            why="SAM needs the gradient of every param: pass `jnp.zeros_like(p)` where there "
            "is none, and keep those params out of the perturbation with `mask=`.",
        )
        new_state = SAMState(count=increment(state.count))
        if isinstance(rho, int | float) and rho == 0:
            return updates, new_state
        r = evaluate(rho, state.count, where=where, name="rho")
        flags = resolve_mask(mask, params, where=where)
        e = _perturbation(updates, params, r, flags, adaptive=adaptive, eta=eta, eps=eps)
        perturbed = jax.tree.map(lambda p, ei: p + ei, params, e)
        grads, _ = _split_aux(grad_fn(perturbed), params, where=where)
        grads = jax.tree.map(lambda g, u: g.astype(u.dtype), grads, updates)
        return grads, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def sam_value_and_grad(
    loss_fn: Callable[..., Any],
    rho: Any,
    *,
    adaptive: bool = False,
    eta: Any = 0.01,
    eps: Any = 1e-12,
    mask: MaskLike = None,
    has_aux: bool = False,
    micro_batch_size: int | None = None,
    batch_argnum: int = 1,
) -> Callable[..., tuple[Any, Any]]:
    r"""SAM/ASAM as a function transform: like ``jax.value_and_grad``, at ``w + ε``.

    .. math::
       \varepsilon = \rho\,\frac{T^2 \nabla L(w)}{\|T\nabla L(w)\| + \epsilon_0},
       \qquad \text{returns}\ \big(L(w),\ \nabla L(w + \varepsilon)\big)

    with ``T = 1`` for SAM and ``T = |w| + η`` for ASAM. The value (and aux)
    are those of the unperturbed pass. For users outside optax; inside optax
    use :func:`sam`.

    **m-sharpness.** With ``micro_batch_size=m``, the argument ``batch_argnum``
    (a pytree of arrays with a leading example axis of size ``n``, a multiple
    of m) is split into ``n/m`` micro-batches; each gets its own ε from its own
    gradient, and the returned gradient is the mean of the per-micro-batch
    SAM gradients (Foret et al. 2021, §4). The value is the mean of the
    micro-batch losses; aux is stacked along a new leading axis. Micro-batches
    run under ``jax.vmap``.

    Args:
      loss_fn: ``loss_fn(params, *args) -> scalar`` (``-> (scalar, aux)`` with
        ``has_aux``).
      rho: ρ >= 0: a number or a jax array (may be traced).
      adaptive: static; False for SAM, True for ASAM.
      eta: η >= 0 of ASAM's ``T = |w| + η``.
      eps: ε₀ >= 0 added to the norm.
      mask: which leaves to perturb (a regjax/optax mask); None for all.
      has_aux: static; whether ``loss_fn`` returns ``(loss, aux)``.
      micro_batch_size: static; m for m-sharpness, or None (one ε for the batch).
      batch_argnum: static; which positional argument of ``loss_fn`` is the batch.

    Returns:
      A function ``(params, *args) -> (value, grads)`` where ``value`` is the loss
      (or ``(loss, aux)``) at ``params`` and ``grads`` the SAM gradient.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> loss = lambda w, scale: scale * jnp.sum(w ** 4)
      >>> f = regjax.transforms.sam_value_and_grad(loss, 0.1)
      >>> value, grads = f(jnp.array([1.0, 0.0]), 1.0)
      >>> float(value), grads  # 4 * (1 + 0.1)**3 at w + ε
      (1.0, Array([5.324, 0.   ], dtype=float32))

    References:
      Foret, P., Kleiner, A., Mobahi, H. and Neyshabur, B. (2021).
      Sharpness-Aware Minimization for Efficiently Improving Generalization.
      ICLR. https://arxiv.org/abs/2010.01412
      Kwon, J., Kim, J., Park, H. and Choi, I. K. (2021). ASAM: Adaptive
      Sharpness-Aware Minimization for Scale-Invariant Learning of Deep Neural
      Networks. ICML. https://arxiv.org/abs/2102.11600
    """
    where = "regjax.transforms.sam_value_and_grad"
    if not callable(loss_fn):
        raise TypeError(f"`{where}(loss_fn=...)` must be callable; got {type(loss_fn).__name__}.")
    if callable(rho):
        raise TypeError(
            f"`{where}(rho=...)` must be a number or an array: a function transform has no "
            "step counter. Evaluate the schedule yourself, `rho=schedule(step)`."
        )
    _check_static(where, rho, eta, eps, adaptive)
    if micro_batch_size is not None and (
        not isinstance(micro_batch_size, int | np.integer) or micro_batch_size < 1
    ):
        raise ValueError(
            f"`{where}(micro_batch_size=...)` must be a positive int or None; got "
            f"{micro_batch_size!r}."
        )
    if not isinstance(batch_argnum, int) or batch_argnum < 1:
        raise ValueError(
            f"`{where}(batch_argnum=...)` must be an int >= 1 (0 is the params); got "
            f"{batch_argnum!r}."
        )
    vg = jax.value_and_grad(loss_fn, has_aux=has_aux)
    g_only = jax.grad(loss_fn, has_aux=has_aux)

    def one(params: Any, *args: Any) -> tuple[Any, Any]:
        value, grads = vg(params, *args)
        flags = resolve_mask(mask, params, where=where)
        e = _perturbation(grads, params, rho, flags, adaptive=adaptive, eta=eta, eps=eps)
        perturbed = jax.tree.map(lambda p, ei: p + ei, params, e)
        out = g_only(perturbed, *args)
        return value, (out[0] if has_aux else out)

    if micro_batch_size is None:
        return one

    m = int(micro_batch_size)

    def micro(params: Any, *args: Any) -> tuple[Any, Any]:
        if len(args) < batch_argnum:
            raise ValueError(
                f"`{where}(batch_argnum={batch_argnum})`: the function got only "
                f"{len(args)} argument(s) after the params."
            )
        batch = args[batch_argnum - 1]
        sizes = {np.shape(x)[0] if np.ndim(x) else None for x in jax.tree.leaves(batch)}
        if len(sizes) != 1 or None in sizes or next(iter(sizes)) % m:
            raise ValueError(
                f"`{where}(micro_batch_size={m})`: every leaf of the batch (argument "
                f"{batch_argnum}) needs the same leading size, a multiple of {m}; got leading "
                f"sizes {sorted(map(str, sizes))}."
            )
        n = next(iter(sizes))
        split = jax.tree.map(lambda x: x.reshape(n // m, m, *x.shape[1:]), batch)

        def per_micro(b: Any) -> tuple[Any, Any]:
            new_args = list(args)
            new_args[batch_argnum - 1] = b
            return one(params, *new_args)

        value, grads = jax.vmap(per_micro)(split)
        grads = jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
        if has_aux:
            loss, aux = value
            return (jnp.mean(loss, axis=0), aux), grads
        return jnp.mean(value, axis=0), grads

    return micro
