"""``Pn`` with its rows split over a device mesh: the operator behind multi-device and multi-host solves.

Layout (``D`` devices on a 1-D mesh axis ``"rows"``): device ``d`` holds the nonzeros of image rows
``[d R, (d+1) R)`` with ``R = ceil(N_V / D)``, padded to a common count with zero values. Vectors on the image
side (``N_V``, padded to ``D R``) are sharded by rows like the operator; vectors on the text side (``N_L``) are
replicated. Then

- ``matmat(X) = Pn X``: every device multiplies its rows by the replicated ``X`` — no communication;
- ``rmatmat(Y) = Pn^T Y``: every device forms ``Pn_d^T Y_d`` and one ``psum`` adds them up.

Everything else a solver does (Gram matrices, small ``k x k`` factorizations) is ordinary ``jnp`` code under
``jit``; XLA inserts the reductions for the sharded image-side blocks. `amf.solvers.krylov.topk_svd` keeps its Krylov
basis on the image side (`ShardedOperator.basis_side`, `ShardedOperator.shard_basis`), so each device holds
``1 / D`` of it and its Gram–Schmidt GEMMs run on local columns with ``b x b`` reductions.

The same code runs on one host with several devices (GPUs, TPU cores, or CPU devices faked with
``XLA_FLAGS=--xla_force_host_platform_device_count``) and on several hosts joined by
``jax.distributed.initialize``, where each process supplies the rows of its own devices (`sharded_operator`
builds them from the graph every process has loaded).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np
import scipy.sparse as sp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "rows"


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ShardedOperator:
    """Row-sharded sparse ``m x n`` operator; ``shape = (D R, n)`` includes the zero padding rows.

    ``rows`` are shard-local row indices, ``cols`` global column indices, ``values`` the entries (0 on padding);
    all three have shape ``(D * nnz_max,)``, sharded over ``mesh``. ``n_rows`` is the true ``m``.
    """

    rows: jax.Array
    cols: jax.Array
    values: jax.Array
    shape: tuple[int, int] = dataclasses.field(metadata=dict(static=True))
    n_rows: int = dataclasses.field(metadata=dict(static=True))
    mesh: Mesh = dataclasses.field(metadata=dict(static=True))

    @property
    def dtype(self) -> Any:
        return self.values.dtype

    @property
    def rows_per_device(self) -> int:
        return self.shape[0] // self.mesh.size

    def matmat(self, x: jax.Array) -> jax.Array:
        """``Pn X`` for replicated ``X (n, b)``; the result ``(D R, b)`` is sharded by rows."""
        r = self.rows_per_device

        def local(rows, cols, values, x):
            return jax.ops.segment_sum(values[:, None] * x[cols], rows, num_segments=r, indices_are_sorted=True)

        return jax.shard_map(
            local, mesh=self.mesh, in_specs=(P(AXIS), P(AXIS), P(AXIS), P()), out_specs=P(AXIS)
        )(self.rows, self.cols, self.values, x)

    def rmatmat(self, y: jax.Array) -> jax.Array:
        """``Pn^T Y`` for row-sharded ``Y (D R, b)``; the result ``(n, b)`` is replicated."""
        n = self.shape[1]

        def local(rows, cols, values, y):
            part = jax.ops.segment_sum(values[:, None] * y[rows], cols, num_segments=n)
            return jax.lax.psum(part, AXIS)

        return jax.shard_map(
            local, mesh=self.mesh, in_specs=(P(AXIS), P(AXIS), P(AXIS), P(AXIS)), out_specs=P()
        )(self.rows, self.cols, self.values, y)

    def row_sharding(self) -> NamedSharding:
        """Sharding of image-side blocks ``(D R, b)``."""
        return NamedSharding(self.mesh, P(AXIS))

    @property
    def basis_side(self) -> str:
        """Where a Krylov solver should keep its basis: on the image side (``"left"``, sharded like the rows, so
        each device holds ``1 / D`` of it) unless a replicated text-side basis is smaller per device."""
        return "left" if self.rows_per_device <= self.shape[1] else "right"

    def shard_basis(self, basis: jax.Array) -> jax.Array:
        """Constrain an image-side basis ``(c, D R)`` (vectors as rows) to be sharded along its columns."""
        return jax.lax.with_sharding_constraint(basis, NamedSharding(self.mesh, P(None, AXIS)))


def device_mesh(n_devices: int | None = None) -> Mesh:
    """A 1-D mesh over the first ``n_devices`` devices of every process (all devices by default)."""
    devices = jax.devices()
    n = len(devices) if n_devices is None else n_devices
    if not 1 <= n <= len(devices):
        raise ValueError(
            f"devices must be between 1 and {len(devices)} (the devices JAX sees), got {n}; on a CPU, "
            "XLA_FLAGS=--xla_force_host_platform_device_count=N fakes N devices"
        )
    return Mesh(np.asarray(devices[:n]), (AXIS,))


def sharded_operator(matrix: sp.sparray | sp.spmatrix, mesh: Mesh, dtype=np.float64) -> ShardedOperator:
    """Split the rows of a scipy sparse matrix over ``mesh``.

    Every process passes the same ``matrix``; each builds only the shards of its own devices
    (`jax.make_array_from_callback`), so the same call works on one host and on many.
    """
    csr = sp.csr_array(matrix)
    csr.sort_indices()
    m, n = csr.shape
    d = mesh.size
    r = -(-m // d)
    bounds = np.minimum(np.arange(d + 1) * r, m)
    counts = csr.indptr[bounds[1:]] - csr.indptr[bounds[:-1]]
    width = max(1, int(counts.max()))
    local_row = np.repeat(np.arange(m), np.diff(csr.indptr)) % r  # shard d holds rows [d r, (d+1) r)
    sharding = NamedSharding(mesh, P(AXIS))

    def shard_array(per_entry: np.ndarray, fill, out_dtype) -> jax.Array:
        def block(index) -> np.ndarray:
            shard = (index[0].start or 0) // width
            lo, hi = csr.indptr[bounds[shard]], csr.indptr[bounds[shard + 1]]
            out = np.full(width, fill, dtype=out_dtype)
            out[: hi - lo] = per_entry[lo:hi]
            return out

        return jax.make_array_from_callback((d * width,), sharding, block)

    index_dtype = np.int32 if max(m, n) < 2**31 else np.int64
    return ShardedOperator(
        # padding entries point at the shard's last local row so row indices stay sorted; their value is 0
        rows=shard_array(local_row, r - 1, index_dtype),
        cols=shard_array(csr.indices, 0, index_dtype),
        values=shard_array(csr.data.astype(dtype), 0, dtype),
        shape=(d * r, n),
        n_rows=m,
        mesh=mesh,
    )
