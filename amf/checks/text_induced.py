"""T3: MMCL implicitly performs SSCL on the text-induced graph ``A_V = P D_L^{-1} P^T``."""

from __future__ import annotations

import numpy as np

from amf._linalg import orthonormal_basis, projector_distance
from amf._random import normal
from amf.solvers.convergence import informative_loss
from amf.checks import context
from amf.checks.context import Context, column_basis
from amf.checks.registry import check
from amf.verdicts import Measured, Skip


@check("graph")
def text_induced_degrees(ctx: Context) -> Measured | Skip:
    """T3: ``A_V 1 = p_V`` and ``sum A_V = 1``."""
    ones = np.ones(ctx.graph.n_images)
    if ctx.dense:
        degrees = ctx.text_induced_dense.sum(axis=1)
        route = "dense A_V = P D_L^{-1} P^T"
    else:
        degrees = ctx.abar(ones, normalized=False)
        route = "A_V 1 through P and D_L"
    error = max(np.abs(degrees - ctx.graph.p_images).sum(), abs(degrees.sum() - 1.0))
    return Measured(error, context.IDENTITY_TOL, f"||A_V 1 - p_V||_1 and |sum A_V - 1| ({route})")


@check("graph")
def text_induced_normalized(ctx: Context) -> Measured | Skip:
    """T3: ``Abar_V = D_V^{-1/2} A_V D_V^{-1/2} = Pn Pn^T``."""
    scale = 1.0 / np.sqrt(ctx.graph.p_images)
    if ctx.dense:
        pn = ctx.graph.normalized_dense()
        abar = scale[:, None] * ctx.text_induced_dense * scale[None, :]
        error = np.max(np.abs(abar - pn @ pn.T))
        route = "max entry of |Abar_V - Pn Pn^T| (dense)"
    else:
        x = normal(ctx.seed, "text_induced_normalized", (ctx.graph.n_images, 4))
        pn = ctx.graph.normalized
        error = np.linalg.norm(ctx.abar(x) - pn @ (pn.T @ x)) / np.linalg.norm(x)
        route = "||(Abar_V - Pn Pn^T) X|| / ||X|| on 4 random vectors"
    return Measured(error, context.IDENTITY_TOL, route)


@check("graph")
def text_induced_eigenvalues(ctx: Context) -> Measured | Skip:
    """T3: the top eigenvalues of ``Abar_V`` are ``s_i^2`` (dense eigensolver; eigen-residuals at scale)."""
    squares = ctx.singular_values**2
    if ctx.dense:
        values, _ = ctx.abar_eigen
        n = min(len(values), len(squares))
        error = np.max(np.abs(values[:n] - squares[:n]))
        route = f"max |lambda_i(Abar_V) - s_i^2| over the top {n} (dense eigh of Abar_V from A_V)"
    else:
        u = ctx.u
        residual = ctx.abar_u - u * squares[: u.shape[1]]
        error = np.max(np.linalg.norm(residual, axis=0))
        route = f"max ||Abar_V u_i - s_i^2 u_i|| over {u.shape[1]} vectors, Abar_V through P and D_L"
    return Measured(error, ctx.tol, route)


