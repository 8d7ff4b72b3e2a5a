"""Convergence certificates for the gradient solvers: how close trained encoders are to the Eckart–Young optimum.

A gradient solver stops after a number of steps; whether it *reached* the minimizer is a separate, measured
claim. `spectral_measures` computes, in float64 and from routes independent of the solver:

- ``loss``: the population MMCL loss ``L(f_V, f_L)`` from the edges (`amf.losses.mmcl_loss`);
- ``loss_min = -sum_{i<=k} s_i^2`` (T2b) from a reference SVD, and the gap ``(L - L_min) / I_k`` relative to
  the part of the minimum that carries information, ``I_k = sum_{2<=i<=k} s_i^2`` (`informative_loss`): the
  first direction is the constant ``u_1 = sqrt(p_V)`` with ``s_1 = 1``, which every encoder with a bias learns, so
  a gap relative to ``|L_min| = 1 + I_k`` lets a run that learned nothing else pass when the ``s_i`` are small;
- ``subspace_distance``: ``||Pi_{col(F_V)} - Pi_{span(U_k)}||_2`` with ``F_V = D_V^{1/2} f_V`` (T2e: the probe
  depends on ``F_V`` only through this column space), and the principal angles;
- ``probe_error``: the least-squares probe error ``E_LS`` of the trained ``f_V``, beside the optimum's.

`certificate` applies the solver's criterion (`amf.solvers.training.Objective.criterion`, a rule stated in
words) to the measures; a result whose criterion fails has ``converged=False`` and a `Reason`, and is never
silently accepted. The subspace is judged only where it is determined (``s_k - s_{k+1} >= EIGENGAP_MIN``):
without a gap ``span(U_k)`` is not fixed by the loss, and the certificate says it judged by the loss gap alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from amf import downstream
from amf._linalg import principal_angles, projector_distance
from amf.graph import CoOccurrence
from amf.losses import mmcl_loss, negative_term, positive_term
from amf.solution import Reason, SVDResult, TrainingCertificate
from amf.solvers.spectral import encoders_from_svd
from amf.solvers.training import Objective

EIGENGAP_MIN = 1e-3
"""Smallest ``s_k - s_{k+1}`` (``s_1 = 1``) at which the subspace distance is part of a convergence criterion."""


def spectral_measures(graph: CoOccurrence, f_images, f_texts, reference: SVDResult, k: int, *,
                      optimal_probe: float | None = None, rescale: bool = False) -> dict:
    """Loss, loss gap, subspace distance, principal angles and probe errors of ``(f_V, f_L)`` (float64).

    With ``rescale`` the loss is taken at the best scalar multiple ``c* = a / b`` of the encoders' product
    (``L(c f_V, f_L) = -2 c a + c^2 b`` with ``a`` the positive and ``b`` the negative term), i.e. ``-a^2 / b``:
    the spectral loss of encoders trained with another objective, free of that objective's arbitrary scale.
    ``eigengap`` is ``s_k - s_{k+1}`` of the reference and ``subspace_determined`` whether it reaches
    `EIGENGAP_MIN`.
    """
    joint = graph.joint_arrays(np.float64)
    f_v = np.asarray(f_images, dtype=np.float64)
    f_l = np.asarray(f_texts, dtype=np.float64)
    loss = rescaled_loss(joint, f_v, f_l) if rescale else float(mmcl_loss(joint, f_v, f_l))
    s = np.pad(np.asarray(reference.s, dtype=np.float64), (0, max(0, k + 1 - len(reference.s))))
    loss_min = float(-np.sum(s[:k] ** 2))
    informative = informative_loss(s[:k])
    scaled = np.sqrt(graph.p_images)[:, None] * f_v
    u_k = np.asarray(reference.u, dtype=np.float64)[:, :k]
    finite = bool(np.all(np.isfinite(scaled)))
    if optimal_probe is None and graph.image_labels is not None:
        optimal_probe = downstream.probe_error_ls(graph, encoders_from_svd(graph, reference, k)[0])
    eigengap = float(s[k - 1] - s[k])
    return {
        "loss": loss,
        "loss_min": loss_min,
        "loss_gap": relative_gap(loss, loss_min, informative),
        "informative_loss": informative,
        "subspace_distance": projector_distance(scaled, u_k) if finite else 1.0,
        "principal_angles": principal_angles(scaled, u_k) if finite else np.full(k, np.pi / 2),
        "probe_error": downstream.probe_error_ls(graph, f_v) if finite else None,
        "probe_error_optimal": optimal_probe,
        "eigengap": eigengap,
        "subspace_determined": eigengap >= EIGENGAP_MIN,
    }


def rescaled_loss(joint, f_images, f_texts) -> float:
    """``min_c L(c f_V, f_L) = -a^2 / b`` (0 when ``b = 0``): ``a`` the positive, ``b`` the negative term."""
    a = float(positive_term(joint, f_images, f_texts))
    b = float(negative_term(joint, f_images, f_texts))
    return -(a * a) / b if b > 0 else 0.0


def informative_loss(top: np.ndarray) -> float:
    """``I_k = sum_{2<=i<=k} v_i^2`` of the top ``k`` values ``v`` (singular values, or eigenvalues clipped at 0):
    the part of ``|L_min|`` beyond the constant direction. When it vanishes (``k = 1``, or nothing but the
    constant is learnable) it is ``|L_min|`` itself, so the gap stays defined."""
    top = np.asarray(top, dtype=np.float64)
    informative = float(np.sum(top[1:] ** 2))
    return informative if informative > 1e-12 else max(float(np.sum(top**2)), np.finfo(float).tiny)


def relative_gap(loss: float, loss_min: float, informative: float) -> float:
    """``(loss - loss_min) / I_k``; infinite for a non-finite loss."""
    return (loss - loss_min) / informative if math.isfinite(loss) else math.inf


def loss_and_subspace(name: str, measures: Mapping, tolerance: Mapping[str, float], *,
                      against: str) -> tuple[bool, str]:
    """The criterion of a solver that reaches an Eckart–Young optimum: ``loss_gap <= tol`` (relative to the
    informative part ``I_k`` of the minimum) and, where the subspace is determined
    (``measures["subspace_determined"]``), ``subspace_distance <= tol``. ``against`` names the minimum."""
    gap_ok = measures["loss_gap"] <= tolerance["loss_gap"]
    eigengap = measures["eigengap"]
    gap_rule = (f"loss_gap = (L - L_min) / sum_{{2<=i<=k}} s_i^2 <= {tolerance['loss_gap']:g} with L_min = "
                f"{against}")
    if measures["subspace_determined"]:
        holds = gap_ok and measures["subspace_distance"] <= tolerance["subspace_distance"]
        return holds, (f"{name}: {gap_rule}, and subspace_distance to span(U_k) <= "
                       f"{tolerance['subspace_distance']:g} (eigengap {eigengap:.3g} >= {EIGENGAP_MIN:g})")
    return gap_ok, (f"{name}: {gap_rule}, only: eigengap {eigengap:.3g} < {EIGENGAP_MIN:g} (or no positive k-th "
                    "value), so the optimal subspace is not determined by the loss; the subspace distance is "
                    "reported, not judged")


def certificate(objective: Objective, measures: Mapping, *, iterations: int, tolerance: Mapping[str, float],
                finite: bool) -> TrainingCertificate:
    """Apply ``objective``'s criterion to ``measures`` and record the verdict with every measure that applies.

    ``reason``: not judged when the criterion returns ``holds = None`` (no rule applies; ``converged`` is False);
    else converged when it holds; else breakdown when the run ended non-finite, else the step budget ran out
    (iteration limit).
    """
    holds, criterion = objective.criterion(measures, tolerance)
    if holds is None:
        reason = Reason.NOT_JUDGED
    elif not finite:
        reason = Reason.BREAKDOWN
    else:
        reason = Reason.CONVERGED if holds else Reason.ITERATION_LIMIT
    holds = reason is Reason.CONVERGED
    return TrainingCertificate(
        converged=holds,
        reason=reason,
        iterations=int(iterations),
        criterion=criterion,
        loss=measures["loss"],
        loss_min=measures.get("loss_min"),
        loss_gap=measures.get("loss_gap"),
        subspace_distance=measures.get("subspace_distance"),
        principal_angles=measures.get("principal_angles"),
        probe_error=measures.get("probe_error"),
        probe_error_optimal=measures.get("probe_error_optimal"),
        tolerance=dict(tolerance),
        eigengap=measures.get("eigengap"),
        relative_change=measures.get("relative_change"),
        gradient_norm=measures.get("gradient_norm"),
    )
