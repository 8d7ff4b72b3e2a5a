"""Small dense linear-algebra helpers shared by the solvers and checks.

Every matmul here pins ``precision=HIGHEST``: float32 matmuls default to reduced precision on recent GPUs
and TPUs, and a solver that does not say so is silently inaccurate there.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
from jax import lax

HIGHEST = lax.Precision.HIGHEST

matmul = functools.partial(jnp.matmul, precision=HIGHEST)
"""`jnp.matmul` with the precision pinned to HIGHEST."""


def orthonormal_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of ``col(x)`` (numpy, float64), via a thin QR; ``x`` is ``n x k``, full column rank."""
    q, _ = np.linalg.qr(np.asarray(x, dtype=np.float64))
    return q


def projector_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Spectral-norm distance ``||Pi_x - Pi_y||_2`` between the orthogonal projectors onto ``col(x)``, ``col(y)``.

    Equals ``sin`` of the largest principal angle when the two subspaces have equal dimension: sign- and
    rotation-invariant, so it compares subspaces rather than bases. Computed from ``n x k`` bases, never an
    ``n x n`` projector.
    """
    qx, qy = orthonormal_basis(x), orthonormal_basis(y)
    if qx.shape[1] != qy.shape[1]:
        return 1.0
    # ||(I - Qx Qx^T) Qy||_2 = sin(largest angle), without the cancellation of sqrt(1 - cos^2).
    return float(np.linalg.norm(qy - qx @ (qx.T @ qy), ord=2))


def principal_angles(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Principal angles (radians, ascending) between ``col(x)`` and ``col(y)``."""
    qx, qy = orthonormal_basis(x), orthonormal_basis(y)
    sines = np.linalg.svd(qy - qx @ (qx.T @ qy), compute_uv=False)
    return np.sort(np.arcsin(np.clip(sines, 0.0, 1.0)))
