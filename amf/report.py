"""The verify report: every value of docs/file-format.md's report keys, the checks, and how the run was made."""

from __future__ import annotations

import platform
import time

import jax
import numpy as np
import scipy

from amf._version import __version__
from amf.checks import Context, run_checks
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.solution import Reason, Solution
from amf.io import json_safe
from amf.solve import solve


def environment(seed: int, dtype: str) -> dict:
    """Seed, versions, device and dtype: what every report records so a run can be repeated."""
    device = jax.devices()[0]
    return {
        "seed": seed,
        "dtype": dtype,
        "device": {
            "platform": device.platform,
            "kind": device.device_kind,
            "count": jax.device_count(),
            "processes": jax.process_count(),
        },
        "versions": {
            "amf": __version__,
            "python": platform.python_version(),
            "jax": jax.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
        },
    }


def verify(
    graph: CoOccurrence,
    k: int,
    *,
    solver: str = "exact",
    dtype: str = "float64",
    seed: int = 0,
    dense_limit: int = DENSE_LIMIT,
    devices: int | None = None,
) -> tuple[dict, Solution]:
    """Solve ``graph`` at rank ``k`` and run every theory check; returns the report and the solution.

    ``devices`` shards the krylov solve (`amf.spectral.spectral_svd`); the checks then run on the gathered factors.
    """
    started = time.perf_counter()
    solution = solve(graph, k, solver=solver, dtype=dtype, seed=seed, devices=devices)
    solved = time.perf_counter()
    report = build_report(graph, solution, seed=seed, dense_limit=dense_limit)
    report["timings"] = {"solve_s": solved - started, "checks_s": time.perf_counter() - solved}
    return report, solution


def build_report(graph: CoOccurrence, solution: Solution, *, seed: int, dense_limit: int = DENSE_LIMIT) -> dict:
    """Report of a spectral ``solution`` of ``graph`` (docs/file-format.md keys plus certificate and environment)."""
    ctx = Context(graph, solution, seed=seed, dense_limit=dense_limit)
    checks, skipped = run_checks(ctx)
    if ctx.dense:
        eigenvalues = ctx.abar_eigen[0]
    else:  # Rayleigh quotients u_i^T Abar_V u_i; the eigen-residual check bounds their error
        eigenvalues = np.sum(ctx.u * ctx.abar_u, axis=0)
    eigenvalues = np.pad(eigenvalues, (0, solution.k + 1 - len(eigenvalues)))  # top k+1, zeros past N_V
    report = {
        "amf_version": __version__,
        "solver": solution.solver,
        "dtype": solution.dtype,
        "k": solution.k,
        "graph": {
            "n_images": graph.n_images,
            "n_texts": graph.n_texts,
            "nnz": graph.nnz,
            "n_components": graph.n_components,
            "dropped_isolated": {"images": graph.dropped[0], "texts": graph.dropped[1]},
        },
        "singular_values": ctx.singular_values.tolist(),
        "loss_min": ctx.loss_min,
        "loss_at_solution": ctx.loss_at_solution,
        "text_induced_eigenvalues": np.asarray(eigenvalues).tolist(),
        "alpha": ctx.alpha,
        "phi": ctx.phi,
        "probe_error_ls": ctx.probe_error,
        "subspace_determination": ctx.determination,
        "bounds": dict(ctx.bounds),
        "bounds_note": (
            "rigorous_phi and rigorous_alpha are the proved bounds E_LS <= 2 phi/(1-s_{k+1}^2) <= 4 alpha/(1-s_{k+1}^2); "
            "paper_form = 4 alpha/(1-s_{k+1}^2) + 8 alpha is the paper's stated shape, constants not confirmed"
        ),
        "certificate": solution.certificate.as_dict(),
        "recomputed_certificate": ctx.certificate.as_dict(),
        "checks": [c.as_dict() for c in checks],
        "skipped_checks": [s.as_dict() for s in skipped],
        # the solver's own verdict counts (a solver that says it failed has failed), and so does the fresh one
        "passed": all(c.passed for c in checks) and ctx.certificate.converged and solution.converged,
    }
    report["bounds"]["vacuous"] = {
        key: value is not None and value >= 1 for key, value in report["bounds"].items()
    }
    report.update(environment(seed, solution.dtype))
    return json_safe(report)


def training_report(graph: CoOccurrence, solution: Solution, *, seed: int, settings: dict) -> dict:
    """Report of a gradient solver's ``solution``: its convergence certificate against the exact minimizer
    (loss, ``loss_min``, loss gap, subspace distance, probe errors, the criterion and verdict), the settings,
    and the environment. ``passed`` is None (JSON null) for a solver that no criterion judges (InfoNCE)."""
    cert = solution.certificate
    report = {
        "amf_version": __version__,
        "solver": solution.solver,
        "dtype": solution.dtype,
        "k": solution.k,
        "graph": {"n_images": graph.n_images, "n_texts": graph.n_texts, "nnz": graph.nnz},
        "singular_values": np.asarray(solution.reference.s).tolist() if solution.reference is not None else None,
        "loss_at_solution": cert.loss,
        "loss_min": cert.loss_min,
        "loss_gap": cert.loss_gap,
        "subspace_distance": cert.subspace_distance,
        "probe_error_ls": cert.probe_error,
        "probe_error_optimal": cert.probe_error_optimal,
        "certificate": cert.as_dict(),
        "settings": settings,
        "passed": None if cert.reason is Reason.NOT_JUDGED else bool(cert.converged),
    }
    report.update(environment(seed, solution.dtype))
    return json_safe(report)
