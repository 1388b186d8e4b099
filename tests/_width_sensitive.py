"""A small tanh network whose last bits follow XLA's batch width; shared by the sweep
tests and the subprocess that runs them on four forced host devices."""

import jax
import jax.numpy as jnp
import numpy as np

X_MLP = jnp.asarray(np.random.default_rng(0).normal(size=(96, 24)), jnp.float32)
Y_MLP = jnp.tanh(X_MLP @ jnp.linspace(-1.0, 1.0, 24))


def train_mlp(hp, key):
    """Gradient descent on a one-hidden-layer tanh network with an L2 term ``hp["lam"]``."""
    k1, k2 = jax.random.split(key)
    p = (0.3 * jax.random.normal(k1, (24, 32)), 0.3 * jax.random.normal(k2, (32,)))

    def loss(p):
        fit = jnp.mean((jnp.tanh(X_MLP @ p[0]) @ p[1] - Y_MLP) ** 2)
        return fit + hp["lam"] * jnp.sum(p[0] ** 2)

    def step(p, _):
        return jax.tree.map(lambda a, b: a - 0.1 * b, p, jax.grad(loss)(p)), None

    p, _ = jax.lax.scan(step, p, None, length=40)
    return {"loss": loss(p)}
