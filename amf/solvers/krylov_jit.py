"""The jitted path of `amf.solvers.krylov.topk_svd`: thick-restart block Lanczos on the normal operator in XLA,
for every backend but a CPU's host kernel (`amf.solvers.krylov_host` runs the same algorithm in numpy there).

The algorithm is the one `amf.solvers.krylov` documents (steps 1-5 there) and `amf.solvers.lanczos_spec`
specifies; this module implements it as traced functions:

- `lanczos` (steps 1-3): one ``lax.while_loop`` over cycles; inside a cycle one ``lax.fori_loop`` over the
  block steps, each reading the whole ``(p + b) x N`` basis buffer (rows past the current block are kept zero):
  a prefix slice would be copied by XLA and would need one compiled body per prefix; the zero rows cost more
  Gram–Schmidt arithmetic (docs/performance.md). A block step orthogonalizes locally (`_orthonormalize_local`)
  while the basis stays semi-orthogonal, else against the whole basis (`_orthonormalize`, step 4).
- `restart_rows`: a restart rewrites the first ``keep + b`` rows in place, in panels of columns, so XLA's
  temporary memory is the basis plus the final ``k`` Ritz vectors.
- `rayleigh_ritz` (step 5): the other side's vectors and the singular values from the basis side's.

`amf.solvers.krylov` jits them into one solve per (operator structure, ``k``, block, dtype).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from amf._linalg import matmul
from amf.operators import Operator, SparseOperator
from amf.solvers.lanczos_spec import (RESTART_PANEL, SELECTIVE_ROWS, KrylovPlan, breakdown_floor, gram_unresolved,
                                      semi_orthogonality, stopping_rule)

__all__ = ["lanczos", "rayleigh_ritz", "restart_rows"]


# ---- orthogonalization -------------------------------------------------------------------------------------


def _cholqr(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x = q r`` for ``x`` with near-orthonormal columns, by one Gram-based pass: ``q = x G^{-1/2}``, ``r = G^{1/2}``.

    The symmetric (Löwdin) square root from the eigen-decomposition of the ``b x b`` Gram ``G = x^T x`` — the
    same cost and accuracy (``eps cond(x)^2``) as Cholesky-QR, but a LAPACK ``syevd`` call instead of XLA's
    expanded triangular solve, which compiles slowly on a CPU.
    """
    lam, z = jnp.linalg.eigh(matmul(x.T, x))
    lam = jnp.maximum(lam, jnp.finfo(x.dtype).tiny)
    root = jnp.sqrt(lam)
    return matmul(x, matmul(z / root, z.T)), matmul(z * root, z.T)


def _orthonormalize(basis: jax.Array, w: jax.Array, key: jax.Array, h1: jax.Array | None = None):
    """Orthonormalize the block ``w (N, b)`` against the rows of ``basis (c, N)`` (orthonormal) and itself.

    Returns ``q (N, b)``, ``h (c, b)``, ``r (b, b)`` with ``w = basis^T h + q r`` to round-off, ``q`` orthonormal
    and orthogonal to ``basis``. Block classical Gram–Schmidt twice, then SVQB (``q1 = w1 z lambda^{-1/2}`` from
    the eigen-decomposition of the ``b x b`` Gram, or the thin SVD when the Gram cannot resolve ``w1``; Gaussian
    vectors from ``key``, orthogonalized twice against the basis, replace directions of ``w1`` that lie in it to
    round-off: `amf.solvers.lanczos_spec`'s breakdown rule), a Gram-based QR (`_cholqr`); when ``w1`` was
    ill-conditioned or small, one more Gram–Schmidt pass and the QR twice (the host path's rule). The second
    Gram–Schmidt pass is not optional: with one pass the loss of orthogonality grows by ``||w|| / sigma_min(w1)``
    per block step (docs/performance.md, "Orthogonalization").
    ``h1 = basis w`` when the caller has it already.
    """
    c, n = basis.shape
    b = w.shape[1]
    dtype = w.dtype
    eps = jnp.finfo(dtype).eps
    scale = jnp.sqrt(jnp.max(jnp.sum(w * w, axis=0)))
    h1 = matmul(basis, w) if h1 is None else h1
    w1 = w - matmul(basis.T, h1)
    g = matmul(basis, w1)  # the second pass before the factorization: what is left of a direction inside the
    w1 = w1 - matmul(basis.T, g)  # basis is then round-off, and the breakdown floor can see it
    h1 = h1 + g
    floor = breakdown_floor(c + b, float(eps), scale)
    lam, z = jnp.linalg.eigh(matmul(w1.T, w1))
    unresolved = gram_unresolved(lam[0], jnp.maximum(lam[-1], 0.0), b, float(eps))

    def by_gram(_):
        bad = lam <= floor**2
        root = jnp.sqrt(jnp.where(bad, 1.0, lam))
        return matmul(w1, z / root), jnp.where(bad, 0.0, root)[:, None] * z.T, bad

    def by_svd(_):  # rare (a breakdown, a nearly dependent block): the Gram's eigenvalues are round-off there
        u, sv, zt = jnp.linalg.svd(w1, full_matrices=False)
        bad = sv <= floor
        return u, jnp.where(bad, 0.0, sv)[:, None] * zt, bad

    # w1 = q1 r1 up to the dropped (round-off) directions
    q1, r1, bad = lax.cond(unresolved, by_svd, by_gram, None)

    def replace(q1):
        fresh = jax.random.normal(key, (n, b), dtype)
        for _ in range(2):
            fresh = fresh - matmul(basis.T, matmul(basis, fresh))
        fresh = fresh / jnp.linalg.norm(fresh, axis=0)
        return jnp.where(bad[None, :], fresh, q1)

    q1 = lax.cond(jnp.any(bad), replace, lambda q: q, q1)
    # a kept direction of norm sigma carries ~eps ||w|| / sigma along the basis, and a Gram-based QR loses
    # ~eps cond^2: past sqrt(eps) (or after a replacement) one more pass against the basis, then QR twice
    ill = jnp.any(bad) | (lam[0] < eps * scale**2) | (lam[0] < jnp.sqrt(eps) * lam[-1])

    def polish(q1):
        h2 = matmul(basis, q1)
        q, r2 = _cholqr(q1 - matmul(basis.T, h2))
        q, r3 = _cholqr(q)
        return q, h2, matmul(r3, r2)

    def plain(q1):
        q, r2 = _cholqr(q1)
        return q, jnp.zeros((c, b), dtype), r2

    q, h2, r2 = lax.cond(ill, polish, plain, q1)
    return q, h1 + matmul(h2, r1), matmul(r2, r1)


