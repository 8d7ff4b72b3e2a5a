"""The model card: how far given encoders are from the Eckart–Young optimum of their graph, and in which directions.

Every quantity is measured against the certified spectrum of the `amf.checks.Context` (docs/theory.md section 7):

- ``loss``, its ``loss_gap = (L - L_min) / I_k`` (``I_k = sum_{2<=i<=k} s_i^2``);
- ``loss_linear = min_{A, B} L(f_V A, f_L B) = -||Q_V^T Pn Q_L||_F^2`` (``Q_V``, ``Q_L`` orthonormal bases of
  ``col(F_V)``, ``col(F_L)``): the loss after the best linear maps of the model's features, so that
  ``loss_gap_linear`` is the part of the gap only the two subspaces explain;
- the subspace distance ``||Pi_{col F_V} - Pi_{span U_k}||_2``, split into the constant direction
  ``u_1 = sqrt(p_V)`` (``constant_sine = ||(I - Pi_V) sqrt(p_V)||``) and the class directions, the rest of
  ``span(U_k)`` (``class_sine = ||(I - Pi_V) W||_2``, ``W`` an orthonormal basis of ``span(U_k)`` orthogonal to
  ``sqrt(p_V)``); the principal angles; the text side's distance to ``span(V_k)``;
- the least-squares probe error of the model beside the optimum's on the same graph;
- whether ``span(U_k)`` is determined at this ``k``, and the graph's T4 bounds (about the optimum's subspace,
  not a theorem about these encoders).

Each line also carries a one-sentence ``reading``. The card measures; the checks (`amf.checks`) judge.
"""

from __future__ import annotations

import numpy as np

from amf.checks.context import Context, column_basis

CONSTANT_SEEN = 1e-2
"""Largest ``constant_sine`` at which the card reads the constant direction as present."""


