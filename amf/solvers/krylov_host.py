"""The CPU path of `amf.solvers.krylov.topk_svd`: the same thick-restart block Lanczos, in numpy on the host.

On a CPU the sparse products run on the host anyway (`amf.operators.host_csr`), so this module runs the whole
iteration there: numpy GEMMs (OpenBLAS) on a basis stored as rows ``(p + b, N)``, whose growing prefix is read
without copies (XLA would copy a prefix slice, which is why the jitted solver reads the whole buffer every step),
and the numba block kernel for ``A X`` and ``A^T Y``. The algorithm is the one `amf.solvers.krylov` documents
(steps 1-5 there); what differs here is only where it runs:

- a block step reads the *current* basis ``V[:c]`` (``c`` rows), once for ``h = V[:c] W`` when the block stays
  semi-orthogonal after its local pass (against its Lanczos neighbours and the `SELECTIVE_ROWS` leading Ritz
  vectors), which is checked exactly through ``max |h R^{-1}| <= eta``; otherwise by full block classical
  Gram–Schmidt twice;
- a restart rewrites the leading rows in column panels (`RESTART_PANEL`), so its temporary stays small;
- the final vectors come out in the caller's orientation: ``u (m, k)`` and ``vt (k, n)``, C order;
- one team of threads: OpenBLAS runs single-threaded (`single_blas`) and every GEMM over ``N`` is split over the
  kernel's thread pool (`coefficients`, `subtract_span`, `times_small`, `transpose_into`, restarts), so that no
  idle BLAS thread spins against the kernel's.

`host_lanczos` returns the claimed triplets; `amf.solvers.krylov.topk_svd` certifies them with
`amf.solvers.certify.certify_svd` like every other solve.
"""

from __future__ import annotations

import contextlib

import numpy as np

from amf.operators.csr_kernel import aligned, aligned_empty, pool, threads
from amf.operators.host_csr import HostCSR
from amf.solvers.lanczos_spec import (RESTART_PANEL, SELECTIVE_ROWS, breakdown_floor, gram_unresolved,
                                      semi_orthogonality, stopping_rule)

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # a checkout run without installing it (benchmarks/gpu_check.sh): OpenBLAS keeps its threads
    threadpool_limits = None

__all__ = ["coefficients", "host_lanczos", "single_blas", "subtract_span", "svqb", "times_small", "transpose_into"]

WELL_CONDITIONED = 10.0
"""`svqb` skips its second pass when ``lambda_max / lambda_min`` of the Gram is at most this."""

PANEL = 8192
"""Most rows of an ``(N, b)`` block per GEMM in `coefficients`, `subtract_span` and `times_small` (a panel of
``w``: 512 KB at ``b = 8``, float64)."""

PANEL_BYTES = 2**20
"""Bytes of the basis rows one GEMM panel of `coefficients` and `subtract_span` reads (``c`` rows times `panel`
columns): about one core's L2 cache (1 MiB on the machine of docs/performance.md). A panel that outgrows it
makes OpenBLAS's packing spill, and the GEMM runs at a fraction of the memory's rate."""


def panel(rows: int, itemsize: int) -> int:
    """Columns of ``N`` per GEMM panel against ``rows`` basis rows of ``itemsize`` bytes: the largest power of two
    whose ``rows x panel`` block fits in `PANEL_BYTES`, between 256 and `PANEL`."""
    fit = PANEL_BYTES // max(1, rows * itemsize)
    return int(min(PANEL, max(256, 1 << max(0, fit.bit_length() - 1))))


