"""The CPU path of `amf.topk_svd`: the host kernel (`amf.operators.csr_kernel`) against scipy, its fallback without
numba, locality orderings undone, and the numpy block Lanczos (`amf.solvers.krylov_host`) against numpy's dense
SVD (values to 1e-8, subspaces through projectors: sign- and rotation-invariant)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.sparse as sp

import amf  # noqa: F401  (float64)
from amf import Reason
from amf._linalg import projector_distance
from amf.operators import csr_kernel, sparse_operator
from amf.operators.host_csr import host_csr
from amf.operators.ordering import label_order, permuted
from amf.solvers import krylov
from amf.solvers.krylov import default_tolerance, topk_svd
from tests.test_krylov import check_against_dense, controlled, spectrum

jax.config.update("jax_enable_x64", True)

K = 6


def sparse_with_empty_rows(shape, seed, density=0.05):
    rng = np.random.default_rng(seed)
    a = sp.random_array(shape, density=density, random_state=rng, format="lil")
    a[3] = 0  # rows with no stored entry
    a[shape[0] - 1] = 0
    a[0, : shape[1] // 2] = rng.uniform(1, 2, shape[1] // 2)  # one long row
    return sp.csr_array(a)


@pytest.fixture(params=[True, False], ids=["numba", "scipy-fallback"])
def kernel(request, monkeypatch):
    """Both product paths: numba's kernel, and the scipy fallback (numba made unavailable)."""
    if request.param and not csr_kernel.HAVE_NUMBA:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(csr_kernel, "HAVE_NUMBA", request.param)
    monkeypatch.setattr(csr_kernel, "SMALL", 0)  # the test matrices are small: numba's kernel all the same
    return request.param


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_bands", [1, pytest.param(3, marks=pytest.mark.slow)])  # one band: the fast subset's
def test_kernel_and_its_transpose_match_scipy(kernel, dtype, n_bands):
    a = sparse_with_empty_rows((70, 55), seed=0).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    rng = np.random.default_rng(1)
    for matrix in (a, sp.csr_array(a.T)):
        layout = host_csr(matrix, n_bands=n_bands)
        assert len(layout.bands) == n_bands and sum(band.nnz for _, _, band in layout.bands) == matrix.nnz
        for b in (1, 3, 8):
            x = rng.standard_normal((matrix.shape[1], b)).astype(dtype)
            y = layout.multiply(x)
            assert y.shape == (matrix.shape[0], b) and y.dtype == dtype and y.flags.c_contiguous
            np.testing.assert_allclose(y, matrix @ x, rtol=rtol, atol=rtol)
            np.testing.assert_allclose(layout.multiply(np.asfortranarray(x)), matrix @ x, rtol=rtol, atol=rtol)
    op = sparse_operator(a)  # inside jit, through the callback, in groups of CALLBACK_COLUMNS columns
    x, y = rng.standard_normal((55, 11)).astype(dtype), rng.standard_normal((70, 11)).astype(dtype)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda o, x: o.matmat(x))(op, x)), a @ x, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda o, y: o.rmatmat(y))(op, y)), a.T @ y, rtol=rtol, atol=rtol)


@pytest.mark.slow  # a second numba compilation of every kernel (seconds)
def test_kernels_without_the_prefetch_hint(monkeypatch):
    # where numba cannot compile llvm.prefetch the kernels run without it, with the same products
    if not csr_kernel.HAVE_NUMBA:
        pytest.skip("numba is not installed")

    def unavailable():
        raise RuntimeError("no llvm.prefetch here")

    monkeypatch.setattr(csr_kernel, "_llvm_prefetch", unavailable)
    monkeypatch.setattr(csr_kernel, "_KERNELS", None)
    monkeypatch.setattr(csr_kernel, "_prefetch", csr_kernel._prefetch)
    monkeypatch.setattr(csr_kernel, "SMALL", 0)
    a = sparse_with_empty_rows((300, 200), seed=2)
    layout = host_csr(a, n_bands=2)
    rng = np.random.default_rng(3)
    for b in (1, 3, 8):
        x = rng.standard_normal((200, b))
        np.testing.assert_allclose(layout.multiply(x), a @ x, rtol=1e-12, atol=1e-12)
    assert csr_kernel._prefetch.py_func is csr_kernel._no_prefetch  # the compiled no-op stands in


