"""Large random co-occurrence graphs: a degree-corrected planted partition with power-law activities.

Model (``K`` classes, ``N_V`` images, ``N_L`` texts, ``E`` edges, ``eps`` = ``noise``, ``gamma`` =
``degree_exponent``):

1. **Classes.** Class sizes are balanced (``N // K`` or one more, larger classes first); which node gets which class
   is a uniform random permutation. ``y_V`` and the true text classes ``y_L``.
2. **Activities.** Every node has an activity ``theta`` drawn i.i.d. from the Pareto law
   ``P(theta > x) = x^{-(gamma - 1)}`` (``x >= 1``), so expected degrees have the power-law tail
   ``P(deg = d) ~ d^{-gamma}``; ``gamma = inf`` gives equal activities. (Computed in log space, so any
   ``gamma > 1`` is safe.)
3. **Skeleton** (``B = N_V + N_L`` edges, weight 1). Every image gets one edge to a text of its class drawn by
   activity, and every text one edge to an image of its class drawn by activity, so every node has an edge
   (positive marginals, docs/theory.md section 1) and low-activity nodes hang on the class's hubs: each class is
   connected with high probability (a one-to-one pairing would leave many two-node components, so that ``s = 1``
   had a huge multiplicity). With probability ``eps`` the partner is drawn by activity from all classes instead.
4. **Sampled edges** (``M = E - B``, weight 1 each). Each edge independently draws an image ``i ~ theta_V``; with
   probability ``1 - eps`` a text ``j ~ theta_L`` restricted to class ``y_V(i)``, otherwise ``j ~ theta_L`` over
   all texts. So, in expectation,

       W_ij = skeleton_ij + M theta_V(i)/Theta_V * theta_L(j) * [(1 - eps) 1[y_V(i) = y_L(j)] / Theta_L(y_V(i))
                                                                 + eps / Theta_L],

   with ``Theta`` the total (or per-class) activity. The within-class share of the edge mass is
   ``1 - eps (1 - q)``, ``q = sum_c share_V(c) share_L(c) ~ 1/K`` (a class-random text can land in the same class).
5. **Caption noise.** A ``label_noise`` fraction of the texts (Bernoulli per text) get their *label* replaced by a
   uniformly random different class; the edges are unchanged (this is drawn last, so for a fixed seed the graph
   does not depend on ``label_noise``).

Sampling is exact and vectorized: per-node edge counts are multinomial and expanded with ``np.repeat``; within a
class the image ends and text ends are paired by a random shuffle (one numpy call per class, no loop over nodes or
edges). Duplicate pairs are kept as separate entries of weight 1 (consumers add them up, docs/file-format.md). Memory is
``O(E)``: a few ``E``-length int64 arrays, never an ``N_V x N_L`` one.
"""

from __future__ import annotations

import numpy as np

from amf._validate import integer, real

from ._edges import Edges

__all__ = ["planted_model"]


