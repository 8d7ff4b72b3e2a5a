"""``weighted``: ``-2 sum A <f, f'> + sum N <f, f'>^2`` with reweighted negatives (docs/theory.md section 5).

One encoder ``f (n, k)`` on a positive graph ``A`` with negative weights ``N`` (`amf.losses.NegativeWeights`),
trained by full-batch descent in the natural coordinates ``F = D_w^{1/2} f`` with the shared loop
(`amf.solvers.training.fit`). With ``N = w w^T`` (``w = A 1``) it is exactly the SSCL loss, solved by the top
eigenvectors of ``Abar = D_w^{-1/2} A D_w^{-1/2}``; for other ``N`` no SVD solves it, and the certificate can only
say the result is stationary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from amf import _validate
from amf._linalg import principal_angles, projector_distance
from amf._random import named_key
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, Joint
from amf.losses import NegativeWeights, weighted_loss
from amf.solution import Solution
from amf.solvers import convergence, training
from amf.solvers.encoders import natural_scale, table_init
from amf.solvers.gd import GD
from amf.text_induced import pairs_joint


@dataclasses.dataclass(frozen=True)
class Weighted(training.Objective):
    """The weighted spectral loss of one table. ``sscl``: ``N = w w^T`` and a dense reference exists, so the run
    is judged like ``gd`` against the eigenvector optimum; otherwise by stationarity."""

    sscl: bool = False

    name = "weighted"
    summary = "-2 sum A<f,f'> + sum N<f,f'>^2 with reweighted negatives (stationarity; no SVD solution)"
    rule = ("N = w w^T: as gd, against the eigenvector optimum of Abar; otherwise stationarity (relative loss change "
            "and relative gradient norm <= tol), not a certified minimum")
    early_stop = True
    defaults = {"steps": 5000, "lr": 0.2, "optimizer": "momentum", "schedule": "constant", "chunk": 100}
    tolerances = {"float64": {"relative_change": 1e-9, "gradient_norm": 1e-6},
                  "float32": {"relative_change": 1e-5, "gradient_norm": 1e-3}}

    def loss(self, data, hyper, f_images, f_texts, i, j):
        return weighted_loss(data["positives"], data["negatives"], f_images)

    def criterion(self, measures, tolerance):
        if self.sscl:
            return convergence.loss_and_subspace(
                "weighted (N = w w^T, plain SSCL)", measures, tolerance,
                against="-sum_{i<=k} max(lambda_i, 0)^2 of Abar")
        change = measures.get("relative_change")
        holds = (change is not None and change <= tolerance["relative_change"]
                 and measures["gradient_norm"] <= tolerance["gradient_norm"])
        return holds, (f"weighted: stationarity only: relative loss change over the last chunk <= "
                       f"{tolerance['relative_change']:g} and ||grad_F L|| / ||F|| <= {tolerance['gradient_norm']:g}. "
                       "No closed-form minimum exists for general N (docs/theory.md section 5): a stationary "
                       "point, not a certified global minimum")


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
    init_scale: float = training.INIT_SCALE,
) -> Solution:
    """Minimize ``-2 sum A <f, f'> + sum N <f, f'>^2`` over one table ``f (n, k)`` by full-batch descent.

    ``positives``: the positive graph ``A`` as a square scipy sparse matrix with nonnegative entries (symmetric in
    the SSCL setting; only its symmetric part matters) and positive degrees ``w = A 1``. ``negatives``: a
    `NegativeWeights` (None means ``N = w w^T``, the plain SSCL loss `amf.losses.sscl_loss`). Training runs in the
    natural coordinates ``F = D_w^{1/2} f`` with heavy-ball momentum (as ``gd``; ``lr`` may need lowering when
    ``N`` is much heavier than ``w w^T``).

    Certificate: with ``N = w w^T`` exactly and ``n^2 <= DENSE_LIMIT``, against the Eckart–Young optimum of
    ``Abar = D_w^{-1/2} A D_w^{-1/2}`` (``loss_min = -sum_{i<=k} max(lambda_i, 0)^2``, subspace of the top ``k``
    eigenvectors), like ``gd``. Otherwise there is no closed-form minimum (docs/theory.md section 5):
    ``converged`` means stationarity (relative gradient norm ``||grad_F L|| / ||F||`` and relative loss change over
    the last chunk below tolerance), which certifies a stationary point, not a global minimum. The solution's
    ``f_images`` and ``f_texts`` are both ``f``; its curve also holds ``gradient_norm``.
    """
    a = sp.csr_array(positives)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"positives must be a square sparse matrix, got shape {a.shape}")
    if a.nnz and (not np.all(np.isfinite(a.data)) or a.data.min() < 0):
        raise InputError("positives must have finite, nonnegative entries")
    n = a.shape[0]
    w = np.asarray(a.sum(axis=1)).ravel()
    if not np.all(w > 0):
        raise InputError(f"every node needs a positive degree w = A 1; node {int(np.argmin(w > 0))} has none")
    k = _validate.rank(k, n, "n")
    negatives = NegativeWeights.product(w) if negatives is None else negatives
    if negatives.n_nodes != n:
        raise InputError(f"negatives are on {negatives.n_nodes} nodes, positives on {n}")
    if negatives.rows.shape[0] and negatives.entries().min() < -1e-12 * max(1.0, float(np.max(w)) ** 2):
        raise InputError("negative weights N must be >= 0 at every entry (a sparse correction removes too much)")
    dtype = _validate.dtype_name(dtype)
    jdtype = jnp.dtype(dtype)
    objective = Weighted(sscl=negatives.is_product_of(w) and n * n <= DENSE_LIMIT)
    steps, chunk, lr, optimizer, schedule = training.settings(objective.defaults, steps, chunk, lr, optimizer,
                                                              schedule)
    init_scale = _validate.positive_float("init_scale", init_scale)
    tolerance = {**(GD.tolerances if objective.sscl else objective.tolerances)[dtype], **(tolerance or {})}

    # the reference optimum when the loss is plain SSCL (N = w w^T): eigenpairs of Abar
    measures = {}
    if objective.sscl:
        scale = 1.0 / np.sqrt(w)
        abar = scale[:, None] * a.toarray() * scale[None, :]
        values, vectors = np.linalg.eigh(0.5 * (abar + abar.T))
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        eigengap = float(values[k - 1] - (values[k] if k < n else 0.0))
        top = np.maximum(values[:k], 0.0)
        measures = {"loss_min": float(-np.sum(top**2)), "informative_loss": convergence.informative_loss(top),
                    "eigengap": eigengap,
                    "subspace_determined": eigengap >= convergence.EIGENGAP_MIN and values[k - 1] > 0}

    plan = training.Plan(objective, optimizer, schedule, steps, chunk, 0, ("table", "table"))
    row_scale = jnp.asarray(natural_scale(w), jdtype)
    data = {"images_scale": row_scale, "texts_scale": jnp.zeros((0,), jdtype), "images_features": None,
            "texts_features": None,
            "positives": pairs_joint(a, jdtype), "negatives": negatives.astype(jdtype)}
    theta = table_init(named_key(seed, "gradient/init/images"), n, k, row_scale=row_scale, scale=init_scale,
                       dtype=jdtype)
    params = {"images": theta, "texts": jnp.zeros((0, k), jdtype)}
    hyper = {"lr": jnp.asarray(lr, jdtype)}
    positives64, negatives64 = pairs_joint(a, np.float64), negatives.astype(jnp.float64)
    scale64 = jnp.asarray(natural_scale(w), jnp.float64)

    def evaluate(p):
        theta64 = jnp.asarray(p["images"], jnp.float64)
        value, grad = _value_and_grad(positives64, negatives64, scale64, theta64)
        norm = float(jnp.linalg.norm(grad)) / max(float(jnp.linalg.norm(theta64)), np.finfo(float).tiny)
        loss = float(value)
        gap = (convergence.relative_gap(loss, measures["loss_min"], measures["informative_loss"]) if objective.sscl
               else float("nan"))
        return {"loss": loss, "loss_gap": gap, "gradient_norm": norm}

    def stop(p, curve):
        if not early_stop:
            return False
        now = {**measures, "loss_gap": curve["loss_gap"][-1], "gradient_norm": curve["gradient_norm"][-1],
               "relative_change": training.relative_change(curve["loss"])}
        if objective.sscl and now["loss_gap"] <= tolerance["loss_gap"]:
            now["subspace_distance"] = projector_distance(np.asarray(p["images"], np.float64), vectors[:, :k])
        elif objective.sscl:
            return False
        return objective.criterion(now, tolerance)[0]

    result = training.fit(plan, params, data, hyper, seed=seed, evaluate=evaluate, stop=stop, progress=progress)
    theta64 = np.asarray(result.params["images"], np.float64)  # F = D^{1/2} f: the natural coordinates
    f = theta64 * np.asarray(natural_scale(w))[:, None]
    curve = result.curve
    final = {**measures, "loss": float(curve["loss"][-1]), "gradient_norm": float(curve["gradient_norm"][-1]),
             "relative_change": training.relative_change(curve["loss"])}
    if objective.sscl:
        finite = bool(np.all(np.isfinite(theta64)))
        final["loss_gap"] = float(curve["loss_gap"][-1])
        final["subspace_distance"] = projector_distance(theta64, vectors[:, :k]) if finite else 1.0
        final["principal_angles"] = principal_angles(theta64, vectors[:, :k]) if finite else np.full(k, np.pi / 2)
    certificate = convergence.certificate(objective, final, iterations=result.steps, tolerance=tolerance,
                                          finite=result.finite)
    return Solution(f, f, solver="weighted", dtype=dtype, certificate=certificate, curve=curve)


@jax.jit
def _value_and_grad(positives: Joint, negatives: NegativeWeights, row_scale: jax.Array, theta: jax.Array):
    """Loss and its gradient in the natural coordinates ``theta = D_w^{1/2} f`` (float64 checks)."""
    return jax.value_and_grad(lambda t: weighted_loss(positives, negatives, row_scale[:, None] * t))(theta)
