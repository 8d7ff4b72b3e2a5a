"""The text-induced image graph of docs/theory.md T3: MMCL performs SSCL on images that share a caption.

Draw a text ``j ~ p_L``, then two images independently from ``P(. | j)``: their joint is
``A_V = P D_L^{-1} P^T`` (``N_V x N_V``), with degrees ``A_V 1 = p_V`` and normalized form
``Abar_V = D_V^{-1/2} A_V D_V^{-1/2} = Pn Pn^T``. The text side is ``A_L = P^T D_V^{-1} P``.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from amf.graph import CoOccurrence, Joint


def text_induced_graph(graph: CoOccurrence) -> sp.csr_array:
    """``A_V = P D_L^{-1} P^T`` as a sparse ``N_V x N_V`` matrix (entries for image pairs sharing a text).

    Its number of nonzeros is up to ``sum_j deg(j)^2``: use `text_induced_matmat` on large graphs.
    """
    p = graph.joint
    a = sp.csr_array(p @ sp.diags_array(1.0 / graph.p_texts) @ p.T)
    a.sort_indices()
    return a


def image_induced_graph(graph: CoOccurrence) -> sp.csr_array:
    """``A_L = P^T D_V^{-1} P`` (``N_L x N_L``): texts that share an image."""
    p = graph.joint
    return sp.csr_array(p.T @ sp.diags_array(1.0 / graph.p_images) @ p)


def text_induced_matmat(graph: CoOccurrence, x: np.ndarray, *, normalized: bool = True) -> np.ndarray:
    """``Abar_V X`` (or ``A_V X`` with ``normalized=False``) for ``X (N_V, b)``, without forming ``A_V``.

    Goes through ``P`` and ``D_L^{-1}``: ``A_V X = P (D_L^{-1} (P^T X))``, ``O(nnz b)``.
    """
    p = graph.joint
    x = np.asarray(x, dtype=np.float64)
    vector = x.ndim == 1
    x = x[:, None] if vector else x
    scale = 1.0 / np.sqrt(graph.p_images)[:, None] if normalized else 1.0
    y = p @ ((p.T @ (x * scale)) / graph.p_texts[:, None])
    y = y * scale
    return y[:, 0] if vector else y


def pairs_joint(a: sp.csr_array, dtype=np.float64) -> Joint:
    """A symmetric pair graph ``A`` (sums to 1) as a `Joint` with both marginals ``w = A 1``, for `sscl_loss`."""
    coo = sp.coo_array(sp.csr_array(a))
    order = np.lexsort((coo.col, coo.row))
    degrees = np.asarray(a.sum(axis=1)).ravel()
    return Joint(
        rows=jnp.asarray(coo.row[order], dtype=jnp.int32),
        cols=jnp.asarray(coo.col[order], dtype=jnp.int32),
        mass=jnp.asarray(coo.data[order], dtype=dtype),
        p_images=jnp.asarray(degrees, dtype=dtype),
        p_texts=jnp.asarray(degrees, dtype=dtype),
    )
