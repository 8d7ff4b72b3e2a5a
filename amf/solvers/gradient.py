"""`fit_graph(graph, k, objective, options)`: rank-``k`` encoders of a co-occurrence graph by a gradient solver,
certified.

A gradient solver is an `amf.solvers.training.Objective` subclass (``gd``, ``sgd``, ``infonce``; one module each)
whose fields are its own options; `Training` declares the options every gradient solver shares. The registry
(`amf.solve.SOLVERS`) derives the accepted keywords, the command line's flags and the report's ``settings`` from
the two. Every run trains with `amf.solvers.training.fit` and is judged in float64 against a reference SVD of
``Pn`` (`amf.solvers.convergence`).

Encoders are tables in *natural coordinates* ``f(i) = r_i theta_i`` with ``r_i = max(p_i, p_floor)^{-1/2}``
(`amf.solvers.encoders`; ``p_floor = 0`` for full-batch objectives, ``1 / B`` for batched ones: the solver
modules say why), or MLPs on node features (``image_features`` / ``text_features``), which have no natural
coordinates and train with Adam, ``lr = 1e-3``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax.numpy as jnp
import numpy as np

from amf import _validate
from amf._linalg import projector_distance
from amf._random import named_key
from amf._validate import param
from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.losses import mmcl_loss
from amf.solution import Solution
from amf.solvers import convergence, training
from amf.solvers.encoders import mlp_init, natural_scale, table_init
from amf.solvers.sampler import EdgeSampler
from amf.solvers.spectral import check_k, reference_svd

MLP_DEFAULTS = {"optimizer": "adam", "lr": 1e-3}


@dataclasses.dataclass(frozen=True)
class Training:
    """The options every gradient solver takes, declared once (None: the solver's ``defaults``, or `MLP_DEFAULTS`
    with features). A solver's own options are its objective's fields."""

    steps: int | None = param(None, kind=int, low=1, optional=True,
                              help="optimizer steps (solvers with early_stop stop once converged)")
    lr: float | None = param(None, kind=float, low=0, low_open=True, optional=True, help="step size")
    schedule: Any = param(None, kind=str, choices=training.SCHEDULES, optional=True, accept=callable,
                          help="step-size schedule: the step is lr * schedule(t) (Python: also an optax schedule)")
    optimizer: str | None = param(None, kind=str, choices=training.OPTIMIZERS, optional=True, help="optimizer")
    chunk: int | None = param(None, kind=int, low=1, optional=True, cli=False, help="steps per jitted scan")
    early_stop: bool | None = param(None, kind=bool, optional=True, cli=False,
                                    help="stop once the criterion holds (default: the solver's)")
    tolerance: Any = param(None, kind=object, cli=False, help="overrides of the solver's tolerances")
    init_scale: float = param(training.INIT_SCALE, kind=float, low=0, low_open=True, cli=False,
                              help="initial E_p ||f||^2 = init_scale^2")
    p_floor: float | None = param(None, kind=float, low=0, optional=True, cli=False,
                                  help="tables train in f(i) = max(p_i, p_floor)^{-1/2} theta_i (default: 0 full "
                                       "batch, 1 / batch_size batched)")
    hidden: Any = param((64,), kind=object, cli=False, help="hidden widths of MLP encoders")
    image_features: Any = param(None, kind=object, cli=False, help="image node features (N_V, d): an MLP encoder")
    text_features: Any = param(None, kind=object, cli=False, help="text node features (N_L, d): an MLP encoder")
    reference: Any = param(None, kind=object, cli=False,
                           help="SVDResult with the top k + 1 triplets of Pn (default: reference_svd)")
    progress: bool | None = param(None, kind=bool, optional=True, cli=False,
                                  help="tqdm bar (default: only when stderr is a terminal)")

    def __post_init__(self):
        _validate.check_all(self)
        object.__setattr__(self, "hidden", tuple(_validate.integer("hidden width", h, 1) for h in self.hidden))


def options(objective: type[training.Objective]) -> dict[str, dataclasses.Field]:
    """Every option of a gradient solver, by name: its objective's own, then the shared `Training` ones."""
    return {**_validate.declared(objective), **_validate.declared(Training)}


