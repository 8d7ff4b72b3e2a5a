"""The specification both back-ends of the block Lanczos SVD obey (`amf.solvers.krylov_jit`, jitted for any device;
`amf.solvers.krylov_host`, numpy beside the CPU kernel): its tolerances, sizes, stopping rule, breakdown rule,
scaling and seeds are declared here once, and each back-end only implements them.

- **Tolerances** (`DEFAULT_TOL`): the relative residual ``||A v_i - s_i u_i|| / s_1`` (and ``A^T``) every
  triplet must reach, by dtype; the certificate (`amf.solvers.certify`) judges with the same table.
- **Sizes** (`plan`, `KrylovPlan`): block ``b``, ``keep`` Ritz vectors kept at a restart, ``steps`` block steps
  per cycle; `SELECTIVE_ROWS`, `RESTART_PANEL`, `MAX_CYCLES`.
- **Orthogonality**: a local block step is accepted while its largest inner product with the older rows stays
  below `semi_orthogonality` (``eta``); else the step is redone by full block Gram–Schmidt, twice.
- **Stopping rule** (`stopping_rule`): judged on at least ``k`` Ritz pairs of the Krylov space built so far
  (never on fewer: an invariant space of dimension ``< k`` is a breakdown, not convergence).
- **Breakdown** (`breakdown_floor`): a direction of a new block whose Gram eigenvalue is at most
  ``floor^2`` lies in the basis to round-off (the Krylov space became invariant: a repeated value, a graph's
  components, a rank below ``k``). It is *deflated*: its row of ``R`` is zero (the Lanczos relation stays exact)
  and it is replaced by a fresh random direction orthogonalized, twice, against the whole basis and the rest of
  the block, so the iteration continues in the complement and finds every copy of every value.
- **Resolution** (`gram_unresolved`): a block whose Gram cannot resolve its smallest singular value is
  orthonormalized through its thin SVD (Lanczos steps: the breakdown rule is then judged on the singular values,
  not on Gram eigenvalues that are round-off) or Householder QR (the final ``W = A V_k``): ``k`` above the
  numerical rank returns the zero singular values with an orthonormal completion of ``U``.
- **Scale** (`scale_exponent`): the normal operator squares the spectrum and its Grams square it again, so
  ``||A||^4`` must stay inside the dtype's range. A matrix whose norm bound lies outside
  ``2^(+-SCALE_FREE_LOG2)`` is multiplied by an exact power of two ``2^-e`` (no rounding) inside the products,
  and its singular values by ``2^e`` at the end; a matrix inside the range is not touched (no cost).
- **Seeds**: the starting block is Gaussian, from the caller's key; the host path draws it with numpy from
  `host_seed` of that key and a purpose name (``"krylov start"``; its certificate ``"complement start"``);
  fresh directions after a breakdown come from the same numpy stream (host) or from the key folded with the
  step number (jitted): a solve is a function of its key.
- **Block reruns** (`saturated`): a block sees at most ``b`` copies of a value per Krylov step; when ``b`` or more
  equal values end before the ``k``-th, the solve is rerun with twice the block.
"""

from __future__ import annotations

import dataclasses
import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from amf.operators import DenseOperator, HostFunctionOperator, SparseOperator

__all__ = ["DEFAULT_TOL", "HOST_BLOCK", "KrylovPlan", "MAX_CYCLES", "RESTART_PANEL", "SCALE_FREE_LOG2",
           "SELECTIVE_ROWS", "breakdown_floor", "default_tolerance", "gram_unresolved", "host_seed", "norm_bounds", "plan",
           "saturated", "scale_exponent", "semi_orthogonality", "stopping_rule"]

DEFAULT_TOL = {np.dtype(np.float64): 1e-8, np.dtype(np.float32): 1e-4}
"""Relative residual tolerance by dtype, when none is given (solver and certificate)."""

MAX_CYCLES = 1000
"""Default limit of restart cycles."""

SELECTIVE_ROWS = 8
"""Leading Ritz vectors every local step also orthogonalizes against (selective orthogonalization)."""

RESTART_PANEL = 1 << 15
"""Columns of the basis rewritten at a time by a restart (bounds its temporary to ``(keep + b) x 32768``)."""

HOST_BLOCK = 8
"""Default block of the CPU path for ``k >= 8``: one 64-byte cache line of float64 per gathered row of the host
kernel (docs/performance.md)."""

BREAKDOWN_FACTOR = 30.0
"""``floor = BREAKDOWN_FACTOR sqrt(rows) eps ||W||``: the round-off a block keeps along a basis of ``rows`` rows."""

GRAM_RESOLUTION = 100.0
"""`gram_unresolved`: ``lambda_min <= GRAM_RESOLUTION b eps lambda_max`` of the Gram of a block ``W (N, b)``."""

SCALE_FREE_LOG2 = {np.dtype(np.float64): 64, np.dtype(np.float32): 16}
"""Norm bounds inside ``2^(+-this)`` are solved unscaled: ``||A||^4`` times a dimension up to ``2^40`` stays
finite and normal in the dtype."""


