"""Locality orderings of a sparse matrix's rows and columns, for the host kernel (`amf.operators.csr_kernel`).

The kernel's cost at ``10^6`` rows is one random gather of a ``b``-number row of ``X`` per stored entry, bound
by memory latency. When rows and columns are ordered so that a row's entries point at nearby rows of ``X``
(entries of a planted class fall inside the class's block), the gathers hit the cache: on planted graphs,
ordering by class made the kernel markedly faster (docs/performance.md). Orderings that use the matrix alone
were measured too and gained nothing there: descending degree (the power-law hubs together) and reverse
Cuthill–McKee (slow to compute; a random-like graph has few, wide BFS levels). So the ordering used is by labels, where a graph has them
(`label_order`), and none otherwise.

An ordering is a pair ``(rows, cols)`` of permutations: the stored matrix is ``A[rows][:, cols]``, row ``i`` of
the stored matrix is row ``rows[i]`` of ``A`` (`amf.operators.host_csr.HostCSR` applies it inside and undoes it
in every product it returns).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["label_order", "is_permutation", "permuted"]


def label_order(matrix, row_labels=None, col_labels=None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(rows, cols)``: rows sorted by ``row_labels`` and columns by ``col_labels`` (stable), each class by
    descending degree; a side without labels keeps its order. ``None`` when neither side has labels.

    ``matrix``: scipy sparse ``(m, n)``; labels: integer arrays of length ``m`` and ``n`` (any values, e.g.
    ``-1`` for unlabelled texts).
    """
    if row_labels is None and col_labels is None:
        return None
    csr = sp.csr_array(matrix)
    m, n = csr.shape
    row_degree = np.diff(csr.indptr)
    col_degree = np.bincount(csr.indices, minlength=n)
    return _side(row_labels, row_degree, m), _side(col_labels, col_degree, n)


def _side(labels, degree: np.ndarray, size: int) -> np.ndarray:
    if labels is None:
        return np.arange(size, dtype=np.int64)
    labels = np.asarray(labels)
    if labels.shape != (size,):
        raise ValueError(f"labels must have shape ({size},), got {labels.shape}")
    return np.lexsort((-degree, labels)).astype(np.int64)


def is_permutation(order, size: int) -> bool:
    """Whether ``order`` is a permutation of ``0 .. size - 1``."""
    order = np.asarray(order)
    return order.shape == (size,) and np.array_equal(np.sort(order), np.arange(size))


def permuted(matrix, rows: np.ndarray, cols: np.ndarray) -> sp.csr_array:
    """``matrix[rows][:, cols]`` as canonical CSR (sorted indices, duplicates summed): the columns relabelled by
    the inverse of ``cols`` (one gather of the indices), then the rows taken in order ``rows``; scipy's column
    indexing would build an index map per row instead."""
    csr = sp.csr_array(matrix)
    if not csr.has_canonical_format:  # on a copy: the arrays may be the caller's
        csr = csr.copy()
        csr.sum_duplicates()
    inverse = np.empty_like(cols)
    inverse[cols] = np.arange(cols.shape[0], dtype=cols.dtype)
    relabelled = sp.csr_array((csr.data, inverse[csr.indices], csr.indptr), shape=csr.shape)
    out = sp.csr_array(relabelled[rows])
    out.sort_indices()
    return out
