"""Figures of amf: one module per figure, each a ``draw(results, arrays) -> matplotlib Figure`` that only plots
saved results (``results.json`` and ``arrays.npz`` of an experiment run; for ``scale``, ``{"rows": ...}`` with the
spectral benchmark's rows; for ``demo``, the ``amf demo`` report). Every module follows that one convention:
``draw`` returns the figure, `figures.style.save` writes it. `FIGURES` names them; `figures.build.make` runs what is missing, draws and writes the manifest.
"""

from __future__ import annotations

import dataclasses
import importlib

BENCH_RESULTS = "docs/bench_spectral.json"
"""The rows of the spectral benchmark the ``scale`` figure draws (``amf bench spectral --json FILE``)."""


@dataclasses.dataclass(frozen=True)
class Figure:
    """``name``; ``experiment``: the `amf.experiments.EXPERIMENTS` key whose results it draws (None: the
    benchmark's rows); ``module``: the ``figures`` module with its ``draw``."""

    name: str
    experiment: str | None
    module: str

    def draw(self, results, arrays):
        """The matplotlib figure of these results (imports matplotlib on first use)."""
        return importlib.import_module(f"figures.{self.module}").draw(results, arrays)


FIGURES: dict[str, Figure] = {f.name: f for f in (
    Figure("spectrum", "spectrum", "spectrum"),
    Figure("training", "training", "training_curves"),
    Figure("equivalence", "equivalence", "equivalence"),
    Figure("consistency", "consistency", "consistency"),
    Figure("diversity", "diversity", "diversity"),
    Figure("mmcl-vs-sscl", "mmcl-vs-sscl", "mmcl_vs_sscl"),
    Figure("bound-tightness", "bound-tightness", "bound_tightness"),
    Figure("finite-samples", "finite-samples", "finite_samples"),
    Figure("resampling", "resampling", "resampling"),
    Figure("scale", None, "scale"),
)}
