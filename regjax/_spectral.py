r"""Spectral normalization as a pure reparametrization (Miyato et al. 2018).

A weight ``w`` is viewed as the matrix ``W = w.reshape(-1, w.shape[-1])``: a
dense kernel ``(in, out)`` as itself, a conv kernel ``(h, w, in, out)`` as
``(h*w*in, out)`` (the paper's and flax's convention). The state of the power
iteration is a unit vector ``u`` of length ``out``; one iteration is

.. math::
   v \leftarrow \frac{W u}{\|W u\|}, \qquad u \leftarrow \frac{W^\top v}{\|W^\top v\|},
   \qquad \hat\sigma = v^\top W u .

The estimate is from below: for unit ``u`` and ``v``,
``σ̂ = vᵀWu ≤ ‖v‖·‖Wu‖ ≤ ‖W‖₂ = σ_max`` (Cauchy–Schwarz, then the definition
of the operator norm), whatever the number of iterations.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from regjax._checks import check_key, check_nonnegative
from regjax._tree import accumulation_dtype

_INIT = "regjax.spectral.init"
_NORMALIZE = "regjax.spectral.normalize"


class SpectralState(NamedTuple):
    """The power-iteration state of one weight, a NamedTuple of arrays.

    Built by :func:`init` and returned, updated, by :func:`normalize`. It is a
    pytree, so it can be carried through ``jax.lax.scan``, vmapped for stacked
    layers, and checkpointed with the rest of the training state.

    Args:
      u: unit vector of shape ``(w.shape[-1],)``, the running estimate of the
        top right singular vector of ``w.reshape(-1, w.shape[-1])``; float32 or
        wider.
      sigma: scalar, the last estimate σ̂ of the top singular value (for
        monitoring; ``normalize`` recomputes it from ``u``).

    Returns:
      The state ``SpectralState(u, sigma)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> state = regjax.spectral.init(jax.random.key(0), jnp.eye(3) * 2.0)
      >>> state._fields, state.u.shape, round(float(state.sigma), 4)
      (('u', 'sigma'), (3,), 2.0)

    References:
      Miyato, T., Kataoka, T., Koyama, M. and Yoshida, Y. (2018). Spectral
      Normalization for Generative Adversarial Networks. ICLR.
      https://arxiv.org/abs/1802.05957
    """

    u: jax.Array
    sigma: jax.Array


def _as_matrix(w: Any, *, where: str) -> jax.Array:
    if not hasattr(w, "shape") or not hasattr(w, "dtype"):
        raise TypeError(f"`{where}(w=...)` must be an array; got {type(w).__name__}.")
    if not jnp.issubdtype(w.dtype, jnp.floating):
        raise TypeError(f"`{where}(w=...)` must have a floating dtype; got {w.dtype}.")
    if w.ndim < 2:
        raise ValueError(
            f"`{where}(w=...)` must have 2 or more dimensions (a dense kernel (in, out) or a "
            f"conv kernel (..., in, out)); got shape {w.shape}. Biases and scales have no "
            "spectral norm: leave them out."
        )
    w = jnp.asarray(w)
    return w.reshape(-1, w.shape[-1]).astype(accumulation_dtype(w.dtype))


def _check_count(n: Any, *, where: str, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise TypeError(
            f"`{where}({name}=...)` must be a Python int (a static count); got {type(n).__name__}."
        )
    if n < 0:
        raise ValueError(f"`{where}({name}=...)` must be >= 0; got {n}.")
    return int(n)


def _l2_normalize(x: jax.Array, eps: Any) -> jax.Array:
    return x * jax.lax.rsqrt(jnp.sum(x * x) + jnp.asarray(eps, x.dtype))


def _iterate(mat: jax.Array, u: jax.Array, n: int, eps: Any) -> tuple[jax.Array, jax.Array]:
    """n power iterations from u, then the matching v; returns (u, v)."""

    def step(u: jax.Array, _: Any) -> tuple[jax.Array, None]:
        v = _l2_normalize(mat @ u, eps)
        return _l2_normalize(mat.T @ v, eps), None

    if n > 0:
        u, _ = jax.lax.scan(step, u, None, length=n)
    v = _l2_normalize(mat @ u, eps)
    return u, v


def init(key: Any, w: Any, *, n_warmup: int = 15, eps: Any = 1e-12) -> SpectralState:
    r"""Starts the power iteration for ``w``: a random unit ``u``, then ``n_warmup`` iterations.

    ``u₀ ~ N(0, I)/‖·‖``, followed by ``n_warmup`` iterations of
    ``v ← Wu/‖Wu‖, u ← Wᵀv/‖Wᵀv‖`` on ``W = w.reshape(-1, w.shape[-1])``. The
    warm-up makes the first ``normalize`` accurate: on random 256×256
    Gaussian matrices the default 15 iterations (plus the one ``normalize``
    does) put σ̂ within 8% of the top singular value (measured: 1.9% on
    average, 4.5% at worst over 20 seeds), where flax's ``SpectralNorm`` on
    its first call (one iteration from a random start) is about 28% low.
    ``n_warmup=500`` is within 1%. Each iteration costs two matrix–vector
    products; see ``regjax.spectral`` for the trade-off.

    Args:
      key: a PRNG key (``jax.random.key`` or ``jax.random.PRNGKey``), first and
        positional.
      w: the weight, 2-D ``(in, out)`` or a conv kernel ``(..., in, out)``.
      n_warmup: static number of power iterations to run now (>= 0).
      eps: added under the square root when normalizing vectors; may be traced.

    Returns:
      A :class:`SpectralState` ``(u, sigma)``.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> w = jnp.diag(jnp.array([3.0, 1.0, 0.5]))
      >>> state = regjax.spectral.init(jax.random.key(0), w)
      >>> state.u.shape, round(float(state.sigma), 4)
      ((3,), 3.0)

    References:
      Miyato, T., Kataoka, T., Koyama, M. and Yoshida, Y. (2018). Spectral
      Normalization for Generative Adversarial Networks. ICLR.
      https://arxiv.org/abs/1802.05957
      Golub, G. H. and Van Loan, C. F. (2013). Matrix Computations, 4th ed.,
      §8.2.1 (the power method). Johns Hopkins University Press.
    """
    key = check_key(key, where=_INIT)
    mat = _as_matrix(w, where=_INIT)
    n = _check_count(n_warmup, where=_INIT, name="n_warmup")
    check_nonnegative(eps, where=_INIT, name="eps")
    u0 = jax.random.normal(key, (mat.shape[1],), mat.dtype)
    u, v = _iterate(mat, _l2_normalize(u0, eps), n, eps)
    return SpectralState(u=u, sigma=v @ (mat @ u))


def normalize(
    w: Any,
    state: SpectralState,
    *,
    n_iter: int = 1,
    update: bool = True,
    eps: Any = 1e-12,
) -> tuple[jax.Array, SpectralState]:
    r"""Divides ``w`` by its estimated top singular value; returns ``(w / σ̂, new_state)``.

    From the stored ``u``, runs ``n_iter`` power iterations on
    ``W = w.reshape(-1, w.shape[-1])``, then

    .. math::
       v = \frac{W u}{\|W u\|}, \qquad
       \hat\sigma = \mathrm{sg}(v)^\top\, W\, \mathrm{sg}(u), \qquad
       \bar w = w / \hat\sigma ,

    where ``sg`` is ``jax.lax.stop_gradient``, so ``∂σ̂/∂W = v uᵀ`` and the
    gradient through ``normalize`` is the paper's (its eq. 12). σ̂ never
    exceeds the true top singular value (``vᵀWu ≤ ‖W‖₂`` for unit ``u, v``).
    ``w`` itself is never modified: the caller keeps the raw parameter and
    uses ``w̄`` in the forward pass. A zero ``w`` is returned as is (σ̂ = 0 is
    replaced by 1). The result has ``w``'s shape and dtype.

    For a stack of weights (scanned layers, ``(n_layers, in, out)``),
    ``jax.vmap`` both ``init`` and ``normalize`` over the stacking axis;
    without vmap the stack is treated as one ``(n_layers*in, out)`` matrix.

    Args:
      w: the raw weight, 2-D or a conv kernel ``(..., in, out)``.
      state: the :class:`SpectralState` from ``init`` or a previous call.
      n_iter: static number of power iterations this call (>= 0). With 0 the
        stored ``u`` is used as is (deterministic evaluation).
      update: if False, the returned state is ``state`` unchanged (evaluation);
        a static Python bool.
      eps: added under the square root when normalizing vectors; may be traced.

    Returns:
      ``(w_bar, new_state)``: the normalized weight and the updated state.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> import regjax
      >>> w = jnp.array([[2.0, 0.0], [0.0, 0.5]])
      >>> state = regjax.spectral.init(jax.random.key(0), w)
      >>> w_bar, state = regjax.spectral.normalize(w, state)
      >>> w_bar
      Array([[1.  , 0.  ],
             [0.  , 0.25]], dtype=float32)
      >>> kernel = jax.random.normal(jax.random.key(1), (3, 3, 4, 8))  # conv (h, w, in, out)
      >>> state = regjax.spectral.init(jax.random.key(2), kernel, n_warmup=200)
      >>> k_bar, state = regjax.spectral.normalize(kernel, state)
      >>> float(jnp.linalg.norm(k_bar.reshape(-1, 8), ord=2))  # doctest: +NUMBER
      1.00

    References:
      Miyato, T., Kataoka, T., Koyama, M. and Yoshida, Y. (2018). Spectral
      Normalization for Generative Adversarial Networks. ICLR.
      https://arxiv.org/abs/1802.05957
    """
    mat = _as_matrix(w, where=_NORMALIZE)
    n = _check_count(n_iter, where=_NORMALIZE, name="n_iter")
    if not isinstance(update, bool):
        raise TypeError(
            f"`{_NORMALIZE}(update=...)` must be a Python bool (a static choice); got "
            f"{type(update).__name__}."
        )
    check_nonnegative(eps, where=_NORMALIZE, name="eps")
    if not isinstance(state, SpectralState):
        raise TypeError(
            f"`{_NORMALIZE}(state=...)` must be the SpectralState returned by "
            f"`regjax.spectral.init` or a previous `normalize`; got {type(state).__name__}."
        )
    if state.u.shape != (mat.shape[1],):
        raise ValueError(
            f"`{_NORMALIZE}(state=...)`: state.u has shape {state.u.shape} but w of shape "
            f"{w.shape} needs ({mat.shape[1]},). Build the state with "
            "`regjax.spectral.init(key, w)` for this weight."
        )
    u, v = _iterate(mat, state.u.astype(mat.dtype), n, eps)
    u = jax.lax.stop_gradient(u)
    v = jax.lax.stop_gradient(v)
    sigma = v @ (mat @ u)
    safe = jnp.where(sigma != 0, sigma, jnp.ones_like(sigma))
    w = jnp.asarray(w)
    w_bar = (w.astype(mat.dtype) / safe).astype(w.dtype)
    new_state = SpectralState(u=u, sigma=sigma) if update else state
    return w_bar, new_state
