"""Pairs drawn from the joint: ``(i_b, j_b) ~ P`` i.i.d., for the minibatch solvers and finite-sample graphs.

`EdgeSampler` draws by inverse-CDF search on a cumulative mass computed once (``O(B log nnz)`` per batch). It
draws exactly what `amf.losses.sample_pairs` draws for the same key (the same ``jax.random.choice`` inverse-CDF
recipe), without re-summing the ``nnz`` masses at every step.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from amf.graph import Joint


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class EdgeSampler:
    """Pairs drawn from ``P`` by inverse-CDF search: ``cumulative (nnz,)`` float64 running sum of ``P_ij``.

    ``rows``/``cols`` give each edge's image and text. A pytree of arrays, so it passes into jitted solvers.
    """

    rows: jax.Array
    cols: jax.Array
    cumulative: jax.Array

    @classmethod
    def from_joint(cls, joint: Joint) -> EdgeSampler:
        mass = jnp.asarray(joint.mass, dtype=jnp.float64)  # float64 CDF: float32 would misplace masses < 1e-7
        return cls(rows=joint.rows, cols=joint.cols, cumulative=jnp.cumsum(mass))

    def sample(self, key: jax.Array, batch_size: int) -> tuple[jax.Array, jax.Array]:
        """``batch_size`` pairs i.i.d. from ``P``: image and text indices ``(B,)``."""
        edge = self.sample_edges(key, batch_size)
        return self.rows[edge], self.cols[edge]

    def sample_edges(self, key: jax.Array, batch_size: int) -> jax.Array:
        """``batch_size`` edge ids i.i.d. with probability ``P_ij`` (the ``jax.random.choice`` recipe)."""
        total = self.cumulative[-1]
        r = total * (1 - jax.random.uniform(key, (batch_size,), dtype=self.cumulative.dtype))
        edge = jnp.searchsorted(self.cumulative, r, method=_search_method())
        return jnp.clip(edge, 0, self.cumulative.shape[0] - 1).astype(jnp.int32)


def _search_method() -> str:
    """``searchsorted`` strategy: the unrolled loop fuses into one kernel on GPUs (faster there) but is slower than
    the default ``scan`` on CPUs (docs/performance.md); both return the same indices."""
    return "scan_unrolled" if jax.default_backend() in ("gpu", "cuda", "rocm") else "scan"
