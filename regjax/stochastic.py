"""Stochastic regularizers with explicit PRNG keys.

Every function takes a PRNG key first, as ``jax.random`` does, and every rate
may be a traced array, so ``jax.vmap`` over a grid of dropout rates compiles
once. ``rate`` is the probability of dropping; ``deterministic=True`` is the
identity. The key helpers (``step_key``, ``layer_keys``, ``named_key``,
``member_keys``) derive per-step, per-layer and per-grid-member keys from one
seed.
"""

from regjax._stochastic import drop_path as drop_path
from regjax._stochastic import dropconnect as dropconnect
from regjax._stochastic import dropout as dropout
from regjax._stochastic import gaussian_dropout as gaussian_dropout
from regjax._stochastic import gaussian_noise as gaussian_noise
from regjax._stochastic import layer_keys as layer_keys
from regjax._stochastic import mc_predict as mc_predict
from regjax._stochastic import member_keys as member_keys
from regjax._stochastic import named_key as named_key
from regjax._stochastic import step_key as step_key

__all__ = [
    "drop_path",
    "dropconnect",
    "dropout",
    "gaussian_dropout",
    "gaussian_noise",
    "layer_keys",
    "mc_predict",
    "member_keys",
    "named_key",
    "step_key",
]
