"""The matrix-free top-k SVD (`amf.solvers.krylov.topk_svd`) and the sparse operator, against numpy's dense SVD.

Singular values are compared to 1e-8 relative; subspaces through the spectral distance of their orthogonal
projectors (`amf._linalg.projector_distance`, sign- and rotation-invariant), and only for groups of singular
values that end at a gap (a repeated or clustered value has no unique basis, only a unique subspace). The
certificate's residuals are recomputed here with numpy. Few distinct shapes, so few compilations.
"""

from __future__ import annotations

import copy
import gc
import pickle
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

import amf  # noqa: F401  (float64)
from amf._linalg import projector_distance
from amf.operators import DenseOperator, FunctionOperator, sparse_operator
from amf.operators import host_csr as _host_sparse
from amf.operators.host_csr import host_csr
from amf.operators.host_csr import threads as host_threads
from amf.solvers import krylov
from amf.solvers.krylov import default_tolerance, topk_svd
from tests.helpers import compilations, numpy_residuals

jax.config.update("jax_enable_x64", True)

SHAPE = (240, 180)
K = 6


def controlled(shape, singular_values, seed):
    """``U diag(s) V^T`` with Haar-random orthonormal ``U``, ``V`` and the given singular values."""
    m, n = shape
    rng = np.random.default_rng(seed)
    r = len(singular_values)
    u, _ = np.linalg.qr(rng.standard_normal((m, r)))
    v, _ = np.linalg.qr(rng.standard_normal((n, r)))
    return (u * np.asarray(singular_values)) @ v.T


def spectrum(seed, head):
    """``head`` followed by a decaying tail below it (so the matrix has full rank ``min(m, n)``)."""
    tail = np.sort(np.random.default_rng(seed).uniform(0.0, 0.5 * min(head), min(SHAPE) - len(head)))[::-1]
    return np.concatenate([head, tail])


def check_against_dense(a, result, k, tol, groups=None, rtol=1e-8):
    """Values, certificate, numpy residuals and (per gap-ended group) subspaces against ``np.linalg.svd``."""
    a = np.asarray(a, dtype=np.float64)
    u_ref, s_ref, vt_ref = np.linalg.svd(a, full_matrices=False)
    u, s, vt = (np.asarray(x, dtype=np.float64) for x in (result.u, result.s, result.vt))
    assert u.shape == (a.shape[0], k) and s.shape == (k,) and vt.shape == (k, a.shape[1])
    assert np.all(np.diff(s) <= 0)
    np.testing.assert_allclose(s, s_ref[:k], rtol=rtol, atol=rtol * s_ref[0])
    cert = result.certificate
    assert cert.converged
    assert cert.max_residual <= tol
    left, right = numpy_residuals(a, u, s, vt)
    np.testing.assert_allclose(left, cert.residual_left, rtol=1e-3, atol=1e-2 * tol)
    np.testing.assert_allclose(right, cert.residual_right, rtol=1e-3, atol=1e-2 * tol)
    assert max(left.max(), right.max()) <= tol
    assert cert.orthonormality <= 1e3 * np.finfo(result.s.dtype).eps
    for lo, hi in groups or [(0, k)]:  # [lo, hi): s_ref[hi - 1] > s_ref[hi], so the subspace is unique
        gap = (s_ref[hi - 1] - s_ref[hi]) / s_ref[0]
        bound = 10 * tol / gap  # Wedin: subspace error <= residual / gap
        assert projector_distance(u[:, lo:hi], u_ref[:, lo:hi]) <= bound
        assert projector_distance(vt[lo:hi].T, vt_ref[lo:hi].T) <= bound


@pytest.mark.slow
def test_distinct_values_match_numpy():
    a = controlled(SHAPE, spectrum(0, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45]), seed=0)
    result = topk_svd(a, K)
    check_against_dense(a, result, K, default_tolerance(np.float64), groups=[(i, i + 1) for i in range(K)])
    assert result.u.dtype == np.float64 and result.certificate.iterations >= 1


