"""The spectral losses and the text-induced graph against independent dense numpy formulas (docs/theory.md §2, T1, T3).

Every expected value here is computed in the test from the raw edge arrays (``W -> P = W / W.sum()``, marginals,
``Pn``, ``A_V = P D_L^{-1} P^T``) with plain numpy double sums or matrix products; the library's edge-based,
Gram-trick and segment-sum routes are compared with them to round-off.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from amf import CoOccurrence, mmcl_loss, mmcl_minibatch_loss, sscl_loss
from amf.text_induced import image_induced_graph, pairs_joint, text_induced_graph, text_induced_matmat
from tests.helpers import dense_joint, rel
from tests.strategies import graph_arrays

KS = (1, 3)  # few embedding widths, so the jitted losses compile a handful of times
_loss_grad = jax.jit(jax.grad(mmcl_loss, argnums=(1, 2)))


def dense_mmcl(p, p_v, p_l, f_v, f_l):
    """``-2 sum_ij P_ij <f_V(i), f_L(j)> + sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2`` as explicit double sums."""
    scores = np.einsum("ik,jk->ij", f_v, f_l)
    return -2.0 * np.sum(p * scores) + np.sum(np.outer(p_v, p_l) * scores**2)


def graph_and_encoders(arrays, k, seed, scale=1.0):
    rows, cols, weights, shape, _, _ = arrays
    graph = CoOccurrence.from_arrays(rows, cols, weights, shape)
    rng = np.random.default_rng(seed)
    f_v = scale * rng.standard_normal((shape[0], k))
    f_l = scale * rng.standard_normal((shape[1], k))
    return graph, dense_joint(rows, cols, weights, shape), f_v, f_l


@given(graph_arrays(labels=False), st.sampled_from(KS), st.integers(0, 2**31 - 1), st.sampled_from([0.1, 1.0, 10.0]))
@pytest.mark.slow
def test_mmcl_loss_matches_dense_double_sum_and_T1(arrays, k, seed, scale):
    graph, (p, p_v, p_l, pn), f_v, f_l = graph_and_encoders(arrays, k, seed, scale)
    loss = float(mmcl_loss(graph.joint_arrays(), f_v, f_l))
    expected = dense_mmcl(p, p_v, p_l, f_v, f_l)
    assert rel(loss, expected) < 1e-11, (loss, expected)
    # T1: the same number is ||Pn - F_V F_L^T||_F^2 - ||Pn||_F^2 (numpy only, from the scaled factors)
    big_v, big_l = np.sqrt(p_v)[:, None] * f_v, np.sqrt(p_l)[:, None] * f_l
    frobenius = np.sum((pn - big_v @ big_l.T) ** 2) - np.sum(pn**2)
    assert rel(loss, frobenius) < 1e-11, (loss, frobenius)


@settings(max_examples=6)  # every new edge count compiles the backward pass
@given(graph_arrays(labels=False), st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_mmcl_loss_gradient_matches_dense_gradient(arrays, seed):
    """``grad_{f_V} L = -2 P f_L + 2 D_V f_V (f_L^T D_L f_L)`` and symmetrically for ``f_L`` (what solvers use)."""
    graph, (p, p_v, p_l, _), f_v, f_l = graph_and_encoders(arrays, 3, seed)
    g_v, g_l = _loss_grad(graph.joint_arrays(), f_v, f_l)
    expect_v = -2.0 * p @ f_l + 2.0 * p_v[:, None] * f_v @ (f_l.T @ (p_l[:, None] * f_l))
    expect_l = -2.0 * p.T @ f_v + 2.0 * p_l[:, None] * f_l @ (f_v.T @ (p_v[:, None] * f_v))
    np.testing.assert_allclose(np.asarray(g_v), expect_v, rtol=1e-10, atol=1e-13 * np.abs(expect_v).max())
    np.testing.assert_allclose(np.asarray(g_l), expect_l, rtol=1e-10, atol=1e-13 * np.abs(expect_l).max())


def test_mmcl_loss_at_known_point():
    """A 2 x 2 joint by hand: ``P = [[.4, .1], [0, .5]]``, ``f_V = [[1], [2]]``, ``f_L = [[3], [-1]]``."""
    graph = CoOccurrence.from_arrays([0, 0, 1], [0, 1, 1], [4.0, 1.0, 5.0], (2, 2))
    f_v, f_l = np.array([[1.0], [2.0]]), np.array([[3.0], [-1.0]])
    # scores <f_V(i), f_L(j)> = [[3, -1], [6, -2]]; p_V = (.5, .5), p_L = (.4, .6)
    positive = 0.4 * 3 + 0.1 * -1 + 0.5 * -2  # = 0.1
    negative = 0.5 * 0.4 * 9 + 0.5 * 0.6 * 1 + 0.5 * 0.4 * 36 + 0.5 * 0.6 * 4  # = 10.5
    assert abs(float(mmcl_loss(graph.joint_arrays(), f_v, f_l)) - (-2 * positive + negative)) < 1e-14


@given(st.sampled_from([2, 3, 8]), st.sampled_from(KS), st.integers(0, 2**31 - 1))
def test_minibatch_loss_matches_explicit_double_loop(batch, k, seed):
    rng = np.random.default_rng(seed)
    f_v, f_l = rng.standard_normal((batch, k)), rng.standard_normal((batch, k))
    positive = sum(f_v[b] @ f_l[b] for b in range(batch))
    negative = sum((f_v[b] @ f_l[c]) ** 2 for b in range(batch) for c in range(batch) if b != c)
    expected = -2.0 / batch * positive + negative / (batch * (batch - 1))
    assert rel(mmcl_minibatch_loss(f_v, f_l), expected) < 1e-12


def test_minibatch_loss_uses_only_off_diagonal_negatives():
    """Changing only a positive pair's score by a lot moves the estimator by exactly ``-2/B`` times the change."""
    f_v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    f_l = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    base = float(mmcl_minibatch_loss(f_v, f_l))
    # scale f_V(0) along an axis that is orthogonal to f_L(1) and f_L(2): only <f_V(0), f_L(0)> changes
    bumped = f_v.copy()
    bumped[0, 0] = 5.0
    change = (5.0 - 1.0) * 2.0
    assert abs(float(mmcl_minibatch_loss(bumped, f_l)) - (base - 2.0 / 3.0 * change)) < 1e-12


