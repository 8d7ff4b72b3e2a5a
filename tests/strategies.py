"""Hypothesis strategies for random image–text graphs.

Sizes come from a few fixed shapes so the jitted solvers compile a handful of times, not once per example.
Every node gets at least one edge (a random matching plus random extra edges); weights span three orders of
magnitude; labels follow a planted class structure with label noise, and some texts may be unlabeled.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

SHAPES = [(12, 9), (20, 20), (30, 16)]


@st.composite
def graph_arrays(draw, *, shapes=SHAPES, labels: bool = True, all_texts_labeled: bool | None = None):
    """Arrays ``(rows, cols, weights, shape, image_labels, text_labels)`` of a valid random graph."""
    n_v, n_l = draw(st.sampled_from(shapes))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.05, 0.15, 0.4, 1.0]))
    n_classes = draw(st.integers(2, 4))
    noise = draw(st.sampled_from([0.0, 0.1, 0.5]))
    rng = np.random.default_rng(seed)
    image_class = rng.integers(0, n_classes, n_v)
    text_class = rng.integers(0, n_classes, n_l)
    same = image_class[:, None] == text_class[None, :]
    keep = rng.random((n_v, n_l)) < density * np.where(same, 1.0, noise)
    # every image and every text gets one edge, so all marginals are positive
    keep[np.arange(n_v), rng.integers(0, n_l, n_v)] = True
    keep[rng.integers(0, n_v, n_l), np.arange(n_l)] = True
    rows, cols = np.nonzero(keep)
    weights = 10.0 ** rng.uniform(-1.5, 1.5, len(rows))
    image_labels = text_labels = None
    if labels:
        flip = rng.random(n_v) < noise / 2
        image_labels = np.where(flip, rng.integers(0, n_classes, n_v), image_class)
        unlabeled = draw(st.booleans()) if all_texts_labeled is None else not all_texts_labeled
        text_labels = np.where(unlabeled & (rng.random(n_l) < 0.3), -1, text_class)
    return rows, cols, weights, (n_v, n_l), image_labels, text_labels
