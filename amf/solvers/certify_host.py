"""The CPU path of `amf.solvers.certify.certify_svd`: its residuals and complement test in numpy, on the host.

For a `amf.operators.SparseOperator` whose products run on the host (``op.on_host``: the CPU layout) the
checks of `certify_svd` are computed here, with the numba kernel called directly (`amf.operators.host_csr`) and
numpy GEMMs, instead of in jitted code that calls back into the same kernel. The checks and their thresholds
are `certify_svd`'s; what this path saves is XLA's compilation of the complement test for every new shape (more
than the whole solve below ``10^5`` nodes: docs/performance.md) and its copies of the claimed bases.

- `residuals`: ``||A v_i - s_i u_i|| / scale`` and ``||A^T u_i - s_i v_i|| / scale`` in groups of columns;
- `orthonormality`: ``max(|U^T U - I|, |V^T V - I|)``;
- `complement_lanczos`: the largest singular value of ``A (I - V V^T)`` (or ``(I - U U^T) A``) estimated by
  block Lanczos with full reorthogonalization, the same estimate as `amf.solvers.certify`'s jitted one.

Both run in the matrix's stored order (`amf.operators.ordering`): the claimed ``U`` and ``V`` are permuted into it
once (`_stored`), so no product permutes its input and output. Norms do not depend on the order, and a Gaussian
start is Gaussian in any order, so the checks and the failure probability are the same.
"""

from __future__ import annotations

import numpy as np

from amf.operators import SparseOperator
from amf.operators.csr_kernel import aligned_empty
from amf.solvers.host_blocks import (coefficients, each_panel, reduce_panels, single_blas, stack,
                                     subtract_span)
from amf.solvers.krylov_host import Normal, svqb
from amf.solvers.lanczos_spec import host_seed

__all__ = ["complement_dense", "complement_lanczos", "host_seed", "orthonormality", "residuals"]


def _stored(x: np.ndarray, order: np.ndarray | None, axis: int) -> np.ndarray:
    """``x`` with its entries along ``axis`` in a matrix's stored order ``order`` (rows or columns of
    `amf.operators.host_csr.HostCSR`): a copy, or ``x`` itself when ``order`` is ``None`` (the identity)."""
    return x if order is None else np.take(x, order, axis=axis)


def residuals(op: SparseOperator, u: np.ndarray, s: np.ndarray, vt: np.ndarray, scale: float, columns: int):
    """``(left, right)``: ``||A v_i - s_i u_i|| / scale`` and ``||A^T u_i - s_i v_i|| / scale`` (``(r,)`` each) for
    ``u (m, r)``, ``s (r,)``, ``vt (r, n)``, from block products of ``columns`` triplets at a time, in the stored
    order (``u``'s rows permuted like ``A``'s, ``v``'s like its columns). The copies into the kernel's layout and
    the norms run in panels over the kernel's threads; one buffer receives both products of a group, so three
    ``(N, columns)`` blocks live at a time."""
    m, n = op.shape
    dtype = u.dtype
    width = min(columns, s.shape[0])
    buffer = aligned_empty((max(m, n), width), op.dtype)
    left, right = [], []
    for start in range(0, s.shape[0], columns):
        group = slice(start, start + columns)
        c = len(range(*group.indices(s.shape[0])))
        v = _kernel_block(_stored(vt[group], op.forward.cols, 1).T, dtype)  # (n, c)
        w = _kernel_block(_stored(u[:, group], op.forward.rows, 0), dtype)  # (m, c)
        y = op.forward.multiply_stored(v, out=_view(buffer, m, c))
        left.append(_norms(y, w, s[group], scale))
        x = op.backward.multiply_stored(w, out=_view(buffer, n, c))
        right.append(_norms(x, v, s[group], scale))
    return np.concatenate(left), np.concatenate(right)


