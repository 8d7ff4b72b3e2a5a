"""The CPU path of `amf.solvers.krylov.topk_svd`: the same thick-restart block Lanczos, in numpy on the host.

On a CPU the sparse products run on the host anyway (`amf.operators.host_csr`), so this module runs the whole
iteration there: numpy GEMMs (OpenBLAS) on a basis stored as a stack of blocks ``V (p / b + 1, N, b)``
(`amf.solvers.host_blocks`), whose growing prefix is read without copies (XLA would copy a prefix slice, which is
why the jitted solver reads the whole buffer every step), and the numba block kernel for ``A X`` and ``A^T Y``.
The algorithm is the one `amf.solvers.krylov` documents (steps 1-5 there); what differs here is only where it
runs:

- a block is the kernel's input where it lies in the basis, and ``A^T (A V_j)`` is written into the next block
  (the middle product into one buffer kept for the solve): a step allocates no ``(N, b)`` array and copies none;
- a block step reads the *current* basis (blocks ``[0, j + 1)``) once for ``h = V^T w`` and ``w^T w`` together
  when the block stays semi-orthogonal after its local pass (against its Lanczos neighbours and the leading
  blocks that hold at least `SELECTIVE_ROWS` Ritz vectors; the first step of a cycle, which couples to every kept
  Ritz vector, against the whole basis), which is checked exactly through ``max |h R^{-1}| <= eta``; otherwise
  it subtracts ``V h`` and normalizes again, and by full block classical Gram–Schmidt twice when the block is
  ill-conditioned;
- a restart and the final Ritz vectors are computed in place over the first blocks, one panel of rows at a
  time (`amf.solvers.host_blocks.combine`), and the blocks no longer needed are returned to the system before
  the final products;
- the final vectors come out in the caller's orientation: ``u (m, k)`` and ``vt (k, n)``, C order;
- one team of threads: OpenBLAS runs single-threaded (`single_blas`) and every GEMM over ``N`` is split over the
  kernel's thread pool, so that no idle BLAS thread spins against the kernel's.

`host_lanczos` returns the claimed triplets; `amf.solvers.krylov.topk_svd` certifies them with
`amf.solvers.certify.certify_svd` like every other solve.
"""

from __future__ import annotations

import numpy as np

from amf.operators.csr_kernel import aligned_empty
from amf.operators.host_csr import HostCSR
from amf.solvers.host_blocks import (coefficients, columns, combine, gram, release, single_blas, stack,
                                     subtract_span, times_small, times_small_rows)
from amf.solvers.lanczos_spec import (SELECTIVE_ROWS, breakdown_floor, gram_unresolved, semi_orthogonality,
                                      stopping_rule)

__all__ = ["Normal", "host_lanczos", "svqb"]

WELL_CONDITIONED = 10.0
"""`svqb` skips its second pass when ``lambda_max / lambda_min`` of the Gram is at most this."""


