"""Residual certificates of a truncated SVD, measured against the operator itself (never the solver's word).

`certify_svd` recomputes ``||A v_i - s_i u_i||`` and ``||A^T u_i - s_i v_i||`` with block products of
`RESIDUAL_COLUMNS` triplets and the orthonormality of ``U`` and ``V``, and returns an `SVDResult` whose
`SVDCertificate` says whether they meet the tolerance, and why not.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils

from amf._linalg import matmul
from amf.operators import Operator
from amf.solution import Reason, SVDCertificate, SVDResult


def to_host(x) -> np.ndarray:
    """``x`` as a numpy array on this process, gathering the shards of other processes when it is split over
    several hosts (``jax.distributed``); a plain ``np.asarray`` otherwise."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
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
    op: Operator, u, s, vt, *, tolerance: float, iterations: int, matvecs: int, finished: bool = True
) -> SVDResult:
    """Measure the residuals of ``(u, s, vt)`` against ``op`` (block products of `RESIDUAL_COLUMNS` triplets
    each way) and package them.

    ``finished``: whether the solver met its own stopping rule (False: it ran out of iterations). The reason is
    `Reason.CONVERGED` when the measured residuals and orthonormality pass, else `Reason.ITERATION_LIMIT` for an
    unfinished solver, `Reason.BREAKDOWN` for non-finite values, and `Reason.TOLERANCE` otherwise.
    """
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
    converged = bool(
        np.all(left <= tolerance)
        and np.all(right <= tolerance)
        and float(ortho) <= max(tolerance, 1e4 * float(jnp.finfo(s.dtype).eps))
    )
    if converged:
        reason = Reason.CONVERGED
    elif not (np.all(np.isfinite(left)) and np.all(np.isfinite(right)) and np.isfinite(ortho)):
        reason = Reason.BREAKDOWN
    else:
        reason = Reason.TOLERANCE if finished else Reason.ITERATION_LIMIT
    certificate = SVDCertificate(
        residual_left=left,
        residual_right=right,
        orthonormality=float(ortho),
        iterations=int(iterations),
        matvecs=int(matvecs) + 2 * int(s.shape[0]),
        tolerance=float(tolerance),
        converged=converged,
        reason=reason,
    )
    return SVDResult(to_host(u), to_host(s), to_host(vt), certificate)
