"""Certificates of a claimed truncated SVD, measured against the matrix itself (never the solver's word).

`certify_svd(A, u, s, vt)` checks a claim "these ``r`` triplets are the top ``r`` singular triplets of ``A``":

1. **Residuals** ``||A v_i - s_i u_i|| / s_1`` and ``||A^T u_i - s_i v_i|| / s_1``, recomputed with block products
   of `RESIDUAL_COLUMNS` triplets, and the **orthonormality** of ``U`` and ``V``: the triplets are singular
   triplets.
2. **Top** (`complement_norm`): nothing outside the claimed subspace is larger. On the smaller side (``V`` when
   ``n <= m``) the largest singular value of the deflated matrix ``B = A (I - V V^T)`` (else ``(I - U U^T) A``)
   is estimated with its own random start by block Lanczos on ``B^T B`` (full reorthogonalization, `TOP_BLOCK`
   columns, as many steps as the failure probability needs), or exactly by a dense SVD of ``B`` on small
   matrices. ``||B|| = max_{x perp V} ||A x||`` is the largest singular value the claim leaves out when ``V``
   spans right singular vectors (Courant–Fischer), and at least ``s_{r+1}`` for any ``V``; the other side's
   projection is not needed: with the right residuals ``R = A^T U - V S`` it would lower ``||B||^2`` by at most
   ``||R||_2^2``. The Ritz value never exceeds the true value, so the estimate cannot raise a false alarm; it
   can miss. Kuczyński & Woźniakowski (1992) bound the chance that Lanczos from a uniformly random start ends
   below ``(1 - eps) lambda_max`` after ``q`` steps by ``1.648 sqrt(d) exp(-sqrt(eps) (2 q - 1))`` (``d``: the
   dimension); a block contains each column's Krylov space, so for ``b`` independent Gaussian columns the
   chance is at most that to the power ``b``. The test fails when the estimate exceeds ``s_r + 10 tol s_1``;
   ``failure_probability`` bounds the chance that a singular value at least ``(1 + TOP_MARGIN)`` times that
   threshold went unseen. A non-top SVD (a triplet skipped, a repeated value with too few copies) is caught at
   every size.

On a CPU, for a sparse operator whose products run on the host, both checks run in numpy beside the kernel
(`amf.solvers.certify_host`); elsewhere they are jitted.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.experimental import multihost_utils

from amf._linalg import matmul
from amf.errors import InputError
from amf.operators import Operator, as_operator, jit_operator, on_host
from amf.solution import Reason, SVDCertificate, SVDResult
from amf.solvers import certify_host
from amf.solvers.lanczos_spec import DEFAULT_TOL, scale_exponent


def to_host(x) -> np.ndarray:
    """``x`` as a numpy array on this process, gathering the shards of other processes when it is split over
    several hosts (``jax.distributed``); a plain ``np.asarray`` otherwise."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)



TOP_BLOCK = 1
"""Random start columns of the complement test. One: the failure probability needs 36 steps of one column at
``10^6`` nodes (72 products) against 24 of two (96), and on the CPU a product of two columns costs more than one
of one (measured: docs/performance.md)."""

TOP_MARGIN = 0.05
"""Relative size of a missed singular value that `TopTest.failure_probability` speaks of."""

TOP_FAILURE = 1e-6
"""Target failure probability of the complement test: it takes as many Lanczos steps as that needs."""

TOP_DENSE = 512
"""Largest side at which the complement test is a dense SVD of ``B`` (exact, failure probability 0), when ``B``
also has at most `TOP_DENSE_ENTRIES` entries."""

TOP_DENSE_ENTRIES = 25_000_000
"""Largest ``m n`` of a dense ``B`` (200 MB in float64): a small side beside a huge one takes the Lanczos route."""

RESIDUAL_COLUMNS = 8
"""Triplets whose residuals are measured per block product. It bounds the products' temporaries (a few ``(N, 8)``
blocks beside ``U`` and ``V``), which keeps the certificate's peak below the host solver's own; wider blocks read
the matrix fewer times but raise the whole solve's peak (docs/performance.md)."""


@jax.jit
def _residual_columns(op: Operator, u: jax.Array, s: jax.Array, vt: jax.Array, scale: jax.Array):
    """``||A v_i - s_i u_i|| / scale`` and ``||A^T u_i - s_i v_i|| / scale`` for a group of triplets."""
    v = vt.T
    # divided before the squares: no overflow or underflow for extreme entries
    left = jnp.linalg.norm((op.matmat(v) - u * s) / scale, axis=0)
    right = jnp.linalg.norm((op.rmatmat(u) - v * s) / scale, axis=0)
    return left, right


