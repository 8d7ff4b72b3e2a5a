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
   exceeds ``eta = max(1e-3 tol, 10 eps)`` (and, in the jitted path, always on the first step of a cycle, which
   couples to every kept Ritz vector; the host path passes that step once against the whole basis instead of
   the neighbours and then checks it the same way) the step falls back to full block classical Gram–Schmidt
   twice, the first pass followed by
   SVQB (``W z Lambda^{-1/2}`` from the eigen-decomposition of the ``b x b`` Gram; directions of ``W`` inside
   the basis to round-off, a "happy breakdown", are replaced by generic vectors) and the second by a
   Gram-based QR (a third when the block was ill-conditioned). Only GEMMs with the ``N x p`` basis and
   ``b x b`` eigen-decompositions; no tall QR, no triangular solve. The second pass is needed: with one, the
   loss of orthogonality grows by ``||W|| / sigma_min`` per step. A local step reads the basis once (on the
   host ``h`` and the new block's Gram in one read), a full one four times (their measured costs:
   docs/performance.md, "Orthogonalization").
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
basis prefix in use, the stopping rule judged after every block step, default block `HOST_BLOCK`); every other
backend runs the jitted path (`amf.solvers.krylov_jit`: one ``lax.while_loop`` over cycles reading the whole
basis buffer every block step, restarts in place in panels of columns). Static shapes: one compilation
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

from amf._validate import integer
from amf.errors import InputError
from amf.operators import (DenseOperator, Operator, SparseOperator, as_operator, is_array_pytree, on_host,
                           real_dtype)
from amf.solution import SVDResult
from amf.solvers.certify import certify_svd
from amf.solvers.krylov_host import host_lanczos
from amf.solvers.krylov_jit import lanczos, rayleigh_ritz
from amf.solvers.lanczos_spec import (DEFAULT_TOL, HOST_BLOCK, MAX_CYCLES, RESTART_PANEL, SELECTIVE_ROWS,
                                      KrylovPlan, default_tolerance, host_seed, norm_bounds, plan, saturated,
                                      scale_exponent)

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


# ---- the solve ---------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("static_op", "plan_", "dtype_name", "scaled"))
def _solve(dynamic_op, key, tol, max_iterations, scale, *, static_op, plan_: KrylovPlan, dtype_name: str,
           scaled: bool):
    """The jitted solve of ``c A`` (``c = scale`` when ``scaled``, else 1 with no products scaled); ``s`` of
    ``A``."""
    op = static_op if static_op is not None else dynamic_op
    dtype = jnp.dtype(dtype_name)
    scale = jnp.asarray(scale, dtype) if scaled else None
    rows, theta, resid, cycles, converged = lanczos(op, key, tol, max_iterations, plan_, dtype, scale)
    u, s, vt = rayleigh_ritz(op, rows, plan_.side, scale)
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
