"""Sparse-times-dense products in pure JAX: a jagged-diagonal layout that XLA compiles to one fused loop.

``A X`` for a sparse ``m x n`` ``A`` and a dense block ``X (n, b)`` is, row by row, a short gather-and-sum.
The textbook JAX formulations are a gather of ``X[cols]`` into an ``(nnz, b)`` temporary followed by a
``segment_sum`` (a scatter-add), or `jax.experimental.sparse.BCOO`; on a CPU both materialize the temporary
and scatter into the output one update at a time. This module stores each orientation of the matrix in
**jagged-diagonal (JDS) form with split long rows**:

1. every row is cut into chunks of at most ``width`` entries ("virtual rows"); a power-law row of degree
   ``10^4`` becomes ``10^4 / width`` chunks, a typical row one;
2. chunks are sorted by length, longest first, so the ``j``-th entry of every chunk that has one forms a
   contiguous *slab* ``j`` covering a prefix of the chunks (``len_0 >= len_1 >= ... >= len_{width-1}``);
3. the product is ``Y_chunks = sum_j pad(values_j[:, None] * X[cols_j])`` — one fused XLA loop over the
   output (a sum of ``width`` gathers, no scatter, no ``(nnz, b)`` temporary) — followed by one gather that
   brings each row's first chunk to its place and a small scatter-add for the few rows with several chunks.

The slab lengths are static (part of the compile key: a new sparsity pattern compiles again, new values
with the same pattern do not). Storage is the CSR size (int32 column + value per entry) plus ``O(m)``
indices per orientation; `amf.operators.SparseOperator` keeps one layout for ``A`` and one for ``A^T``, so
both products are gathers (twice the CSR size in all). The same code runs on a GPU.

On a CPU this layout is faster than jax BCOO and a gather + ``segment_sum`` for blocks of 8-32 columns but
behind scipy's kernel (docs/performance.md, ``python benchmarks/bench_spectral.py --kernels``). XLA's CPU gather
is the limit (scalar code per gathered number); the layout removes the scatter and the ``(nnz, b)``
temporary, not the gather. On a GPU the same code is a plain gather + reduction;
on a CPU `amf.operators.sparse_operator` uses scipy's kernel in threads instead (`amf.operators.host_csr`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax import lax

DEFAULT_WIDTH = 16
"""Chunk width (entries per virtual row); also the number of slabs unrolled in the fused loop."""

GATHER_BUDGET = 8 * 2**30
"""Bytes of gathered numbers (``nnz x columns``) one pass of a product may touch; wider blocks are multiplied in
column panels. XLA may materialize the gather (it did on an H200: docs/performance.md)."""


def columns_per_pass(nnz: int, itemsize: int, columns: int) -> int:
    """Columns of a block multiplied in one pass so that ``nnz x columns x itemsize <= GATHER_BUDGET`` (>= 1)."""
    return int(max(1, min(columns, GATHER_BUDGET // max(1, nnz * itemsize))))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class JaggedRows:
    """One orientation of a sparse ``m x n`` matrix in split-row jagged-diagonal form (module docstring).

    - ``cols`` (int32) and ``values``: slab-major entries, slab ``j`` at ``sum(lengths[:j])`` (length ``lengths[j]``);
    - ``first`` (int32, ``(m,)``): chunk position of each row's first chunk (``n_chunks`` for an empty row,
      which reads an appended zero row);
    - ``extra_rows`` / ``extra_chunks`` (int32, ``(e,)``): rows with more than one chunk, one entry per
      additional chunk, sorted by row;
    - static: ``lengths`` (chunks per slab), ``n_chunks``, ``shape``.
    """

    cols: jax.Array
    values: jax.Array
    first: jax.Array
    extra_rows: jax.Array
    extra_chunks: jax.Array
    lengths: tuple[int, ...] = dataclasses.field(metadata=dict(static=True))
    n_chunks: int = dataclasses.field(metadata=dict(static=True))
    shape: tuple[int, int] = dataclasses.field(metadata=dict(static=True))

    @property
    def dtype(self):
        return self.values.dtype

    def astype(self, dtype) -> "JaggedRows":
        """The same matrix with values of ``dtype``."""
        return dataclasses.replace(self, values=self.values.astype(dtype))

    def matmat(self, x: jax.Array) -> jax.Array:
        """``A X`` for ``X (n, b)`` (or ``(n,)``); jitted (eagerly, each slab would compile on its own)."""
        return _matmat(self, x)

    def _matmat(self, x: jax.Array) -> jax.Array:
        x = jnp.asarray(x)
        vector = x.ndim == 1
        if vector:
            x = x[:, None]
        x = x.astype(jnp.result_type(self.values.dtype, x.dtype))
        b = x.shape[1]
        width = columns_per_pass(self.values.shape[0], x.dtype.itemsize, b)
        if width < b:  # column panels, one after the other: the gathered numbers stay under GATHER_BUDGET
            panels = -(-b // width)
            x = jnp.pad(x, ((0, 0), (0, panels * width - b))).reshape(x.shape[0], panels, width)
            y = lax.map(self._panel, jnp.moveaxis(x, 1, 0))
            y = jnp.moveaxis(y, 0, 1).reshape(self.shape[0], panels * width)[:, :b]
        else:
            y = self._panel(x)
        return y[:, 0] if vector else y

    def _panel(self, x: jax.Array) -> jax.Array:
        b = x.shape[1]
        out = None
        offset = 0
        for length in self.lengths:
            cols = self.cols[offset : offset + length]
            term = self.values[offset : offset + length, None] * x.at[cols].get(mode="promise_in_bounds")
            offset += length
            if length < self.n_chunks:
                term = jnp.pad(term, ((0, self.n_chunks - length), (0, 0)))
            out = term if out is None else out + term
        if out is None:
            out = jnp.zeros((self.n_chunks, b), x.dtype)
        out = jnp.concatenate([out, jnp.zeros((1, b), out.dtype)])
        y = out.at[self.first].get(mode="promise_in_bounds")
        if self.extra_rows.shape[0]:
            y = y.at[self.extra_rows].add(
                out.at[self.extra_chunks].get(mode="promise_in_bounds"),
                indices_are_sorted=True,
                mode="promise_in_bounds",
            )
        return y


@jax.jit
def _matmat(layout: JaggedRows, x: jax.Array) -> jax.Array:
    return layout._matmat(x)


def jagged_rows(matrix, dtype=None, width: int | None = None) -> JaggedRows:
    """`JaggedRows` for ``matrix`` (scipy sparse, duplicates summed) with chunks of at most ``width`` entries.

    ``width`` defaults to ``min(DEFAULT_WIDTH, max row length)``.
    """
    csr = sp.csr_array(matrix)
    csr.sum_duplicates()
    m, n = csr.shape
    dtype = np.dtype(dtype or csr.dtype)
    degree = np.diff(csr.indptr).astype(np.int64)
    max_degree = int(degree.max()) if m else 0
    width = int(min(width or DEFAULT_WIDTH, max(max_degree, 1)))
    n_row_chunks = -(-degree // width)  # ceil; 0 for an empty row
    n_chunks = int(n_row_chunks.sum())
    chunk_row = np.repeat(np.arange(m, dtype=np.int64), n_row_chunks)
    chunk_index = np.arange(n_chunks, dtype=np.int64) - np.repeat(np.cumsum(n_row_chunks) - n_row_chunks,
                                                                    n_row_chunks)
    chunk_start = csr.indptr[chunk_row] + chunk_index * width
    chunk_length = np.minimum(width, degree[chunk_row] - chunk_index * width)
    order = np.argsort(-chunk_length, kind="stable")  # longest chunks first; stable keeps rows in order
    chunk_start, chunk_length, chunk_row, chunk_index = (a[order] for a in (chunk_start, chunk_length, chunk_row,
                                                                            chunk_index))
    position = np.arange(n_chunks, dtype=np.int64)  # chunk index in slab order (after the sort)
    lengths = tuple(int(np.count_nonzero(chunk_length > j)) for j in range(width if n_chunks else 0))
    cols, values = [], []
    for j, length in enumerate(lengths):
        src = chunk_start[:length] + j
        cols.append(csr.indices[src])
        values.append(csr.data[src])
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    values = np.concatenate(values) if values else np.zeros(0)
    first = np.full(m, n_chunks, dtype=np.int64)
    is_first = chunk_index == 0
    first[chunk_row[is_first]] = position[is_first]
    extra = ~is_first
    extra_order = np.argsort(chunk_row[extra], kind="stable")
    extra_rows = chunk_row[extra][extra_order]
    extra_chunks = position[extra][extra_order]
    index = np.int32 if max(m, n, n_chunks + 1) < 2**31 else np.int64
    return JaggedRows(
        cols=jnp.asarray(cols.astype(index)),
        values=jnp.asarray(values.astype(dtype)),
        first=jnp.asarray(first.astype(index)),
        extra_rows=jnp.asarray(extra_rows.astype(index)),
        extra_chunks=jnp.asarray(extra_chunks.astype(index)),
        lengths=lengths,
        n_chunks=n_chunks,
        shape=(int(m), int(n)),
    )
