"""Figures of amf: one module per figure, each a ``plot(result, path)`` that only plots saved results.

`registry` maps a figure's name to the experiment that computes its results (`amf.experiments.EXPERIMENTS`)
and the module that plots them; ``amf figures`` runs the experiment, saves ``NAME.json`` and draws ``NAME.png``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Figure(NamedTuple):
    experiment: Callable[..., dict]
    plot: Callable[[dict, str], None]
    claim: str


def registry() -> dict[str, Figure]:
    """The figures, by name (imports the experiments lazily so ``import figures`` stays light)."""
    from amf.experiments import EXPERIMENTS
    from figures import diversity, finite_samples, mmcl_vs_sscl, resampling

    plots = {"diversity": diversity.plot, "mmcl_vs_sscl": mmcl_vs_sscl.plot, "finite_samples": finite_samples.plot,
             "resampling": resampling.plot}
    return {name: Figure(EXPERIMENTS[name].run, plot, EXPERIMENTS[name].claim) for name, plot in plots.items()}