def test_small_matrices_do_not_load_the_kernels(monkeypatch):
    # below SMALL entries, and while numba's kernels are not loaded, products take scipy's path (same numbers)
    monkeypatch.setattr(csr_kernel, "_KERNELS", None)
    a = sparse_with_empty_rows((300, 200), seed=4)
    x = np.random.default_rng(5).standard_normal((200, 8))
    np.testing.assert_allclose(host_csr(a).multiply(x), a @ x, rtol=1e-12, atol=1e-12)
    assert csr_kernel._KERNELS is None
    if csr_kernel.HAVE_NUMBA:
        monkeypatch.setattr(csr_kernel, "SMALL", a.nnz)  # at SMALL entries: numba's kernels
        np.testing.assert_allclose(host_csr(a).multiply(x), a @ x, rtol=1e-12, atol=1e-12)
        assert csr_kernel._KERNELS is not None


def test_aligned_blocks():
    x = np.arange(24.0).reshape(8, 3)
    for dtype in (np.float64, np.float32):
        y = csr_kernel.aligned(x, dtype)
        assert y.ctypes.data % csr_kernel.ALIGN == 0 and y.flags.c_contiguous and y.dtype == dtype
        np.testing.assert_array_equal(y, x)
    assert csr_kernel.aligned(y, np.float32) is y  # already aligned: no copy
    np.testing.assert_array_equal(csr_kernel.aligned(x.T, np.float64), x.T)  # a transposed view is copied


def test_an_ordering_is_applied_inside_and_undone_in_products():
    a = sparse_with_empty_rows((70, 55), seed=2)
    rng = np.random.default_rng(3)
    row_labels, col_labels = rng.integers(0, 4, 70), rng.integers(-1, 4, 55)
    order = label_order(a, row_labels, col_labels)
    rows, cols = order
    assert np.all(np.diff(row_labels[rows]) >= 0) and np.all(np.diff(col_labels[cols]) >= 0)
    degree = np.diff(a.indptr)[rows]
    same = np.diff(row_labels[rows]) == 0
    assert np.all(np.diff(degree)[same] <= 0)  # each class by descending degree
    assert label_order(a) is None
    op = sparse_operator(a, order=order, kernel="host")
    assert not np.array_equal(op.forward.indptr, a.indptr)  # stored in the new order
    x, y = rng.standard_normal((55, 4)), rng.standard_normal((70, 4))
    np.testing.assert_allclose(op.forward.multiply(x), a @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.jit(lambda o, x: o.matmat(x))(op, x)), a @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(op.rmatmat(y)), a.T @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.forward.tocsr().toarray(), a.toarray(), rtol=0, atol=0)
    np.testing.assert_allclose(op.astype(np.float32).backward.multiply(y), a.T @ y, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="order must be a pair of permutations"):
        sparse_operator(a, order=(rows[:-1], cols), kernel="host")
    with pytest.raises(ValueError, match="labels must have shape"):
        label_order(a, row_labels[:-1])


@pytest.mark.slow
def test_host_path_matches_numpy_on_both_sides(monkeypatch):
    calls = []
    host = krylov.host_lanczos
    monkeypatch.setattr(krylov, "host_lanczos", lambda *a, **kw: calls.append(kw["side"]) or host(*a, **kw))
    a = controlled((240, 180), spectrum(0, [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.45]), seed=0)
    result = topk_svd(sparse_operator(sp.csr_array(a), kernel="host"), K)
    check_against_dense(a, result, K, default_tolerance(np.float64), groups=[(i, i + 1) for i in range(K)])
    wide = sparse_with_empty_rows((150, 260), seed=4, density=0.08)  # m < n: the basis on the left
    assert krylov.plan(wide.shape, 9, host=True).block == krylov.HOST_BLOCK  # k >= 8: the CPU's block
    result = topk_svd(sparse_operator(wide, kernel="host"), 9, key=jax.random.key(2))
    check_against_dense(wide.toarray(), result, 9, default_tolerance(np.float64), groups=[(0, 9)])
    assert calls == ["right", "left"]
    assert result.u.dtype == np.float64 and result.u.flags.c_contiguous and result.vt.flags.c_contiguous


@pytest.mark.slow
def test_host_path_float32_and_repeated_values():
    a = controlled((240, 180), spectrum(5, [1.0] * 5 + [0.8, 0.7, 0.6]), seed=5)  # s = 1 five times, block 4
    result = topk_svd(sparse_operator(sp.csr_array(a), kernel="host"), K, block_size=4)
    check_against_dense(a, result, K, default_tolerance(np.float64), groups=[(0, 5), (5, 6)])
    single = topk_svd(sparse_operator(sp.csr_array(a.astype(np.float32)), kernel="host"), K)
    assert single.s.dtype == np.float32 and single.certificate.converged
    assert single.certificate.max_residual <= default_tolerance(np.float32)
    np.testing.assert_allclose(single.s, np.linalg.svd(a, compute_uv=False)[:K], rtol=1e-4)


