"""Matrix-free top-k SVD: block Lanczos with thick restart on the normal operator, certified by residuals.

``topk_svd(A, k)`` returns the ``k`` largest singular triplets of an ``m x n`` operator ``A`` that is only
available through products ``A X`` and ``A^T Y`` (`amf.operators`), stopping when every triplet's relative
residual ``||A v_i - s_i u_i|| / s_1`` and ``||A^T u_i - s_i v_i|| / s_1`` is below ``tol``.

Algorithm
---------
Block Lanczos with thick restart (TRLan / Krylov–Schur for a symmetric matrix) applied to the *normal operator*
``M = A^T A`` (or ``A A^T`` when ``m < n``: the basis lives on the smaller side), then one Rayleigh–Ritz step
that recovers the other factor:

1. A cycle extends an orthonormal basis ``V = [Y_keep | V_0 | V_1 | ... | V_s]`` (``N x (keep + s b)``,
   ``N = min(m, n)``) by ``s`` block steps ``W = M V_j``, each orthogonalized against the basis (step 4);
   ``T = V^T M V`` (dense ``p x p``, ``p = keep + s b``) is filled from the orthogonalization coefficients.
2. ``T = Y Theta Y^T``; Ritz values ``theta_i = s_i^2``. The Lanczos relation ``M V = V T + V_{s+1} R E^T`` gives
   each Ritz pair's residual ``||M y_i - theta_i y_i|| = ||R E^T y_i||`` without a product with ``A``.
3. Stop when ``||R E^T y_i|| <= tol s_1 s_i / 2`` for ``i <= k`` (the right residual of the triplet after
   step 5, with a safety factor 2); else restart: keep the top ``keep`` Ritz vectors and the residual block
   ``V_{s+1}`` (the relation stays exact), and run the next cycle.
4. Orthogonalization (docs/performance.md: LAPACK's tall QR is the slow path on a CPU). Every step reads the
   basis once for ``h = V^T W``. While the basis stays *semi-orthogonal* the step orthogonalizes ``W`` only
   against its Lanczos neighbours ``V_{j-1}, V_j`` (what the three-term recurrence needs in exact arithmetic)
   and the 8 leading Ritz vectors (selective orthogonalization: Lanczos vectors regain components along
   converged Ritz vectors, here first ``s_1 = 1``), twice, then a Gram-based QR ``W = Q R``; the new block's
   inner products with the remaining rows are then known exactly, ``h_old R^{-1}``, and when their largest
   exceeds ``eta = max(1e-3 tol, 10 eps)`` (and always on the first step of a cycle, which couples to every kept
   Ritz vector) the step falls back to full block classical Gram–Schmidt twice, the first pass followed by
   SVQB (``W z Lambda^{-1/2}`` from the eigen-decomposition of the ``b x b`` Gram; directions of ``W`` inside
   the basis to round-off, a "happy breakdown", are replaced by generic vectors) and the second by a
   Gram-based QR (a third when the block was ill-conditioned). Only GEMMs with the ``N x p`` basis and
   ``b x b`` eigen-decompositions; no tall QR, no triangular solve. The second pass is needed: with one, the
   loss of orthogonality grows by ``||W|| / sigma_min`` per step. A local step reads the basis once, a full
   one four times (their measured costs: docs/performance.md, "Orthogonalization").
5. Rayleigh–Ritz on the other side: ``W = A V_k`` (``m x k``), ``W = Q R``, ``R = X S Z^T`` (``k x k`` SVD),
   ``u = Q X``, ``s = S``, ``v = V_k Z``; ``A v = s u`` holds to round-off. `amf.solvers.certify.certify_svd` then
   recomputes both residuals with two more block products.

Why this method. A Krylov method: the spectra met here (``s_1 = 1``, a cluster near 1, a gap after the number
of classes, then a bulk whose edge is dense) make subspace or Chebyshev iteration spend several times more
products for the same residual. Lanczos on the normal operator keeps **one** basis, so full
re-orthogonalization costs half of Golub–Kahan bidiagonalization's two bases. Blocks turn that work into GEMMs
(a single-vector basis update is a memory-bound GEMV, ARPACK's bottleneck) and find up to ``b`` copies of a
repeated singular value; but each block step raises the Krylov degree by one for ``b`` products, so on a
dense bulk edge larger blocks need more products (product counts by block size in docs/performance.md).
Randomized block Krylov (Musco–Musco) needs blocks of ``k + p`` columns and so far more products.
Thick restart bounds the memory to ``N (p + b)`` numbers. The price of the normal operator is the squared
spectrum: triplets with ``s_i / s_1 < ~sqrt(eps / tol)`` may not reach ``tol`` (irrelevant at the top of ``Pn``).

Implementation. Sparse products go through `amf.operators.SparseOperator`, whose layout follows the backend
(a numba CSR-times-block kernel on the host on a CPU, a jagged XLA layout elsewhere). On a CPU the whole
iteration runs on the host too, in numpy (`amf.solvers.krylov_host`: the same algorithm, reading only the
basis prefix in use, the stopping rule judged after every block step, default block `HOST_BLOCK`); what follows
describes the jitted path every other backend runs. One jitted ``lax.while_loop`` over
cycles; inside a cycle one ``lax.fori_loop`` over the block steps, each reading the whole ``(p + b) x N`` basis
buffer (rows past the current block are kept zero): a prefix slice would be copied by XLA and would need one
compiled body per prefix; the zero rows cost more Gram–Schmidt arithmetic (docs/performance.md). A restart
rewrites the first ``keep + b`` rows in place, in panels of columns (`_restart_rows`), so XLA's temporary memory is
the basis plus the final ``k`` Ritz vectors. Static shapes: one compilation
per (operator structure, ``k``, block, dtype); new values of the same operator do not recompile, and nothing
syncs with the host until the loop ends. A repeated value that fills the block (``b`` or more equal values that
end before the ``k``-th) triggers a rerun with twice the block. Problems too small for the basis
(``p + b > min(m, n)``) get a dense SVD of ``A`` built from products.

Performance: docs/performance.md has the measured runs against ARPACK, PROPACK and scikit-learn
(``amf bench spectral``) and where the time goes: the sparse products at this machine's memory bandwidth, and
one read of the whole basis per block step. The block design pays off where gathers and GEMMs are cheap (a GPU:
`benchmarks/gpu_check.py`).

Specification: the tolerances, sizes, stopping rule, breakdown rule (deflation by fresh random directions, so
every copy of a repeated value is found), scaling of extreme norms and seeds are `amf.solvers.lanczos_spec`'s,
which both back-ends obey. Defaults: ``tol`` = 1e-8 (float64) / 1e-4 (float32); ``b = clip(k // 8, 4, 16)``;
``keep = k + max(2 b, 8)`` Ritz vectors kept; ``s = max(4, ceil(4 keep / 3 b))`` block steps per cycle
(``p ~ 2.3 keep``); ``max_iterations`` = 1000 cycles.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from amf._linalg import matmul
from amf._validate import integer
from amf.errors import InputError
from amf.operators import (DenseOperator, Operator, SparseOperator, as_operator, is_array_pytree, on_host,
                           real_dtype)
from amf.solution import SVDResult
from amf.solvers.certify import certify_svd
from amf.solvers.krylov_host import host_lanczos
from amf.solvers.lanczos_spec import (DEFAULT_TOL, HOST_BLOCK, MAX_CYCLES, RESTART_PANEL, SELECTIVE_ROWS,
                                      KrylovPlan, breakdown_floor, default_tolerance, gram_unresolved, host_seed,
                                      norm_bounds, plan, saturated, scale_exponent, semi_orthogonality,
                                      stopping_rule)

__all__ = ["topk_svd", "default_tolerance", "KrylovPlan", "plan", "HOST_BLOCK", "SELECTIVE_ROWS",
           "RESTART_PANEL"]


# ---- validation ------------------------------------------------------------------------------------------


def _check_dtype(dtype):
    if dtype is None:
        return None
    dtype = real_dtype(dtype, "dtype")
    if dtype not in DEFAULT_TOL:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == np.float64 and not jax.config.read("jax_enable_x64"):
        raise ValueError("dtype float64 needs jax_enable_x64 (import amf, or set jax.config 'jax_enable_x64')")
    return dtype


def _as_typed_operator(matrix, dtype):
    """``matrix`` as an operator of the solver's float dtype: ``dtype``, else the input's when it is float32 or
    float64, else float64 (float32 without x64). Integer input is converted explicitly; non-real dtypes are an
    `InputError` (`amf.operators.real_dtype`)."""
    if isinstance(matrix, tuple):
        raise ValueError("matrix: pass a (matmat, rmatmat) pair as FunctionOperator(matmat, rmatmat, shape, dtype)")
    source = getattr(matrix, "dtype", None)
    if source is None:
        raise InputError(f"cannot use {type(matrix).__name__} as a matrix: pass an array, a scipy sparse matrix, a "
                         f"scipy LinearOperator or an amf Operator")
    source = real_dtype(source)
    if dtype is None:
        dtype = source if source in DEFAULT_TOL else np.dtype(
            np.float64 if jax.config.read("jax_enable_x64") else np.float32)
    op = as_operator(matrix, dtype)
    if isinstance(op, DenseOperator) and op.dtype != dtype:
        op = DenseOperator(op.matrix.astype(dtype))
    elif isinstance(op, SparseOperator) and op.dtype != dtype:
        op = op.astype(dtype)
    return op, np.dtype(dtype)


def _scale(op: Operator, dtype) -> int:
    """The exponent ``e`` of the power of two ``A 2^-e`` is solved with (`amf.solvers.lanczos_spec`, "Scale")."""
    low, high = norm_bounds(op)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise InputError("matrix has entries that are not finite (inf or nan)")
    return scale_exponent(low, high, dtype)


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


def _lanczos(op: Operator, key: jax.Array, tol, max_iterations, plan_: KrylovPlan, dtype, scale=None):
    """Thick-restart block Lanczos on ``M`` (module docstring steps 1-3). Returns the top ``k`` Ritz vectors as
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
        basis = shard(_restart_rows(basis, select, panels=not sharded).at[keep + b :].set(0))
        theta_new = theta_all[:keep]
        return basis, theta_new, resid, it + 1, stopping_rule(theta_new[:k], resid, tol, jnp)

    def keep_going(state):
        return jnp.logical_and(state[3] < max_iterations, jnp.logical_not(state[4]))

    state = (basis, theta, resid, jnp.asarray(0, jnp.int32), jnp.asarray(False))
    basis, theta, resid, cycles, converged = lax.while_loop(keep_going, cycle, state)
    return basis[:k], theta[:k], resid, cycles, converged