def svqb(w: np.ndarray, floor: float, rng: np.random.Generator, *bases: np.ndarray,
         gram_w: np.ndarray | None = None, out: np.ndarray | None = None):
    """``w = q r`` with ``q (N, b)`` orthonormal: SVQB (``q = w z lambda^{-1/2}`` from the eigen-decomposition of
    the ``b x b`` Gram, ``gram_w`` when the caller has it), then one Gram-based pass (``q G^{-1/2}``) for the last
    digits unless ``cond(w)^2 <=`` `WELL_CONDITIONED`. A Gram that cannot resolve ``w``'s smallest singular value
    (`amf.solvers.lanczos_spec.gram_unresolved`) takes the thin SVD of ``w`` instead.

    Directions with a singular value at most ``floor`` (``w`` is in the span of ``bases`` there to round-off: a
    breakdown) get zero rows of ``r`` and random unit vectors orthogonal, twice, to every one of ``bases`` (each
    an orthonormal stack ``(J, N, d)``, `amf.solvers.host_blocks`) and to the rest of ``q``
    (`amf.solvers.lanczos_spec`). ``out``: where ``q`` is written (``w`` itself: in place); by default a new
    array. Returns ``q``, ``r`` and whether ``w`` was ill-conditioned (rank-deficient or ``cond(w) >
    eps^(-1/4)``).
    """
    eps = np.finfo(w.dtype).eps
    lam, z = np.linalg.eigh(gram(w) if gram_w is None else gram_w)
    if gram_unresolved(lam[0], max(float(lam[-1]), 0.0), w.shape[1], float(eps)):
        q, sv, zt = np.linalg.svd(w, full_matrices=False)  # rare: a breakdown or a nearly dependent block
        bad = sv <= floor
        r = np.where(bad, 0.0, sv)[:, None] * zt
        if bad.any():
            q[:, bad] = _fresh(rng, w.shape[0], int(bad.sum()), w.dtype, q[:, ~bad], bases)
        if out is not None:
            out[...] = q
            q = out
        return q, r, True
    bad = lam <= floor**2
    root = np.sqrt(np.where(bad, 1.0, lam))
    q = times_small(w, z / root, out=out)
    r = np.where(bad, 0.0, root)[:, None] * z.T
    if bad.any():
        q[:, bad] = _fresh(rng, w.shape[0], int(bad.sum()), w.dtype, q[:, ~bad], bases)
    if not bad.any() and WELL_CONDITIONED * lam[0] >= lam[-1]:
        return q, r, False  # loss of orthogonality ~ eps cond(w)^2 <= 10 eps: the second pass is round-off
    lam2, z2 = np.linalg.eigh(gram(q))
    root2 = np.sqrt(np.maximum(lam2, np.finfo(w.dtype).tiny))
    times_small(q, (z2 / root2) @ z2.T, out=q)  # in place: no third (N, b) block beside w and q
    r = ((z2 * root2) @ z2.T) @ r
    return q, r, bool(bad.any() or lam[0] < np.sqrt(eps) * lam[-1])


def _fresh(rng: np.random.Generator, n: int, count: int, dtype, q: np.ndarray, bases) -> np.ndarray:
    """``count`` Gaussian unit vectors orthogonal, twice, to every one of the stacks ``bases``, to the columns of
    ``q`` and to each other: the directions that replace a breakdown's (`amf.solvers.lanczos_spec`)."""
    fresh = rng.standard_normal((n, count)).astype(dtype)
    for _ in range(2):
        for basis in bases:
            subtract_span(fresh, basis, coefficients(basis, fresh))
        fresh -= q @ (q.T @ fresh)
        fresh, _ = np.linalg.qr(fresh)
    return fresh