def _view(buffer: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """The first ``rows x columns`` numbers of ``buffer`` as a C-order array (aligned like ``buffer``)."""
    return buffer.reshape(-1)[: rows * columns].reshape(rows, columns)


def _kernel_block(x: np.ndarray, dtype) -> np.ndarray:
    """``x (N, c)`` (any strides) as a new aligned C-order array of ``dtype``, copied in panels over the kernel's
    threads."""
    out = aligned_empty(x.shape, dtype)

    def apply(piece):
        out[piece] = x[piece]

    each_panel(apply, x.shape[0])
    return out


def _norms(product: np.ndarray, other: np.ndarray, s: np.ndarray, scale: float) -> np.ndarray:
    """``||(product_i - s_i other_i) / scale||`` per column, in one threaded pass (divided before the squares: no
    overflow or underflow for extreme entries)."""
    def term(piece):
        d = (product[piece] - other[piece] * s) / scale
        return np.einsum("ij,ij->j", d, d)

    return np.sqrt(reduce_panels(term, product.shape[0])).astype(other.dtype)


def orthonormality(u: np.ndarray, vt: np.ndarray) -> float:
    """``max(max |U^T U - I|, max |V^T V - I|)``."""
    eye = np.eye(u.shape[1], dtype=u.dtype)
    return float(max(np.max(np.abs(u.T @ u - eye)), np.max(np.abs(vt @ vt.T - eye))))


def _orthonormal_rows(near: np.ndarray) -> np.ndarray | None:
    """Orthonormal rows spanning the rows of ``near (r, N)``: ``near`` itself when its Gram is the identity to
    ``100 r eps``, else its Löwdin basis ``G^{-1/2} near`` (a copy); ``None`` when the rows are linearly
    dependent to round-off (the claim has no ``r``-dimensional subspace, and the test fails)."""
    r = near.shape[0]
    eps = float(np.finfo(near.dtype).eps)
    gram = near @ near.T
    if np.max(np.abs(gram - np.eye(r))) <= 100 * r * eps:
        return near
    lam, z = np.linalg.eigh(gram)
    if not np.all(np.isfinite(lam)) or lam[0] <= r * eps * max(float(lam[-1]), 0.0):
        return None
    return ((z / np.sqrt(lam)) @ z.T).astype(near.dtype) @ near


def complement_dense(op: SparseOperator, u: np.ndarray, vt: np.ndarray) -> float:
    """``||B||_2`` exactly, from the dense ``A`` built with ``min(m, n)`` products on the host: ``B = A (I - V
    V^T)`` when ``n <= m``, else ``(I - U U^T) A`` (`amf.solvers.certify`'s dense route, without a compilation).
    A claimed basis that is not orthonormal is first made so (NaN when it has no full rank: the test fails)."""
    m, n = op.shape
    if n <= m:
        dense, near = op.backward.multiply(np.eye(m, dtype=op.dtype)), vt  # A^T (n, m): B^T = (I - V V^T) A^T
    else:
        dense, near = op.forward.multiply(np.eye(n, dtype=op.dtype)), np.ascontiguousarray(u.T)
    rows = _orthonormal_rows(np.asarray(near, dtype=dense.dtype))
    if rows is None:
        return float("nan")
    dense = dense.astype(np.float64)
    for _ in range(2):
        dense -= rows.T @ (rows @ dense)
    return float(np.linalg.svd(dense, compute_uv=False)[0])


def complement_lanczos(op: SparseOperator, near: np.ndarray, *, right: bool, block: int, steps: int,
                       seed, scale: float = 1.0) -> float:
    """Estimate of ``||A (I - V V^T)||_2`` (``right``; ``near = V^T (r, n)``) or ``||(I - U U^T) A||_2``
    (``near = U^T (r, m)``): the square root of the largest Ritz value of ``C = P A^T A P`` (``P = I - near^T
    near``; ``A A^T`` on the left) on the block Krylov space of ``steps`` blocks of a Gaussian start ``(N,
    block)`` drawn from ``seed``; computed for ``scale A`` (``scale`` a power of two: no overflow for extreme
    entries) and returned for ``A``.

    ``T = W^T C W`` is filled from the inner products of each ``C w_j`` with the whole basis ``W`` (full
    reorthogonalization), so the Ritz value never exceeds ``||C||`` beyond round-off whatever the basis is.
    Per step: two products, then one pass against the Lanczos neighbours, one against ``near`` and the whole
    basis (one read each for the coefficients, one for the update), and a second full pass only when the first
    removed more than half of the norm (Kahan's "twice is enough").
    """
    rows = _orthonormal_rows(near)
    if rows is None:
        return float("nan")
    rows = np.ascontiguousarray(_stored(rows, (op.forward if right else op.backward).cols, 1))
    with single_blas():
        return _lanczos(op, rows, right=right, block=block, steps=steps, seed=seed, scale=scale)


def _lanczos(op: SparseOperator, rows: np.ndarray, *, right: bool, block: int, steps: int, seed,
             scale: float) -> float:
    """`complement_lanczos` for orthonormal ``rows``, inside `amf.solvers.host_blocks.single_blas`: its GEMMs
    are split over the kernel's threads, and OpenBLAS's own idle threads would spin against them
    (docs/performance.md)."""
    normal = Normal(op.forward, op.backward, "right" if right else "left", None if scale == 1.0 else scale)
    dtype = rows.dtype
    eps = float(np.finfo(dtype).eps)
    rng = np.random.default_rng(seed)
    n_dim, b = rows.shape[1], block
    rows = rows[:, :, None]  # a stack of one-column blocks (amf.solvers.host_blocks)
    basis = stack(steps + 1, n_dim, b, dtype)  # block j + 1 receives C w_j and becomes w_{j + 1} in place
    start = basis[0]
    start[...] = rng.standard_normal((n_dim, b))
    for _ in range(2):
        subtract_span(start, rows, coefficients(rows, start))
    svqb(start, 0.0, rng, rows, out=start)
    t = np.zeros((steps * b, steps * b), dtype)
    for j in range(steps):
        c = (j + 1) * b
        w = normal.apply(basis[j], out=basis[j + 1])
        current, near = basis[: j + 1], slice(max(0, j - 1), j + 1)
        column = np.zeros((c, b), dtype)
        g = coefficients(basis[near], w)  # the three-term part: the large coefficients
        subtract_span(w, basis[near], g)
        column[near.start * b :] = g
        before = np.einsum("ij,ij->j", w, w)
        g = coefficients(current, w)
        subtract_span(w, rows, coefficients(rows, w))
        subtract_span(w, current, g)
        column += g  # = W^T (C w_j): the local and the full pass together
        after = np.einsum("ij,ij->j", w, w)
        if np.any(after < 0.25 * before):
            subtract_span(w, rows, coefficients(rows, w))
            subtract_span(w, current, coefficients(current, w))
        t[:c, j * b : c] = column
        t[j * b : c, :c] = column.T
        if j + 1 < steps:
            floor = 30.0 * np.sqrt(c + rows.shape[0]) * eps * float(np.sqrt(np.max(before, initial=0.0)))
            svqb(w, floor, rng, rows, current, out=w)
    theta = np.linalg.eigvalsh(0.5 * (t + t.T))[-1]
    return float(np.sqrt(max(float(theta), 0.0))) / scale
