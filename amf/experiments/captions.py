"""T5 on caption graphs: semantic consistency (``consistency``: caption noise swept at fixed diversity) and
diversity (``diversity``: caption diversity swept at fixed noise).

Both use `synthetic.diversity_model`: ``r`` classes of ``g`` styles, a caption links with weight 1 to the images
of its own style, ``diversity`` to the other styles of its class and ``noise`` to every image of another class
(so ``noise`` is caption label noise: the share of a caption's mass on images of another class grows with it).
With ``n_pairs = 0`` the point is that population graph, whose singular values, ``alpha`` and ``phi`` have closed
forms (``Z = 1 + (g-1) d + (r-1) g eps``): ``s_{r+1} = (1 - d) / Z``, ``alpha = q = (r-1) g eps / Z`` and
``phi = 1 - (1-q)^2 - q^2/(r-1)``. With ``n_pairs > 0`` the point is an empirical graph of that many pairs drawn
from it (`amf.experiments.empirical.empirical_graph`), so seeds differ.
"""

from __future__ import annotations

import dataclasses

import synthetic
from amf.experiments.config import Config, param
from amf.experiments.empirical import empirical_graph
from amf.experiments.measures import mean_of, verified
from amf.experiments.runner import Experiment
from amf.errors import InputError
from amf.graph import CoOccurrence


@dataclasses.dataclass(frozen=True)
class StyleConfig(Config):
    """A `synthetic.diversity_model` graph, optionally sampled, verified at ``k`` (0: ``k = n_classes``)."""

    n_classes: int = param(6, kind=int, low=2, help="r, the number of classes")
    styles_per_class: int = param(4, kind=int, low=1, help="g, styles per class")
    images_per_style: int = param(10, kind=int, low=1, help="images per style")
    texts_per_style: int = param(8, kind=int, low=1, help="captions per style")
    diversity: float = param(0.5, kind=float, low=0.0, high=1.0,
                             help="d, a caption's weight on the other styles of its class")
    noise: float = param(0.05, kind=float, low=0.0, high=1.0,
                         help="eps, a caption's edge weight on each image of another class, against weight 1 on "
                              "its own style (caption label noise; a weight, not a probability)")
    n_pairs: int = param(50000, kind=int, low=0, help="pairs sampled from the graph; 0 = the population itself")
    k: int = param(0, kind=int, low=0, help="rank of the factorization; 0 = n_classes")
    seeds: tuple[int, ...] = (0, 1, 2)

    def validate(self) -> None:
        images, texts = self.n_classes * self.styles_per_class * self.images_per_style, \
            self.n_classes * self.styles_per_class * self.texts_per_style
        if self.k >= min(images, texts):
            raise InputError(f"config key 'k' must be below min(N_V, N_L) = {min(images, texts)}, got {self.k}")


@dataclasses.dataclass(frozen=True)
class ConsistencyConfig(StyleConfig):
    """`StyleConfig` sweeping the caption noise."""

    noise: float = param((0.0, 0.02, 0.05, 0.1, 0.2, 0.3), kind=float, low=0.0, high=1.0,
                         help="eps, a caption's edge weight on each image of another class, against weight 1 on "
                              "its own style (caption label noise; a weight, not a probability)")


@dataclasses.dataclass(frozen=True)
class DiversityConfig(StyleConfig):
    """`StyleConfig` sweeping the caption diversity (at a lower noise)."""

    diversity: float = param((0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0), kind=float, low=0.0, high=1.0,
                             help="d, a caption's weight on the other styles of its class")
    noise: float = param(0.02, kind=float, low=0.0, high=1.0,
                         help="eps, a caption's edge weight on each image of another class, against weight 1 on "
                              "its own style (caption label noise; a weight, not a probability)")


def _graph(config: StyleConfig, seed: int) -> CoOccurrence:
    population = CoOccurrence.from_edges(synthetic.diversity_model(
        n_classes=config.n_classes, styles_per_class=config.styles_per_class,
        images_per_style=config.images_per_style, texts_per_style=config.texts_per_style,
        diversity=config.diversity, noise=config.noise))
    if config.n_pairs == 0:
        return population
    return empirical_graph(population, config.n_pairs, seed).graph


def measure(config: StyleConfig, seed: int) -> dict:
    """The verify metrics (`amf.experiments.measures.verified`) of one caption graph, with its closed forms."""
    k = config.k or config.n_classes
    graph = _graph(config, seed)
    row = {"k": k, **verified(graph, k, seed)}
    r, g, d, eps = config.n_classes, config.styles_per_class, config.diversity, config.noise
    z = 1 + (g - 1) * d + (r - 1) * g * eps
    q = (r - 1) * g * eps / z
    row["population"] = {"alpha": q, "phi": 1 - (1 - q) ** 2 - q**2 / (r - 1),
                         "s_next": (1 - d) / z if k == r and g > 1 else None}
    return row


def _trend(name: str, metrics: tuple[str, ...]):
    def summarize(config, points) -> dict:
        """Mean of each metric against the swept value (the table a figure draws)."""
        values = sorted({p["params"][name] for p in points if name in p["params"]})
        rows = []
        for value in values:
            group = [p for p in points if p["params"].get(name) == value]
            rows.append({name: value, **{m: mean_of([p[m] for p in group]) for m in metrics}})
        return {"trend": rows}

    return summarize


CONSISTENCY = Experiment(
    name="consistency",
    claim="T4/T5 consistency: noisier captions raise alpha and phi, and with them the bound (E_LS <= 2 phi / "
          "spectral_gap)",
    config=ConsistencyConfig,
    quick={"n_classes": 4, "styles_per_class": 3, "images_per_style": 6, "texts_per_style": 4, "n_pairs": 5000,
           "noise": [0.0, 0.05, 0.2], "seeds": [0, 1]},
    measure=measure,
    summarize=_trend("noise", ("alpha", "phi", "spectral_gap", "probe_error_ls", "bound_rigorous_phi",
                               "bound_paper_form")),
    headline=("alpha", "phi", "spectral_gap", "probe_error_ls", "bound_rigorous_phi"),
    quick_seconds=7.0,
)

DIVERSITY = Experiment(
    name="diversity",
    claim="T5 diversity: captions that reach more styles of their class open the spectral_gap 1 - s_{k+1}^2; the bound "
          "turns informative",
    config=DiversityConfig,
    quick={"n_classes": 4, "styles_per_class": 3, "images_per_style": 6, "texts_per_style": 4, "n_pairs": 5000,
           "diversity": [0.0, 0.3, 1.0], "noise": 0.02, "seeds": [0, 1]},
    measure=measure,
    summarize=_trend("diversity", ("s_next", "spectral_gap", "phi", "probe_error_ls", "bound_rigorous_phi")),
    headline=("s_next", "spectral_gap", "probe_error_ls", "bound_rigorous_phi"),
    quick_seconds=7.0,
)
