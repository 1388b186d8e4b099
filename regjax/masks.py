"""Which leaves are regularized.

A mask follows optax's convention: a pytree of bools with the structure of
the params (or a prefix of it), or a callable ``params -> such a pytree``;
True means regularize. Every regjax mask can be passed to any optax
``mask=``, and every optax-style mask to regjax.
"""

from regjax._masks import by_path as by_path
from regjax._masks import describe as describe
from regjax._masks import weights_only as weights_only

__all__ = ["by_path", "describe", "weights_only"]
