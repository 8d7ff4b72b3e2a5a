"""The diversity model of docs/theory.md section 4 (T5): classes split into styles.

``r`` classes, each split into ``g`` styles; every style has ``n`` images and ``m`` texts, so
``N_V = r g n``, ``N_L = r g m``. Image ``i`` has style ``i // n`` and class ``i // (g n)``; text ``j`` has style
``j // m`` and class ``j // (g m)``. With ``d`` = ``diversity`` and ``eps`` = ``noise`` the weight matrix is

    W = (1 - d) S_V S_L^T + (d - eps) C_V C_L^T + eps 1 1^T,

i.e. a text of style (c, s) links with weight 1 to the images of its own style, ``d`` to the images of the other
styles of class c, and ``eps`` to the images of other classes (zero-weight pairs are not stored). ``S`` and ``C``
are the one-hot style and class indicators. Every image has degree ``m Z`` and every text ``n Z`` with
``Z = 1 + (g-1) d + (r-1) g eps``, and the nested block structure gives the singular values of ``Pn`` exactly:

- ``1`` (constant direction);
- ``(1 + (g-1) d - g eps) / Z`` with multiplicity ``r - 1`` (class contrasts);
- ``(1 - d) / Z`` with multiplicity ``r (g - 1)`` (style contrasts inside a class);
- ``0`` for the rest.

Low diversity (``d = 0``, small ``eps``): about ``r g`` singular values near 1, so at ``k = r`` the spectral gap
``1 - s_{r+1}^2`` closes and the T4 bound blows up. High diversity (``d = 1``): the model is the block model with
``n g`` images and ``m g`` texts per class and ``s_{r+1} = 0``.
"""

from __future__ import annotations

import numpy as np

from amf._validate import integer, real

from ._edges import Edges

__all__ = ["diversity_model", "diversity_model_closed_form"]


def _check(n_classes, styles_per_class, images_per_style, texts_per_style, diversity, noise):
    r = integer("n_classes", n_classes, low=2)
    g = integer("styles_per_class", styles_per_class, low=1)
    n = integer("images_per_style", images_per_style, low=1)
    m = integer("texts_per_style", texts_per_style, low=1)
    d = real("diversity", diversity, low=0.0, high=1.0)
    eps = real("noise", noise, low=0.0)
    return r, g, n, m, d, eps


def diversity_model(*, n_classes: int = 4, styles_per_class: int = 3, images_per_style: int = 6,
                    texts_per_style: int = 4, diversity: float = 0.0, noise: float = 0.01,
                    seed: int = 0) -> Edges:
    """Co-occurrence graph of classes split into styles (deterministic).

    Parameters
    ----------
    n_classes : int >= 2
        ``r``.
    styles_per_class : int >= 1
        ``g``.
    images_per_style, texts_per_style : int >= 1
        ``n`` and ``m``.
    diversity : float in [0, 1]
        ``d``, the weight between a text and the images of the *other* styles of its class (own style: 1).
    noise : float >= 0
        ``eps``, the weight between a text and every image of another class.
    seed : int >= 0
        Accepted and recorded for a uniform interface; unused.

    Returns
    -------
    Edges with ``shape = (r g n, r g m)``, one entry per positive-weight pair (no duplicates), class labels
    ``i // (g n)`` and ``j // (g m)``. Exact spectrum: ``diversity_model_closed_form``.
    """
    r, g, n, m, d, eps = _check(n_classes, styles_per_class, images_per_style, texts_per_style, diversity, noise)
    seed = integer("seed", seed, low=0)
    n_v, n_l = r * g * n, r * g * m
    rows = np.repeat(np.arange(n_v, dtype=np.int64), n_l)
    cols = np.tile(np.arange(n_l, dtype=np.int64), n_v)
    same_style = rows // n == cols // m
    same_class = rows // (g * n) == cols // (g * m)
    weights = np.where(same_style, 1.0, np.where(same_class, d, eps))
    keep = weights > 0
    return Edges(
        rows=rows[keep],
        cols=cols[keep],
        weights=weights[keep].astype(np.float64),
        shape=(n_v, n_l),
        image_labels=np.arange(n_v, dtype=np.int64) // (g * n),
        text_labels=np.arange(n_l, dtype=np.int64) // (g * m),
        model="diversity",
        params=dict(n_classes=r, styles_per_class=g, images_per_style=n, texts_per_style=m,
                    diversity=d, noise=eps, seed=seed),
    )


def diversity_model_closed_form(*, n_classes: int = 4, styles_per_class: int = 3, images_per_style: int = 6,
                                texts_per_style: int = 4, diversity: float = 0.0, noise: float = 0.01) -> dict:
    """Exact quantities of ``diversity_model`` (see the module docstring for the derivation).

    Returns ``singular_values`` (length ``min(N_V, N_L)``, descending), ``alpha = (r-1) g eps / Z``,
    ``phi = 1 - (1 - alpha)^2 - alpha^2 / (r-1)`` (class moves are uniform over the other classes, as in the block
    model) and ``n_components`` (1 if ``eps > 0``; else ``r`` if ``d > 0``; else ``r g``).
    """
    r, g, n, m, d, eps = _check(n_classes, styles_per_class, images_per_style, texts_per_style, diversity, noise)
    z = 1.0 + (g - 1) * d + (r - 1) * g * eps
    s = np.zeros(min(r * g * n, r * g * m))
    s[0] = 1.0
    s[1:r] = abs(1.0 + (g - 1) * d - g * eps) / z
    s[r:r * g] = abs(1.0 - d) / z
    s[::-1].sort()
    alpha = (r - 1) * g * eps / z
    phi = 1.0 - (1.0 - alpha) ** 2 - alpha ** 2 / (r - 1)
    n_components = 1 if eps > 0 else (r if d > 0 else r * g)
    return {"singular_values": s, "alpha": float(alpha), "phi": float(phi), "n_components": n_components}