def random_pair_graph(rng, n, density):
    """A symmetric nonnegative ``A`` (``n x n``, sums to 1) with some zeros and every degree positive."""
    a = rng.random((n, n)) * (rng.random((n, n)) < density)
    a = a + a.T + np.diag(rng.random(n) + 0.01)
    return a / a.sum()


def dense_sscl(a, f):
    w = a.sum(axis=1)
    gram = f @ f.T
    return -2.0 * np.sum(a * gram) + np.sum(np.outer(w, w) * gram**2)


@settings(max_examples=12)  # each new edge count compiles the loss once
@given(st.sampled_from([9, 16]), st.sampled_from([0.2, 1.0]), st.sampled_from(KS), st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_sscl_loss_on_random_pair_graph_matches_dense(n, density, k, seed):
    rng = np.random.default_rng(seed)
    a = random_pair_graph(rng, n, density)
    f = rng.standard_normal((n, k))
    got = float(sscl_loss(pairs_joint(sp.csr_array(a)), f))
    assert rel(got, dense_sscl(a, f)) < 1e-11


@settings(max_examples=12)
@given(graph_arrays(labels=False), st.sampled_from(KS), st.integers(0, 2**31 - 1))
@pytest.mark.slow
def test_sscl_loss_on_text_induced_graph_matches_dense(arrays, k, seed):
    graph, (p, p_v, p_l, _), _, _ = graph_and_encoders(arrays, k, seed)
    a_v = p @ np.diag(1.0 / p_l) @ p.T
    f = np.random.default_rng(seed).standard_normal((graph.n_images, k))
    got = float(sscl_loss(pairs_joint(text_induced_graph(graph)), f))
    assert rel(got, dense_sscl(a_v, f)) < 1e-11


@given(graph_arrays(labels=False))
def test_text_and_image_induced_graphs_match_dense(arrays):
    rows, cols, weights, shape, _, _ = arrays
    graph = CoOccurrence.from_arrays(rows, cols, weights, shape)
    p, p_v, p_l, _ = dense_joint(rows, cols, weights, shape)
    a_v = p @ np.diag(1.0 / p_l) @ p.T
    a_l = p.T @ np.diag(1.0 / p_v) @ p
    got_v, got_l = text_induced_graph(graph), image_induced_graph(graph)
    assert got_v.shape == (shape[0], shape[0]) and got_l.shape == (shape[1], shape[1])
    np.testing.assert_allclose(got_v.toarray(), a_v, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got_l.toarray(), a_l, rtol=1e-12, atol=1e-15)
    # its defining properties, on the dense reference: symmetric, degrees p_V, total mass 1
    np.testing.assert_allclose(a_v.sum(axis=1), p_v, rtol=1e-12)


def test_text_induced_graph_by_sampling_definition():
    """``A_V(i, i')`` is the chance that text ``j ~ p_L`` then two images i.i.d. from ``P(.|j)`` give ``(i, i')``."""
    w = np.array([[2.0, 0.0, 1.0], [1.0, 3.0, 0.0], [0.0, 1.0, 4.0]])
    rows, cols = np.nonzero(w)
    graph = CoOccurrence.from_arrays(rows, cols, w[rows, cols], w.shape)
    p = w / w.sum()
    p_l = p.sum(axis=0)
    expected = np.zeros((3, 3))
    for j in range(3):
        cond = p[:, j] / p_l[j]  # P(i | j)
        for i in range(3):
            for i2 in range(3):
                expected[i, i2] += p_l[j] * cond[i] * cond[i2]
    np.testing.assert_allclose(text_induced_graph(graph).toarray(), expected, rtol=1e-13, atol=1e-16)


@given(graph_arrays(labels=False), st.sampled_from([1, 4]), st.integers(0, 2**31 - 1))
def test_text_induced_matmat_matches_dense(arrays, b, seed):
    rows, cols, weights, shape, _, _ = arrays
    graph = CoOccurrence.from_arrays(rows, cols, weights, shape)
    p, p_v, p_l, pn = dense_joint(rows, cols, weights, shape)
    a_v = p @ np.diag(1.0 / p_l) @ p.T
    abar = a_v / np.sqrt(np.outer(p_v, p_v))
    x = np.random.default_rng(seed).standard_normal((shape[0], b))
    np.testing.assert_allclose(text_induced_matmat(graph, x), abar @ x, rtol=1e-10, atol=1e-12 * np.abs(abar @ x).max())
    np.testing.assert_allclose(
        text_induced_matmat(graph, x, normalized=False), a_v @ x, rtol=1e-10, atol=1e-12 * np.abs(a_v @ x).max()
    )
    # a vector in gives a vector out
    vec = text_induced_matmat(graph, x[:, 0])
    assert vec.shape == (shape[0],)
    np.testing.assert_allclose(vec, (abar @ x)[:, 0], rtol=1e-10, atol=1e-12 * np.abs(abar @ x).max())
    # T3: Abar_V = Pn Pn^T (a second, independent dense route)
    np.testing.assert_allclose(abar, pn @ pn.T, atol=1e-12)


def test_pairs_joint_holds_degrees_and_sorted_rows():
    rng = np.random.default_rng(3)
    a = random_pair_graph(rng, 7, 0.5)
    joint = pairs_joint(sp.csr_array(a))
    np.testing.assert_allclose(np.asarray(joint.p_images), a.sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(joint.p_texts), a.sum(axis=0), rtol=1e-14)
    rows = np.asarray(joint.rows)
    assert np.all(np.diff(rows) >= 0), "segment_sum(indices_are_sorted=True) needs sorted rows"
    dense = np.zeros_like(a)
    dense[rows, np.asarray(joint.cols)] = np.asarray(joint.mass)
    np.testing.assert_allclose(dense, a, rtol=1e-14)


def haochen_batch_loss(z1, z2, mu):
    """HaoChen, Wei, Gaidon & Ma's spectral contrastive batch loss ``D(z1, z2, mu)`` as their released code
    defines it, restated in numpy: rows of norm ``>= sqrt(mu)`` are rescaled to norm ``sqrt(mu)``, then
    ``[-2 mean(z1 * z2) k + mean(off-diagonal (z1 z2^T)^2) B / (B - 1)] / mu``."""
    def clip(z):
        norm = np.linalg.norm(z, axis=1, keepdims=True)
        return np.where(norm < np.sqrt(mu), z, z / norm * np.sqrt(mu))

    z1, z2 = clip(z1), clip(z2)
    b, k = z1.shape
    square = (z1 @ z2.T) ** 2
    part1 = -2.0 * np.mean(z1 * z2) * k
    part2 = np.mean(square - np.diag(np.diag(square))) * b / (b - 1)
    return (part1 + part2) / mu


@pytest.mark.parametrize("mu", [1.0, 4.0, 25.0])
def test_minibatch_estimator_is_haochen_batch_loss_times_mu(mu):
    """docs/theory.md section 2: mu D(z1, z2, mu) equals amf's estimator when no row reaches norm sqrt(mu), and
    differs once their clip fires; amf clips nothing."""
    rng = np.random.default_rng(int(mu))
    z1, z2 = rng.standard_normal((32, 5)), rng.standard_normal((32, 5))
    scale = 0.9 * np.sqrt(mu) / max(np.linalg.norm(z1, axis=1).max(), np.linalg.norm(z2, axis=1).max())
    z1, z2 = z1 * scale, z2 * scale  # every row below sqrt(mu): the clip does not fire
    ours = float(mmcl_minibatch_loss(jnp.asarray(z1), jnp.asarray(z2)))
    assert mu * haochen_batch_loss(z1, z2, mu) == pytest.approx(ours, rel=1e-12)
    big = z1.copy()
    big[0] *= 3.0 * np.sqrt(mu) / np.linalg.norm(big[0])  # one row past the clip
    clipped = mu * haochen_batch_loss(big, z2, mu)
    assert abs(clipped - float(mmcl_minibatch_loss(jnp.asarray(big), jnp.asarray(z2)))) > 1e-6
