"""CSR times a dense block on the CPU: a numba kernel parallel over row bands, with scipy as the fallback.

``csr_block(indptr, indices, data, cuts, x)`` returns ``Y = A X`` for a CSR matrix ``A (m, n)`` (``indptr
(m + 1,)``, ``indices``, ``data (nnz,)``) and a C-order block ``X (n, b)``: each row of ``X`` (``b`` numbers)
is contiguous, so every stored entry ``a_ij`` gathers one short contiguous row ``x_j`` and the matrix is read
once for all ``b`` columns. Row band ``t`` (rows ``cuts[t]:cuts[t + 1]``, about ``nnz / bands`` entries each)
is one task of the thread `pool`; a row's ``b`` sums stay in a small accumulator and are written once.

Why a kernel of its own (docs/performance.md, ``python benchmarks/bench_spectral.py --kernels``): scipy's CSR
matvec is single-threaded and reads the matrix once per column, and its multi-vector product is slower per column
than its matvec at ``10^6`` rows. At ``10^6`` rows and ``10^7`` entries the cost is one random gather of ``b``
numbers per entry, which misses every cache once ``X`` outgrows the L3 (memory latency, not bandwidth). Two
things keep the misses in flight: the row ``PREFETCH`` entries ahead is prefetched, and blocks are aligned to a
cache line (`ALIGN`), so a row of 8 float64 is one line. docs/performance.md gives what each of the two
measured.

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


def pool() -> ThreadPoolExecutor:
    """The process's pool of `threads` threads: the kernels' bands, and the host solvers' GEMM halves."""
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


PREFETCH = 16
"""Stored entries ahead whose row of ``X`` a kernel asks the CPU to fetch (``llvm.prefetch``): the gathers are
memory latency, and without the hint the core keeps only a few in flight (16 measured best of 8, 16 and 32:
docs/performance.md)."""

ALIGN = 64
"""Byte alignment of the blocks the kernels gather from (`aligned_empty`): a cache line, so that a row of 8
float64 is one line, not two (numpy's 16-byte alignment splits it; the measured gain is in
docs/performance.md)."""


def _no_prefetch(x, row, col):  # pragma: no cover - compiled by numba
    """A kernel's prefetch where ``llvm.prefetch`` cannot be compiled (`_compile`)."""


def _rows(indptr, indices, data, start, stop, x, y, line):  # pragma: no cover - compiled by numba
    """``y[start:stop] = A[start:stop] X``: one band, serial (a thread of `pool` runs it without the GIL); the
    row ``PREFETCH`` entries ahead is prefetched, one call per cache line of ``line`` numbers."""
    b = x.shape[1]
    acc = np.empty(b, dtype=y.dtype)
    last = indptr[stop] - 1 - PREFETCH
    for i in range(start, stop):
        for j in range(b):
            acc[j] = 0
        for p in range(indptr[i], indptr[i + 1]):
            if p <= last:
                ahead = indices[p + PREFETCH]
                for j in range(0, b, line):
                    _prefetch(x, ahead, j)
            c = indices[p]
            v = data[p]
            for j in range(b):
                acc[j] += v * x[c, j]
        for j in range(b):
            y[i, j] = acc[j]


NARROW = 4
"""Widest block `_narrow` multiplies (scalar accumulators); wider blocks take `_rows`."""


def _narrow(indptr, indices, data, start, stop, x, y, line):  # pragma: no cover - compiled by numba
    """`_rows` for ``b <= NARROW`` columns (one cache line of ``X`` per entry), the sums in scalars (registers)
    instead of an array: faster at ``b = 1, 2`` (the complement test's products), not at ``b = 4`` and slower at
    ``b = 8`` (measured at ``10^5`` and ``10^6`` rows, docs/performance.md)."""
    b = x.shape[1]
    last = indptr[stop] - 1 - PREFETCH
    for i in range(start, stop):
        a0 = a1 = a2 = a3 = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            if p <= last:
                _prefetch(x, indices[p + PREFETCH], 0)
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


_prefetch = _no_prefetch
_KERNELS: tuple | None = None