@jax.jit
def _orthonormality(u: jax.Array, vt: jax.Array):
    eye = jnp.eye(u.shape[1], dtype=u.dtype)
    return jnp.maximum(jnp.max(jnp.abs(matmul(u.T, u) - eye)), jnp.max(jnp.abs(matmul(vt, vt.T) - eye)))


@dataclasses.dataclass(frozen=True)
class TopTest:
    """The complement test of a claimed top-``r`` SVD (module docstring).

    - ``bound``: the largest singular value found outside the claimed subspaces (a lower estimate of it);
    - ``threshold``: ``s_r + 10 tol s_1``; ``passed``: ``bound <= threshold``;
    - ``failure_probability``: at most this chance that a singular value ``>= (1 + margin) threshold`` outside
      the claim was missed (0 for the dense route); ``margin``: `TOP_MARGIN`;
    - ``method``: ``"lanczos"`` or ``"dense"``; ``steps``, ``block``: the Krylov steps and start columns;
      ``products``: columns multiplied by ``A`` or ``A^T`` for the test.
    """

    bound: float
    threshold: float
    passed: bool
    failure_probability: float
    margin: float
    method: str
    steps: int
    block: int
    products: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def lanczos_steps(dimension: int, *, block: int = TOP_BLOCK, margin: float = TOP_MARGIN,
                  failure: float = TOP_FAILURE) -> int:
    """Fewest Lanczos steps ``q`` with ``(1.648 sqrt(d) exp(-sqrt(eps) (2q - 1)))^block <= failure``,
    ``eps = 1 - 1 / (1 + margin)^2``."""
    eps = 1.0 - 1.0 / (1.0 + margin) ** 2
    needed = (math.log(1.648 * math.sqrt(max(dimension, 1))) - math.log(failure) / block) / math.sqrt(eps)
    return max(2, math.ceil((needed + 1) / 2))


def failure_probability(dimension: int, steps: int, block: int, margin: float) -> float:
    """The Kuczyński–Woźniakowski bound for ``block`` independent starts after ``steps`` Lanczos steps."""
    eps = 1.0 - 1.0 / (1.0 + margin) ** 2
    single = 1.648 * math.sqrt(max(dimension, 1)) * math.exp(-math.sqrt(eps) * (2 * steps - 1))
    return min(1.0, single) ** block


def _orthonormal(x):
    """An orthonormal basis of ``col(x)`` by Cholesky-QR (a claimed basis is near-orthonormal; a rank-deficient
    one gives NaN, and the test then fails)."""
    r = jnp.linalg.cholesky(matmul(x.T, x)).T
    return jax.scipy.linalg.solve_triangular(r, x.T, trans="T", lower=False).T


def _projector(basis):
    """``x -> (I - Q Q^T) x`` with ``Q`` an orthonormal basis of ``col(basis)``, applied twice (one pass loses
    orthogonality to round-off of ``||x||``)."""
    q = _orthonormal(basis)

    def project(x):
        for _ in range(2):
            x = x - matmul(q, matmul(q.T, x))
        return x

    return project


