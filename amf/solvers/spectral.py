"""The spectral solvers and what they share: the top singular triplets of ``Pn`` and the canonical Eckart–Young
encoders built from them.

A spectral solver is a `Spectral` subclass (`Exact`, `Krylov`) whose fields are its options, declared once
(`amf._validate.param`); its ``svd`` computes the top ``k + 1`` triplets of ``Pn`` and ``solve`` returns the
canonical minimizer (docs/theory.md T2a) ``F_V = U_k S_k^{1/2}``, ``F_L = V_k S_k^{1/2}``, i.e. encoders
``f_V = D_V^{-1/2} F_V`` and ``f_L = D_L^{-1/2} F_L``. The registry (`amf.solve.SOLVERS`) lists them.
`reference_svd` is the float64 spectrum every gradient solver is judged against.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import jax
import numpy as np
import scipy.sparse.linalg as sla

from amf import _validate
from amf._validate import param
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.operators import default_kernel, device_mesh, sharded_operator, sparse_operator
from amf.operators.ordering import label_order
from amf.solution import Solution, SVDResult
from amf.solvers import exact, krylov
from amf.solvers.certify import certify_svd


def check_k(graph: CoOccurrence, k) -> int:
    """Validate the embedding dimension ``k``: an integer with ``1 <= k <= min(N_V, N_L)``."""
    return _validate.rank(k, min(graph.shape))


@dataclasses.dataclass(frozen=True)
class Spectral:
    """A spectral solver: ``svd(graph, rank, dtype, seed)`` returns the top ``rank`` triplets of ``Pn`` with an
    `amf.solution.SVDCertificate` (`amf.solvers.certify.certify_svd`); ``solve`` the canonical encoders.
    Class attributes: ``name``, ``summary`` (one line for help texts), ``default_tolerance(dtype)``."""

    tol: float | None = param(None, kind=float, low=0, low_open=True, optional=True, cli=False,
                              help="residual tolerance of the certificate (default: the solver's, per dtype)")

    name: ClassVar[str]
    summary: ClassVar[str]

    def __post_init__(self):
        _validate.check_all(self)

    @staticmethod
    def default_tolerance(dtype) -> float:
        raise NotImplementedError

    def check_rank(self, graph: CoOccurrence, k: int) -> None:
        """Refuse a rank the solver cannot reach (default: every ``1 <= k <= min(N_V, N_L)`` is fine)."""

    def svd(self, graph: CoOccurrence, rank: int, *, dtype: str, seed: int = 0) -> SVDResult:
        """The top ``rank`` singular triplets of ``Pn``, certified."""
        raise NotImplementedError

    def solve(self, graph: CoOccurrence, k: int, *, dtype: str, seed: int = 0) -> Solution:
        """The canonical minimizer at rank ``k`` from the top ``min(k + 1, min(N_V, N_L))`` triplets."""
        self.check_rank(graph, k)
        svd = self.svd(graph, min(k + 1, min(graph.shape)), dtype=dtype, seed=seed)
        f_images, f_texts = encoders_from_svd(graph, svd, k)
        return Solution(f_images, f_texts, solver=self.name, dtype=dtype, certificate=svd.certificate, svd=svd)


@dataclasses.dataclass(frozen=True)
class Exact(Spectral):
    """Dense LAPACK SVD of ``Pn`` (`amf.solvers.exact.exact_svd`)."""

    name = "exact"
    summary = "jitted dense LAPACK SVD of Pn (graphs up to a few thousand nodes a side)"
    default_tolerance = staticmethod(exact.default_tolerance)

    def svd(self, graph, rank, *, dtype, seed=0):
        return exact.exact_svd(graph.normalized_dense(), rank, tol=self.tol, dtype=dtype, key=jax.random.key(seed))


@dataclasses.dataclass(frozen=True)
class Krylov(Spectral):
    """Matrix-free block Lanczos (`amf.solvers.krylov.topk_svd`). ``devices`` splits the rows of ``Pn`` over that
    many devices (`amf.operators.sharded`); in a multi-process run (``jax.distributed``) the solve is always
    sharded over every process's devices."""

    devices: int | None = param(None, kind=int, low=1, optional=True, cli=False,
                                help="shard the rows of Pn over this many devices")

    name = "krylov"
    summary = "matrix-free thick-restart block Lanczos, float32/float64, one or many devices"
    default_tolerance = staticmethod(krylov.default_tolerance)

    def check_rank(self, graph, k):
        if k + 1 >= min(graph.shape):
            raise InputError(
                f"the krylov solver needs k + 1 < min(N_V, N_L) = {min(graph.shape)} (it computes k + 1 "
                f"triplets), got k = {k}; use the exact solver")

    def svd(self, graph, rank, *, dtype, seed=0):
        key = jax.random.key(seed)
        if self.devices is None and jax.process_count() == 1:
            return krylov.topk_svd(_operator(graph, dtype), rank, tol=self.tol, key=key)
        try:
            mesh = device_mesh(self.devices)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        operator = sharded_operator(graph.normalized, mesh, dtype)
        return krylov.topk_svd(operator, rank, tol=self.tol, key=key, n_rows=graph.n_images)


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

    Dense LAPACK SVD (`Exact`) up to `amf.graph.DENSE_LIMIT` entries; above it,
    ARPACK (``scipy.sparse.linalg.svds``) on the sparse ``Pn`` with a fixed start vector, certified by the same
    residuals as the spectral solvers.
    """
    rank = min(k + 1, min(graph.shape))
    if graph.n_images * graph.n_texts <= DENSE_LIMIT:
        return Exact().svd(graph, rank, dtype="float64")
    if rank >= min(graph.shape):
        raise InputError(f"ARPACK needs k + 1 < min(N_V, N_L) = {min(graph.shape)}, got {rank}")
    v0 = np.random.default_rng(seed).standard_normal(min(graph.shape))
    u, s, vt = sla.svds(graph.normalized, k=rank, tol=tol, v0=v0)
    order = np.argsort(s)[::-1]
    u, s, vt = u[:, order], s[order], vt[order]
    return certify_svd(graph.normalized_operator(np.float64), u, s, vt, tol=max(1e3 * tol, 1e-8),
                       key=jax.random.key(seed))
