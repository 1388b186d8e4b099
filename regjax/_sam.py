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
from jax.experimental import checkify as _checkify

from regjax._checks import _CHECKS_ENABLED, check_nonnegative
from regjax._transforms import (
    check_hyperparam,
    evaluate,
    increment,
    reject_none_updates,
    require_params,
    zero_count,
)
from regjax._tree import MaskLike, accumulation_dtype, path_names, path_str, resolve_mask


class SAMState(NamedTuple):
    """State of ``sam`` as a chain element (no ``base_optimizer``).

    Attributes:
      count: int32 step counter, the argument of a scheduled ``rho``.
    """

    count: jax.Array


class SAMWithBaseState(NamedTuple):
    """State of ``sam(..., base_optimizer=opt)``.

    Attributes:
      count: int32 step counter, the argument of a scheduled ``rho``.
      base_state: the state of the wrapped base optimizer.
    """

    count: jax.Array
    base_state: Any


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
    # `== 0` rather than `> 0` so that a NaN norm (a NaN gradient) gives a NaN
    # ε, and a visibly NaN result, instead of silently skipping the ascent.
    zero = norm == 0
    denom = jnp.where(zero, 1, norm) + jnp.asarray(eps).astype(acc)
    coef = jnp.where(zero, 0, jnp.asarray(rho).astype(acc) / denom)

    def eps_leaf(pair: Any, p: jax.Array) -> jax.Array:
        if pair is None:
            return jnp.zeros_like(p)
        t, tg = pair
        e = coef.astype(tg.dtype) * (tg if t is None else t * tg)
        return e.astype(p.dtype)

    return jax.tree.map(eps_leaf, pairs, params, is_leaf=lambda x: x is None or is_pair(x))


def _as_params_tree(out: Any, params: Any) -> Any | None:
    """``out`` in the params' structure, or None if its leaves do not match them.

    Accepts the same structure, and also a tree whose leaves sit at the same
    paths once wrapper nodes with one child are looked through: ``nnx.grad``
    returns an ``nnx.State`` of ``nnx.Param`` variables (each leaf under
    ``.value``) while ``nnx.Optimizer`` hands the transform pure arrays."""
    s_par = jax.tree.structure(params)
    if jax.tree.structure(out) == s_par:
        return out
    got = jax.tree_util.tree_flatten_with_path(out)[0]
    want = jax.tree_util.tree_flatten_with_path(params)[0]
    if len(got) != len(want):
        return None
    for (pg, g), (pw, w) in zip(got, want):
        if path_names(pg) != path_names(pw) or np.shape(g) != np.shape(w):
            return None
    return jax.tree.unflatten(s_par, [g for _, g in got])