class Normal:
    """``M X = A^T A X`` (``side="right"``) or ``A A^T X`` (``"left"``) for ``X (N, b)`` with two host kernels, in
    the matrices' stored order (`amf.operators.ordering`), of ``c A`` with ``scale`` ``c``; counts the columns
    multiplied by ``A`` or ``A^T``. The middle product goes into one buffer per block width, kept for the
    solve."""

    def __init__(self, forward: HostCSR, backward: HostCSR, side: str, scale: float | None = None):
        self.first, self.second = (forward, backward) if side == "right" else (backward, forward)
        self.scale = scale
        self.products = 0
        self._middle: np.ndarray | None = None

    def apply(self, x: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = M x`` (``x``, ``out (N, b)`` aligned C-order blocks, e.g. two blocks of a stack), returned."""
        b = x.shape[1]
        self.products += 2 * b
        if self._middle is None or self._middle.shape[1] != b:
            self._middle = aligned_empty((self.first.shape[0], b), self.first.dtype)
        if self.scale is not None:  # c A with c a power of two: each product's input scaled, exactly
            x = x * self.scale
        y = self.first.multiply_stored(x, out=self._middle)
        if self.scale is not None:
            y *= self.scale
        if out.dtype != self.second.dtype:  # a certificate of claimed vectors in another dtype: cast once
            out[...] = self.second.multiply_stored(y)
            return out
        return self.second.multiply_stored(y, out=out)


def _accepted(h: np.ndarray, gram_w: np.ndarray, floor: float, eta: float, eps: float) -> bool:
    """Whether ``w`` with ``h = V^T w`` and ``gram_w = w^T w`` is semi-orthogonal to ``V`` once normalized: its
    Gram resolves it, no direction is below ``floor`` (no breakdown), ``cond(w) <= eps^(-1/4)``, and ``q = w
    R^{-1}`` has ``max |V^T q| = max |h R^{-1}| <= eta`` (``R^{-1} = z lambda^{-1/2}`` from the Gram)."""
    lam, z = np.linalg.eigh(gram_w)
    if gram_unresolved(lam[0], max(float(lam[-1]), 0.0), gram_w.shape[0], eps) or lam[0] <= floor**2:
        return False
    if lam[0] < np.sqrt(eps) * lam[-1]:
        return False
    return float(np.max(np.abs(h @ (z / np.sqrt(lam))), initial=0.0)) <= eta


def _orthonormalize(basis: np.ndarray, cb: int, top: int | None, eta: float, rng: np.random.Generator):
    """Orthonormalize ``w = basis[cb] = M V_j`` (``V_j = basis[cb - 1]``) in place against blocks ``[0, cb)``.

    Returns the column ``(cb b, b)`` of ``T`` and ``r (b, b)`` with ``w = V column + q r`` (``V (N, cb b)`` the
    blocks side by side, ``q`` the new ``basis[cb]``). A local step (``top`` leading blocks of Ritz vectors given)
    first passes against those and the Lanczos neighbours (blocks ``[cb - 2, cb)``), the first step of a cycle
    (``top`` None) against the whole basis; then one read of blocks ``[0, cb]`` gives ``h = V^T w`` and ``w^T w``,
    and the step is done when `_accepted` (``V^T q = h r^{-1}`` exactly, ``max <= eta``). Else ``w -= V h`` and
    ``w`` is normalized again; an ill-conditioned ``w`` takes block classical Gram–Schmidt twice over the whole
    basis.
    """
    w = basis[cb]
    b = w.shape[1]
    current = basis[:cb]
    eps = float(np.finfo(w.dtype).eps)
    column = np.zeros((cb * b, b), w.dtype)
    for lo, hi in ((0, top), (cb - 2, cb)) if top is not None else ((0, cb),):
        g = coefficients(basis[lo:hi], w)
        subtract_span(w, basis[lo:hi], g)
        column[lo * b : hi * b] += g
    both = coefficients(basis[: cb + 1], w)  # V^T w and w^T w in one read (w is block cb)
    h, gram_w = both[: cb * b], both[cb * b :]
    # ||M V_j e_i||^2 = ||w e_i||^2 + ||column e_i||^2 (orthonormal rows, to eta): the scale of a breakdown
    norm = float(np.sqrt(np.max(np.diag(gram_w) + np.einsum("ij,ij->j", column, column))))
    floor = breakdown_floor((cb + 1) * b, eps, norm)
    if _accepted(h, gram_w, floor, eta, eps):
        _, r, _ = svqb(w, floor, rng, current, gram_w=gram_w, out=w)
        return column, r
    subtract_span(w, current, h)
    column += h
    q, r, ill = svqb(w, floor, rng, current)
    if ill:
        del q  # the new q is allocated without the old one
        for _ in range(2):
            h = coefficients(current, w)
            subtract_span(w, current, h)
            column += h
        q, r, ill = svqb(w, floor, rng, current)
        if ill:  # q's orthogonality to the basis is ~ eps ||w|| / sigma_min(w): once more
            h = coefficients(current, q)
            subtract_span(q, current, h)
            column += h @ r
            q, r2, _ = svqb(q, 0.0, rng, current, out=q)
            r = r2 @ r
    w[...] = q
    return column, r


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
    if np.may_share_memory(w, ritz):  # a user's product may hand back its input: u is formed in place below
        w = w.copy()
    eps = float(np.finfo(w.dtype).eps)
    k = w.shape[1]
    lam, z = np.linalg.eigh(gram(w))
    lam, z = lam[::-1], z[:, ::-1]
    if gram_unresolved(lam[-1], max(float(lam[0]), np.finfo(w.dtype).tiny), k, eps):
        # cond(W) beyond what its Gram resolves (s_k zero to round-off): LAPACK's Householder QR, whose q is
        # orthonormal whatever the rank (slow on a tall block, so only here)
        q, r = np.linalg.qr(w)
        x, s, zt = np.linalg.svd(r)
        return q @ x, s, zt
    s = np.sqrt(lam)
    u = times_small(w, z / s, out=w)  # in place: no second (M, k) block
    del w
    g = gram(u)
    if np.max(np.abs(g - np.eye(k))) > 100 * k * eps:
        lam2, z2 = np.linalg.eigh(g)
        times_small(u, (z2 / np.sqrt(lam2)) @ z2.T, out=u)
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
    if keep % b:
        raise ValueError(f"the host basis keeps whole blocks: keep = {keep} is not a multiple of b = {b}")
    kept = keep // b  # blocks of kept Ritz vectors; then `steps` Lanczos blocks and the residual block
    last = kept + steps  # the residual block's index
    p = keep + steps * b
    rng = np.random.default_rng(seed)
    normal = Normal(forward, backward, side, scale)
    eta = float(semi_orthogonality(tol, eps))
    top = -(-min(SELECTIVE_ROWS, keep) // b)  # leading blocks of Ritz vectors a local step passes against

    basis = stack(last + 1, n_dim, b, dtype)
    basis[kept] = rng.standard_normal((n_dim, b)).astype(dtype)
    svqb(basis[kept], 0.0, rng, basis[:0], out=basis[kept])
    theta = np.zeros(keep, dtype)
    cycles = 0
    while True:
        t = np.zeros((p, p), dtype)
        t[np.arange(keep), np.arange(keep)] = theta
        for j in range(steps):
            cb = kept + j + 1  # the new block's index; blocks [0, cb) are the basis so far
            normal.apply(basis[cb - 1], out=basis[cb])
            # the first block of a cycle couples to every kept Ritz vector: the whole basis
            column, r = _orthonormalize(basis, cb, top if j > 0 else None, eta, rng)
            c = (cb - 1) * b
            t[: c + b, c : c + b] = column
            # M V = V T + Q R E^T holds for the basis so far: its Ritz pairs can be judged after every step
            size = c + b
            lo = keep if cycles == 0 else 0  # before the first restart the leading blocks are zero, not a basis
            theta_all, y, converged = _ritz(t[lo:size, lo:size], r, b, k, tol)
            y = np.concatenate([np.zeros((lo, y.shape[1]), dtype), y]) if lo else y
            if converged:
                break
        cycles += 1
        if converged or cycles >= max_iterations:
            break
        # restart: V_keep = V Y_keep over blocks [0, last), in place; the residual block follows them
        combine(basis[:last], y[:, :keep], out=basis[:kept])
        basis[kept] = basis[last]
        theta = theta_all[:keep].astype(dtype)

    # the top k Ritz vectors (padded to whole blocks with the next ones) in place over the first blocks
    used = size // b
    width = -(-k // b)
    combine(basis[:used], y[:, : width * b], out=basis[:width])
    release(basis, width)  # the rest of the basis goes back to the system before the (N, k) copy below
    ritz = columns(basis[:width], k)  # the product's input, the only copy
    del basis  # the (N, k) blocks of the last step are allocated after the basis is freed
    for _ in range(2):  # orthonormal to round-off (the basis is to eta)
        lam, z = np.linalg.eigh(gram(ritz))
        times_small(ritz, (z / np.sqrt(lam)) @ z.T, out=ritz)
    other = forward if side == "right" else backward
    theirs, s, zt = _rayleigh_ritz(other.multiply_stored if scale is None else
                                   (lambda x: other.multiply_stored(x * scale)), ritz)
    if scale is not None:
        s = s / scale
    normal.products += k
    if side == "right":
        u, vt = theirs, times_small_rows(ritz, zt.T)  # Z^T V^T (k, N)
    else:
        u, vt = times_small(ritz, zt.T), np.ascontiguousarray(theirs.T)
    del ritz
    if forward.rows is not None:  # back to the original order (amf.operators.ordering)
        u[forward.rows] = u.copy()
        vt[:, forward.cols] = vt.copy()
    return u, s, vt, cycles, normal.products, converged
