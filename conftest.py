"""Test-wide JAX settings: strict dtype promotion and no silent rank promotion,
so a test fails where a user's strict-mode program would. Applies to the
doctests in regjax/ as well as to tests/."""

import jax
import pytest

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def float64_enabled():
    """Runs a test with float64 enabled (``jax.enable_x64``); test modules that
    compare against float64 NumPy references use it for every test with
    ``pytestmark = pytest.mark.usefixtures("float64_enabled")``."""
    with jax.enable_x64(True):
        yield