def _class_sizes(n: int, k: int) -> np.ndarray:
    """Balanced, nonincreasing class sizes: ``n // k`` plus one for the first ``n % k`` classes."""
    return np.full(k, n // k, dtype=np.int64) + (np.arange(k) < n % k)


def _log_activity(rng: np.random.Generator, n: int, gamma: float) -> np.ndarray:
    """``log theta`` for ``theta ~ Pareto(tail index gamma - 1, x_min = 1)``: ``Exp(1) / (gamma - 1)``."""
    if np.isinf(gamma):
        return np.zeros(n)
    log_theta = rng.standard_exponential(n)
    log_theta /= gamma - 1.0
    return log_theta


def _normalized(log_theta: np.ndarray) -> np.ndarray:
    p = np.exp(log_theta - log_theta.max())
    p /= p.sum()
    return p


def _draw_in_class(rng, p: np.ndarray, start: np.ndarray, classes: np.ndarray, eps: float) -> np.ndarray:
    """One position per entry of ``classes``, drawn by the activities ``p`` (indexed by position, positions sorted
    by class, class ``c`` at ``start[c]:start[c+1]``) inside that class, or over all positions with prob. ``eps``."""
    cum = np.cumsum(p)
    low = np.concatenate([[0.0], cum])[start[classes]]
    high = cum[start[classes + 1] - 1]
    anywhere = rng.random(len(classes)) < eps
    low[anywhere], high[anywhere] = 0.0, cum[-1]
    u = low + rng.random(len(classes)) * (high - low)
    return np.minimum(np.searchsorted(cum, u, side="right"), len(p) - 1)


def planted_model(*, n_images: int = 10000, n_texts: int = 10000, n_edges: int = 100000, n_classes: int = 16,
                  noise: float = 0.1, degree_exponent: float = 2.5, label_noise: float = 0.0,
                  seed: int = 0) -> Edges:
    """A large random co-occurrence graph with planted classes and power-law degrees (module docstring).

    Parameters
    ----------
    n_images, n_texts : int >= 1
        ``N_V`` and ``N_L``.
    n_edges : int >= n_images + n_texts
        ``E``, the number of stored entries (weight 1 each; duplicate pairs possible).
    n_classes : int in [1, min(n_images, n_texts)]
        ``K`` (every class gets at least one image and one text).
    noise : float in [0, 1]
        ``eps``, the probability that an edge's text ignores the image's class.
    degree_exponent : float > 1 or inf
        ``gamma``, the power-law exponent of the activity (and expected degree) distribution.
    label_noise : float in [0, 1]
        Fraction of text labels replaced by a random different class (needs ``n_classes >= 2`` when > 0).
    seed : int >= 0
        Seeds ``np.random.default_rng``.

    Returns
    -------
    Edges with ``shape = (N_V, N_L)``, ``nnz = E``, ``weights = 1``, ``image_labels = y_V`` (int64 in
    ``[0, K)``) and ``text_labels`` (int64 in ``[0, K)``, the true class up to ``label_noise``).

    Cost: about 1-2 s for ``10^6 x 10^6`` nodes and ``10^7`` edges on two cores
    (``benchmarks/bench_generate.py``).
    """
    n_v = integer("n_images", n_images, low=1)
    n_l = integer("n_texts", n_texts, low=1)
    k = integer("n_classes", n_classes, low=1, high=min(n_v, n_l),
                high_label=f"min(n_images, n_texts) = {min(n_v, n_l)}")
    n_base = n_v + n_l
    n_e = integer("n_edges", n_edges, low=n_base, low_label=f"n_images + n_texts = {n_base}")
    eps = real("noise", noise, low=0.0, high=1.0)
    gamma = real("degree_exponent", degree_exponent, low=1.0, low_open=True, allow_inf=True,
                 note=" (or inf)")
    flip_rate = real("label_noise", label_noise, low=0.0, high=1.0)
    if k == 1 and flip_rate > 0:
        raise ValueError(f"label_noise must be 0 when n_classes == 1 (no other class to flip to), got {flip_rate}")
    seed = integer("seed", seed, low=0)
    rng = np.random.default_rng(seed)

    # 1. classes: position t in the permutation -> node perm[t]; positions are sorted by class
    img_perm = rng.permutation(n_v)
    txt_perm = rng.permutation(n_l)
    size_v, size_l = _class_sizes(n_v, k), _class_sizes(n_l, k)
    start_v = np.concatenate([[0], np.cumsum(size_v)])
    start_l = np.concatenate([[0], np.cumsum(size_l)])
    image_labels = np.empty(n_v, dtype=np.int64)
    image_labels[img_perm] = np.repeat(np.arange(k, dtype=np.int64), size_v)
    text_classes = np.empty(n_l, dtype=np.int64)
    text_classes[txt_perm] = np.repeat(np.arange(k, dtype=np.int64), size_l)

    # 2. activities, indexed by position
    log_theta_v = _log_activity(rng, n_v, gamma)
    log_theta_l = _log_activity(rng, n_l, gamma)

    rows = np.empty(n_e, dtype=np.int64)
    cols = np.empty(n_e, dtype=np.int64)

    # 3. skeleton: every node draws one partner by activity, inside its class (or anywhere, with prob. eps)
    p_v, p_l = _normalized(log_theta_v), _normalized(log_theta_l)
    image_class = np.repeat(np.arange(k), size_v)  # class of each image position
    text_class = np.repeat(np.arange(k), size_l)
    rows[:n_v] = img_perm
    cols[:n_v] = txt_perm[_draw_in_class(rng, p_l, start_l, image_class, eps)]
    rows[n_v:n_base] = img_perm[_draw_in_class(rng, p_v, start_v, text_class, eps)]
    cols[n_v:n_base] = txt_perm
    del image_class, text_class

    # 4. sampled edges: M = n_in (text in the image's class) + n_out (text from all classes)
    n_rest = n_e - n_base
    n_out = int(rng.binomial(n_rest, eps)) if n_rest else 0
    n_in = n_rest - n_out
    count_v = rng.multinomial(n_in, p_v)                     # image ends of the within-class edges
    per_class_in = np.add.reduceat(count_v, start_v[:-1])    # edges whose image is in class c
    count_l = np.empty(n_l, dtype=np.int64)
    for c in range(k):  # one multinomial per class: texts by activity within the class
        lo, hi = start_l[c], start_l[c + 1]
        count_l[lo:hi] = rng.multinomial(per_class_in[c], _normalized(log_theta_l[lo:hi]))
    a, b = n_base, n_base + n_in
    rows[a:b] = np.repeat(img_perm, count_v)                 # grouped by class, block c has per_class_in[c]
    cols[a:b] = np.repeat(txt_perm, count_l)                 # same blocks
    edge_start = a + np.concatenate([[0], np.cumsum(per_class_in)])
    for c in range(k):  # random pairing of image ends and text ends inside each class block
        rng.shuffle(cols[edge_start[c]:edge_start[c + 1]])
    del count_v, count_l
    if n_out:
        rows[b:] = np.repeat(img_perm, rng.multinomial(n_out, p_v))
        cols[b:] = np.repeat(txt_perm, rng.multinomial(n_out, p_l))
        rng.shuffle(cols[b:])

    # 5. caption noise on the labels only (drawn last: the graph does not depend on label_noise)
    text_labels = text_classes
    if flip_rate > 0:
        flip = np.flatnonzero(rng.random(n_l) < flip_rate)
        text_labels[flip] = (text_labels[flip] + rng.integers(1, k, size=flip.size)) % k

    return Edges(
        rows=rows,
        cols=cols,
        weights=np.ones(n_e),
        shape=(n_v, n_l),
        image_labels=image_labels,
        text_labels=text_labels,
        model="planted",
        params=dict(n_images=n_v, n_texts=n_l, n_edges=n_e, n_classes=k, noise=eps, degree_exponent=gamma,
                    label_noise=flip_rate, seed=seed),
    )
