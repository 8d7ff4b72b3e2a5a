"""The metrics of one experiment point, named as in the verify report (docs/file-format.md).

`verified` runs `amf.report.verify` (every theory check) on a graph at rank ``k`` and keeps:
``probe_error_ls`` (E_LS), ``alpha``, ``phi``, ``s_k``, ``s_next`` (``s_{k+1}``), ``spectral_gap``
(``1 - s_{k+1}^2``; ``gap`` is its old name, kept as an alias for readers of earlier results, docs/file-format.md), ``bound_rigorous_phi`` (``2 phi / spectral_gap``, proved), ``bound_rigorous_alpha``
(``4 alpha / spectral_gap``), ``bound_paper_form`` (``4 alpha / spectral_gap + 8 alpha``, the paper's form, not a
verdict), ``vacuous`` (the proved bound
is at least 1, i.e. says nothing), the graph's size and ``passed`` (every check held).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.stats

import synthetic
from amf.errors import InputError
from amf.experiments.config import Config, param
from amf.graph import CoOccurrence
from amf.report import verify


def verified(graph: CoOccurrence, k: int, seed: int) -> dict:
    """The metrics above for ``graph`` at rank ``k`` (module docstring)."""
    report, _ = verify(graph, k, seed=seed)
    s = report["singular_values"]
    s_next = s[k] if len(s) > k else 0.0
    bounds = report["bounds"]
    rigorous = bounds["rigorous_phi"]
    return {
        "probe_error_ls": report["probe_error_ls"],
        "alpha": report["alpha"],
        "phi": report["phi"],
        "s_k": s[k - 1],
        "s_next": s_next,
        "spectral_gap": 1.0 - s_next**2,
        "gap": 1.0 - s_next**2,
        "bound_rigorous_phi": rigorous,
        "bound_rigorous_alpha": bounds["rigorous_alpha"],
        "bound_paper_form": bounds["paper_form"],
        "vacuous": None if rigorous is None else bool(rigorous >= 1.0),
        "n_images": graph.n_images,
        "n_texts": graph.n_texts,
        "nnz": graph.nnz,
        "failed_checks": [c["name"] for c in report["checks"] if not c["passed"]],
        "passed": bool(report["passed"]),
    }


def mean_interval(values, level: float) -> tuple[float, float | None, list[float] | None]:
    """The mean of per-seed ``values``, their sample standard deviation and the ``level`` Student-t interval of
    the mean, ``[mean - t s / sqrt(n), mean + t s / sqrt(n)]`` (the last two None for one value)."""
    values = np.asarray(values, dtype=np.float64)
    n, mean = values.size, float(values.mean())
    if n < 2:
        return mean, None, None
    spread = float(values.std(ddof=1))
    half = float(scipy.stats.t.ppf(0.5 + level / 2, n - 1)) * spread / np.sqrt(n)
    return mean, spread, [mean - half, mean + half]


def mean_of(values) -> float | None:
    """The mean of the values that are not None (None when none is)."""
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


@dataclasses.dataclass(frozen=True)
class PlantedConfig(Config):
    """The `synthetic.planted_model` graph an experiment measures on; a subclass adds ``k`` and its own keys (and
    may give these other defaults)."""

    n_images: int = param(300, kind=int, low=2, help="N_V of the planted graph")
    n_texts: int = param(240, kind=int, low=2, help="N_L of the planted graph")
    n_edges: int = param(5000, kind=int, low=4, help="stored edges of the planted graph")
    n_classes: int = param(4, kind=int, low=2, help="planted classes")
    noise: float = param(0.1, kind=float, low=0.0, high=1.0,
                         help="planted class noise, a probability: the chance that an edge ignores the image's class")

    def validate(self) -> None:
        if max(self.k, self.n_classes) >= min(self.n_images, self.n_texts):
            raise InputError("config keys 'k' and 'n_classes' must be below min(n_images, n_texts)")
        if self.n_edges < self.n_images + self.n_texts:
            raise InputError(f"config key 'n_edges' must be >= n_images + n_texts = {self.n_images + self.n_texts}")

    def planted_graph(self, seed: int) -> CoOccurrence:
        return CoOccurrence.from_edges(synthetic.planted_model(
            n_images=self.n_images, n_texts=self.n_texts, n_edges=self.n_edges, n_classes=self.n_classes,
            noise=self.noise, seed=seed))