def configure(objective: type[training.Objective], given: dict) -> tuple[training.Objective, Training]:
    """The objective and the shared options made from ``given`` (name -> value), each checked by its
    declaration; an option the solver does not take is an `InputError` naming the solver and its options."""
    own, shared = _validate.declared(objective), _validate.declared(Training)
    _validate.known("option", given, [*own, *shared], f"the {objective.name} solver")
    return (objective(**{n: v for n, v in given.items() if n in own}),
            Training(**{n: v for n, v in given.items() if n in shared}))


def settings(objective: training.Objective, options: Training) -> dict[str, Any]:
    """Every option a run of ``objective`` with ``options`` uses, resolved (None replaced by the default):
    the report's ``settings``. Arrays (features, reference) and the progress bar are left out."""
    defaults = dict(objective.defaults)
    if options.image_features is not None or options.text_features is not None:
        defaults.update(MLP_DEFAULTS)
    steps, chunk, lr, optimizer, schedule = training.settings(defaults, options.steps, options.chunk, options.lr,
                                                              options.optimizer, options.schedule)
    used = {name: getattr(objective, name) for name in _validate.declared(objective)}
    p_floor = options.p_floor
    if p_floor is None:
        p_floor = 1.0 / objective.batch_size if objective.batched else 0.0
    used.update(steps=steps, chunk=chunk, lr=lr, optimizer=optimizer,
                schedule=schedule if isinstance(schedule, str) else "custom",
                early_stop=objective.early_stop if options.early_stop is None else options.early_stop,
                tolerance=None if options.tolerance is None else dict(options.tolerance),
                init_scale=options.init_scale, p_floor=p_floor)
    if options.image_features is not None or options.text_features is not None:
        used["hidden"] = list(options.hidden)
    return used


