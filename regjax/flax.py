"""Glue for flax nnx: ``Dropout`` and ``DropPath`` modules built on
``regjax.stochastic``, whose rate is module state and may be traced, so an nnx
model's training can be vmapped over a grid of dropout rates with one compile;
and ``SpectralNorm``, built on ``regjax.spectral``, which never overwrites the
raw kernel.

Keys come from ``nnx.Rngs`` as usual. Under plain ``jax.jit`` (no nnx
transforms), thread the module state through the jitted function's inputs and
outputs (``nnx.split`` / ``nnx.merge`` / ``nnx.state``) so every step draws a
fresh mask.
"""

from regjax._flax_modules import Dropout as Dropout
from regjax._flax_modules import DropoutRate as DropoutRate
from regjax._flax_modules import DropPath as DropPath
from regjax._flax_modules import SpectralNorm as SpectralNorm

__all__ = ["DropPath", "Dropout", "DropoutRate", "SpectralNorm"]
