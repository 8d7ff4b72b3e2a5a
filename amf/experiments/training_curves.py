"""How far the spectral theory describes the losses practice trains: gd, sgd and InfoNCE on one graph.

One `synthetic.planted_model` graph, its exact top ``k + 1`` singular triplets as the reference. Per solver:
the population spectral loss against step beside ``L_min = -sum_{i<=k} s_i^2`` (InfoNCE's after the best scalar
rescaling of its product, `amf.solvers.convergence.rescaled_loss`), the subspace distance to ``span(U_k)``
against step (``arrays``: ``step``, ``loss``, ``loss_gap``, ``subspace_distance``, ``objective``), and the final
certificate, with ``alignment = mean_i cos^2 theta_i`` over the principal angles to ``span(U_k)`` (the share of
the spectral subspace the encoder spans; the subspace distance is ``sin theta_max`` alone), and which part is
missing: ``informative_distance`` (how far ``span(u_2 .. u_k)``, the class directions, is from the encoder's
column space ``col(D_V^{1/2} f_V)``: the sine of the largest angle) and ``constant_distance`` (the same for the
constant direction ``u_1 = sqrt(p_V)``). InfoNCE is swept over the temperature ``tau``: these and its probe error
against ``tau``. gd and sgd are judged by their certificates; InfoNCE is not judged (``passed = null``): no
theorem ties its optimum to the SVD.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from amf.experiments.config import param
from amf.experiments.measures import PlantedConfig
from amf.experiments.runner import Experiment
from amf.solution import Reason
from amf.solve import SOLVERS, kinds, train
from amf.solvers.spectral import reference_svd

GRADIENT = kinds("gradient")


@dataclasses.dataclass(frozen=True)
class TrainingConfig(PlantedConfig):
    k: int = param(0, kind=int, low=0, help="rank; 0 = n_classes")
    solver: str = param(GRADIENT, kind=str, choices=GRADIENT, help="gradient solvers trained")
    tau: float = param((0.05, 0.1, 0.2, 0.5, 1.0), kind=float, low=0.0, low_open=True,
                       help="temperatures, for the solvers that take one (infonce)")
    steps: int = param(0, kind=int, low=0, help="optimizer steps; 0 = each solver's default")
    batch_size: int = param(1024, kind=int, low=2, help="pairs per batch (sgd, infonce)")
    graph_seed: int = param(0, kind=int, low=0, high=2**32 - 1,
                            help="seed of the graph (the run seeds initialize and sample the training)")
    seeds: tuple[int, ...] = (0, 1, 2)

    def grid(self) -> list[dict]:
        """Each listed solver once; a solver with a temperature option (InfoNCE) once per temperature (``tau =
        None`` for the others)."""
        solvers = self.solver if isinstance(self.solver, tuple) else (self.solver,)
        taus = self.tau if isinstance(self.tau, tuple) else (self.tau,)
        return [{"solver": s, "tau": t} for s in solvers for t in (taus if "tau" in SOLVERS[s].options else (None,))]


def measure(config: TrainingConfig, seed: int) -> dict:
    graph = config.planted_graph(config.graph_seed)
    k = config.k or config.n_classes
    reference = reference_svd(graph, k)
    keys = {"steps": config.steps or None, "batch_size": config.batch_size, "tau": config.tau}
    options = {name: value for name, value in keys.items() if name in SOLVERS[config.solver].options}
    solution = train(graph, k, solver=config.solver, seed=seed, reference=reference, progress=False, **options)
    cert = solution.certificate
    basis = np.linalg.qr(np.sqrt(graph.p_images)[:, None] * solution.f_images)[0]
    informative = np.asarray(reference.u, dtype=np.float64)[:, 1:k]  # u_2 .. u_k: all but the constant u_1
    curve = solution.curve
    return {
        "k": k, "loss": cert.loss, "loss_min": cert.loss_min, "loss_gap": cert.loss_gap,
        "subspace_distance": cert.subspace_distance, "principal_angles": list(cert.principal_angles),
        "alignment": float(np.mean(np.cos(np.asarray(cert.principal_angles)) ** 2)),
        "informative_distance": float(np.linalg.norm(informative - basis @ (basis.T @ informative), 2))
        if k > 1 else 0.0,
        "constant_distance": float(np.linalg.norm(np.sqrt(graph.p_images) - basis @ (basis.T @ np.sqrt(
            graph.p_images)))),
        "probe_error_ls": cert.probe_error,
        "probe_error_optimal": cert.probe_error_optimal, "iterations": int(cert.iterations),
        "reason": str(cert.reason), "criterion": cert.criterion,
        "arrays": {name: np.asarray(curve[name]) for name in ("step", "loss", "loss_gap", "subspace_distance",
                                                              "objective")},
        "passed": None if cert.reason is Reason.NOT_JUDGED else bool(cert.converged),
    }


def summarize(config: TrainingConfig, points: list[dict]) -> dict:
    """``temperature``: InfoNCE's seed-mean subspace distance, loss gap and probe error against ``tau``."""
    taus = sorted({p["params"]["tau"] for p in points if p["params"]["tau"] is not None})
    rows = []
    for tau in taus:
        group = [p for p in points if p["params"]["tau"] == tau]
        rows.append({"tau": tau, **{m: float(np.mean([p[m] for p in group]))
                                    for m in ("subspace_distance", "alignment", "informative_distance",
                                              "constant_distance", "loss_gap", "probe_error_ls")}})
    return {"temperature": rows}


EXPERIMENT = Experiment(
    name="training",
    claim="gd and sgd reach the Eckart-Young optimum; InfoNCE, the loss practice uses, is aligned with span(U_k) "
          "only partly, depending on its temperature",
    config=TrainingConfig,
    quick={"steps": 400, "batch_size": 256, "tau": [0.1, 0.5], "seeds": [0]},
    measure=measure,
    summarize=summarize,
    headline=("loss_gap", "subspace_distance", "alignment", "probe_error_ls"),
    quick_seconds=8.0,
)
