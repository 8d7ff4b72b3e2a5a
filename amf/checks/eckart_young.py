"""T2: the Eckart–Young minimizer (is this it? one rule on every route) and the unit singular pair."""

from __future__ import annotations

import numpy as np

from amf._random import normal
from amf.checks import context
from amf.checks.context import Context, column_basis, relation
from amf.checks.registry import check
from amf.verdicts import Measured, Skip


@check("encoders")
def eckart_young_loss(ctx: Context) -> Measured | Skip:
    """T2b: the loss at the solution equals ``L_min = -sum_{i<=k} s_i^2``: ``|L - L_min| / I_k`` (the loss gap
    relative to the informative part of the minimum) at most the minimizer tolerance."""
    gap = ctx.loss_gap(ctx.loss_at_solution)
    return Measured(
        gap,
        ctx.minimizer_tol["loss_gap"],
        f"L(f_V, f_L) = {ctx.loss_at_solution:.12g} vs L_min = -sum s_i^2 = {ctx.loss_min:.12g}; loss_gap |L - L_min| "
        f"/ sum_(2<=i<=k) s_i^2 = {gap:.3e}",
    )


@check("encoders")
def eckart_young_subspace(ctx: Context) -> Measured | Skip:
    """T2a, T2e: ``col(F_V) = span(U_k)``: ``||Pi_{col F_V} - Pi_{span U_k}||_2`` at most the minimizer tolerance,
    judged where ``span(U_k)`` is determined (Davis–Kahan bound at most `AMBIGUITY`)."""
    d = ctx.determination
    if d["ill_determined"]:
        return Skip(f"ill-determined at this k: singular_gap s_k - s_(k+1) = "
                    f"{d['singular_gap']:.3g}, subspace angle bound {d['angle_bound']:.3g}"
                    f" > {d['threshold']:g}")
    return Measured(
        ctx.subspace_distance,
        ctx.minimizer_tol["subspace_distance"],
        f"||Pi_col(F_V) - Pi_span(U_k)||_2 = {ctx.subspace_distance:.3e} (singular_gap {d['singular_gap']:.3g})",
    )


@check("encoders")
def eckart_young_perturbations(ctx: Context) -> Measured | Skip:
    """T2a, second order: no rotation of ``col(F_V)`` toward another direction lowers the profile loss
    ``min_{f_L} L = -tr(Pi Abar_V)`` (T3), and the profile loss is not below ``L_min``.

    With ``Q`` the Ritz vectors of ``Abar_V`` in ``col(F_V)`` (values ``mu_i``) and ``d_j`` the claimed left singular
    vectors ``u_1 .. u_{k+1} ...`` not in ``col(F_V)``, orthogonalized against it, plus two random directions, the best
    rotation of ``q_i`` within ``span(q_i, d_j)`` gains ``lambda_max([[mu_i, b], [b, delta_j]]) - mu_i`` with
    ``b = q_i^T Abar_V d_j``, ``delta_j = d_j^T Abar_V d_j``. The value is
    ``max(gain, L_min - (-sum mu_i - gain)) / I_k``: zero at a minimizer; ``(s_k^2 - s_{k+1}^2) / I_k`` at the saddle
    that holds ``u_{k+1}`` for ``u_k``; positive too when the claimed ``L_min`` is above a reachable loss.
    """
    q = column_basis(ctx.scaled_images)
    aq = ctx.abar(q)
    mu, ritz = np.linalg.eigh(q.T @ aq)
    q, aq = q @ ritz, aq @ ritz
    others = np.concatenate([ctx.u, normal(ctx.seed, "perturbations/directions", (ctx.u.shape[0], 2))], 1)
    d = others - q @ (q.T @ others)
    d = d - q @ (q.T @ d)
    norms = np.linalg.norm(d, axis=0)
    d = d[:, norms > 1e-6] / norms[norms > 1e-6]  # the claimed directions col(F_V) already holds drop out
    ad = ctx.abar(d)
    b = q.T @ ad  # (r, m)
    delta = np.sum(d * ad, axis=0)  # (m,)
    half = 0.5 * (mu[:, None] - delta[None, :])
    gain = float(np.max(np.sqrt(half**2 + b**2) - half, initial=0.0))  # lambda_max of each 2 x 2 block, minus mu_i
    profile = -float(np.sum(mu))
    lowest = profile - gain
    value = max(gain, ctx.loss_min - lowest) / ctx.informative
    return Measured(
        value,
        ctx.minimizer_tol["loss_gap"],
        f"profile loss -tr(Pi Abar_V) = {profile:.12g}; the best rotation toward {d.shape[1]} other directions "
        f"gains {gain:.3e}; lowest reachable {lowest:.12g} {relation(ctx.loss_min, lowest)} "
        f"L_min = {ctx.loss_min:.12g}",
    )


