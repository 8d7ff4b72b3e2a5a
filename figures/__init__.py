"""Figures of amf: one module per figure, each a ``plot(result, path)`` that only plots saved results.

`FIGURES` maps a figure's name to the experiment that computes its results (`amf.experiments`) and the module
that plots them; ``amf figures`` runs the experiment, saves ``NAME.json`` and draws ``NAME.png``.
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
    from amf import experiments
    from figures import diversity, finite_samples, mmcl_vs_sscl, resampling

    return {
        "diversity": Figure(experiments.diversity_sweep, diversity.plot,
                            "T5: diverse captions open the spectral gap; the bound turns informative"),
        "mmcl_vs_sscl": Figure(experiments.mmcl_vs_sscl, mmcl_vs_sscl.plot,
                               "T5: captions are diverse, augmentations consistent; the bound weighs both"),
        "finite_samples": Figure(experiments.finite_samples, finite_samples.plot,
                                 "T4: the empirical minimizer's probe error falls toward the population's as n grows"),
        "resampling": Figure(experiments.resampling, resampling.plot,
                             "section 5: the paper's four CLIP-guided edits of SSCL on a synthetic simulator"),
    }
