"""Test-wide JAX settings: strict dtype promotion and no silent rank promotion,
so a test fails where a user's strict-mode program would. Applies to the
doctests in regjax/ as well as to tests/."""

import jax

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")
