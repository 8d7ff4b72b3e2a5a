"""T2/T3 spectra: the singular values of ``Pn`` and the eigenvalues of the text-induced image graph.

Two graphs: ``block`` (`synthetic.block_model`, ``r`` classes: ``s_1 = 1``, ``s_2..s_r = (a - b)/(a + (r-1) b)``,
then 0; a clean gap after ``k = r``) and ``noisy`` (`synthetic.planted_model` with class noise: a spread-out tail).
Per graph, the top ``n_values`` singular values of ``Pn`` (amf's exact solver) and, independently, the
eigenvalues of the dense ``Abar_V = D_V^{-1/2} A_V D_V^{-1/2}`` (`numpy.linalg.eigh`), which T3 says are
``s_i^2``; with the verify metrics at ``k`` (the ``spectral_gap = 1 - s_{k+1}^2``; the figure marks the
``singular_gap = s_k - s_{k+1}``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

import synthetic
from amf.experiments.config import Config, param
from amf.experiments.equivalence import DENSE_SIDE, sscl_optimum
from amf.experiments.measures import verified
from amf.experiments.runner import Experiment
from amf.graph import CoOccurrence
from amf.solve import solve


@dataclasses.dataclass(frozen=True)
class SpectrumConfig(Config):
    graph: str = param(("block", "noisy"), kind=str, choices=("block", "noisy"), help="which graph")
    n_classes: int = param(4, kind=int, low=2, help="r, the classes of both graphs")
    images: int = param(160, kind=int, low=8, high=DENSE_SIDE, help="N_V of both graphs (dense: at most 3000)")
    texts: int = param(120, kind=int, low=8, high=DENSE_SIDE, help="N_L of both graphs (dense: at most 3000)")
    across: float = param(0.1, kind=float, low=0.0, high=1.0,
                          help="block graph: weight across classes (within: 1)")
    noise: float = param(0.3, kind=float, low=0.0, high=1.0, help="noisy graph: planted class noise, a probability")
    edges_per_node: int = param(10, kind=int, low=1, help="noisy graph: stored edges per node")
    n_values: int = param(24, kind=int, low=2, help="singular values kept")
    k: int = param(0, kind=int, low=0, help="the rank marked; 0 = n_classes")
    seeds: tuple[int, ...] = (0,)


def _graph(config: SpectrumConfig, seed: int) -> CoOccurrence:
    r = config.n_classes
    if config.graph == "block":
        return CoOccurrence.from_edges(synthetic.block_model(
            n_classes=r, images_per_class=max(1, config.images // r), texts_per_class=max(1, config.texts // r),
            within=1.0, across=config.across))
    return CoOccurrence.from_edges(synthetic.planted_model(
        n_images=config.images, n_texts=config.texts, n_edges=config.edges_per_node * (config.images + config.texts),
        n_classes=r, noise=config.noise, seed=seed))


def measure(config: SpectrumConfig, seed: int) -> dict:
    graph = _graph(config, seed)
    k = config.k or config.n_classes
    n = min(config.n_values, min(graph.shape))
    s = np.asarray(solve(graph, n, solver="exact", seed=seed).svd.s, dtype=np.float64)[:n]
    eigenvalues, _ = sscl_optimum(graph, n)
    return {"k": k, **verified(graph, k, seed), "eigenvalue_error": float(np.max(np.abs(eigenvalues - s**2))),
            "arrays": {"singular_values": s, "text_induced_eigenvalues": eigenvalues}}


EXPERIMENT = Experiment(
    name="spectrum",
    claim="T2/T3: the spectrum of the normalized co-occurrence (a block graph and a noisy one) and of the "
          "text-induced graph, whose eigenvalues are s_i^2",
    config=SpectrumConfig,
    quick={"images": 80, "texts": 60},
    measure=measure,
    headline=("s_k", "s_next", "spectral_gap", "eigenvalue_error"),
    quick_seconds=5.0,
)