@check("graph")
def eckart_young_random_factorizations(ctx: Context) -> Measured | Skip:
    """T2a: rank-k image encoders near the optimum, drawn at random inside the span of the claimed left singular
    vectors (``F_V = U_{k+1} W`` with ``W`` a perturbation of ``[I_k; 0]`` of relative size 1e-1 .. 1e-3), each
    with its best text encoder, never beat ``-sum s_i^2``."""
    u = ctx.u
    losses = []
    for trial in range(ctx.trials):
        size = 10.0 ** (-1 - 2 * trial / max(1, ctx.trials - 1))
        w = np.eye(u.shape[1], ctx.k) + size * normal(ctx.seed, f"random_factorization/{trial}", (u.shape[1], ctx.k))
        f_v = (u @ w) / np.sqrt(ctx.graph.p_images)[:, None]
        losses.append(ctx.loss(f_v, ctx.best_text_encoder(f_v)))
    best = min(losses)
    violation = (ctx.loss_min - best) / ctx.informative
    return Measured(
        violation,
        ctx.tol,
        f"lowest loss over {ctx.trials} random rank-{ctx.k} factorizations inside span(u_1..u_{u.shape[1]}) near "
        f"the optimum (best f_L for each) {best:.12g} {relation(ctx.loss_min, best)} L_min = {ctx.loss_min:.12g}",
    )


@check("graph")
def unit_singular_pair(ctx: Context) -> Measured | Skip:
    """T2c: ``Pn sqrt(p_L) = sqrt(p_V)`` and ``Pn^T sqrt(p_V) = sqrt(p_L)`` (so 1 is a singular value)."""
    root_v, root_l = np.sqrt(ctx.graph.p_images), np.sqrt(ctx.graph.p_texts)
    pn = ctx.graph.normalized
    error = max(np.linalg.norm(pn @ root_l - root_v), np.linalg.norm(pn.T @ root_v - root_l))
    return Measured(
        error,
        context.IDENTITY_TOL,
        "||Pn sqrt(p_L) - sqrt(p_V)|| and ||Pn^T sqrt(p_V) - sqrt(p_L)|| (unit vectors)",
    )


@check("graph")
def top_singular_value(ctx: Context) -> Measured | Skip:
    """T2c: ``s_1 = 1`` and every ``s_i <= 1``."""
    s = ctx.singular_values
    error = max(abs(s[0] - 1.0), float(np.max(s)) - 1.0)
    top = float(np.max(s))
    return Measured(error, ctx.tol, f"s_1 = {s[0]:.15g}; max s_i = {top:.15g} {relation(top, 1.0)} 1")


@check("graph")
def top_singular_vector(ctx: Context) -> Measured | Skip:
    """T2c: ``sqrt(p_V)`` lies in the span of the computed left singular vectors with ``s_i = 1``."""
    unit = ctx.singular_values[: ctx.u.shape[1]] >= 1.0 - ctx.unit_tolerance
    if ctx.graph.n_components > ctx.u.shape[1]:
        return Skip(
            f"s = 1 has multiplicity {ctx.graph.n_components} > {ctx.u.shape[1]} computed triplets: "
            "their span is an arbitrary subspace of the unit eigenspace",
        )
    basis = ctx.u[:, unit]
    root = np.sqrt(ctx.graph.p_images)
    distance = np.linalg.norm(root - basis @ (basis.T @ root))
    return Measured(
        distance,
        ctx.tol,
        f"distance of sqrt(p_V) from the span of the {int(unit.sum())} left singular vector(s) with s = 1",
    )


@check("graph")
def unit_multiplicity_components(ctx: Context) -> Measured | Skip:
    """T2c: the multiplicity of ``s = 1`` equals the number of connected components (sparse routine)."""
    computed = len(ctx.singular_values)
    ones = int(np.sum(ctx.singular_values >= 1.0 - ctx.unit_tolerance))
    components = ctx.graph.n_components
    expected = min(components, computed)
    below = ctx.singular_values[ctx.singular_values < 1.0 - ctx.unit_tolerance]
    gap = f"; next s = 1 - {1.0 - below[0]:.3g}" if len(below) else ""
    return Measured(
        abs(ones - expected),
        0,
        f"{ones} of {computed} computed singular values within {ctx.unit_tolerance:.1e} of 1, "
        f"{components} connected component(s){gap}",
    )


@check("graph")
def full_rank_ratio(ctx: Context) -> Measured | Skip:
    """T2d: at full rank, ``<f_V(i), f_L(j)> = P_ij / (p_V(i) p_L(j))`` for every pair (dense, small graphs)."""
    n_v, n_l = ctx.graph.shape
    if n_v * n_l > context.FULL_RANK_LIMIT:
        return Skip(f"needs all min(N_V, N_L) triplets; N_V * N_L > {context.FULL_RANK_LIMIT}")
    pn = ctx.graph.normalized_dense()
    u, s, vt = np.linalg.svd(pn, full_matrices=False)
    f_v = u * np.sqrt(s) / np.sqrt(ctx.graph.p_images)[:, None]
    f_l = vt.T * np.sqrt(s) / np.sqrt(ctx.graph.p_texts)[:, None]
    ratio = ctx.graph.joint.toarray() / np.outer(ctx.graph.p_images, ctx.graph.p_texts)
    error = np.max(np.abs(f_v @ f_l.T - ratio)) / np.max(ratio)
    return Measured(
        error,
        context.IDENTITY_TOL,
        f"max |<f_V(i), f_L(j)> - P_ij/(p_V p_L)| / max ratio at full rank {len(s)}",
    )
