"""A Krylov basis as a stack of blocks on the host, and the GEMMs over it that the host solvers run.

A basis of ``J`` blocks of ``d`` columns over ``N`` is stored as ``V (J, N, d)``: block ``j`` is an ``(N, d)``
C-order array aligned to a cache line (`amf.operators.csr_kernel.ALIGN`), the layout the sparse kernel
gathers from, so a block is multiplied where it lies and a product writes its result into the next block: no
transposing copy between the basis and the kernel, and no new ``(N, d)`` array per step. The stack lives in an
anonymous memory map (`stack`), so that `release` returns the pages of blocks no longer needed to the system at
once (the final Ritz vectors are computed in place over the first blocks).

The GEMMs against ``V`` (`coefficients` ``V^T w``, `subtract_span` ``w -= V h``, `combine` ``V S``, `gram`,
`times_small`) split ``N`` into one range per thread of the kernel's pool and each range into panels, so that
the host solvers' OpenBLAS runs single-threaded (`single_blas`) and shares those threads with the sparse
products; no idle BLAS thread spins against the kernel's. docs/performance.md has the measurements behind the
panel sizes.
"""

from __future__ import annotations

import contextlib
import mmap

import numpy as np

from amf.operators.csr_kernel import ALIGN, aligned_empty, pool, threads

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # a checkout run without installing it (benchmarks/gpu_check.sh): OpenBLAS keeps its threads
    threadpool_limits = None

__all__ = ["coefficients", "columns", "combine", "each_panel", "gram", "panel", "reduce_panels", "release",
           "single_blas", "stack", "subtract_span", "times_small", "times_small_rows", "unstack"]

PANEL = 8192
"""Most rows of ``N`` per GEMM panel against a stack of blocks, and in `times_small` (a panel of an ``(N, 8)``
float64 block is 512 KB: it stays in a core's L2 while the basis blocks stream past it)."""

PANEL_BYTES = 2**20
"""Bytes of basis rows one GEMM panel reads when the basis is one column per block (``V (J, N, 1)``, read as
``J`` rows of ``N``): about one core's L2 cache (1 MiB on the machine of docs/performance.md). A panel that
outgrows it makes OpenBLAS's packing spill, and the GEMM runs at a fraction of the memory's rate."""


def panel(rows: int, itemsize: int) -> int:
    """Columns of ``N`` per GEMM panel against ``rows`` basis rows of ``itemsize`` bytes: the largest power of two
    whose ``rows x panel`` block fits in `PANEL_BYTES`, between 256 and `PANEL`."""
    fit = PANEL_BYTES // max(1, rows * itemsize)
    return int(min(PANEL, max(256, 1 << max(0, fit.bit_length() - 1))))


def single_blas():
    """A context in which OpenBLAS runs one thread: the host solvers split their GEMMs over the kernel's threads
    themselves, and OpenBLAS's own idle threads would spin against those after every call
    (docs/performance.md)."""
    return contextlib.nullcontext() if threadpool_limits is None else threadpool_limits(1, user_api="blas")


