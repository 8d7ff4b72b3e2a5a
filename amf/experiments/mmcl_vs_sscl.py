"""T5 on matched graphs: captions (MMCL) against augmentations (SSCL) over the same views, one property at a time.

docs/theory.md T5: both bounds read ``E_LS <= 2 phi / spectral_gap`` (``spectral_gap = 1 - s_{k+1}^2``), and
captions are said to win by **consistency** (smaller ``phi``) and **diversity** (larger ``spectral_gap``). Both
arms are `synthetic.matched_model` graphs of one seed: the same views, labels, degrees and per-edge noise model
(common random numbers); they differ only in how the home columns group the views and in their ``delta``
(diversity) and ``eps`` (noise). Each point holds one measured quantity equal and lets the other differ:

- ``held = "phi"`` (consistency held equal, diversity differs): captions ``delta_c = diversity``, ``eps_c =
  noise``; augmentations ``delta_a = augmentation_diversity`` (below ``delta_c``), ``eps_a`` solved so that
  ``phi_a`` matches ``phi_c``;
- ``held = "spectral_gap"`` (diversity held equal, consistency differs): captions as above; augmentations
  ``eps_a = noise + noise_excess``, ``delta_a`` solved so that ``spectral_gap_a`` matches ``spectral_gap_c``.

The solve is a bisection on the generator's probability, then a scan where the bisection missed (a dense SVD
of ``Pn`` steers it); the match is judged on the certified values of `amf.experiments.measures.verified`:
``match_ratio`` = held quantity of the augmentations / of the captions, and ``matched`` iff ``|match_ratio - 1|
<= MATCH[held]`` (both 0 counts as 1). A point that is not matched fails (``passed: false``). The tolerance is 3%
for ``phi``, which moves smoothly with ``eps``, and 5% for ``spectral_gap``, which jumps as single edges move
(on 256 views by up to 15% at one edge: at seed 2 of diversity 0.5, noise 0.05 no ``delta_a`` comes within 3%).
Both arms are verified at ``k = r``.

The verdict of a setting comes from its seeds (`seed_verdict`) on the per-seed difference augmentations minus
captions of ``E_LS`` and of the proved bound: "captions better" / "augmentations better" when the 95% t-interval
of the mean difference excludes 0, "tie" when every seed's difference is within ``TIE``, "undetermined" otherwise
(seeds split, or one seed), "not matched" when a seed's arms are not matched, "no bound" where a bound is
undefined (``s_{k+1} = 1``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

import synthetic
from amf.downstream import phi
from amf.errors import InputError
from amf.experiments.config import Config, param
from amf.experiments.measures import mean_interval, verified
from amf.experiments.runner import Experiment
from amf.graph import CoOccurrence

HELD = ("phi", "spectral_gap")
MATCH = {"phi": 0.03, "spectral_gap": 0.05}
"""Largest relative difference of the held quantity between the arms, ``|a / c - 1|``, for a matched point."""
SCAN = 201
"""Evenly spaced probabilities tried where the bisection misses the tolerance."""
TIE = 1e-12
LEVEL = 0.95
"""Coverage of the t-interval of the mean per-seed difference."""
STEPS = 30
"""Bisection steps of the matching solve (the probability is found to 2^-30; its graph changes edge by edge)."""
METRICS = ("phi", "spectral_gap", "bound_rigorous_phi", "probe_error_ls")


@dataclasses.dataclass(frozen=True)
class MmclVsSsclConfig(Config):
    held: str = param(HELD, kind=str, choices=HELD,
                      help="quantity held equal between the arms: phi (so diversity differs) or spectral_gap (so "
                           "consistency differs)")
    n_classes: int = param(4, kind=int, low=2, help="r, the number of classes (k = r)")
    sources_per_class: int = param(16, kind=int, low=1, help="n, sources per class = columns per class")
    views_per_source: int = param(4, kind=int, low=1, help="v, views per source = views per home column")
    min_degree: int = param(3, kind=int, low=1, help="d_min, the fewest edges of a view (both arms)")
    degree_exponent: float = param(2.5, kind=float, low=1.0, low_open=True,
                                   help="gamma, the power law of the views' degrees (both arms)")
    diversity: float = param((0.2, 0.5, 0.9), kind=float, low=0.0, high=1.0,
                             help="delta_c: probability that a caption edge spreads over its class")
    noise: float = param((0.05, 0.15, 0.3), kind=float, low=0.0, high=1.0,
                         help="eps_c: probability that a caption edge goes to another class")
    augmentation_diversity: float = param(0.05, kind=float, low=0.0, high=1.0,
                                          help="held = phi: delta_a, below every diversity (eps_a is solved)")
    noise_excess: float = param(0.1, kind=float, low=0.0, high=1.0, low_open=True,
                                help="held = spectral_gap: eps_a - eps_c (delta_a is solved)")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)

    def validate(self) -> None:
        if self.held == "phi" and self.augmentation_diversity >= self.diversity:
            raise InputError(f"config key 'augmentation_diversity' ({self.augmentation_diversity}) must be below "
                             f"'diversity' ({self.diversity}) where held = phi")
        if self.held == "spectral_gap" and self.noise + self.noise_excess > 1:
            raise InputError(f"config keys 'noise' + 'noise_excess' must be <= 1 where held = spectral_gap, got "
                             f"{self.noise} + {self.noise_excess}")


def arm(config: MmclVsSsclConfig, name: str, diversity: float, noise: float, seed: int) -> CoOccurrence:
    """One arm (``name`` = "captions" or "augmentations") of the matched pair of ``seed``."""
    return CoOccurrence.from_edges(synthetic.matched_model(
        arm=name, n_classes=config.n_classes, sources_per_class=config.sources_per_class,
        views_per_source=config.views_per_source, min_degree=config.min_degree,
        degree_exponent=config.degree_exponent, diversity=diversity, noise=noise, seed=seed))


def spectral_gap(graph: CoOccurrence, k: int) -> float:
    """``1 - s_{k+1}^2`` from a dense SVD of ``Pn`` (steers the matching solve only; not a reported number)."""
    s = np.linalg.svd(graph.normalized_dense(), compute_uv=False)
    return float(1.0 - (s[k] if len(s) > k else 0.0) ** 2)


def solve(quantity, target: float, low: float, high: float, tolerance: float) -> float:
    """The probability in ``[low, high]`` whose graph's ``quantity`` is nearest ``target``: a bisection (for a
    nondecreasing ``quantity``), then, if the nearest value seen misses ``target`` by more than ``tolerance``
    (relative), a scan of `SCAN` evenly spaced probabilities (``quantity`` moves in steps, not always upward)."""
    seen = {}

    def miss(x: float) -> float:
        seen[x] = quantity(x)
        return abs(seen[x] - target)

    bracket = (low, high)
    miss(low)
    for _ in range(STEPS):
        mid = 0.5 * (low + high)
        miss(mid)
        low, high = (mid, high) if seen[mid] < target else (low, mid)
    if min(abs(v - target) for v in seen.values()) > tolerance * abs(target):
        for x in np.linspace(*bracket, SCAN):
            miss(float(x))
    return min(seen, key=lambda x: (abs(seen[x] - target), x))


def match_ratio(augmentations: float, captions: float) -> float:
    """Held quantity of the augmentations over the captions' (1 when both are 0, inf when only theirs is)."""
    if captions == 0:
        return 1.0 if augmentations == 0 else float("inf")
    return augmentations / captions


