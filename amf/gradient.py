"""Gradient solvers for the real losses: full-batch GD, minibatch SGD, InfoNCE, and the weighted spectral loss.

Public entry points: `train(graph, k, solver="gd" | "sgd" | "infonce", ...)` and `train_weighted(...)`; both
return an `amf.solution.Solution` whose ``certificate`` is an `amf.convergence.TrainingCertificate` and whose
``curve`` is the loss curve, one entry per chunk of steps.

Solvers (THEORY.md section 2):

- ``gd``: full-batch descent on the population loss `amf.losses.mmcl_loss` (edges + Gram trick, never dense).
- ``sgd``: minibatch training on pairs ``(i_b, j_b) ~ P`` with the unbiased estimator of
  `amf.losses.mmcl_minibatch_loss`, evaluated here in its Gram form (`minibatch_loss`):
  ``sum_{b != b'} <a_b, c_b'>^2 = tr((A^T A)(C^T C)) - sum_b <a_b, c_b>^2``, ``O(B k^2)`` instead of ``O(B^2 k)``.
- ``infonce``: the symmetric CLIP loss on sampled batches (`amf.infonce`).
- ``weighted`` (`train_weighted`): ``-2 sum A <f, f'> + sum N <f, f'>^2`` with one encoder, a positive graph
  ``A`` and negative weights ``N`` given as low-rank factors plus sparse pairs (THEORY.md section 5). No SVD
  solves it; with ``N = w w^T`` (``w = A 1``) it is exactly the SSCL loss.

Execution: one jitted ``lax.scan`` per chunk of ``chunk`` steps (a Python loop over chunks drives the progress
bar, the loss curve and the convergence checks). The chunk function is compiled once per static configuration
(solver, optimizer, schedule, steps, chunk, batch size, shapes): calls that differ only in values (seed, ``lr``,
``tau``, the graph's edges at equal ``nnz``) reuse it. Randomness: ``named_key(seed, "gradient/init")`` for the
initial tables and ``named_key(seed, "gradient/batches")`` folded with the global step index for the batches,
so a run is reproducible from its seed whatever the chunk size.

**Coordinates and optimizers (the defaults, and why).** Embedding tables are trained in *natural coordinates*
``f(i) = r_i theta_i`` with ``r_i = max(p_i, p_floor)^{-1/2}`` (`amf.encoders`):

- ``gd``: ``p_floor = 0``, so ``theta = F = D^{1/2} f`` and the loss is ``||Pn - F_V F_L^T||^2 - ||Pn||^2``. Since
  ``||Pn||_2 = s_1 = 1`` on every graph (T2c), the Hessian near the optimum has norm about ``4``, and one step size
  fits every graph: heavy-ball momentum 0.9 with ``lr = 0.2`` (stable below ``2 (1 + 0.9) / 4 ~ 0.95``). Measured
  on planted graphs (power-law degrees, p ranging over 3 decades) it reaches a loss gap of 1e-15 and subspace
  distance 1e-13 in 1000-1500 steps, where Adam on plain tables (lr 1e-2, constant or cosine) was still at
  gap ~1e-6 / distance ~3e-2 after 6000 steps. ``optimizer="adam"`` remains available.
- ``sgd``: ``p_floor = 1 / B``. A node with ``B p_i >= 1`` appears in most batches and gets the natural
  (``D^{-1}``-preconditioned) step; a rare node gets one step of size ``~lr`` per appearance (without the floor
  its per-appearance kick grows like ``1 / (B p_i)`` and the run diverges). The default optimizer is plain SGD
  with sparse row updates (only the ``2B`` rows in the batch change: ``O(B k^2)`` per step, independent of the
  table size; identical to ``optax.sgd`` on the dense gradient, which ``optimizer="momentum" | "adam"`` use),
  ``lr = 0.05`` with cosine decay. Larger steps diverge on graphs whose top singular vectors are localized on
  rare nodes (``|f(i)|`` of tens: the estimator's variance grows like ``E ||f||^4``); on large graphs where
  every node is rare (``B p_i << 1``, e.g. ``benchmarks/bench_sgd.py``) ``lr = 0.3`` is stable and much faster.
- ``infonce``: Adam on the tables (``lr = 1e-2``, cosine), L2-normalized embeddings, ``tau = 0.1``: measured
  better than the sparse SGD above for this objective (the normalization makes the step scale-dependent).
- MLP encoders (``image_features``/``text_features``) have no natural coordinates: Adam, ``lr = 1e-3``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.sparse as sp

from amf import convergence
from amf._linalg import matmul, principal_angles, projector_distance
from amf._random import named_key
from amf.encoders import mlp_apply, mlp_init, natural_scale, table_apply, table_init
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, CoOccurrence, Joint
from amf.infonce import infonce_loss
from amf.losses import mmcl_loss, negative_term, positive_term
from amf.sampling import EdgeSampler
from amf.solution import Solution, SVDResult

SOLVERS = ("gd", "sgd", "infonce")
OPTIMIZERS = ("sgd", "momentum", "adam")
SCHEDULES = ("constant", "cosine", "step")
DTYPES = ("float32", "float64")

DEFAULTS = {
    "gd": {"steps": 5000, "lr": 0.2, "optimizer": "momentum", "schedule": "constant", "chunk": 100},
    "sgd": {"steps": 5000, "lr": 0.05, "optimizer": "sgd", "schedule": "cosine", "chunk": 250, "batch_size": 1024},
    "infonce": {"steps": 5000, "lr": 1e-2, "optimizer": "adam", "schedule": "cosine", "chunk": 250,
                "batch_size": 1024},
    "weighted": {"steps": 5000, "lr": 0.2, "optimizer": "momentum", "schedule": "constant", "chunk": 100},
}
"""Defaults per solver for embedding tables (module docstring); MLP encoders use `MLP_DEFAULTS` instead."""

MLP_DEFAULTS = {"optimizer": "adam", "lr": 1e-3}
MOMENTUM = 0.9
INIT_SCALE = 0.1
"""Initial tables: ``f(i) ~ INIT_SCALE * N(0, I_k / k)``, so ``E_p ||f||^2 = INIT_SCALE^2`` on any graph."""

TRACES: Counter = Counter()
"""How many times each jitted chunk function was traced (a Python side effect that runs only when tracing)."""


# ---- the objectives --------------------------------------------------------------------------------------------


@jax.custom_vjp
def minibatch_loss(images: jax.Array, texts: jax.Array) -> jax.Array:
    """`amf.losses.mmcl_minibatch_loss` in Gram form: ``O(B k^2)`` instead of the ``B x B`` score matrix.

    ``-(2/B) sum_b d_b + (tr((A^T A)(C^T C)) - sum_b d_b^2) / (B (B - 1))`` with ``A = images``, ``C = texts``
    (``(B, k)``) and ``d_b = <a_b, c_b>``; equal to the pairwise form up to round-off. Its gradient is written
    out (a custom VJP reusing the two ``k x k`` Grams: half the time of autodiff on CPU):
    ``dL/dA = -(2/B) C + 2 (A (C^T C) - diag(d) C) / (B (B - 1))``, symmetrically for ``C``.
    """
    return _minibatch_forward(images, texts)[0]


def _minibatch_forward(images, texts):
    b = images.shape[0]
    d = jnp.sum(images * texts, axis=1)
    gram_images, gram_texts = matmul(images.T, images), matmul(texts.T, texts)
    value = -2.0 * jnp.mean(d) + (jnp.sum(gram_images * gram_texts) - jnp.sum(d * d)) / (b * (b - 1))
    return value, (images, texts, d, gram_images, gram_texts)


def _minibatch_backward(residuals, cotangent):
    images, texts, d, gram_images, gram_texts = residuals
    b = images.shape[0]
    norm = 2.0 / (b * (b - 1))
    grad_images = (-2.0 / b) * texts + norm * (matmul(images, gram_texts) - d[:, None] * texts)
    grad_texts = (-2.0 / b) * images + norm * (matmul(texts, gram_images) - d[:, None] * images)
    return cotangent * grad_images, cotangent * grad_texts


minibatch_loss.defvjp(_minibatch_forward, _minibatch_backward)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class NegativeWeights:
    """Negative-pair weights ``N = sum_r left[r] right[r]^T + sum_e weights[e] e_{rows[e]} e_{cols[e]}^T``.

    ``left, right (R, n)`` hold a low-rank part (``R = 1``, ``left = right = w`` is SSCL's ``N = w w^T``);
    ``rows, cols, weights (m,)`` a sparse part, whose weights may be negative to remove mass from the low-rank
    part (DropFalseNegative / DropEasyNegative of THEORY.md section 5). Build with `product`, `low_rank`,
    `pairs` and `plus_pairs`; ``N`` itself is never formed.
    """

    left: jax.Array
    right: jax.Array
    rows: jax.Array
    cols: jax.Array
    weights: jax.Array

    @classmethod
    def low_rank(cls, left, right) -> NegativeWeights:
        left, right = np.atleast_2d(np.asarray(left, np.float64)), np.atleast_2d(np.asarray(right, np.float64))
        if left.shape != right.shape:
            raise InputError(f"negative factors must have equal shapes, got {left.shape} and {right.shape}")
        empty = np.zeros(0, dtype=np.int32)
        return cls(jnp.asarray(left), jnp.asarray(right), jnp.asarray(empty), jnp.asarray(empty), jnp.zeros(0))

    @classmethod
    def product(cls, w) -> NegativeWeights:
        """``N = w w^T`` (negatives drawn independently from ``w``)."""
        return cls.low_rank(w, w)

    @classmethod
    def pairs(cls, rows, cols, weights, n: int) -> NegativeWeights:
        """A purely sparse ``N`` on ``n`` nodes."""
        return cls.low_rank(np.zeros((0, n)), np.zeros((0, n))).plus_pairs(rows, cols, weights)

    def plus_pairs(self, rows, cols, weights) -> NegativeWeights:
        """This ``N`` plus sparse entries (duplicates add up; negative weights subtract)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        if not (rows.shape == cols.shape == weights.shape) or rows.ndim != 1:
            raise InputError("negative pairs need 1-D rows, cols and weights of equal length")
        n = self.n_nodes
        if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= n):
            raise InputError(f"negative pair index out of range [0, {n})")
        return NegativeWeights(
            self.left, self.right,
            jnp.concatenate([self.rows, jnp.asarray(rows, dtype=jnp.int32)]),
            jnp.concatenate([self.cols, jnp.asarray(cols, dtype=jnp.int32)]),
            jnp.concatenate([self.weights, jnp.asarray(weights)]),
        )

    @property
    def n_nodes(self) -> int:
        return int(self.left.shape[1])

    def entries(self) -> np.ndarray:
        """``N`` at its sparse coordinates (low-rank part included), float64: each must be ``>= 0``."""
        rows, cols = np.asarray(self.rows), np.asarray(self.cols)
        low = np.einsum("rn,rn->n", np.asarray(self.left)[:, rows], np.asarray(self.right)[:, cols])
        total = sp.coo_array((np.asarray(self.weights), (rows, cols)), shape=(self.n_nodes,) * 2).tocsr()
        return low + np.asarray(total[rows, cols]).ravel()

    def is_product_of(self, w: np.ndarray) -> bool:
        """Whether ``N = w w^T`` exactly (one factor pair equal to ``w``, no sparse part)."""
        return (self.left.shape[0] == 1 and self.rows.shape[0] == 0
                and np.array_equal(np.asarray(self.left[0]), np.asarray(w))
                and np.array_equal(np.asarray(self.right[0]), np.asarray(w)))

    def astype(self, dtype) -> NegativeWeights:
        return NegativeWeights(self.left.astype(dtype), self.right.astype(dtype), self.rows, self.cols,
                               self.weights.astype(dtype))