def default_tolerance(dtype) -> float:
    """Default residual tolerance: 1e-8 for float64, 1e-4 for float32."""
    return DEFAULT_TOL[np.dtype(dtype)]


def semi_orthogonality(tol, eps: float, xp=np):
    """``eta = max(1e-3 tol, 10 eps)``: the largest inner product of a new block with older basis rows that a
    local step leaves (beyond it the step is redone against the whole basis). ``xp``: numpy or jax.numpy."""
    return xp.maximum(1e-3 * tol, 10 * eps)


def breakdown_floor(rows: int, eps: float, norm: float) -> float:
    """Norm below which a direction of a block ``W`` (largest column norm ``norm``), orthogonalized against
    ``rows`` orthonormal rows, is round-off: deflated and replaced (module docstring)."""
    return BREAKDOWN_FACTOR * math.sqrt(rows) * eps * norm


def stopping_rule(theta, resid, tol, xp=np):
    """Whether the Ritz pairs meet the stopping rule: ``theta (k,)`` the top Ritz values ``s_i^2`` (descending),
    ``resid (k,)`` the Lanczos residual norms ``||R E^T y_i||``; every ``i`` must have ``resid_i <= tol s_1
    max(s_i, sqrt(tol) s_1) / 2`` (the right residual of the triplet after Rayleigh–Ritz is ``resid_i / s_i``;
    the floor ``sqrt(tol) s_1`` lets values ``s_i << s_1`` stop at the accuracy the squared spectrum allows).
    ``xp``: ``numpy`` or ``jax.numpy``. The caller judges only ``k`` pairs of a space of dimension ``>= k``."""
    s = xp.sqrt(xp.maximum(theta, 0.0))
    s1 = xp.maximum(s[0], xp.finfo(s.dtype).tiny)
    return xp.all(resid <= 0.5 * tol * s1 * xp.maximum(s, xp.sqrt(tol) * s1))


def gram_unresolved(lam_min, lam_max, b: int, eps: float):
    """Whether the Gram of a block ``W (N, b)`` with extreme eigenvalues ``lam_min``, ``lam_max`` cannot resolve
    ``W``'s smallest singular value (its eigenvalues carry an error ``~ b eps lam_max``): then ``W`` is
    orthonormalized through its thin SVD or Householder QR, not through the Gram, and a breakdown is judged on
    the singular values themselves."""
    return lam_min <= GRAM_RESOLUTION * b * eps * lam_max


def scale_exponent(low: float, high: float, dtype) -> int:
    """``e`` such that ``A 2^-e`` is solved in place of ``A`` (module docstring), from bounds ``low <= ||A|| <=
    high``: 0 when ``low`` is zero or both lie inside ``2^(+-SCALE_FREE_LOG2)``; else the exponent of their
    geometric mean (so ``||A 2^-e||`` is within ``sqrt(high / low)`` of 1)."""
    limit = SCALE_FREE_LOG2[np.dtype(dtype)]
    if low <= 0 or (2.0**-limit <= low and high <= 2.0**limit):
        return 0
    return math.frexp(math.sqrt(low) * math.sqrt(high))[1]


def norm_bounds(op) -> tuple[float, float]:
    """``(L, U)`` with ``L <= ||A||_2 <= U`` for a dense or sparse operator (``L`` the largest entry, ``U`` the
    Frobenius bound ``sqrt(m n) L``, tightened to ``sqrt(||A||_1 ||A||_inf)`` when that one is out of range); for
    a function operator both are an estimate by three normalized power steps from a fixed random vector (in numpy
    for a host operator: no compilation). One pass over the entries; the row and column sums only when needed."""
    m, n = op.shape
    values = op.matrix if isinstance(op, DenseOperator) else (
        op.forward.values if isinstance(op, SparseOperator) else getattr(op, "values", None))
    if values is None:
        if isinstance(op, HostFunctionOperator):
            forward, backward = op.forward.multiply, op.backward.multiply
        else:
            def forward(x):
                return op.matmat(jnp.asarray(x, op.dtype))

            def backward(y):
                return op.rmatmat(jnp.asarray(y, op.dtype))
        x = np.random.default_rng(0).standard_normal((n, 1))
        x /= np.linalg.norm(x)
        estimate = 0.0
        for _ in range(3):
            y = np.asarray(forward(x), dtype=np.float64)
            estimate = _safe_norm(y)
            if not np.isfinite(estimate) or estimate == 0:
                break
            x = np.asarray(backward(y / estimate), dtype=np.float64)
            x = x / (_safe_norm(x) or 1.0)
        return estimate, estimate
    xp = np if isinstance(values, np.ndarray) else jnp  # a device array (sharded too) is reduced where it lies
    low = float(xp.max(xp.abs(values), initial=0.0)) if values.size else 0.0
    high = low * np.sqrt(float(m) * float(n))
    if high > 2.0 ** SCALE_FREE_LOG2[np.dtype(op.dtype)] and isinstance(op, (DenseOperator, SparseOperator)):
        if isinstance(op, DenseOperator):
            a = jnp.abs(op.matrix)
            rows, cols = float(jnp.max(jnp.sum(a, axis=1))), float(jnp.max(jnp.sum(a, axis=0)))
        else:
            rows, cols = _abs_sums(op.forward, n), _abs_sums(op.backward, m)
        high = min(high, float(np.sqrt(rows) * np.sqrt(cols)))
    return low, high


