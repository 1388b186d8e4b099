"""Early stopping as array operations, so it runs inside jit, scan and vmap."""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_nonnegative, check_value


class EarlyStoppingState(NamedTuple):
    """The state of :func:`regjax.early_stopping.init`, a fixed-structure scan carry.

    Attributes:
      best_metric: the best metric seen so far (+inf, or -inf in max mode, before any).
      best_params: a snapshot of the params at the best metric (``()`` when
        ``keep_best=False``).
      best_step: the update index (0-based) of the best metric; -1 before any.
      step: the number of updates seen so far.
      wait: consecutive non-improving updates since the last improvement.
      stopped: True once ``wait`` reached ``patience``; it never goes back.
      patience: the patience, as an int32 array (so it can be vmapped over).
      min_delta: the minimum improvement, as a float array.
      sign: +1 for ``mode="min"``, -1 for ``mode="max"``.

    The float fields have JAX's default float dtype when :func:`init` ran:
    float32, or float64 under ``jax_enable_x64``, so float64 metrics are
    compared in float64.

    References:
      Prechelt, L. (1998). Early Stopping - But When? In Neural Networks:
      Tricks of the Trade. https://doi.org/10.1007/3-540-49430-8_3
    """

    best_metric: jax.Array
    best_params: Any
    best_step: jax.Array
    step: jax.Array
    wait: jax.Array
    stopped: jax.Array
    patience: jax.Array
    min_delta: jax.Array
    sign: jax.Array


_MODES = ("min", "max")


def init(
    params: Any,
    *,
    patience: Any,
    min_delta: Any = 0.0,
    mode: Literal["min", "max"] = "min",
    keep_best: bool = True,
) -> EarlyStoppingState:
    """Creates the early-stopping state.

    ``init`` takes the params so the state has one fixed structure from the
    first step (a ``lax.scan`` carry cannot change shape). ``patience`` and
    ``min_delta`` are stored as arrays and may be traced, so a sweep can vmap
    over them. ``mode`` is kept in the state too, so :func:`update` needs
    only the metric.

    Args:
      params: the params pytree whose best snapshot is kept.
      patience: stop after exactly this many consecutive non-improving updates
        (an int >= 0; may be traced).
      min_delta: an update improves only if it beats the best by more than this.
      mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
      keep_best: keep a snapshot of the best params (costs one copy of them).

    Returns:
      An :class:`EarlyStoppingState`.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> es = regjax.early_stopping.init(jnp.zeros(2), patience=2)
      >>> for loss in [3.0, 2.0, 2.5, 2.4, 1.0]:
      ...     es = regjax.early_stopping.update(es, loss, jnp.full(2, loss))
      >>> bool(es.stopped), float(es.best_metric), int(es.best_step)
      (True, 2.0, 1)

    References:
      Prechelt, L. (1998). Early Stopping - But When? In Neural Networks:
      Tricks of the Trade. https://doi.org/10.1007/3-540-49430-8_3
    """
    where = "regjax.early_stopping.init"
    if mode not in _MODES:
        raise ValueError(f'`{where}(mode=...)` must be "min" or "max"; got {mode!r}.')
    if not isinstance(keep_best, bool):
        raise TypeError(f"`{where}(keep_best=...)` must be a Python bool; got {keep_best!r}.")
    check_value(
        patience,
        lambda v: (v >= 0) & (v % 1 == 0),
        "must be an integer >= 0",
        where=where,
        name="patience",
    )
    check_nonnegative(min_delta, where=where, name="min_delta")
    sign = 1.0 if mode == "min" else -1.0
    snapshot = jax.tree.map(jnp.asarray, params) if keep_best else ()
    # The default float (float64 under x64): a fixed float32 would round float64
    # metrics, and two that differ below float32's resolution would compare equal.
    dtype = jnp.dtype(jnp.result_type(float))
    return EarlyStoppingState(
        best_metric=jnp.asarray(sign * np.inf, dtype),
        best_params=snapshot,
        best_step=jnp.asarray(-1, jnp.int32),
        step=jnp.asarray(0, jnp.int32),
        wait=jnp.asarray(0, jnp.int32),
        stopped=jnp.asarray(False),
        patience=jnp.asarray(patience, jnp.int32),
        min_delta=jnp.asarray(min_delta).astype(dtype),
        sign=jnp.asarray(sign, dtype),
    )


