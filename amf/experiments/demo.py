"""The demo pipeline (``amf demo``) as a function: build the default graph, solve it exactly and by gradient
descent, verify every check, and return everything the command line presents.

`DEMO_MODEL` with `DEMO_PARAMS` is the built-in default graph: a planted-partition graph with 6 classes and
15% class noise.
"""

from __future__ import annotations

import dataclasses

import synthetic
from amf.graph import CoOccurrence
from amf.report import training_report, verify
from amf.solve import train
from amf.solution import Solution
from amf.solvers.spectral import Exact

DEMO_MODEL = "planted"
DEMO_PARAMS = {"n_images": 1200, "n_texts": 900, "n_edges": 24000, "n_classes": 6, "noise": 0.15}


@dataclasses.dataclass(frozen=True)
class Demo:
    """The demo's graph, its verify ``report`` (with the gradient-descent report under ``gradient_descent`` and
    ``spectrum``, the top ``4k`` singular values), the exact ``solution`` and the ``descent`` solution."""

    graph: CoOccurrence
    report: dict
    solution: Solution
    descent: Solution


def demo(*, seed: int = 0, k: int = DEMO_PARAMS["n_classes"]) -> Demo:
    """Run the demo on the default graph drawn with ``seed``, at rank ``k``; ``report["passed"]`` requires every
    check and the gradient-descent certificate to pass."""
    edges = synthetic.generate(DEMO_MODEL, seed=seed, **DEMO_PARAMS)
    graph = CoOccurrence.from_edges(edges)
    report, exact = verify(graph, k, seed=seed)
    report["graph"]["model"] = {"name": DEMO_MODEL, "params": edges.params}
    report["spectrum"] = Exact().svd(graph, min(4 * k, min(graph.shape)), dtype="float64").s.tolist()
    descent = train(graph, k, solver="gd", seed=seed, reference=exact.svd)
    trained = training_report(graph, descent, seed=seed, settings={"solver": "gd", "k": k})
    report["gradient_descent"] = trained
    report["passed"] = report["passed"] and trained["passed"]
    return Demo(graph, report, exact, descent)
