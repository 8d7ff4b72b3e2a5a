"""A synthetic simulator of the paper's CLIP-guided resampling for SSCL (docs/theory.md section 5).

**The setting.** An SSCL augmentation graph is a co-occurrence between views ``x`` and source images ``xbar``
(`synthetic.augmentation_model`, docs/theory.md T3 converse); its positive-pair graph is
``A_S = Q D_xbar^{-1} Q^T`` (`amf.text_induced.text_induced_graph` of that co-occurrence), with degrees
``w = A_S 1`` equal to the view marginal ``p``. With ``confusion > 0`` some augmentations change the object, so some
positive pairs join two classes (false positives, ``phi > 0``); with a small ``strength`` the graph is poorly
connected within a class (low diversity, T5).

**The "CLIP".** A caption graph over the same source images: a planted source-image x text co-occurrence
(`synthetic.planted_model`, class noise ``clip_noise``, ``clip_edges_per_image`` edges per image, power-law
degrees), whose classes are matched to the augmentation graph's (the planted images of class ``c`` become the
sources of class ``c``, in order). Its exact MMCL image embedding ``g = f_V`` at rank ``clip_k``
(`amf.solve`, docs/theory.md T2a) plays the frozen CLIP image encoder, and the similarity of two views is the cosine
of their sources' embeddings (first, constant feature included, as a trained encoder carries it):

    c(x, x') = <g(src x), g(src x')> / (|g(src x)| |g(src x')|).

A CLIP that "knows classes imperfectly": its caption graph mixes classes (``clip_noise``) and is sparse, so some
sources sit nearer another class. With ``clip_view_noise = 0`` it sees sources, not augmentations: views of one
source are exact ties (``c = 1``), and every tie is treated symmetrically by `amf.edits` (mass is split equally
over tied pairs, never broken by index). With ``clip_view_noise = sigma > 0`` it ranks VIEWS, as the released code
scores the augmented views: view ``x``'s CLIP embedding is ``unit(g(src x) / |g(src x)| + sigma e_x / sqrt(clip_k))``
with ``e_x`` standard normal (seeded stream ``"clip views"``), ``c`` the cosine of those (``clip_views``).

Two objectives train on it. **spectral** (`compare`, `evaluate`): the edits of `amf.edits` applied to the
population graphs; with reweighted negatives the loss has no SVD solution and `amf.solvers.weighted.train_weighted`
certifies a stationary point only; measured, it has several local minima, so `evaluate` keeps the best of a few
restarts. **ntxent** (`train_ntxent`): SimCLR minibatches drawn from the augmentation graph with the edits computed
per batch as the released code computes them (`amf.experiments.ntxent`); `batch_shares` says, by class, what those
per-batch edits touch.

**Measures** (`evaluate`): the ``p``-weighted least-squares probe error ``E_LS`` of the trained view encoder on
the class labels (`amf.downstream.probe_error_ls` with the *original* view marginal ``p`` as weights: the data's
distribution does not change with the training objective); ``phi(A) = sum A 1[y != y']`` and the gap
``1 - lambda_{k+1}(Abar)`` of the (edited) positive graph; the proved bound ``2 phi / gap`` (T4) only where the
loss is SSCL on ``A``.
"""

from __future__ import annotations

import dataclasses
import math
import time
import zlib

import numpy as np
import scipy.sparse as sp

import synthetic
from amf import _validate, downstream
from amf._random import named_key
from amf.edits import (DEFAULT_FRACTIONS, METHODS, MAX_NODES, Edit, edit, exact_optimum, positive_phi,
                       spectrum)
from amf.errors import InputError
from amf.experiments import ntxent
from amf.graph import CoOccurrence
from amf.losses import NegativeWeights
from amf.solve import solve
from amf.solvers.weighted import train_weighted
from amf.text_induced import text_induced_graph

PAPER_IMAGENET_ACCURACY = {"baseline": 61.2, "add_new_positive": 67.4, "drop_false_positive": 61.8,
                           "drop_false_negative": 61.4, "drop_easy_negative": 62.3}
