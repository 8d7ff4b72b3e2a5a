"""T4: where the proved bound ``E_LS <= 2 phi / (1 - s_{k+1}^2)`` is tight and where it is vacuous.

A `synthetic.planted_model` graph (``r`` planted classes, power-law degrees, class noise ``noise``) verified at
every rank ``k`` of the sweep: the measured E_LS beside the proved bound and the paper's form
(``4 alpha / spectral_gap + 8 alpha``). ``tightness = E_LS / bound`` (1 = tight, None where the bound is 0);
``vacuous``: the bound is at least 1. Below ``k = r`` (``r`` classes) the spectral_gap is near 0 (the near-1
singular values of the classes are not all taken), so the bound is vacuous; at and past ``r`` it is informative on
clean graphs and vacuous again as noise (a probability) grows.
"""

from __future__ import annotations

import dataclasses


import synthetic
from amf.errors import InputError
from amf.experiments.config import Config, param
from amf.experiments.measures import mean_of, verified
from amf.experiments.runner import Experiment
from amf.graph import CoOccurrence


@dataclasses.dataclass(frozen=True)
class BoundTightnessConfig(Config):
    n_images: int = param(600, kind=int, low=2, help="N_V")
    n_texts: int = param(450, kind=int, low=2, help="N_L")
    edges_per_node: int = param(12, kind=int, low=1, help="stored edges per node: n_edges = this x (N_V + N_L)")
    n_classes: int = param(4, kind=int, low=2, help="r, the planted classes")
    noise: float = param((0.0, 0.05, 0.1, 0.2, 0.4), kind=float, low=0.0, high=1.0,
                         help="planted class noise, a probability: the chance that an edge ignores the image's class")
    k: int = param(tuple(range(1, 13)), kind=int, low=1, help="rank of the factorization (1 to 3 r by default)")
    seeds: tuple[int, ...] = (0, 1, 2)

    def validate(self) -> None:
        if self.n_classes > min(self.n_images, self.n_texts):
            raise InputError(f"config key 'n_classes' must be <= min(n_images, n_texts), got {self.n_classes}")
        if self.k >= min(self.n_images, self.n_texts):
            raise InputError(f"config key 'k' must be below min(n_images, n_texts), got {self.k}")


def measure(config: BoundTightnessConfig, seed: int) -> dict:
    graph = CoOccurrence.from_edges(synthetic.planted_model(
        n_images=config.n_images, n_texts=config.n_texts,
        n_edges=config.edges_per_node * (config.n_images + config.n_texts), n_classes=config.n_classes,
        noise=config.noise, seed=seed))
    row = {"k": config.k, **verified(graph, config.k, seed)}
    bound = row["bound_rigorous_phi"]
    row["tightness"] = row["probe_error_ls"] / bound if bound else None
    row["bound_holds"] = bound is None or row["probe_error_ls"] <= bound + 1e-12
    return row


def summarize(config: BoundTightnessConfig, points: list[dict]) -> dict:
    """``table``: per (k, noise) the seed means of E_LS, both bounds and the tightness, the share of seeds where
    the proved bound is vacuous and how many have no bound (``s_{k+1} = 1``: no spectral_gap; left out of the means);
    ``bound_held``: at every point with a bound, E_LS <= the bound."""
    cells = {}
    for p in points:
        cells.setdefault((p["k"], p["params"].get("noise", config.noise)), []).append(p)
    table = []
    for (k, noise), group in sorted(cells.items()):
        table.append({
            "k": k, "noise": noise,
            **{m: mean_of([p[m] for p in group])
               for m in ("probe_error_ls", "bound_rigorous_phi", "bound_paper_form", "tightness")},
            "vacuous_share": mean_of([float(p["vacuous"]) for p in group if p["vacuous"] is not None]),
            "undefined": sum(p["bound_rigorous_phi"] is None for p in group),
        })
    return {"table": table, "bound_held": all(p["bound_holds"] for p in points)}


EXPERIMENT = Experiment(
    name="bound-tightness",
    claim="T4: measured E_LS against the proved bound 2 phi / (1 - s_{k+1}^2) and the paper's form over k and "
          "noise: tight, loose or vacuous",
    config=BoundTightnessConfig,
    quick={"n_images": 200, "n_texts": 160, "noise": [0.05, 0.3], "k": [1, 4], "seeds": [0]},
    measure=measure,
    summarize=summarize,
    headline=("probe_error_ls", "bound_rigorous_phi", "bound_paper_form", "tightness"),
    quick_seconds=15.0,
)
