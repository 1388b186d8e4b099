"""Weight decay as optax transforms: coupled L2 and decoupled (AdamW-style) decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from regjax._checks import check_float_leaf
from regjax._transforms import (
    as_dtype,
    check_hyperparam,
    evaluate,
    increment,
    require_params,
    zero_count,
)
from regjax._tree import MaskLike, path_str, resolve_mask, strength_tree


class AddL2GradientState(NamedTuple):
    """State of ``add_l2_gradient``.

    Attributes:
      count: int32 step counter, the argument of a scheduled strength.
    """

    count: jax.Array


def _map_decay(
    fn: Callable[..., jax.Array], updates: Any, flags: Any, params: Any, *extra: Any, where: str
) -> Any:
    """Applies ``fn(u, p, *extra_leaves)`` where the mask is True and the update is not None.

    A None update (a leaf, a subtree, or the whole tree) passes through as None,
    as in optax's ``add_decayed_weights``: it means "no update for these
    params". The params, not the updates, are what the user regularizes, so a
    non-float param leaf is reported as ``params``."""
    upd_where = f"{where}(...).update"

    def one(path: Any, u: Any, f: Any, p: Any, *rest: Any) -> Any:
        if u is None or not f:
            return u
        check_float_leaf(p, where=upd_where, name="params", path=path_str(path))
        check_float_leaf(u, where=upd_where, name="updates", path=path_str(path))
        return fn(jnp.asarray(u), jnp.asarray(p), *rest)

    return jax.tree_util.tree_map_with_path(
        one, updates, flags, params, *extra, is_leaf=lambda x: x is None
    )


class DecoupledWeightDecayState(NamedTuple):
    """State of ``decoupled_weight_decay``.

    Attributes:
      count: int32 step counter, the argument of scheduled hyperparameters.
    """

    count: jax.Array


def add_l2_gradient(strength: Any, *, mask: MaskLike = None) -> optax.GradientTransformation:
    r"""Coupled L2: adds the gradient of ``strength * penalties.l2`` to the update.

    .. math:: u \leftarrow u + 2\lambda w

    ``penalties.l2(w) = Σw²`` has gradient ``2w``, so placed before the base
    optimizer, ``optax.chain(add_l2_gradient(lam), optax.sgd(lr))`` is exactly
    SGD on ``loss + lam * penalties.l2(params)``. Before an adaptive optimizer
    (Adam) the L2 gradient is rescaled with the data gradient, which is *not*
    weight decay; use :func:`decoupled_weight_decay` for that.

    Args:
      strength: λ >= 0: a number, a jax array (may be traced), a pytree of
        per-leaf strengths (a prefix of the params' structure) or an optax
        schedule ``step -> λ``.
      mask: which leaves to regularize (a regjax/optax mask: a pytree of bools,
        a prefix of one, or a callable ``params -> bools``); None for all.

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> params = {"kernel": jnp.array([1.0, -2.0]), "bias": jnp.array([3.0])}
      >>> tx = regjax.transforms.add_l2_gradient(0.5, mask=regjax.masks.weights_only)
      >>> grads = {"kernel": jnp.zeros(2), "bias": jnp.zeros(1)}
      >>> updates, _ = tx.update(grads, tx.init(params), params)
      >>> updates["kernel"], updates["bias"]
      (Array([ 1., -2.], dtype=float32), Array([0.], dtype=float32))

    References:
      Krogh, A. and Hertz, J. A. (1991). A Simple Weight Decay Can Improve
      Generalization. NeurIPS 4.
      https://papers.nips.cc/paper/1991/hash/8eefcfdf5990e441f0fb6f3fad709e21-Abstract.html
    """
    where = "regjax.transforms.add_l2_gradient"
    check_hyperparam(strength, where=where, name="strength", per_leaf=True)

    def init_fn(params: Any) -> AddL2GradientState:
        del params
        return AddL2GradientState(count=zero_count())

    def update_fn(
        updates: Any, state: AddL2GradientState, params: Any = None
    ) -> tuple[Any, AddL2GradientState]:
        require_params(params, where=where)
        new_state = AddL2GradientState(count=increment(state.count))
        if updates is None or (isinstance(strength, int | float) and strength == 0):
            return updates, new_state
        s = evaluate(strength, state.count, where=where, name="strength")
        s_tree = strength_tree(s, params, where=where, name="strength")
        flags = resolve_mask(mask, params, where=where)

        def one(u: jax.Array, p: jax.Array, si: Any) -> jax.Array:
            return u + as_dtype(2 * si, u.dtype) * p.astype(u.dtype)

        return _map_decay(one, updates, flags, params, s_tree, where=where), new_state

    return optax.GradientTransformation(init_fn, update_fn)


def decoupled_weight_decay(
    weight_decay: Any,
    *,
    learning_rate: Any = None,
    mask: MaskLike = None,
    towards: Any = None,
) -> optax.GradientTransformation:
    r"""Decoupled weight decay (AdamW-style): decays the weights after the base optimizer.

    Place it *last* in the chain, after the learning-rate scaling. It adds
    ``−decay`` to the update, where

    .. math::
       \text{decay}_t = \eta_t \cdot \mathrm{wd}_t \cdot (w - w_\text{ref})

    Which :math:`\eta_t`, plainly:

    * **with** ``learning_rate`` (a number or a schedule): :math:`\eta_t` is that
      learning rate, so the decay is ``lr_t · wd · w``. This is the meaning of
      ``optax.adamw`` and of PyTorch's ``AdamW``:
      ``optax.chain(optax.adam(lr), decoupled_weight_decay(wd, learning_rate=lr))``
      gives the updates of ``optax.adamw(lr, weight_decay=wd)`` (to rounding:
      optax adds ``wd·w`` to the Adam step before scaling the sum by ``lr``,
      while here the step arrives already scaled). Typical ``wd``
      values are then ~1e-4 to 1e-1.
    * **without** it: :math:`\eta_t = 1`, so the decay is ``wd · w`` per step,
      independent of the learning rate. This is Loshchilov & Hutter's
      Algorithm 2 with schedule multiplier :math:`\eta_t = 1`; pass ``wd`` as a
      schedule to get their :math:`\eta_t \cdot \lambda`. Typical ``wd`` values
      are then ``lr`` times smaller (~1e-6 to 1e-4).

    ``towards=params_ref`` decays towards a reference point instead of zero,
    :math:`w_\text{ref}` (L2-SP, for fine-tuning from pretrained weights).

    Args:
      weight_decay: wd >= 0: a number, a jax array (may be traced), a pytree of
        per-leaf values, or an optax schedule ``step -> wd``.
      learning_rate: optional η >= 0: a number, a jax array or an optax
        schedule; see above. Not a string.
      mask: which leaves to decay (a regjax/optax mask); None for all.
      towards: optional pytree with the params' structure and shapes: the
        point the weights decay towards (default 0).

    Returns:
      An ``optax.GradientTransformation`` whose ``update`` needs ``params``.

    Examples:
      >>> import jax.numpy as jnp, optax
      >>> import regjax
      >>> params = jnp.array([1.0, -2.0])
      >>> tx = regjax.transforms.decoupled_weight_decay(0.1, learning_rate=0.5)
      >>> updates, _ = tx.update(jnp.zeros(2), tx.init(params), params)
      >>> updates  # -lr * wd * w
      Array([-0.05,  0.1 ], dtype=float32)
      >>> tx = regjax.transforms.decoupled_weight_decay(0.1, towards=jnp.array([1.0, 0.0]))
      >>> tx.update(jnp.zeros(2), tx.init(params), params)[0]  # -wd * (w - w_ref)
      Array([-0. ,  0.2], dtype=float32)

    References:
      Loshchilov, I. and Hutter, F. (2019). Decoupled Weight Decay
      Regularization. ICLR. https://arxiv.org/abs/1711.05101
      Li, X., Grandvalet, Y. and Davoine, F. (2018). Explicit Inductive Bias
      for Transfer Learning with Convolutional Networks (L2-SP). ICML.
      https://arxiv.org/abs/1802.01483
    """
    where = "regjax.transforms.decoupled_weight_decay"
    check_hyperparam(weight_decay, where=where, name="weight_decay", per_leaf=True)
    if learning_rate is not None:
        check_hyperparam(learning_rate, where=where, name="learning_rate")
    if towards is not None:
        for leaf in jax.tree.leaves(towards):
            if not hasattr(leaf, "shape"):
                raise TypeError(
                    f"`{where}(towards=...)` must be a pytree of arrays like the params; got a "
                    f"leaf of type {type(leaf).__name__}."
                )

    def check_towards(params: Any) -> None:
        if towards is None:
            return
        s_ref, s_par = jax.tree.structure(towards), jax.tree.structure(params)
        shapes_ref = [tuple(x.shape) for x in jax.tree.leaves(towards)]
        shapes_par = [tuple(x.shape) for x in jax.tree.leaves(params)]
        if s_ref != s_par or shapes_ref != shapes_par:
            raise ValueError(
                f"`{where}(towards=...)` must have the structure and shapes of the params; "
                f"towards is {s_ref} with shapes {shapes_ref}, params are {s_par} with shapes "
                f"{shapes_par}. Pass a copy of the reference params (e.g. the pretrained ones)."
            )

    def init_fn(params: Any) -> DecoupledWeightDecayState:
        check_towards(params)
        return DecoupledWeightDecayState(count=zero_count())

    def update_fn(
        updates: Any, state: DecoupledWeightDecayState, params: Any = None
    ) -> tuple[Any, DecoupledWeightDecayState]:
        require_params(params, where=where)
        check_towards(params)
        new_state = DecoupledWeightDecayState(count=increment(state.count))
        if updates is None or (isinstance(weight_decay, int | float) and weight_decay == 0):
            return updates, new_state
        wd = evaluate(weight_decay, state.count, where=where, name="weight_decay")
        wd_tree = strength_tree(wd, params, where=where, name="weight_decay")
        lr = 1.0
        if learning_rate is not None:
            lr = evaluate(learning_rate, state.count, where=where, name="learning_rate")
        flags = resolve_mask(mask, params, where=where)

        def decay(u: jax.Array, p: jax.Array, w: Any) -> jax.Array:
            if learning_rate is None:
                return u - as_dtype(w, u.dtype) * p
            # wd·p first, as optax.adamw forms it (optax then adds the Adam step
            # and scales the sum by lr, so the two agree to rounding, not bitwise).
            return u - as_dtype(lr, u.dtype) * (as_dtype(w, u.dtype) * p)

        if towards is None:
            one = lambda u, p, w: decay(u, p.astype(u.dtype), w)
            out = _map_decay(one, updates, flags, params, wd_tree, where=where)
        else:
            one = lambda u, p, w, r: decay(u, p.astype(u.dtype) - r.astype(u.dtype), w)
            out = _map_decay(one, updates, flags, params, wd_tree, towards, where=where)
        return out, new_state

    return optax.GradientTransformation(init_fn, update_fn)
