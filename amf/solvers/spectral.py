"""The spectral route: top singular triplets of ``Pn`` and the canonical Eckart–Young encoders built from them.

Spectral solvers compute the top ``k + 1`` singular triplets of ``Pn`` and return the canonical minimizer
(docs/theory.md T2a) ``F_V = U_k S_k^{1/2}``, ``F_L = V_k S_k^{1/2}``, i.e. encoders ``f_V = D_V^{-1/2} F_V`` and
``f_L = D_L^{-1/2} F_L``. `reference_svd` is the float64 spectrum every gradient solver is judged against.
"""

from __future__ import annotations

import jax
import numpy as np
import scipy.sparse.linalg as sla

from amf import _validate
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.operators import default_kernel, device_mesh, sharded_operator, sparse_operator
from amf.operators.ordering import label_order
from amf.solution import SVDResult
from amf.solvers.certify import certify_svd
from amf.solvers.exact import exact_svd
from amf.solvers.krylov import topk_svd

SPECTRAL_SOLVERS = ("exact", "krylov")


def check_k(graph: CoOccurrence, k) -> int:
    """Validate the embedding dimension ``k``: an integer with ``1 <= k <= min(N_V, N_L)``."""
    return _validate.rank(k, min(graph.shape))


def spectral_svd(
    graph: CoOccurrence, rank: int, *, solver: str, dtype: str, seed: int = 0, tol=None, devices: int | None = None
) -> SVDResult:
    """Top ``rank`` singular triplets of ``Pn`` with the named spectral solver.

    ``devices`` (krylov only) splits the rows of ``Pn`` over that many devices (`amf.operators.sharded`); in a
    multi-process run (``jax.distributed``) the solve is always sharded over every process's devices.
    """
    if solver == "exact":
        if devices is not None:
            raise InputError("devices applies to the krylov solver; the exact solver runs on one device")
        return exact_svd(graph.normalized_dense(), rank, tol=tol, dtype=dtype, key=jax.random.key(seed))
    if solver == "krylov":
        key = jax.random.key(seed)
        if devices is None and jax.process_count() == 1:
            return topk_svd(_operator(graph, dtype), rank, tol=tol, key=key)
        try:
            mesh = device_mesh(devices)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        operator = sharded_operator(graph.normalized, mesh, dtype)
        return topk_svd(operator, rank, tol=tol, key=key, n_rows=graph.n_images)
    raise InputError(f"unknown spectral solver {solver!r}; choose one of {', '.join(SPECTRAL_SOLVERS)}")


def _operator(graph: CoOccurrence, dtype):
    """``Pn`` as an operator; on a CPU stored in the order of the graph's labels, when it has them, for the host
    kernel's cache locality (`amf.operators.ordering`; the solver's outputs are in the graph's order)."""
    if default_kernel() != "host":
        return graph.normalized_operator(dtype)
    order = label_order(graph.normalized, graph.image_labels, graph.text_labels)
    return sparse_operator(graph.normalized, dtype, order=order)


def encoders_from_svd(graph: CoOccurrence, svd: SVDResult, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical minimizer from the top ``k`` triplets: ``f_V = D_V^{-1/2} U_k S_k^{1/2}``, same for ``f_L``.

    Singular values at round-off level (``<= 1e3 eps s_1`` in the solver's dtype) are exact zeros of ``Pn``
    computed inexactly; their encoder columns are set to 0 rather than ``sqrt(round-off)`` times an arbitrary
    null vector, so ``col(f_V)`` is the well-determined part of the subspace.
    """
    s = np.asarray(svd.s[:k], dtype=np.float64)
    roundoff = 1e3 * np.finfo(svd.s.dtype).eps * float(svd.s[0])
    root = np.sqrt(np.where(s <= roundoff, 0.0, s))
    f_images = np.asarray(svd.u[:, :k], dtype=np.float64) * root / np.sqrt(graph.p_images)[:, None]
    f_texts = np.asarray(svd.vt[:k].T, dtype=np.float64) * root / np.sqrt(graph.p_texts)[:, None]
    return f_images, f_texts


def reference_svd(graph: CoOccurrence, k: int, *, tol: float = 1e-10, seed: int = 0) -> SVDResult:
    """Top ``min(k + 1, min(N_V, N_L))`` singular triplets of ``Pn`` in float64, to judge a rank-``k`` result.

    Dense LAPACK SVD (`spectral_svd` with ``solver="exact"``) up to `amf.graph.DENSE_LIMIT` entries; above it,
    ARPACK (``scipy.sparse.linalg.svds``) on the sparse ``Pn`` with a fixed start vector, certified by the same
    residuals as the spectral solvers.
    """
    rank = min(k + 1, min(graph.shape))
    if graph.n_images * graph.n_texts <= DENSE_LIMIT:
        return spectral_svd(graph, rank, solver="exact", dtype="float64")
    if rank >= min(graph.shape):
        raise InputError(f"ARPACK needs k + 1 < min(N_V, N_L) = {min(graph.shape)}, got {rank}")
    v0 = np.random.default_rng(seed).standard_normal(min(graph.shape))
    u, s, vt = sla.svds(graph.normalized, k=rank, tol=tol, v0=v0)
    order = np.argsort(s)[::-1]
    u, s, vt = u[:, order], s[order], vt[order]
    return certify_svd(graph.normalized_operator(np.float64), u, s, vt, tol=max(1e3 * tol, 1e-8),
                       key=jax.random.key(seed))
