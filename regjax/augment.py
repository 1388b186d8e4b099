"""Data augmentation, batched and key-explicit.

Every function takes a whole batch (batch axis first) and one PRNG key as its
first, positional argument, draws per-example randomness from that key, and is
safe under ``jax.jit`` and ``jax.vmap``. Images are NHWC
``(batch, height, width, channels)``. Hyperparameters (``alpha``, ``eps``,
``prob``, cutout ``size``) may be traced, so ``jax.vmap`` over a grid compiles
once; shapes (padding, crop size, axes) are static.

Labels: ``mixup`` and ``cutmix`` take integer labels ``(batch,)`` together with
``num_classes=``, or one-hot / soft labels ``(batch, classes)``, and return soft
labels ``(batch, classes)`` whose rows sum to 1 when the inputs' do.
``smooth_labels`` works on one-hot / soft labels.
"""

from regjax._augment import cutmix as cutmix
from regjax._augment import cutout as cutout
from regjax._augment import mixup as mixup
from regjax._augment import random_crop as random_crop
from regjax._augment import random_flip as random_flip
from regjax._augment import smooth_labels as smooth_labels

__all__ = ["cutmix", "cutout", "mixup", "random_crop", "random_flip", "smooth_labels"]