def _missing(basis: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Sines of the principal angles from ``col(target)`` (orthonormal) to ``col(basis)`` (orthonormal),
    descending: the singular values of ``(I - Q Q^T) target``."""
    if target.shape[1] == 0:
        return np.zeros(0)
    return np.linalg.svd(target - basis @ (basis.T @ target), compute_uv=False)


def model_card(ctx: Context) -> dict:
    """The card of ``ctx.solution``'s encoders (JSON-ready: floats, lists, None; docs/file-format.md keys)."""
    graph, k = ctx.graph, ctx.k
    f_texts = np.asarray(ctx.solution.f_texts, np.float64)
    q_v = column_basis(ctx.scaled_images)
    q_l = column_basis(np.sqrt(graph.p_texts)[:, None] * f_texts)
    compressed = q_v.T @ np.asarray(graph.normalized @ q_l)  # Q_V^T Pn Q_L, at most k x k
    loss, loss_linear = ctx.loss_at_solution, -float(np.sum(compressed**2))
    u_k = ctx.u[:, :k]
    v_k = np.asarray(ctx.svd.vt[:k], np.float64).T
    root = np.sqrt(graph.p_images)
    w, sv, _ = np.linalg.svd(u_k - np.outer(root, root @ u_k), full_matrices=False)
    classes = w[:, : int(np.sum(sv > 0.5))]  # span(U_k) minus sqrt(p_V): k - 1 columns when sqrt(p_V) is in it
    angles = np.sort(np.arcsin(np.clip(_missing(q_v, u_k), 0.0, 1.0)))  # a rank-r encoder: k - r angles of 90
    constant = float(np.linalg.norm(root - q_v @ (q_v.T @ root)))
    class_sine = float(np.max(_missing(q_v, classes), initial=0.0))
    text_distance = float(np.max(_missing(q_l, v_k), initial=0.0)) if q_l.shape[1] == k else 1.0
    determination = ctx.determination
    card = {
        "loss": loss,
        "loss_min": ctx.loss_min,
        "informative_loss": ctx.informative,
        "loss_gap": (loss - ctx.loss_min) / ctx.informative,
        "loss_linear": loss_linear,
        "loss_gap_linear": (loss_linear - ctx.loss_min) / ctx.informative,
        "rank_images": int(q_v.shape[1]),
        "rank_texts": int(q_l.shape[1]),
        "subspace_distance": ctx.subspace_distance,
        "constant_sine": constant,
        "class_sine": class_sine,
        "principal_angles": angles.tolist(),
        "text_subspace_distance": text_distance,
        "probe_error_ls": ctx.probe_error,
        "probe_error_optimal": ctx.probe_error_optimal,
        "determined": not determination["ill_determined"],
        "angle_bound": determination["angle_bound"],
        "singular_gap": determination["singular_gap"],
        "spectral_gap": ctx.spectral_gap,
        "bounds": {key: ctx.bounds[key] for key in ("rigorous_phi", "rigorous_alpha")},
        "tolerance": dict(ctx.minimizer_tol),
    }
    card["readings"] = readings(card, k)
    return card


def readings(card: dict, k: int) -> dict[str, str]:
    """One sentence per card line, from the card's numbers only."""
    tol = card["tolerance"]
    gap, linear = card["loss_gap"], card["loss_gap_linear"]
    out = {
        "loss": (f"within tolerance of L_min (loss_gap {gap:.2g} <= {tol['loss_gap']:g})"
                 if abs(gap) <= tol["loss_gap"] else
                 f"loss_gap {gap:.3g}: {gap:.3g} x sum_(2<=i<=k) s_i^2 above L_min"),
        "loss_linear": (f"after the best linear maps f_V A, f_L B the loss_gap is {linear:.3g}: that part only the "
                        f"subspaces explain, the other {gap - linear:.3g} the maps (which a linear probe undoes)"),
    }
    d = card["subspace_distance"]
    if not card["determined"]:
        where = (f"span(U_k) is ill-determined at k = {k} (Davis-Kahan angle bound {card['angle_bound']:.3g} > 1e-3, "
                 f"singular_gap {card['singular_gap']:.3g}): the distances below depend on an arbitrary basis")
    else:
        where = (f"span(U_k) is determined at k = {k} (Davis-Kahan angle bound {card['angle_bound']:.2g} <= 1e-3, "
                 f"singular_gap {card['singular_gap']:.3g})")
    out["determined"] = where
    out["subspace_distance"] = (f"col(F_V) is span(U_k) to sin {d:.2g}" if d <= tol["subspace_distance"] else
                                f"the largest principal angle between col(F_V) and span(U_k) has sine {d:.3g}")
    c = card["constant_sine"]
    out["constant_sine"] = ("the encoder spans the constant direction u_1 = sqrt(p_V)" if c <= CONSTANT_SEEN else
                            f"the encoder misses the constant direction u_1 = sqrt(p_V) (sin {c:.2g})")
    cs = card["class_sine"]
    out["class_sine"] = (f"the encoder spans the class directions u_2..u_{k} to sin {cs:.2g}" if cs < 0.5 else
                         f"the encoder misses class directions among u_2..u_{k} (sin {cs:.2g})")
    degrees = ", ".join(f"{np.degrees(a):.3g}" for a in card["principal_angles"])
    out["principal_angles"] = f"principal angles to span(U_k), degrees: {degrees}"
    text = card["text_subspace_distance"]
    out["text_subspace_distance"] = f"the text encoder's col(F_L) is span(V_k) to sin {text:.3g}"
    model, optimum = card["probe_error_ls"], card["probe_error_optimal"]
    out["probe_error_ls"] = ("no image labels: no probe" if model is None else
                             f"least-squares probe error {model:.3g} beside the optimum's {optimum:.3g} on this graph")
    bound = card["bounds"]["rigorous_phi"]
    if bound is None or model is None:
        out["bounds"] = "no proved bound here (labels missing, or s_(k+1) = 1: no spectral_gap)"
    else:
        relation = "<=" if model <= bound else ">"
        out["bounds"] = (f"the graph's proved bound 2 phi / spectral_gap = {bound:.3g} on the optimum's E_LS; not a "
                         f"theorem about these encoders (their E_LS {model:.3g} {relation} it)")
    return out