def measure(config: MmclVsSsclConfig, seed: int) -> dict:
    k = config.n_classes
    d_c, e_c = config.diversity, config.noise
    captions = arm(config, "captions", d_c, e_c, seed)
    if config.held == "phi":
        d_a = config.augmentation_diversity
        e_a = solve(lambda e: phi(arm(config, "augmentations", d_a, e, seed)), phi(captions), 0.0, 1.0,
                    MATCH["phi"])
    else:
        e_a = config.noise + config.noise_excess
        d_a = solve(lambda d: spectral_gap(arm(config, "augmentations", d, e_a, seed), k),
                    spectral_gap(captions, k), 0.0, 1.0, MATCH["spectral_gap"])
    augmentations = arm(config, "augmentations", d_a, e_a, seed)
    mmcl = _arm_metrics(captions, k, seed, d_c, e_c)
    sscl = _arm_metrics(augmentations, k, seed, d_a, e_a)
    ratio = match_ratio(sscl[config.held], mmcl[config.held])
    matched = bool(abs(ratio - 1.0) <= MATCH[config.held])
    return {"k": k, "mmcl": mmcl, "sscl": sscl, "match_ratio": ratio, "matched": matched,
            "passed": bool(mmcl["passed"] and sscl["passed"] and matched)}


def _arm_metrics(graph: CoOccurrence, k: int, seed: int, diversity: float, noise: float) -> dict:
    metrics = verified(graph, k, seed)
    return {**metrics, "spectral_gap": 1.0 - metrics["s_next"] ** 2, "diversity": diversity, "noise": noise}


