"""Certificate checks (T2): the solution's triplets are singular triplets of ``Pn``, and the top ones."""

from __future__ import annotations

import numpy as np

from amf.checks.context import Context
from amf.checks.registry import check
from amf.verdicts import Measured, Skip


@check("graph")
def solver_certificate(ctx: Context) -> Measured | Skip:
    """T2: the returned triplets are singular triplets of ``Pn``: residuals and orthonormality recomputed from
    ``Pn`` (`amf.certify_svd`); the solver's own reported residuals count too (a solver that reports large
    residuals has failed, whatever a recomputation finds)."""
    cert = ctx.certificate
    own = ctx.solution.certificate if ctx.solution.spectral else ctx.svd.certificate  # the spectrum's claim
    ortho_tol = max(cert.tolerance, 1e4 * np.finfo(np.dtype(ctx.solution.dtype)).eps)
    s = np.asarray(ctx.svd.s, np.float64)
    rise = max(float(np.max(np.diff(s), initial=0.0)), 0.0) / max(float(s.max()), np.finfo(float).tiny)
    value = max(cert.max_residual, own.max_residual, cert.orthonormality * cert.tolerance / ortho_tol, rise)
    return Measured(
        value,
        cert.tolerance,
        f"max relative residual of the {ctx.solution.solver} spectrum's {len(cert.residual_left)} triplets recomputed "
        f"from Pn {cert.max_residual:.2e} (reported {own.max_residual:.2e}); orthonormality error "
        f"{cert.orthonormality:.2e} (allowed {ortho_tol:.1e}); largest rise of s_i / s_1 {rise:.1e}",
    )


@check("graph")
def top_singular_triplets(ctx: Context) -> Measured | Skip:
    """T2a: the triplets are the top ones: the largest singular value of ``Pn`` outside the claimed subspaces
    (a randomized block Lanczos estimate with its own key, or exact on small graphs) is at most ``s_r``."""
    top = ctx.certificate.top
    chance = "exact (dense)" if top.method == "dense" else (
        f"{top.method}, {top.steps} steps of {top.block} columns: a value >= (1 + {top.margin:g}) x threshold is "
        f"missed with probability <= {top.failure_probability:.1e}")
    return Measured(
        top.bound - top.threshold,
        0.0,
        f"largest singular value outside the claimed {len(ctx.certificate.residual_left)} triplets "
        f"{top.bound:.10g} vs s_r + 10 tol s_1 = {top.threshold:.10g}; {chance}",
    )
