"""T2e and T4: the least-squares probe and the downstream bounds.

The bounds are theorems about the optimum's subspace ``span(U_k)``: their checks judge its ``E_LS``; the judged
encoders' own ``E_LS`` is reported beside them in the model card, never judged against them.
"""

from __future__ import annotations

import numpy as np

from amf import downstream
from amf._random import normal
from amf.checks import context
from amf.checks.context import Context, relation
from amf.checks.registry import check
from amf.verdicts import Measured, Skip


@check("graph")
def probe_invariance(ctx: Context) -> Measured | Skip:
    """T2e: the least-squares probe's fitted scores depend on ``f_V`` only through its column space."""
    if ctx.graph.image_labels is None:
        return Skip("needs image labels")
    f = np.asarray(ctx.solution.f_images, np.float64)
    mixing = np.eye(ctx.k) + 0.5 * normal(ctx.seed, "probe_invariance", (ctx.k, ctx.k)) / np.sqrt(ctx.k)
    scores = [downstream.probe_scores(ctx.graph, f), downstream.probe_scores(ctx.graph, f @ mixing)]
    error = np.max(np.abs(scores[0] - scores[1]))
    return Measured(
        error,
        ctx.tol * max(1.0, np.linalg.cond(mixing)),
        "max |f_V B* - (f_V M)(B*_M)| of the least-squares probe's scores for a random invertible M",
    )


@check("graph")
def phi_le_2alpha(ctx: Context) -> Measured | Skip:
    """T4: ``phi <= 2 alpha`` when every text is labeled."""
    if not downstream.all_texts_labeled(ctx.graph) or ctx.graph.image_labels is None:
        return Skip("needs image labels and a label for every text")
    phi, alpha = ctx.phi, ctx.alpha
    return Measured(phi - 2 * alpha, context.IDENTITY_TOL,
                    f"phi = {phi:.6g} {relation(phi, 2 * alpha)} 2 alpha = {2 * alpha:.6g}")


@check("graph")
def bound_rigorous_phi(ctx: Context) -> Measured | Skip:
    """T4 [proved]: ``E_LS <= 2 phi / (1 - s_{k+1}^2)`` for the probe on the optimum's subspace ``span(U_k)`` (the
    theorem's hypothesis; the judged encoders' own ``E_LS`` is reported beside it in the model card, not judged)."""
    return _bound_check(ctx, "rigorous_phi", "2 phi / (1 - s_{k+1}^2)")


@check("graph")
def bound_rigorous_alpha(ctx: Context) -> Measured | Skip:
    """T4 [proved]: ``E_LS <= 4 alpha / (1 - s_{k+1}^2)`` on ``span(U_k)`` when every text is labeled."""
    if not downstream.all_texts_labeled(ctx.graph):
        return Skip("4 alpha / (1 - s_{k+1}^2) is a bound only when every text is labeled")
    return _bound_check(ctx, "rigorous_alpha", "4 alpha / (1 - s_{k+1}^2)")


def _bound_check(ctx: Context, key: str, formula: str) -> Measured | Skip:
    bound = ctx.bounds[key]
    if bound is None:
        gapless = ctx.s_next >= 1.0 - ctx.unit_tolerance
        return Skip("s_{k+1} = 1: no spectral gap" if gapless else "needs labels")
    error = ctx.probe_error_optimal
    vacuous = " (vacuous: bound >= 1)" if bound >= 1 else ""
    return Measured(error - bound, context.IDENTITY_TOL,
                    f"E_LS of span(U_k) = {error:.6g} {relation(error, bound)} {formula} = {bound:.6g}{vacuous}")
