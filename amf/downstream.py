"""Downstream quantities of docs/theory.md T4, computed from the edges and labels (never from a dense ``A_V``).

- ``alpha = sum_ij P_ij 1[y_V(i) != y_L(j)]`` over labeled texts: image–text label disagreement;
- ``phi = sum_ii' A_V(i, i') 1[y_V(i) != y_V(i')] = 1 - sum_j sum_c P_cj^2 / p_L(j)``, with ``P_cj`` the mass
  of class-``c`` images on text ``j``: disagreement of text-induced pairs (summed as
  ``sum_jc P_cj (p_L(j) - P_cj) / p_L(j)``, nonnegative terms);
- the least-squares probe ``B* = argmin_B sum_i p_V(i) ||f_V(i)^T B - e_{y_V(i)}||^2`` solved through the
  ``k x k`` normal equations, and its ``p_V``-weighted error ``E_LS``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from amf.graph import CoOccurrence


def class_indicator(labels: np.ndarray) -> sp.csr_array:
    """One-hot ``Y`` (``N x C``, sparse), one column per distinct label in increasing order (``C`` is the number
    of classes present, whatever the label ids: ImageNet-style ids cost nothing extra)."""
    n = len(labels)
    _, column = np.unique(labels, return_inverse=True)
    return sp.csr_array((np.ones(n), (np.arange(n), column.ravel())), shape=(n, int(column.max()) + 1))


def predicted_labels(graph: CoOccurrence, f_images: np.ndarray) -> np.ndarray:
    """The least-squares probe's class for every image: the label id of its arg-max score (``N_V,``)."""
    classes = np.unique(graph.image_labels)
    return classes[np.argmax(probe_scores(graph, f_images), axis=1)]


def alpha(graph: CoOccurrence) -> float | None:
    """Image–text label disagreement ``alpha``; None without both label arrays."""
    if graph.image_labels is None or graph.text_labels is None:
        return None
    coo = graph.joint.tocoo()
    text_label = graph.text_labels[coo.col]
    disagree = (text_label >= 0) & (graph.image_labels[coo.row] != text_label)
    return float(coo.data[disagree].sum())


def phi(graph: CoOccurrence) -> float | None:
    """Disagreement ``phi`` of text-induced image pairs; None without image labels."""
    if graph.image_labels is None:
        return None
    mass = sp.coo_array(class_indicator(graph.image_labels).T @ graph.joint)  # P_cj, C x N_L
    text_mass = np.bincount(mass.col, weights=mass.data, minlength=graph.n_texts)  # sum_c P_cj = p_L(j)
    # phi = sum_j sum_c P_cj (p_L(j) - P_cj) / p_L(j): every term >= 0, no cancellation near phi = 0
    return float(np.sum(mass.data * (text_mass[mass.col] - mass.data) / text_mass[mass.col]))


def all_texts_labeled(graph: CoOccurrence) -> bool:
    return graph.text_labels is not None and bool(np.all(graph.text_labels >= 0))


def probe_error_ls(graph: CoOccurrence, f_images: np.ndarray) -> float | None:
    """``E_LS``: ``p_V``-weighted error of the least-squares linear probe on ``f_V (N_V, k)``; None without labels.

    A point counts as an error when the arg-max of its score ``f_V(i)^T B*`` is not its class.
    """
    if graph.image_labels is None:
        return None
    predicted = predicted_labels(graph, f_images)
    return float(graph.p_images[predicted != graph.image_labels].sum())


def probe_scores(graph: CoOccurrence, f_images: np.ndarray) -> np.ndarray:
    """Fitted scores ``f_V B*`` (``N_V x C``, columns the distinct labels in increasing order) of the least-squares
    probe on ``f_V (N_V, k)`` (needs image labels).

    Normal equations ``(f_V^T D_V f_V) B = f_V^T D_V Y`` (``k x k``), solved by least squares so a
    rank-deficient ``f_V`` still gives the minimum-norm probe.
    """
    f = np.asarray(f_images, dtype=np.float64)
    weights = graph.p_images
    y = class_indicator(graph.image_labels)
    gram = f.T @ (weights[:, None] * f)
    rhs = (y.T @ (weights[:, None] * f)).T  # f^T D_V Y, k x C
    probe, *_ = np.linalg.lstsq(gram, rhs, rcond=None)
    return f @ probe


def bounds(
    phi: float | None, alpha: float | None, s_next: float, unit_tolerance: float
) -> dict[str, float | None]:
    """The T4 bounds at ``s_{k+1}``: ``rigorous_phi = 2 phi / (1 - s^2)`` and ``rigorous_alpha = 4 alpha / (1 - s^2)``
    (proved), and the paper's form ``4 alpha / (1 - s^2) + 8 alpha`` (constants not confirmed; reported beside
    the proved form). None where undefined: ``phi`` or ``alpha`` None (the caller passes ``alpha = None`` unless
    every text is labeled: with unlabeled texts ``4 alpha / (1 - s^2)`` is no bound), or ``s_{k+1}`` 1 up to
    ``unit_tolerance`` (no spectral gap: more components than ``k``, say)."""
    gap = 1.0 - s_next**2
    defined = s_next < 1.0 - unit_tolerance
    return {
        "rigorous_phi": 2 * phi / gap if defined and phi is not None else None,
        "rigorous_alpha": 4 * alpha / gap if defined and alpha is not None else None,
        "paper_form": 4 * alpha / gap + 8 * alpha if defined and alpha is not None else None,
    }