def test_permuted_matches_dense_indexing():
    # a row with unsorted indices and a duplicate entry: the stored matrix is canonical, the duplicate summed
    a = sp.csr_array((np.array([1.0, 2.0, 3.0, 4.0]), np.array([2, 0, 2, 1]), np.array([0, 3, 4, 4])), shape=(3, 3))
    rows, cols = np.array([2, 0, 1]), np.array([1, 2, 0])  # not involutions: an inverse mixed up shows
    out = permuted(a, rows, cols)
    assert out.has_sorted_indices and out.nnz == 3
    np.testing.assert_array_equal(out.toarray(), a.toarray()[rows][:, cols])


@pytest.mark.slow
def test_ordered_and_fallback_solves_span_the_same_subspaces(monkeypatch):
    rng = np.random.default_rng(6)
    a = controlled((240, 180), spectrum(6, [1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.5]), seed=6)
    a = sp.csr_array(np.where(rng.uniform(size=a.shape) < 0.3, a, 0.0))  # sparse, with another spectrum
    s_ref = np.linalg.svd(a.toarray(), compute_uv=False)
    assert s_ref[K - 1] - s_ref[K] > 1e-3  # a gap after s_k: the top-k subspaces are unique
    plain = topk_svd(sparse_operator(a, kernel="host"), K)
    order = label_order(a, rng.integers(0, 3, 240), rng.integers(0, 3, 180))
    ordered = topk_svd(sparse_operator(a, kernel="host", order=order), K)
    monkeypatch.setattr(csr_kernel, "HAVE_NUMBA", False)
    fallback = topk_svd(sparse_operator(a, kernel="host"), K)
    for result in (ordered, fallback):
        assert result.certificate.converged
        np.testing.assert_allclose(result.s, plain.s, rtol=1e-9)
        assert projector_distance(result.u, plain.u) <= 1e-6
        assert projector_distance(result.vt.T, plain.vt.T) <= 1e-6
    check_against_dense(a.toarray(), ordered, K, default_tolerance(np.float64), groups=[(0, K)])


@pytest.mark.slow
def test_low_rank_matrix_exhausts_the_krylov_space():
    # rank 9 < the basis: the block recurrence breaks down and random directions replace the lost ones
    rng = np.random.default_rng(7)
    a = sp.csr_array(controlled((300, 200), list(np.linspace(1.0, 0.2, 9)), seed=7) * (rng.uniform(size=(300, 1)) > 0))
    result = topk_svd(sparse_operator(a, kernel="host"), K)
    check_against_dense(a.toarray(), result, K, default_tolerance(np.float64), groups=[(0, K)])
    # rank 4 < k: s_5 = s_6 = 0, and the Rayleigh–Ritz step completes u with directions of its own
    a = sp.csr_array(controlled((300, 200), [1.0, 0.8, 0.6, 0.4], seed=8))
    result = topk_svd(sparse_operator(a, kernel="host"), K)
    check_against_dense(a.toarray(), result, K, default_tolerance(np.float64), groups=[(0, 4)])


def test_host_path_reports_the_iteration_limit():
    a = controlled((240, 180), spectrum(8, [1.0, 0.999, 0.998, 0.997, 0.996, 0.995, 0.994]), seed=8)
    result = topk_svd(sparse_operator(sp.csr_array(a), kernel="host"), K, max_iterations=1)
    cert = result.certificate
    assert cert.iterations == 1 and not cert.converged and cert.reason is Reason.ITERATION_LIMIT
    assert cert.max_residual > cert.tolerance


def test_a_host_solve_compiles_nothing():
    """The host path's seeds are derived with numpy (`amf.solvers.lanczos_spec.host_seed`): a solve and its
    certificate on a CPU sparse matrix start no XLA compilation, with the default key or a given one."""
    import logging

    from amf.solvers.lanczos_spec import host_seed

    keys = [None, jax.random.key(5), jax.random.PRNGKey(5)]
    assert host_seed(keys[1], "a") == host_seed(keys[2], "a") != host_seed(keys[1], "b")
    assert host_seed(None, "a") == host_seed(jax.random.key(0), "a")
    a = sp.random_array((130, 110), density=0.1, random_state=np.random.default_rng(2), format="csr")
    compiled = []

    class Compilations(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith(("Compiling", "Finished XLA compilation")):
                compiled.append(record.getMessage()[:80])

    handler, logger = Compilations(), logging.getLogger("jax")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            jax.clear_caches()  # an earlier test's compilation of the same small programs would hide one here
            for key in keys:
                result = topk_svd(a, 5, key=key)
                assert result.certificate.converged
            assert compiled == []
            jax.random.fold_in(jax.random.key(1), 2)  # the handler sees a compilation when there is one
            assert compiled
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