"""The PAPER's ImageNet linear-probe accuracies in percent (docs/theory.md section 5: SimCLR, ResNet-18, 100 classes),
for reference only: not produced by this simulator, and an accuracy (higher is better) where we report errors."""


# ---- the simulator ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Simulator:
    """The synthetic SSCL setting with its CLIP stand-in (module docstring).

    ``augmentation``: views x sources co-occurrence (view labels = classes); ``positives``: ``A_S``;
    ``similarity``: ``c(x, x')`` (dense, views x views); ``sources``: ``src(x)``; ``clip``: how well the CLIP
    stand-in knows the classes; ``params``: the resolved parameters.
    """

    augmentation: CoOccurrence
    positives: sp.csr_array
    similarity: np.ndarray
    clip_views: np.ndarray
    sources: np.ndarray
    clip: dict
    params: dict

    @property
    def labels(self) -> np.ndarray:
        return self.augmentation.image_labels

    @property
    def p(self) -> np.ndarray:
        """The view marginal ``p`` (= degrees of ``A_S``): the data distribution the probe is weighted by."""
        return self.augmentation.p_images


def simulator(*, n_classes: int = 4, images_per_class: int = 16, views_per_image: int = 4, strength: float = 0.1,
              confusion: float = 0.1, clip_noise: float = 0.3, clip_edges_per_image: int = 8,
              clip_k: int | None = None, clip_view_noise: float = 0.0, seed: int = 0) -> Simulator:
    """Build the augmentation graph, ``A_S`` and the CLIP similarity (module docstring); ``clip_k`` defaults to
    ``n_classes``. Sizes: ``n_classes * images_per_class`` sources, ``views_per_image`` times as many views."""
    n_classes = _validate.integer("n_classes", n_classes, 2)  # a CLIP that knows classes
    edges = synthetic.augmentation_model(n_classes=n_classes, images_per_class=images_per_class,
                                         views_per_image=views_per_image, strength=strength, confusion=confusion,
                                         seed=seed)
    augmentation = CoOccurrence.from_edges(edges)
    if augmentation.n_images > MAX_NODES:
        raise InputError(f"the simulator is dense: at most {MAX_NODES} views, got {augmentation.n_images}")
    n_src = n_classes * images_per_class
    clip_k = n_classes if clip_k is None else clip_k
    clip_k = _validate.integer("clip_k", clip_k, 1, n_src, f"sources = {n_src}")
    clip_edges_per_image = _validate.integer("clip_edges_per_image", clip_edges_per_image, 2)
    captions = CoOccurrence.from_edges(synthetic.planted_model(
        n_images=n_src, n_texts=n_src, n_edges=int(clip_edges_per_image) * n_src, n_classes=n_classes,
        noise=clip_noise, degree_exponent=2.5, seed=seed))
    # planted image of each source: class c's planted images, in index order, are the sources c n .. c n + n - 1
    planted = np.argsort(captions.image_labels, kind="stable")
    source_class = np.arange(n_src) // images_per_class
    if not np.array_equal(captions.image_labels[planted], source_class):
        raise AssertionError("planted classes are not balanced")  # planted_model balances n_src = r n exactly
    clip_solution = solve(captions, int(clip_k), solver="exact")
    g = clip_solution.f_images[planted]
    unit = g / np.linalg.norm(g, axis=1, keepdims=True)
    source_sim = unit @ unit.T
    source_sim = 0.5 * (source_sim + source_sim.T)
    np.fill_diagonal(source_sim, 1.0)  # exactly: views of one source tie at c = 1, whichever the source
    sources = np.arange(augmentation.n_images) // views_per_image  # view x = xbar v + t (augmentation_model)
    if not (isinstance(clip_view_noise, (int, float)) and math.isfinite(clip_view_noise) and clip_view_noise >= 0):
        raise InputError(f"clip_view_noise must be a finite number >= 0, got {clip_view_noise!r}")
    noise = np.random.default_rng([seed, zlib.crc32(b"clip views")]).standard_normal((len(sources), unit.shape[1]))
    views = unit[sources] + clip_view_noise / np.sqrt(unit.shape[1]) * noise
    views /= np.linalg.norm(views, axis=1, keepdims=True)
    if clip_view_noise == 0:
        similarity = source_sim[np.ix_(sources, sources)]  # views of one source: exact ties
    else:
        similarity = views @ views.T
        similarity = 0.5 * (similarity + similarity.T)
        np.fill_diagonal(similarity, 1.0)

    nearest = source_sim - 2.0 * np.eye(n_src)
    nn_same = np.mean(source_class[np.argmax(nearest, axis=1)] == source_class)
    clip = {"probe_error_sources": downstream.probe_error_ls(captions, clip_solution.f_images),
            "nearest_source_same_class": float(nn_same), "k": int(clip_k),
            "caption_alpha": downstream.alpha(captions)}
    params = {**edges.params, "clip_noise": float(clip_noise), "clip_edges_per_image": int(clip_edges_per_image),
              "clip_k": int(clip_k), "clip_degree_exponent": 2.5, "clip_view_noise": float(clip_view_noise)}
    return Simulator(augmentation, text_induced_graph(augmentation), similarity, views, sources, clip, params)