@check("encoders")
def sscl_same_subspace(ctx: Context) -> Measured | Skip:
    """T3: the SSCL optimum on ``A_V`` (top eigenvectors of ``Abar_V``) spans ``col(F_V)`` (dense, small)."""
    if not ctx.dense:
        return Skip("needs a dense eigendecomposition of Abar_V; graph above dense_limit")
    values, vectors = ctx.abar_eigen
    k = ctx.k
    if ctx.determination["ill_determined"]:
        d = ctx.determination
        return Skip(f"ill-determined at this k: singular_gap s_k - s_(k+1) = "
                    f"{d['singular_gap']:.3g}, "
                    f"subspace angle bound {d['angle_bound']:.3g} > {d['threshold']:g}")
    if k >= len(values) or values[k - 1] - values[k] <= 1e3 * ctx.unit_tolerance:
        return Skip(f"no eigengap after lambda_{k}: the optimal subspace is not unique")
    gap = values[k - 1] - values[k]
    sscl = vectors[:, :k] * np.sqrt(np.maximum(values[:k], 0.0))  # F = U_k S_k
    distance = projector_distance(sscl, ctx.scaled_images)
    if ctx.solution.spectral:  # Davis-Kahan: the solver's accuracy over the gap
        tolerance, rule = ctx.tol / min(1.0, gap), "tol / min(1, gap)"
    else:  # the same subspace rule as eckart_young_subspace, plus the SSCL optimum's own accuracy
        tolerance = ctx.minimizer_tol["subspace_distance"] + context.IDENTITY_TOL / min(1.0, gap)
        rule = "the minimizer's subspace tolerance + 1e-10 / min(1, gap)"
    return Measured(
        distance,
        tolerance,
        f"||Pi_SSCL - Pi_MMCL||_2 between the SSCL optimum on A_V and col(F_V) (eigengap {gap:.3g}; tolerance "
        f"{rule})",
    )


@check("encoders")
def sscl_optimum_loss(ctx: Context) -> Measured | Skip:
    """T3: the best SSCL encoder on ``A_V`` inside ``col(F_V)`` reaches the SSCL minimum ``-sum s_i^4``.

    The encoder: ``F = Q V diag(lambda)^{1/2}`` from the eigenpairs of ``Q^T Abar_V Q`` (``Q`` an orthonormal basis
    of ``col(F_V)``), so any minimizer ``f_V M`` passes, not only the canonical one (for which ``F = F_V S_k^{1/2}``
    up to a rotation). ``L_S(f) = -2 tr(f^T A_V f) + ||f^T D_V f||_F^2`` with ``f = D_V^{-1/2} F``, ``A_V f`` through
    ``P`` and ``D_L`` (no ``A_V``).
    """
    s = ctx.singular_values[: ctx.k]
    q = column_basis(ctx.scaled_images)
    values, vectors = np.linalg.eigh(q.T @ ctx.abar(q))
    f = (q @ vectors) * np.sqrt(np.maximum(values, 0.0)) / np.sqrt(ctx.graph.p_images)[:, None]
    positive = np.sum(f * ctx.abar(f, normalized=False))
    gram = f.T @ (ctx.graph.p_images[:, None] * f)
    loss = -2.0 * positive + np.sum(gram**2)
    minimum = -np.sum(s**4)
    return Measured(
        abs(loss - minimum) / informative_loss(s**2),
        ctx.minimizer_tol["loss_gap"],
        f"L_S of the best SSCL encoder in col(F_V) = {loss:.12g} vs -sum s_i^4 = {minimum:.12g}",
    )


@check("graph")
def profile_identity(ctx: Context) -> Measured | Skip:
    """T3: for a fixed random ``F_V``, ``min_{f_L} L(f_V, f_L) = -tr(Pi_{F_V} Abar_V)``."""
    f_v = ctx.random_images("profile_identity")
    minimized = ctx.loss(f_v, ctx.best_text_encoder(f_v))
    big_f = np.sqrt(ctx.graph.p_images)[:, None] * f_v
    q = orthonormal_basis(big_f)
    trace = np.sum(q * ctx.abar(q))
    error = abs(minimized + trace) / max(1.0, trace)
    sv = np.linalg.svd(big_f, compute_uv=False)
    condition = float(sv[0] / max(sv[-1], np.finfo(float).tiny))
    tolerance = max(context.IDENTITY_TOL, 1e3 * np.finfo(float).eps * condition)  # the route solves with R of F_V
    return Measured(
        error,
        tolerance,
        f"min over f_L of L = {minimized:.12g} vs -tr(Pi_F_V Abar_V) = {-trace:.12g} at a random F_V; tolerance "
        f"max(1e-10, 1e3 eps cond(F_V)), cond(F_V) = {condition:.3g}",
    )
