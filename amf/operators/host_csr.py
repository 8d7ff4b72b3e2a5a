"""Sparse products on the CPU through a host kernel (`amf.operators.csr_kernel`), called from jitted code.

On a CPU, XLA's gather is the bottleneck of every pure-JAX sparse product (`amf.operators.jagged`): at ``10^6``
rows and ``10^7`` entries it is slower per column than scipy's single-threaded CSR matvec (docs/performance.md). `HostCSR` keeps the matrix on
the host as one CSR matrix (int32 indices when they fit) split into row bands of equal nonzero counts and
multiplies a block with `amf.operators.csr_kernel.csr_block`: numba's kernel, parallel over the bands, reading
the matrix once per block (scipy's matvec per column and band, in threads, when numba is missing). Inside jitted
code the product is a `jax.pure_callback`; the host solver (`amf.solvers.krylov_host`) calls
`HostCSR.multiply_stored` on numpy arrays directly, in the matrix's stored order (`amf.operators.ordering`).

docs/performance.md compares this layout with scipy's single-threaded kernel, jax BCOO, a gather +
``segment_sum`` and the jagged layout (``python benchmarks/bench_spectral.py --kernels``).

A callback multiplies at most `CALLBACK_COLUMNS` columns and copies its input and output once each; nothing
else is copied per call (the matrix is looked up by the callback, not passed to it: a callback argument would be
copied).

Lifetime. A jitted function sees a `HostCSR` only as its token (a pytree with no leaves whose auxiliary data is
the token) and its compiled callback looks the matrix up by token when it runs, so JAX's compilation cache,
which outlives every call, holds no reference to the matrix: a matrix is freed once no operator holds it (it
used to stay until ``jax.clear_caches()``, and solves on dropped operators grew the process: docs/performance.md;
now it levels off). JAX dispatches asynchronously, so a computation may still be running after the
caller dropped its operator (``f(graph.normalized_operator(), x)``): the `RECENT` matrices used last stay
referenced for that.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from amf.operators.csr_kernel import band_cuts, csr_block, threads
from amf.operators.ordering import is_permutation, permuted

__all__ = ["CALLBACK_COLUMNS", "RECENT", "HostCSR", "chain_matmat", "host_csr", "threads"]

CALLBACK_COLUMNS = 8
"""Columns per callback: a wide block is multiplied in groups, so the host-side copies of its input and output
stay at ``2 x 8 x n`` numbers (512 MB less at ``n = 10^6``, ``k = 32``, float64)."""

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
    """A sparse ``m x n`` matrix as CSR arrays on the host; ``matmat`` works inside ``jit`` on a CPU.

    ``indptr (m + 1,)``, ``indices``, ``values (nnz,)``: canonical CSR (sorted, no duplicates) of the *stored*
    matrix ``A[rows][:, cols]``; ``rows``, ``cols``: a locality ordering (`amf.operators.ordering`; ``None``:
    the identity), applied inside and undone in `multiply` and `matmat`; `multiply_stored` skips both, for a
    solver that works in the stored order throughout. ``cuts``: the row bands' boundaries
    (`amf.operators.csr_kernel.band_cuts`), about ``nnz / len(bands)`` entries each. A pytree with no leaves:
    under ``jit`` it is its ``token`` (unique in the process), so two matrices never share a compilation and a
    compiled function does not keep one alive.
    """

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray  # all entries, in CSR order (its dtype and count describe the matrix)
    cuts: np.ndarray
    shape: tuple[int, int]
    rows: np.ndarray | None = None  # the stored matrix is A[rows][:, cols] (`amf.operators.ordering`)
    cols: np.ndarray | None = None
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

    @property
    def bands(self) -> tuple:
        """``(row_start, row_stop, csr_band)`` triples covering the rows in order (views, no copies)."""
        out = []
        for start, stop in zip(self.cuts[:-1].tolist(), self.cuts[1:].tolist()):
            lo, hi = int(self.indptr[start]), int(self.indptr[stop])
            band = sp.csr_array((self.values[lo:hi], self.indices[lo:hi], self.indptr[start : stop + 1] - lo),
                                shape=(stop - start, self.shape[1]))
            out.append((start, stop, band))
        return tuple(out)

    def astype(self, dtype) -> "HostCSR":
        """The same matrix with values of ``dtype``."""
        return HostCSR(self.indptr, self.indices, self.values.astype(dtype), self.cuts, self.shape, self.rows,
                       self.cols)

    def tocsr(self) -> sp.csr_array:
        """``A`` as scipy CSR, in the original order."""
        stored = sp.csr_array((self.values, self.indices, self.indptr), shape=self.shape)
        if self.rows is None:
            return stored
        return sp.csr_array(stored[np.argsort(self.rows)][:, np.argsort(self.cols)])

    def multiply_stored(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``A[rows][:, cols] X`` for a numpy ``X (n, b)`` in the stored order (`amf.operators.csr_kernel`);
        ``out``: an aligned C-order ``(m, b)`` array of the matrix's dtype that receives it."""
        return csr_block(self.indptr, self.indices, self.values, self.cuts, x, out=out)

    def multiply(self, x: np.ndarray) -> np.ndarray:
        """``A X`` for a numpy ``X (n, b)`` on the host, ``(m, b)`` of the matrix's dtype."""
        if self.rows is None:
            return self.multiply_stored(x)
        y = self.multiply_stored(np.asarray(x)[self.cols])
        out = np.empty_like(y)
        out[self.rows] = y
        return out

    def matmat(self, x: jax.Array) -> jax.Array:
        """``A X`` for ``X (n, b)`` (or ``(n,)``) through `jax.pure_callback`, `CALLBACK_COLUMNS` columns per call
        (works under ``jit``)."""
        return chain_matmat((self,), x)