def probe_error(sim: Simulator, f: np.ndarray) -> float:
    """``E_LS`` of the view encoder ``f`` on the classes, probe fitted and scored with the view marginal ``p``."""
    return downstream.probe_error_ls(sim.augmentation, f)


WEIGHTED_LR = 0.05
"""Step size for the reweighted-negative objectives (no closed form): the solver's default 0.2 diverged on
DropFalseNegative at ``k = 8``; the SSCL objectives keep the default (certified against the eigenvector optimum)."""

RESTARTS = 3
"""Initializations per reweighted-negative objective: its loss has several local minima (measured: restarts
stop at different losses with gradient norm ~1e-15), so the lowest-loss restart is kept and the spread reported.
Every local minimum of an SSCL objective is global (Eckart–Young), so those train once."""


def evaluate(sim: Simulator, objective: Edit, k: int, *, seed: int = 0, restarts: int = RESTARTS,
             steps: int | None = None, tolerance: dict | None = None) -> dict:
    """Train ``objective`` with `train_weighted` at rank ``k`` and measure it: one JSON-able row.

    SSCL objectives (``N = w w^T`` of ``A``) train once, certified against the eigenvector optimum; the others
    train from ``restarts`` initializations (init seeds ``1000 seed + r``) with ``lr = WEIGHTED_LR`` and keep the
    lowest final loss (non-finite runs are discarded and counted).

    Keys: ``method, k, seed, probe_error`` (of the kept run), ``phi``, ``gap`` (``1 - lambda_{k+1}(Abar)`` of
    the edited ``A``), ``lambda_next``, ``bound`` (``2 phi / gap``, SSCL objectives only), ``probe_error_exact``
    and ``loss_min`` (SSCL objectives: the eigenvector optimum), ``converged``, ``criterion``, ``loss``,
    ``loss_gap``, ``iterations``, ``seconds`` (all restarts), ``restart_losses`` / ``restart_probe_errors``
    (None for a diverged run), ``norm_ratio`` (largest over median view embedding norm: how heavy-tailed ``f`` is),
    ``negatives_same_class`` (share of ``N``'s mass on same-class pairs: the false negatives left), ``stats`` (the
    edit's) and ``passed`` (= converged).
    """
    labels = sim.labels
    n_runs = 1 if objective.sscl else int(restarts)
    if n_runs < 1:
        raise InputError(f"restarts must be >= 1, got {restarts!r}")
    started = time.perf_counter()
    runs = []
    for r in range(n_runs):
        init = seed if objective.sscl else 1000 * seed + r
        solution = train_weighted(objective.positives, None if objective.sscl else objective.negatives, k,
                                  seed=init, steps=steps, tolerance=tolerance, progress=False,
                                  lr=None if objective.sscl else WEIGHTED_LR)
        finite = bool(np.all(np.isfinite(solution.f_images))) and math.isfinite(solution.certificate.loss)
        runs.append((solution, finite, probe_error(sim, solution.f_images) if finite else None))
    seconds = time.perf_counter() - started
    finite_runs = [run for run in runs if run[1]]
    solution, _, error = (min(finite_runs, key=lambda run: run[0].certificate.loss) if finite_runs else runs[0])
    cert = solution.certificate
    values = spectrum(objective.positives)
    lam_next = float(values[k]) if k < len(values) else 0.0
    gap = 1.0 - lam_next
    phi = positive_phi(objective.positives, labels)
    norms = np.linalg.norm(solution.f_images, axis=1) if finite_runs else None
    row = {
        "method": objective.method,
        "k": int(k),
        "seed": int(seed),
        "probe_error": error,
        "phi": phi,
        "spectral_gap": gap,
        "lambda_next": lam_next,
        "bound": (2.0 * phi / gap if gap > 0 else None) if objective.sscl else None,
        "probe_error_exact": None,
        "loss_min": cert.loss_min,
        "loss": cert.loss if finite_runs else None,
        "loss_gap": cert.loss_gap if finite_runs else None,
        "converged": bool(cert.converged) and bool(finite_runs),
        "criterion": cert.criterion,
        "iterations": int(cert.iterations),
        "seconds": seconds,
        "restart_losses": [run[0].certificate.loss if run[1] else None for run in runs],
        "restart_probe_errors": [run[2] for run in runs],
        "norm_ratio": float(norms.max() / np.median(norms)) if norms is not None else None,
        "negatives_same_class": _same_class_share(objective.negatives, labels),
        "stats": objective.stats,
    }
    if objective.sscl:
        f_exact, _ = exact_optimum(objective.positives, k)
        row["probe_error_exact"] = probe_error(sim, f_exact)
    row["passed"] = row["converged"]
    return row


