"""The exact dense SVD, its certificate and `amf.solve` against numpy's LAPACK SVD computed in the test.

Subspaces are compared through their orthogonal projectors (sign- and rotation-invariant), and only where a
singular-value gap makes them unique.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amf import CoOccurrence, InputError, solve
from amf.operators import DenseOperator
from amf.solvers.certify import certify_svd
from amf.solvers.exact import default_tolerance, exact_svd
from tests.helpers import dense_joint, numpy_residuals, projector_gap
from tests.strategies import SHAPES, graph_arrays

MATRIX_SHAPES = [(7, 5), (5, 7), (12, 9)]


@st.composite
def matrices(draw):
    m, n = draw(st.sampled_from(MATRIX_SHAPES))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["gaussian", "graded", "low_rank"]))
    if kind == "gaussian":
        a = rng.standard_normal((m, n))
    elif kind == "graded":  # singular values spread over 8 orders of magnitude
        q1, _ = np.linalg.qr(rng.standard_normal((m, m)))
        q2, _ = np.linalg.qr(rng.standard_normal((n, n)))
        a = q1[:, : min(m, n)] @ np.diag(np.logspace(0, -8, min(m, n))) @ q2[:, : min(m, n)].T
    else:  # exact rank 2: zero singular values past the rank
        a = rng.standard_normal((m, 2)) @ rng.standard_normal((2, n))
    k = draw(st.sampled_from([1, 2, min(m, n)]))
    return a, k


@given(matrices())
@pytest.mark.slow
def test_exact_svd_matches_numpy(case):
    a, k = case
    result = exact_svd(a, k)
    u_ref, s_ref, vt_ref = np.linalg.svd(a, full_matrices=False)
    assert result.u.shape == (a.shape[0], k) and result.s.shape == (k,) and result.vt.shape == (k, a.shape[1])
    assert result.s.dtype == np.float64 and result.u.dtype == np.float64
    np.testing.assert_allclose(result.s, s_ref[:k], rtol=0, atol=1e-12 * s_ref[0])
    assert np.all(np.diff(result.s) <= 0), "singular values must be descending"
    # subspaces: unique when there is a gap after s_k (or k is the full rank)
    gap = (s_ref[k - 1] - s_ref[k]) / s_ref[0] if k < len(s_ref) else s_ref[k - 1] / s_ref[0]
    if gap > 1e-6:
        assert projector_gap(result.u, u_ref[:, :k]) < 1e-12 / gap
        assert projector_gap(result.vt.T, vt_ref[:k].T) < 1e-12 / gap
    # the certificate, recomputed in numpy (both sides are round-off: compare absolutely)
    cert = result.certificate
    left, right = numpy_residuals(a, result.u, result.s, result.vt)
    np.testing.assert_allclose(cert.residual_left, left, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cert.residual_right, right, rtol=0, atol=1e-14)
    assert cert.converged and cert.max_residual <= cert.tolerance == default_tolerance(np.float64)
    ortho = max(
        np.abs(result.u.T @ result.u - np.eye(k)).max(), np.abs(result.vt @ result.vt.T - np.eye(k)).max()
    )
    assert abs(cert.orthonormality - ortho) < 1e-14 and cert.orthonormality < 1e-13


@pytest.mark.slow  # a jitted certificate per example's shape (seconds)
@given(st.sampled_from(MATRIX_SHAPES), st.integers(0, 2**31 - 1), st.floats(1e-9, 1e-2))
def test_certificate_measures_known_residuals(shape, seed, size):
    """Perturb an exact triplet set by a known amount: the certificate reports exactly the numpy residuals."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    k = 2
    u_bad = u[:, :k] + size * rng.standard_normal((shape[0], k))
    result = certify_svd(DenseOperator(jnp.asarray(a)), u_bad, s[:k], vt[:k], tol=1e-6, iterations=3, matvecs=5)
    cert = result.certificate
    left, right = numpy_residuals(a, u_bad, s[:k], vt[:k])
    np.testing.assert_allclose(cert.residual_left, left, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(cert.residual_right, right, rtol=1e-9, atol=1e-14)
    assert cert.max_residual == pytest.approx(max(left.max(), right.max()), rel=1e-9, abs=1e-14)
    assert cert.converged == bool(max(left.max(), right.max()) <= 1e-6)
    assert cert.iterations == 3 and cert.matvecs == 5 + 2 * k
    ortho = np.abs(u_bad.T @ u_bad - np.eye(k)).max()
    assert cert.orthonormality == pytest.approx(ortho, rel=1e-9, abs=1e-15)


def test_certificate_rejects_repeated_triplets():
    a = np.random.default_rng(0).standard_normal((7, 5))
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    # the top triplet twice: every residual is round-off, but this is not an SVD (s_2 is wrong, U^T U != I)
    u2, s2, vt2 = np.stack([u[:, 0], u[:, 0]], 1), np.array([s[0], s[0]]), np.stack([vt[0], vt[0]])
    cert = certify_svd(DenseOperator(jnp.asarray(a)), u2, s2, vt2, tol=1e-10, iterations=1).certificate
    assert cert.orthonormality > 0.5  # measured ...
    assert not cert.converged  # ... but not acted on


@given(matrices())
@pytest.mark.slow
def test_exact_svd_float32(case):
    a, k = case
    a32 = a.astype(np.float32)
    result = exact_svd(a32, k)
    assert result.u.dtype == result.s.dtype == result.vt.dtype == np.float32
    cert = result.certificate
    assert cert.tolerance == pytest.approx(1e3 * np.finfo(np.float32).eps)
    assert cert.converged and cert.max_residual <= cert.tolerance
    s_ref = np.linalg.svd(a32.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(result.s, s_ref[:k], rtol=0, atol=1e-5 * s_ref[0])


@pytest.mark.slow  # a compilation per dtype; test_solve_float32 stays
def test_exact_svd_dtype_overrides_input_type():
    a = np.random.default_rng(4).standard_normal((7, 5))
    single, double = exact_svd(a, 2, dtype="float32"), exact_svd(a.astype(np.float32), 2, dtype="float64")
    assert single.s.dtype == np.float32 and single.certificate.tolerance == pytest.approx(default_tolerance(np.float32))
    assert double.s.dtype == np.float64 and double.certificate.tolerance == default_tolerance(np.float64)
    np.testing.assert_allclose(single.s, np.linalg.svd(a, compute_uv=False)[:2], rtol=1e-5)


def test_exact_svd_explicit_tolerance_controls_converged():
    a = np.random.default_rng(1).standard_normal((7, 5)).astype(np.float32)
    assert exact_svd(a, 2).certificate.converged
    tight = exact_svd(a, 2, tol=1e-12).certificate  # float32 residuals are ~1e-7: cannot meet 1e-12
    assert tight.tolerance == 1e-12 and not tight.converged


@pytest.mark.slow  # a compilation of its own (~0.4 s)
def test_exact_svd_integer_input_is_float64():
    result = exact_svd(np.arange(12).reshape(3, 4), 2)
    assert result.s.dtype == np.float64
    np.testing.assert_allclose(result.s, np.linalg.svd(np.arange(12.0).reshape(3, 4), compute_uv=False)[:2], rtol=1e-13)


@pytest.mark.parametrize("k", [0, -1, 6])
def test_exact_svd_rejects_bad_k(k):
    with pytest.raises(ValueError, match=r"^k must be an integer in \[1, min\(m, n\) = 5\], got "):
        exact_svd(np.ones((7, 5)), k)


def test_exact_svd_rejects_non_matrix():
    with pytest.raises(ValueError, match="2-D"):
        exact_svd(np.ones((2, 3, 4)), 1)


def test_exact_svd_rejects_fractional_k():
    with pytest.raises(ValueError):
        exact_svd(np.ones((7, 5)), 2.5)


# ---- amf.solve --------------------------------------------------------------------------------------------


@given(graph_arrays(labels=False), st.data())
@pytest.mark.slow
def test_solve_returns_eckart_young_encoders(arrays, data):
    rows, cols, weights, shape, _, _ = arrays
    graph = CoOccurrence.from_arrays(rows, cols, weights, shape)
    k = data.draw(st.sampled_from([1, 2, 3, min(shape)]), label="k")
    solution = solve(graph, k)
    p, p_v, p_l, pn = dense_joint(rows, cols, weights, shape)
    u, s, vt = np.linalg.svd(pn, full_matrices=False)

    assert solution.f_images.shape == (shape[0], k) and solution.f_texts.shape == (shape[1], k)
    assert solution.k == k and solution.solver == "exact" and solution.dtype == "float64" and solution.converged
    assert len(solution.svd.s) == min(k + 1, min(shape))  # s_{k+1} is computed for the bound
    np.testing.assert_allclose(solution.svd.s, s[: len(solution.svd.s)], rtol=0, atol=1e-12)

    # the canonical minimizer: F_V = U_k S_k^{1/2}, F_L = V_k S_k^{1/2}, so F_V^T F_V = F_L^T F_L = S_k
    big_v = np.sqrt(p_v)[:, None] * solution.f_images
    big_l = np.sqrt(p_l)[:, None] * solution.f_texts
    np.testing.assert_allclose(big_v.T @ big_v, np.diag(s[:k]), atol=1e-12)
    np.testing.assert_allclose(big_l.T @ big_l, np.diag(s[:k]), atol=1e-12)

    # f_V f_L^T = D_V^{-1/2} U_k S_k V_k^T D_L^{-1/2}, unique when s_k > s_{k+1}
    s_next = s[k] if k < len(s) else 0.0
    gap = s[k - 1] - s_next
    if gap > 1e-6:
        expected = (u[:, :k] * s[:k]) @ vt[:k] / np.sqrt(np.outer(p_v, p_l))
        got = solution.f_images @ solution.f_texts.T
        assert np.abs(got - expected).max() <= 1e-11 / gap * np.abs(expected).max()
    if k == min(shape):  # T2d: at full rank <f_V(i), f_L(j)> = P_ij / (p_V(i) p_L(j))
        ratio = p / np.outer(p_v, p_l)
        got = solution.f_images @ solution.f_texts.T
        assert np.abs(got - ratio).max() <= 1e-10 * ratio.max()


def test_solve_float32():
    rows, cols = np.nonzero(np.ones((12, 9)))
    weights = np.random.default_rng(5).uniform(0.1, 2.0, len(rows))
    graph = CoOccurrence.from_arrays(rows, cols, weights, (12, 9))
    single, double = solve(graph, 3, dtype="float32"), solve(graph, 3)
    assert single.dtype == "float32" and single.converged
    assert single.certificate.tolerance == pytest.approx(1e3 * np.finfo(np.float32).eps)
    np.testing.assert_allclose(single.svd.s, double.svd.s, atol=1e-5)
    product_32 = single.f_images @ single.f_texts.T
    product_64 = double.f_images @ double.f_texts.T
    assert np.abs(product_32 - product_64).max() < 1e-3 * np.abs(product_64).max()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(k=0), "k must be an integer"),
        (dict(k=10), "k must be an integer"),  # min(12, 9) = 9
        (dict(k=1.5), "k must be an integer"),
        (dict(k=2.0), "k must be an integer"),
        (dict(k=True), "k must be an integer"),
        (dict(k="2"), "k must be an integer"),
        (dict(k=2, dtype="float16"), "dtype must be one of"),
        (dict(k=2, dtype=np.float64), "dtype must be one of"),
        (dict(k=2, solver="lanczos"), "unknown solver"),
    ],
)
def test_solve_rejects_bad_input(kwargs, message):
    rows, cols = np.nonzero(np.ones((12, 9)))
    graph = CoOccurrence.from_arrays(rows, cols, np.ones(len(rows)), (12, 9))
    k = kwargs.pop("k")
    with pytest.raises(InputError, match=message) as info:
        solve(graph, k, **kwargs)
    assert "\n" not in str(info.value)


def test_solve_accepts_numpy_integer_k():
    rows, cols = np.nonzero(np.ones((12, 9)))
    graph = CoOccurrence.from_arrays(rows, cols, np.arange(1.0, len(rows) + 1), (12, 9))
    assert solve(graph, np.int64(9)).k == 9


def test_krylov_refuses_k_it_cannot_certify():
    """krylov computes k + 1 triplets and needs k + 1 < min(N_V, N_L): a larger k is refused, not truncated."""
    n_v, n_l = SHAPES[0]
    rows, cols = np.nonzero(np.ones((n_v, n_l)))
    weights = np.random.default_rng(2).uniform(0.1, 2.0, len(rows))
    graph = CoOccurrence.from_arrays(rows, cols, weights, (n_v, n_l))
    k = min(n_v, n_l)
    for bad in (k - 1, k):
        with pytest.raises(InputError, match="krylov solver needs k \\+ 1 < min"):
            solve(graph, bad, solver="krylov")
    assert solve(graph, k - 2, solver="krylov").f_images.shape == (n_v, k - 2)
