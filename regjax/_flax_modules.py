"""flax nnx modules built on ``regjax.stochastic``: the rate is module *state*
(a ``DropoutRate`` variable), not a Python attribute, so it may be traced."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from regjax._checks import check_key, check_unit_interval
from regjax._spectral import SpectralState, _check_count, init, normalize
from regjax._stochastic import _check_bool, _check_scalar, drop_path, dropout

_PUBLIC = "regjax.flax"


class DropoutRate(nnx.Variable):
    r"""The drop probability of a regjax ``Dropout`` or ``DropPath``: state, not a ``Param``.

    .. math:: p \in [0, 1], \qquad \text{held as a scalar array}

    Being a variable, it travels in ``nnx.split``'s state, so it can be a
    traced array (one member of a vmapped grid). Optimizers and ``nnx.grad``
    over ``nnx.Param`` leave it alone; select it with the filter
    ``regjax.flax.DropoutRate`` (e.g. to set every rate of a model at once).

    Args:
      value: the rate, a scalar array (the modules create it for you).

    Returns:
      An ``nnx.Variable``.

    Examples:
      >>> import jax
      >>> from flax import nnx
      >>> import regjax
      >>> drop = regjax.flax.Dropout(0.25)
      >>> jax.tree.leaves(nnx.state(drop, regjax.flax.DropoutRate))
      [Array(0.25, dtype=float32)]

    References:
      Flax authors, "Variables" (nnx variable types and filters),
      https://flax.readthedocs.io/en/latest/api_reference/flax.nnx/variables.html
    """


def _init_rngs(rngs: Any, collection: str, where: str) -> Any:
    if isinstance(rngs, nnx.Rngs):
        return rngs[collection].fork()
    if isinstance(rngs, nnx.RngStream):
        return rngs.fork()
    if rngs is None:
        return nnx.data(None)
    raise TypeError(
        f"`{where}(rngs=...)` must be an `nnx.Rngs`, an `nnx.RngStream` or None; "
        f"got {type(rngs).__name__}."
    )


def _init_rate(rate: Any, where: str) -> DropoutRate:
    _check_scalar(rate, where=where, name="rate")
    check_unit_interval(rate, where=where, name="rate")
    dtype = jnp.result_type(float)  # float32, or float64 under x64
    return DropoutRate(jnp.asarray(rate, dtype))


def _draw_key(module: Any, rngs: Any, where: str) -> jax.Array:
    source = rngs if rngs is not None else module.rngs
    if isinstance(source, nnx.Rngs):
        return source[module.rng_collection]()
    if isinstance(source, nnx.RngStream):
        return source()
    if isinstance(source, jax.Array | np.ndarray):
        # Checked here so that a bad key names the module's call, where it was passed.
        return check_key(source, where=f"{where}(...)", name="rngs")
    if source is None:
        raise ValueError(
            f"`{where}`: deterministic is False but there is no key: pass `rngs=nnx.Rngs(...)` "
            "to the constructor or a key / `rngs=` to the call."
        )
    raise TypeError(
        f"`{where}(rngs=...)` must be an `nnx.Rngs`, an `nnx.RngStream` or a PRNG key; "
        f"got {type(source).__name__}."
    )


class _RateModule(nnx.Module):
    rate: DropoutRate
    deterministic: bool
    rng_collection: str

    def _resolve(self, rate: Any, deterministic: bool | None, where: str) -> tuple[Any, bool]:
        # Call-time arguments are reported as the call's, `{where}(...)(name=...)`,
        # not as the constructor's or as those of the `regjax.stochastic`
        # function they are passed on to.
        call = f"{where}(...)"
        if deterministic is None:
            det = _check_bool(self.deterministic, where=where, name="deterministic")
        else:
            det = _check_bool(deterministic, where=call, name="deterministic")
        if rate is None:
            return self.rate[...], det
        _check_scalar(rate, where=call, name="rate")
        check_unit_interval(rate, where=call, name="rate")
        return rate, det

    def set_view(self, deterministic: bool | None = None) -> None:
        """Used by ``nnx.view``: ``deterministic=True`` turns dropping off.

        Args:
          deterministic: if given, the new value of ``self.deterministic``.
        """
        if deterministic is not None:
            self.deterministic = deterministic


class Dropout(_RateModule):
    r"""Inverted dropout as a flax nnx module whose rate may be traced.

    .. math:: y = \frac{m \odot x}{1 - p}, \qquad m_i \sim \mathrm{Bernoulli}(1 - p)

    A drop-in for ``flax.nnx.Dropout`` built on ``regjax.stochastic.dropout``.
    The rate p is stored as a ``DropoutRate`` variable (module state), so
    ``jax.vmap`` over a grid of rates, including a model built inside the
    vmapped function, compiles once; ``flax.nnx.Dropout`` branches in Python
    on its rate and fails on a traced one. A per-call ``rate=`` overrides the
    stored one. At p = 1 the output and its gradient are zero.

    Keys come from ``nnx.Rngs`` as in flax: the module forks the
    ``rng_collection`` stream ("dropout") at construction, and each call
    draws a fresh key, advancing a counter held in the module's state. Under
    ``nnx.jit`` that state is threaded for you. Under plain ``jax.jit``, pass
    the state in and return it (``nnx.split`` / ``nnx.merge`` /
    ``nnx.state``), or every step reuses the same mask (flax issue 4539).

    Args:
      rate: the probability of dropping, a scalar in [0, 1]; may be traced.
      broadcast_dims: static axes that share one mask (spatial / variational dropout).
      deterministic: True for evaluation (identity); ``model.eval()``,
        ``model.train()`` and ``nnx.view(model, deterministic=...)`` set it.
      rng_collection: the ``nnx.Rngs`` stream to draw keys from.
      rngs: an ``nnx.Rngs`` or ``nnx.RngStream``, or None to pass keys at call time.

    Returns:
      The module; calling it, ``module(x, *, rate=None, deterministic=None,
      rngs=None)``, returns an array of ``x``'s shape and dtype.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import regjax
      >>> drop = regjax.flax.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
      >>> y = drop(jnp.ones((2, 4)))
      >>> sorted(set(y.ravel().tolist()))
      [0.0, 2.0]
      >>> drop(jnp.ones(3), deterministic=True)
      Array([1., 1., 1.], dtype=float32)
      >>> def mean_out(rate):  # the rate is traced: one compile for the grid
      ...     m = regjax.flax.Dropout(rate, rngs=nnx.Rngs(dropout=0))
      ...     return jnp.mean(m(jnp.ones(1000)))
      >>> jax.vmap(mean_out)(jnp.array([0.0, 1.0]))
      Array([1., 0.], dtype=float32)

    References:
      Srivastava, N., Hinton, G., Krizhevsky, A., Sutskever, I. and
      Salakhutdinov, R. (2014). Dropout: A Simple Way to Prevent Neural Networks
      from Overfitting. JMLR 15. https://jmlr.org/papers/v15/srivastava14a.html
      Flax issue 4539 (dropout masks under ``jax.jit``),
      https://github.com/google/flax/issues/4539
    """

    def __init__(
        self,
        rate: Any,
        *,
        broadcast_dims: Sequence[int] = (),
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | nnx.RngStream | None = None,
    ):
        where = f"{_PUBLIC}.Dropout"
        self.rate = _init_rate(rate, where)
        self.broadcast_dims = tuple(int(d) for d in broadcast_dims)
        self.deterministic = _check_bool(deterministic, where=where, name="deterministic")
        self.rng_collection = rng_collection
        self.rngs = _init_rngs(rngs, rng_collection, where)

    def __call__(
        self,
        x: Any,
        *,
        rate: Any = None,
        deterministic: bool | None = None,
        rngs: Any = None,
    ) -> jax.Array:
        where = f"{_PUBLIC}.Dropout"
        r, det = self._resolve(rate, deterministic, where)
        if det:
            return jnp.asarray(x)
        key = _draw_key(self, rngs, where)
        return dropout(key, x, r, broadcast_dims=self.broadcast_dims)


class DropPath(_RateModule):
    r"""Stochastic depth as a flax nnx module whose rate may be traced.

    .. math:: y = \frac{m}{1 - p}\, x, \qquad m \sim \mathrm{Bernoulli}(1 - p)

    with one m per sample (``mode="row"``, axis 0 is the batch) or per batch
    (``mode="batch"``), built on ``regjax.stochastic.drop_path``. Apply it to
    a residual branch: ``x = x + self.drop_path(self.block(x))``. Keys, the
    traced rate and ``deterministic`` work as in ``regjax.flax.Dropout``.

    Args:
      rate: the probability of dropping the branch, a scalar in [0, 1]; may be traced.
      mode: ``"row"`` or ``"batch"``; static.
      deterministic: True for evaluation (identity).
      rng_collection: the ``nnx.Rngs`` stream to draw keys from.
      rngs: an ``nnx.Rngs`` or ``nnx.RngStream``, or None to pass keys at call time.

    Returns:
      The module; calling it, ``module(x, *, rate=None, deterministic=None,
      rngs=None)``, returns an array of ``x``'s shape and dtype.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import regjax
      >>> dp = regjax.flax.DropPath(0.5, rngs=nnx.Rngs(dropout=0))
      >>> y = dp(jnp.ones((6, 3)))
      >>> bool(jnp.all((y == 0).all(axis=1) | (y == 2).all(axis=1)))
      True

    References:
      Huang, G., Sun, Y., Liu, Z., Sedra, D. and Weinberger, K. Q. (2016). Deep
      Networks with Stochastic Depth. ECCV. https://arxiv.org/abs/1603.09382
    """

    def __init__(
        self,
        rate: Any,
        *,
        mode: str = "row",
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | nnx.RngStream | None = None,
    ):
        where = f"{_PUBLIC}.DropPath"
        if mode not in ("row", "batch"):
            raise ValueError(f'`{where}(mode=...)` must be "row" or "batch"; got {mode!r}.')
        self.rate = _init_rate(rate, where)
        self.mode = mode
        self.deterministic = _check_bool(deterministic, where=where, name="deterministic")
        self.rng_collection = rng_collection
        self.rngs = _init_rngs(rngs, rng_collection, where)

    def __call__(
        self,
        x: Any,
        *,
        rate: Any = None,
        deterministic: bool | None = None,
        rngs: Any = None,
    ) -> jax.Array:
        where = f"{_PUBLIC}.DropPath"
        r, det = self._resolve(rate, deterministic, where)
        if det:
            return jnp.asarray(x)
        key = _draw_key(self, rngs, where)
        return drop_path(key, x, r, mode=self.mode)


class SpectralNorm(nnx.Module):
    r"""Spectral normalization of a wrapped layer's kernel, as a reparametrization.

    .. math:: \bar W = W / \hat\sigma(W), \qquad y = \mathrm{layer}_{\bar W}(x)

    with σ̂ from ``regjax.spectral.normalize`` (power iteration; the gradient
    flows through σ̂ as in the paper). The raw kernel stays the layer's
    ``nnx.Param`` and is never overwritten: each call swaps ``W̄`` in for the
    forward pass and puts ``W`` back, unlike ``flax.nnx.SpectralNorm``, which
    writes the normalized weight into the params. The power-iteration vector
    ``u`` and the last σ̂ are ``nnx.BatchStat`` state, updated on each call
    unless ``deterministic`` (then the stored ``u`` is used as is). Conv
    kernels ``(..., in, out)`` are treated as ``(h·w·in, out)`` matrices.

    Under plain ``jax.jit`` thread the module state through the function's
    inputs and outputs (``nnx.split`` / ``nnx.merge``), or the ``u`` updates
    are lost, as for dropout keys.

    Args:
      layer: the wrapped nnx module, e.g. ``nnx.Linear`` or ``nnx.Conv``.
      param_name: the attribute of ``layer`` holding the kernel; static.
      n_iter: power iterations per call (static, >= 0).
      n_warmup: power iterations at construction (static, >= 0); see
        ``regjax.spectral.init`` for the accuracy and cost trade-off.
      deterministic: True for evaluation: no ``u`` update and no iteration.
      rngs: an ``nnx.Rngs``; the ``params`` stream seeds ``u``.

    Returns:
      The module; calling it, ``module(x, *, deterministic=None)``, returns the
      wrapped layer's output with the normalized kernel.

    Examples:
      >>> import jax, jax.numpy as jnp
      >>> from flax import nnx
      >>> import regjax
      >>> rngs = nnx.Rngs(params=0)
      >>> layer = regjax.flax.SpectralNorm(nnx.Linear(8, 4, rngs=rngs), n_warmup=100, rngs=rngs)
      >>> y = layer(jnp.ones((2, 8)))
      >>> w_bar = layer.layer.kernel[...] / layer.sigma[...]
      >>> round(float(jnp.linalg.norm(w_bar, ord=2)), 3)
      1.0

    References:
      Miyato, T., Kataoka, T., Koyama, M. and Yoshida, Y. (2018). Spectral
      Normalization for Generative Adversarial Networks. ICLR.
      https://arxiv.org/abs/1802.05957
    """

    def __init__(
        self,
        layer: nnx.Module,
        *,
        param_name: str = "kernel",
        n_iter: int = 1,
        n_warmup: int = 15,
        deterministic: bool = False,
        rngs: nnx.Rngs,
    ):
        where = f"{_PUBLIC}.SpectralNorm"
        if not isinstance(layer, nnx.Module):
            raise TypeError(
                f"`{where}(layer=...)` must be an nnx Module such as `nnx.Linear`; "
                f"got {type(layer).__name__}."
            )
        param = getattr(layer, param_name, None)
        if not isinstance(param, nnx.Variable):
            raise ValueError(
                f"`{where}(param_name=...)`: the layer {type(layer).__name__} has no variable "
                f"{param_name!r}. Pass the name of its kernel, e.g. param_name='kernel'."
            )
        if not isinstance(rngs, nnx.Rngs):
            raise TypeError(
                f"`{where}(rngs=...)` must be an `nnx.Rngs` (its `params` stream seeds the "
                f"power iteration); got {type(rngs).__name__}."
            )
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ValueError(f"`{where}(n_iter=...)` must be an int >= 0; got {n_iter!r}.")
        # Checked here, before `regjax.spectral.init`, so that errors name SpectralNorm.
        _check_count(n_warmup, where=where, name="n_warmup")
        kernel = param[...]
        if not jnp.issubdtype(kernel.dtype, jnp.floating) or kernel.ndim < 2:
            raise ValueError(
                f"`{where}(param_name=...)`: {type(layer).__name__}.{param_name} has shape "
                f"{kernel.shape} and dtype {kernel.dtype}; spectral normalization needs a "
                "floating kernel with 2 or more dimensions ((in, out) or (..., in, out))."
            )
        state = init(rngs.params(), kernel, n_warmup=n_warmup)
        self.layer = layer
        self.param_name = param_name
        self.n_iter = n_iter
        self.deterministic = _check_bool(deterministic, where=where, name="deterministic")
        self.u = nnx.BatchStat(state.u)
        self.sigma = nnx.BatchStat(state.sigma)

    def __call__(self, x: Any, *, deterministic: bool | None = None) -> Any:
        where = f"{_PUBLIC}.SpectralNorm"
        if deterministic is None:
            det = _check_bool(self.deterministic, where=where, name="deterministic")
        else:
            det = _check_bool(deterministic, where=f"{where}(...)", name="deterministic")
        param = getattr(self.layer, self.param_name)
        w = param[...]
        state = SpectralState(u=self.u[...], sigma=self.sigma[...])
        w_bar, new = normalize(w, state, n_iter=0 if det else self.n_iter, update=not det)
        if not det:
            self.u[...] = new.u
            self.sigma[...] = new.sigma
        param[...] = w_bar
        try:
            return self.layer(x)
        finally:
            param[...] = w

    def set_view(self, deterministic: bool | None = None) -> None:
        """Used by ``nnx.view``: ``deterministic=True`` freezes the power iteration.

        Args:
          deterministic: if given, the new value of ``self.deterministic``.
        """
        if deterministic is not None:
            self.deterministic = deterministic