def compare(sim: Simulator, k: int, *, methods=METHODS, parameters: dict | None = None, seed: int = 0,
            restarts: int = RESTARTS, steps: int | None = None) -> list[dict]:
    """One `evaluate` row per method (edits built with ``parameters[method]`` or `DEFAULT_FRACTIONS`; new
    positives and negative drops are chosen among views of OTHER sources: ``groups = sim.sources``)."""
    parameters = {**DEFAULT_FRACTIONS, **(parameters or {})}
    rows = []
    for method in methods:
        objective = edit(method, sim.positives, sim.similarity, parameter=parameters.get(method),
                         groups=sim.sources)
        rows.append(evaluate(sim, objective, k, seed=seed, restarts=restarts, steps=steps))
    return rows


PLATEAU = 0.02
"""NT-Xent training counts as converged when the mean loss of its last fifth of steps is within this share of the
fifth before (minibatch losses are noisy: a plateau, not a stationary point, is what is certified)."""


def train_ntxent(sim: Simulator, method: str, dim: int, *, batch: int, tau: float, steps: int, lr: float,
                 parameter: float | None = None, seed: int = 0) -> dict:
    """Train ``method`` of `amf.experiments.ntxent` (SimCLR minibatches on a free ``(views, dim)`` table) and
    measure it: one JSON-able row.

    Every method of one seed starts from the same table and sees the same batches (named keys ``"ntxent init"``,
    ``"ntxent batches"``: matched comparisons), except ``drop_false_positive_released``, whose loss is plain
    NT-Xent: it runs from fresh keys (``"ntxent rerun ..."``), so its change is a rerun's, the spread the paper's
    single runs carry. The probe is `probe_error` on ``f / |f|`` (NT-Xent sees only directions).

    Keys: ``method, k, seed, probe_error, loss`` (mean of the last fifth of steps), ``loss_change`` (relative
    change from the fifth before), ``curve`` (the mean loss of each tenth), ``converged`` (finite and
    ``loss_change <= PLATEAU``: reported, not required), ``criterion``, ``iterations``, ``seconds``, ``passed``
    (the run stayed finite). The training is a fixed budget of steps, as the paper's runs are a fixed budget of
    epochs: a run that has not plateaued is reported so (``converged: false``), and still measured.
    """
    if steps < 10:
        raise InputError(f"steps must be >= 10 (the plateau compares tenths of the run), got {steps}")
    prefix = "ntxent rerun" if method == "drop_false_positive_released" else "ntxent"
    started = time.perf_counter()
    f, losses = ntxent.train(method, sim.clip_views, sim.augmentation.joint.toarray().T, dim=dim, batch=batch,
                             tau=tau, steps=steps, lr=lr, parameter=parameter,
                             init_key=named_key(seed, f"{prefix} init"), batch_key=named_key(seed, f"{prefix} batches"))
    seconds = time.perf_counter() - started
    tenths = losses[: steps - steps % 10].reshape(10, -1).mean(axis=1)
    last, before = tenths[8:].mean(), tenths[6:8].mean()
    finite = bool(np.all(np.isfinite(f)) and np.all(np.isfinite(tenths)))
    change = float(abs(last - before) / abs(last)) if finite else None
    converged = finite and change <= PLATEAU
    unit = f / np.linalg.norm(f, axis=1, keepdims=True) if finite else None
    return {"method": method, "k": int(dim), "seed": int(seed),
            "probe_error": probe_error(sim, unit) if finite else None,
            "loss": float(last) if finite else None, "loss_change": change, "curve": tenths.tolist(),
            "converged": converged, "criterion": f"mean loss of the last fifth of steps within {PLATEAU:.0%} of "
                                                 "the fifth before",
            "iterations": int(steps), "seconds": seconds, "passed": finite}


