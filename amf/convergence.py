"""Convergence certificates for the gradient solvers: how close trained encoders are to the Eckart–Young optimum.

A gradient solver stops after a number of steps; whether it *reached* the minimizer is a separate, measured
claim. `TrainingCertificate` records, in float64 and from routes independent of the solver:

- ``loss``: the population MMCL loss ``L(f_V, f_L)`` from the edges (`amf.losses.mmcl_loss`);
- ``loss_min = -sum_{i<=k} s_i^2`` (T2b) from a reference SVD, and the relative gap ``(L - L_min) / |L_min|``
  (``|L_min| >= s_1^2 = 1``, so the ratio is always defined);
- ``subspace_distance``: ``||Pi_{col(F_V)} - Pi_{span(U_k)}||_2`` with ``F_V = D_V^{1/2} f_V`` (T2e: the probe
  depends on ``F_V`` only through this column space), and the principal angles;
- ``probe_error``: the least-squares probe error ``E_LS`` of the trained ``f_V``, beside the optimum's.

``converged`` applies the solver's stated ``criterion`` (a sentence saying what was compared to what) to these
measures; a result whose criterion fails has ``converged=False`` and is never silently accepted. The subspace is
judged only when ``s_k - s_{k+1} >= EIGENGAP_MIN``: without a gap ``span(U_k)`` is not determined by the loss, and
the certificate says it judged by the loss gap alone.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from amf import downstream
from amf._linalg import principal_angles, projector_distance
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.losses import mmcl_loss
from amf.solution import SVDResult

EIGENGAP_MIN = 1e-3
"""Smallest ``s_k - s_{k+1}`` (``s_1 = 1``) at which the subspace distance is part of a convergence criterion."""

TOLERANCES = {
    "gd": {"float64": {"loss_gap": 1e-6, "subspace_distance": 1e-4},
           "float32": {"loss_gap": 1e-5, "subspace_distance": 1e-3}},
    "sgd": {"float64": {"loss_gap": 2e-2}, "float32": {"loss_gap": 2e-2}},
    "infonce": {"float64": {"relative_change": 1e-2}, "float32": {"relative_change": 1e-2}},
    "weighted": {"float64": {"relative_change": 1e-9, "gradient_norm": 1e-6},
                 "float32": {"relative_change": 1e-5, "gradient_norm": 1e-3}},
}
"""Default tolerances per solver and dtype (float32 gd: the loss is summed in float32 during training)."""


@dataclasses.dataclass(frozen=True)
class TrainingCertificate:
    """What a gradient solver's result is worth (module docstring). Fields that do not apply are None.

    - ``converged``: the ``criterion`` holds for the measures below with ``tolerance``;
    - ``iterations``: optimizer steps taken; ``criterion``: the rule, in words;
    - ``loss``: population MMCL loss of the encoders (for InfoNCE: after the best scalar rescaling, see
      `amf.infonce`); ``loss_min``, ``loss_gap = (loss - loss_min) / |loss_min|``;
    - ``subspace_distance``, ``principal_angles``: ``col(D_V^{1/2} f_V)`` against ``span(U_k)``;
    - ``probe_error``, ``probe_error_optimal``: ``E_LS`` of the trained and of the optimal ``f_V`` (None without
      image labels);
    - ``tolerance``: the thresholds the criterion used, by measure name;
    - ``eigengap``: ``s_k - s_{k+1}`` of the reference; ``relative_change``: relative change of the training
      objective's chunk mean over the last chunk; ``gradient_norm``: relative gradient norm (weighted solver).
    """

    converged: bool
    iterations: int
    criterion: str
    loss: float
    loss_min: float | None
    loss_gap: float | None
    subspace_distance: float | None
    principal_angles: np.ndarray | None
    probe_error: float | None
    probe_error_optimal: float | None
    tolerance: dict[str, float]
    eigengap: float | None = None
    relative_change: float | None = None
    gradient_norm: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (arrays as lists, non-finite floats as None)."""
        out = {}
        for field in dataclasses.fields(self):
            out[field.name] = _json_safe(getattr(self, field.name))
        return out


def _json_safe(x):
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, dict):
        return {str(key): _json_safe(value) for key, value in x.items()}
    if isinstance(x, (np.ndarray, list, tuple)):
        return [_json_safe(v) for v in np.asarray(x, dtype=np.float64).ravel().tolist()]
    if isinstance(x, (int, np.integer)):
        return int(x)
    value = float(x)
    return value if math.isfinite(value) else None


# ---- reference spectrum ----------------------------------------------------------------------------------------


def reference_svd(graph: CoOccurrence, k: int, *, tol: float = 1e-10, seed: int = 0) -> SVDResult:
    """Top ``min(k + 1, min(N_V, N_L))`` singular triplets of ``Pn`` in float64, to judge a rank-``k`` result.

    Dense LAPACK SVD (`amf.solve.spectral_svd`, ``solver="exact"``) up to `amf.graph.DENSE_LIMIT` entries; above
    it, ARPACK (``scipy.sparse.linalg.svds``) on the sparse ``Pn`` with a fixed start vector, certified by the same
    residuals as the spectral solvers.
    """
    from amf.solve import spectral_svd

    rank = min(k + 1, min(graph.shape))
    if graph.n_images * graph.n_texts <= DENSE_LIMIT:
        return spectral_svd(graph, rank, solver="exact", dtype="float64")
    import scipy.sparse.linalg as sla

    from amf.solution import certify_svd

    if rank >= min(graph.shape):
        raise ValueError(f"ARPACK needs k + 1 < min(N_V, N_L) = {min(graph.shape)}, got {rank}")
    v0 = np.random.default_rng(seed).standard_normal(min(graph.shape))
    u, s, vt = sla.svds(graph.normalized, k=rank, tol=tol, v0=v0)
    order = np.argsort(s)[::-1]
    u, s, vt = u[:, order], s[order], vt[order]
    return certify_svd(graph.normalized_operator(np.float64), u, s, vt, tolerance=max(1e3 * tol, 1e-8),
                       iterations=0, matvecs=0)


