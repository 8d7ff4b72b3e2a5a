"""Sparse products on the CPU through scipy's CSR kernel, run in threads and called from jitted code.

On a CPU, XLA's gather is the bottleneck of every pure-JAX sparse product (`amf.operators.jagged`): at ``10^6`` rows and
``10^7`` entries it costs 1.5-3x scipy's single-threaded CSR matvec per column. `HostCSR` keeps the matrix on
the host as scipy CSR (int32 indices when they fit) split into row bands of equal nonzero counts, and computes
``A X`` inside jitted code with `jax.pure_callback`: each band is one thread (scipy's kernel releases the GIL)
and each column of ``X`` is one matvec, because a single column of the right-hand side (``8 n`` bytes) stays
in the last-level cache while a block of columns does not (scipy's multi-vector kernel is slower per column
than its matvec at this size, docs/performance.md).

docs/performance.md compares this layout with scipy's single-threaded kernel, jax BCOO, a gather +
``segment_sum`` and the jagged layout (``python benchmarks/bench_spectral.py --kernels``).

The Krylov solver multiplies blocks of 4 columns by ``A^T A`` (both products in one callback, `chain_matmat`)
and, once, its ``k`` final vectors in groups of 8, where this layout is the fastest; at 32 columns the
callback's copies and transposes (``2 x 8 n`` numbers per call) cost more than they save.

The callback copies ``X`` and the result once each (about 2 ms per ``8 MB`` column); nothing else is copied
per call (the matrix is looked up by the callback, not passed to it: a callback argument would be copied).

Lifetime. A jitted function sees a `HostCSR` only as its token (a pytree with no leaves whose auxiliary data is
the token) and its compiled callback looks the matrix up by token when it runs, so JAX's compilation cache,
which outlives every call, holds no reference to the bands: a matrix is freed once no operator holds it (it
used to stay until ``jax.clear_caches()``: five solves on dropped 10^6-node operators grew the process by 1.4 GB;
now it levels off after two). JAX dispatches asynchronously, so a computation may still be running after the
caller dropped its operator (``f(graph.normalized_operator(), x)``): the `RECENT` matrices used last stay
referenced for that.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import os
import weakref
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

_POOL: ThreadPoolExecutor | None = None

CALLBACK_COLUMNS = 8
"""Columns per callback: a wide block is multiplied in groups, so the host-side copies of its input and output
stay at ``2 x 8 x n`` numbers (512 MB less at ``n = 10^6``, ``k = 32``, float64)."""


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


_LIVE: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
"""token -> the live `HostCSR` with that token (weak: an operator nobody holds is freed)."""

_TOKENS = itertools.count()

RECENT = 4
"""Matrices last passed to a jitted function or multiplied (two operators: ``A`` and ``A^T`` each) that stay
referenced after their operators are dropped, so an asynchronously dispatched product can still find them."""

_RECENT: collections.OrderedDict = collections.OrderedDict()


def _touch(matrix: "HostCSR") -> None:
    _RECENT[matrix.token] = matrix
    _RECENT.move_to_end(matrix.token)
    while len(_RECENT) > RECENT:
        _RECENT.popitem(last=False)


@dataclasses.dataclass(frozen=True, eq=False)
class HostCSR:
    """A sparse ``m x n`` matrix as scipy CSR row bands on the host; ``matmat`` works inside ``jit`` on a CPU.

    ``bands``: ``(row_start, row_stop, csr_band)`` triples covering the rows in order, each with about
    ``nnz / len(bands)`` entries. A pytree with no leaves: under ``jit`` it is its ``token`` (unique in the
    process), so two matrices never share a compilation and a compiled function does not keep one alive.
    """

    bands: tuple
    shape: tuple[int, int]
    values: np.ndarray  # all entries, in CSR order (its dtype and count describe the matrix)
    token: int = dataclasses.field(default_factory=lambda: next(_TOKENS), init=False)

    def __post_init__(self):
        _LIVE[self.token] = self

    def __setstate__(self, state):
        """A copy or an unpickled matrix is another matrix: it gets its own token."""
        for name, value in dict(state, token=next(_TOKENS)).items():
            object.__setattr__(self, name, value)
        _LIVE[self.token] = self

    @property
    def dtype(self):
        return self.values.dtype

    def astype(self, dtype) -> "HostCSR":
        """The same matrix with values of ``dtype``."""
        return host_csr(self.tocsr(), dtype, n_bands=len(self.bands))

    def tocsr(self) -> sp.csr_array:
        return sp.csr_array(sp.vstack([band for _, _, band in self.bands], format="csr"))

    def matmat(self, x: jax.Array) -> jax.Array:
        """``A X`` for ``X (n, b)`` (or ``(n,)``) through `jax.pure_callback`, `CALLBACK_COLUMNS` columns per call
        (works under ``jit``)."""
        return chain_matmat((self,), x)


def chain_matmat(matrices: tuple[HostCSR, ...], x: jax.Array) -> jax.Array:
    """``A_last ... A_2 A_1 X`` for ``matrices = (A_1, A_2, ...)`` and ``X (n, b)`` (or ``(n,)``), one
    `jax.pure_callback` per `CALLBACK_COLUMNS` columns: the intermediate products stay on the host.

    For the normal operator ``A^T A X`` this copies ``X`` in and the result out once instead of twice each:
    a 4-column block step of the Krylov solver at ``10^6`` nodes took 189 ms instead of 217 ms (min of 5).
    """
    for first, second in zip(matrices, matrices[1:]):
        if first.shape[0] != second.shape[1]:
            raise ValueError(f"cannot chain a {first.shape} matrix into a {second.shape} one")
    for matrix in matrices:
        _touch(matrix)
    x = jnp.asarray(x)
    vector = x.ndim == 1
    rows = x[None, :] if vector else x.T  # (b, n): each column contiguous for the callback
    dtype = jnp.result_type(*(matrix.values.dtype for matrix in matrices), x.dtype)
    rows = rows.astype(dtype)
    product = functools.partial(_product, tuple(matrix.token for matrix in matrices))  # tokens, not matrices
    pieces = []
    for start in range(0, rows.shape[0], CALLBACK_COLUMNS):  # bounds the host-side copies
        piece = rows[start : start + CALLBACK_COLUMNS]
        out = jax.ShapeDtypeStruct((piece.shape[0], matrices[-1].shape[0]), dtype)
        pieces.append(jax.pure_callback(product, out, piece, vmap_method="sequential"))
    y = pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces)
    return y[0] if vector else y.T


def _product(tokens: tuple[int, ...], rows) -> np.ndarray:
    """``(A_last ... A_1 X)^T`` for ``X^T = rows (b, n)``, the ``A`` the live `HostCSR` with ``tokens``."""
    matrices = [_LIVE.get(token) for token in tokens]
    if any(matrix is None for matrix in matrices):
        raise RuntimeError(f"the sparse operator of this computation was freed before the computation ran; keep "
                           f"a reference to it until its results are ready (only the last {RECENT // 2} "
                           f"operators used are kept)")
    rows = np.asarray(rows)
    for matrix in matrices:
        rows = _multiply(matrix, rows)
    return rows


def _multiply(matrix: HostCSR, rows: np.ndarray) -> np.ndarray:
    """``(A X)^T`` for ``X^T = rows (b, n)``: one thread per band, one matvec per column."""
    y = np.empty((rows.shape[0], matrix.shape[0]), rows.dtype)

    def band(item):
        start, stop, csr = item
        for j in range(rows.shape[0]):
            y[j, start:stop] = csr @ rows[j]

    for _ in _pool().map(band, matrix.bands):
        pass
    return y


def _flatten(matrix: HostCSR):
    _touch(matrix)  # called on every dispatch of a jitted function that takes the matrix
    return (), matrix.token


jax.tree_util.register_pytree_node(HostCSR, _flatten, lambda token, _: _LIVE[token])


def host_csr(matrix, dtype=None, n_bands: int | None = None) -> HostCSR:
    """`HostCSR` for ``matrix`` (scipy sparse; duplicates summed) in ``n_bands`` row bands (default `threads`)."""
    csr = sp.csr_array(matrix, dtype=dtype)
    if not csr.has_canonical_format:  # on a copy: the arrays may be the caller's
        csr = csr.copy()
        csr.sum_duplicates()
    m, n = csr.shape
    index = np.int32 if max(m, n, csr.nnz) < 2**31 else np.int64
    indptr = csr.indptr.astype(np.int64)
    n_bands = max(1, min(int(n_bands or threads()), m))
    cuts = np.searchsorted(indptr, np.linspace(0, indptr[-1], n_bands + 1), side="left")
    cuts[0], cuts[-1] = 0, m
    cuts = np.maximum.accumulate(np.clip(cuts, 0, m))
    bands = []
    for start, stop in zip(cuts[:-1], cuts[1:]):
        lo, hi = indptr[start], indptr[stop]
        local_indptr = (indptr[start : stop + 1] - lo).astype(index)
        band = sp.csr_array((csr.data[lo:hi], csr.indices[lo:hi].astype(index, copy=False), local_indptr),
                            shape=(int(stop - start), n))
        bands.append((int(start), int(stop), band))
    return HostCSR(bands=tuple(bands), shape=(int(m), int(n)), values=csr.data)
