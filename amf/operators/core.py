"""Linear operators: one interface for a dense array, a sparse matrix or a pair of functions.

The toolkit is real-valued: an operator has a floating-point dtype; integer input is converted explicitly (by
the caller's dtype); complex, boolean, object, string and other dtypes are refused with `amf.errors.InputError`
(`real_dtype`), never cast silently.

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
import scipy.sparse.linalg as sla

from amf.errors import InputError
from amf.operators.host_csr import HostCSR, chain_matmat, host_csr
from amf._linalg import matmul
from amf.operators.jagged import JaggedRows, jagged_rows

KERNELS = ("host", "jagged")
"""Sparse product kernels: ``"host"`` (a numba CSR kernel, or scipy CSR in threads, via a callback:
`amf.operators.host_csr`; CPU only) and ``"jagged"`` (pure JAX, `amf.operators.jagged`; any backend)."""


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
    """A sparse ``m x n`` matrix held twice, as ``A`` and as ``A^T``, so that both products read rows.

    ``matmat`` reads ``forward`` (the rows of ``A``), ``rmatmat`` reads ``backward`` (the rows of ``A^T``);
    memory: twice the CSR size. Two layouts behind this one interface (`sparse_operator` picks by backend):
    on a CPU, `amf.operators.host_csr.HostCSR` (a numba CSR-times-block kernel on the host, called from jitted
    code; the fastest CPU product measured, docs/performance.md); elsewhere `amf.operators.jagged.JaggedRows`, a
    split-row jagged-diagonal layout whose products are fused XLA gathers with no scatter (GPU, TPU).
    """

    forward: JaggedRows | HostCSR
    backward: JaggedRows | HostCSR
    shape: tuple[int, int] = dataclasses.field(metadata=dict(static=True))

    @property
    def dtype(self):
        return self.forward.values.dtype

    @property
    def nnz(self) -> int:
        return int(self.forward.values.shape[0])

    def matmat(self, x: jax.Array) -> jax.Array:
        return self.forward.matmat(x)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        return self.backward.matmat(y)

    @property
    def on_host(self) -> bool:
        """Whether both products run on the host (the CPU layout): numpy code may then call
        ``forward.multiply`` and ``backward.multiply`` directly (`amf.solvers.krylov_host`,
        `amf.solvers.certify_host`)."""
        return isinstance(self.forward, HostCSR) and isinstance(self.backward, HostCSR)

    def normal_matmat(self, x: jax.Array, side: str) -> jax.Array:
        """``A^T A X`` (``side="right"``, ``X (n, b)``) or ``A A^T X`` (``side="left"``, ``X (m, b)``); on the host
        layout in one callback per column group (`amf.operators.host_csr.chain_matmat`)."""
        first, second = (self.forward, self.backward) if side == "right" else (self.backward, self.forward)
        if isinstance(first, HostCSR):
            return chain_matmat((first, second), x)
        return second.matmat(first.matmat(x))

    def astype(self, dtype) -> "SparseOperator":
        """The same matrix with values of ``dtype``."""
        return SparseOperator(self.forward.astype(dtype), self.backward.astype(dtype), self.shape)

    def todense(self) -> jax.Array:
        return self.forward.matmat(jnp.eye(self.shape[1], dtype=self.dtype))


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


@dataclasses.dataclass(frozen=True, eq=False)
class HostProduct:
    """One product ``X -> A X`` of a `HostFunctionOperator`, in numpy on the host: ``multiply`` (and
    ``multiply_stored``, the same: no stored order, ``rows = cols = None``) returns ``(m, b)`` of ``dtype``."""

    function: Callable[[np.ndarray], np.ndarray]
    shape: tuple[int, int]
    dtype: Any
    rows: None = None
    cols: None = None

    def multiply(self, x: np.ndarray) -> np.ndarray:
        y = np.asarray(self.function(np.asarray(x)))
        if y.ndim == 1:
            y = y[:, None]
        if y.shape != (self.shape[0], x.shape[1]):
            raise InputError(f"an operator's product returned shape {y.shape}, expected {(self.shape[0], x.shape[1])}")
        real_dtype(y.dtype, "an operator's product")
        return np.ascontiguousarray(y, dtype=self.dtype)

    def multiply_stored(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """`multiply`, written into ``out`` (``(m, b)``) when given, like `amf.operators.host_csr.HostCSR`'s."""
        y = self.multiply(x)
        if out is None:
            return y
        out[...] = y
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class HostFunctionOperator:
    """An operator whose products are numpy functions on the host (a scipy ``LinearOperator``): the host solver
    and certificate call ``forward.multiply`` and ``backward.multiply`` directly (`on_host`); jitted code reaches
    them through `jax.pure_callback`."""

    forward: HostProduct
    backward: HostProduct
    shape: tuple[int, int]

    @property
    def dtype(self):
        return self.forward.dtype

    on_host = True

    def matmat(self, x: jax.Array) -> jax.Array:
        return self._callback(self.forward, x)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        return self._callback(self.backward, y)

    def _callback(self, product: HostProduct, x):
        out = jax.ShapeDtypeStruct((product.shape[0],) + tuple(x.shape[1:]), product.dtype)
        vector = x.ndim == 1
        return jax.pure_callback(lambda a: product.multiply(a[:, None] if vector else a).reshape(out.shape), out, x)