def seed_verdict(differences, *, level: float = LEVEL) -> dict:
    """The verdict on per-seed differences ``d_s`` = augmentations minus captions (positive: captions better):
    the mean, the ``level`` t-interval of the mean (``None`` with one seed), how many seeds favour each side, and
    ``verdict`` (module docstring; "no bound" if a difference is None)."""
    if any(d is None for d in differences):
        return {"verdict": "no bound", "mean": None, "interval": None, "captions": None, "augmentations": None}
    d = np.asarray(differences, dtype=np.float64)
    out = {"mean": float(d.mean()), "interval": None, "captions": int(np.sum(d > TIE)),
           "augmentations": int(np.sum(d < -TIE))}
    if np.all(np.abs(d) <= TIE):
        return {**out, "verdict": "tie"}
    if d.size < 2:
        return {**out, "verdict": "undetermined"}
    low, high = mean_interval(d, level)[2]
    verdict = "captions better" if low > 0 else "augmentations better" if high < 0 else "undetermined"
    return {**out, "interval": [low, high], "verdict": verdict}


def summarize(config: MmclVsSsclConfig, points: list[dict]) -> dict:
    """``table``: per setting (held, diversity, noise) the seed means of ``phi``, ``spectral_gap``, the proved
    bound and ``E_LS`` of each arm, the solved probability of the augmentations, the worst ``match_ratio``, and
    the seed verdicts by ``E_LS`` (``probe``) and by the bound (``bound``); ``verdicts``: per held quantity, how
    many settings got each verdict."""
    cells: dict[tuple, list[dict]] = {}
    for p in points:
        key = tuple(p["params"].get(name, getattr(config, name)) for name in ("held", "diversity", "noise"))
        cells.setdefault(key, []).append(p)
    table = []
    for (held, diversity, noise), group in cells.items():
        row = {"held": held, "diversity": diversity, "noise": noise, "seeds": [p["seed"] for p in group]}
        for side in ("mmcl", "sscl"):
            for metric in METRICS:
                values = [p[side][metric] for p in group]
                row[f"{side}_{metric}"] = None if None in values else float(np.mean(values))
        solved = "noise" if held == "phi" else "diversity"
        row[f"sscl_{solved}"] = float(np.mean([p["sscl"][solved] for p in group]))
        row["match_ratio"] = max((p["match_ratio"] for p in group), key=lambda r: abs(r - 1.0))
        matched = all(p["matched"] for p in group)
        for by, metric in (("probe", "probe_error_ls"), ("bound", "bound_rigorous_phi")):
            diffs = [None if p["sscl"][metric] is None or p["mmcl"][metric] is None
                     else p["sscl"][metric] - p["mmcl"][metric] for p in group]
            row[by] = seed_verdict(diffs) if matched else {"verdict": "not matched"}
        table.append(row)
    verdicts = {held: {by: _count(r[by]["verdict"] for r in table if r["held"] == held) for by in ("probe", "bound")}
                for held in dict.fromkeys(r["held"] for r in table)}
    return {"table": table, "verdicts": verdicts}


def _count(names) -> dict:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return counts


EXPERIMENT = Experiment(
    name="mmcl-vs-sscl",
    claim="T5 on matched graphs: at equal phi, does the more diverse arm (captions) have the smaller bound and "
          "probe error; at equal spectral gap, does the more consistent one",
    config=MmclVsSsclConfig,
    quick={"sources_per_class": 8, "diversity": [0.5], "noise": [0.15], "seeds": [0, 1]},
    measure=measure,
    summarize=summarize,
    headline=("match_ratio", "mmcl.phi", "sscl.phi", "mmcl.spectral_gap", "sscl.spectral_gap",
              "mmcl.bound_rigorous_phi", "sscl.bound_rigorous_phi", "mmcl.probe_error_ls", "sscl.probe_error_ls"),
    quick_seconds=15.0,
)