def fit_graph(graph: CoOccurrence, k: int, objective: training.Objective, options: Training, *,
              seed: int = 0, dtype: str = "float64") -> Solution:
    """Train rank-``k`` encoders on ``graph`` with the gradient solver ``objective``; returns a certified
    `Solution`.

    ``options`` (`Training`): ``steps`` (``gd`` stops earlier once converged, see ``early_stop``); ``lr``,
    ``schedule`` (``"constant" | "cosine" | "step"`` or an optax schedule ``t -> multiplier``; the step size is
    ``lr * schedule(t)``), ``optimizer`` (``"sgd" | "momentum" | "adam"``); ``reference``: `SVDResult` with the
    top ``k+1`` triplets of ``Pn`` (`amf.solvers.spectral.reference_svd` when None: dense SVD on small graphs,
    ARPACK above); ``progress``: tqdm bar; ``chunk``: steps per jitted scan; ``tolerance``: overrides the
    solver's ``tolerances``; ``early_stop``: stop once the criterion holds (default: the solver's, gd yes,
    sgd/infonce no: their schedule defines the run); ``image_features``, ``text_features``: node features
    ``(N, d)``; given, that side's encoder is an MLP with hidden widths ``hidden`` instead of a table;
    ``init_scale``: initial ``E_p ||f||^2 = init_scale^2``; ``p_floor``: tables train in coordinates
    ``f(i) = max(p_i, p_floor)^{-1/2} theta_i`` (default ``0`` full batch, ``1 / batch_size`` batched).
    ``seed``: one seed, split into named keys; ``dtype``: ``"float64"`` or ``"float32"`` for training (the
    certificate is always measured in float64).

    The returned ``Solution`` has ``solver``, ``dtype``, float64 ``f_images``/``f_texts`` (for InfoNCE with
    ``normalize``, the L2-normalized embeddings the loss scores), ``reference``, a
    `amf.solution.TrainingCertificate` and ``curve`` with equal-length arrays ``step`` (steps done), ``loss``
    (population spectral loss, float64), ``loss_gap``, ``subspace_distance`` (to ``span(U_k)``), ``objective``
    (chunk mean of the training objective) and ``seconds`` (wall time since the start, compilation included).
    """
    solver = objective.name
    k = check_k(graph, k)
    dtype = _validate.dtype_name(dtype)
    jdtype = jnp.dtype(dtype)
    features = tuple(None if x is None else jnp.asarray(x, jdtype) for x in (
        _validate.features("image_features", options.image_features, graph.n_images),
        _validate.features("text_features", options.text_features, graph.n_texts)))
    encoders = tuple("mlp" if x is not None else "table" for x in features)
    used = settings(objective, options)
    steps, chunk, lr, optimizer, p_floor, early_stop = (used[n] for n in ("steps", "chunk", "lr", "optimizer",
                                                                            "p_floor", "early_stop"))
    schedule = options.schedule if callable(options.schedule) else used["schedule"]
    tolerance = {**objective.tolerances[dtype], **(options.tolerance or {})}
    batch_size = objective.batch_size if objective.batched else 0
    reference = options.reference
    if reference is None:
        reference = reference_svd(graph, k, seed=seed)
    elif reference.u.shape[0] != graph.n_images or len(reference.s) < min(k + 1, min(graph.shape)):
        raise InputError(f"reference must hold the top {min(k + 1, min(graph.shape))} triplets of this graph's Pn "
                         f"(u with {graph.n_images} rows), got u {reference.u.shape} and {len(reference.s)} values")

    plan = training.Plan(objective, optimizer, schedule, steps, chunk, batch_size, encoders)
    joint = graph.joint_arrays(jdtype)
    data = {"images_scale": jnp.asarray(natural_scale(graph.p_images, p_floor), jdtype),
            "texts_scale": jnp.asarray(natural_scale(graph.p_texts, p_floor), jdtype),
            "images_features": features[0], "texts_features": features[1]}
    if objective.batched:
        data["sampler"] = EdgeSampler.from_joint(joint)
    else:
        data["joint"] = joint
    params = {}
    for side, n, kind, x in (("images", graph.n_images, encoders[0], features[0]),
                             ("texts", graph.n_texts, encoders[1], features[1])):
        key = named_key(seed, f"gradient/init/{side}")
        if kind == "table":
            params[side] = table_init(key, n, k, row_scale=data[side + "_scale"], scale=options.init_scale,
                                      dtype=jdtype)
        else:
            params[side] = mlp_init(key, (x.shape[1], *options.hidden, k), scale=options.init_scale, dtype=jdtype)
    hyper = {name: jnp.asarray(value, jdtype) for name, value in {"lr": lr, **objective.hyper()}.items()}

    joint64 = graph.joint_arrays(np.float64)
    u_k = np.asarray(reference.u, dtype=np.float64)[:, :k]
    s = np.pad(np.asarray(reference.s, dtype=np.float64), (0, max(0, k + 1 - len(reference.s))))
    loss_min = float(-np.sum(s[:k] ** 2))
    informative = convergence.informative_loss(s[:k])
    sqrt_p = np.sqrt(graph.p_images)[:, None]

    def encoders_now(p):
        return tuple(objective.representation(np.asarray(training.embed(plan, p, data, side), dtype=np.float64))
                     for side in ("images", "texts"))

    def evaluate(p):
        f_v, f_l = encoders_now(p)
        if objective.rescaled:
            loss = convergence.rescaled_loss(joint64, f_v, f_l)
        else:
            loss = float(mmcl_loss(joint64, f_v, f_l))
        return {"loss": loss, "loss_gap": convergence.relative_gap(loss, loss_min, informative),
                "subspace_distance": projector_distance(sqrt_p * f_v, u_k) if np.isfinite(f_v).all() else math.inf}

    def stop(p, curve):
        if not early_stop:
            return False
        measures = {"loss_gap": curve["loss_gap"][-1], "subspace_distance": curve["subspace_distance"][-1],
                    "eigengap": float(s[k - 1] - s[k]),
                    "relative_change": training.relative_change(curve["objective"])}
        measures["subspace_determined"] = measures["eigengap"] >= convergence.EIGENGAP_MIN
        return bool(objective.criterion(measures, tolerance)[0])

    result = training.fit(plan, params, data, hyper, seed=seed, evaluate=evaluate, stop=stop,
                          progress=options.progress)
    f_v, f_l = encoders_now(result.params)
    measures = convergence.spectral_measures(graph, f_v, f_l, reference, k, rescale=objective.rescaled)
    measures["relative_change"] = training.relative_change(result.curve["objective"])
    certificate = convergence.certificate(objective, measures, iterations=result.steps, tolerance=tolerance,
                                          finite=result.finite)
    return Solution(f_v, f_l, solver=solver, dtype=dtype, certificate=certificate, reference=reference,
                    curve=result.curve)