def linear_operator(matrix: sla.LinearOperator, dtype=None) -> HostFunctionOperator:
    """A scipy ``LinearOperator`` (``matmat`` and ``rmatmat``) as a `HostFunctionOperator` of ``dtype`` (default
    float64; a real dtype, `real_dtype`)."""
    real_dtype(matrix.dtype, "a LinearOperator")
    dtype = np.dtype(dtype or np.float64)
    m, n = (int(x) for x in matrix.shape)
    return HostFunctionOperator(HostProduct(matrix.matmat, (m, n), dtype),
                                HostProduct(matrix.rmatmat, (n, m), dtype), (m, n))


def real_dtype(dtype, what: str = "matrix") -> np.dtype:
    """``dtype`` when it is a real number type (floating point or integer); else `InputError` naming it: the
    toolkit is real-valued (a complex matrix is not cast to its real part, a boolean one is not read as 0/1)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise InputError(f"{what} has dtype {dtype!r}, not a real number type") from None
    if dtype.kind not in "fiu":
        kinds = {"c": "complex", "b": "boolean", "O": "object", "U": "string", "S": "bytes", "V": "structured",
                 "M": "datetime", "m": "timedelta"}
        raise InputError(f"{what} has {kinds.get(dtype.kind, 'non-numeric')} dtype {dtype}: amf is real-valued; "
                         f"pass a real (floating-point or integer) matrix")
    return dtype


def default_kernel() -> str:
    """``"host"`` when JAX computes on a CPU, else ``"jagged"``."""
    return "host" if jax.default_backend() == "cpu" else "jagged"


def sparse_operator(matrix: sp.sparray | sp.spmatrix, dtype=None, kernel: str | None = None,
                    order=None) -> SparseOperator:
    """``SparseOperator`` from a scipy sparse matrix (duplicates summed; ``dtype`` defaults to the matrix's).

    ``kernel``: one of `KERNELS`; default `default_kernel` (``"host"`` on a CPU backend, ``"jagged"`` elsewhere).
    ``order``: a locality ordering ``(rows, cols)`` (`amf.operators.ordering.label_order`) the host layout
    stores the matrix in; products and solver outputs stay in the original order. Ignored by ``"jagged"``
    (an accelerator's gathers do not need it).
    """
    kernel = default_kernel() if kernel is None else kernel
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    csr = sp.csr_array(matrix)
    dtype = np.dtype(dtype or csr.dtype)
    if kernel == "host":
        forward = host_csr(csr, dtype, order=order)
        if order is None:
            backward = host_csr(csr.T, dtype)
        else:  # the stored forward matrix's transpose is the stored A^T: no second permutation
            stored = sp.csr_array((forward.values, forward.indices, forward.indptr), shape=forward.shape)
            backward = host_csr(stored.T, dtype, order=(forward.cols, forward.rows), stored=True)
    else:
        forward, backward = jagged_rows(csr, dtype), jagged_rows(csr.T, dtype)
    return SparseOperator(forward=forward, backward=backward, shape=tuple(int(n) for n in csr.shape))


def on_host(op) -> bool:
    """Whether ``op`` is a `SparseOperator` whose products both run on the host (the CPU layout): the host
    solver and certificate (`amf.solvers.krylov_host`, `amf.solvers.certify_host`) then take it in numpy."""
    return isinstance(op, HostFunctionOperator) or (isinstance(op, SparseOperator) and op.on_host)


def as_operator(matrix, dtype=None) -> Operator:
    """Wrap ``matrix`` as an operator.

    Accepts an existing operator, a dense numpy/JAX array (``m x n``), a scipy sparse matrix, a scipy
    ``LinearOperator`` (a `HostFunctionOperator`, products on the host), or a pair ``(matmat, rmatmat)`` of
    functions together with ``shape`` via ``FunctionOperator``. Real dtypes only (`real_dtype`).
    """
    if dtype is not None:
        real_dtype(dtype, "the requested dtype")
    if isinstance(matrix, (DenseOperator, SparseOperator, FunctionOperator, HostFunctionOperator)):
        real_dtype(matrix.dtype)
        return matrix
    if sp.issparse(matrix):
        real_dtype(matrix.dtype)
        return sparse_operator(matrix, dtype)
    if isinstance(matrix, sla.LinearOperator):  # before the protocol, which it satisfies but cannot be traced
        return linear_operator(matrix, dtype)
    if isinstance(matrix, (np.ndarray, jax.Array)):
        if matrix.ndim != 2:
            raise ValueError(f"matrix must be 2-D, got shape {matrix.shape}")
        real_dtype(matrix.dtype)
        return DenseOperator(jnp.asarray(matrix, dtype=dtype))
    if isinstance(matrix, Operator):
        real_dtype(matrix.dtype)
        return matrix
    raise TypeError(
        f"cannot use {type(matrix).__name__} as an operator: pass an array, a scipy sparse matrix or an Operator"
    )


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class StaticOperator:
    """An operator that is not a pytree of arrays (e.g. `FunctionOperator`), as static jit data (hashed by
    identity, so JAX's compilation cache keeps it alive)."""

    op: Any

    @property
    def shape(self):
        return self.op.shape

    @property
    def dtype(self):
        return self.op.dtype

    def matmat(self, x):
        return self.op.matmat(x)

    def rmatmat(self, y):
        return self.op.rmatmat(y)


def is_array_pytree(op) -> bool:
    """Whether every leaf of ``op`` is an array (none, for the CPU's `HostCSR` layout, which travels as its token):
    such an operator is a jit argument whose new values do not recompile."""
    return all(isinstance(x, (jax.Array, np.ndarray)) for x in jax.tree_util.tree_leaves(op))


def jit_operator(op) -> Operator:
    """``op`` ready to pass into a jitted function: itself when `is_array_pytree`, else a `StaticOperator`."""
    return op if is_array_pytree(op) or isinstance(op, StaticOperator) else StaticOperator(op)