def weighted_loss(positives: Joint, negatives: NegativeWeights, f: jax.Array) -> jax.Array:
    """``-2 sum_ii' A_ii' <f(i), f(i')> + sum_ii' N_ii' <f(i), f(i')>^2`` for one encoder ``f (n, k)``.

    ``positives`` holds ``A`` in coordinate form (`amf.text_induced.pairs_joint`, rows sorted); the low-rank part
    of ``N`` uses the Gram trick ``sum_ii' l_i r_i' <f_i, f_i'>^2 = tr((f^T D_l f)(f^T D_r f))``.
    """
    gram_left = jnp.einsum("rn,nk,nl->rkl", negatives.left, f, f, precision=jax.lax.Precision.HIGHEST)
    gram_right = jnp.einsum("rn,nk,nl->rkl", negatives.right, f, f, precision=jax.lax.Precision.HIGHEST)
    low_rank = jnp.sum(gram_left * gram_right)
    scores = jnp.sum(f[negatives.rows] * f[negatives.cols], axis=1)
    return -2.0 * positive_term(positives, f, f) + low_rank + jnp.sum(negatives.weights * scores**2)


# ---- configuration ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Plan:
    """The static part of a run: everything that changes the compiled program."""

    solver: str  # gd | sgd | infonce | weighted
    optimizer: str
    schedule: str | Callable
    steps: int
    chunk: int
    batch_size: int
    normalize: bool
    mask_duplicates: bool
    encoders: tuple[str, str]  # ("table" | "mlp") for images, texts
    dense_updates: bool = False  # force optax on the dense gradient even where sparse rows apply (tests)

    @property
    def sparse_rows(self) -> bool:
        """Plain SGD on two tables: update only the rows in the batch."""
        return (self.optimizer == "sgd" and self.encoders == ("table", "table") and self.solver in ("sgd", "infonce")
                and not self.dense_updates)