def _llvm_prefetch():
    """``prefetch(x, row, col)``: a numba intrinsic that emits ``llvm.prefetch`` (read, high locality, data) of
    the address of ``x[row, col]``; no code runs, nothing is loaded."""
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def prefetch(typingctx, x, row, col):
        def codegen(context, builder, signature, args):
            array_type = signature.args[0]
            array = context.make_array(array_type)(context, builder, args[0])
            index = [context.cast(builder, v, t, types.intp) for v, t in zip(args[1:], signature.args[1:])]
            pointer = cgutils.get_item_pointer2(context, builder, data=array.data,
                                                shape=cgutils.unpack_tuple(builder, array.shape),
                                                strides=cgutils.unpack_tuple(builder, array.strides),
                                                layout=array_type.layout, inds=index)
            byte = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            function = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]), "llvm.prefetch.p0i8")
            builder.call(function, [builder.bitcast(pointer, byte), i32(0), i32(3), i32(1)])
            return context.get_dummy_value()

        return types.void(x, row, col), codegen

    return prefetch


def _compile() -> tuple:
    """``(rows, narrow)`` compiled by numba (cached on disk), with `_llvm_prefetch`, or without it when it does
    not compile on this numba (checked on a 2 x 2 product once per process)."""
    global _KERNELS, _prefetch
    if _KERNELS is None:
        for hint in (_llvm_prefetch, None):
            # the fallback is not cached: numba's disk cache does not see which _prefetch a kernel was built with
            jit = numba.njit(cache=hint is not None, boundscheck=False, nogil=True)
            try:
                _prefetch = hint() if hint is not None else jit(_no_prefetch)
                kernels = (jit(_rows), jit(_narrow))
                probe = np.ones((2, 1))
                for kernel in kernels:
                    kernel(np.array([0, 1, 2], np.int32), np.array([0, 1], np.int32), np.ones(2), 0, 2, probe,
                           np.empty((2, 1)), 8)
                _KERNELS = kernels
                break
            except Exception:  # noqa: BLE001 - numba's lowering errors have no common public base
                if hint is None:
                    raise
    return _KERNELS


SMALL = 500_000
"""Stored entries below which `csr_block` takes the scipy path while numba's kernels are not yet loaded in this
process: loading them (numba's start-up, even from its disk cache) costs more than a whole ``k = 32`` solve of a
``10^4``-node graph through scipy's kernel, while at ``10^5`` nodes numba wins (docs/performance.md)."""


def aligned_empty(shape: tuple[int, int], dtype) -> np.ndarray:
    """An uninitialized C-order array whose data starts on an `ALIGN`-byte boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape))
    buffer = np.empty(size + ALIGN // dtype.itemsize, dtype)
    offset = (-buffer.ctypes.data % ALIGN) // dtype.itemsize
    return buffer[offset : offset + size].reshape(shape)


def aligned(x: np.ndarray, dtype) -> np.ndarray:
    """``x`` as a C-order, `ALIGN`-byte-aligned array of ``dtype``: itself when it is one, else a copy."""
    if x.dtype == dtype and x.flags.c_contiguous and x.ctypes.data % ALIGN == 0:
        return x
    out = aligned_empty(x.shape, dtype)
    out[...] = x
    return out


def _numba_block(indptr, indices, data, cuts, x, y):
    """One thread of `pool` per band, each running the compiled `_rows` (or `_narrow`) without the GIL (Python threads
    sleep between products, where an OpenMP team would spin against the BLAS threads of the next GEMM)."""
    bands = range(cuts.shape[0] - 1)
    wide, narrow = _compile()
    rows = narrow if x.shape[1] <= NARROW else wide
    line = ALIGN // x.dtype.itemsize
    if len(bands) == 1:
        rows(indptr, indices, data, cuts[0], cuts[1], x, y, line)
        return
    for _ in pool().map(lambda t: rows(indptr, indices, data, cuts[t], cuts[t + 1], x, y, line), bands):
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

    for _ in pool().map(band, range(cuts.shape[0] - 1)):
        pass


def csr_block(indptr, indices, data, cuts, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``A X`` (``(m, b)``, C order, ``data``'s dtype) for CSR ``A`` in row bands ``cuts`` and ``X (n, b)``.

    ``x`` is copied to an aligned C-order array of ``data``'s dtype (`aligned`) unless it is one; ``out`` (``(m,
    b)``, C order, that dtype) receives the result when given, else a new aligned array, so that a chain of
    products (``A^T (A X)``) copies nothing.
    """
    compiled = HAVE_NUMBA and (_KERNELS is not None or data.shape[0] >= SMALL)
    x = aligned(np.asarray(x), data.dtype) if compiled else np.ascontiguousarray(x, dtype=data.dtype)
    m = indptr.shape[0] - 1
    y = aligned_empty((m, x.shape[1]), data.dtype) if out is None else out
    if x.shape[1] == 0 or m == 0:
        y[...] = 0
        return y
    (_numba_block if compiled else _scipy_block)(indptr, indices, data, cuts, x, y)
    return y
