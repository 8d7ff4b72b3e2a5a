"""Linear operators ``A`` (``m x n``) the spectral solvers multiply by: ``matmat(X) = A X``, ``rmatmat(Y) = A^T Y``.

- `core`: the `Operator` protocol, `DenseOperator`, `SparseOperator` (built by `sparse_operator`), and
  `FunctionOperator` for a pair of jit-traceable functions; `as_operator` turns an array or a scipy sparse matrix
  into one.
- `host_csr`: the CPU layout (scipy's CSR kernel in threads, called from jitted code).
- `jagged`: the pure-JAX sparse layout, for any backend.
- `sharded`: rows of ``A`` split over the devices of a mesh (one host or many).
"""

from amf.operators.core import (
    KERNELS,
    DenseOperator,
    FunctionOperator,
    HostFunctionOperator,
    Operator,
    SparseOperator,
    as_operator,
    StaticOperator,
    default_kernel,
    is_array_pytree,
    jit_operator,
    linear_operator,
    on_host,
    real_dtype,
    sparse_operator,
)
from amf.operators.sharded import ShardedOperator, device_mesh, sharded_operator

__all__ = [
    "KERNELS",
    "DenseOperator",
    "FunctionOperator",
    "HostFunctionOperator",
    "Operator",
    "ShardedOperator",
    "SparseOperator",
    "StaticOperator",
    "as_operator",
    "default_kernel",
    "device_mesh",
    "is_array_pytree",
    "jit_operator",
    "linear_operator",
    "on_host",
    "real_dtype",
    "sharded_operator",
    "sparse_operator",
]
