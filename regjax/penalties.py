"""Penalties: pure functions ``params -> scalar`` over any pytree.

The strength λ is never stored: write ``loss(params) + lam * penalties.l1(params)``
and ``jax.vmap`` over ``lam`` compiles once. Every penalty takes ``mask=``
(see ``regjax.masks``) and is safe under jit, grad and vmap.
"""

from regjax._penalties import elastic_net as elastic_net
from regjax._penalties import group_lasso as group_lasso
from regjax._penalties import l1 as l1
from regjax._penalties import l2 as l2
from regjax._penalties import nuclear as nuclear
from regjax._penalties import spectral as spectral

__all__ = ["elastic_net", "group_lasso", "l1", "l2", "nuclear", "spectral"]