def svqb(w: np.ndarray, floor: float, rng: np.random.Generator, *bases: np.ndarray):
    """``w = q r`` with ``q (N, b)`` orthonormal: SVQB (``q = w z lambda^{-1/2}`` from the eigen-decomposition of
    the ``b x b`` Gram), then one Gram-based pass (``q G^{-1/2}``) for the last digits unless ``cond(w)^2 <=``
    `WELL_CONDITIONED`. A Gram that cannot resolve ``w``'s smallest singular value
    (`amf.solvers.lanczos_spec.gram_unresolved`) takes the thin SVD of ``w`` instead.

    Directions with a singular value at most ``floor`` (``w`` is in the span of ``bases`` there to round-off: a
    breakdown) get zero rows of ``r`` and random unit vectors orthogonal, twice, to the rows of every one of
    ``bases`` (each orthonormal rows ``(c, N)``) and to the rest of ``q`` (`amf.solvers.lanczos_spec`).
    Returns ``q``, ``r`` and whether ``w`` was ill-conditioned (rank-deficient or ``cond(w) > eps^(-1/4)``).
    """
    eps = np.finfo(w.dtype).eps
    lam, z = np.linalg.eigh(coefficients(w.T, w))
    if gram_unresolved(lam[0], max(float(lam[-1]), 0.0), w.shape[1], float(eps)):
        q, sv, zt = np.linalg.svd(w, full_matrices=False)  # rare: a breakdown or a nearly dependent block
        bad = sv <= floor
        r = np.where(bad, 0.0, sv)[:, None] * zt
        if bad.any():
            q[:, bad] = _fresh(rng, w.shape[0], int(bad.sum()), w.dtype, q[:, ~bad], bases)
        return q, r, True
    bad = lam <= floor**2
    root = np.sqrt(np.where(bad, 1.0, lam))
    q = times_small(w, z / root)
    r = np.where(bad, 0.0, root)[:, None] * z.T
    if bad.any():
        q[:, bad] = _fresh(rng, w.shape[0], int(bad.sum()), w.dtype, q[:, ~bad], bases)
    if not bad.any() and WELL_CONDITIONED * lam[0] >= lam[-1]:
        return q, r, False  # loss of orthogonality ~ eps cond(w)^2 <= 10 eps: the second pass is round-off
    lam2, z2 = np.linalg.eigh(coefficients(q.T, q))
    root2 = np.sqrt(np.maximum(lam2, np.finfo(w.dtype).tiny))
    times_small(q, (z2 / root2) @ z2.T, out=q)  # in place: no third (N, b) block beside w and q
    r = ((z2 * root2) @ z2.T) @ r
    return q, r, bool(bad.any() or lam[0] < np.sqrt(eps) * lam[-1])


def _fresh(rng: np.random.Generator, n: int, count: int, dtype, q: np.ndarray, bases) -> np.ndarray:
    """``count`` Gaussian unit vectors orthogonal, twice, to the rows of every one of ``bases``, to the columns
    of ``q`` and to each other: the directions that replace a breakdown's (`amf.solvers.lanczos_spec`)."""
    fresh = rng.standard_normal((n, count)).astype(dtype)
    for _ in range(2):
        for basis in bases:
            fresh -= basis.T @ (basis @ fresh)
        fresh -= q @ (q.T @ fresh)
        fresh, _ = np.linalg.qr(fresh)
    return fresh