def _safe_norm(x: np.ndarray) -> float:
    """``||x||`` without overflow or underflow of the squares (entries up to the dtype's largest)."""
    top = float(np.max(np.abs(x), initial=0.0))
    return top * float(np.linalg.norm(x / top)) if top > 0 and np.isfinite(top) else top


def _abs_sums(layout, n: int) -> float:
    """The largest row sum of ``|A|`` for one orientation of a sparse operator (a product of ``|A|`` with ones)."""
    magnitude = dataclasses.replace(layout, values=abs(layout.values))
    ones = np.ones((n, 1), dtype=np.dtype(layout.dtype))
    product = magnitude.multiply(ones) if hasattr(magnitude, "multiply") else magnitude.matmat(jnp.asarray(ones))
    return float(np.max(np.asarray(product, dtype=np.float64), initial=0.0))


def host_seed(key: jax.Array | None, purpose: str) -> list[int]:
    """The numpy seed of ``purpose`` under the JAX ``key`` (typed or raw ``uint32[2]``; ``None``: the default
    key 0): the key's words and ``crc32(purpose)``, for ``numpy.random.default_rng`` (a `numpy.random.SeedSequence`
    entropy). Named like `amf._random.named_key`; derived without a JAX computation, so the host paths compile
    nothing."""
    if key is None:
        words = [0, 0]  # the words of jax.random.key(0)
    else:
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        words = [int(v) for v in np.asarray(key).ravel()]
    return words + [zlib.crc32(purpose.encode())]


def saturated(s: np.ndarray, block: int, tol: float) -> bool:
    """True when a group of equal singular values has ``block`` or more members and ends before the last of the
    ``k`` returned: a block method sees at most ``block`` copies of a repeated value per step, so more copies may
    exist and belong in the top ``k``. "Equal": within ``max(30 eps, 10 tol^2) s_1`` (converged copies of one
    value agree to ``~ residual^2 / gap``; distinct values of a dense bulk are much further apart)."""
    block = max(block, 2)  # a block of one cannot show a repeat at all
    if s.size <= block:
        return False
    eps = float(np.finfo(s.dtype).eps)
    close = np.abs(np.diff(s)) <= max(30 * eps, 10 * tol**2) * max(float(s[0]), np.finfo(s.dtype).tiny)
    start = 0
    for i in range(1, s.size):
        if not close[i - 1]:
            if i - start >= block:
                return True
            start = i
    return False


@dataclasses.dataclass(frozen=True)
class KrylovPlan:
    """Static sizes of one solve: ``k`` wanted, block ``block``, ``keep`` Ritz vectors kept at a restart, ``steps``
    block steps per cycle (basis ``p = keep + steps * block`` plus one residual block), ``side`` the basis side
    (``"right"``: ``N = n``, ``M = A^T A``; ``"left"``: ``N = m``, ``M = A A^T``)."""

    k: int
    block: int
    keep: int
    steps: int
    side: str
    dim: int

    @property
    def basis(self) -> int:
        return self.keep + self.steps * self.block

    @property
    def dense(self) -> bool:
        """Too small for a restarted Krylov basis: solved by a dense SVD of ``A`` built from products."""
        return self.basis + self.block > self.dim


def plan(shape: tuple[int, int], k: int, block_size: int | None = None, side: str | None = None,
         host: bool = False) -> KrylovPlan:
    """The `KrylovPlan` of an ``m x n`` operator.

    Defaults: ``b = clip(k // 8, 4, 16)``; ``keep = k + max(2 b, 8)``; ``steps = max(4, ceil(4 keep / 3 b))``
    (``p ~ 2.3 keep``). ``side``: where the basis lives; default the smaller side (``"right"`` when ``n <= m``);
    a row-sharded operator asks for ``"left"`` so the basis is sharded too. ``host``: the CPU path's sizes:
    block `HOST_BLOCK` (4 for ``k < 8``), ``keep`` rounded up to whole blocks, ``steps = max(4, ceil(keep / b))``
    (``p ~ 2 keep``: as few products in less memory).
    """
    m, n = shape
    side = side or ("right" if n <= m else "left")
    dim = n if side == "right" else m
    if block_size is not None:
        block = int(block_size)
    elif host:
        block = HOST_BLOCK if k >= HOST_BLOCK else 4
    else:
        block = int(np.clip(k // 8, 4, 16))
    keep = k + max(2 * block, 8)
    if host:  # the host basis is a stack of whole blocks (amf.solvers.host_blocks)
        keep = -(-keep // block) * block
    steps = max(4, -(-keep // block) if host else -(-4 * keep // (3 * block)))
    return KrylovPlan(k=k, block=block, keep=keep, steps=steps, side=side, dim=dim)