def batch_shares(sim: Simulator, batch: int, parameters: dict, *, seed: int = 0, batches: int = 50) -> dict:
    """What the per-batch edits touch, by class, over ``batches`` SimCLR batches drawn as `train_ntxent` draws
    them (key ``"batch shares"``): ``negatives_same_class`` (share of the plain denominators' negatives, partner
    excluded, in the anchor's class), ``false_negative_same_class`` / ``easy_negative_same_class`` (share of
    the entries DropFalseNegative / DropEasyNegative remove that are same-class), ``false_positive_cross_class``
    (share of the positives DropFalsePositive drops that join two classes; ``positives_cross_class``: of all
    positives) and ``new_positive_same_class`` (AddNewPositive's new positives in the anchor's class)."""
    rng = np.random.default_rng([seed, zlib.crc32(b"batch shares")])
    columns = sim.augmentation.joint.toarray().T
    labels = sim.labels
    sums = dict.fromkeys(("negatives", "false_negative", "easy_negative", "false_positive", "positives", "new"), 0.0)
    counts = dict.fromkeys(sums, 0)
    for _ in range(batches):
        sources = rng.choice(columns.shape[0], batch, replace=False)
        views = np.concatenate([[rng.choice(columns.shape[1], p=columns[s] / columns[s].sum()) for s in sources]
                                for _ in range(2)])
        c = sim.clip_views[views] @ sim.clip_views[views].T
        y = labels[views]
        same = y[:, None] == y[None, :]
        n = len(views)
        plain = ~np.eye(n, dtype=bool)
        plain[np.arange(n), ntxent.partners(n)] = False
        cross = y != y[ntxent.partners(n)]
        removed = {key: plain & ~np.asarray(ntxent.denominators(key, c, parameters[key]))
                   for key in ("drop_false_negative", "drop_easy_negative")}
        dropped = ~np.asarray(ntxent.kept_positives(c, parameters["drop_false_positive"]))
        for key, mask, hit in [("negatives", plain, same), ("false_negative", removed["drop_false_negative"], same),
                               ("easy_negative", removed["drop_easy_negative"], same),
                               ("false_positive", dropped, cross), ("positives", np.ones(n, bool), cross),
                               ("new", np.ones(n, bool), y == y[np.asarray(ntxent.new_positives(c))])]:
            sums[key] += float(np.sum(hit[mask]))
            counts[key] += int(np.sum(mask))
    share = {key: sums[key] / counts[key] if counts[key] else None for key in sums}
    return {"negatives_same_class": share["negatives"], "false_negative_same_class": share["false_negative"],
            "easy_negative_same_class": share["easy_negative"], "false_positive_cross_class": share["false_positive"],
            "positives_cross_class": share["positives"], "new_positive_same_class": share["new"]}