def _split_aux(out: Any, params: Any, *, where: str) -> tuple[Any, Any]:
    """``grad_fn``'s output as (grads, aux); aux is None when it returned grads only."""
    grads = _as_params_tree(out, params)
    if grads is not None:
        return grads, None
    if isinstance(out, tuple) and len(out) == 2:
        grads = _as_params_tree(out[0], params)
        if grads is not None:
            return grads, out[1]
    want = [path_str(p) or "<root>" for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
    got_tree = out[0] if isinstance(out, tuple) and len(out) == 2 else out
    got = [path_str(p) or "<root>" for p, _ in jax.tree_util.tree_flatten_with_path(got_tree)[0]]
    missing = sorted(set(want) - set(got))[:5]
    extra = sorted(set(got) - set(want))[:5]
    raise ValueError(
        f"`{where}(...).update(grad_fn=...)` must return gradients for exactly the params it "
        f"is given (same leaf paths and shapes), or a pair (grads, aux); the params have "
        f"{len(want)} leaves, grad_fn returned {len(got)}"
        + (f"; missing {missing}" if missing else "")
        + (f"; not params {extra}" if extra else "")
        + ". With nnx.Optimizer(..., wrt=nnx.Param), differentiate with respect to the same "
        "filter, e.g. `nnx.grad(loss)` (nnx.Param by default)."
    )


def _check_updates_are_a_gradient(
    updates: Any, params: Any, grad_fn: Callable[[Any], Any], *, where: str
) -> None:
    """Opt-in (``regjax.checks.checkify``) check that ``updates`` is a gradient.

    Placed after the base optimizer, ``sam`` receives a descent step, whose
    inner product with the gradient is negative for any optimizer with a
    positive (diagonal) preconditioner; the raw gradient has cosine 1 with
    itself. Costs one more ``grad_fn`` call, so it runs only when asked for."""
    g0, _ = _split_aux(grad_fn(params), params, where=where)
    us, gs = jax.tree.leaves(updates), jax.tree.leaves(g0)
    acc = max((accumulation_dtype(u.dtype) for u in us), key=lambda d: d.itemsize)
    dot = sum(jnp.vdot(u.astype(acc), g.astype(acc)) for u, g in zip(us, gs))
    nu = jnp.sqrt(sum(jnp.vdot(u.astype(acc), u.astype(acc)) for u in us))
    ng = jnp.sqrt(sum(jnp.vdot(g.astype(acc), g.astype(acc)) for g in gs))
    both = (nu > 0) & (ng > 0)
    cos = jnp.where(both, dot / jnp.where(both, nu * ng, 1), 0)
    _checkify.check(
        ~(cos < 0),
        f"`{where}(...).update(updates=...)` points against the gradient grad_fn(params) "
        "(cosine {cos}): sam was given a descent step, not a gradient, so it would climb "
        "the loss. Place it first, `optax.chain(regjax.transforms.sam(rho), opt)`, or use "
        "`regjax.transforms.sam(rho, base_optimizer=opt)`.",
        cos=cos,
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
    base_optimizer: optax.GradientTransformation | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Sharpness-aware minimization (SAM, or ASAM with ``adaptive=True``) as a transform.

    Given the gradient ``g = ∇L(w)`` (the incoming update), it perturbs the weights
    and replaces ``g`` by the gradient at the perturbed point:

    .. math::
       \varepsilon = \rho\,\frac{g}{\|g\| + \epsilon_0} \;\;\text{(SAM)}, \qquad
       \varepsilon = \rho\,\frac{T^2 g}{\|T g\| + \epsilon_0},\; T = |w| + \eta
       \;\;\text{(ASAM)}, \qquad
       u = \nabla L(w + \varepsilon)

    **Recommended: the wrapper form**, ``sam(rho, base_optimizer=opt)``, like
    ``optax.contrib.sam(optimizer, ...)``: SAM's gradient goes to ``opt``, whose
    updates are returned, so the order cannot be wrong. Without
    ``base_optimizer`` it is a chain element that must come *first*:
    ``optax.chain(regjax.transforms.sam(0.05), optax.sgd(0.1))``. Placed after
    the base optimizer it sees a descent step instead of a gradient, perturbs
    *downhill* and emits a raw gradient that ``optax.apply_updates`` adds:
    the loss climbs. Under :func:`regjax.checks.checkify` it reports this (at
    the cost of one more ``grad_fn`` call per step): the incoming updates must
    not point against ``grad_fn(params)``. That check assumes ``grad_fn`` is
    the gradient that produced ``grads``; with a stochastic ``grad_fn``
    (dropout with fresh keys) two draws could, rarely, disagree in sign.

    Its ``update`` takes ``update(grads, state, params, *, grad_fn)`` where
    ``grad_fn(params) -> grads`` (or ``-> (grads, aux)``) is the user's closure
    over the current batch. ``grad_fn`` is called once, at ``w + ε``; its aux is
    discarded, so the aux you keep (batch-norm statistics, metrics) is the one
    from your own unperturbed pass that produced ``grads``, as in the SAM
    authors' code. ``grad_fn`` may return a tree with the params' structure or
    one with the same leaf paths, such as the ``nnx.State`` of ``nnx.Param``
    that ``nnx.grad`` returns, while ``nnx.Optimizer`` passes pure arrays (see
    the example). A zero gradient gives ``ε = 0`` (no NaN). Leaves left out
    by ``mask`` are not perturbed and do not enter the norm. Extra keyword
    arguments other than ``grad_fn`` go to ``base_optimizer``.

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
      base_optimizer: the optimizer that takes SAM's gradient, e.g.
        ``optax.sgd(0.1)``; its updates are returned. None for the chain
        element, which returns SAM's gradient.

    Returns:
      An ``optax.GradientTransformationExtraArgs``. ``update`` needs ``params``
      and the keyword ``grad_fn``.

    Examples:
      >>> import jax, jax.numpy as jnp, optax
      >>> import regjax
      >>> loss = lambda w: jnp.sum(w ** 4)
      >>> tx = regjax.transforms.sam(0.1, base_optimizer=optax.sgd(0.1))
      >>> w = jnp.array([1.0, 0.0])
      >>> updates, _ = tx.update(jax.grad(loss)(w), tx.init(w), w, grad_fn=jax.grad(loss))
      >>> updates  # -0.1 * 4 * (1 + 0.1)**3
      Array([-0.5324,  0. ], dtype=float32)
      >>> tx = optax.chain(regjax.transforms.sam(0.1), optax.sgd(0.1))  # chain: SAM first
      >>> tx.update(jax.grad(loss)(w), tx.init(w), w, grad_fn=jax.grad(loss))[0]
      Array([-0.5324,  0. ], dtype=float32)

      With ``nnx.Optimizer``, ``grad_fn`` puts the params it is given into a
      copy of the model and returns what ``nnx.grad`` returns:

      >>> from flax import nnx
      >>> model = nnx.Linear(3, 1, rngs=nnx.Rngs(0))
      >>> x, y = jnp.ones((4, 3)), jnp.zeros((4, 1))
      >>> loss_fn = lambda m: jnp.mean((m(x) - y) ** 2)
      >>> tx = regjax.transforms.sam(0.05, base_optimizer=optax.sgd(0.1))
      >>> optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
      >>> graphdef, _, rest = nnx.split(model, nnx.Param, ...)
      >>> def grad_fn(params):
      ...     return nnx.grad(loss_fn)(nnx.merge(graphdef, params, rest))
      >>> before = float(loss_fn(model))
      >>> _ = optimizer.update(model, nnx.grad(loss_fn)(model), grad_fn=grad_fn)
      >>> float(loss_fn(model)) < before
      True

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
    if base_optimizer is not None and not isinstance(base_optimizer, optax.GradientTransformation):
        raise TypeError(
            f"`{where}(base_optimizer=...)` must be an optax GradientTransformation such as "
            f"`optax.sgd(0.1)`, or None; got {type(base_optimizer).__name__}."
        )

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
        if _CHECKS_ENABLED.get():
            _check_updates_are_a_gradient(updates, params, grad_fn, where=where)
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

    if base_optimizer is None:
        return optax.GradientTransformationExtraArgs(init_fn, update_fn)

    base = optax.with_extra_args_support(base_optimizer)

    def wrapped_init(params: Any) -> SAMWithBaseState:
        return SAMWithBaseState(count=init_fn(params).count, base_state=base.init(params))

    def wrapped_update(
        updates: Any,
        state: SAMWithBaseState,
        params: Any = None,
        *,
        grad_fn: Callable[[Any], Any] | None = None,
        **extra_args: Any,
    ) -> tuple[Any, SAMWithBaseState]:
        grads, s = update_fn(updates, SAMState(count=state.count), params, grad_fn=grad_fn)
        out, base_state = base.update(grads, state.base_state, params, **extra_args)
        return out, SAMWithBaseState(count=s.count, base_state=base_state)

    return optax.GradientTransformationExtraArgs(wrapped_init, wrapped_update)


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