@functools.partial(jax.jit, static_argnames=("block", "steps", "right"))
def _complement_lanczos(op: Operator, u: jax.Array, vt: jax.Array, key: jax.Array, scale, *, block: int,
                        steps: int, right: bool):
    """Largest Ritz value of ``C = B^T B`` on a block Krylov space of ``steps`` blocks: the estimate of
    ``||B||_2``, ``B = A (I - V V^T)`` (``right``) or ``B^T = A^T (I - U U^T)``, computed for ``scale B``
    (``scale`` a power of two) and returned for ``B``."""
    near = vt.T if right else u  # the side Lanczos runs on
    project_near = _projector(near)
    forward, back = (op.matmat, op.rmatmat) if right else (op.rmatmat, op.matmat)

    def normal(x):
        return project_near(back(forward(project_near(x) * scale).astype(x.dtype) * scale).astype(x.dtype))

    d, width = near.shape[0], block * steps
    start = project_near(jax.random.normal(key, (d, block), dtype=near.dtype))
    q0 = jnp.linalg.qr(project_near(jnp.linalg.qr(start)[0]))[0]

    def step(j, carry):
        basis, t, q = carry
        basis = lax.dynamic_update_slice(basis, q, (0, j * block))
        w = normal(q)
        c = matmul(basis.T, w)  # rows past block j are zero: the later steps fill them
        t = lax.dynamic_update_slice(t, c, (0, j * block))
        t = lax.dynamic_update_slice(t, c.T, (j * block, 0))
        w = w - matmul(basis, c)
        for _ in range(2):  # the second pass also keeps a block of round-off (an exhausted space) orthonormal
            w = project_near(w - matmul(basis, matmul(basis.T, w)))
            w = w - matmul(basis, matmul(basis.T, w))
            w = jnp.linalg.qr(w)[0]
        return basis, t, w

    init = (jnp.zeros((d, width), near.dtype), jnp.zeros((width, width), near.dtype), q0)
    _, t, _ = lax.fori_loop(0, steps, step, init)
    theta = jnp.linalg.eigvalsh(0.5 * (t + t.T))[-1]
    return jnp.sqrt(jnp.maximum(theta, 0.0)) / scale


@jax.jit
def _complement_dense(op: Operator, u: jax.Array, vt: jax.Array):
    """``||B||_2`` exactly, from the dense ``A`` built with ``min(m, n)`` products: ``B = A (I - V V^T)`` when
    ``n <= m``, else ``(I - U U^T) A``."""
    m, n = op.shape
    if n <= m:
        dense = op.matmat(jnp.eye(n, dtype=u.dtype)).astype(u.dtype)
        b = _projector(vt.T)(dense.T).T
    else:
        dense = op.rmatmat(jnp.eye(m, dtype=u.dtype)).astype(u.dtype).T
        b = _projector(u)(dense)
    return jnp.linalg.svd(b, compute_uv=False)[0]