# ---- measures --------------------------------------------------------------------------------------------------


def spectral_measures(graph: CoOccurrence, f_images, f_texts, reference: SVDResult, k: int, *,
                      optimal_probe: float | None = None, rescale: bool = False) -> dict:
    """Loss, loss gap, subspace distance, principal angles and probe errors of ``(f_V, f_L)`` (float64).

    With ``rescale`` the loss is taken at the best scalar multiple ``c* = a / b`` of the encoders' product
    (``L(c f_V, f_L) = -2 c a + c^2 b`` with ``a`` the positive and ``b`` the negative term), i.e. ``-a^2 / b``:
    the spectral loss of encoders trained with another objective, free of that objective's arbitrary scale.
    """
    from amf.losses import negative_term, positive_term
    from amf.solve import encoders_from_svd

    joint = graph.joint_arrays(np.float64)
    f_v = np.asarray(f_images, dtype=np.float64)
    f_l = np.asarray(f_texts, dtype=np.float64)
    if rescale:
        a = float(positive_term(joint, f_v, f_l))
        b = float(negative_term(joint, f_v, f_l))
        loss = -(a * a) / b if b > 0 else 0.0
    else:
        loss = float(mmcl_loss(joint, f_v, f_l))
    s = np.pad(np.asarray(reference.s, dtype=np.float64), (0, max(0, k + 1 - len(reference.s))))
    loss_min = float(-np.sum(s[:k] ** 2))
    scaled = np.sqrt(graph.p_images)[:, None] * f_v
    u_k = np.asarray(reference.u, dtype=np.float64)[:, :k]
    finite = bool(np.all(np.isfinite(scaled)))
    if optimal_probe is None and graph.image_labels is not None:
        optimal_probe = downstream.probe_error_ls(graph, encoders_from_svd(graph, reference, k)[0])
    return {
        "loss": loss,
        "loss_min": loss_min,
        "loss_gap": (loss - loss_min) / abs(loss_min) if math.isfinite(loss) else math.inf,
        "subspace_distance": projector_distance(scaled, u_k) if finite else 1.0,
        "principal_angles": principal_angles(scaled, u_k) if finite else np.full(k, np.pi / 2),
        "probe_error": downstream.probe_error_ls(graph, f_v) if finite else None,
        "probe_error_optimal": optimal_probe,
        "eigengap": float(s[k - 1] - s[k]),
    }


def certify(solver: str, measures: dict, *, iterations: int, tolerance: dict[str, float],
            relative_change: float | None = None) -> TrainingCertificate:
    """Apply ``solver``'s criterion (gd / sgd / infonce) to ``measures`` from `spectral_measures`."""
    gap, sub, eigengap = measures["loss_gap"], measures["subspace_distance"], measures["eigengap"]
    if solver == "gd":
        loss_ok = gap <= tolerance["loss_gap"]
        if eigengap >= EIGENGAP_MIN:
            converged = loss_ok and sub <= tolerance["subspace_distance"]
            criterion = (f"gd: loss_gap <= {tolerance['loss_gap']:g} and subspace_distance <= "
                         f"{tolerance['subspace_distance']:g} (eigengap s_k - s_k+1 = {eigengap:.3g} >= "
                         f"{EIGENGAP_MIN:g})")
        else:
            converged = loss_ok
            criterion = (f"gd: loss_gap <= {tolerance['loss_gap']:g} only: eigengap s_k - s_k+1 = {eigengap:.3g} < "
                         f"{EIGENGAP_MIN:g}, so span(U_k) is not determined by the loss; the subspace distance is "
                         "reported, not judged")
    elif solver == "sgd":
        converged = gap <= tolerance["loss_gap"]
        criterion = (f"sgd: loss_gap <= {tolerance['loss_gap']:g} (population MMCL loss from the edges vs "
                     "-sum_{i<=k} s_i^2); the subspace distance is reported, not judged")
    elif solver == "infonce":
        converged = relative_change is not None and relative_change <= tolerance["relative_change"]
        criterion = (f"infonce: optimizer progress only: relative change of the mean InfoNCE objective over the "
                     f"last chunk <= {tolerance['relative_change']:g}. Claims no convergence to the SVD: the loss is "
                     "the spectral loss after the best scalar rescaling, and the gaps are reported, not judged")
    else:
        raise ValueError(f"unknown solver {solver!r}")
    return TrainingCertificate(
        converged=bool(converged),
        iterations=int(iterations),
        criterion=criterion,
        loss=measures["loss"],
        loss_min=measures["loss_min"],
        loss_gap=measures["loss_gap"],
        subspace_distance=measures["subspace_distance"],
        principal_angles=measures["principal_angles"],
        probe_error=measures["probe_error"],
        probe_error_optimal=measures["probe_error_optimal"],
        tolerance=dict(tolerance),
        eigengap=eigengap,
        relative_change=relative_change,
    )