def test_repeated_and_clustered_values():
    # s = 1 three times (exactly repeated), a cluster of two 1e-7 apart, then a gap; the 6th value sits in a
    # cluster that continues past k, so only the first 5 columns have a unique subspace.
    head = [1.0, 1.0, 1.0, 0.8, 0.8 - 1e-7, 0.6, 0.6 - 1e-9, 0.3]
    a = controlled(SHAPE, spectrum(1, head), seed=1)
    result = topk_svd(a, K)
    check_against_dense(a, result, K, default_tolerance(np.float64), groups=[(0, 3), (3, 5), (0, 5)])
    np.testing.assert_allclose(result.s[:3], 1.0, rtol=1e-12)


def test_more_copies_than_the_block_are_found():
    # the top value repeated 10 times with block size 4: the saturation guard doubles the block
    a = controlled(SHAPE, spectrum(2, [1.0] * 10 + [0.5]), seed=2)
    result = topk_svd(a, K, block_size=4)
    np.testing.assert_allclose(result.s, 1.0, rtol=1e-10)
    assert result.certificate.converged


@pytest.mark.slow
def test_sparse_input_and_left_side():
    rng = np.random.default_rng(3)
    a = sp.random(SHAPE[1], SHAPE[0], density=0.05, random_state=rng, format="csr")  # m < n: basis on the left
    a = a + sp.csr_array((rng.uniform(1, 2, 40), (np.zeros(40, int), rng.choice(SHAPE[0], 40, replace=False))),
                         shape=a.shape)  # one long row (split into chunks by the sparse layout)
    result = topk_svd(a, K)
    check_against_dense(a.toarray(), result, K, default_tolerance(np.float64), groups=[(0, 1), (0, K)])


@pytest.mark.slow
def test_function_operator_and_operator_inputs():
    a = controlled(SHAPE, spectrum(4, [1.0, 0.7, 0.69, 0.5, 0.4, 0.3, 0.2]), seed=4)
    dense = jnp.asarray(a)
    op = FunctionOperator(lambda x: dense @ x, lambda y: dense.T @ y, SHAPE, jnp.float64)
    result = topk_svd(op, K, key=jax.random.key(3))
    check_against_dense(a, result, K, default_tolerance(np.float64), groups=[(0, 1), (1, 3), (0, K)])
    again = topk_svd(DenseOperator(dense), K)
    np.testing.assert_allclose(again.s, result.s, rtol=1e-10)


@pytest.mark.slow
def test_float32_in_float32_out():
    a = controlled(SHAPE, spectrum(5, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]), seed=5).astype(np.float32)
    result = topk_svd(a, K)
    tol = default_tolerance(np.float32)
    assert result.u.dtype == result.s.dtype == result.vt.dtype == np.float32
    assert result.certificate.converged and result.certificate.max_residual <= tol
    left, right = numpy_residuals(a.astype(np.float64), *(np.asarray(x, np.float64) for x in
                                                          (result.u, result.s, result.vt)))
    assert max(left.max(), right.max()) <= 2 * tol
    np.testing.assert_allclose(result.s, np.linalg.svd(a.astype(np.float64), compute_uv=False)[:K], rtol=1e-4)


def test_not_converged_when_iterations_run_out():
    a = controlled(SHAPE, spectrum(6, [1.0, 0.999, 0.998, 0.997, 0.996, 0.995, 0.994]), seed=6)
    result = topk_svd(a, K, max_iterations=1)
    cert = result.certificate
    assert cert.iterations == 1 and not cert.converged and cert.max_residual > cert.tolerance
    assert cert.matvecs > 0


def test_no_recompile_for_new_values_of_the_same_shape():
    a = controlled(SHAPE, spectrum(7, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45]), seed=7)
    topk_svd(a, K)  # compiled here (or by an earlier test)
    before = compilations(krylov._solve)
    b = controlled(SHAPE, spectrum(8, [2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7]), seed=8)
    result = topk_svd(b, K, key=jax.random.key(5), tol=1e-9)
    assert compilations(krylov._solve) == before
    check_against_dense(b, result, K, 1e-9)