def chain_matmat(matrices: tuple[HostCSR, ...], x: jax.Array) -> jax.Array:
    """``A_last ... A_2 A_1 X`` for ``matrices = (A_1, A_2, ...)`` and ``X (n, b)`` (or ``(n,)``), one
    `jax.pure_callback` per `CALLBACK_COLUMNS` columns: the intermediate products stay on the host.

    For the normal operator ``A^T A X`` this copies ``X`` in and the result out once instead of twice each.
    """
    for first, second in zip(matrices, matrices[1:]):
        if first.shape[0] != second.shape[1]:
            raise ValueError(f"cannot chain a {first.shape} matrix into a {second.shape} one")
    for matrix in matrices:
        _touch(matrix)
    x = jnp.asarray(x)
    vector = x.ndim == 1
    block = x[:, None] if vector else x
    dtype = jnp.result_type(*(matrix.values.dtype for matrix in matrices), x.dtype)
    block = block.astype(dtype)
    product = functools.partial(_product, tuple(matrix.token for matrix in matrices))  # tokens, not matrices
    pieces = []
    for start in range(0, block.shape[1], CALLBACK_COLUMNS):  # bounds the host-side copies
        piece = block[:, start : start + CALLBACK_COLUMNS]
        out = jax.ShapeDtypeStruct((matrices[-1].shape[0], piece.shape[1]), dtype)
        pieces.append(jax.pure_callback(product, out, piece, vmap_method="sequential"))
    y = pieces[0] if len(pieces) == 1 else jnp.concatenate(pieces, axis=1)
    return y[:, 0] if vector else y


def _product(tokens: tuple[int, ...], x) -> np.ndarray:
    """``A_last ... A_1 X`` for ``X (n, b)``, the ``A`` the live `HostCSR` with ``tokens``."""
    matrices = [_LIVE.get(token) for token in tokens]
    if any(matrix is None for matrix in matrices):
        raise RuntimeError(f"the sparse operator of this computation was freed before the computation ran; keep "
                           f"a reference to it until its results are ready (only the last {RECENT // 2} "
                           f"operators used are kept)")
    x = np.asarray(x)
    dtype = x.dtype
    for matrix in matrices:
        x = matrix.multiply(x)
    return x.astype(dtype, copy=False)


def _flatten(matrix: HostCSR):
    _touch(matrix)  # called on every dispatch of a jitted function that takes the matrix
    return (), matrix.token


jax.tree_util.register_pytree_node(HostCSR, _flatten, lambda token, _: _LIVE[token])


def host_csr(matrix, dtype=None, n_bands: int | None = None, order=None, stored: bool = False) -> HostCSR:
    """`HostCSR` for ``matrix`` (scipy sparse; duplicates summed) in ``n_bands`` row bands (default `threads`).

    ``order``: ``(rows, cols)`` permutations (`amf.operators.ordering`) to store ``matrix[rows][:, cols]``;
    ``stored``: ``matrix`` is that stored matrix already (e.g. the transpose of another stored matrix), so it is
    not permuted again.
    """
    csr = sp.csr_array(matrix, dtype=dtype)
    m, n = csr.shape
    rows = cols = None
    if order is not None:
        rows, cols = (np.asarray(o, dtype=np.int64) for o in order)
        if not (is_permutation(rows, m) and is_permutation(cols, n)):
            raise ValueError(f"order must be a pair of permutations of the {m} rows and {n} columns")
        if not stored:
            csr = permuted(csr, rows, cols)
    if not csr.has_canonical_format:  # on a copy: the arrays may be the caller's
        csr = csr.copy()
        csr.sum_duplicates()
    index = np.int32 if max(m, n, csr.nnz) < 2**31 else np.int64
    indptr = csr.indptr.astype(index, copy=False)
    return HostCSR(indptr=indptr, indices=csr.indices.astype(index, copy=False), values=csr.data,
                   cuts=band_cuts(indptr, n_bands or threads()), shape=(int(m), int(n)), rows=rows, cols=cols)
