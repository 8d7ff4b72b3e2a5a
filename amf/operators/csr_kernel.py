"""CSR times a dense block on the CPU: a numba kernel parallel over row bands, with scipy as the fallback.

``csr_block(indptr, indices, data, cuts, x)`` returns ``Y = A X`` for a CSR matrix ``A (m, n)`` (``indptr
(m + 1,)``, ``indices``, ``data (nnz,)``) and a C-order block ``X (n, b)``: each row of ``X`` (``b`` numbers)
is contiguous, so every stored entry ``a_ij`` gathers one short contiguous row ``x_j`` and the matrix is read
once for all ``b`` columns. Row band ``t`` (rows ``cuts[t]:cuts[t + 1]``, about ``nnz / bands`` entries each)
is one task of numba's ``prange``; a row's ``b`` sums stay in a small accumulator and are written once.

Why a kernel of its own (docs/performance.md, ``python benchmarks/bench_spectral.py --kernels``): scipy's CSR
matvec is single-threaded and reads the matrix once per column, and its multi-vector product is slower per column
than its matvec at ``10^6`` rows. The cost of the kernel at ``10^6`` rows and ``10^7`` entries is one random
gather of ``b`` numbers per entry (memory latency, not bandwidth, for ``b <= 8``): per column it falls from
about 11 ms at ``b = 8`` to 6.5 ms at ``b = 32`` in float64 (scipy's matvec: 18 ms), and by up to 2x more when
rows and columns are ordered so that neighbouring entries gather neighbouring rows (`amf.operators.ordering`).

Fallback. Without numba (`HAVE_NUMBA` False) the same function multiplies each band with scipy's CSR kernel
in a thread per band and one matvec per column (scipy releases the GIL), the layout amf used before.
The kernel is compiled once per dtype and cached on disk (numba's ``cache=True``, in ``__pycache__``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

try:
    import numba
except ImportError:  # optional at run time: the scipy fallback below
    numba = None

HAVE_NUMBA = numba is not None
"""Whether the numba kernel is available (else every product takes the scipy fallback)."""

_POOL: ThreadPoolExecutor | None = None


def threads() -> int:
    """Threads used for a product: the CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(threads(), thread_name_prefix="amf-csr")
    return _POOL


def band_cuts(indptr: np.ndarray, n_bands: int) -> np.ndarray:
    """Row boundaries ``cuts (n_bands + 1,)`` (int64, non-decreasing, ``0 .. m``) of bands with about equal
    numbers of stored entries."""
    m = indptr.shape[0] - 1
    n_bands = max(1, min(int(n_bands), max(m, 1)))
    cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], n_bands + 1), side="left")
    cuts[0], cuts[-1] = 0, m
    return np.maximum.accumulate(np.clip(cuts, 0, m)).astype(np.int64)


def _numba_rows(indptr, indices, data, start, stop, x, y):  # pragma: no cover - compiled by numba
    """``y[start:stop] = A[start:stop] X``: one band, serial (a thread of `_pool` runs it without the GIL)."""
    b = x.shape[1]
    acc = np.empty(b, dtype=y.dtype)
    for i in range(start, stop):
        for j in range(b):
            acc[j] = 0
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            v = data[p]
            for j in range(b):
                acc[j] += v * x[c, j]
        for j in range(b):
            y[i, j] = acc[j]


NARROW = 4
"""Widest block `_numba_narrow` multiplies (scalar accumulators); wider blocks take `_numba_rows`."""


def _numba_narrow(indptr, indices, data, start, stop, x, y):  # pragma: no cover - compiled by numba
    """`_numba_rows` for ``b <= NARROW`` columns, the sums in scalars (registers) instead of an array: 1.3-1.5x
    faster at ``b = 1, 2`` (the complement test's products), no faster at ``b = 4`` and slower at ``b = 8``
    (``10^5`` and ``10^6`` rows, docs/performance.md)."""
    b = x.shape[1]
    for i in range(start, stop):
        a0 = a1 = a2 = a3 = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            c = indices[p]
            v = data[p]
            a0 += v * x[c, 0]
            if b > 1:
                a1 += v * x[c, 1]
                if b > 2:
                    a2 += v * x[c, 2]
                    if b > 3:
                        a3 += v * x[c, 3]
        y[i, 0] = a0
        if b > 1:
            y[i, 1] = a1
        if b > 2:
            y[i, 2] = a2
        if b > 3:
            y[i, 3] = a3


if HAVE_NUMBA:
    _numba_rows = numba.njit(cache=True, boundscheck=False, nogil=True)(_numba_rows)
    _numba_narrow = numba.njit(cache=True, boundscheck=False, nogil=True)(_numba_narrow)


def _numba_block(indptr, indices, data, cuts, x, y):
    """One thread of `_pool` per band, each running the compiled `_numba_rows` without the GIL (Python threads
    sleep between products, where an OpenMP team would spin against the BLAS threads of the next GEMM)."""
    bands = range(cuts.shape[0] - 1)
    rows = _numba_narrow if x.shape[1] <= NARROW else _numba_rows
    if len(bands) == 1:
        rows(indptr, indices, data, cuts[0], cuts[1], x, y)
        return
    for _ in _pool().map(lambda t: rows(indptr, indices, data, cuts[t], cuts[t + 1], x, y), bands):
        pass


def _scipy_block(indptr, indices, data, cuts, x, y):
    """The fallback: one thread per band, scipy's CSR matvec per column."""
    n = x.shape[0]
    xt = np.ascontiguousarray(x.T)

    def band(t):
        start, stop = int(cuts[t]), int(cuts[t + 1])
        lo, hi = int(indptr[start]), int(indptr[stop])
        csr = sp.csr_array((data[lo:hi], indices[lo:hi], indptr[start : stop + 1] - lo), shape=(stop - start, n))
        for j in range(xt.shape[0]):
            y[start:stop, j] = csr @ xt[j]

    for _ in _pool().map(band, range(cuts.shape[0] - 1)):
        pass


def csr_block(indptr, indices, data, cuts, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``A X`` (``(m, b)``, C order, ``data``'s dtype) for CSR ``A`` in row bands ``cuts`` and ``X (n, b)``.

    ``x`` is converted to a C-order array of ``data``'s dtype if it is not one; ``out`` (``(m, b)``, C order,
    that dtype) receives the result when given.
    """
    x = np.ascontiguousarray(x, dtype=data.dtype)
    m = indptr.shape[0] - 1
    y = np.empty((m, x.shape[1]), data.dtype) if out is None else out
    if x.shape[1] == 0 or m == 0:
        y[...] = 0
        return y
    (_numba_block if HAVE_NUMBA else _scipy_block)(indptr, indices, data, cuts, x, y)
    return y