def _restart_rows(basis: jax.Array, select: jax.Array, panels: bool = True) -> jax.Array:
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


def _finish(op: Operator, rows: jax.Array, side: str, scale=None):
    """Rayleigh–Ritz on the other side (module docstring step 5): ``(u, s, vt)`` from the basis side's vectors
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


@functools.partial(jax.jit, static_argnames=("static_op", "plan_", "dtype_name", "scaled"))
def _solve(dynamic_op, key, tol, max_iterations, scale, *, static_op, plan_: KrylovPlan, dtype_name: str,
           scaled: bool):
    """The jitted solve of ``c A`` (``c = scale`` when ``scaled``, else 1 with no products scaled); ``s`` of
    ``A``."""
    op = static_op if static_op is not None else dynamic_op
    dtype = jnp.dtype(dtype_name)
    scale = jnp.asarray(scale, dtype) if scaled else None
    rows, theta, resid, cycles, converged = _lanczos(op, key, tol, max_iterations, plan_, dtype, scale)
    u, s, vt = _finish(op, rows, plan_.side, scale)
    return u, s if scale is None else s / scale, vt, cycles, converged


@functools.partial(jax.jit, static_argnames=("static_op", "k", "dtype_name"))
def _solve_dense(dynamic_op, scale, *, static_op, k: int, dtype_name: str):
    op = static_op if static_op is not None else dynamic_op
    dtype = jnp.dtype(dtype_name)
    m, n = op.shape
    scale = jnp.asarray(scale, dtype)
    if n <= m:
        dense = op.matmat(jnp.eye(n, dtype=dtype) * scale).astype(dtype)
    else:
        dense = op.rmatmat(jnp.eye(m, dtype=dtype) * scale).astype(dtype).T
    u, s, vt = jnp.linalg.svd(dense, full_matrices=False)
    return u[:, :k], s[:k] / scale, vt[:k]


def _split(op):
    """``(dynamic, static)``: an operator whose leaves are all arrays is a jit argument (no recompile for new
    values); others (e.g. `FunctionOperator`, which holds functions) are static, hashed by identity, and so kept
    alive by JAX's compilation cache."""
    return (op, None) if is_array_pytree(op) else (None, op)