def _orthonormalize_local(basis: jax.Array, w: jax.Array, h: jax.Array, start: jax.Array, b: int, top: int, eta):
    """Orthonormalize ``w = M V_j`` against its Lanczos neighbours, the rows ``[start, start + 2b)`` of ``basis``
    (``V_{j-1}, V_j``), and the ``top`` leading kept Ritz vectors only, given ``h = basis w``.

    In exact arithmetic ``M V_j`` has no component along older blocks; in floating point it regains some along
    Ritz vectors that have converged (Paige's theorem), first of all the leading ones (measured: the loss
    concentrates on ``s_1 = 1``), which is why those few rows are always included (Parlett and Scott's
    selective orthogonalization). ``h`` holds the remaining components exactly, so the orthogonality of the new
    block to the rest of the basis is known, not estimated: ``V_old^T q = h_old r^{-1}``.
    Returns ``q``, the column of ``T`` (entries of the rows used only), ``r`` and whether
    ``max |h_old r^{-1}| <= eta`` (semi-orthogonality at level ``eta = max(1e-3 tol, 10 eps)``, so that the
    returned vectors are orthonormal well within ``tol``; otherwise the caller orthogonalizes against the whole
    basis instead). Two Gram–Schmidt passes over ``top + 2b`` rows and a Gram-based QR: the whole basis is read
    once (for ``h``), not four times.
    """
    dtype = w.dtype
    eps = jnp.finfo(dtype).eps
    scale = jnp.sqrt(jnp.max(jnp.sum(w * w, axis=0)))
    near = jnp.concatenate([basis[:top], lax.dynamic_slice_in_dim(basis, start, 2 * b, axis=0)])
    h_near = jnp.concatenate([h[:top], lax.dynamic_slice_in_dim(h, start, 2 * b, axis=0)])
    w1 = w - matmul(near.T, h_near)
    lam, z = jnp.linalg.eigh(matmul(w1.T, w1))
    bad = jnp.logical_or(lam <= breakdown_floor(top + 3 * b, float(eps), scale) ** 2,
                         gram_unresolved(lam[0], jnp.maximum(lam[-1], 0.0), b, float(eps)))
    root = jnp.sqrt(jnp.where(bad, 1.0, lam))
    q1 = matmul(w1, z / root)
    r1 = root[:, None] * z.T
    h2 = matmul(near, q1)
    q, r2 = _cholqr(q1 - matmul(near.T, h2))
    ill = lam[0] < jnp.sqrt(eps) * lam[-1]
    q, r3 = lax.cond(ill, _cholqr, lambda q: (q, jnp.eye(b, dtype=dtype)), q)
    r = matmul(matmul(r3, r2), r1)
    rows = jnp.arange(h.shape[0])[:, None]
    is_near = (rows < top) | ((rows >= start) & (rows < start + 2 * b))
    h_old = jnp.where(is_near, 0.0, h)
    loss = jnp.max(jnp.abs(jnp.linalg.solve(r.T, h_old.T)))  # |(h_old r^{-1})^T|
    ok = jnp.logical_and(jnp.logical_not(jnp.any(bad)), loss <= eta)
    h_near = h_near + matmul(h2, r1)
    column = lax.dynamic_update_slice_in_dim(jnp.zeros_like(h).at[:top].set(h_near[:top]), h_near[top:], start,
                                             axis=0)
    return q, column, r, ok


