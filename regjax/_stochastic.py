"""Stochastic regularizers with explicit PRNG keys: the dropout family, noise,
MC-dropout prediction and key helpers.

Every function takes the key first, as ``jax.random`` does, and every rate or
scale may be a traced array: nothing here branches in Python on a
hyperparameter, so ``jax.vmap`` over a grid of rates compiles once.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_key, check_nonnegative, check_unit_interval, check_value
from regjax._tree import MaskLike, path_str, resolve_mask

_PUBLIC = "regjax.stochastic"

# Domain-separation tags folded in before a step, layer, name or member index,
# so `step_key(k, 3)`, `layer_keys(k, 4)[3]` and `member_keys(k, 4)[3]` differ.
_STEP_TAG = zlib.crc32(b"regjax.step") & 0x7FFFFFFF
_LAYER_TAG = zlib.crc32(b"regjax.layer") & 0x7FFFFFFF
_NAME_TAG = zlib.crc32(b"regjax.name") & 0x7FFFFFFF
_MEMBER_TAG = zlib.crc32(b"regjax.member") & 0x7FFFFFFF


# --------------------------------------------------------------------------- checks


def _check_float_array(x: Any, *, where: str, name: str) -> jax.Array:
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        raise TypeError(
            f"`{where}({name}=...)` must be a floating array; got dtype {x.dtype}. "
            f"Cast it first, e.g. `{name}.astype(jnp.float32)`."
        )
    return x


def _check_scalar(value: Any, *, where: str, name: str) -> None:
    if np.ndim(value) != 0:
        raise ValueError(
            f"`{where}({name}=...)` must be a scalar; got shape {np.shape(value)}. "
            f"To try several values, `jax.vmap` over them."
        )


def _check_bool(value: Any, *, where: str, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"`{where}({name}=...)` must be a Python bool (a structural option, not traced); "
            f"got {type(value).__name__}."
        )
    return bool(value)


def _check_rate(rate: Any, *, where: str) -> None:
    _check_scalar(rate, where=where, name="rate")
    check_unit_interval(rate, where=where, name="rate")


# --------------------------------------------------------------------------- core


def _keep_mask(key: jax.Array, shape: Sequence[int], rate: Any) -> jax.Array:
    """Bernoulli(1 − rate) booleans from 24 random bits per element.

    P(drop) = ceil(rate·2²⁴)/2²⁴: exact for rates on the 2⁻²⁴ grid, never
    below ``rate``, and exactly 1 at rate = 1. Integer comparison, so the mask
    does not depend on the activation dtype (bf16 included).
    """
    bits = jax.random.bits(key, tuple(shape), jnp.uint32)
    r = jnp.clip(jnp.asarray(rate, jnp.float32), 0.0, 1.0)
    threshold = jnp.ceil(r * float(2**24)).astype(jnp.uint32)
    return jnp.right_shift(bits, jnp.uint32(8)) >= threshold


def _work_dtype(dtype: Any) -> np.dtype:
    """float32 for half-precision activations, else the activation's own dtype:
    a float64 input (under x64) keeps a float64 1/(1 − p), not a float32 one."""
    dtype = np.dtype(dtype)
    return dtype if dtype.itemsize >= 4 else np.dtype(np.float32)


def _inverse_keep(rate: Any, dtype: Any) -> jax.Array:
    """1 / (1 − rate), and 0 at rate = 1, with finite gradients everywhere."""
    work = _work_dtype(dtype)
    keep = 1 - jnp.asarray(rate).astype(work)
    # `== 0` rather than `> 0`: a NaN rate (traced, so unchecked) gives a NaN
    # scale and a NaN output, not an output of zeros.
    gone = keep == 0
    one = jnp.ones((), work)
    scale = jnp.where(gone, jnp.zeros((), work), one / jnp.where(gone, one, keep))
    return scale.astype(dtype)


def _masked_scale(key: jax.Array, x: jax.Array, rate: Any, mask_shape: Sequence[int]) -> jax.Array:
    keep = _keep_mask(key, mask_shape, rate)
    return jnp.where(keep, x * _inverse_keep(rate, x.dtype), jnp.zeros((), x.dtype))


def _normalize_axes(axes: Any, ndim: int, *, where: str, name: str) -> tuple[int, ...]:
    if isinstance(axes, int | np.integer):
        axes = (axes,)
    try:
        axes = tuple(int(a) for a in axes)
    except TypeError as e:
        raise TypeError(
            f"`{where}({name}=...)` must be a sequence of ints (static axes); got {axes!r}."
        ) from e
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"`{where}({name}=...)`: axis {a} is out of range for an input of rank {ndim}."
            )
        out.append(a % ndim)
    return tuple(sorted(set(out)))


def dropout(
    key: Any,
    x: Any,
    rate: Any,
    *,
    deterministic: bool = False,
    broadcast_dims: Sequence[int] = (),
) -> jax.Array:
    r"""Inverted dropout: zeroes each element with probability ``rate``, rescales the rest.

    .. math:: y = \frac{m \odot x}{1 - p}, \qquad m_i \sim \mathrm{Bernoulli}(1 - p),

    so :math:`\mathbb{E}[y] = x`. ``rate`` (p) may be a traced scalar: there is
    no Python branch on it, and ``jax.vmap`` over a grid of rates compiles
    once. At p = 1 the output is exactly zero and so is its gradient (no NaN,
    no ``inf · 0``). ``broadcast_dims`` shares one mask along the named axes:
    the spatial dropout of Tompson et al. (drop whole channels of a feature
    map, e.g. ``broadcast_dims=(1, 2)`` for NHWC) or the variational dropout of
    Gal and Ghahramani (one mask over the time axis of a sequence).

    The mask uses 24 random bits per element: P(drop) = ⌈p·2²⁴⌉/2²⁴, which is p
    up to 6·10⁻⁸ and exactly 0 or 1 at p = 0 or 1.

    Args:
      key: a PRNG key, typed (``jax.random.key``) or raw (``jax.random.PRNGKey``).
      x: a floating array.
      rate: the probability of dropping, a scalar in [0, 1]; may be traced.
      deterministic: static bool; True returns ``x`` unchanged (evaluation).
      broadcast_dims: static axes along which the mask is shared.

    Returns:
      An array of ``x``'s shape and dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> key = jax.random.key(0)
      >>> y = regjax.stochastic.dropout(key, jnp.ones((2, 4)), 0.5)
      >>> sorted(set(y.ravel().tolist()))
      [0.0, 2.0]
      >>> regjax.stochastic.dropout(key, jnp.ones(3), 1.0)
      Array([0., 0., 0.], dtype=float32)
      >>> rates = jnp.array([0.0, 0.5, 1.0])  # one compile for the whole grid
      >>> jax.vmap(regjax.stochastic.dropout, in_axes=(None, None, 0))(key, jnp.ones(4), rates)[0]
      Array([1., 1., 1., 1.], dtype=float32)

    References:
      Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I. and
      Salakhutdinov, R. (2014). Dropout: A Simple Way to Prevent Neural Networks
      from Overfitting. JMLR 15. https://jmlr.org/papers/v15/srivastava14a.html
      Tompson, J., Goroshin, R., Jain, A., LeCun, Y. and Bregler, C. (2015).
      Efficient Object Localization Using Convolutional Networks. CVPR.
      https://arxiv.org/abs/1411.4280
    """
    where = f"{_PUBLIC}.dropout"
    key = check_key(key, where=where)
    x = _check_float_array(x, where=where, name="x")
    _check_rate(rate, where=where)
    dims = _normalize_axes(broadcast_dims, x.ndim, where=where, name="broadcast_dims")
    if _check_bool(deterministic, where=where, name="deterministic"):
        return x
    mask_shape = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
    return _masked_scale(key, x, rate, mask_shape)


def drop_path(
    key: Any,
    x: Any,
    rate: Any,
    *,
    mode: str = "row",
    deterministic: bool = False,
) -> jax.Array:
    r"""Stochastic depth: drops a whole residual branch, per sample or per batch.

    .. math:: y = \frac{m}{1 - p}\, x, \qquad m \sim \mathrm{Bernoulli}(1 - p),

    with one m per sample (``mode="row"``: one draw per index of axis 0, the
    batch axis, as in ``timm``'s ``DropPath``) or one for the whole batch
    (``mode="batch"``, as in Huang et al.). Apply it to the branch output
    before the residual add: ``h = h + drop_path(key, block(h), rate)``.
    Inverted scaling keeps E[y] = x; ``rate`` may be traced; at p = 1 the
    output and its gradient are zero.

    Args:
      key: a PRNG key, typed or raw.
      x: a floating array; for ``mode="row"`` its axis 0 is the batch.
      rate: the probability of dropping the branch, a scalar in [0, 1].
      mode: ``"row"`` (per sample) or ``"batch"``; static.
      deterministic: static bool; True returns ``x`` unchanged.

    Returns:
      An array of ``x``'s shape and dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> y = regjax.stochastic.drop_path(jax.random.key(1), jnp.ones((6, 3)), 0.5)
      >>> bool(jnp.all((y == 0).all(axis=1) | (y == 2).all(axis=1)))  # whole rows
      True

    References:
      Huang, G., Sun, Y., Liu, Z., Sedra, D. and Weinberger, K. Q. (2016). Deep
      Networks with Stochastic Depth. ECCV. https://arxiv.org/abs/1603.09382
    """
    where = f"{_PUBLIC}.drop_path"
    key = check_key(key, where=where)
    x = _check_float_array(x, where=where, name="x")
    _check_rate(rate, where=where)
    if mode == "row":
        if x.ndim == 0:
            raise ValueError(
                f'`{where}(x=...)` must have a batch axis for mode="row"; got a scalar. '
                'Use mode="batch".'
            )
        mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    elif mode == "batch":
        mask_shape = (1,) * x.ndim
    else:
        raise ValueError(f'`{where}(mode=...)` must be "row" or "batch"; got {mode!r}.')
    if _check_bool(deterministic, where=where, name="deterministic"):
        return x
    return _masked_scale(key, x, rate, mask_shape)


def dropconnect(
    key: Any,
    w: Any,
    rate: Any,
    *,
    mask: MaskLike = None,
    deterministic: bool = False,
) -> Any:
    r"""DropConnect: drops individual weights, with inverted scaling, over a pytree.

    .. math:: \tilde W = \frac{M \odot W}{1 - p}, \qquad M_{ij} \sim \mathrm{Bernoulli}(1 - p)

    Apply it to the params before the forward pass:
    ``apply(dropconnect(key, params, rate, mask=regjax.masks.weights_only), x)``.
    The gradient flows to the kept weights only. Each leaf gets its own key,
    ``named_key(key, path)``, so masks do not depend on the order of leaves.
    Inverted scaling (E[W̃] = W) lets the un-dropped weights be used at test
    time, instead of the paper's Gaussian moment-matching inference.

    Args:
      key: a PRNG key, typed or raw.
      w: an array or a pytree of floating arrays.
      rate: the probability of dropping a weight, a scalar in [0, 1]; may be traced.
      mask: which leaves to drop from (see ``regjax.masks``); None for all.
      deterministic: static bool; True returns ``w`` unchanged.

    Returns:
      A pytree like ``w``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> params = {"kernel": jnp.ones((3, 4)), "bias": jnp.ones(4)}
      >>> out = regjax.stochastic.dropconnect(
      ...     jax.random.key(0), params, 0.5, mask=regjax.masks.weights_only)
      >>> out["bias"]  # not dropped: the mask leaves biases alone
      Array([1., 1., 1., 1.], dtype=float32)
      >>> sorted(set(out["kernel"].ravel().tolist()))
      [0.0, 2.0]

    References:
      Wan, L., Zeiler, M., Zhang, S., LeCun, Y. and Fergus, R. (2013).
      Regularization of Neural Networks using DropConnect. ICML.
      https://proceedings.mlr.press/v28/wan13.html
    """
    where = f"{_PUBLIC}.dropconnect"
    key = check_key(key, where=where)
    _check_rate(rate, where=where)
    det = _check_bool(deterministic, where=where, name="deterministic")
    flags = resolve_mask(mask, w, where=where)

    def one(path: Any, leaf: Any, flag: bool) -> Any:
        if not flag:
            return leaf
        name = path_str(path)
        leaf = _check_float_array(leaf, where=where, name=f"w[{name!r}]" if name else "w")
        if det:
            return leaf
        return _masked_scale(_named_key(key, name), leaf, rate, leaf.shape)

    return jax.tree_util.tree_map_with_path(one, w, flags)


def gaussian_dropout(
    key: Any,
    x: Any,
    rate: Any,
    *,
    deterministic: bool = False,
) -> jax.Array:
    r"""Gaussian dropout: multiplicative noise with the mean and variance of dropout.

    .. math:: y = x \odot \varepsilon, \qquad
       \varepsilon_i \sim \mathcal{N}\!\left(1, \tfrac{p}{1 - p}\right)

    The multiplier has the mean and variance of inverted Bernoulli dropout at
    the same rate p, so E[y] = x and Var[y] = x²·p/(1 − p). ``rate`` may be
    traced; it must be below 1 (the variance is infinite at 1). The noise
    scale √(p/(1 − p)) grows like √p, so the derivative with respect to
    ``rate`` is infinite at p = 0: a gradient there is ±inf (its limit), not
    NaN. To learn the rate by gradient, start it above 0.

    Args:
      key: a PRNG key, typed or raw.
      x: a floating array.
      rate: the equivalent dropout rate, a scalar in [0, 1).
      deterministic: static bool; True returns ``x`` unchanged.

    Returns:
      An array of ``x``'s shape and dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> y = regjax.stochastic.gaussian_dropout(jax.random.key(0), jnp.ones(100_000), 0.5)
      >>> round(float(jnp.mean(y)), 1), round(float(jnp.var(y)), 1)  # 1 and p/(1-p)
      (1.0, 1.0)

    References:
      Srivastava, N. et al. (2014). Dropout: A Simple Way to Prevent Neural
      Networks from Overfitting. JMLR 15, section 10.
      https://jmlr.org/papers/v15/srivastava14a.html
    """
    where = f"{_PUBLIC}.gaussian_dropout"
    key = check_key(key, where=where)
    x = _check_float_array(x, where=where, name="x")
    _check_scalar(rate, where=where, name="rate")
    check_value(
        rate,
        lambda v: (v >= 0) & (v < 1),
        "must be in [0, 1) (the noise variance p/(1 - p) is infinite at 1)",
        where=where,
        name="rate",
    )
    if _check_bool(deterministic, where=where, name="deterministic"):
        return x
    r = jnp.asarray(rate).astype(_work_dtype(x.dtype))
    # √r · (1 − r)^(−1/2) rather than √(r / (1 − r)): the quotient rule's
    # r/(1 − r)² term is 0 at r = 0 and meets √'s infinite slope there (0·∞ =
    # NaN); the product form gives the true limit ±inf (the slope of √r).
    std = (jnp.sqrt(r) * jax.lax.rsqrt(1 - r)).astype(x.dtype)
    noise = jax.random.normal(key, x.shape, x.dtype)
    return x * (1 + std * noise)


def gaussian_noise(
    key: Any,
    x: Any,
    stddev: Any,
    *,
    deterministic: bool = False,
) -> jax.Array:
    r"""Additive Gaussian noise, y = x + σ·ε with ε ~ N(0, I).

    .. math:: y = x + \sigma\,\varepsilon, \qquad \varepsilon \sim \mathcal{N}(0, I)

    Input noise of this kind is, to first order, Tikhonov regularization
    (Bishop 1995). ``stddev`` may be traced.

    Args:
      key: a PRNG key, typed or raw.
      x: a floating array.
      stddev: the noise standard deviation σ, a finite scalar >= 0.
      deterministic: static bool; True returns ``x`` unchanged.

    Returns:
      An array of ``x``'s shape and dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> y = regjax.stochastic.gaussian_noise(jax.random.key(0), jnp.zeros(100_000), 0.1)
      >>> round(float(jnp.std(y)), 2)
      0.1

    References:
      Bishop, C. M. (1995). Training with Noise is Equivalent to Tikhonov
      Regularization. Neural Computation 7(1).
      https://doi.org/10.1162/neco.1995.7.1.108
    """
    where = f"{_PUBLIC}.gaussian_noise"
    key = check_key(key, where=where)
    x = _check_float_array(x, where=where, name="x")
    _check_scalar(stddev, where=where, name="stddev")
    check_nonnegative(stddev, where=where, name="stddev")
    if _check_bool(deterministic, where=where, name="deterministic"):
        return x
    noise = jax.random.normal(key, x.shape, x.dtype)
    return x + jnp.asarray(stddev, x.dtype) * noise


def mc_predict(
    apply_fn: Callable[[jax.Array, Any], Any],
    key: Any,
    x: Any,
    n_samples: int,
) -> tuple[Any, Any]:
    r"""MC-dropout predictive mean and variance: ``apply_fn`` averaged over dropout keys.

    .. math::
       \hat\mu = \frac{1}{T} \sum_{t=1}^{T} f_t(x), \qquad
       \hat\sigma^2 = \frac{1}{T} \sum_{t=1}^{T} \left(f_t(x) - \hat\mu\right)^2

    where :math:`f_t` is the network with dropout left on under key
    :math:`k_t`, ``T = n_samples`` keys split from ``key``. The samples are
    evaluated in one ``jax.vmap`` (memory grows with T; loop over calls with
    different keys to trade memory for time). The variance is the model
    (epistemic) part, with divisor T; add the observation noise τ⁻¹ of Gal and
    Ghahramani for the full predictive variance. Works on pytree outputs.

    Args:
      apply_fn: ``apply_fn(key, x) -> output``: the model in training mode,
        drawing its dropout masks from ``key``.
      key: a PRNG key, typed or raw.
      x: the inputs, passed to every call unchanged.
      n_samples: T, a static int >= 1.

    Returns:
      ``(mean, variance)``, each shaped like ``apply_fn``'s output.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> w = jnp.ones((4, 1))
      >>> def apply_fn(key, x):
      ...     return regjax.stochastic.dropout(key, x, 0.5) @ w
      >>> key, x = jax.random.key(0), jnp.ones((2, 4))
      >>> mean, var = regjax.stochastic.mc_predict(apply_fn, key, x, 64)
      >>> mean.shape, var.shape
      ((2, 1), (2, 1))
      >>> bool(jnp.all(var > 0))
      True

    References:
      Gal, Y. and Ghahramani, Z. (2016). Dropout as a Bayesian Approximation:
      Representing Model Uncertainty in Deep Learning. ICML.
      https://arxiv.org/abs/1506.02142
    """
    where = f"{_PUBLIC}.mc_predict"
    if not callable(apply_fn):
        raise TypeError(
            f"`{where}(apply_fn=...)` must be callable as `apply_fn(key, x)`; "
            f"got {type(apply_fn).__name__}."
        )
    key = check_key(key, where=where)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int | np.integer):
        raise TypeError(
            f"`{where}(n_samples=...)` must be a Python int (a static count); "
            f"got {type(n_samples).__name__}."
        )
    if n_samples < 1:
        raise ValueError(f"`{where}(n_samples=...)` must be >= 1; got {n_samples}.")
    keys = jax.random.split(key, int(n_samples))
    outs = jax.vmap(lambda k: apply_fn(k, x))(keys)
    mean = jax.tree.map(lambda o: jnp.mean(o, axis=0, keepdims=True), outs)
    var = jax.tree.map(lambda o, m: jnp.mean(jnp.square(o - m), axis=0), outs, mean)
    return jax.tree.map(lambda m: m[0], mean), var


# --------------------------------------------------------------------------- keys


def _named_key(key: jax.Array, name: str) -> jax.Array:
    tagged = jax.random.fold_in(key, _NAME_TAG)
    return jax.random.fold_in(tagged, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def _check_count(n: Any, *, where: str, name: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(
            f"`{where}({name}=...)` must be a Python int (a static count); got {type(n).__name__}."
        )
    if n < 1:
        raise ValueError(f"`{where}({name}=...)` must be >= 1; got {n}.")
    return int(n)


def step_key(key: Any, step: Any) -> jax.Array:
    r"""The key of training step ``step``: fresh masks every step, from one seed.

    .. math:: k_t = \mathrm{fold\_in}(\mathrm{fold\_in}(k, \tau_{\mathrm{step}}), t)

    where τ is a fixed tag that keeps step keys apart from ``layer_keys``,
    ``member_keys`` and ``named_key`` of the same key. ``step`` may be traced
    (the counter of a ``lax.scan`` or the step in an optimizer state), so a
    scanned training loop needs no key in its carry. The result has the kind
    of ``key`` (typed or raw).

    Args:
      key: a PRNG key, typed or raw.
      step: a non-negative integer scalar, possibly traced.

    Returns:
      A key, different for every step.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> key = jax.random.key(0)
      >>> def body(carry, t):
      ...     mask = regjax.stochastic.dropout(regjax.stochastic.step_key(key, t), jnp.ones(8), 0.5)
      ...     return carry, mask
      >>> _, masks = jax.lax.scan(body, None, jnp.arange(3))
      >>> bool((masks[0] != masks[1]).any())
      True

    References:
      Salmon, J. K., Moraes, M. A., Dror, R. O. and Shaw, D. E. (2011).
      Parallel Random Numbers: As Easy as 1, 2, 3. SC'11 (the counter-based
      Threefry generator behind ``fold_in``). https://doi.org/10.1145/2063384.2063405
    """
    where = f"{_PUBLIC}.step_key"
    check_key(key, where=where)
    step = jnp.asarray(step)
    if step.ndim != 0 or not jnp.issubdtype(step.dtype, jnp.integer):
        raise TypeError(
            f"`{where}(step=...)` must be an integer scalar; got dtype {step.dtype} and shape "
            f"{step.shape}."
        )
    return jax.random.fold_in(jax.random.fold_in(key, _STEP_TAG), step)


def layer_keys(key: Any, n: int) -> jax.Array:
    r"""``n`` independent keys, one per layer (or per dropout site).

    .. math:: (k_1, \dots, k_n) = \mathrm{split}(\mathrm{fold\_in}(k, \tau_{\mathrm{layer}}), n)

    Use with ``step_key``: ``layer_keys(step_key(key, t), n_layers)``. The
    tag keeps these apart from ``member_keys(key, n)``.

    Args:
      key: a PRNG key, typed or raw.
      n: the number of keys, a static int >= 1.

    Returns:
      A batch of ``n`` keys (shape ``(n,)`` typed, or ``(n, 2)`` raw).

    Examples:
      >>> import jax
      >>> import regjax
      >>> keys = regjax.stochastic.layer_keys(jax.random.key(0), 3)
      >>> keys.shape
      (3,)

    References:
      JAX authors, "Pseudorandom numbers" (splitting keys),
      https://docs.jax.dev/en/latest/random-numbers.html
    """
    where = f"{_PUBLIC}.layer_keys"
    check_key(key, where=where)
    n = _check_count(n, where=where)
    return jax.random.split(jax.random.fold_in(key, _LAYER_TAG), n)


def named_key(key: Any, name: str) -> jax.Array:
    r"""The key of a named site (``"encoder/block0/dropout"``), stable under refactoring.

    .. math:: k_{\mathrm{name}} = \mathrm{fold\_in}(\mathrm{fold\_in}(k, \tau_{\mathrm{name}}),
       \mathrm{crc32}(\mathrm{name}))

    Unlike ``layer_keys``, adding or reordering layers does not change the key
    of an existing name. ``dropconnect`` keys each leaf this way by its path.

    Args:
      key: a PRNG key, typed or raw.
      name: a string.

    Returns:
      A key of the kind of ``key``.

    Examples:
      >>> import jax
      >>> import regjax
      >>> k = jax.random.key(0)
      >>> a = regjax.stochastic.named_key(k, "block0/dropout")
      >>> b = regjax.stochastic.named_key(k, "block1/dropout")
      >>> bool((jax.random.key_data(a) != jax.random.key_data(b)).any())
      True

    References:
      JAX authors, ``jax.random.fold_in``,
      https://docs.jax.dev/en/latest/_autosummary/jax.random.fold_in.html
    """
    where = f"{_PUBLIC}.named_key"
    check_key(key, where=where)
    if not isinstance(name, str):
        raise TypeError(f"`{where}(name=...)` must be a str; got {type(name).__name__}.")
    return _named_key(key, name)


def member_keys(key: Any, n: int) -> jax.Array:
    r"""``n`` independent keys, one per member of a vmapped hyperparameter grid.

    .. math:: (k_1, \dots, k_n) = \mathrm{split}(\mathrm{fold\_in}(k, \tau_{\mathrm{member}}), n)

    Pass them with ``in_axes=0`` beside the grid, so every member draws its
    own masks; passing one key with ``in_axes=None`` instead gives every
    member the same masks (common random numbers, sometimes wanted for
    comparing rates). Reproducible: the same ``key`` and ``n`` give the same
    keys.

    Args:
      key: a PRNG key, typed or raw.
      n: the grid size, a static int >= 1.

    Returns:
      A batch of ``n`` keys.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> rates = jnp.array([0.1, 0.3, 0.5])
      >>> keys = regjax.stochastic.member_keys(jax.random.key(0), 3)
      >>> out = jax.vmap(regjax.stochastic.dropout, in_axes=(0, None, 0))(keys, jnp.ones(5), rates)
      >>> out.shape
      (3, 5)

    References:
      JAX authors, "Pseudorandom numbers" (splitting keys),
      https://docs.jax.dev/en/latest/random-numbers.html
    """
    where = f"{_PUBLIC}.member_keys"
    check_key(key, where=where)
    n = _check_count(n, where=where)
    return jax.random.split(jax.random.fold_in(key, _MEMBER_TAG), n)