def topk_svd(
    matrix,
    k: int,
    *,
    tol: float | None = None,
    block_size: int | None = None,
    max_iterations: int | None = None,
    key: jax.Array | None = None,
    dtype=None,
    n_rows: int | None = None,
) -> SVDResult:
    """Top ``k`` singular triplets of ``matrix`` (``m x n``) by thick-restart block Lanczos (module docstring).

    Parameters
    ----------
    matrix
        A dense numpy/JAX array, a scipy sparse matrix, a scipy ``LinearOperator`` (``matmat`` and ``rmatmat``,
        run on the host in numpy), or any `amf.operators.Operator` (e.g. ``FunctionOperator(matmat, rmatmat,
        shape, dtype)`` for a pair of jit-traceable functions). The toolkit is real-valued: complex, boolean,
        object and string dtypes are an `amf.errors.InputError` naming the dtype; integers are converted
        explicitly; non-finite entries are refused. Any norm works: entries of ``1e+-150`` are solved on an
        exact power-of-two scaling (`amf.solvers.lanczos_spec`).
    k
        Number of triplets, ``1 <= k < min(m, n)``.
    tol
        Relative residual tolerance (``> 0``): every triplet must have ``||A v_i - s_i u_i|| / s_1`` and
        ``||A^T u_i - s_i v_i|| / s_1`` at most ``tol``. Default 1e-8 (float64), 1e-4 (float32). Triplets with
        ``s_i / s_1 < ~sqrt(eps / tol)`` may not reach it (the normal operator squares the spectrum).
    block_size
        Block size ``b >= 1`` (default ``clip(k // 8, 4, 16)``). A block sees at most ``b`` copies of an exactly
        repeated singular value (``s = 1`` is repeated once per connected component of a graph): when ``b`` or
        more equal values end before the ``k``-th, the solve is rerun with twice the block (counted in
        ``iterations`` and ``matvecs``).
    max_iterations
        Maximum restart cycles (``>= 1``, default 1000); if they run out, ``certificate.converged`` is False
        unless the recomputed residuals pass anyway, and ``certificate.reason`` is ``Reason.ITERATION_LIMIT``.
    key
        PRNG key for the starting block (default ``jax.random.key(0)``); the host path draws with numpy from
        its words and a purpose name (`amf.solvers.lanczos_spec.host_seed`), compiling nothing.
    dtype
        float32 or float64; default: the input's (float64 for integer input).
    n_rows
        Keep only the first ``n_rows`` rows of ``u`` (an operator padded with zero rows, e.g. a sharded one).

    Returns
    -------
    `SVDResult` with ``u (m, k)``, ``s (k,)`` descending, ``vt (k, n)`` and a certificate from
    `amf.solvers.certify.certify_svd`: residuals recomputed with two more block products, and the complement
    test (with a key folded from ``key``) that no singular value outside the returned subspaces exceeds
    ``s_k``; ``iterations`` = cycles, ``matvecs`` = columns multiplied by ``A`` or ``A^T``.
    """
    dtype = _check_dtype(dtype)
    op, dtype = _as_typed_operator(matrix, dtype)
    m, n = (int(x) for x in op.shape)
    if min(m, n) < 2:
        raise ValueError(f"matrix must have at least 2 rows and 2 columns, got shape {(m, n)}")
    k = integer("k", k, 1, min(m, n) - 1, f"min(m, n) - 1 = {min(m, n) - 1}")
    if tol is None:
        tol = default_tolerance(dtype)
    elif isinstance(tol, bool) or not isinstance(tol, (int, float, np.floating, np.integer)) or not (
        0 < float(tol) < 1
    ):
        raise ValueError(f"tol must be a number with 0 < tol < 1, got {tol!r}")
    tol = float(tol)
    if block_size is not None:
        block_size = integer("block_size", block_size, 1, min(m, n) - 1, f"min(m, n) - 1 = {min(m, n) - 1}")
    max_iterations = MAX_CYCLES if max_iterations is None else integer("max_iterations", max_iterations, 1)
    if key is not None and not (isinstance(key, jax.Array) and (jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                                              or (key.dtype == jnp.uint32 and key.shape == (2,)))):
        raise ValueError(f"key must be a JAX PRNG key (jax.random.key(seed)), got {type(key).__name__}")
    if n_rows is not None:
        n_rows = integer("n_rows", n_rows, 1, m)

    exponent = _scale(op, dtype)  # solve 2^-e A when ||A|| is out of the dtype's range (lanczos_spec, "Scale")
    scale = math.ldexp(1.0, -exponent)
    dynamic_op, static_op = _split(op)
    iterations = matvecs = 0
    finished = True  # the Lanczos stopping rule held (False: max_iterations ran out)
    while True:
        plan_ = plan((m, n), k, block_size, side=getattr(op, "basis_side", None), host=on_host(op))
        if plan_.dense:
            u, s, vt = _solve_dense(dynamic_op, scale, static_op=static_op, k=k, dtype_name=dtype.name)
            matvecs += min(m, n)
            break
        if on_host(op):  # a CPU: the whole iteration on the host, beside the sparse kernel
            u, s, vt, cycles, products, converged = host_lanczos(
                op.forward, op.backward, (m, n), k=k, block=plan_.block, keep=plan_.keep, steps=plan_.steps,
                side=plan_.side, tol=tol, max_iterations=max_iterations, seed=host_seed(key, "krylov start"),
                scale=scale if exponent else None)
        else:
            start = jax.random.key(0) if key is None else key
            u, s, vt, cycles, converged = _solve(dynamic_op, start, tol, max_iterations, scale, static_op=static_op,
                                                 plan_=plan_, dtype_name=dtype.name, scaled=bool(exponent))
            products = int(cycles) * 2 * plan_.steps * plan_.block + k  # the cycles and the final Rayleigh–Ritz
        finished = bool(converged)
        iterations += int(cycles)
        matvecs += products
        if not saturated(np.asarray(s), plan_.block, tol):
            break
        block_size = 2 * plan_.block  # a repeated value filled the block: more copies may exist
    if on_host(op):  # the host certificate draws from (key, "complement start"): no JAX computation at all
        check_key = key
    else:
        check_key = jax.random.fold_in(jax.random.key(0) if key is None else key, 0x7E57)
    result = certify_svd(op, u, s, vt, tol=tol, key=check_key, iterations=iterations,
                         matvecs=matvecs, finished=finished)
    if n_rows is not None and n_rows < m:
        result = SVDResult(result.u[:n_rows], result.s, result.vt, result.certificate)
    return result