def _orthonormal_columns(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``x = q r`` with ``q`` orthonormal for a possibly ill-conditioned ``x (N, k)``: SVQB, then Cholesky-QR2.

    Columns of ``x`` that are zero to round-off give zero columns of ``r`` (their ``q`` columns are arbitrary
    unit vectors orthogonal to the rest).
    """
    gram = matmul(x.T, x)
    lam, z = jnp.linalg.eigh(gram)
    eps = jnp.finfo(x.dtype).eps
    bad = lam <= (x.shape[1] * eps) ** 2 * jnp.max(lam)
    root = jnp.sqrt(jnp.where(bad, 1.0, lam))
    q1 = matmul(x, z / root)
    # a deterministic filler for dropped directions: unit coordinate vectors, orthogonalized below
    filler = jnp.eye(x.shape[0], x.shape[1], dtype=x.dtype)
    q1 = jnp.where(bad[None, :], filler, q1)
    r1 = jnp.where(bad, 0.0, root)[:, None] * z.T
    q2, r2 = _cholqr(q1)
    q, r3 = _cholqr(q2)
    return q, matmul(matmul(r3, r2), r1)


# ---- the solver ------------------------------------------------------------------------------------------


def _normal(op: Operator, side: str, x: jax.Array, scale=None) -> jax.Array:
    """``M x`` (``A^T A x`` on the right side, ``A A^T x`` on the left); with ``scale`` ``c`` (a power of two)
    that of ``c A``, each product's input scaled first so no intermediate overflows."""
    if scale is not None:
        first, second = (op.matmat, op.rmatmat) if side == "right" else (op.rmatmat, op.matmat)
        return (second(first(x * scale).astype(x.dtype) * scale)).astype(x.dtype)
    if isinstance(op, SparseOperator):
        y = op.normal_matmat(x, side)
    elif side == "right":
        y = op.rmatmat(op.matmat(x))
    else:
        y = op.matmat(op.rmatmat(x))
    return y.astype(x.dtype)


def lanczos(op: Operator, key: jax.Array, tol, max_iterations, plan_: KrylovPlan, dtype, scale=None):
    """Thick-restart block Lanczos on ``M`` (`amf.solvers.krylov`, steps 1-3). Returns the top ``k`` Ritz vectors as
    rows ``(k, N)``, Ritz values, residual estimates, cycles run."""
    k, b, keep, steps, n_dim = plan_.k, plan_.block, plan_.keep, plan_.steps, plan_.dim
    p = plan_.basis
    start_key, fresh_key = jax.random.split(key)
    start = jax.random.normal(start_key, (n_dim, b), dtype)
    rows = getattr(op, "n_rows", n_dim) if plan_.side == "left" else n_dim
    if rows < n_dim:  # an operator padded with zero rows: keep the basis off the padding
        start = jnp.where(jnp.arange(n_dim)[:, None] < rows, start, 0.0)
    start, _ = _orthonormal_columns(start)
    # a row-sharded operator with the basis on its image side: lay the basis out like the rows
    sharded = plan_.side == "left" and hasattr(op, "shard_basis")
    shard = op.shard_basis if sharded else (lambda basis: basis)
    basis = shard(jnp.zeros((p + b, n_dim), dtype).at[keep : keep + b].set(start.T))
    # the first cycle's rows [0, keep) are empty: Ritz value -1 (M >= 0), so no restart ever keeps them (a zero
    # there would tie with a zero of M, and eigh could mix the empty rows into a kept vector)
    theta = jnp.full((keep,), -1.0, dtype)
    resid = jnp.full((k,), jnp.inf, dtype)
    tol = jnp.asarray(tol, dtype)
    eta = semi_orthogonality(tol, float(jnp.finfo(dtype).eps), jnp)

    def cycle(state):
        basis, theta, _, it, _ = state
        t = jnp.zeros((p, p), dtype).at[jnp.arange(keep), jnp.arange(keep)].set(theta)
        r = jnp.zeros((b, b), dtype)

        def step(j, carry):
            basis, t, _ = carry
            c = keep + j * b
            x = lax.dynamic_slice_in_dim(basis, c, b, axis=0).T
            w = _normal(op, plan_.side, x, scale)
            # against the whole basis: rows past the current block are zero, and a slice would be copied
            h = matmul(basis, w)

            def full(_):
                return _orthonormalize(basis, w, jax.random.fold_in(fresh_key, it * steps + j), h)

            def local(_):
                q, column, r, ok = _orthonormalize_local(basis, w, h, c - b, b, SELECTIVE_ROWS, eta)
                return lax.cond(ok, lambda _: (q, column, r), full, None)

            # the first block after a restart couples to every kept Ritz vector: always the whole basis
            q, h, r = lax.cond(j == 0, full, local, None)
            basis = lax.dynamic_update_slice_in_dim(basis, q.T, c + b, axis=0)
            t = lax.dynamic_update_slice(t, h[:p], (0, c))  # rows below the block land under the diagonal
            return basis, t, r

        basis, t, r = lax.fori_loop(0, steps, step, (basis, t, r))
        t = jnp.triu(t) + jnp.triu(t, 1).T
        theta_all, y = jnp.linalg.eigh(t)
        theta_all, y = theta_all[::-1], y[:, ::-1]
        resid = jnp.linalg.norm(matmul(r, y[p - b :, :k]), axis=0)
        # the kept Ritz vectors and the residual block, [Y_keep | E]^T V, written over the first rows in place
        select = jnp.zeros((p + b, keep + b), dtype).at[:p, :keep].set(y[:, :keep]).at[p:, keep:].set(
            jnp.eye(b, dtype=dtype))
        basis = shard(restart_rows(basis, select, panels=not sharded).at[keep + b :].set(0))
        theta_new = theta_all[:keep]
        return basis, theta_new, resid, it + 1, stopping_rule(theta_new[:k], resid, tol, jnp)

    def keep_going(state):
        return jnp.logical_and(state[3] < max_iterations, jnp.logical_not(state[4]))

    state = (basis, theta, resid, jnp.asarray(0, jnp.int32), jnp.asarray(False))
    basis, theta, resid, cycles, converged = lax.while_loop(keep_going, cycle, state)
    return basis[:k], theta[:k], resid, cycles, converged


def restart_rows(basis: jax.Array, select: jax.Array, panels: bool = True) -> jax.Array:
    """``basis[:c] = select^T basis`` (``c`` = ``select.shape[1]``) in place, one panel of columns at a time.

    One GEMM over the whole basis would need a ``c x N`` temporary (350 MB at ``N = 10^6``, ``c = 44``), and
    reading any part of the old basis after the update makes XLA copy all of it (measured). ``panels=False``
    for a basis sharded along its columns: there a panel would gather the whole basis onto every device, while
    one GEMM stays on each device's own columns.
    """
    n = basis.shape[1]
    width = min(RESTART_PANEL, n) if panels else n
    full = n // width

    def panel(start, basis, size):
        old = lax.dynamic_slice_in_dim(basis, start, size, axis=1)
        return lax.dynamic_update_slice(basis, matmul(select.T, old), (0, start))

    basis = lax.fori_loop(0, full, lambda i, basis: panel(i * width, basis, width), basis)
    if n > full * width:
        basis = panel(full * width, basis, n - full * width)
    return basis


def rayleigh_ritz(op: Operator, rows: jax.Array, side: str, scale=None):
    """Rayleigh–Ritz on the other side (`amf.solvers.krylov`, step 5): ``(u, s, vt)`` from the basis side's vectors
    (of ``c A`` with ``scale`` ``c``). A ``W`` whose Gram cannot resolve its smallest singular value
    (`amf.solvers.lanczos_spec.gram_unresolved`: ``k`` above the numerical rank) takes Householder QR, whose
    ``q`` is orthonormal whatever the rank: the zero singular values come with an orthonormal completion."""
    vectors = rows.T  # (N, k)
    x = vectors if scale is None else vectors * scale
    if side == "right":
        w = op.matmat(x).astype(vectors.dtype)  # A V (m, k)
    else:
        w = op.rmatmat(x).astype(vectors.dtype)  # A^T U (n, k)
    k = w.shape[1]
    lam = jnp.linalg.eigvalsh(matmul(w.T, w))
    deficient = gram_unresolved(lam[0], jnp.maximum(lam[-1], jnp.finfo(w.dtype).tiny), k,
                               float(jnp.finfo(w.dtype).eps))
    q, r = lax.cond(deficient, lambda w: tuple(jnp.linalg.qr(w)), _orthonormal_columns, w)
    x, s, zt = jnp.linalg.svd(r)
    other = matmul(q, x)
    mine = matmul(vectors, zt.T)
    if side == "right":
        return other, s, mine.T
    return mine, s, other.T