def complement_norm(op: Operator, u, vt, *, key: jax.Array | None, block: int = TOP_BLOCK,
                    margin: float = TOP_MARGIN, failure: float = TOP_FAILURE,
                    size: float = 1.0) -> tuple[float, str, int, float, int]:
    """``(estimate of ||B||_2, method, steps, failure probability, products)`` for the claimed ``U``, ``V``.

    ``size``: the claimed ``s_1``; when it lies outside the dtype's range of `amf.solvers.lanczos_spec`
    ("Scale"), the Lanczos estimate runs on ``2^-e B`` (``e`` its exponent: an exact scaling, so a wrong claim
    only risks an overflow, which fails the test) and is scaled back."""
    m, n = (int(x) for x in op.shape)
    r = int(u.shape[1])
    side = min(m, n)
    if side - r <= 0:
        return 0.0, "dense", 0, 0.0, 0
    if side <= TOP_DENSE and m * n <= TOP_DENSE_ENTRIES:
        if on_host(op):
            return certify_host.complement_dense(op, np.asarray(u), np.asarray(vt)), "dense", 0, 0.0, side
        return float(to_host(_complement_dense(op, u, vt))), "dense", 0, 0.0, side
    exponent = scale_exponent(size, size, np.dtype(op.dtype)) if np.isfinite(size) else 0
    scale = math.ldexp(1.0, -exponent)
    block = min(block, side - r)
    steps = min(lanczos_steps(side - r, block=block, margin=margin, failure=failure), (side - r) // (2 * block))
    if on_host(op):
        near = np.asarray(vt) if n <= m else np.ascontiguousarray(np.asarray(u).T)
        estimate = certify_host.complement_lanczos(op, near, right=n <= m, block=block, steps=steps,
                                                   seed=certify_host.host_seed(key, "complement start"), scale=scale)
    else:
        key = jax.random.key(0) if key is None else key
        estimate = float(to_host(_complement_lanczos(op, u, vt, key, jnp.asarray(scale, u.dtype), block=block,
                                                     steps=steps, right=n <= m)))
    return estimate, "lanczos", steps, failure_probability(side - r, steps, block, margin), 2 * block * steps


def certify_svd(matrix, u, s, vt, *, key: jax.Array | None = None, tol: float | None = None,
                iterations: int = 0, matvecs: int = 0, finished: bool = True) -> SVDResult:
    """Certify a claimed top-``r`` SVD ``A ~ U diag(s) V^T`` of ``matrix`` (module docstring).

    ``matrix``: a dense array, a scipy sparse matrix or an `amf.operators.Operator`; ``u (m, r)``, ``s (r,)``
    descending, ``vt (r, n)``. ``tol``: relative residual tolerance (default `DEFAULT_TOL` of the dtype);
    ``key``: the complement test's own PRNG key (default ``jax.random.key(0)``; on the host path its numpy seed
    `amf.solvers.lanczos_spec.host_seed` ``(key, "complement start")``, derived without a JAX computation).
    ``iterations``, ``matvecs`` and
    ``finished`` (whether the solver met its own stopping rule) are the solver's, recorded as given.

    The returned `SVDResult` holds the arrays and an `SVDCertificate`: ``converged`` when the residuals, the
    orthonormality, the order (``s`` non-increasing, to ``tol s_1``) and the top test pass; else ``reason`` is
    `Reason.BREAKDOWN` for non-finite values, `Reason.ITERATION_LIMIT` for an unfinished solver,
    `Reason.TOLERANCE` otherwise.
    """
    op = as_operator(matrix)
    host = on_host(op)  # both checks in numpy (amf.solvers.certify_host)
    if host:
        u, s, vt = np.asarray(u), np.asarray(s), np.asarray(vt)
    else:
        op = jit_operator(op)
        u, s, vt = jnp.asarray(u), jnp.asarray(s), jnp.asarray(vt)
    if u.ndim != 2 or vt.ndim != 2 or s.ndim != 1 or not (u.shape[1] == s.shape[0] == vt.shape[0]) \
            or (u.shape[0], vt.shape[1]) != tuple(op.shape):
        raise InputError(f"a claimed SVD of a {tuple(op.shape)} matrix needs u (m, r), s (r,), vt (r, n); got u "
                         f"{u.shape}, s {s.shape}, vt {vt.shape}")
    if s.shape[0] == 0:
        raise InputError("a claimed SVD needs at least one triplet")
    tolerance = DEFAULT_TOL.get(np.dtype(s.dtype), 1e-8) if tol is None else float(tol)
    if host:
        scale = max(float(s[0]), float(np.finfo(s.dtype).tiny))
        left, right = certify_host.residuals(op, u, s, vt, scale, RESIDUAL_COLUMNS)
        ortho = certify_host.orthonormality(u, vt)
    else:
        scale = jnp.maximum(s[0], jnp.finfo(s.dtype).tiny)
        groups = [
            _residual_columns(op, u[:, i : i + RESIDUAL_COLUMNS], s[i : i + RESIDUAL_COLUMNS],
                              vt[i : i + RESIDUAL_COLUMNS], scale)
            for i in range(0, s.shape[0], RESIDUAL_COLUMNS)
        ]
        left = np.concatenate([to_host(g[0]) for g in groups])
        right = np.concatenate([to_host(g[1]) for g in groups])
        ortho = to_host(_orthonormality(u, vt))
    s_host = to_host(s).astype(np.float64)
    bound, method, steps, probability, products = complement_norm(
        op, u, vt, key=key, size=float(abs(s_host[0])))
    threshold = float(s_host[-1] + 10 * tolerance * max(s_host[0], 0.0))
    test = TopTest(bound, threshold, bool(bound <= threshold), probability, TOP_MARGIN, method, steps,
                   min(TOP_BLOCK, max(min(op.shape) - s.shape[0], 0)), products)
    descending = bool(np.all(np.diff(s_host) <= tolerance * max(float(np.max(s_host)), 0.0)))
    converged = bool(
        np.all(left <= tolerance)
        and np.all(right <= tolerance)
        and float(ortho) <= max(tolerance, 1e4 * float(jnp.finfo(s.dtype).eps))
        and descending
        and test.passed
    )
    if converged:
        reason = Reason.CONVERGED
    elif not (np.all(np.isfinite(left)) and np.all(np.isfinite(right)) and np.isfinite(ortho)):
        reason = Reason.BREAKDOWN
    else:
        reason = Reason.TOLERANCE if finished else Reason.ITERATION_LIMIT
    certificate = SVDCertificate(
        residual_left=left,
        residual_right=right,
        orthonormality=float(ortho),
        iterations=int(iterations),
        matvecs=int(matvecs) + 2 * int(s.shape[0]),
        tolerance=float(tolerance),
        converged=converged,
        reason=reason,
        descending=descending,
        top=test,
    )
    return SVDResult(to_host(u), to_host(s), to_host(vt), certificate)
