"""regjax: regularizers for JAX, written as functional transforms.

Submodules are imported on first use (``regjax.penalties``, ``regjax.prox``, …),
so ``import regjax`` stays cheap and optional dependencies load only where
they are needed.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "augment",
    "checks",
    "cli",
    "early_stopping",
    "flax",
    "linear",
    "masks",
    "penalties",
    "plot",
    "prox",
    "spectral",
    "stochastic",
    "sweep",
    "transforms",
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"regjax.{name}")
    raise AttributeError(f"module 'regjax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])
