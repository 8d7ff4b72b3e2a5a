"""Sparse products on the CPU through scipy's CSR kernel, run in threads and called from jitted code.

On a CPU, XLA's gather is the bottleneck of every pure-JAX sparse product (`amf._sparse`): at ``10^6`` rows and
``10^7`` entries it costs 1.5-3x scipy's single-threaded CSR matvec per column. `HostCSR` keeps the matrix on
the host as scipy CSR (int32 indices when they fit) split into row bands of equal nonzero counts, and computes
``A X`` inside jitted code with `jax.pure_callback`: each band is one thread (scipy's kernel releases the GIL)
and each column of ``X`` is one matvec, because a single column of the right-hand side (``8 n`` bytes) stays
in the last-level cache while a block of columns does not (scipy's multi-vector kernel is slower per column
than its matvec at this size, MEASUREMENTS.md).

Measured (`benchmarks/bench_spectral.py --kernels`, ``Pn`` of the planted graph, ``10^6`` nodes a side,
``9.8 x 10^6`` entries, 2-core AMD EPYC whose timings drift by 2x between runs, so ratios within one run):
see the table in that module's docstring. The callback copies ``X`` and the result once each (about 2 ms per
``8 MB`` column); nothing else is copied per call.

The matrix is static jit data (hashed by identity): the compiled solver holds a reference to it for as long
as JAX's compilation cache keeps the entry.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

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


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True, eq=False)
class HostCSR:
    """A sparse ``m x n`` matrix as scipy CSR row bands on the host; ``matmat`` works inside ``jit`` on a CPU.

    ``bands``: ``(row_start, row_stop, csr_band)`` triples covering the rows in order, each with about
    ``nnz / len(bands)`` entries. Static: equal (and hashed) by identity.
    """

    bands: tuple
    shape: tuple[int, int]
    values: np.ndarray  # all entries, in CSR order (its dtype and count describe the matrix)

    @property
    def dtype(self):
        return self.values.dtype

    def astype(self, dtype) -> "HostCSR":
        """The same matrix with values of ``dtype``."""
        return host_csr(self.tocsr(), dtype, n_bands=len(self.bands))

    def tocsr(self) -> sp.csr_array:
        return sp.csr_array(sp.vstack([band for _, _, band in self.bands], format="csr"))

    def matmat(self, x: jax.Array) -> jax.Array:
        """``A X`` for ``X (n, b)`` (or ``(n,)``), through one `jax.pure_callback` (works under ``jit``)."""
        x = jnp.asarray(x)
        vector = x.ndim == 1
        rows = x[None, :] if vector else x.T  # (b, n): each column contiguous for the callback
        dtype = jnp.result_type(self.values.dtype, x.dtype)
        out = jax.ShapeDtypeStruct((rows.shape[0], self.shape[0]), dtype)
        y = jax.pure_callback(self._product, out, rows.astype(dtype), vmap_method="sequential")
        return y[0] if vector else y.T

    def _product(self, rows) -> np.ndarray:
        rows = np.asarray(rows)
        y = np.empty((rows.shape[0], self.shape[0]), rows.dtype)

        def band(item):
            start, stop, csr = item
            for j in range(rows.shape[0]):
                y[j, start:stop] = csr @ rows[j]

        for _ in _pool().map(band, self.bands):
            pass
        return y


def host_csr(matrix, dtype=None, n_bands: int | None = None) -> HostCSR:
    """`HostCSR` for ``matrix`` (scipy sparse; duplicates summed) in ``n_bands`` row bands (default `threads`)."""
    csr = sp.csr_array(matrix, dtype=dtype)
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
        band = sp.csr_array((csr.data[lo:hi], csr.indices[lo:hi].astype(index), (indptr[start : stop + 1] - lo).astype(index)),
                            shape=(int(stop - start), n))
        bands.append((int(start), int(stop), band))
    return HostCSR(bands=tuple(bands), shape=(int(m), int(n)), values=csr.data)
