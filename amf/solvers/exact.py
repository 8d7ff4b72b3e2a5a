"""Exact truncated SVD of a dense matrix (docs/theory.md T2a): the Eckart–Young minimizer for small graphs.

One jitted LAPACK SVD (``jnp.linalg.svd``) of the dense ``m x n`` matrix, truncated to the top ``r`` triplets
and certified by the residuals ``||A v_i - s_i u_i||``, ``||A^T u_i - s_i v_i||``. For graphs up to a few
thousand nodes a side; larger graphs need the matrix-free solver (`amf.solvers.krylov`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from amf import _validate
from amf.operators import DenseOperator
from amf.solution import SVDResult
from amf.solvers.certify import certify_svd


@functools.partial(jax.jit, static_argnames="rank")
def _truncated_svd(matrix: jax.Array, rank: int):
    u, s, vt = jnp.linalg.svd(matrix, full_matrices=False)
    return u[:, :rank], s[:rank], vt[:rank]


def default_tolerance(dtype) -> float:
    """Residual tolerance of a backward-stable dense SVD: ``1e3 * eps`` (2.2e-13 float64, 1.2e-4 float32)."""
    return 1e3 * float(jnp.finfo(dtype).eps)


def exact_svd(matrix, k: int, *, tol: float | None = None, dtype=None, key: jax.Array | None = None) -> SVDResult:
    """Top ``k`` singular triplets of a dense matrix ``A (m, n)`` with ``1 <= k <= min(m, n)``.

    ``dtype`` defaults to the input's floating type. Returns an `SVDResult` whose certificate is converged
    when every relative residual is at most ``tol`` (default `default_tolerance`) and the complement test (with
    ``key``) finds nothing outside the returned subspaces above ``s_k``.
    """
    matrix = jnp.asarray(matrix, dtype=dtype)
    if matrix.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
    if not jnp.issubdtype(matrix.dtype, jnp.floating):
        matrix = matrix.astype(jnp.float64)
    k = _validate.rank(k, min(matrix.shape), "min(m, n)")
    tol = default_tolerance(matrix.dtype) if tol is None else float(tol)
    u, s, vt = _truncated_svd(matrix, k)
    return certify_svd(DenseOperator(matrix), u, s, vt, tol=tol, key=key, iterations=1)