def sensitivity(sim: Simulator, k: int, values: dict, *, seed: int = 0, restarts: int = RESTARTS) -> list[dict]:
    """Each method at several parameter values (``values[method]``: weights or fractions) on one simulator.

    SSCL objectives (the positive edits) are measured at their eigenvector optimum (no training: its probe
    error is what a converged run gives); the negative edits are trained as in `evaluate`. One row per
    ``(method, parameter)`` with ``probe_error, phi, gap`` (and ``converged``/``passed`` for trained rows).
    """
    rows = []
    for method, grid in values.items():
        for value in grid:
            objective = edit(method, sim.positives, sim.similarity, parameter=value, groups=sim.sources)
            if objective.sscl:
                lam = spectrum(objective.positives)
                f, _ = exact_optimum(objective.positives, k)
                row = {"method": method, "parameter": float(value), "k": int(k), "seed": int(seed),
                       "probe_error": probe_error(sim, f), "phi": positive_phi(objective.positives, sim.labels),
                       "spectral_gap": 1.0 - (float(lam[k]) if k < len(lam) else 0.0), "trained": False}
            else:
                full = evaluate(sim, objective, k, seed=seed, restarts=restarts)
                row = {"method": method, "parameter": float(value), "trained": True,
                       **{key: full[key] for key in ("k", "seed", "probe_error", "phi", "spectral_gap", "converged",
                                                     "negatives_same_class", "passed")}}
            rows.append(row)
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Per ``(k, method)``: mean and standard deviation over seeds of probe error, phi and gap, and the paired
    difference to the baseline of the same seed and k (``delta``; negative = better than SSCL)."""
    baseline_error = {(r["k"], r["seed"]): r["probe_error"] for r in rows if r["method"] == "baseline"}
    out = []
    for k in sorted({r["k"] for r in rows}):
        for method in [m for m in METHODS if any(r["method"] == m and r["k"] == k for r in rows)]:
            group = [r for r in rows if r["method"] == method and r["k"] == k]
            errors = np.array([r["probe_error"] for r in group])
            deltas = np.array([r["probe_error"] - baseline_error[(k, r["seed"])] for r in group
                               if (k, r["seed"]) in baseline_error])
            out.append({
                "k": k, "method": method, "seeds": len(group),
                "probe_error_mean": float(errors.mean()), "probe_error_std": float(errors.std()),
                "phi_mean": float(np.mean([r["phi"] for r in group])),
                "spectral_gap_mean": float(np.mean([r["spectral_gap"] for r in group])),
                "delta_mean": float(deltas.mean()) if deltas.size else None,
                "delta_std": float(deltas.std()) if deltas.size else None,
                "better_than_baseline": int(np.sum(deltas < 0)), "worse_than_baseline": int(np.sum(deltas > 0)),
                "all_converged": all(r["converged"] for r in group),
            })
    return out


def _same_class_share(negatives: NegativeWeights, labels) -> float:
    """Share of ``N``'s total mass on same-class pairs (``sum_{y = y'} N / sum N``), by class sums."""
    labels = np.asarray(labels)
    classes = int(labels.max()) + 1
    left, right = np.asarray(negatives.left), np.asarray(negatives.right)
    by_class_l = np.stack([np.bincount(labels, weights=row, minlength=classes) for row in left]) if len(left) else \
        np.zeros((0, classes))
    by_class_r = np.stack([np.bincount(labels, weights=row, minlength=classes) for row in right]) if len(right) else \
        np.zeros((0, classes))
    total = float(np.sum(by_class_l.sum(axis=1) * by_class_r.sum(axis=1)))
    same = float(np.sum(by_class_l * by_class_r))
    rows, cols, weights = np.asarray(negatives.rows), np.asarray(negatives.cols), np.asarray(negatives.weights)
    total += float(weights.sum())
    same += float(weights[labels[rows] == labels[cols]].sum())
    return same / total
