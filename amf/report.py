"""The verify report: every value of docs/file-format.md's report keys, the checks, and how the run was made."""

from __future__ import annotations

import time

import numpy as np

from amf._version import __version__
from amf import _validate
from amf.checks import EMBEDDING_TOL, Context, encoder_checks, run_checks
from amf.checks.card import model_card
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.solution import Reason, Solution
from amf.io import json_safe
from amf.provenance import environment
from amf.solve import solve
from amf.solvers.spectral import check_k


def verify(
    graph: CoOccurrence,
    k: int,
    *,
    solver: str = "exact",
    dtype: str = "float64",
    seed: int = 0,
    dense_limit: int = DENSE_LIMIT,
    devices: int | None = None,
    embeddings: tuple | None = None,
    embedding_tolerance: float = EMBEDDING_TOL,
) -> tuple[dict, Solution]:
    """Solve ``graph`` at rank ``k`` and run every theory check; returns the report and the solution.

    ``devices`` shards the krylov solve (`amf.solvers.spectral`); the checks then run on the gathered factors.

    ``embeddings = (f_images, f_texts)`` (``(N_V, k)`` and ``(N_L, k)``, e.g. from a CLIP model trained on this
    graph): the spectral ``solver`` computes only the reference spectrum, and the checks judge the given encoders
    against it (loss against ``-sum s_i^2``, subspace, probe error, bounds), each at ``embedding_tolerance``
    relative: ``passed`` only when they are a minimizer to that accuracy.
    """
    started = time.perf_counter()
    encoder_tolerance = None
    if embeddings is not None:  # checked before the solve
        f_images, f_texts = check_embeddings(graph, check_k(graph, k), embeddings)
        encoder_tolerance = _validate.positive_float("embedding_tolerance", embedding_tolerance)
    spectral = solve(graph, k, solver=solver, dtype=dtype, seed=seed,
                     **({} if devices is None else {"devices": devices}))
    if embeddings is None:
        solution = spectral
    else:
        solution = Solution(f_images, f_texts, solver="embeddings", dtype="float64", certificate=spectral.certificate,
                            reference=spectral.svd)
    solved = time.perf_counter()
    report = build_report(graph, solution, seed=seed, dense_limit=dense_limit, encoder_tolerance=encoder_tolerance)
    if embeddings is not None:
        report["embeddings"] = {"reference_solver": solver, "tolerance": encoder_tolerance,
                                "subspace_tolerance": report["card"]["tolerance"]["subspace_distance"]}
    report["timings"] = {"solve_s": solved - started, "checks_s": time.perf_counter() - solved}
    return report, solution


def check_embeddings(graph: CoOccurrence, k: int, embeddings) -> tuple[np.ndarray, np.ndarray]:
    """``(f_images, f_texts)`` as finite float64 arrays of shapes ``(N_V, k)`` and ``(N_L, k)``, or `InputError`."""
    if not isinstance(embeddings, (tuple, list)) or len(embeddings) != 2:
        raise InputError("embeddings must be a pair (f_images, f_texts)")
    out = []
    for name, x, n in (("f_images", embeddings[0], graph.n_images), ("f_texts", embeddings[1], graph.n_texts)):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name} must be a numeric array, got {type(x).__name__}") from None
        if arr.shape != (n, k):
            raise InputError(f"{name} must have shape ({n}, {k}) for this graph at k = {k}, got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise InputError(f"{name} has {int(np.sum(~np.isfinite(arr)))} non-finite entries")
        out.append(arr)
    return out[0], out[1]


def build_report(graph: CoOccurrence, solution: Solution, *, seed: int, dense_limit: int = DENSE_LIMIT,
                 encoder_tolerance: float | None = None) -> dict:
    """Report of a ``solution`` of ``graph`` (docs/file-format.md keys plus certificates and environment).

    A spectral solution is judged with its own triplets; a gradient solution or given embeddings against their
    ``reference`` spectrum, the checks on the encoders at ``encoder_tolerance`` (default
    `amf.checks.EMBEDDING_TOL`).
    """
    ctx = Context(graph, solution, seed=seed, dense_limit=dense_limit, encoder_tolerance=encoder_tolerance)
    checks, skipped = run_checks(ctx)
    card = model_card(ctx)
    verdicts = {c.name: c.passed for c in checks}
    card["minimizer"] = {
        "passed": verdicts["eckart_young_loss"] and verdicts.get("eckart_young_subspace", True),
        "rule": (f"eckart_young_loss: loss_gap <= {ctx.minimizer_tol['loss_gap']:g}, and eckart_young_subspace: "
                 f"subspace_distance <= {ctx.minimizer_tol['subspace_distance']:g} where span(U_k) is determined"),
    }
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
            "unlabeled_texts": None if graph.text_labels is None else int(np.sum(graph.text_labels < 0)),
        },
        "singular_values": ctx.singular_values.tolist(),
        "loss_min": ctx.loss_min,
        "loss_at_solution": ctx.loss_at_solution,
        "text_induced_eigenvalues": np.asarray(eigenvalues).tolist(),
        "alpha": ctx.alpha,
        "phi": ctx.phi,
        "probe_error_ls": ctx.probe_error,
        "subspace_distance": ctx.subspace_distance,
        "subspace_determination": ctx.determination,
        "spectral_gap": ctx.spectral_gap,
        "probe_error_optimal": ctx.probe_error_optimal,
        "card": card,
        "bounds": dict(ctx.bounds),
        "bounds_note": (
            "rigorous_phi and rigorous_alpha are the proved bounds E_LS <= 2 phi/(1-s_{k+1}^2) <= 4 alpha/(1-s_{k+1}^2); "
            "paper_form = 4 alpha/(1-s_{k+1}^2) + 8 alpha is the paper's stated shape, constants not confirmed"
        ),
        "certificate": solution.certificate.as_dict(),
        "recomputed_certificate": ctx.certificate.as_dict(),
        "checks": [c.as_dict() for c in checks],
        "check_subjects": {"encoders": [c.name for c in checks if c.name in encoder_checks()],
                           "graph": [c.name for c in checks if c.name not in encoder_checks()]},
        "skipped_checks": [s.as_dict() for s in skipped],
        # the solver's own verdict counts (a solver that says it failed has failed), and so does the fresh one
        "passed": all(c.passed for c in checks) and ctx.certificate.converged and solution.converged,
    }
    bounds = report["bounds"]
    bounds["vacuous"] = {key: None if value is None else value >= 1 for key, value in bounds.items()}
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
