"""The block model of docs/theory.md section 4 and its closed forms.

``r`` classes, ``n`` images and ``m`` texts per class (``N_V = r n``, ``N_L = r m``). Every image–text pair gets
weight ``a`` (``within``) when image and text share a class and ``b`` (``across``) otherwise:

    W = (a - b) Y_V Y_L^T + b 1 1^T,      Y_V = one-hot classes (N_V x r),  Y_L (N_L x r).

Every image has the same degree ``m (a + (r-1) b)`` and every text ``n (a + (r-1) b)``, so

    Pn = W / (sqrt(n m) (a + (r-1) b)),

whose singular values are ``1`` (the all-ones direction), ``|a - b| / (a + (r-1) b)`` with multiplicity ``r - 1``
(class contrasts), and ``0`` for the remaining ``min(N_V, N_L) - r`` directions.
"""

from __future__ import annotations

import numpy as np

from amf._validate import integer, real

from ._edges import Edges

__all__ = ["block_model", "block_model_closed_form"]


def _check(n_classes, images_per_class, texts_per_class, within, across):
    r = integer("n_classes", n_classes, low=2)
    n = integer("images_per_class", images_per_class, low=1)
    m = integer("texts_per_class", texts_per_class, low=1)
    a = real("within", within, low=0.0, low_open=True)
    b = real("across", across, low=0.0)
    return r, n, m, a, b


def block_model(*, n_classes: int = 4, images_per_class: int = 8, texts_per_class: int = 6,
                within: float = 1.0, across: float = 0.1, seed: int = 0) -> Edges:
    """The r-class block co-occurrence graph (deterministic).

    Parameters
    ----------
    n_classes : int >= 2
        ``r``, the number of classes.
    images_per_class, texts_per_class : int >= 1
        ``n`` and ``m``: images ``c n .. c n + n - 1`` and texts ``c m .. c m + m - 1`` belong to class ``c``.
    within : float > 0
        ``a``, the weight of every same-class image–text pair.
    across : float >= 0
        ``b``, the weight of every cross-class pair; ``b = 0`` stores no cross-class edge (``r`` components).
    seed : int >= 0
        Accepted and recorded for a uniform interface; unused (the model is deterministic).

    Returns
    -------
    Edges with ``shape = (r n, r m)``, ``nnz = N_V N_L`` when ``b > 0`` else ``r n m`` (no duplicates),
    ``image_labels = i // n`` and ``text_labels = j // m``. Closed forms: ``block_model_closed_form``.
    """
    r, n, m, a, b = _check(n_classes, images_per_class, texts_per_class, within, across)
    seed = integer("seed", seed, low=0)
    n_v, n_l = r * n, r * m
    if b > 0:  # all N_V x N_L pairs, row-major
        rows = np.repeat(np.arange(n_v, dtype=np.int64), n_l)
        cols = np.tile(np.arange(n_l, dtype=np.int64), n_v)
        weights = np.where(rows // n == cols // m, a, b)
    else:  # only the r diagonal n x m blocks
        rows = np.repeat(np.arange(n_v, dtype=np.int64), m)
        cols = (rows // n) * m + np.tile(np.arange(m, dtype=np.int64), n_v)
        weights = np.full(rows.shape[0], a)
    return Edges(
        rows=rows,
        cols=cols,
        weights=weights.astype(np.float64),
        shape=(n_v, n_l),
        image_labels=np.arange(n_v, dtype=np.int64) // n,
        text_labels=np.arange(n_l, dtype=np.int64) // m,
        model="block",
        params=dict(n_classes=r, images_per_class=n, texts_per_class=m, within=a, across=b, seed=seed),
    )


def block_model_closed_form(*, n_classes: int = 4, within: float = 1.0, across: float = 0.1,
                            images_per_class: int = 8, texts_per_class: int = 6) -> dict:
    """Exact spectral and labeling quantities of ``block_model`` (docs/theory.md section 4).

    Returns a dict with

    - ``singular_values``: float64 array of length ``min(N_V, N_L)``, descending: ``1``, then ``r - 1`` copies of
      ``|a - b| / (a + (r-1) b)``, then zeros;
    - ``alpha = (r-1) b / (a + (r-1) b)``: image–text label disagreement ``sum_ij P_ij 1[y_V(i) != y_L(j)]``;
    - ``phi = 1 - (1 - alpha)^2 - alpha^2 / (r-1)``: disagreement of the text-induced pairs ``A_V = P D_L^-1 P^T``
      (a step image -> text stays in class with probability ``1 - alpha`` and otherwise moves to a uniformly random
      other class; the same for text -> image);
    - ``n_components``: connected components of the bipartite graph, ``1`` if ``b > 0`` else ``r`` (the
      multiplicity of ``s = 1``).
    """
    r, n, m, a, b = _check(n_classes, images_per_class, texts_per_class, within, across)
    denom = a + (r - 1) * b
    s = np.zeros(min(r * n, r * m))
    s[0] = 1.0
    s[1:r] = abs(a - b) / denom  # <= 1 for r >= 2, so already descending
    alpha = (r - 1) * b / denom
    phi = 1.0 - (1.0 - alpha) ** 2 - alpha ** 2 / (r - 1)
    return {
        "singular_values": s,
        "alpha": float(alpha),
        "phi": float(phi),
        "n_components": 1 if b > 0 else r,
    }
