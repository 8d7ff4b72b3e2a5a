"""Experiments: every claim of the paper as a configurable, multi-seed, resumable run (docs/experiments.md).

`EXPERIMENTS` is the registry, CLI name -> `Experiment` (its claim, `Config` dataclass, quick preset and the
function that measures one point); `runner.run` runs one, `runner.prepare`/`runner.finish` manage its run folder.
Modules: `captions` (consistency, diversity), `mmcl_vs_sscl`, `bound_tightness`, `empirical` (finite samples),
`training`, `equivalence`, `resampling` (on the `clip_resampling` simulator), `spectrum`; `demo` is the ``amf demo`` pipeline.
"""

from __future__ import annotations

from amf.experiments import bound_tightness, equivalence, mmcl_vs_sscl, resampling, spectrum, training_curves
from amf.experiments.captions import CONSISTENCY, DIVERSITY
from amf.experiments.demo import demo
from amf.experiments.empirical import EXPERIMENT as FINITE_SAMPLES
from amf.experiments.runner import Experiment, Result, run

EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in (
    CONSISTENCY, DIVERSITY, mmcl_vs_sscl.EXPERIMENT, bound_tightness.EXPERIMENT, FINITE_SAMPLES,
    training_curves.EXPERIMENT, equivalence.EXPERIMENT, resampling.EXPERIMENT, spectrum.EXPERIMENT)}

__all__ = ["EXPERIMENTS", "Experiment", "Result", "demo", "run"]