def test_small_problem_uses_a_dense_svd():
    a = np.random.default_rng(9).standard_normal((20, 15))
    result = topk_svd(a, 5)
    assert result.certificate.iterations == 0
    check_against_dense(a, result, 5, default_tolerance(np.float64), groups=[(0, 5)])


@pytest.mark.parametrize("kernel", ["host", "jagged"])
@pytest.mark.slow
def test_sparse_operator_products_match_scipy(kernel):
    rng = np.random.default_rng(10)
    rows = np.concatenate([np.zeros(100, int), rng.integers(0, 50, 300)])  # row 0 has ~100 entries
    cols = np.concatenate([rng.integers(0, 40, 100), rng.integers(0, 40, 300)])
    a = sp.csr_array((rng.standard_normal(400), (rows, cols)), shape=(50, 40))  # duplicates add up
    dense = a.toarray()
    dense[7] = 0
    a = sp.csr_array(dense)  # row 7 stores no entries at all
    assert a.indptr[7] == a.indptr[8]
    op = sparse_operator(a, kernel=kernel)
    if kernel == "jagged":
        assert op.forward.extra_rows.shape[0] > 0  # row 0 was split into chunks
    else:
        assert len(op.forward.bands) == host_threads()
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((50, 3))
    np.testing.assert_allclose(np.asarray(op.matmat(x)), a @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.rmatmat(y)), a.T @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.matmat(x[:, 0])), a @ x[:, 0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.todense()), a.toarray(), rtol=1e-15)
    jitted = jax.jit(lambda o, x: o.matmat(x))(op, x)  # a pytree: passes through jit
    np.testing.assert_allclose(np.asarray(jitted), a @ x, rtol=1e-12, atol=1e-12)
    assert op.astype(np.float32).matmat(x.astype(np.float32)).dtype == jnp.float32
    normal = jax.jit(lambda o, x, side: o.normal_matmat(x, side), static_argnums=2)  # the solver's M X
    np.testing.assert_allclose(np.asarray(normal(op, x, "right")), a.T @ (a @ x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(normal(op, y, "left")), a @ (a.T @ y), rtol=1e-12, atol=1e-12)


def test_host_kernel_splits_rows_into_bands_of_equal_work():
    rng = np.random.default_rng(12)
    a = sp.random_array((1000, 300), density=0.02, random_state=rng, format="csr")
    layout = host_csr(a, n_bands=3)
    starts = [band[0] for band in layout.bands]
    stops = [band[1] for band in layout.bands]
    assert starts[0] == 0 and stops[-1] == 1000 and starts[1:] == stops[:-1]
    nnz = [band[2].nnz for band in layout.bands]
    assert sum(nnz) == a.nnz and max(nnz) - min(nnz) <= 2 * max(np.diff(a.indptr))
    x = rng.standard_normal((300, 5))
    np.testing.assert_allclose(np.asarray(layout.matmat(x)), a @ x, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="kernel must be one of"):
        sparse_operator(a, kernel="bcoo")
    with pytest.raises(ValueError, match="cannot chain"):
        _host_sparse.chain_matmat((layout, layout), x)


@pytest.mark.slow
def test_host_operator_is_freed_when_dropped_although_its_solver_stays_compiled():
    """JAX's compilation cache outlives a solve; it must not keep the matrix alive (only the `RECENT` last used)."""
    rng = np.random.default_rng(13)
    a = sp.random_array((400, 300), density=0.03, random_state=rng, format="csr")
    kept = _host_sparse.RECENT // 2  # operators (A and A^T each)
    s_ref = np.linalg.svd(a.toarray(), compute_uv=False)[:3]
    matrices = []
    for i in range(kept + 2):
        op = sparse_operator(a * (1.0 + i), kernel="host")
        matrices.append(weakref.ref(op.forward))
        result = topk_svd(op, 3)
        assert result.certificate.converged
        np.testing.assert_allclose(result.s, (1.0 + i) * s_ref, rtol=1e-10)
        del op, result
    gc.collect()
    assert [m() is not None for m in matrices] == [False, False] + [True] * kept
    x = rng.standard_normal((300, 2))  # an operator dropped right after an asynchronous dispatch still computes
    y = jax.jit(lambda op, x: op.matmat(x))(sparse_operator(a, kernel="host"), x)
    gc.collect()
    np.testing.assert_allclose(np.asarray(y), a @ x, rtol=1e-12)
    op = sparse_operator(a, kernel="host")
    for twin in (copy.deepcopy(op), pickle.loads(pickle.dumps(op))):  # another matrix, with its own token
        assert twin.forward.token not in (op.forward.token, op.backward.token)
        np.testing.assert_allclose(np.asarray(jax.jit(lambda o, x: o.matmat(x))(twin, x)), a @ x, rtol=1e-12)
    with pytest.raises(RuntimeError, match="freed before the computation ran"):
        _host_sparse._product((next(_host_sparse._TOKENS),), np.ones((1, 300)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(k=0), "k must be an integer in \\[1, "),
        (dict(k=SHAPE[1]), r"k must be an integer in \[1, min(m, n) - 1 = 179\]"),
        (dict(k=2.5), "k must be an integer"),
        (dict(k=3, tol=0.0), "tol must be a number with 0 < tol < 1"),
        (dict(k=3, tol=-1e-3), "tol must be a number"),
        (dict(k=3, block_size=0), "block_size must be an integer in \\[1, "),
        (dict(k=3, max_iterations=0), "max_iterations must be an integer >= 1"),
        (dict(k=3, key=0), "key must be a JAX PRNG key"),
        (dict(k=3, dtype=np.int32), "dtype must be float32 or float64"),
        (dict(k=3, n_rows=SHAPE[0] + 1), "n_rows must be an integer in"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_the_parameter(kwargs, message):
    a = np.ones(SHAPE)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        topk_svd(a, **kwargs)


def test_invalid_matrix_raises():
    with pytest.raises(ValueError, match="matrix must be 2-D"):
        topk_svd(np.ones(5), 1)
    with pytest.raises(ValueError, match="matrix: pass a"):
        topk_svd((lambda x: x, lambda y: y), 1)
    with pytest.raises(ValueError, match="at least 2 rows"):
        topk_svd(np.ones((1, 5)), 1)


def test_jagged_product_in_column_panels_when_the_gather_is_large(monkeypatch):
    import amf.operators.jagged as jagged

    rng = np.random.default_rng(13)
    a = sp.random_array((61, 47), density=0.1, random_state=rng, format="csr")
    layout = jagged.jagged_rows(a)
    monkeypatch.setattr(jagged, "GATHER_BUDGET", a.nnz * 8 * 3)  # three float64 columns per pass
    assert jagged.columns_per_pass(a.nnz, 8, 7) == 3
    widths = []  # the panels the product traces (it must not take the one-pass path)
    panel = jagged.JaggedRows._panel
    monkeypatch.setattr(jagged.JaggedRows, "_panel", lambda self, x: widths.append(x.shape[1]) or panel(self, x))
    x = rng.standard_normal((47, 7))  # three panels, the last one padded
    np.testing.assert_allclose(np.asarray(layout.matmat(x)), a @ x, rtol=1e-12, atol=1e-12)
    assert widths == [3]  # lax.map traces one 3-column panel body


@pytest.mark.parametrize("panels", [True, False])
def test_restart_rewrites_the_leading_rows_in_panels(monkeypatch, panels):
    import amf.solvers.krylov_jit as krylov_jit

    monkeypatch.setattr(krylov_jit, "RESTART_PANEL", 7)  # 23 columns: three full panels and a remainder of 2
    rng = np.random.default_rng(14)
    basis = rng.standard_normal((9, 23))
    select = rng.standard_normal((9, 4))
    expected = basis.copy()
    expected[:4] = select.T @ basis
    got = jax.jit(lambda b, s: krylov_jit.restart_rows(b, s, panels=panels))(basis, select)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-13, atol=1e-13)
