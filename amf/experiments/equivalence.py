"""T3 on many random graphs: the MMCL optimum and the SSCL optimum on the text-induced graph span one subspace.

Per graph (`synthetic.planted_model` at the point's size, density and class noise): the MMCL image factor
``F_V = U_k S_k^{1/2}`` from amf's exact solver, and the SSCL optimum on ``A_V = P D_L^{-1} P^T`` computed
independently here, as the top-``k`` eigenvectors of the dense ``Abar_V = D_V^{-1/2} A_V D_V^{-1/2}``
(`numpy.linalg.eigh`). Measured: ``subspace_distance`` (sine of the largest principal angle between the two
column spaces, ``||V - U U^T V||_2``), ``eigenvalue_error`` (``max_i |lambda_i - s_i^2|``) and ``loss_gap`` (SSCL optimum
``-sum lambda_i^2`` against ``-sum s_i^4``).

A subspace is only determined by its singular values when ``s_k > s_{k+1}``: where `amf.checks.determination`
finds it ill-determined (the Davis–Kahan bound ``sqrt(2) max_residual s_1 / singular_gap`` on the angle of the
computed ``span(U_k)`` above `amf.checks.AMBIGUITY`, the one definition of docs/theory.md) the point is reported
``ill-determined`` (its distance says nothing about the theorem), else ``agrees`` (distance within ``tolerance``:
the round-off bound ``EPS / relative_gap``, ``relative_gap = (s_k^2 - s_{k+1}^2) / s_k^2``) or ``disagrees``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import synthetic
from amf.checks import determination
from amf.errors import InputError
from amf.experiments.config import Config, param
from amf.experiments.runner import Experiment
from amf.graph import CoOccurrence
from amf.solve import solve

DENSE_SIDE = 3000
"""Largest ``N_V`` of the dense ``Abar_V`` (72 MB in float64)."""
EPS = 1e-12
"""Round-off scale of the distance between two float64 subspaces; divided by the relative gap (Davis–Kahan)."""


@dataclasses.dataclass(frozen=True)
class EquivalenceConfig(Config):
    n_images: int = param((30, 100, 300), kind=int, low=4, high=DENSE_SIDE,
                          help="N_V (N_L = 0.8 N_V); the SSCL optimum is a dense eigendecomposition")
    density: float = param((0.05, 0.2, 0.6), kind=float, low=0.0, high=1.0, low_open=True,
                           help="stored edges as a share of N_V N_L")
    noise: float = param((0.0, 0.2, 0.6), kind=float, low=0.0, high=1.0, help="planted class noise, a probability")
    n_classes: int = param(4, kind=int, low=1, help="planted classes")
    k: int = param((2, 4), kind=int, low=1, help="rank compared")
    seeds: tuple[int, ...] = tuple(range(10))

    def validate(self) -> None:
        n_texts = max(1, int(0.8 * self.n_images))
        if max(self.k, self.n_classes) >= min(self.n_images, n_texts):
            raise InputError(f"config keys 'k' and 'n_classes' must be below min(N_V, N_L) = "
                             f"{min(self.n_images, n_texts)}")


def graph(config: EquivalenceConfig, seed: int) -> CoOccurrence:
    n_texts = max(1, int(0.8 * config.n_images))
    n_edges = max(config.n_images + n_texts, int(round(config.density * config.n_images * n_texts)))
    return CoOccurrence.from_edges(synthetic.planted_model(
        n_images=config.n_images, n_texts=n_texts, n_edges=n_edges, n_classes=config.n_classes,
        noise=config.noise, seed=seed))


def sscl_optimum(g: CoOccurrence, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` eigenvalues (descending) and eigenvectors ``(N_V, k)`` of the dense ``Abar_V``."""
    p = g.joint.toarray()
    a_v = p @ (p.T / p.sum(axis=0)[:, None])
    d = 1.0 / np.sqrt(a_v.sum(axis=1))
    values, vectors = np.linalg.eigh(d[:, None] * a_v * d[None, :])
    order = np.argsort(values)[::-1][:k]
    return values[order], vectors[:, order]


def measure(config: EquivalenceConfig, seed: int) -> dict:
    g = graph(config, seed)
    k = config.k
    mmcl = solve(g, k + 1, solver="exact", seed=seed)
    s = np.asarray(mmcl.svd.s, dtype=np.float64)
    u = np.linalg.qr(np.asarray(mmcl.svd.u, dtype=np.float64)[:, :k])[0]
    values, vectors = sscl_optimum(g, k)
    distance = float(np.linalg.norm(vectors - u @ (u.T @ vectors), 2))  # sin of the largest angle, no cancellation
    relative_gap = float((s[k - 1] ** 2 - s[k] ** 2) / s[k - 1] ** 2)
    tolerance = EPS / max(relative_gap, EPS)
    determined = determination(s[: k + 1], k, mmcl.svd.certificate.max_residual)
    status = ("ill-determined" if determined["ill_determined"] else
              "agrees" if distance <= tolerance else "disagrees")
    return {
        "k": k, "n_images": g.n_images, "n_texts": g.n_texts, "nnz": g.nnz,
        "s_k": float(s[k - 1]), "s_next": float(s[k]), "relative_gap": relative_gap,
        "singular_gap": determined["singular_gap"], "angle_bound": determined["angle_bound"],
        "subspace_distance": distance, "tolerance": tolerance,
        "eigenvalue_error": float(np.max(np.abs(values - s[:k] ** 2))),
        "loss_gap": float(abs(np.sum(values**2) - np.sum(s[:k] ** 4))),
        "status": status,
        "passed": status != "disagrees",
    }


def summarize(config: EquivalenceConfig, points: list[dict]) -> dict:
    """``counts`` of each status, and the distribution (quantiles) of the subspace distance among determined
    points and among ill-determined ones."""
    counts = {s: sum(p["status"] == s for p in points) for s in ("agrees", "ill-determined", "disagrees")}
    out = {"counts": counts}
    for name in ("agrees", "ill-determined", "disagrees"):
        d = np.array([p["subspace_distance"] for p in points if p["status"] == name])
        out[f"distance_{name}"] = None if not d.size else {
            q: float(np.quantile(d, v)) for q, v in (("min", 0.0), ("median", 0.5), ("q95", 0.95), ("max", 1.0))}
    out["max_eigenvalue_error"] = max(p["eigenvalue_error"] for p in points)
    return {"equivalence": out}


EXPERIMENT = Experiment(
    name="equivalence",
    claim="T3: the MMCL optimum and the SSCL optimum on the text-induced graph span the same subspace, on "
          "random graphs of many sizes, sparsities and noises (ill-determined cases flagged)",
    config=EquivalenceConfig,
    quick={"n_images": [30, 100], "density": [0.1, 0.5], "noise": [0.0, 0.4], "seeds": [0, 1]},
    measure=measure,
    summarize=summarize,
    headline=("relative_gap", "subspace_distance"),
    quick_seconds=8.0,
)
