"""The paper's four CLIP-guided edits of an SSCL objective, as edits of graphs (docs/theory.md section 5).

An SSCL objective is ``-2 sum A <f, f'> + sum N <f, f'>^2`` with a positive-pair graph ``A`` and negative weights
``N``; plain SSCL has ``N = w w^T`` (``w = A 1``). A similarity ``c(x, x')`` between views (a frozen CLIP encoder
in the paper; `amf.experiments.clip_resampling` builds a synthetic stand-in) decides what each edit moves. Ties
are treated symmetrically (mass is split equally over tied pairs, never broken by index).

**The four edits** (each returns an `Edit`: positive graph ``A``, symmetric, summing to 1, and negative weights
``N`` as a `amf.losses.NegativeWeights`; the baseline is SSCL, ``A = A_S``, ``N = w w^T``). Fractions are of
*mass*, as the paper's per-batch fractions are of sampled pairs; the pair at a threshold is thinned partially,
so exactly the stated fraction goes:

- `add_new_positive` (more diversity): ``A = (1 - beta) A_S + beta (M + M^T) / 2`` with ``M(x, .) = w_x`` spread
  over the most CLIP-similar other view(s) of ``x`` (views of ``x``'s own source excluded when ``groups`` is
  given: they are positives already and CLIP cannot tell them apart). ``beta = weight`` (default 1/2: the extra
  pair counts as much as the augmentation pair; the paper's mixing weight is an assumption here).
  ``N = w' w'^T`` with ``w' = A 1``.
- `drop_false_positive` (more consistency): remove the ``fraction`` of positive mass on the lowest-similarity
  unordered pairs, renormalize to 1; ``N = w' w'^T``. (A global threshold: the large-batch limit of the paper's
  per-batch drop.)
- `drop_false_negative`: in every row ``x`` of ``N = w w^T`` remove the ``fraction`` of its eligible mass on
  the most similar eligible ``x'``; eligible = views of OTHER sources (``groups``; a SimCLR batch contrasts an
  anchor with other images, and CLIP cannot rank views of one source). Then rescale ``N`` to total mass 1.
- `drop_easy_negative`: the same with the ``fraction`` of least similar eligible ``x'``.

The last two keep ``A = A_S`` and give a row-asymmetric ``N`` (only its symmetric part enters the loss). Then
``-2 sum A <f, f'> + sum N <f, f'>^2`` has no SVD solution: `amf.solvers.weighted.train_weighted` trains it.
Pairs inside a group keep their negative weight: were all of a source's pairs dropped (they tie at ``c = 1``,
the top of every row), the loss would be unbounded below on that source (positive reward, no quartic penalty).
For the baseline and the two positive edits ``N = w' w'^T`` of the edited ``A``: the loss is SSCL on ``A`` and
`exact_optimum` (eigenvectors of ``Abar``) solves it.

**Size.** Similarities, edits and ``Abar`` are dense ``n x n`` float64 arrays (``n`` = views): fine at toy size
(a few hundred views, well under a second), not for real graphs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from amf import _validate
from amf.errors import InputError
from amf.losses import NegativeWeights

METHODS = ("baseline", "add_new_positive", "drop_false_positive", "drop_false_negative", "drop_easy_negative")
"""The baseline (plain SSCL) and the paper's four CLIP-guided edits, in the paper's table order."""

DEFAULT_FRACTIONS = {"add_new_positive": 0.5, "drop_false_positive": 0.1, "drop_false_negative": 0.05,
                     "drop_easy_negative": 0.1}
"""Each method's parameter: the extra positive's weight ``beta`` for add_new_positive, else the dropped fraction."""


MAX_NODES = 4096
"""Largest number of views the dense edits accept (``n x n`` float64 arrays)."""


@dataclasses.dataclass(frozen=True)
class Edit:
    """An (edited) SSCL objective ``-2 sum A <f, f'> + sum N <f, f'>^2``.

    ``positives``: ``A`` (CSR, symmetric, sums to 1, positive degrees); ``negatives``: ``N``; ``sscl``: whether
    ``N = w w^T`` with ``w = A 1`` (the loss is SSCL on ``A``, solved by `exact_optimum`); ``stats``: what the
    edit moved (label-free, JSON-able).
    """

    method: str
    positives: sp.csr_array
    negatives: NegativeWeights
    sscl: bool
    stats: dict

    @property
    def degrees(self) -> np.ndarray:
        return _degrees(self.positives)


# ---- the edits -------------------------------------------------------------------------------------------------


def baseline(positives) -> Edit:
    """Plain SSCL: ``A = A_S``, ``N = w w^T``."""
    a = _check_positives(positives)
    return Edit("baseline", a, NegativeWeights.product(_degrees(a)), True, {})


def add_new_positive(positives, similarity, *, weight: float = DEFAULT_FRACTIONS["add_new_positive"],
                     groups=None) -> Edit:
    """AddNewPositive: each view ``x`` gains its most similar other view as a positive (module docstring).

    ``A = (1 - weight) A_S + weight (M + M^T) / 2``, ``M(x, x') = w_x / |T_x|`` for ``x'`` in ``T_x``, the views
    (other than ``x``, and outside ``x``'s group when ``groups`` is given) of maximal ``similarity[x]``: ties
    share the extra positive equally. ``weight`` in ``(0, 1)``.
    """
    a = _check_positives(positives)
    n = a.shape[0]
    sim = _check_similarity(similarity, n)
    beta = _validate.fraction("weight", weight, low_open=True)
    w = _degrees(a)
    groups = _check_groups(groups, n)
    candidate = np.where(groups[:, None] == groups[None, :], -np.inf, sim)
    best = candidate.max(axis=1)
    if not np.all(np.isfinite(best)):
        raise InputError(f"view {int(np.argmin(np.isfinite(best)))} has no candidate for a new positive "
                         "(every other view is in its group)")
    rows, cols = np.nonzero(candidate == best[:, None])
    ties = np.bincount(rows, minlength=n)
    m = sp.csr_array((w[rows] / ties[rows], (rows, cols)), shape=(n, n))
    edited = sp.csr_array((1.0 - beta) * a + (0.5 * beta) * (m + m.T))
    edited.sort_indices()
    stats = {"weight": beta, "added_mass": beta, "tied_views_mean": float(ties.mean())}
    return Edit("add_new_positive", edited, NegativeWeights.product(_degrees(edited)), True, stats)


def drop_false_positive(positives, similarity, *, fraction: float = DEFAULT_FRACTIONS["drop_false_positive"]) -> Edit:
    """DropFalsePositive: remove the ``fraction`` of positive mass on the lowest-similarity pairs, renormalize.

    Unordered pairs ``{x, x'}`` (mass ``2 A_xx'``, or ``A_xx`` on the diagonal) are removed in increasing
    ``similarity``; the pairs at the threshold similarity are thinned by one common factor so that exactly
    ``fraction`` of the mass goes. The result stays symmetric; ``N = w' w'^T`` of the edited graph.
    """
    a = _check_positives(positives)
    n = a.shape[0]
    sim = _check_similarity(similarity, n)
    f = _validate.fraction("fraction", fraction)
    upper = sp.coo_array(sp.triu(a, k=0))
    mass = np.where(upper.row == upper.col, upper.data, 2.0 * upper.data)
    share = _removed_share(sim[upper.row, upper.col], mass, f)
    kept = upper.data * (1.0 - share)
    half = sp.coo_array((kept, (upper.row, upper.col)), shape=(n, n)).tocsr()
    edited = sp.csr_array(half + half.T - sp.diags_array(half.diagonal()))
    edited.eliminate_zeros()
    total = float(edited.sum())
    edited = sp.csr_array(edited / total)
    edited.sort_indices()
    if not np.all(_degrees(edited) > 0):
        raise InputError(f"drop_false_positive with fraction {f} leaves a view without positives")
    stats = {"fraction": f, "removed_mass": float(np.sum(mass * share)),
             "pairs_removed": int(np.sum(share >= 1.0)), "pairs_thinned": int(np.sum((share > 0) & (share < 1)))}
    return Edit("drop_false_positive", edited, NegativeWeights.product(_degrees(edited)), True, stats)


def drop_false_negative(positives, similarity, *, fraction: float = DEFAULT_FRACTIONS["drop_false_negative"],
                        groups=None) -> Edit:
    """DropFalseNegative: in each row of ``N = w w^T`` remove the ``fraction`` of its eligible mass (views outside
    the row's group) on the MOST similar views; see `_drop_negatives`."""
    return _drop_negatives("drop_false_negative", positives, similarity, fraction, groups, most_similar=True)


def drop_easy_negative(positives, similarity, *, fraction: float = DEFAULT_FRACTIONS["drop_easy_negative"],
                       groups=None) -> Edit:
    """DropEasyNegative: in each row of ``N = w w^T`` remove the ``fraction`` of its eligible mass (views outside
    the row's group) on the LEAST similar views; see `_drop_negatives`."""
    return _drop_negatives("drop_easy_negative", positives, similarity, fraction, groups, most_similar=False)


def _drop_negatives(method: str, positives, similarity, fraction, groups, *, most_similar: bool) -> Edit:
    """``N = (w w^T - R) / (1 - sum R)``; ``A`` unchanged.

    Row ``x`` of ``R`` holds the ``fraction`` of ``w_x sum_{x' eligible} w_x'`` on the most (least) similar
    eligible ``x'``, ties shared. Eligible: outside ``x``'s group (``groups=None``: every view but ``x`` itself).
    Pairs inside a group are never removed; that is what keeps the loss bounded below: a group whose pairs all
    lost their negative weight while keeping positive ones would let ``f`` grow without bound on it (the
    quadratic reward ``-2 sum A <f, f'>`` with no quartic penalty). The global rescaling keeps ``sum N = 1`` (a
    scalar on ``N`` only rescales the optimal ``f``; the probe is unchanged). Every entry stays ``>= 0``.
    """
    a = _check_positives(positives)
    n = a.shape[0]
    sim = _check_similarity(similarity, n)
    f = _validate.fraction("fraction", fraction)
    w = _degrees(a)
    groups = _check_groups(groups, n)
    eligible = groups[:, None] != groups[None, :]
    masses = np.where(eligible, w[None, :], 0.0)
    keys = np.where(eligible, -sim if most_similar else sim, np.inf)
    share = np.where(eligible, _removed_share(keys, masses, f), 0.0)
    rows, cols = np.nonzero(share > 0)
    removed = w[rows] * w[cols] * share[rows, cols]
    scale = 1.0 / (1.0 - float(removed.sum()))
    negatives = NegativeWeights.low_rank(scale * w[None], w[None]).plus_pairs(rows, cols, -scale * removed)
    on_positive = np.asarray(a[rows, cols]).ravel() > 0
    stats = {"fraction": f, "removed_mass": float(removed.sum()), "pairs_touched": int(rows.size),
             "removed_on_positive_pairs": float(removed[on_positive].sum() / max(removed.sum(), np.finfo(float).tiny)),
             "rescale": scale}
    return Edit(method, a, negatives, False, stats)


EDITS = {"add_new_positive": add_new_positive, "drop_false_positive": drop_false_positive,
         "drop_false_negative": drop_false_negative, "drop_easy_negative": drop_easy_negative}


def edit(method: str, positives, similarity, *, parameter: float | None = None, groups=None) -> Edit:
    """The edit ``method`` (one of `METHODS`) with its parameter (``None``: `DEFAULT_FRACTIONS`)."""
    if method == "baseline":
        return baseline(positives)
    if method not in EDITS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    value = DEFAULT_FRACTIONS[method] if parameter is None else parameter
    if method == "add_new_positive":
        return add_new_positive(positives, similarity, weight=value, groups=groups)
    if method == "drop_false_positive":
        return drop_false_positive(positives, similarity, fraction=value)
    return EDITS[method](positives, similarity, fraction=value, groups=groups)


def _removed_share(keys: np.ndarray, masses: np.ndarray, fraction: float) -> np.ndarray:
    """Per entry, the share of its mass removed when the ``fraction`` of total mass with the SMALLEST keys goes.

    Works along the last axis (each row of a 2-D input separately). Entries with equal keys form one level and
    share one factor: levels below the threshold go entirely, the threshold level partially, so the removed mass
    is ``fraction`` of the total up to round-off. Sorting based: ``O(n log n)`` per row, vectorized.
    """
    vector = np.ndim(keys) == 1
    keys, masses = np.atleast_2d(keys), np.atleast_2d(np.asarray(masses, dtype=np.float64))
    order = np.argsort(keys, axis=-1, kind="stable")
    k_sorted = np.take_along_axis(keys, order, axis=-1)
    m_sorted = np.take_along_axis(masses, order, axis=-1)
    target = fraction * m_sorted.sum(axis=-1, keepdims=True)
    inclusive = np.cumsum(m_sorted, axis=-1)
    exclusive = inclusive - m_sorted
    size = keys.shape[-1]
    index = np.broadcast_to(np.arange(size), keys.shape)
    starts = np.ones(keys.shape, dtype=bool)
    starts[:, 1:] = k_sorted[:, 1:] != k_sorted[:, :-1]
    ends = np.ones(keys.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, index, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends, index, size - 1)[:, ::-1], axis=-1)[:, ::-1]
    before = np.take_along_axis(exclusive, first, axis=-1)
    level = np.take_along_axis(inclusive, last, axis=-1) - before
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(level > 0, np.clip((target - before) / level, 0.0, 1.0), (before < target) * 1.0)
    out = np.empty_like(share)
    np.put_along_axis(out, order, share, axis=-1)
    return out[0] if vector else out


# ---- measures --------------------------------------------------------------------------------------------------


def positive_phi(positives, labels) -> float:
    """``phi(A) = sum_xx' A_xx' 1[y_x != y_x'] / sum A``: the positive mass joining two classes."""
    coo = sp.coo_array(positives)
    labels = np.asarray(labels)
    return float(coo.data[labels[coo.row] != labels[coo.col]].sum() / coo.data.sum())


def normalized_dense(positives) -> np.ndarray:
    """``Abar = D_w^{-1/2} A D_w^{-1/2}`` as a dense symmetric array (toy sizes)."""
    a = sp.csr_array(positives)
    scale = 1.0 / np.sqrt(_degrees(a))
    abar = scale[:, None] * a.toarray() * scale[None, :]
    return 0.5 * (abar + abar.T)


def spectrum(positives) -> np.ndarray:
    """Eigenvalues of ``Abar``, descending."""
    return np.sort(np.linalg.eigvalsh(normalized_dense(positives)))[::-1]


def exact_optimum(positives, k: int) -> tuple[np.ndarray, float]:
    """The SSCL optimum on ``A`` (``N = w w^T``): ``f = D_w^{-1/2} V_k diag(max(lambda, 0))^{1/2}`` from the top
    ``k`` eigenpairs of ``Abar``, and the minimum ``-sum_{i<=k} max(lambda_i, 0)^2``."""
    a = sp.csr_array(positives)
    values, vectors = np.linalg.eigh(normalized_dense(a))
    order = np.argsort(values)[::-1][:k]
    top = np.maximum(values[order], 0.0)
    f = vectors[:, order] * np.sqrt(top) / np.sqrt(_degrees(a))[:, None]
    return f, float(-np.sum(top**2))



# ---- helpers ---------------------------------------------------------------------------------------------------


def _degrees(a) -> np.ndarray:
    return np.asarray(sp.csr_array(a).sum(axis=1)).ravel()



def _check_positives(positives) -> sp.csr_array:
    a = sp.csr_array(positives, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise InputError(f"positives must be a square sparse matrix, got shape {a.shape}")
    if a.shape[0] > MAX_NODES:
        raise InputError(f"the resampling edits are dense: at most {MAX_NODES} views, got {a.shape[0]}")
    if a.nnz and (not np.all(np.isfinite(a.data)) or a.data.min() < 0):
        raise InputError("positives must have finite, nonnegative entries")
    total = float(a.sum())
    if not abs(total - 1.0) <= 1e-9:
        raise InputError(f"positives must sum to 1 (a joint over view pairs), got {total}")
    if abs(a - a.T).max() > 1e-12 * max(float(a.max()), np.finfo(float).tiny):
        raise InputError("positives must be symmetric")
    if not np.all(_degrees(a) > 0):
        raise InputError("every view needs a positive degree w = A 1")
    a.sort_indices()
    return a


def _check_similarity(similarity, n: int) -> np.ndarray:
    s = np.asarray(similarity, dtype=np.float64)
    if s.shape != (n, n):
        raise InputError(f"similarity must have shape ({n}, {n}), got {s.shape}")
    if not np.all(np.isfinite(s)):
        raise InputError("similarity must be finite")
    return s


def _check_groups(groups, n: int) -> np.ndarray:
    """``groups`` as an ``(n,)`` array; None means every view is its own group."""
    if groups is None:
        return np.arange(n)
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise InputError(f"groups must have shape ({n},), got {groups.shape}")
    return groups