def update(
    state: EarlyStoppingState,
    metric: Any,
    params: Any = None,
) -> EarlyStoppingState:
    """Records one metric; returns the new state. Frozen once stopped.

    An update improves when ``metric < best − min_delta`` (``"min"``) or
    ``metric > best + min_delta`` (``"max"``). A NaN metric never improves.
    After exactly ``patience`` consecutive non-improving updates, ``stopped``
    becomes True, and from then on the state no longer changes, so each
    member of a vmapped grid stops on its own. (Flax's ``EarlyStopping``
    stops one update later, after patience + 1, and is not jittable.)

    Args:
      state: from :func:`init` or a previous :func:`update`.
      metric: a scalar; may be traced.
      params: the current params (required when the state keeps the best).

    Returns:
      The new :class:`EarlyStoppingState`.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> def run(losses):
      ...     es = regjax.early_stopping.init((), patience=1, keep_best=False)
      ...     es, _ = jax.lax.scan(
      ...         lambda s, m: (regjax.early_stopping.update(s, m), None), es, losses)
      ...     return es.best_step
      >>> jax.vmap(run)(jnp.array([[3.0, 2.0, 4.0, 1.0], [3.0, 2.0, 1.0, 0.5]]))
      Array([1, 3], dtype=int32)

    References:
      Prechelt, L. (1998). Early Stopping - But When? In Neural Networks:
      Tricks of the Trade. https://doi.org/10.1007/3-540-49430-8_3
    """
    where = "regjax.early_stopping.update"
    keeps_best = not (isinstance(state.best_params, tuple) and state.best_params == ())
    if keeps_best and params is None:
        raise ValueError(
            f"`{where}(params=...)` is required: the state keeps a snapshot of the best "
            "params. Pass the current params, or use `init(..., keep_best=False)`."
        )
    dtype = state.best_metric.dtype
    # a Python number is taken in the state's dtype, as JAX's weak typing would
    metric = jnp.asarray(metric, dtype) if type(metric) in (int, float) else jnp.asarray(metric)
    if metric.shape != ():
        raise ValueError(f"`{where}(metric=...)` must be a scalar; got shape {metric.shape}.")
    if not (
        jnp.issubdtype(metric.dtype, jnp.integer)
        or jnp.issubdtype(metric.dtype, jnp.bool_)
        or (jnp.issubdtype(metric.dtype, jnp.floating) and jnp.can_cast(metric.dtype, dtype))
    ):
        # The carry keeps init's dtype; rounding the metric into it would be silent.
        raise TypeError(
            f"`{where}(metric=...)` must be a real number that the state's {dtype} holds "
            f"exactly; got dtype {metric.dtype}. The state has the default float of the "
            "moment `regjax.early_stopping.init` ran: create it under the same "
            "`jax_enable_x64` setting as the metric."
        )
    metric = metric.astype(dtype)
    # In "max" mode sign = -1 turns "larger is better" into "smaller is better".
    improved = state.sign * metric < state.sign * state.best_metric - state.min_delta
    running = ~state.stopped
    improved = improved & running
    wait = jnp.where(improved, 0, state.wait + 1)
    stopped = state.stopped | (~improved & (wait >= state.patience))
    new = EarlyStoppingState(
        best_metric=jnp.where(improved, metric, state.best_metric),
        best_params=(
            jax.tree.map(lambda new, old: jnp.where(improved, new, old), params, state.best_params)
            if keeps_best
            else ()
        ),
        best_step=jnp.where(improved, state.step, state.best_step),
        step=state.step + 1,
        wait=wait,
        stopped=stopped,
        patience=state.patience,
        min_delta=state.min_delta,
        sign=state.sign,
    )
    # Once stopped, nothing moves: not even the step count.
    return jax.tree.map(lambda n, o: jnp.where(running, n, o), new, state)


def freeze_if_stopped(state: EarlyStoppingState, current: Any, proposed: Any) -> Any:
    """Returns ``current`` where training has stopped, else ``proposed``.

    Use it on params and optimizer state inside a scanned training loop so a
    stopped grid member stays exactly where it stopped while the others go on.

    Args:
      state: the early-stopping state (before this step's update).
      current: the pytree as it is now.
      proposed: the pytree after this step's training update.

    Returns:
      ``current`` if ``state.stopped`` else ``proposed``, leaf by leaf.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> es = regjax.early_stopping.init((), patience=0, keep_best=False)
      >>> es = regjax.early_stopping.update(es, 1.0)
      >>> es = regjax.early_stopping.update(es, 2.0)  # no improvement: stops
      >>> regjax.early_stopping.freeze_if_stopped(es, jnp.zeros(2), jnp.ones(2))
      Array([0., 0.], dtype=float32)

    References:
      Prechelt, L. (1998). Early Stopping - But When? In Neural Networks:
      Tricks of the Trade. https://doi.org/10.1007/3-540-49430-8_3
    """
    return jax.tree.map(lambda c, p: jnp.where(state.stopped, c, p), current, proposed)
