"""What solvers return: the factors and a certificate saying how far they can be trusted.

Callers never guess whether a solver converged: every result carries a certificate, and
`SVDCertificate.converged` is False when the residuals exceed the tolerance.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from amf._linalg import matmul
from amf.operator import Operator


@dataclasses.dataclass(frozen=True)
class SVDCertificate:
    """Accuracy of a truncated SVD ``A ~ U diag(s) V^T`` with ``r`` triplets.

    - ``residual_left[i] = ||A v_i - s_i u_i|| / s_1``, ``residual_right[i] = ||A^T u_i - s_i v_i|| / s_1``, ``(r,)``;
    - ``orthonormality = max(||U^T U - I||_max, ||V^T V - I||_max)``;
    - ``iterations`` and ``matvecs`` spent (products with a block count once per column);
    - ``converged``: every residual ``<= tolerance`` and ``orthonormality <= max(tolerance, 1e4 eps)`` (a
      repeated triplet has zero residuals but is no SVD).
    """

    residual_left: np.ndarray
    residual_right: np.ndarray
    orthonormality: float
    iterations: int
    matvecs: int
    tolerance: float
    converged: bool

    @property
    def max_residual(self) -> float:
        if self.residual_left.size == 0:
            return 0.0
        return float(max(self.residual_left.max(), self.residual_right.max()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_residual": self.max_residual,
            "residual_left": self.residual_left.tolist(),
            "residual_right": self.residual_right.tolist(),
            "orthonormality": self.orthonormality,
            "iterations": self.iterations,
            "matvecs": self.matvecs,
            "tolerance": self.tolerance,
            "converged": self.converged,
        }


@dataclasses.dataclass(frozen=True)
class SVDResult:
    """Truncated SVD: ``u (m, r)``, ``s (r,)`` descending, ``vt (r, n)``, with its certificate."""

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray
    certificate: SVDCertificate

    @property
    def v(self) -> np.ndarray:
        return self.vt.T


def to_host(x) -> np.ndarray:
    """``x`` as a numpy array on this process, gathering the shards of other processes when it is split over
    several hosts (``jax.distributed``); a plain ``np.asarray`` otherwise."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


RESIDUAL_COLUMNS = 8
"""Triplets whose residuals are measured per block product (bounds the products' temporaries)."""


@jax.jit
def _residual_columns(op: Operator, u: jax.Array, s: jax.Array, vt: jax.Array, scale: jax.Array):
    """``||A v_i - s_i u_i|| / scale`` and ``||A^T u_i - s_i v_i|| / scale`` for a group of triplets."""
    v = vt.T
    left = jnp.linalg.norm(op.matmat(v) - u * s, axis=0) / scale
    right = jnp.linalg.norm(op.rmatmat(u) - v * s, axis=0) / scale
    return left, right


@jax.jit
def _orthonormality(u: jax.Array, vt: jax.Array):
    eye = jnp.eye(u.shape[1], dtype=u.dtype)
    return jnp.maximum(jnp.max(jnp.abs(matmul(u.T, u) - eye)), jnp.max(jnp.abs(matmul(vt, vt.T) - eye)))


def certify_svd(
    op: Operator, u, s, vt, *, tolerance: float, iterations: int, matvecs: int
) -> SVDResult:
    """Measure the residuals of ``(u, s, vt)`` against ``op`` (block products of `RESIDUAL_COLUMNS` triplets
    each way) and package them."""
    u, s, vt = jnp.asarray(u), jnp.asarray(s), jnp.asarray(vt)
    scale = jnp.maximum(s[0], jnp.finfo(s.dtype).tiny)
    groups = [
        _residual_columns(op, u[:, i : i + RESIDUAL_COLUMNS], s[i : i + RESIDUAL_COLUMNS],
                          vt[i : i + RESIDUAL_COLUMNS], scale)
        for i in range(0, s.shape[0], RESIDUAL_COLUMNS)
    ]
    left = np.concatenate([to_host(g[0]) for g in groups])
    right = np.concatenate([to_host(g[1]) for g in groups])
    ortho = to_host(_orthonormality(u, vt))
    certificate = SVDCertificate(
        residual_left=left,
        residual_right=right,
        orthonormality=float(ortho),
        iterations=int(iterations),
        matvecs=int(matvecs) + 2 * int(s.shape[0]),
        tolerance=float(tolerance),
        converged=bool(
            np.all(left <= tolerance)
            and np.all(right <= tolerance)
            and float(ortho) <= max(tolerance, 1e4 * float(jnp.finfo(s.dtype).eps))
        ),
    )
    return SVDResult(to_host(u), to_host(s), to_host(vt), certificate)


@dataclasses.dataclass(frozen=True)
class Solution:
    """Encoders that (approximately) minimize the MMCL loss, with how they were obtained.

    - ``f_images (N_V, k)`` is ``f_V`` and ``f_texts (N_L, k)`` is ``f_L`` (row = embedding);
    - ``svd``: for spectral solvers, the top ``k+1`` singular triplets of ``Pn`` (``s_{k+1}`` enters the bound;
      when ``k + 1 > min(N_V, N_L)`` the missing values are 0); None for solvers that do not compute one;
    - ``certificate``: the solver's own accuracy record (an `SVDCertificate` for spectral solvers);
    - ``dtype``: the floating type the solver worked in;
    - ``curve``: for iterative gradient solvers, the loss curve as a mapping of equal-length arrays
      (e.g. ``step``, ``loss``); None otherwise.
    """

    f_images: np.ndarray
    f_texts: np.ndarray
    solver: str
    dtype: str
    certificate: Any
    svd: SVDResult | None = None
    curve: dict[str, np.ndarray] | None = None

    @property
    def k(self) -> int:
        return int(self.f_images.shape[1])

    @property
    def converged(self) -> bool:
        return bool(self.certificate.converged)
