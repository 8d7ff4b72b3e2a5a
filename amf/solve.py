"""One entry point for factorizing a graph: ``solve(graph, k, solver=...)`` returns a `Solution`.

Spectral solvers compute the top ``k + 1`` singular triplets of ``Pn`` and return the canonical Eckart–Young
minimizer (THEORY.md T2a) ``F_V = U_k S_k^{1/2}``, ``F_L = V_k S_k^{1/2}``, i.e. encoders
``f_V = D_V^{-1/2} F_V`` and ``f_L = D_L^{-1/2} F_L``.
"""

from __future__ import annotations

import numpy as np

from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.solution import Solution, SVDResult

SPECTRAL_SOLVERS = ("exact", "krylov")
GRADIENT_SOLVERS = ("gd", "sgd", "infonce")
SOLVERS = SPECTRAL_SOLVERS + GRADIENT_SOLVERS
DTYPES = ("float32", "float64")


def spectral_svd(
    graph: CoOccurrence, rank: int, *, solver: str, dtype: str, seed: int = 0, tol=None, devices: int | None = None
) -> SVDResult:
    """Top ``rank`` singular triplets of ``Pn`` with the named spectral solver.

    ``devices`` (krylov only) splits the rows of ``Pn`` over that many devices (`amf.sharded`); in a
    multi-process run (``jax.distributed``) the solve is always sharded over every process's devices.
    """
    if solver == "exact":
        if devices is not None:
            raise InputError("devices applies to the krylov solver; the exact solver runs on one device")
        from amf.exact import exact_svd

        return exact_svd(graph.normalized_dense(), rank, tol=tol, dtype=dtype)
    if solver == "krylov":
        import jax

        from amf.krylov import topk_svd

        key = jax.random.key(seed)
        if devices is None and jax.process_count() == 1:
            return topk_svd(graph.normalized_operator(dtype), rank, tol=tol, key=key)
        from amf.sharded import device_mesh, sharded_operator

        try:
            mesh = device_mesh(devices)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        operator = sharded_operator(graph.normalized, mesh, dtype)
        return topk_svd(operator, rank, tol=tol, key=key, n_rows=graph.n_images)
    raise InputError(f"unknown spectral solver {solver!r}; choose one of {', '.join(SPECTRAL_SOLVERS)}")


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


def check_k(graph: CoOccurrence, k) -> int:
    """Validate the embedding dimension ``k``: an integer with ``1 <= k <= min(N_V, N_L)``."""
    limit = min(graph.shape)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise InputError(f"k must be an integer with 1 <= k <= min(N_V, N_L) = {limit}, got {k!r}")
    return int(k)


def solve(
    graph: CoOccurrence,
    k: int,
    *,
    solver: str = "exact",
    dtype: str = "float64",
    seed: int = 0,
    tol=None,
    devices: int | None = None,
    **options,
) -> Solution:
    """Factorize ``Pn`` at rank ``k`` with ``solver`` (one of `SOLVERS`) in ``dtype``.

    Spectral solvers (`SPECTRAL_SOLVERS`) return the canonical Eckart–Young minimizer with an `SVDCertificate`;
    gradient solvers (`GRADIENT_SOLVERS`, options as in `amf.gradient.train`) return trained encoders with a
    `amf.convergence.TrainingCertificate` measured against the exact minimizer.
    """
    k = check_k(graph, k)
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    if solver in GRADIENT_SOLVERS:
        if devices is not None:
            raise InputError("devices applies to the krylov solver")
        from amf.gradient import train

        return train(graph, k, solver=solver, dtype=dtype, seed=seed, **options)
    if options:
        raise InputError(f"options {', '.join(sorted(options))} apply to gradient solvers, not {solver!r}")
    rank = min(k + 1, min(graph.shape))
    if solver == "krylov" and rank >= min(graph.shape):
        raise InputError(
            f"the krylov solver needs k + 1 < min(N_V, N_L) = {min(graph.shape)} (it computes k + 1 triplets), "
            f"got k = {k}; use the exact solver"
        )
    svd = spectral_svd(graph, rank, solver=solver, dtype=dtype, seed=seed, tol=tol, devices=devices)
    f_images, f_texts = encoders_from_svd(graph, svd, k)
    return Solution(f_images, f_texts, solver=solver, dtype=dtype, certificate=svd.certificate, svd=svd)
