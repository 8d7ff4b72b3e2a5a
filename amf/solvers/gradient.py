"""`train(graph, k, solver=...)`: rank-``k`` encoders of a co-occurrence graph by a gradient solver, certified.

The solvers are the `OBJECTIVES` (``gd``, ``sgd``, ``infonce``; one module each); adding one is a module with an
`amf.solvers.training.Objective` subclass plus one entry here, and `amf.solve` lists it in its registry. Every
run trains with `amf.solvers.training.fit` and is judged in float64 against a reference SVD of ``Pn``
(`amf.solvers.convergence`).

Encoders are tables in *natural coordinates* ``f(i) = r_i theta_i`` with ``r_i = max(p_i, p_floor)^{-1/2}``
(`amf.solvers.encoders`; ``p_floor = 0`` for full-batch objectives, ``1 / B`` for batched ones: the solver
modules say why), or MLPs on node features (``image_features`` / ``text_features``), which have no natural
coordinates and train with Adam, ``lr = 1e-3``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from amf import _validate
from amf._linalg import projector_distance
from amf._random import named_key
from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.losses import mmcl_loss
from amf.solution import Solution, SVDResult
from amf.solvers import convergence, training
from amf.solvers.encoders import mlp_init, natural_scale, table_init
from amf.solvers.gd import GD
from amf.solvers.infonce import InfoNCE
from amf.solvers.sampler import EdgeSampler
from amf.solvers.sgd import SGD
from amf.solvers.spectral import check_k, reference_svd

OBJECTIVES: dict[str, type[training.Objective]] = {cls.name: cls for cls in (GD, SGD, InfoNCE)}
"""The gradient solvers on a co-occurrence graph, by name."""

MLP_DEFAULTS = {"optimizer": "adam", "lr": 1e-3}


def train(
    graph: CoOccurrence,
    k: int,
    *,
    solver: str = "gd",
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    schedule: str | Callable | None = None,
    optimizer: str | None = None,
    seed: int = 0,
    dtype: str = "float64",
    tau: float = 0.1,
    normalize: bool = True,
    mask_duplicates: bool = False,
    reference: SVDResult | None = None,
    progress: bool | None = None,
    chunk: int | None = None,
    tolerance: dict[str, float] | None = None,
    early_stop: bool | None = None,
    image_features=None,
    text_features=None,
    hidden: Sequence[int] = (64,),
    init_scale: float = training.INIT_SCALE,
    p_floor: float | None = None,
) -> Solution:
    """Train rank-``k`` encoders on ``graph`` with a gradient solver; returns a certified `Solution`.

    Parameters (None = the solver's default, its ``defaults``, or `MLP_DEFAULTS` with features):

    - ``solver``: a name in `OBJECTIVES`: ``"gd"`` (population loss, full batch), ``"sgd"`` (minibatch
      estimator) or ``"infonce"``;
    - ``steps``: optimizer steps (``gd`` stops earlier once converged, see ``early_stop``);
    - ``batch_size``: pairs per batch (``>= 2``; sgd and infonce);
    - ``lr``, ``schedule`` (``"constant" | "cosine" | "step"`` or an optax schedule ``t -> multiplier``; the step
      size is ``lr * schedule(t)``), ``optimizer`` (``"sgd" | "momentum" | "adam"``);
    - ``seed``: one seed, split into named keys; ``dtype``: ``"float64"`` or ``"float32"`` for training (the
      certificate is always measured in float64);
    - ``tau``, ``normalize``, ``mask_duplicates``: InfoNCE temperature, L2-normalization, duplicate masking;
    - ``reference``: `SVDResult` with the top ``k+1`` triplets of ``Pn`` (computed by
      `amf.solvers.spectral.reference_svd` when None: dense SVD on small graphs, ARPACK above);
    - ``progress``: tqdm bar (None: only when stderr is a terminal); ``chunk``: steps per jitted scan;
    - ``tolerance``: overrides the solver's ``tolerances``; ``early_stop``: stop once the criterion holds
      (default: the solver's, gd yes, sgd/infonce no: their schedule defines the run);
    - ``image_features``, ``text_features``: node features ``(N, d)``; given, that side's encoder is an MLP with
      hidden widths ``hidden`` instead of a table; ``init_scale``: initial ``E_p ||f||^2 = init_scale^2``;
    - ``p_floor``: tables train in coordinates ``f(i) = max(p_i, p_floor)^{-1/2} theta_i`` (default ``0`` for gd,
      ``1 / batch_size`` otherwise).

    The returned ``Solution`` has ``solver``, ``dtype``, float64 ``f_images``/``f_texts`` (for InfoNCE with
    ``normalize``, the L2-normalized embeddings the loss scores), ``reference``, a
    `amf.solution.TrainingCertificate` and ``curve`` with equal-length arrays ``step`` (steps done), ``loss``
    (population spectral loss, float64), ``loss_gap``, ``subspace_distance`` (to ``span(U_k)``), ``objective``
    (chunk mean of the training objective) and ``seconds`` (wall time since the start, compilation included).
    """
    solver = _validate.choice("solver", solver, tuple(OBJECTIVES))
    k = check_k(graph, k)
    dtype = _validate.dtype_name(dtype)
    jdtype = jnp.dtype(dtype)
    objective = InfoNCE(bool(normalize), bool(mask_duplicates)) if solver == "infonce" else OBJECTIVES[solver]()
    features = tuple(None if x is None else jnp.asarray(x, jdtype) for x in (
        _validate.features("image_features", image_features, graph.n_images),
        _validate.features("text_features", text_features, graph.n_texts)))
    encoders = tuple("mlp" if x is not None else "table" for x in features)
    defaults = dict(objective.defaults)
    if "mlp" in encoders:
        defaults.update(MLP_DEFAULTS)
    steps, chunk, lr, optimizer, schedule = training.settings(defaults, steps, chunk, lr, optimizer, schedule)
    batch_size = _validate.integer("batch_size", defaults.get("batch_size", 2) if batch_size is None else batch_size,
                                   2)
    tau = _validate.positive_float("tau", tau)
    init_scale = _validate.positive_float("init_scale", init_scale)
    tolerance = {**objective.tolerances[dtype], **(tolerance or {})}
    early_stop = objective.early_stop if early_stop is None else bool(early_stop)
    hidden = tuple(_validate.integer("hidden width", h, 1) for h in hidden)
    if reference is None:
        reference = reference_svd(graph, k, seed=seed)
    elif reference.u.shape[0] != graph.n_images or len(reference.s) < min(k + 1, min(graph.shape)):
        raise InputError(f"reference must hold the top {min(k + 1, min(graph.shape))} triplets of this graph's Pn "
                         f"(u with {graph.n_images} rows), got u {reference.u.shape} and {len(reference.s)} values")
    if p_floor is None:
        p_floor = 1.0 / batch_size if objective.batched else 0.0
    elif not (isinstance(p_floor, (int, float)) and 0 <= p_floor < math.inf):
        raise InputError(f"p_floor must be a number >= 0, got {p_floor!r}")

    plan = training.Plan(objective, optimizer, schedule, steps, chunk, batch_size if objective.batched else 0,
                         encoders)
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
            params[side] = table_init(key, n, k, row_scale=data[side + "_scale"], scale=init_scale, dtype=jdtype)
        else:
            params[side] = mlp_init(key, (x.shape[1], *hidden, k), scale=init_scale, dtype=jdtype)
    hyper = {"lr": jnp.asarray(lr, jdtype), "tau": jnp.asarray(tau, jdtype)}

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

    result = training.fit(plan, params, data, hyper, seed=seed, evaluate=evaluate, stop=stop, progress=progress)
    f_v, f_l = encoders_now(result.params)
    measures = convergence.spectral_measures(graph, f_v, f_l, reference, k, rescale=objective.rescaled)
    measures["relative_change"] = training.relative_change(result.curve["objective"])
    certificate = convergence.certificate(objective, measures, iterations=result.steps, tolerance=tolerance,
                                          finite=result.finite)
    return Solution(f_v, f_l, solver=solver, dtype=dtype, certificate=certificate, reference=reference,
                    curve=result.curve)
