"""regjax: regularizers for JAX, written as functional transforms."""

from regjax import checks as checks
from regjax import masks as masks
from regjax import penalties as penalties
from regjax import prox as prox

__version__ = "0.1.0"

__all__ = ["checks", "masks", "penalties", "prox"]
