"""Named PRNG keys: one seed per run, split into a key per named purpose.

``named_key(seed, "perturbations")`` is ``fold_in(key(seed), crc32(name))``: adding or reordering purposes
does not change the draws of the others, so a report's numbers stay reproducible from its seed.
"""

from __future__ import annotations

import zlib

import jax
import numpy as np


def named_key(seed: int, name: str) -> jax.Array:
    """The key for purpose ``name`` under run seed ``seed``."""
    return jax.random.fold_in(jax.random.key(seed), zlib.crc32(name.encode()))


def normal(seed: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float64 draws for purpose ``name`` (a numpy array, for the float64 checks).

    Drawn by numpy from the stream ``(seed, crc32(name))``, named like `named_key`: a JAX draw compiles once per
    shape (its cost: docs/performance.md), and the checks draw a dozen shapes per graph."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())]).standard_normal(shape)
