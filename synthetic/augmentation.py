"""An SSCL augmentation graph written as a co-occurrence (docs/theory.md T3 converse, T5).

docs/theory.md T3: an augmentation graph is a co-occurrence ``Q(x, xbar) = p(xbar) A(x | xbar)`` between augmented
views ``x`` and source images ``xbar``; its positive-pair graph ``Q D_xbar^{-1} Q^T`` is the SSCL graph ``A_S``. So
SSCL is MMCL with views on the "image" side (rows) and sources on the "text" side (cols).

Construction, with ``r`` classes, ``n`` source images per class and ``v`` views per source:

- sources ``xbar = 0 .. r n - 1``, class ``xbar // n`` (the ``N_L = r n`` columns);
- views ``x = xbar v + t`` for ``t = 0 .. v - 1`` (the ``N_V = r n v`` rows), class of their source;
- every view links to its own source with weight 1;
- when ``strength = s > 0`` (and ``n >= 2``), every view also links with weight ``s`` to ONE other source of the
  same class, drawn uniformly (an augmentation that happens to look like another instance); never across classes.

- when ``confusion = c > 0``, every view also links with weight ``c`` to ONE source of another class (an
  aggressive augmentation that changed the object).

With ``c = 0``, ``alpha = phi = 0`` (perfect consistency), but with small ``s`` the graph is poorly connected within a class:
``Abar_S`` has eigenvalues near 1 well beyond ``r`` (low diversity), the opposite trade-off to captions.

Not a fair opponent for a caption graph: every view has exactly three edges, its weight-1 own-source edge is
always of its class and its cross-class share is fixed at ``c / (1 + s + c)``, so no view has a majority of its
mass on another class and ``E_LS = 0`` is all but guaranteed, whatever the spectrum. Captions against
augmentations are compared on `synthetic.matched_model` (same views, degrees and per-edge noise); this model
stays for the resampling simulator (`amf.experiments.clip_resampling`).
"""

from __future__ import annotations

import numpy as np

from amf._validate import integer, real

from ._edges import Edges

__all__ = ["augmentation_model"]


def augmentation_model(*, n_classes: int = 4, images_per_class: int = 8, views_per_image: int = 4,
                       strength: float = 0.2, confusion: float = 0.0, seed: int = 0) -> Edges:
    """Views x source images co-occurrence of an augmentation graph (see the module docstring).

    Parameters
    ----------
    n_classes : int >= 1
        ``r``.
    images_per_class : int >= 1
        ``n`` source images per class (with ``n = 1`` there is no other instance, so no cross-instance edge).
    views_per_image : int >= 1
        ``v`` augmented views per source image.
    strength : float in [0, 1)
        ``s``, the weight of each view's edge to another same-class source (own source: 1); 0 = no such edges.
    confusion : float in [0, 1)
        ``c``, the weight of each view's edge to ONE random source of ANOTHER class (an aggressive augmentation
        that changes the object; needs ``r >= 2``); 0 = perfectly consistent augmentations (``alpha = phi = 0``).
    seed : int >= 0
        Seeds ``np.random.default_rng`` for the choice of the other sources.

    Returns
    -------
    Edges with ``shape = (r n v, r n)``; ``nnz = r n v``, plus ``r n v`` for each of the other-instance
    (``s > 0``, ``n >= 2``) and other-class (``c > 0``) edges; labels = class on both sides.
    """
    r = integer("n_classes", n_classes, low=1)
    n = integer("images_per_class", images_per_class, low=1)
    v = integer("views_per_image", views_per_image, low=1)
    s = real("strength", strength, low=0.0, high=1.0, high_open=True)
    c = real("confusion", confusion, low=0.0, high=1.0, high_open=True)
    if c > 0 and r < 2:
        raise ValueError(f"confusion must be 0 when n_classes == 1 (no other class), got {c}")
    seed = integer("seed", seed, low=0)
    rng = np.random.default_rng(seed)

    n_src = r * n
    n_views = n_src * v
    views = np.arange(n_views, dtype=np.int64)
    source = views // v
    rows, cols, weights = views, source, np.ones(n_views)
    if s > 0 and n >= 2:
        cls, local = source // n, source % n
        other = cls * n + (local + rng.integers(1, n, size=n_views)) % n  # uniform over the n - 1 others
        rows = np.concatenate([rows, views])
        cols = np.concatenate([cols, other])
        weights = np.concatenate([weights, np.full(n_views, s)])
    if c > 0:
        other_class = (source // n + rng.integers(1, r, size=n_views)) % r
        rows = np.concatenate([rows, views])
        cols = np.concatenate([cols, other_class * n + rng.integers(0, n, size=n_views)])
        weights = np.concatenate([weights, np.full(n_views, c)])
    return Edges(
        rows=rows,
        cols=cols,
        weights=weights,
        shape=(n_views, n_src),
        image_labels=source // n,
        text_labels=np.arange(n_src, dtype=np.int64) // n,
        model="augmentation",
        params=dict(n_classes=r, images_per_class=n, views_per_image=v, strength=s, confusion=c,
                    seed=seed),
    )