def stack(count: int, n: int, width: int, dtype) -> np.ndarray:
    """Zeros ``V (count, n, width)`` whose blocks ``V[j] (n, width)`` are C-order and start on an `ALIGN`-byte
    boundary (rows padded to a whole number of cache lines between blocks), in an anonymous memory map that
    `release` can shrink."""
    dtype = np.dtype(dtype)
    line = ALIGN // np.gcd(ALIGN, width * dtype.itemsize)  # rows per whole number of cache lines
    padded = -(-max(n, 1) // line) * line
    size = count * padded * width * dtype.itemsize
    private = getattr(mmap, "MAP_PRIVATE", None)
    # private anonymous: zero pages, page-aligned, whose pages MADV_DONTNEED frees (a shared mapping keeps them)
    buffer = (mmap.mmap(-1, max(size, 1)) if private is None else
              mmap.mmap(-1, max(size, 1), flags=private | mmap.MAP_ANONYMOUS))
    if size >= 2**22 and hasattr(mmap, "MADV_HUGEPAGE"):
        buffer.madvise(mmap.MADV_HUGEPAGE)  # as numpy does for its own large arrays: fewer TLB misses
    flat = np.frombuffer(buffer, dtype, count * padded * width)
    return flat.reshape(count, padded, width)[:, :n]


def release(blocks: np.ndarray, first: int) -> None:
    """Return the pages from block ``first`` of ``blocks`` (a `stack` or a slice of one) to the end of its memory
    map to the system: their contents are undefined after, the blocks before ``first`` are untouched. A no-op
    where the platform has no ``MADV_DONTNEED``."""
    owner = blocks
    while owner is not None and not isinstance(owner, mmap.mmap):
        owner = owner.obj if isinstance(owner, memoryview) else owner.base
    if owner is None or not hasattr(mmap, "MADV_DONTNEED") or first >= blocks.shape[0]:
        return
    offset = blocks[first:].ctypes.data - np.frombuffer(owner, np.uint8, 1).ctypes.data  # from the map's start
    begin = -(-offset // mmap.PAGESIZE) * mmap.PAGESIZE
    if begin < len(owner):
        owner.madvise(mmap.MADV_DONTNEED, begin, len(owner) - begin)


def _spans(n: int) -> list[tuple[int, int]]:
    """``[0, n)`` split into one contiguous range per thread of the kernel's pool."""
    step = max(1, -(-n // threads()))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _panels(span: tuple[int, int], step: int):
    """The slices of ``[span[0], span[1])`` in pieces of ``step``, the last one ragged."""
    return (slice(start, min(span[1], start + step)) for start in range(span[0], span[1], step))


def _each_span(part, n: int) -> None:
    """Run ``part(span)`` for every range of `_spans` on the kernel's pool."""
    for _ in pool().map(part, _spans(n)):
        pass


def each_panel(apply, n: int, step: int = PANEL) -> None:
    """Run ``apply(piece)`` for every panel ``piece`` (a slice of ``[0, n)`` of ``step`` rows), one range of
    panels per thread of the kernel's pool: for writes to disjoint rows."""
    def part(span):
        for piece in _panels(span, step):
            apply(piece)

    _each_span(part, n)


def reduce_panels(term, n: int, step: int = PANEL):
    """``sum(term(piece))`` over the panels of ``[0, n)`` of ``step`` rows, one range of panels per thread of the
    kernel's pool (``n >= 1``)."""
    def part(span):
        total = 0
        for piece in _panels(span, step):
            total = total + term(piece)
        return total

    return sum(pool().map(part, _spans(n)))


def coefficients(blocks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``V^T w`` (``(J d, b)``) for the stack ``V (J, N, d)`` and ``w (N, b)``: row ``j d + i`` is column ``i`` of
    block ``j`` against ``w``. Blocks of one column are read as ``J`` rows of ``N`` (one GEMM per panel of
    `panel` columns, within a core's L2); wider blocks by one batched GEMM per panel of `PANEL` rows."""
    count, n, width = blocks.shape
    if width == 1:
        rows = blocks[:, :, 0]
        total = reduce_panels(lambda piece: rows[:, piece] @ w[piece], n, panel(count, blocks.itemsize))
    else:
        total = reduce_panels(lambda piece: np.matmul(blocks[:, piece].transpose(0, 2, 1), w[piece]), n)
    return np.asarray(total, np.result_type(blocks, w)).reshape(count * width, w.shape[1])


def subtract_span(w: np.ndarray, blocks: np.ndarray, h: np.ndarray) -> None:
    """``w -= V h`` in place for ``w (N, b)``, the stack ``V (J, N, d)`` and ``h (J d, b)``, in panels: the
    temporary of a thread is one panel of ``w`` for one-column blocks, ``J`` of them (the products block by block,
    then summed) for wider blocks."""
    count, n, width = blocks.shape
    if width == 1:
        rows = blocks[:, :, 0]

        def apply(piece):
            w[piece] -= rows[:, piece].T @ h

        each_panel(apply, n, panel(count, blocks.itemsize))
    else:
        small = h.reshape(count, width, h.shape[1])

        def apply(piece):
            w[piece] -= np.matmul(blocks[:, piece], small).sum(axis=0)

        each_panel(apply, n)


def unstack(blocks: np.ndarray, piece: slice) -> np.ndarray:
    """Rows ``piece`` of the stack ``V (J, N, d)`` as one ``(rows, J d)`` C-order array (a copy, a view when
    ``J = 1``): the panel ``[V_0 | V_1 | ...]``."""
    count, _, width = blocks.shape
    return blocks[:, piece].transpose(1, 0, 2).reshape(-1, count * width)


def combine(blocks: np.ndarray, select: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``V S`` for the stack ``V (J, N, d)`` and ``select S (J d, c)``, one panel of `panel` rows at a time.

    ``out``: a stack ``(c / d, N, d)`` that receives it, which may be the first blocks of ``V`` itself (each
    panel is read whole before it is written: a restart in place); by default a new aligned ``(N, c)`` array.
    Each thread gathers its panel of ``[V_0 | V_1 | ...]`` into one buffer it keeps (a GEMM input that fits a
    core's L2) and multiplies it into another (docs/performance.md)."""
    count, n, width = blocks.shape
    c = select.shape[1]
    dtype = np.result_type(blocks, select)
    target = aligned_empty((n, c), dtype) if out is None else out
    step = panel(count * width, blocks.itemsize)

    def part(span):
        gathered = np.empty((step, count, width), blocks.dtype)
        result = np.empty((step, c), dtype)
        for piece in _panels(span, step):
            rows = piece.stop - piece.start
            for j in range(count):
                gathered[:rows, j] = blocks[j, piece]
            if out is None:
                np.matmul(gathered[:rows].reshape(rows, count * width), select, out=target[piece])
                continue
            np.matmul(gathered[:rows].reshape(rows, count * width), select, out=result[:rows])
            split = result[:rows].reshape(rows, c // width, width)
            for i in range(c // width):
                target[i, piece] = split[:, i]

    _each_span(part, n)
    return target


def columns(blocks: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` columns of the stack ``V (J, N, d)`` as one new aligned ``(N, count)`` array."""
    out = aligned_empty((blocks.shape[1], count), blocks.dtype)

    def apply(piece):
        out[piece] = unstack(blocks, piece)[:, :count]

    each_panel(apply, blocks.shape[1])
    return out


def gram(w: np.ndarray) -> np.ndarray:
    """``w^T w`` (``(b, b)``) for ``w (N, b)``."""
    return coefficients(w[None], w)


def times_small(w: np.ndarray, small: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``w @ small`` (``(N, b) x (b, b')``), one range of rows of ``w`` per thread of the kernel's pool, in row
    panels of `PANEL`. ``out``: where to write it (``w`` itself for a square ``small``: row panels make that
    safe); by default a new array aligned for the kernel (`amf.operators.csr_kernel.aligned_empty`)."""
    if out is None:
        out = aligned_empty((w.shape[0], small.shape[1]), np.result_type(w, small))

    def apply(piece):
        out[piece] = w[piece] @ small  # a temporary panel: safe when out is w

    each_panel(apply, w.shape[0])
    return out


def times_small_rows(w: np.ndarray, small: np.ndarray) -> np.ndarray:
    """``(w @ small)^T`` (``(b', N)``, C order) for ``w (N, b)`` and ``small (b, b')``, in row panels of ``w``
    split over the kernel's pool: the rows the caller keeps, without an ``(N, b')`` array beside them."""
    out = np.empty((small.shape[1], w.shape[0]), np.result_type(w, small))
    small_t = np.ascontiguousarray(small.T)

    def apply(piece):
        out[:, piece] = small_t @ w[piece].T

    each_panel(apply, w.shape[0])
    return out
