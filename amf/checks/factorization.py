"""T1: MMCL is asymmetric matrix factorization."""

from __future__ import annotations

import numpy as np

from amf.checks import context
from amf.checks.context import Context
from amf.checks.registry import check
from amf.verdicts import Measured, Skip


@check("graph")
def factorization_identity(ctx: Context) -> Measured | Skip:
    """T1: ``L(f_V, f_L) = ||Pn - F_V F_L^T||_F^2 - ||Pn||_F^2`` at random encoders (dense right side)."""
    if not ctx.dense:
        return Skip("needs the dense N_V x N_L matrix; graph above dense_limit")
    f_v, f_l = ctx.random_encoders("factorization_identity")
    pn = ctx.graph.normalized_dense()
    big_v = np.sqrt(ctx.graph.p_images)[:, None] * f_v
    big_l = np.sqrt(ctx.graph.p_texts)[:, None] * f_l
    frobenius = np.sum((pn - big_v @ big_l.T) ** 2) - np.sum(pn**2)
    loss = ctx.loss(f_v, f_l)
    error = abs(loss - frobenius) / max(1.0, abs(frobenius))
    return Measured(
        error,
        context.IDENTITY_TOL,
        f"loss from edges {loss:.12g} vs ||Pn - F_V F_L^T||^2 - ||Pn||^2 = {frobenius:.12g} at random encoders",
    )
