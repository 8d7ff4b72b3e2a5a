"""Captions and augmentations over the same views: one generator, two arms, matched by construction (T5).

docs/theory.md T5 says captions beat augmentations through two properties of the graph: **consistency** (a
smaller ``phi``) and **diversity** (a larger ``spectral_gap = 1 - s_{k+1}^2``: a caption links many different
images of its class, an augmentation only views of one instance). This generator gives both arms everything
else in common, so a comparison between them measures those two properties and nothing else.

Common to both arms (for one ``seed``, the same numbers in both):

- **Views** ``x = 0 .. N_V - 1``: ``r`` classes x ``n`` sources per class x ``v`` views per source; the source
  of ``x`` is ``x // v`` and its class ``y(x) = x // (n v)``. These are the images ``E_LS`` is measured on.
- **Columns** (the "text" side): ``n`` per class, ``N_L = r n`` (class ``j // n``); columns that end up with
  no edge are dropped (they carry no mass, so ``P`` does not change).
- **Degrees**: view ``x`` has ``d(x) = min(r n, floor(d_min U^{-1 / (gamma - 1)}))`` edges of weight 1
  (``U`` uniform on (0, 1]: a discrete power law with exponent ``gamma``, like caption counts), so
  ``p_V(x) = d(x) / sum d`` is the same in both arms.
- **Per-edge model**: every edge of ``x`` independently goes
  - with probability ``eps`` (``noise``) to a uniformly random column of another class (an inconsistent edge);
  - else, with probability ``delta`` (``diversity``), to a uniformly random column of ``x``'s class;
  - else to ``x``'s **home** column ``h(x)``.
  The uniforms and targets are drawn per edge before ``eps`` and ``delta`` are applied (common random numbers),
  so a graph changes edge by edge as ``eps`` or ``delta`` moves, and two arms of one seed are paired.

What differs, the ``arm``:

- ``augmentations``: ``h(x)`` is the column of ``x``'s source: views of one source share a column (SSCL as a
  views x sources co-occurrence, docs/theory.md T3 converse).
- ``captions``: ``h(x)`` comes from a uniformly random partition of each class's views into ``n`` groups of
  ``v``: images share a caption whatever their source.

Both groupings split a class into ``n`` groups of ``v`` views, so at equal ``(delta, eps)`` the two arms are
identically distributed up to a relabelling of the views: any difference between them is made by ``delta``
(diversity) and ``eps`` (consistency), which `amf.experiments.mmcl_vs_sscl` sets per arm. ``delta = 0`` and
``eps = 0`` give ``r n`` separate groups (``s_{k+1} = 1``); ``delta = 1`` spreads every clean edge over the class.
"""

from __future__ import annotations

import numpy as np

from amf._validate import integer, real

from ._edges import Edges

__all__ = ["ARMS", "matched_model"]

ARMS = ("captions", "augmentations")


def matched_model(*, arm: str = "captions", n_classes: int = 4, sources_per_class: int = 16,
                  views_per_source: int = 4, min_degree: int = 3, degree_exponent: float = 2.5,
                  diversity: float = 0.5, noise: float = 0.1, seed: int = 0) -> Edges:
    """One arm of the matched pair (module docstring).

    Parameters
    ----------
    arm : "captions" or "augmentations"
        How the home columns group the views: a random partition of the class, or by source.
    n_classes : int >= 2
        ``r``.
    sources_per_class : int >= 1
        ``n``: source images per class, and columns per class.
    views_per_source : int >= 1
        ``v``: views per source, and views per home column.
    min_degree : int >= 1
        ``d_min``, the smallest number of edges of a view.
    degree_exponent : float > 1 or inf
        ``gamma`` of the degree law (``inf``: every view has ``d_min`` edges).
    diversity : float in [0, 1]
        ``delta``: probability that a consistent edge goes to a random column of the class instead of home.
    noise : float in [0, 1]
        ``eps``: probability that an edge goes to a random column of another class.
    seed : int >= 0
        Seeds ``np.random.default_rng``; the draws do not depend on ``arm``, ``diversity`` or ``noise``.

    Returns
    -------
    Edges with ``shape = (r n v, N_L)``, ``N_L <= r n`` (empty columns dropped), weights 1 (duplicate pairs are
    separate entries), ``image_labels = y`` and ``text_labels`` the columns' classes.
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {', '.join(ARMS)}, got {arm!r}")
    r = integer("n_classes", n_classes, low=2)
    n = integer("sources_per_class", sources_per_class, low=1)
    v = integer("views_per_source", views_per_source, low=1)
    d_min = integer("min_degree", min_degree, low=1)
    gamma = real("degree_exponent", degree_exponent, low=1.0, low_open=True, allow_inf=True, note=" (or inf)")
    delta = real("diversity", diversity, low=0.0, high=1.0)
    eps = real("noise", noise, low=0.0, high=1.0)
    seed = integer("seed", seed, low=0)
    rng = np.random.default_rng(seed)

    n_views, n_cols = r * n * v, r * n
    views = np.arange(n_views, dtype=np.int64)
    label = views // (n * v)
    # every draw below happens whatever the arm and the probabilities (common random numbers)
    u = 1.0 - rng.random(n_views)  # in (0, 1]
    degree = np.full(n_views, d_min, dtype=np.int64) if np.isinf(gamma) else \
        np.minimum(n_cols, np.floor(d_min * u ** (-1.0 / (gamma - 1.0)))).astype(np.int64)
    partition = np.concatenate([c * n * v + rng.permutation(n * v) for c in range(r)])  # class-wise shuffles
    rows = np.repeat(views, degree)
    n_edges = rows.size
    u_noise, u_diverse = rng.random(n_edges), rng.random(n_edges)
    other = rng.integers(0, (r - 1) * n, size=n_edges)  # a column of another class
    spread = rng.integers(0, n, size=n_edges)           # a column of the own class

    if arm == "augmentations":
        home = views // v                                          # the view's source
    else:
        home = np.empty(n_views, dtype=np.int64)
        home[partition] = views // v                               # groups of v views of one class, any source
    y = label[rows]
    cols = home[rows]
    diverse = u_diverse < delta
    cols = np.where(diverse, y * n + spread, cols)
    noisy = u_noise < eps
    cols = np.where(noisy, ((y + 1 + other // n) % r) * n + other % n, cols)

    used = np.zeros(n_cols, dtype=bool)
    used[cols] = True
    renumber = np.cumsum(used) - 1
    return Edges(
        rows=rows,
        cols=renumber[cols],
        weights=np.ones(n_edges),
        shape=(n_views, int(used.sum())),
        image_labels=label,
        text_labels=(np.arange(n_cols, dtype=np.int64) // n)[used],
        model="matched",
        params=dict(arm=arm, n_classes=r, sources_per_class=n, views_per_source=v, min_degree=d_min,
                    degree_exponent=gamma, diversity=delta, noise=eps, seed=seed),
    )
