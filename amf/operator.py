"""Linear operators: one interface for a dense array, a sparse matrix or a pair of functions.

An operator ``A`` (``m x n``) exposes ``matmat(X) = A X`` for ``X`` of shape ``(n, b)`` and
``rmatmat(Y) = A^T Y`` for ``Y`` of shape ``(m, b)``. Operators are JAX pytrees, so they pass into jitted
solvers as arguments (their arrays are traced, their shapes are static) and the same code runs on CPU, GPU
and TPU.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from amf._linalg import matmul


@runtime_checkable
class Operator(Protocol):
    """``A`` (``m x n``): ``matmat(X) = A X`` for ``X (n, b)``; ``rmatmat(Y) = A^T Y`` for ``Y (m, b)``."""

    shape: tuple[int, int]

    @property
    def dtype(self) -> Any: ...

    def matmat(self, x: jax.Array) -> jax.Array: ...

    def rmatmat(self, y: jax.Array) -> jax.Array: ...


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DenseOperator:
    """A dense ``m x n`` array as an operator."""

    matrix: jax.Array

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.matrix.shape)

    @property
    def dtype(self):
        return self.matrix.dtype

    def matmat(self, x: jax.Array) -> jax.Array:
        return matmul(self.matrix, x)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        return matmul(self.matrix.T, y)

    def todense(self) -> jax.Array:
        return self.matrix


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class SparseOperator:
    """A sparse ``m x n`` matrix in coordinate form, ``A[rows[e], cols[e]] = values[e]``.

    Products use the gather + ``segment_sum`` formulation: ``(A X)[i] = sum_{e: rows[e] = i} values[e] X[cols[e]]``.
    Entries are sorted by row, which lets XLA use sorted segment sums for ``matmat``.
    """

    rows: jax.Array
    cols: jax.Array
    values: jax.Array
    shape: tuple[int, int] = dataclasses.field(metadata=dict(static=True))

    @property
    def dtype(self):
        return self.values.dtype

    def matmat(self, x: jax.Array) -> jax.Array:
        contrib = self.values[:, None] * x[self.cols]
        return jax.ops.segment_sum(contrib, self.rows, num_segments=self.shape[0], indices_are_sorted=True)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        contrib = self.values[:, None] * y[self.rows]
        return jax.ops.segment_sum(contrib, self.cols, num_segments=self.shape[1])

    def todense(self) -> jax.Array:
        dense = jnp.zeros(self.shape, self.values.dtype)
        return dense.at[self.rows, self.cols].add(self.values)


@dataclasses.dataclass(frozen=True)
class FunctionOperator:
    """An operator given by two functions, ``matmat(X) = A X`` and ``rmatmat(Y) = A^T Y`` (jit-traceable)."""

    matmat_fn: Callable[[jax.Array], jax.Array]
    rmatmat_fn: Callable[[jax.Array], jax.Array]
    shape: tuple[int, int]
    dtype: Any = jnp.float64

    def matmat(self, x: jax.Array) -> jax.Array:
        return self.matmat_fn(x)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        return self.rmatmat_fn(y)


def sparse_operator(matrix: sp.sparray | sp.spmatrix, dtype=None) -> SparseOperator:
    """``SparseOperator`` from a scipy sparse matrix (entries sorted by row, duplicates summed)."""
    coo = sp.coo_array(sp.csr_array(matrix))
    dtype = np.dtype(dtype or coo.dtype)
    return SparseOperator(
        rows=jnp.asarray(coo.row, dtype=jnp.int32 if coo.shape[0] < 2**31 else jnp.int64),
        cols=jnp.asarray(coo.col, dtype=jnp.int32 if coo.shape[1] < 2**31 else jnp.int64),
        values=jnp.asarray(coo.data, dtype=dtype),
        shape=tuple(int(n) for n in coo.shape),
    )


def as_operator(matrix, dtype=None) -> Operator:
    """Wrap ``matrix`` as an operator.

    Accepts an existing operator, a dense numpy/JAX array (``m x n``), a scipy sparse matrix, or a pair
    ``(matmat, rmatmat)`` of functions together with ``shape`` via ``FunctionOperator``.
    """
    if isinstance(matrix, (DenseOperator, SparseOperator, FunctionOperator)):
        return matrix
    if sp.issparse(matrix):
        return sparse_operator(matrix, dtype)
    if isinstance(matrix, (np.ndarray, jax.Array)):
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        return DenseOperator(jnp.asarray(matrix, dtype=dtype))
    if isinstance(matrix, Operator):
        return matrix
    raise TypeError(
        f"cannot use {type(matrix).__name__} as an operator: pass an array, a scipy sparse matrix or an Operator"
    )
