"""Experiments: verified solves on synthetic graphs, returning plain JSON-able results that figures plot.

`EXPERIMENTS` is the registry, name -> `Experiment` (the function ``run(*, quick, seed) -> dict`` and the claim
it tests). Modules: `sweeps` (the T5 sweeps), `empirical` (finite samples), `clip_resampling` (the paper's
CLIP-guided resampling on a synthetic simulator), `demo` (the ``amf demo`` pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from amf.experiments.clip_resampling import resampling
from amf.experiments.demo import demo
from amf.experiments.empirical import finite_samples
from amf.experiments.sweeps import diversity_sweep, mmcl_vs_sscl


class Experiment(NamedTuple):
    run: Callable[..., dict]
    claim: str


EXPERIMENTS: dict[str, Experiment] = {
    "diversity": Experiment(diversity_sweep, "T5: diverse captions open the spectral gap; the bound turns informative"),
    "mmcl_vs_sscl": Experiment(mmcl_vs_sscl,
                               "T5: captions are diverse, augmentations consistent; the bound weighs both"),
    "finite_samples": Experiment(finite_samples,
                                 "T4: the empirical minimizer's probe error falls toward the population's as n grows"),
    "resampling": Experiment(resampling,
                             "section 5: the paper's four CLIP-guided edits of SSCL on a synthetic simulator"),
}

__all__ = ["EXPERIMENTS", "Experiment", "demo", "diversity_sweep", "finite_samples", "mmcl_vs_sscl", "resampling"]