def _spans(n: int) -> list[tuple[int, int]]:
    """``[0, n)`` split into one contiguous range per thread of the kernel's pool."""
    step = max(1, -(-n // threads()))
    return [(lo, min(n, lo + step)) for lo in range(0, n, step)]


def _panels(span: tuple[int, int], step: int):
    """The slices of ``[span[0], span[1])`` in pieces of ``step``, the last one ragged."""
    return (slice(start, min(span[1], start + step)) for start in range(span[0], span[1], step))


def coefficients(rows: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``rows @ w`` (``(c, N) x (N, b)``): one range of ``N`` per thread of the kernel's pool, each in column
    panels of `panel` columns, whose ``c`` rows fit in a core's L2 (docs/performance.md has the measured gain).
    The host solvers run OpenBLAS single-threaded (`single_blas`), so the GEMMs and the sparse products share the
    same threads."""
    dtype = np.result_type(rows, w)
    step = panel(rows.shape[0], rows.itemsize)

    def part(span):
        out = np.zeros((rows.shape[0], w.shape[1]), dtype)
        for piece in _panels(span, step):
            out += rows[:, piece] @ w[piece]
        return out

    return sum(pool().map(part, _spans(w.shape[0])))


def subtract_span(w: np.ndarray, rows: np.ndarray, h: np.ndarray) -> None:
    """``w -= rows^T h`` in place (``w (N, b)``, ``rows (c, N)``, ``h (c, b)``), one range of ``N`` per thread,
    in row panels of `panel` rows: the temporary is one panel, not an ``(N, b)`` block, and the panel of ``rows``
    stays in a core's L2 (docs/performance.md)."""
    step = panel(rows.shape[0], rows.itemsize)

    def part(span):
        for piece in _panels(span, step):
            w[piece] -= rows[:, piece].T @ h

    for _ in pool().map(part, _spans(w.shape[0])):
        pass


def times_small(w: np.ndarray, small: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``w @ small`` (``(N, b) x (b, b')``), one range of rows of ``w`` per thread of the kernel's pool, in row
    panels of `PANEL`. ``out``: where to write it (``w`` itself for a square ``small``: row panels make that
    safe); by default a new array aligned for the kernel (`amf.operators.csr_kernel.aligned_empty`), so a new
    block is the next product's input as it is."""
    if out is None:
        out = aligned_empty((w.shape[0], small.shape[1]), np.result_type(w, small))

    def part(span):
        for piece in _panels(span, PANEL):
            out[piece] = w[piece] @ small

    for _ in pool().map(part, _spans(w.shape[0])):
        pass
    return out


def transpose_into(out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``out[...] = x.T`` for ``x (b, N)`` or ``(N, b)``, one range of ``N`` per thread (a transposing copy is
    latency-bound)."""
    long_axis = 1 if x.shape[1] >= x.shape[0] else 0

    def part(span):
        lo, hi = span
        if long_axis:
            out[lo:hi] = x[:, lo:hi].T
        else:
            out[:, lo:hi] = x[lo:hi].T

    for _ in pool().map(part, _spans(x.shape[long_axis])):
        pass
    return out


def single_blas():
    """A context in which OpenBLAS runs one thread: the host solvers split their GEMMs over the kernel's threads
    themselves (`coefficients`, `subtract_span`, `_restart_rows`), and OpenBLAS's own idle threads would spin
    against those after every call (docs/performance.md)."""
    return contextlib.nullcontext() if threadpool_limits is None else threadpool_limits(1, user_api="blas")


class _Normal:
    """``M X = A^T A X`` (``side="right"``) or ``A A^T X`` (``"left"``) for ``X (N, b)`` with two host kernels, in
    the matrices' stored order (`amf.operators.ordering`), of ``c A`` with ``scale`` ``c``; counts the columns
    multiplied by ``A`` or ``A^T``."""

    def __init__(self, forward: HostCSR, backward: HostCSR, side: str, scale: float | None = None):
        self.first, self.second = (forward, backward) if side == "right" else (backward, forward)
        self.scale = scale
        self.products = 0

    def take(self, pending: list) -> np.ndarray:
        """``M X`` for the block ``X`` popped from ``pending`` (its only holder): ``X`` is freed before the second
        product allocates its output, so at most two ``(N, b)`` blocks live beside the basis."""
        x = pending.pop()
        self.products += 2 * x.shape[1]
        if self.scale is not None:  # c A with c a power of two: each product's input scaled, exactly
            x = x * self.scale
        y = self.first.multiply_stored(x)
        del x
        if self.scale is not None:
            y *= self.scale
        return self.second.multiply_stored(y)


def _restart_rows(basis: np.ndarray, select: np.ndarray) -> None:
    """``basis[:c] = select^T basis[:r]`` in place (``select (r, c)``), one panel of `RESTART_PANEL` columns at a
    time."""
    r, c = select.shape
    st = np.ascontiguousarray(select.T)

    def part(span):  # disjoint columns per thread: in place is safe
        for piece in _panels(span, RESTART_PANEL):
            basis[:c, piece] = st @ basis[:r, piece]

    for _ in pool().map(part, _spans(basis.shape[1])):
        pass


def _orthonormalize(basis: np.ndarray, c: int, b: int, w: np.ndarray, top: int | None, eta: float,
                    rng: np.random.Generator):
    """Orthonormalize ``w = M V_j (N, b)`` against the basis rows ``[0, c + b)`` (``V_j`` = rows ``[c, c + b)``).

    Returns ``q (N, b)``, the column ``(c + b, b)`` of ``T`` and ``r (b, b)`` with ``w = V^T column + q r``.
    With ``top`` (a local step): one pass against the Lanczos neighbours (rows ``[c - b, c + b)``) and the ``top``
    leading Ritz vectors, then one read of the basis for ``h = V w``, whose rows are the components left;
    ``q = w r^{-1}``, so ``V q = h r^{-1}`` exactly, and the step is done when ``max |h r^{-1}| <= eta``; else
    ``w -= V^T h`` (one more read) and ``w`` is normalized again. Without ``top``, or when ``w`` is
    ill-conditioned: block classical Gram–Schmidt twice over the whole basis (four reads).
    """
    current = basis[: c + b]
    eps = float(np.finfo(w.dtype).eps)
    floor = breakdown_floor(c + 2 * b, eps, float(np.sqrt(np.max(np.einsum("ij,ij->j", w, w)))))
    column = np.zeros((c + b, b), w.dtype)
    if top is not None:
        for rows in (slice(0, top), slice(c - b, c + b)):
            g = coefficients(basis[rows], w)
            subtract_span(w, basis[rows], g)
            column[rows] += g
        h = coefficients(current, w)
        q, r, ill = svqb(w, floor, rng, current)
        if not ill and float(np.max(np.abs(np.linalg.solve(r.T, h.T)))) <= eta:
            return q, column, r
        if not ill:
            del q  # the new q is allocated without the old one
            subtract_span(w, current, h)
            column += h
            q, r, ill = svqb(w, floor, rng, current)
            if not ill:
                return q, column, r
    for _ in range(2):
        h = coefficients(current, w)
        subtract_span(w, current, h)
        column += h
    q, r, ill = svqb(w, floor, rng, current)
    if ill:  # q's orthogonality to the basis is ~ eps ||w|| / sigma_min(w): once more
        h = coefficients(current, q)
        subtract_span(q, current, h)
        column += h @ r
        q, r2, _ = svqb(q, 0.0, rng, current)
        r = r2 @ r
    return q, column, r


def _ritz(t: np.ndarray, r: np.ndarray, b: int, k: int, tol: float):
    """Ritz values ``theta`` (descending) and vectors ``y`` of the symmetric ``t`` (its upper triangle), and
    whether the top ``k`` pairs meet `amf.solvers.lanczos_spec.stopping_rule` (never with fewer than ``k``)."""
    theta, y = np.linalg.eigh(np.triu(t) + np.triu(t, 1).T)
    theta, y = theta[::-1], y[:, ::-1]
    if theta.size < k:  # an invariant space smaller than k: a breakdown, deflated by the next blocks
        return theta, y, False
    resid = np.linalg.norm(r @ y[-b:, :k], axis=0)
    return theta, y, bool(stopping_rule(theta[:k], resid, tol))


def _rayleigh_ritz(matrix, ritz: np.ndarray):
    """Rayleigh–Ritz on the other side (`amf.solvers.krylov`, step 5) for the orthonormal Ritz vectors
    ``ritz = V (N, k)``, ``matrix(x) = A x`` in the stored order: ``W = A V = Q R``, ``R = X S Z^T``; returns
    ``Q X (M, k)``, ``s`` and ``Z^T``, so that the triplets are ``(Q X, s, Z^T V^T)`` with ``A v_i = s_i u_i`` to
    round-off.

    With the Löwdin factor ``R = G^{1/2}`` of ``G = W^T W = z lambda z^T`` (symmetric, so ``X = Z = z`` and
    ``s = sqrt(lambda)``): ``u = W z / s`` in one GEMM, without a ``Q`` beside ``W``; one Gram-based pass more
    when ``u`` is not orthonormal to round-off. A ``W`` whose Gram cannot resolve its smallest singular value
    (``lambda_k <= 100 k eps lambda_1``, e.g. ``s_k = 0``) takes Householder QR instead.
    """
    w = matrix(ritz)
    eps = float(np.finfo(w.dtype).eps)
    k = w.shape[1]
    lam, z = np.linalg.eigh(w.T @ w)
    lam, z = lam[::-1], z[:, ::-1]
    if gram_unresolved(lam[-1], max(float(lam[0]), np.finfo(w.dtype).tiny), k, eps):
        # cond(W) beyond what its Gram resolves (s_k zero to round-off): LAPACK's Householder QR, whose q is
        # orthonormal whatever the rank (slow on a tall block, so only here)
        q, r = np.linalg.qr(w)
        x, s, zt = np.linalg.svd(r)
        return q @ x, s, zt
    s = np.sqrt(lam)
    u = w @ (z / s)
    del w
    gram = u.T @ u
    if np.max(np.abs(gram - np.eye(k))) > 100 * k * eps:
        lam2, z2 = np.linalg.eigh(gram)
        u = u @ ((z2 / np.sqrt(lam2)) @ z2.T)
    return u, s.astype(u.dtype), np.ascontiguousarray(z.T)


def host_lanczos(forward: HostCSR, backward: HostCSR, shape: tuple[int, int], *, k: int, block: int, keep: int,
                 steps: int, side: str, tol: float, max_iterations: int, seed, scale: float | None = None):
    """Thick-restart block Lanczos on the normal operator, on the host (module docstring), of ``c A`` when
    ``scale`` is a power of two ``c`` (`amf.solvers.lanczos_spec`, "Scale"; the returned ``s`` are ``A``'s).

    ``forward`` is ``A (m, n)``, ``backward`` ``A^T``; the basis lives on ``side`` (``"right"``: ``N = n``).
    Sizes are `amf.solvers.krylov.KrylovPlan`'s. Returns ``u (m, k)``, ``s (k,)``, ``vt (k, n)`` (the
    operator's dtype), the cycles run, the columns multiplied, and whether the stopping rule held.
    """
    with single_blas():
        return _lanczos(forward, backward, shape, k=k, block=block, keep=keep, steps=steps, side=side, tol=tol,
                        max_iterations=max_iterations, seed=seed, scale=scale)


def _lanczos(forward: HostCSR, backward: HostCSR, shape: tuple[int, int], *, k: int, block: int, keep: int,
             steps: int, side: str, tol: float, max_iterations: int, seed, scale: float | None):
    """`host_lanczos`, inside `single_blas`."""
    m, n = shape
    dtype = np.dtype(forward.dtype)
    eps = float(np.finfo(dtype).eps)
    n_dim = n if side == "right" else m
    b = block
    p = keep + steps * b
    rng = np.random.default_rng(seed)
    normal = _Normal(forward, backward, side, scale)
    eta = float(semi_orthogonality(tol, eps))
    top = min(SELECTIVE_ROWS, keep)

    basis = np.zeros((p + b, n_dim), dtype)
    start, _, _ = svqb(rng.standard_normal((n_dim, b)).astype(dtype), 0.0, rng, basis[:0])
    basis[keep : keep + b] = start.T
    theta = np.zeros(keep, dtype)
    cycles = 0
    pending = [aligned(start, dtype)]  # rows [c, c + b) of the basis in the kernel's layout (N, b), held once
    del start
    while True:
        t = np.zeros((p, p), dtype)
        t[np.arange(keep), np.arange(keep)] = theta
        for j in range(steps):
            c = keep + j * b  # the current block's first row; rows [0, c + b) are the basis so far
            w = normal.take(pending)
            # the first block of a cycle couples to every kept Ritz vector: the whole basis
            q, column, r = _orthonormalize(basis, c, b, w, top if j > 0 else None, eta, rng)
            transpose_into(basis[c + b : c + 2 * b], q)
            # the next product's input as it is: no transposing copy back out of the basis; a restart keeps
            # rows [p, p + b) as rows [keep, keep + b) exactly (an identity block of its selection)
            pending.append(aligned(q, dtype))
            del w, q  # the next step's blocks are allocated without these (64 MB each at N = 10^6, b = 8)
            t[: c + b, c : c + b] = column
            # M V = V T + Q R E^T holds for the basis so far: its Ritz pairs can be judged after every step
            size = c + b
            lo = keep if cycles == 0 else 0  # before the first restart the leading rows are zero, not a basis
            theta_all, y, converged = _ritz(t[lo:size, lo:size], r, b, k, tol)
            y = np.concatenate([np.zeros((lo, y.shape[1]), dtype), y]) if lo else y
            if converged:
                break
        cycles += 1
        if converged or cycles >= max_iterations:
            break
        select = np.zeros((p + b, keep + b), dtype)  # restart: [Y_keep | E]^T V over the first rows
        select[:p, :keep] = y[:, :keep]
        select[p:, keep:] = np.eye(b, dtype=dtype)
        _restart_rows(basis, select)
        basis[keep + b :] = 0
        theta = theta_all[:keep].astype(dtype)

    pending.clear()
    # the top k Ritz vectors over the first rows, in place, orthonormal to round-off (the basis is to eta)
    _restart_rows(basis, y[:, :k])
    for _ in range(2):
        lam, z = np.linalg.eigh(basis[:k] @ basis[:k].T)
        _restart_rows(basis, (z / np.sqrt(lam)) @ z.T)
    # only rows [0, k) are needed now: shrink the buffer in place (realloc returns the rest to the system at
    # once), so the (N, k) copy below is not allocated beside the whole basis
    basis.resize((k, n_dim), refcheck=False)
    ritz = transpose_into(aligned_empty((n_dim, k), dtype), basis)  # the product's input, the only copy
    del basis  # the (N, k) blocks of the last step are allocated after the basis is freed
    other = forward if side == "right" else backward
    theirs, s, zt = _rayleigh_ritz(other.multiply_stored if scale is None else
                                   (lambda x: other.multiply_stored(x * scale)), ritz)
    if scale is not None:
        s = s / scale
    normal.products += k
    mine = zt @ ritz.T  # (k, N)
    del ritz
    if side == "right":
        u, vt = theirs, mine
    else:
        u, vt = np.ascontiguousarray(mine.T), np.ascontiguousarray(theirs.T)
    if forward.rows is not None:  # back to the original order (amf.operators.ordering)
        u[forward.rows] = u.copy()
        vt[:, forward.cols] = vt.copy()
    return u, s, vt, cycles, normal.products, converged
