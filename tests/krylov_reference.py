"""The dense LAPACK reference a Krylov solve is judged against (tests only): values, the subspace of every
cluster of equal values, the certificate, and numpy's own residuals.

A cluster is a run of reference singular values within ``CLUSTER`` ``s_1`` of each other (a repeated value has
no unique basis, only a unique subspace). A cluster inside the top ``k`` must be spanned exactly (the projector
distance of the computed and the reference bases, sign- and rotation-invariant); one cut by ``k`` (copies beyond
the ``k``-th) only has its computed columns inside the reference cluster's span.
"""

from __future__ import annotations

import numpy as np

from amf.solution import Reason
from tests.helpers import numpy_residuals

CLUSTER = 1e-8
"""Reference values closer than this times ``s_1`` are one cluster."""


def clusters(s: np.ndarray, k: int) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges of the clusters of ``s`` (descending) that begin before ``k``."""
    scale = max(float(s[0]), np.finfo(float).tiny)
    out, start = [], 0
    for i in range(1, len(s) + 1):
        if i == len(s) or s[i - 1] - s[i] > CLUSTER * scale:
            if start < k:
                out.append((start, i))
            start = i
    return out


def _outside(basis: np.ndarray, columns: np.ndarray) -> float:
    """``||(I - Q Q^T) X||_2`` for orthonormal ``Q = basis``: how far the columns ``X`` leave ``col(Q)``."""
    return float(np.linalg.norm(columns - basis @ (basis.T @ columns), ord=2))


def assert_matches_lapack(a, result, k: int, *, values: float = 1e-9, subspace: float = 1e-6,
                          residual: float = 1e-8, unit: float = 1.0) -> None:
    """Assert ``result`` (an `amf.solution.SVDResult`) is the top-``k`` SVD of the dense ``a``: shapes, values to
    ``values s_1``, every cluster's subspace on both sides to ``subspace``, a converged certificate, and numpy
    residuals at most ``residual`` (relative to ``s_1``). ``unit``: ``a`` and ``s`` are compared divided by it
    (a matrix of extreme scale against the LAPACK SVD of its moderate original)."""
    a = np.asarray(a, dtype=np.float64) / unit
    u_ref, s_ref, vt_ref = np.linalg.svd(a, full_matrices=True)
    u, vt = np.asarray(result.u, dtype=np.float64), np.asarray(result.vt, dtype=np.float64)
    s = np.asarray(result.s, dtype=np.float64) / unit
    assert u.shape == (a.shape[0], k) and s.shape == (k,) and vt.shape == (k, a.shape[1])
    scale = max(float(s_ref[0]), np.finfo(float).tiny)
    np.testing.assert_allclose(s, s_ref[:k], rtol=0, atol=values * scale)
    assert result.certificate.converged, result.certificate.as_dict()
    assert result.certificate.reason == Reason.CONVERGED
    eye = np.eye(k)
    assert np.max(np.abs(u.T @ u - eye)) < 1e-10 and np.max(np.abs(vt @ vt.T - eye)) < 1e-10
    # the full reference (zero values included): a cluster of zeros spans the whole null space
    full = np.concatenate([s_ref, np.zeros(max(a.shape) - len(s_ref))])
    for start, stop in clusters(full, k):
        for mine, ref in ((u, u_ref), (vt.T, vt_ref.T)):
            end = min(stop, ref.shape[1])
            cluster = ref[:, start:end]
            if stop <= k:  # the whole cluster computed: the same subspace
                assert _outside(cluster, mine[:, start:stop]) < subspace, (start, stop)
                assert _outside(mine[:, start:stop], cluster) < subspace, (start, stop)
            else:  # cut by k: the computed copies lie inside the cluster
                assert _outside(cluster, mine[:, start:k]) < subspace, (start, stop)
    left, right = numpy_residuals(a, u, s, vt) if s[0] > 0 else (np.zeros(k), np.zeros(k))
    assert np.all(left <= residual) and np.all(right <= residual), (left, right)
