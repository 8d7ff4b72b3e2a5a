"""Finite samples (docs/theory.md T4): graphs of sampled pairs, and the probe error of their minimizer against n.

- `empirical_graph`: ``n`` pairs drawn i.i.d. from ``P`` become a count graph ``P_hat``; nodes never drawn are
  removed, and the kept index maps say which population node each row and column is.
- `probe_error_curve`: the linear-probe error of the empirical minimizer, evaluated on the population image
  distribution, against ``n`` (the toolkit measures this curve instead of asserting a complexity bound).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import numpy as np

from amf import _validate, downstream
from amf._random import named_key
from amf.downstream import predicted_labels, probe_error_ls
from amf.errors import InputError
from amf.experiments.config import param
from amf.experiments.measures import PlantedConfig
from amf.experiments.runner import Experiment
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.solvers.sampler import EdgeSampler
from amf.solvers.spectral import Exact, check_k, encoders_from_svd


# ---- empirical graphs ------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EmpiricalGraph:
    """``n_pairs`` pairs drawn i.i.d. from a population graph, as a graph of counts.

    - ``graph``: the empirical `CoOccurrence` (weights = counts, summing to ``n_pairs``) over the nodes drawn at
      least once, labels carried along;
    - ``image_index (N_V_hat,)``, ``text_index (N_L_hat,)``: population index of each kept image and text
      (increasing), so ``graph.image_labels == population.image_labels[image_index]``;
    - ``n_pairs``: the sample size.
    """

    graph: CoOccurrence
    image_index: np.ndarray
    text_index: np.ndarray
    n_pairs: int


def empirical_counts(graph: CoOccurrence, n_pairs: int, seed: int) -> np.ndarray:
    """Counts ``(nnz,)`` of each population edge (in ``graph.joint_arrays()`` order) among ``n_pairs`` draws."""
    n_pairs = _check_n(n_pairs)
    sampler = EdgeSampler.from_joint(graph.joint_arrays())
    key = named_key(seed, f"empirical_graph/{n_pairs}")
    counts = np.zeros(graph.nnz, dtype=np.int64)
    block = 1 << 22  # draw in blocks of 4M to bound memory; the block count is fixed by n, so draws are reproducible
    for start in range(0, n_pairs, block):
        size = min(block, n_pairs - start)
        edges = np.asarray(_draw_edges(sampler, jax.random.fold_in(key, start // block), size))
        counts += np.bincount(edges, minlength=graph.nnz)
    return counts


def empirical_graph(graph: CoOccurrence, n_pairs: int, seed: int, *, drop_isolated: bool = True) -> EmpiricalGraph:
    """Draw ``n_pairs`` pairs i.i.d. from ``P`` into an empirical graph of counts (``P_hat = counts / n``).

    With ``drop_isolated`` (the default) images and texts never drawn are removed together with their labels;
    ``image_index``/``text_index`` map the kept nodes back to the population. With ``drop_isolated=False`` the
    graph keeps every node and is rejected by `CoOccurrence` if some node was never drawn.
    """
    counts = empirical_counts(graph, n_pairs, seed)
    coo = graph.joint.tocoo()
    drawn = counts > 0
    rows, cols, weights = coo.row[drawn], coo.col[drawn], counts[drawn].astype(np.float64)
    if drop_isolated:
        image_index = np.unique(rows)
        text_index = np.unique(cols)
    else:
        image_index, text_index = np.arange(graph.n_images), np.arange(graph.n_texts)
    image_map = np.full(graph.n_images, -1, dtype=np.int64)
    image_map[image_index] = np.arange(len(image_index))
    text_map = np.full(graph.n_texts, -1, dtype=np.int64)
    text_map[text_index] = np.arange(len(text_index))
    sample = CoOccurrence.from_arrays(
        image_map[rows],
        text_map[cols],
        weights,
        (len(image_index), len(text_index)),
        None if graph.image_labels is None else graph.image_labels[image_index],
        None if graph.text_labels is None else graph.text_labels[text_index],
    )
    sample.dropped = (graph.n_images - len(image_index), graph.n_texts - len(text_index))
    return EmpiricalGraph(sample, image_index, text_index, int(n_pairs))


# ---- probe error against n -------------------------------------------------------------------------------------


def population_probe_error(population: CoOccurrence, f_images: np.ndarray, present: np.ndarray) -> dict:
    """Least-squares probe error of an image encoder known only on the images ``present`` (population indices).

    Convention (documented choice): an image never drawn has no embedding; it gets the zero vector, contributes
    nothing to the probe fit (the fit is the ``p_V``-weighted least squares over the present images with their
    population labels) and **counts as an error**. Returned:

    - ``error``: ``sum_i p_V(i) 1[mistake]`` over all images, absent ones counted as mistakes;
    - ``error_present``: the error on the present images with ``p_V`` restricted and renormalized to them;
    - ``missing_mass``: ``sum`` of ``p_V`` over the absent images (so ``error <= error_present (1 - m) + m``).
    """
    p = population.p_images
    labels = population.image_labels
    mask = np.zeros(population.n_images, dtype=bool)
    mask[present] = True
    f = np.zeros((population.n_images, f_images.shape[1]))
    f[present] = f_images
    predicted = predicted_labels(population, f)
    mistake = (predicted != labels) | ~mask
    missing = float(p[~mask].sum())
    present_mass = 1.0 - missing
    error_present = float(p[mask & mistake].sum() / present_mass) if present_mass > 0 else float("nan")
    return {"error": float(p[mistake].sum()), "error_present": error_present, "missing_mass": missing}


def probe_error_curve(
    graph: CoOccurrence, k: int, ns, seed: int, *, repeats: int = 1, dtype: str = "float64"
) -> list[dict]:
    """Probe error of the empirical minimizer against the sample size ``n``, evaluated on the population.

    For each ``n`` in ``ns`` and each repeat: draw ``n`` pairs (`empirical_graph`, isolated nodes dropped),
    factorize the empirical ``Pn_hat`` exactly at rank ``k`` (canonical minimizer
    ``f_V_hat = D_V_hat^{-1/2} U_hat_k S_hat_k^{1/2}``) and measure the least-squares probe of ``f_V_hat`` under the
    **population** image distribution ``p_V`` with the population labels (`population_probe_error`: images never
    drawn count as errors). The population minimizer's error is the reference ``optimal_error`` on every row.

    Returns one dict per ``(n, repeat)``: ``n``, ``repeat``, ``error``, ``error_present``, ``missing_mass``,
    ``images_kept``, ``texts_kept``, ``s_k``, ``s_k1`` (empirical ``s_k``, ``s_{k+1}``), ``optimal_error`` and
    ``optimal_s_k1`` (the population's).
    Rows with fewer than ``k`` kept images or texts report ``error = nan`` and a ``note``. Needs image labels
    and graphs small enough for a dense SVD (`amf.graph.DENSE_LIMIT`).
    """
    if graph.image_labels is None:
        raise InputError("probe_error_curve needs image labels")
    if graph.n_images * graph.n_texts > DENSE_LIMIT:
        raise InputError(f"probe_error_curve uses a dense SVD; graph {graph.shape} is above DENSE_LIMIT")
    k = check_k(graph, k)
    ns = [_check_n(n) for n in np.atleast_1d(ns)]
    population = Exact().svd(graph, min(k + 1, min(graph.shape)), dtype=dtype)
    optimal = probe_error_ls(graph, encoders_from_svd(graph, population, k)[0])
    optimal_s_k1 = float(population.s[k]) if len(population.s) > k else 0.0
    rows = []
    for n in ns:
        for repeat in range(int(repeats)):
            sample = empirical_graph(graph, n, seed + repeat)
            row = {"n": int(n), "repeat": repeat, "images_kept": len(sample.image_index),
                   "texts_kept": len(sample.text_index), "optimal_error": optimal, "optimal_s_k1": optimal_s_k1}
            if min(sample.graph.shape) < k:
                missing = 1.0 - float(graph.p_images[sample.image_index].sum())
                row.update(error=float("nan"), error_present=float("nan"), missing_mass=missing, s_k=float("nan"),
                           s_k1=float("nan"), note=f"sample keeps {sample.graph.shape}: fewer than k = {k} nodes")
                rows.append(row)
                continue
            svd = Exact().svd(sample.graph, min(k + 1, min(sample.graph.shape)), dtype=dtype)
            f_hat = encoders_from_svd(sample.graph, svd, k)[0]
            s = np.pad(np.asarray(svd.s, dtype=np.float64), (0, 1))
            row.update(population_probe_error(graph, f_hat, sample.image_index), s_k=float(s[k - 1]), s_k1=float(s[k]))
            rows.append(row)
    return rows


@functools.partial(jax.jit, static_argnames="size")
def _draw_edges(sampler: EdgeSampler, key: jax.Array, size: int) -> jax.Array:
    return sampler.sample_edges(key, size)


def _check_n(n) -> int:
    return _validate.integer("n_pairs", n, 1)


# ---- the experiment --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FiniteSamplesConfig(PlantedConfig):
    n_edges: int = param(6000, kind=int, low=4, help="stored edges of the population (planted) graph")
    noise: float = param(0.2, kind=float, low=0.0, high=1.0, help="planted class noise, a probability")
    n_pairs: int = param((300, 600, 1000, 2000, 4000, 10000, 30000, 100000), kind=int, low=1,
                         help="pairs drawn i.i.d. from the population")
    k: int = param(0, kind=int, low=0, help="rank; 0 = n_classes")
    population_seed: int = param(0, kind=int, low=0, high=2**32 - 1,
                                 help="seed of the population graph (the run seeds draw the samples)")
    seeds: tuple[int, ...] = (0, 1, 2)


def measure(config: FiniteSamplesConfig, seed: int) -> dict:
    """One sample size and seed: `probe_error_curve` (``probe_error_ls`` is the empirical minimizer's error on the
    population, absent images counted as errors) beside the population minimizer's error and proved bound."""
    graph = config.planted_graph(config.population_seed)
    k = config.k or config.n_classes
    [row] = probe_error_curve(graph, k, [config.n_pairs], seed)
    s_next = row["optimal_s_k1"]
    phi = downstream.phi(graph)
    return {
        "k": k, "probe_error_ls": row["error"], "probe_error_present": row["error_present"],
        "missing_mass": row["missing_mass"], "images_kept": row["images_kept"], "texts_kept": row["texts_kept"],
        "s_k": row["s_k"], "s_next": row["s_k1"],
        "population": {"probe_error_ls": row["optimal_error"], "s_next": s_next, "spectral_gap": 1.0 - s_next**2,
                       "phi": phi, "bound_rigorous_phi": 2.0 * phi / (1.0 - s_next**2)},
        "note": row.get("note"),
        "passed": None,
    }


def summarize(config: FiniteSamplesConfig, points: list[dict]) -> dict:
    """``curve``: per ``n_pairs`` the seed mean and std of the empirical error, and the population floor."""
    ns = sorted({p["params"].get("n_pairs", config.n_pairs) for p in points})
    curve = []
    for n in ns:
        errors = [p["probe_error_ls"] for p in points if p["params"].get("n_pairs", config.n_pairs) == n
                  and p["probe_error_ls"] is not None]
        curve.append({"n_pairs": n, "probe_error_ls_mean": float(np.mean(errors)) if errors else None,
                      "probe_error_ls_std": float(np.std(errors)) if errors else None})
    return {"curve": curve, "population_probe_error_ls": points[0]["population"]["probe_error_ls"]}


EXPERIMENT = Experiment(
    name="finite-samples",
    claim="T4 finite samples: the empirical minimizer's probe error falls toward the population's as the number "
          "of sampled pairs grows (measured; the paper's complexity term is not confirmed)",
    config=FiniteSamplesConfig,
    quick={"n_pairs": [300, 3000, 30000], "seeds": [0, 1]},
    measure=measure,
    summarize=summarize,
    headline=("probe_error_ls", "missing_mass", "population.probe_error_ls"),
    quick_seconds=7.0,
)
