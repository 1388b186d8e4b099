"""Batched, key-explicit data augmentation: mixup, cutmix, label smoothing, flips,
crops and cutout. Every function takes the whole batch (leading axis) and one
PRNG key, draws per-example randomness from it, and is safe under jit and vmap;
hyperparameters (alpha, eps, prob, size) may be traced."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_key, check_nonnegative, check_unit_interval, check_value
from regjax._tree import accumulation_dtype

_P = "regjax.augment"
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


# --------------------------------------------------------------------------- checks


def _check_scalar(value: Any, *, where: str, name: str) -> None:
    if np.ndim(value) != 0:
        raise ValueError(
            f"`{where}({name}=...)` must be a scalar; got shape {np.shape(value)}. "
            "To try several values, `jax.vmap` over them."
        )


def _check_alpha(alpha: Any, *, where: str) -> None:
    _check_scalar(alpha, where=where, name="alpha")
    check_value(
        alpha,
        lambda v: (v > 0) & (v < float("inf")),
        "must be finite and > 0 (the Beta(alpha, alpha) parameter); use e.g. 0.2 or 1.0",
        where=where,
        name="alpha",
        report=jnp.min,
    )


def _check_array(x: Any, *, where: str, name: str, ndim: int | None = None) -> jax.Array:
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"`{where}({name}=...)` must be an array; got {type(x).__name__}.")
    x = jnp.asarray(x)
    if ndim is not None and x.ndim != ndim:
        raise ValueError(
            f"`{where}({name}=...)` must be a batch of images (batch, height, width, "
            f"channels), NHWC; got shape {x.shape}. Add a channel axis with `x[..., None]`."
        )
    if ndim is None and x.ndim < 1:
        raise ValueError(f"`{where}({name}=...)` must have a leading batch axis; got a scalar.")
    return x


def _check_float(x: jax.Array, *, where: str, name: str) -> None:
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"`{where}({name}=...)` must be floating to be mixed; got dtype {x.dtype}. "
            f"Cast it first, e.g. `{name}.astype(jnp.float32) / 255`."
        )


def _soft_labels(y: Any, num_classes: int | None, batch: int, *, where: str) -> jax.Array:
    y = _check_array(y, where=where, name="y")
    if y.shape[:1] != (batch,):
        raise ValueError(
            f"`{where}(y=...)` must have the batch size of x ({batch}) on its first axis; "
            f"got shape {y.shape}."
        )
    if jnp.issubdtype(y.dtype, jnp.integer):
        if y.ndim != 1:
            raise ValueError(
                f"`{where}(y=...)`: integer labels must have shape (batch,); got {y.shape}."
            )
        if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
            raise ValueError(
                f"`{where}(num_classes=...)` must be a Python int when y holds integer labels; "
                f"got {num_classes!r}. Pass `num_classes=`, or pass one-hot labels."
            )
        if num_classes < 1:
            raise ValueError(f"`{where}(num_classes=...)` must be >= 1; got {num_classes}.")
        # one_hot maps a label outside [0, num_classes) to a row of zeros, and
        # the mixed target then does not sum to 1: refuse it (traced labels:
        # under `regjax.checks.checkify`).
        check_value(
            y,
            lambda v: (v >= 0) & (v < num_classes),
            f"must hold labels in [0, num_classes) = [0, {int(num_classes)})",
            where=where,
            name="y",
            report=lambda v: jnp.where(jnp.any(v < 0), jnp.min(v), jnp.max(v)),
        )
        return jax.nn.one_hot(y, int(num_classes), dtype=jnp.float32)
    if jnp.issubdtype(y.dtype, jnp.floating) and y.ndim == 2:
        if num_classes is not None and num_classes != y.shape[1]:
            raise ValueError(
                f"`{where}(num_classes=...)` is {num_classes} but y has {y.shape[1]} classes."
            )
        return y
    raise ValueError(
        f"`{where}(y=...)` must be integer labels (batch,) with `num_classes=`, or one-hot/"
        f"soft labels (batch, classes) of a floating dtype; got dtype {y.dtype} and shape "
        f"{y.shape}."
    )


def _beta(key: jax.Array, alpha: Any, dtype: Any) -> jax.Array:
    a = jnp.asarray(alpha).astype(dtype)
    return jax.random.beta(key, a, a, dtype=dtype)


def _bshape(v: jax.Array, ndim: int) -> jax.Array:
    """A (batch,) vector reshaped to broadcast against a rank-``ndim`` batch."""
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


# --------------------------------------------------------------------------- mixing


def mixup(
    key: Any, x: Any, y: Any, alpha: Any, *, num_classes: int | None = None
) -> tuple[jax.Array, jax.Array]:
    r"""Mixup: convex combinations of pairs of examples and of their labels.

    With λ ~ Beta(α, α), drawn once per batch, and π a random permutation of
    the batch,

    .. math:: \tilde x_i = \lambda x_i + (1 - \lambda) x_{\pi(i)}, \qquad
              \tilde y_i = \lambda y_i + (1 - \lambda) y_{\pi(i)} .

    Mixed labels sum to 1 whenever the inputs do. Train on ``(x̃, ỹ)`` with a
    soft-label cross-entropy (e.g. ``optax.softmax_cross_entropy``), which is
    linear in the target, so it equals λ·CE(y) + (1 − λ)·CE(y_π).

    Args:
      key: a PRNG key, first and positional.
      x: a floating batch, any shape with the batch axis first.
      y: integer labels ``(batch,)`` (then pass ``num_classes``) or one-hot /
        soft labels ``(batch, classes)`` of a floating dtype.
      alpha: α > 0, a scalar; may be traced (vmap over a grid of α).
      num_classes: static number of classes, required for integer labels.

    Returns:
      ``(x_mixed, y_mixed)``; ``y_mixed`` has shape ``(batch, classes)``
      (float32 for integer labels, else ``y``'s dtype).

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.arange(8.0).reshape(4, 2)
      >>> xm, ym = regjax.augment.mixup(jax.random.key(0), x, jnp.array([0, 1, 2, 1]), 0.4,
      ...                               num_classes=3)
      >>> xm.shape, ym.shape
      ((4, 2), (4, 3))
      >>> jnp.sum(ym, axis=1)
      Array([1., 1., 1., 1.], dtype=float32)

    References:
      Zhang, H., Cisse, M., Dauphin, Y. N. and Lopez-Paz, D. (2018). mixup:
      Beyond Empirical Risk Minimization. ICLR. https://arxiv.org/abs/1710.09412
    """
    where = f"{_P}.mixup"
    key = check_key(key, where=where)
    x = _check_array(x, where=where, name="x")
    _check_float(x, where=where, name="x")
    y = _soft_labels(y, num_classes, x.shape[0], where=where)
    _check_alpha(alpha, where=where)
    k_lam, k_perm = jax.random.split(key)
    lam = _beta(k_lam, alpha, accumulation_dtype(x.dtype))
    perm = jax.random.permutation(k_perm, x.shape[0])
    lx = lam.astype(x.dtype)
    ly = lam.astype(y.dtype)
    x_mixed = lx * x + (1 - lx) * x[perm]
    y_mixed = ly * y + (1 - ly) * y[perm]
    return x_mixed, y_mixed


def cutmix(
    key: Any, x: Any, y: Any, alpha: Any, *, num_classes: int | None = None
) -> tuple[jax.Array, jax.Array]:
    r"""CutMix: paste a random box from a paired example; mix labels by its area.

    λ ~ Beta(α, α) is drawn once per batch; the box has sides
    ``⌊H√(1−λ)⌋ × ⌊W√(1−λ)⌋`` (halved each way around a uniform centre, as in
    the reference code) and is clipped to the image, so its true area
    fraction ``a`` can be smaller than ``1 − λ``. With π a random permutation
    of the batch and M the box's indicator,

    .. math:: \tilde x_i = (1 - M) \odot x_i + M \odot x_{\pi(i)}, \qquad
              \tilde y_i = (1 - a)\, y_i + a\, y_{\pi(i)} ,

    so each label weight is exactly the fraction of pixels it owns. One box
    per batch, as in the paper.

    Args:
      key: a PRNG key, first and positional.
      x: a floating batch of images, NHWC ``(batch, height, width, channels)``.
      y: integer labels ``(batch,)`` (then pass ``num_classes``) or one-hot /
        soft labels ``(batch, classes)`` of a floating dtype.
      alpha: α > 0, a scalar; may be traced.
      num_classes: static number of classes, required for integer labels.

    Returns:
      ``(x_mixed, y_mixed)``; ``y_mixed`` has shape ``(batch, classes)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.stack([jnp.zeros((4, 4, 1)), jnp.ones((4, 4, 1))])
      >>> y = jnp.eye(2)
      >>> xm, ym = regjax.augment.cutmix(jax.random.key(3), x, y, 1.0)
      >>> bool(jnp.allclose(ym[0, 1], jnp.mean(xm[0])))  # label weight = pasted area
      True

    References:
      Yun, S., Han, D., Oh, S. J., Chun, S., Choe, J. and Yoo, Y. (2019).
      CutMix: Regularization Strategy to Train Strong Classifiers with
      Localizable Features. ICCV. https://arxiv.org/abs/1905.04899
    """
    where = f"{_P}.cutmix"
    key = check_key(key, where=where)
    x = _check_array(x, where=where, name="x", ndim=4)
    _check_float(x, where=where, name="x")
    y = _soft_labels(y, num_classes, x.shape[0], where=where)
    _check_alpha(alpha, where=where)
    batch, height, width = x.shape[:3]
    k_lam, k_perm, k_y, k_x = jax.random.split(key, 4)
    lam = _beta(k_lam, alpha, jnp.float32)
    ratio = jnp.sqrt(1 - lam)
    half_h = jnp.floor(height * ratio).astype(jnp.int32) // 2
    half_w = jnp.floor(width * ratio).astype(jnp.int32) // 2
    cy = jax.random.randint(k_y, (), 0, height)
    cx = jax.random.randint(k_x, (), 0, width)
    y0, y1 = jnp.clip(cy - half_h, 0, height), jnp.clip(cy + half_h, 0, height)
    x0, x1 = jnp.clip(cx - half_w, 0, width), jnp.clip(cx + half_w, 0, width)
    rows = jnp.arange(height).reshape(1, height, 1, 1)
    cols = jnp.arange(width).reshape(1, 1, width, 1)
    box = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)
    perm = jax.random.permutation(k_perm, batch)
    x_mixed = jnp.where(box, x[perm], x)
    area = ((y1 - y0) * (x1 - x0)).astype(y.dtype) / (height * width)
    y_mixed = (1 - area) * y + area * y[perm]
    return x_mixed, y_mixed


def smooth_labels(y: Any, eps: Any) -> jax.Array:
    r"""Label smoothing: move a fraction ``eps`` of the mass to the uniform distribution.

    .. math:: \tilde y = (1 - \varepsilon)\, y + \varepsilon / K

    over the last axis of K classes. Same formula as ``optax.smooth_labels``.

    Args:
      y: one-hot or soft labels ``(..., classes)`` of a floating dtype (use
        ``jax.nn.one_hot`` for integer labels).
      eps: ε in [0, 1], a scalar; may be traced.

    Returns:
      The smoothed labels, with ``y``'s shape and dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> import regjax
      >>> regjax.augment.smooth_labels(jnp.array([[0.0, 1.0, 0.0, 0.0]]), 0.2)
      Array([[0.05, 0.85, 0.05, 0.05]], dtype=float32)

    References:
      Szegedy, C., Vanhoucke, V., Ioffe, S., Shlens, J. and Wojna, Z. (2016).
      Rethinking the Inception Architecture for Computer Vision. CVPR.
      https://arxiv.org/abs/1512.00567
    """
    where = f"{_P}.smooth_labels"
    y = _check_array(y, where=where, name="y")
    if not jnp.issubdtype(y.dtype, jnp.floating):
        raise TypeError(
            f"`{where}(y=...)` must be one-hot or soft labels of a floating dtype; got dtype "
            f"{y.dtype}. For integer labels use `jax.nn.one_hot(y, num_classes)` first."
        )
    _check_scalar(eps, where=where, name="eps")
    check_unit_interval(eps, where=where, name="eps")
    e = jnp.asarray(eps).astype(y.dtype)
    return (1 - e) * y + e / y.shape[-1]


# --------------------------------------------------------------------------- geometry


def random_flip(key: Any, x: Any, *, prob: Any = 0.5, axis: int = 2) -> jax.Array:
    r"""Flips each example independently with probability ``prob``.

    .. math:: \tilde x_i = \begin{cases} \mathrm{flip}(x_i) & b_i = 1 \\
              x_i & b_i = 0 \end{cases}, \qquad b_i \sim \mathrm{Bernoulli}(p)

    For NHWC images ``axis=2`` (the default) is a horizontal (left–right)
    flip and ``axis=1`` a vertical one.

    Args:
      key: a PRNG key, first and positional.
      x: a batch, batch axis first (images: NHWC); any dtype.
      prob: probability of flipping each example, in [0, 1]; may be traced.
      axis: static axis to flip, not the batch axis (negative counts from the end).

    Returns:
      An array like ``x``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.arange(6.0).reshape(2, 1, 3, 1)
      >>> regjax.augment.random_flip(jax.random.key(0), x, prob=1.0)[..., 0]
      Array([[[2., 1., 0.]],
             [[5., 4., 3.]]], dtype=float32)

    References:
      Krizhevsky, A., Sutskever, I. and Hinton, G. E. (2012). ImageNet
      Classification with Deep Convolutional Neural Networks. NeurIPS.
      https://papers.nips.cc/paper/4824
    """
    where = f"{_P}.random_flip"
    key = check_key(key, where=where)
    x = _check_array(x, where=where, name="x")
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        raise TypeError(f"`{where}(axis=...)` must be a Python int; got {type(axis).__name__}.")
    ax = int(axis) % x.ndim if -x.ndim <= axis < x.ndim else None
    if ax is None or ax == 0:
        raise ValueError(
            f"`{where}(axis=...)` must be a non-batch axis of x (1..{x.ndim - 1}); got {axis}. "
            "For NHWC images, 2 flips left-right and 1 upside down."
        )
    _check_scalar(prob, where=where, name="prob")
    check_unit_interval(prob, where=where, name="prob")
    flip = jax.random.bernoulli(key, jnp.asarray(prob, jnp.float32), (x.shape[0],))
    return jnp.where(_bshape(flip, x.ndim), jnp.flip(x, axis=ax), x)


def _pair(v: Any, *, where: str, name: str) -> tuple[int, int]:
    vals = (v, v) if not isinstance(v, tuple | list) else tuple(v)
    if len(vals) != 2 or not all(
        isinstance(a, int | np.integer) and not isinstance(a, bool) and a >= 0 for a in vals
    ):
        raise ValueError(
            f"`{where}({name}=...)` must be a non-negative Python int or a pair (height, width) "
            f"of them; got {v!r}."
        )
    return int(vals[0]), int(vals[1])


def random_crop(
    key: Any,
    x: Any,
    *,
    padding: int | tuple[int, int] = 0,
    size: int | tuple[int, int] | None = None,
    pad_mode: str = "constant",
) -> jax.Array:
    r"""Pads each image, then crops a random window from it, independently per example.

    The image is padded by ``padding`` pixels on every side (``pad_mode`` as in
    ``jnp.pad``; ``"constant"`` pads with zeros), then a window of ``size``
    (default: the original height and width) is cut at a uniformly random
    offset ``(o_h, o_w) ∈ {0, …, H + 2p_h − h} × {0, …, W + 2p_w − w}``:

    .. math:: \tilde x_i = \mathrm{pad}(x_i)[o_h : o_h + h,\; o_w : o_w + w]

    The CIFAR recipe is ``random_crop(key, x, padding=4)``.

    Args:
      key: a PRNG key, first and positional.
      x: a batch of images, NHWC ``(batch, height, width, channels)``; any dtype.
      padding: static int or ``(pad_h, pad_w)``, pixels added on each side.
      size: static int or ``(h, w)``, the crop size; default the input's.
      pad_mode: static ``jnp.pad`` mode: ``"constant"``, ``"edge"``,
        ``"reflect"``, ``"symmetric"`` or ``"wrap"``.

    Returns:
      An array ``(batch, h, w, channels)`` of ``x``'s dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.ones((8, 32, 32, 3))
      >>> regjax.augment.random_crop(jax.random.key(0), x, padding=4).shape
      (8, 32, 32, 3)

    References:
      He, K., Zhang, X., Ren, S. and Sun, J. (2016). Deep Residual Learning for
      Image Recognition, §4.2 (4-pixel padding, random 32×32 crops). CVPR.
      https://arxiv.org/abs/1512.03385
    """
    where = f"{_P}.random_crop"
    key = check_key(key, where=where)
    x = _check_array(x, where=where, name="x", ndim=4)
    ph, pw = _pair(padding, where=where, name="padding")
    batch, height, width, channels = x.shape
    h, w = (height, width) if size is None else _pair(size, where=where, name="size")
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"`{where}(pad_mode=...)` must be one of {_PAD_MODES}; got {pad_mode!r}.")
    hp, wp = height + 2 * ph, width + 2 * pw
    if not (0 < h <= hp and 0 < w <= wp):
        raise ValueError(
            f"`{where}(size=...)` must be positive and fit in the padded image ({hp}, {wp}); "
            f"got ({h}, {w}). Increase `padding=` or reduce `size=`."
        )
    padded = jnp.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), mode=pad_mode)
    k_h, k_w = jax.random.split(key)
    off_h = jax.random.randint(k_h, (batch,), 0, hp - h + 1)
    off_w = jax.random.randint(k_w, (batch,), 0, wp - w + 1)
    zero = jnp.zeros((), off_h.dtype)

    def crop(img: jax.Array, oh: jax.Array, ow: jax.Array) -> jax.Array:
        return jax.lax.dynamic_slice(img, (oh, ow, zero), (h, w, channels))

    return jax.vmap(crop)(padded, off_h, off_w)


def cutout(key: Any, x: Any, size: Any, *, value: Any = 0) -> jax.Array:
    r"""Cutout: fills a random square of each image with ``value``, independently per example.

    Each example gets a centre ``(c_h, c_w)`` uniform over its pixels; the
    square ``[c_h − ⌊s/2⌋, c_h − ⌊s/2⌋ + s) × [c_w − ⌊s/2⌋, c_w − ⌊s/2⌋ + s)``
    is clipped to the image (so near a border less than s² pixels are cut,
    as in the paper) and set to ``value``.

    Args:
      key: a PRNG key, first and positional.
      x: a batch of images, NHWC ``(batch, height, width, channels)``; any dtype.
      size: side s >= 0 of the square in pixels, an integer scalar; may be traced.
      value: the fill value (cast to ``x``'s dtype); may be traced.

    Returns:
      An array like ``x``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> x = jnp.ones((2, 8, 8, 1))
      >>> out = regjax.augment.cutout(jax.random.key(0), x, 4)
      >>> cut = jnp.sum(out == 0, axis=(1, 2, 3))  # at most 4 * 4 pixels each
      >>> bool(jnp.all((cut > 0) & (cut <= 16)))
      True

    References:
      DeVries, T. and Taylor, G. W. (2017). Improved Regularization of
      Convolutional Neural Networks with Cutout. https://arxiv.org/abs/1708.04552
    """
    where = f"{_P}.cutout"
    key = check_key(key, where=where)
    x = _check_array(x, where=where, name="x", ndim=4)
    _check_scalar(size, where=where, name="size")
    size_dtype = getattr(size, "dtype", np.result_type(size))
    if isinstance(size, bool) or not jnp.issubdtype(size_dtype, jnp.integer):
        raise TypeError(f"`{where}(size=...)` must be an integer (pixels); got {size!r}.")
    check_nonnegative(size, where=where, name="size")
    batch, height, width = x.shape[:3]
    k_h, k_w = jax.random.split(key)
    c_h = jax.random.randint(k_h, (batch,), 0, height)
    c_w = jax.random.randint(k_w, (batch,), 0, width)
    s = jnp.asarray(size).astype(c_h.dtype)
    y0 = _bshape(c_h - s // 2, 4)
    x0 = _bshape(c_w - s // 2, 4)
    rows = jnp.arange(height, dtype=c_h.dtype).reshape(1, height, 1, 1)
    cols = jnp.arange(width, dtype=c_h.dtype).reshape(1, 1, width, 1)
    hole = (rows >= y0) & (rows < y0 + s) & (cols >= x0) & (cols < x0 + s)
    return jnp.where(hole, jnp.asarray(value).astype(x.dtype), x)
