"""One training loop for every gradient solver: the `Objective` interface, optimizers, schedules, the jitted chunk
and the Python loop that drives it.

A gradient solver is an `Objective` subclass (``gd``, ``sgd``, ``infonce``, ``weighted``): its loss, own options,
defaults, tolerances and convergence criterion. `fit` trains any of them; `amf.solvers.gradient.fit_graph` and
`amf.solvers.weighted.train_weighted` set up the data and judge the result.

Execution: one jitted ``lax.scan`` per chunk of ``chunk`` steps (`run_chunk`; a Python loop over chunks drives
the progress bar, the loss curve and the convergence checks). The chunk function is compiled once per static
configuration (`Plan`: objective and its options, optimizer, schedule, steps, chunk, batch size, and the shapes):
calls that differ only in values (seed, ``lr``, ``tau``, the graph's edges at equal ``nnz``) reuse it.
Randomness: ``named_key(seed, "gradient/init/<side>")`` for the initial tables and
``named_key(seed, "gradient/batches")`` folded with the global step index for the batches, so a run is
reproducible from its seed whatever the chunk size.

Plain SGD on two tables of a batched objective updates only the ``2B`` rows in the batch (`sparse_sgd_update`):
``O(B k^2)`` per step, independent of the table size, and identical to ``optax.sgd`` on the dense gradient, whose
rows outside the batch are zero. Other optimizers (``"momentum"``, ``"adam"``) step on the dense gradient.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from amf import _validate
from amf._random import named_key
from amf.solvers.encoders import mlp_apply, table_apply

OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine", "step")
MOMENTUM = 0.9
INIT_SCALE = 0.1
"""Initial tables: ``f(i) ~ INIT_SCALE * N(0, I_k / k)``, so ``E_p ||f||^2 = INIT_SCALE^2`` on any graph."""


@dataclasses.dataclass(frozen=True)
class Objective:
    """A gradient solver: what it minimizes, its own options, how it trains by default, and when its result
    counts as converged.

    Subclasses are frozen dataclasses whose `amf._validate.param` fields are the solver's own options, declared
    once: the registry (`amf.solve.SOLVERS`) derives from them the keywords `amf.solve` accepts, the command line's
    flags and help, and the report's ``settings``; they are checked when the objective is made. A field declared
    ``traced`` (InfoNCE's ``tau``) reaches the loss as a traced value in ``hyper`` and is left out of the
    objective's hash, so runs that differ only in it share one compiled program; the others are static (they
    change the compiled program, e.g. InfoNCE's ``normalize``). The class attributes describe the solver:

    - ``name``, ``summary``: registry name and one line for help texts;
    - ``batched``: trains on pairs ``(i_b, j_b) ~ P`` drawn each step (else on the whole graph; see `Batched`);
    - ``defaults``: ``steps, lr, optimizer, schedule, chunk``: the defaults of the shared training options;
    - ``tolerances``: per dtype name, the thresholds the criterion uses;
    - ``rule``: what "converged" means, in words (the criterion states it with the measured values);
    - ``early_stop``: whether a run stops as soon as the criterion holds (else its schedule defines it);
    - ``rescaled``: whether the spectral loss is reported at the best scalar rescaling (objectives of another
      scale than the spectral loss, `amf.solvers.convergence.rescaled_loss`).
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    rule: ClassVar[str]
    batched: ClassVar[bool] = False
    defaults: ClassVar[Mapping[str, Any]]
    tolerances: ClassVar[Mapping[str, Mapping[str, float]]]
    early_stop: ClassVar[bool] = False
    rescaled: ClassVar[bool] = False

    def __post_init__(self):
        _validate.check_all(self)

    def hyper(self) -> dict[str, Any]:
        """The values of the ``traced`` options, by name (they join ``lr`` in the loss's ``hyper``)."""
        return {name: getattr(self, name) for name, f in _validate.declared(self).items() if f.metadata["traced"]}

    def representation(self, f: np.ndarray) -> np.ndarray:
        """The embeddings the objective scores, from an encoder's output ``f (N, k)`` (default: ``f`` itself)."""
        return f

    def loss(self, data: dict, hyper: dict, f_images: jax.Array, f_texts: jax.Array, i, j) -> jax.Array:
        """The training objective: of the batch rows ``f_V[i], f_L[j]`` (``(B, k)``) when batched, else of the
        whole tables (``i = j = None``). ``data`` and ``hyper`` as set up by the solver."""
        raise NotImplementedError

    def criterion(self, measures: Mapping[str, Any], tolerance: Mapping[str, float]) -> tuple[bool | None, str]:
        """``(holds, rule in words)`` for float64 ``measures`` of a run (`amf.solvers.convergence`); ``holds`` is
        None for an objective that no rule judges (its measures are reported only)."""
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Batched(Objective):
    """An objective trained on ``batch_size`` pairs drawn from ``P`` each step."""

    batch_size: int = _validate.param(1024, kind=int, low=2, help="pairs per batch")

    batched = True


@dataclasses.dataclass(frozen=True)
class Plan:
    """The static part of a run: everything that changes the compiled program."""

    objective: Objective
    optimizer: str
    schedule: str | Callable
    steps: int
    chunk: int
    batch_size: int
    encoders: tuple[str, str]  # ("table" | "mlp") for images, texts

    @property
    def sparse_rows(self) -> bool:
        """Plain SGD on two tables of a batched objective: update only the rows in the batch."""
        return self.optimizer == "sgd" and self.encoders == ("table", "table") and self.objective.batched


def settings(defaults: Mapping, steps, chunk, lr, optimizer, schedule) -> tuple[int, int, float, str, Any]:
    """Validated ``(steps, chunk, lr, optimizer, schedule)``, each None replaced by its entry in ``defaults``."""
    steps = _validate.integer("steps", defaults["steps"] if steps is None else steps, 1)
    chunk = min(_validate.integer("chunk", defaults["chunk"] if chunk is None else chunk, 1), steps)
    lr = _validate.positive_float("lr", defaults["lr"] if lr is None else lr)
    optimizer = _validate.choice("optimizer", defaults["optimizer"] if optimizer is None else optimizer, OPTIMIZERS)
    schedule = defaults["schedule"] if schedule is None else schedule
    if not callable(schedule):
        schedule = _validate.choice("schedule", schedule, SCHEDULES)
    return steps, chunk, lr, optimizer, schedule


def multiplier(plan: Plan) -> Callable:
    """The learning-rate multiplier ``t -> schedule(t) / lr`` as an optax schedule (peak 1)."""
    if callable(plan.schedule):
        return plan.schedule
    if plan.schedule == "constant":
        return optax.constant_schedule(1.0)
    if plan.schedule == "cosine":
        return optax.cosine_decay_schedule(1.0, plan.steps)
    # step decay: x0.1 at half and at three quarters of the run
    return optax.piecewise_constant_schedule(1.0, {max(1, plan.steps // 2): 0.1, max(2, 3 * plan.steps // 4): 0.1})


def optimizer(plan: Plan, lr) -> optax.GradientTransformation:
    """The optax transformation of ``plan`` with step size ``lr * multiplier(t)`` (``lr`` may be traced)."""
    shape = multiplier(plan)
    rate = lambda count: lr * shape(count)  # noqa: E731  (lr may be a traced value: no recompilation per lr)
    if plan.optimizer == "adam":
        return optax.adam(rate)
    return optax.sgd(rate, momentum=MOMENTUM if plan.optimizer == "momentum" else None)


# ---- the jitted chunk ------------------------------------------------------------------------------------------


def embed(plan: Plan, params: dict, data: dict, side: str, index=None) -> jax.Array:
    """``f(index)`` on ``side`` (``"images"`` or ``"texts"``): a table row times its scale, or the MLP of the
    node's features; every node when ``index`` is None."""
    kind = plan.encoders[0 if side == "images" else 1]
    if kind == "table":
        return table_apply(params[side], data[side + "_scale"], index)
    x = data[side + "_features"]
    return mlp_apply(params[side], x if index is None else x[index])


def _loss(plan: Plan, params: dict, data: dict, hyper: dict, i, j) -> jax.Array:
    return plan.objective.loss(data, hyper, embed(plan, params, data, "images", i),
                               embed(plan, params, data, "texts", j), i, j)


def sparse_sgd_update(plan: Plan, params: dict, data: dict, hyper: dict, i, j, rate):
    """One plain-SGD step on the batch rows of two tables: ``theta[rows] -= rate * grad`` (duplicates add up).

    Returns the new tables and the batch objective; equal to ``optax.sgd`` on the dense gradient, whose rows
    outside the batch are zero. ``O(B k^2)`` work, independent of the table sizes.
    """
    theta_v, theta_l = params["images"][i], params["texts"][j]
    scale_v, scale_l = data["images_scale"][i, None], data["texts_scale"][j, None]

    def batch_loss(rows_v, rows_l):
        return plan.objective.loss(data, hyper, scale_v * rows_v, scale_l * rows_l, i, j)

    value, (g_v, g_l) = jax.value_and_grad(batch_loss, argnums=(0, 1))(theta_v, theta_l)
    rate = jnp.asarray(rate, theta_v.dtype)
    return {"images": params["images"].at[i].add(-rate * g_v), "texts": params["texts"].at[j].add(-rate * g_l)}, value


def _step(plan: Plan, carry, data: dict, hyper: dict, key: jax.Array, t: jax.Array):
    params, opt_state = carry
    active = t < plan.steps  # the last chunk may run past `steps`: those steps change nothing
    if plan.objective.batched:
        i, j = data["sampler"].sample(jax.random.fold_in(key, t), plan.batch_size)
    else:
        i = j = None
    if plan.sparse_rows:
        rate = jnp.where(active, hyper["lr"] * multiplier(plan)(t), 0.0)
        params, value = sparse_sgd_update(plan, params, data, hyper, i, j, rate)
        return (params, opt_state), value
    value, grads = jax.value_and_grad(lambda p: _loss(plan, p, data, hyper, i, j))(params)
    updates, new_state = optimizer(plan, hyper["lr"]).update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
    return (jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_state, opt_state)), value


@functools.partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def run_chunk(plan: Plan, params, opt_state, data: dict, hyper: dict, key: jax.Array, start: jax.Array):
    """``plan.chunk`` optimizer steps from global step ``start``: new parameters, optimizer state, and the
    training objective at each step ``(chunk,)``."""

    def body(carry, t):
        return _step(plan, carry, data, hyper, key, t)

    (params, opt_state), values = jax.lax.scan(body, (params, opt_state), start + jnp.arange(plan.chunk))
    return params, opt_state, values


# ---- the loop --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fit:
    """What `fit` returns: the trained ``params``, the ``curve`` (equal-length arrays: ``step``, ``objective``,
    ``seconds`` and whatever ``evaluate`` measured), the ``steps`` taken and whether the last loss was finite."""

    params: dict
    curve: dict[str, np.ndarray]
    steps: int
    finite: bool


def fit(plan: Plan, params: dict, data: dict, hyper: dict, *, seed: int,
        evaluate: Callable[[dict], dict[str, float]], stop: Callable[[dict, dict], bool],
        progress: bool | None) -> Fit:
    """Train ``params`` chunk by chunk under ``plan``.

    After each chunk, ``evaluate(params)`` returns float64 measures (at least ``loss`` and ``loss_gap``), appended
    to the curve with the step count, the chunk mean of the training ``objective`` and the wall ``seconds``. The
    run ends after ``plan.steps`` steps, at a non-finite loss, or when ``stop(params, curve)`` says so.
    ``progress``: a tqdm bar (None: only when stderr is a terminal).
    """
    opt_state = None if plan.sparse_rows else optimizer(plan, hyper["lr"]).init(params)
    batch_key = named_key(seed, "gradient/batches")
    curve: dict[str, list] = {"step": [], "objective": [], "seconds": []}
    started, steps_done, loss = time.perf_counter(), 0, math.nan
    bar = _progress_bar(progress, plan.steps, plan.objective.name)
    try:
        while steps_done < plan.steps:
            params, opt_state, values = run_chunk(plan, params, opt_state, data, hyper, batch_key,
                                                  jnp.asarray(steps_done, jnp.int32))
            active = min(plan.chunk, plan.steps - steps_done)
            steps_done += active
            measures = evaluate(params)
            loss = measures["loss"]
            record = {"step": steps_done, "objective": float(np.mean(np.asarray(values, np.float64)[:active])),
                      **measures, "seconds": time.perf_counter() - started}
            for name, value in record.items():
                curve.setdefault(name, []).append(value)
            if bar is not None:
                bar.update(active)
                bar.set_postfix(loss=f"{loss:.6g}", gap=f"{measures['loss_gap']:.2e}")
            if not math.isfinite(loss) or stop(params, curve):
                break
    finally:
        if bar is not None:
            bar.close()
    return Fit(params, {name: np.asarray(v) for name, v in curve.items()}, steps_done, math.isfinite(loss))


def relative_change(values) -> float | None:
    """``|v[-1] - v[-2]| / |v[-2]|`` of a curve (None with fewer than two entries)."""
    if len(values) < 2:
        return None
    return abs(values[-1] - values[-2]) / max(abs(values[-2]), np.finfo(float).tiny)


def _progress_bar(progress: bool | None, total: int, desc: str):
    show = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, unit="step", leave=False) if show else None