def _shape(plan: _Plan) -> Callable:
    """The learning-rate multiplier ``t -> schedule(t) / lr`` as an optax schedule (peak 1)."""
    if callable(plan.schedule):
        return plan.schedule
    if plan.schedule == "constant":
        return optax.constant_schedule(1.0)
    if plan.schedule == "cosine":
        return optax.cosine_decay_schedule(1.0, plan.steps)
    # step decay: x0.1 at half and at three quarters of the run
    return optax.piecewise_constant_schedule(1.0, {max(1, plan.steps // 2): 0.1, max(2, 3 * plan.steps // 4): 0.1})


def _optimizer(plan: _Plan, lr) -> optax.GradientTransformation:
    shape = _shape(plan)
    rate = lambda count: lr * shape(count)  # noqa: E731  (lr may be a traced value: no recompilation per lr)
    if plan.optimizer == "adam":
        return optax.adam(rate)
    return optax.sgd(rate, momentum=MOMENTUM if plan.optimizer == "momentum" else None)


# ---- the jitted chunk ------------------------------------------------------------------------------------------


def _embed(plan: _Plan, params: dict, data: dict, side: str, index=None) -> jax.Array:
    kind = plan.encoders[0 if side == "images" else 1]
    if kind == "table":
        return table_apply(params[side], data[side + "_scale"], index)
    x = data[side + "_features"]
    return mlp_apply(params[side], x if index is None else x[index])


def _objective(plan: _Plan, params: dict, data: dict, hyper: dict, i=None, j=None) -> jax.Array:
    if plan.solver == "gd":
        return mmcl_loss(data["joint"], _embed(plan, params, data, "images"), _embed(plan, params, data, "texts"))
    if plan.solver == "weighted":
        return weighted_loss(data["positives"], data["negatives"], _embed(plan, params, data, "images"))
    a, c = _embed(plan, params, data, "images", i), _embed(plan, params, data, "texts", j)
    if plan.solver == "sgd":
        return minibatch_loss(a, c)
    ids = (i, j) if plan.mask_duplicates else (None, None)
    return infonce_loss(a, c, hyper["tau"], normalize=plan.normalize, image_ids=ids[0], text_ids=ids[1])


def _batch_objective(plan: _Plan, data: dict, hyper: dict, i, j):
    """The objective as a function of the batch rows of two tables, for the sparse-row SGD path."""
    scale_v, scale_l = data["images_scale"][i, None], data["texts_scale"][j, None]

    def f(theta_v, theta_l):
        a, c = scale_v * theta_v, scale_l * theta_l
        if plan.solver == "sgd":
            return minibatch_loss(a, c)
        ids = (i, j) if plan.mask_duplicates else (None, None)
        return infonce_loss(a, c, hyper["tau"], normalize=plan.normalize, image_ids=ids[0], text_ids=ids[1])

    return f


def sparse_sgd_update(plan: _Plan, params: dict, data: dict, hyper: dict, i, j, rate):
    """One plain-SGD step on the batch rows of two tables: ``theta[rows] -= rate * grad`` (duplicates add up).

    Returns the new tables and the batch objective; equal to ``optax.sgd`` on the dense gradient, whose rows
    outside the batch are zero. ``O(B k^2)`` work, independent of the table sizes.
    """
    theta_v, theta_l = params["images"][i], params["texts"][j]
    value, (g_v, g_l) = jax.value_and_grad(_batch_objective(plan, data, hyper, i, j), argnums=(0, 1))(theta_v, theta_l)
    rate = jnp.asarray(rate, theta_v.dtype)
    return {"images": params["images"].at[i].add(-rate * g_v), "texts": params["texts"].at[j].add(-rate * g_l)}, value


def _step(plan: _Plan, carry, data: dict, hyper: dict, key: jax.Array, t: jax.Array):
    params, opt_state = carry
    active = t < plan.steps  # the last chunk may run past `steps`: those steps change nothing
    if plan.solver in ("gd", "weighted"):
        i = j = None
    else:
        i, j = data["sampler"].sample(jax.random.fold_in(key, t), plan.batch_size)
    if plan.sparse_rows:
        rate = jnp.where(active, hyper["lr"] * _shape(plan)(t), 0.0)
        params, value = sparse_sgd_update(plan, params, data, hyper, i, j, rate)
        return (params, opt_state), value
    value, grads = jax.value_and_grad(lambda p: _objective(plan, p, data, hyper, i, j))(params)
    updates, new_state = _optimizer(plan, hyper["lr"]).update(grads, opt_state, params)
    new_params = optax.apply_updates(params, updates)
    keep = lambda new, old: jnp.where(active, new, old)  # noqa: E731
    return (jax.tree.map(keep, new_params, params), jax.tree.map(keep, new_state, opt_state)), value


@functools.partial(jax.jit, static_argnums=0, donate_argnums=(1, 2))
def _run_chunk(plan: _Plan, params, opt_state, data: dict, hyper: dict, key: jax.Array, start: jax.Array):
    TRACES[plan.solver] += 1

    def body(carry, t):
        return _step(plan, carry, data, hyper, key, t)

    (params, opt_state), values = jax.lax.scan(body, (params, opt_state), start + jnp.arange(plan.chunk))
    return params, opt_state, values


@jax.jit
def _population_loss(joint: Joint, f_images: jax.Array, f_texts: jax.Array) -> jax.Array:
    return mmcl_loss(joint, f_images, f_texts)


# ---- validation ------------------------------------------------------------------------------------------------


def _positive_int(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _positive_float(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if not (math.isfinite(x) and x > 0):
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return x


def _choice(name: str, value, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _features(name: str, x, n: int, dtype) -> jax.Array | None:
    if x is None:
        return None
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be a finite ({n}, d) array, got shape {arr.shape}")
    return jnp.asarray(arr, dtype=dtype)


def _show_progress(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


# ---- the public entry points -----------------------------------------------------------------------------------


def _optimizer_settings(defaults: dict, steps, chunk, lr, optimizer, schedule):
    """Validated ``(steps, chunk, lr, optimizer, schedule)``, each None replaced by its entry in ``defaults``."""
    steps = _positive_int("steps", defaults["steps"] if steps is None else steps)
    chunk = min(_positive_int("chunk", defaults["chunk"] if chunk is None else chunk), steps)
    lr = _positive_float("lr", defaults["lr"] if lr is None else lr)
    optimizer = _choice("optimizer", defaults["optimizer"] if optimizer is None else optimizer, OPTIMIZERS)
    schedule = defaults["schedule"] if schedule is None else schedule
    if not callable(schedule):
        schedule = _choice("schedule", schedule, SCHEDULES)
    return steps, chunk, lr, optimizer, schedule


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
    init_scale: float = INIT_SCALE,
    p_floor: float | None = None,
) -> Solution:
    """Train rank-``k`` encoders on ``graph`` with a gradient solver; returns a certified `Solution`.

    Parameters (None = the solver's default from `DEFAULTS`, or `MLP_DEFAULTS` with features):

    - ``solver``: ``"gd"`` (population loss, full batch), ``"sgd"`` (minibatch estimator) or ``"infonce"``;
    - ``steps``: optimizer steps (``gd`` stops earlier once converged, see ``early_stop``);
    - ``batch_size``: pairs per batch (``>= 2``; sgd and infonce);
    - ``lr``, ``schedule`` (``"constant" | "cosine" | "step"`` or an optax schedule ``t -> multiplier``; the step
      size is ``lr * schedule(t)``), ``optimizer`` (``"sgd" | "momentum" | "adam"``);
    - ``seed``: one seed, split into named keys; ``dtype``: ``"float64"`` or ``"float32"`` for training (the
      certificate is always measured in float64);
    - ``tau``, ``normalize``, ``mask_duplicates``: InfoNCE temperature, L2-normalization, duplicate masking;
    - ``reference``: `SVDResult` with the top ``k+1`` triplets of ``Pn`` (computed by
      `amf.convergence.reference_svd` when None: dense SVD on small graphs, ARPACK above);
    - ``progress``: tqdm bar (None: only when stderr is a terminal); ``chunk``: steps per jitted scan;
    - ``tolerance``: overrides `amf.convergence.TOLERANCES`; ``early_stop``: stop once the criterion holds
      (default: gd yes, sgd/infonce no: their schedule defines the run);
    - ``image_features``, ``text_features``: node features ``(N, d)``; given, that side's encoder is an MLP with
      hidden widths ``hidden`` instead of a table; ``init_scale``: initial ``E_p ||f||^2 = init_scale^2``;
    - ``p_floor``: tables train in coordinates ``f(i) = max(p_i, p_floor)^{-1/2} theta_i`` (default ``0`` for gd,
      ``1 / batch_size`` otherwise; module docstring).

    The returned ``Solution`` has ``solver``, ``dtype``, float64 ``f_images``/``f_texts`` (for InfoNCE with
    ``normalize``, the L2-normalized embeddings the loss scores), ``svd = reference``,
    a `amf.convergence.TrainingCertificate` and ``curve`` with equal-length arrays ``step`` (steps done),
    ``loss`` (population spectral loss, float64), ``loss_gap``, ``objective`` (chunk mean of the training
    objective) and ``seconds`` (wall time since the start, compilation included).
    """
    from amf.solve import check_k

    solver = _choice("solver", solver, SOLVERS)
    k = check_k(graph, k)
    dtype = _choice("dtype", dtype, DTYPES)
    jdtype = jnp.dtype(dtype)
    features = (_features("image_features", image_features, graph.n_images, jdtype),
                _features("text_features", text_features, graph.n_texts, jdtype))
    encoders = tuple("mlp" if x is not None else "table" for x in features)
    defaults = dict(DEFAULTS[solver])
    if "mlp" in encoders:
        defaults.update(MLP_DEFAULTS)
    steps, chunk, lr, optimizer, schedule = _optimizer_settings(defaults, steps, chunk, lr, optimizer, schedule)
    batch_size = _positive_int("batch_size", defaults.get("batch_size", 2) if batch_size is None else batch_size, 2)
    tau = _positive_float("tau", tau)
    init_scale = _positive_float("init_scale", init_scale)
    tolerance = {**convergence.TOLERANCES[solver][dtype], **(tolerance or {})}
    early_stop = (solver == "gd") if early_stop is None else bool(early_stop)
    hidden = tuple(_positive_int("hidden width", h) for h in hidden)
    if reference is None:
        reference = convergence.reference_svd(graph, k, seed=seed)
    elif reference.u.shape[0] != graph.n_images or len(reference.s) < min(k + 1, min(graph.shape)):
        raise InputError(f"reference must hold the top {min(k + 1, min(graph.shape))} triplets of this graph's Pn "
                         f"(u with {graph.n_images} rows), got u {reference.u.shape} and {len(reference.s)} values")

    plan = _Plan(solver, optimizer, schedule, steps, chunk, batch_size if solver != "gd" else 0, bool(normalize),
                 bool(mask_duplicates), encoders)
    joint = graph.joint_arrays(jdtype)
    if p_floor is None:
        p_floor = 0.0 if solver == "gd" else 1.0 / batch_size
    elif not (isinstance(p_floor, (int, float)) and 0 <= p_floor < math.inf):
        raise InputError(f"p_floor must be a number >= 0, got {p_floor!r}")
    data = {"images_scale": jnp.asarray(natural_scale(graph.p_images, p_floor), jdtype),
            "texts_scale": jnp.asarray(natural_scale(graph.p_texts, p_floor), jdtype),
            "images_features": features[0], "texts_features": features[1]}
    if solver == "gd":
        data["joint"] = joint
    else:
        data["sampler"] = EdgeSampler.from_joint(joint)
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
    judge_subspace = solver == "gd" and s[k - 1] - s[k] >= convergence.EIGENGAP_MIN
    sqrt_p = np.sqrt(graph.p_images)[:, None]

    def encoders_now(p):
        f_v = np.asarray(_embed(plan, p, data, "images"), dtype=np.float64)
        f_l = np.asarray(_embed(plan, p, data, "texts"), dtype=np.float64)
        if solver == "infonce" and normalize:  # the representation InfoNCE scores is the normalized one
            f_v = f_v / np.linalg.norm(f_v, axis=1, keepdims=True)
            f_l = f_l / np.linalg.norm(f_l, axis=1, keepdims=True)
        return f_v, f_l

    def evaluate(f_v, f_l):
        if solver == "infonce":
            a = float(positive_term(joint64, f_v, f_l))
            b = float(negative_term(joint64, f_v, f_l))
            loss = -(a * a) / b if b > 0 else 0.0
        else:
            loss = float(_population_loss(joint64, f_v, f_l))
        return loss, (loss - loss_min) / abs(loss_min) if math.isfinite(loss) else math.inf

    def done(gap, f_v):
        if not early_stop or not gap <= tolerance.get("loss_gap", -math.inf):
            return False
        return not judge_subspace or projector_distance(sqrt_p * f_v, u_k) <= tolerance["subspace_distance"]

    opt_state = None if plan.sparse_rows else _optimizer(plan, lr).init(params)
    batch_key = named_key(seed, "gradient/batches")
    curve = {"step": [], "loss": [], "loss_gap": [], "objective": [], "seconds": []}
    started = time.perf_counter()
    steps_done = 0
    bar = _progress_bar(_show_progress(progress), steps, solver)
    try:
        while steps_done < steps:
            params, opt_state, values = _run_chunk(plan, params, opt_state, data, hyper, batch_key,
                                                   jnp.asarray(steps_done, jnp.int32))
            active = min(chunk, steps - steps_done)
            values = np.asarray(values, dtype=np.float64)[:active]
            steps_done += active
            f_v, f_l = encoders_now(params)
            loss, gap = evaluate(f_v, f_l)
            for name, value in (("step", steps_done), ("loss", loss), ("loss_gap", gap),
                                ("objective", float(np.mean(values))), ("seconds", time.perf_counter() - started)):
                curve[name].append(value)
            if bar is not None:
                bar.update(active)
                bar.set_postfix(loss=f"{loss:.6g}", gap=f"{gap:.2e}")
            if not math.isfinite(loss) or done(gap, f_v):
                break
    finally:
        if bar is not None:
            bar.close()

    f_v, f_l = encoders_now(params)
    measures = convergence.spectral_measures(graph, f_v, f_l, reference, k, rescale=solver == "infonce")
    objective = curve["objective"]
    change = (abs(objective[-1] - objective[-2]) / max(abs(objective[-2]), np.finfo(float).tiny)
              if len(objective) >= 2 else None)
    certificate = convergence.certify(solver, measures, iterations=steps_done, tolerance=tolerance,
                                      relative_change=change)
    return Solution(f_v, f_l, solver=solver, dtype=dtype, certificate=certificate, svd=reference,
                    curve={name: np.asarray(v) for name, v in curve.items()})


def _progress_bar(show: bool, total: int, desc: str):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)


# ---- the weighted spectral loss --------------------------------------------------------------------------------


def train_weighted(
    positives,
    negatives: NegativeWeights | None,
    k: int,
    *,
    steps: int | None = None,
    lr: float | None = None,
    schedule: str | Callable | None = None,
    optimizer: str | None = None,
    seed: int = 0,
    dtype: str = "float64",
    progress: bool | None = None,
    chunk: int | None = None,
    tolerance: dict[str, float] | None = None,
    early_stop: bool = True,
    init_scale: float = INIT_SCALE,
) -> Solution:
    """Minimize ``-2 sum A <f, f'> + sum N <f, f'>^2`` over one table ``f (n, k)`` by full-batch descent.

    ``positives``: the positive graph ``A`` as a square scipy sparse matrix with nonnegative entries (symmetric in
    the SSCL setting; only its symmetric part matters) and positive degrees ``w = A 1``. ``negatives``: a
    `NegativeWeights` (None means ``N = w w^T``, the plain SSCL loss `amf.losses.sscl_loss`). Training runs in the
    natural coordinates ``F = D_w^{1/2} f`` with heavy-ball momentum (as ``gd``; ``lr`` may need lowering when
    ``N`` is much heavier than ``w w^T``).

    Certificate: with ``N = w w^T`` exactly and ``n^2 <= DENSE_LIMIT``, against the Eckart–Young optimum of
    ``Abar = D_w^{-1/2} A D_w^{-1/2}`` (``loss_min = -sum_{i<=k} max(lambda_i, 0)^2``, subspace of the top ``k``
    eigenvectors), like ``gd``. Otherwise there is no closed-form minimum (THEORY.md section 5): ``converged``
    means stationarity (relative gradient norm ``||grad_F L|| / ||F||`` and relative loss change over the last
    chunk below tolerance), which certifies a stationary point, not a global minimum. The solution's
    ``f_images`` and ``f_texts`` are both ``f``.
    """
    from amf.text_induced import pairs_joint

    a = sp.csr_array(positives)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"positives must be a square sparse matrix, got shape {a.shape}")
    if a.nnz and (not np.all(np.isfinite(a.data)) or a.data.min() < 0):
        raise InputError("positives must have finite, nonnegative entries")
    n = a.shape[0]
    w = np.asarray(a.sum(axis=1)).ravel()
    if not np.all(w > 0):
        raise InputError(f"every node needs a positive degree w = A 1; node {int(np.argmin(w > 0))} has none")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise InputError(f"k must be an integer with 1 <= k <= n = {n}, got {k!r}")
    k = int(k)
    negatives = NegativeWeights.product(w) if negatives is None else negatives
    if negatives.n_nodes != n:
        raise InputError(f"negatives are on {negatives.n_nodes} nodes, positives on {n}")
    if negatives.rows.shape[0] and negatives.entries().min() < -1e-12 * max(1.0, float(np.max(w)) ** 2):
        raise InputError("negative weights N must be >= 0 at every entry (a sparse correction removes too much)")
    dtype = _choice("dtype", dtype, DTYPES)
    jdtype = jnp.dtype(dtype)
    defaults = DEFAULTS["weighted"]
    steps, chunk, lr, optimizer, schedule = _optimizer_settings(defaults, steps, chunk, lr, optimizer, schedule)
    init_scale = _positive_float("init_scale", init_scale)
    tolerance = {**convergence.TOLERANCES["weighted"][dtype], **(tolerance or {})}

    # reference optimum when the loss is plain SSCL (N = w w^T): eigenpairs of Abar
    reference = None
    if negatives.is_product_of(w) and n * n <= DENSE_LIMIT:
        scale = 1.0 / np.sqrt(w)
        abar = (scale[:, None] * a.toarray() * scale[None, :])
        abar = 0.5 * (abar + abar.T)
        values, vectors = np.linalg.eigh(abar)
        order = np.argsort(values)[::-1]
        reference = (values[order], vectors[:, order])
        tolerance = {**convergence.TOLERANCES["gd"][dtype], **(tolerance or {})}

    plan = _Plan("weighted", optimizer, schedule, steps, chunk, 0, False, False, ("table", "table"))
    row_scale = jnp.asarray(natural_scale(w), jdtype)
    data = {"images_scale": row_scale, "texts_scale": row_scale, "images_features": None, "texts_features": None,
            "positives": pairs_joint(a, jdtype), "negatives": negatives.astype(jdtype)}
    theta = table_init(named_key(seed, "gradient/init/images"), n, k, row_scale=row_scale, scale=init_scale,
                       dtype=jdtype)
    params = {"images": theta, "texts": jnp.zeros((0, k), jdtype)}
    hyper = {"lr": jnp.asarray(lr, jdtype), "tau": jnp.asarray(1.0, jdtype)}
    data64 = {**data, "positives": pairs_joint(a, np.float64), "negatives": negatives.astype(jnp.float64),
              "images_scale": jnp.asarray(natural_scale(w), jnp.float64)}

    def loss_and_gradient(theta_now):
        theta64 = jnp.asarray(theta_now, jnp.float64)
        value, grad = _weighted_value_and_grad(data64["positives"], data64["negatives"], data64["images_scale"],
                                               theta64)
        norm = float(jnp.linalg.norm(grad)) / max(float(jnp.linalg.norm(theta64)), np.finfo(float).tiny)
        return float(value), norm

    if reference is not None:
        values, vectors = reference
        top = np.maximum(values[:k], 0.0)
        loss_min = float(-np.sum(top**2))
        eigengap = float(values[k - 1] - (values[k] if k < n else 0.0))
        judge = eigengap >= convergence.EIGENGAP_MIN and values[k - 1] > 0
    opt_state = _optimizer(plan, lr).init(params)
    key = named_key(seed, "gradient/batches")
    curve = {"step": [], "loss": [], "loss_gap": [], "objective": [], "seconds": []}
    started, steps_done = time.perf_counter(), 0
    bar = _progress_bar(_show_progress(progress), steps, "weighted")
    previous = None
    change = norm = None
    try:
        while steps_done < steps:
            params, opt_state, values_chunk = _run_chunk(plan, params, opt_state, data, hyper, key,
                                                         jnp.asarray(steps_done, jnp.int32))
            active = min(chunk, steps - steps_done)
            steps_done += active
            loss, norm = loss_and_gradient(params["images"])
            gap = (loss - loss_min) / abs(loss_min) if reference is not None else math.nan
            change = abs(loss - previous) / max(abs(previous), np.finfo(float).tiny) if previous is not None else None
            previous = loss
            objective = float(np.mean(np.asarray(values_chunk, np.float64)[:active]))
            for name, value in (("step", steps_done), ("loss", loss), ("loss_gap", gap), ("objective", objective),
                                ("seconds", time.perf_counter() - started)):
                curve[name].append(value)
            if bar is not None:
                bar.update(active)
                bar.set_postfix(loss=f"{loss:.6g}")
            if not math.isfinite(loss):
                break
            if early_stop:
                if reference is not None:
                    f_now = np.asarray(params["images"], np.float64)  # F = D^{1/2} f: the natural coordinates
                    ok = gap <= tolerance["loss_gap"] and (
                        not judge or projector_distance(f_now, vectors[:, :k]) <= tolerance["subspace_distance"])
                else:
                    ok = (change is not None and change <= tolerance["relative_change"]
                          and norm <= tolerance["gradient_norm"])
                if ok:
                    break
    finally:
        if bar is not None:
            bar.close()

    theta64 = np.asarray(params["images"], np.float64)
    f = theta64 * np.asarray(natural_scale(w))[:, None]
    loss = curve["loss"][-1]
    if reference is not None:
        finite = bool(np.all(np.isfinite(theta64)))
        distance = projector_distance(theta64, vectors[:, :k]) if finite else 1.0
        angles = principal_angles(theta64, vectors[:, :k]) if finite else np.full(k, np.pi / 2)
        gap = (loss - loss_min) / abs(loss_min)
        if judge:
            converged = gap <= tolerance["loss_gap"] and distance <= tolerance["subspace_distance"]
            criterion = (f"weighted (N = w w^T, plain SSCL): loss_gap <= {tolerance['loss_gap']:g} vs "
                         f"-sum_{{i<=k}} max(lambda_i, 0)^2 of Abar and subspace_distance <= "
                         f"{tolerance['subspace_distance']:g} (eigengap {eigengap:.3g})")
        else:
            converged = gap <= tolerance["loss_gap"]
            criterion = (f"weighted (N = w w^T, plain SSCL): loss_gap <= {tolerance['loss_gap']:g} only "
                         f"(eigengap {eigengap:.3g} < {convergence.EIGENGAP_MIN:g} or lambda_k <= 0)")
        certificate = convergence.TrainingCertificate(
            converged=bool(converged), iterations=steps_done, criterion=criterion, loss=loss, loss_min=loss_min,
            loss_gap=gap, subspace_distance=distance, principal_angles=angles, probe_error=None,
            probe_error_optimal=None, tolerance=tolerance, eigengap=eigengap, relative_change=change,
            gradient_norm=norm)
    else:
        converged = (change is not None and change <= tolerance["relative_change"]
                     and norm <= tolerance["gradient_norm"] and math.isfinite(loss))
        criterion = (f"weighted: stationarity only: relative loss change over the last chunk <= "
                     f"{tolerance['relative_change']:g} and ||grad_F L|| / ||F|| <= {tolerance['gradient_norm']:g}. "
                     "No closed-form minimum exists for general N (THEORY.md section 5): a stationary point, "
                     "not a certified global minimum")
        certificate = convergence.TrainingCertificate(
            converged=bool(converged), iterations=steps_done, criterion=criterion, loss=loss, loss_min=None,
            loss_gap=None, subspace_distance=None, principal_angles=None, probe_error=None, probe_error_optimal=None,
            tolerance=tolerance, relative_change=change, gradient_norm=norm)
    return Solution(f, f, solver="weighted", dtype=dtype, certificate=certificate, svd=None,
                    curve={name: np.asarray(v) for name, v in curve.items()})


@jax.jit
def _weighted_value_and_grad(positives: Joint, negatives: NegativeWeights, row_scale: jax.Array, theta: jax.Array):
    """Loss and its gradient in the natural coordinates ``theta = D_w^{1/2} f`` (float64 checks)."""
    return jax.value_and_grad(lambda t: weighted_loss(positives, negatives, row_scale[:, None] * t))(theta)
