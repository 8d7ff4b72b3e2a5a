"""The CPU path of `amf.certify_svd` (`amf.solvers.certify_host`) against dense numpy: residuals to round-off, the
complement test's estimate against the exact ``||A (I - V V^T)||_2``, and the claims it must reject and accept."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

import amf  # noqa: F401  (float64)
from amf.operators import DenseOperator, sparse_operator
from amf.operators.ordering import label_order
from amf.solvers import certify, certify_host
from amf.solvers.krylov import topk_svd

jax.config.update("jax_enable_x64", True)

K = 5


def planted(shape, seed, gap=True):
    """A sparse matrix whose top ``K`` singular values stand above a random sparse bulk (a gap after ``s_K``)."""
    rng = np.random.default_rng(seed)
    m, n = shape
    bulk = sp.random_array(shape, density=0.02, random_state=rng) * 0.3
    labels_m, labels_n = rng.integers(0, K, m), rng.integers(0, K, n)
    block = sp.csr_array((labels_m[:, None] == labels_n[None, :]) * rng.uniform(0.5, 1.0, shape) * 0.05)
    return sp.csr_array(bulk + (block if gap else 0)), (labels_m, labels_n)


def dense_svd(a, k=K):
    u, s, vt = np.linalg.svd(a.toarray())
    return u[:, :k], s[:k], vt[:k], s


@pytest.mark.parametrize("shape", [(900, 700), (700, 900)], ids=["right", "left"])
@pytest.mark.slow
def test_host_certificate_matches_the_jitted_one_and_the_dense_truth(shape):
    a, _ = planted(shape, 0)
    u, s, vt, full = dense_svd(a)
    host = certify.certify_svd(sparse_operator(a), u, s, vt, tol=1e-10, key=jax.random.key(3)).certificate
    jitted = certify.certify_svd(DenseOperator(jnp.asarray(a.toarray())), u, s, vt, tol=1e-10,
                                 key=jax.random.key(3)).certificate
    assert host.converged and jitted.converged and host.top.method == "lanczos"
    np.testing.assert_allclose(host.residual_left, jitted.residual_left, atol=1e-13)
    np.testing.assert_allclose(host.residual_right, jitted.residual_right, atol=1e-13)
    # the estimate of ||B|| = s_{K+1} (V spans right singular vectors): never above it, and near it (the bulk
    # below s_K has no gap at its top, so Lanczos gets only its leading digits: 1e-5 here)
    assert full[K] * (1 - 1e-3) <= host.top.bound <= full[K] * (1 + 1e-12)
    assert full[K] * (1 - 1e-3) <= jitted.top.bound <= full[K] * (1 + 1e-12)


def test_host_complement_rejects_a_skipped_triplet():
    a, _ = planted((900, 700), 1)
    u, s, vt, full = dense_svd(a, K + 1)
    keep = [i for i in range(K + 1) if i != K - 1]  # exact triplets 1..K-1 and K+1: s_K left out
    cert = certify.certify_svd(sparse_operator(a), u[:, keep], s[keep], vt[keep], tol=1e-10).certificate
    assert not cert.converged and not cert.top.passed
    assert np.max(cert.residual_left) < 1e-12 and np.max(cert.residual_right) < 1e-12  # every triplet is exact
    np.testing.assert_allclose(cert.top.bound, full[K - 1], rtol=1e-6)  # it finds the missing s_K


@pytest.mark.slow  # a second 900 x 700 planted matrix; the complement's smoke is the skipped-triplet test
def test_host_complement_of_a_non_orthonormal_claim():
    a, _ = planted((900, 700), 2)
    _, _, vt, full = dense_svd(a)
    op = sparse_operator(a)
    steps = certify.lanczos_steps(700 - K)
    mixed = np.array([[1.0, 0.5, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]])
    # the same subspace in a skewed basis: its Löwdin basis gives the same estimate
    estimate = certify_host.complement_lanczos(op, mixed @ vt, right=True, block=2, steps=steps, seed=[0, 1])
    assert full[K] * (1 - 1e-3) <= estimate <= full[K] * (1 + 1e-12)
    # linearly dependent rows span no K-dimensional subspace: no estimate, and the test then fails
    dependent = vt.copy()
    dependent[1] = dependent[0]
    assert np.isnan(certify_host.complement_lanczos(op, dependent, right=True, block=2, steps=steps, seed=0))


@pytest.mark.slow
def test_host_certificate_accepts_a_tie_at_s_k():
    # s_K = s_{K+1} exactly (two equal blocks): any K of the tied vectors are a top-K SVD, and must pass
    rng = np.random.default_rng(4)
    bulk = sp.random_array((400, 300), density=0.05, random_state=rng) * 0.1  # norm about 0.9
    ties = sp.block_diag([sp.csr_array(np.diag([3.0, 2.5, 2.2, 2.1, 2.0, 2.0])), bulk])
    a = sp.csr_array(ties)
    u, s, vt, full = dense_svd(a)
    assert abs(full[K - 1] - full[K]) < 1e-12  # the tie
    cert = certify.certify_svd(sparse_operator(a), u, s, vt, tol=1e-10).certificate
    assert cert.converged and cert.top.passed


@pytest.mark.parametrize("shape", [(900, 700), pytest.param((700, 900), marks=pytest.mark.slow)],
                         ids=["right", "left"])
def test_host_certificate_with_an_ordered_operator(shape):
    # an operator stored in class order (amf.operators.ordering) certifies claims in the caller's order; the
    # checks run in the stored order, so they must agree with the unordered operator's to round-off
    a, (rows, cols) = planted(shape, 5)
    u, s, vt, full = dense_svd(a, K + 1)
    op = sparse_operator(a, order=label_order(a, rows, cols))
    claim = (u[:, :K], s[:K], vt[:K])
    cert = certify.certify_svd(op, *claim, tol=1e-10).certificate
    plain = certify.certify_svd(sparse_operator(a), *claim, tol=1e-10).certificate
    assert cert.converged and cert.top.method == "lanczos"
    assert full[K] * (1 - 1e-3) <= cert.top.bound <= full[K] * (1 + 1e-12)
    np.testing.assert_allclose(cert.residual_left, plain.residual_left, atol=1e-13)
    np.testing.assert_allclose(cert.residual_right, plain.residual_right, atol=1e-13)
    # the same claim with two rows of U swapped is not an SVD of A: the residuals say so
    bad = claim[0].copy()
    bad[[0, 1]] = bad[[1, 0]]
    assert not certify.certify_svd(op, bad, *claim[1:], tol=1e-10).certificate.converged
    # exact triplets with s_K skipped: the complement test, run in the stored order, sees s_K
    keep = [i for i in range(K + 1) if i != K - 1]
    skipped = certify.certify_svd(op, u[:, keep], s[keep], vt[keep], tol=1e-10).certificate
    assert not skipped.top.passed and np.max(skipped.residual_left) < 1e-12


def test_a_product_that_returns_a_view_of_its_input():
    # A = [I | 0] (300 x 600) whose matmat hands back rows of its input, not a new array: the certificate's
    # residuals and the solver's Rayleigh-Ritz must not write into the vectors they are checking (before the
    # product buffers, the residual A^T u - s v was computed in v itself and read 1.0)
    from scipy.sparse.linalg import LinearOperator

    m, n = 300, 600
    op = LinearOperator((m, n), matvec=lambda x: x[:m], rmatvec=lambda y: np.concatenate([y, np.zeros(n - m)]),
                        matmat=lambda x: x[:m], rmatmat=lambda y: np.vstack([y, np.zeros((n - m, y.shape[1]))]),
                        dtype=np.float64)
    result = topk_svd(op, 3)
    np.testing.assert_allclose(result.s, 1.0, rtol=1e-12)
    assert result.certificate.converged
    assert max(np.max(result.certificate.residual_left), np.max(result.certificate.residual_right)) < 1e-12
