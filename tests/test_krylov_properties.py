"""Property tests of `amf.topk_svd` on both back-ends against dense LAPACK (`numpy.linalg.svd`), and the parity
of the two back-ends on the same inputs.

The matrices are the degenerate kinds where a Krylov method breaks down: block-diagonal matrices with repeated
blocks (every value repeated), permuted; low-rank products (``k`` may exceed the rank); the normalized joint
``Pn`` of graphs with many components (``s = 1`` once per component). Each example asserts the values, the
subspace of every cluster of equal values and a converged certificate (`tests/krylov_reference.py`). The jitted
path gets one shape (it compiles per shape, ``k`` and block); the host path any shape.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import amf  # noqa: F401  (float64)
from amf._linalg import projector_distance
from amf.solution import Reason
from amf.solvers.krylov import topk_svd
from tests.helpers import dense_joint
from tests.krylov_reference import assert_matches_lapack, clusters

# The whole module is slow: hypothesis examples and jitted compilations (~10 s); the fast subset's Krylov smoke is
# test_krylov.py (jitted), test_krylov_host.py and test_krylov_robust.py's host rows.
pytestmark = pytest.mark.slow

JIT_SHAPE = (60, 48)


def _permuted(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return a[rng.permutation(a.shape[0])][:, rng.permutation(a.shape[1])]


def repeated_blocks(seed: int, copies: int, size: int, shape=None) -> np.ndarray:
    """``P_1 kron(I_copies, B) P_2`` (every singular value of ``B`` ``copies`` times), zero-padded to ``shape``."""
    rng = np.random.default_rng(seed)
    a = np.kron(np.eye(copies), rng.standard_normal((size, size)))
    if shape is not None:
        a = np.pad(a, [(0, shape[0] - a.shape[0]), (0, shape[1] - a.shape[1])])
    return _permuted(a, rng)


def low_rank(seed: int, rank: int, shape) -> np.ndarray:
    """``X Y^T`` of rank ``rank``."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((shape[0], rank)) @ rng.standard_normal((shape[1], rank)).T


def components(seed: int, count: int, shape) -> np.ndarray:
    """``Pn`` of a random bipartite graph with ``count`` connected components (each a random set of images and
    texts, all pairs inside joined with weights spanning two orders of magnitude)."""
    rng = np.random.default_rng(seed)
    images = np.concatenate([np.arange(count), rng.integers(0, count, shape[0] - count)])
    texts = np.concatenate([np.arange(count), rng.integers(0, count, shape[1] - count)])
    rows, cols = np.nonzero(images[:, None] == texts[None, :])
    weights = 10.0 ** rng.uniform(-1, 1, len(rows))
    return _permuted(dense_joint(rows, cols, weights, shape)[3], rng)


@st.composite
def degenerate(draw, shape=None):
    """``(name, matrix)`` of one of the three kinds; ``shape`` fixed or drawn (both sides 40..70)."""
    shape = shape or (draw(st.integers(40, 70)), draw(st.integers(40, 70)))
    seed = draw(st.integers(0, 2**31))
    kind = draw(st.sampled_from(["blocks", "low rank", "components"]))
    if kind == "blocks":
        size = draw(st.integers(1, 5))
        copies = draw(st.integers(2, min(shape) // size))
        return kind, repeated_blocks(seed, copies, size, shape)
    if kind == "low rank":
        return kind, low_rank(seed, draw(st.integers(1, 8)), shape)
    return kind, components(seed, draw(st.integers(2, min(shape))), shape)


@settings(max_examples=12, deadline=None)
@given(case=degenerate(), k=st.integers(1, 12), seed=st.integers(0, 3))
def test_host_path_matches_lapack(case, k, seed):
    _, a = case
    result = topk_svd(sp.csr_array(a), k, key=jax.random.key(seed))
    assert_matches_lapack(a, result, k)


@settings(max_examples=4, deadline=None)
@given(case=degenerate(JIT_SHAPE), k=st.sampled_from([3, 9]), seed=st.integers(0, 3))
def test_jitted_path_matches_lapack(case, k, seed):
    _, a = case
    result = topk_svd(a, k, key=jax.random.key(seed))
    assert_matches_lapack(a, result, k)


@pytest.mark.slow
@settings(max_examples=16, deadline=None)
@given(case=degenerate(JIT_SHAPE), k=st.sampled_from([3, 9]), seed=st.integers(0, 3),
       path=st.sampled_from(["host", "jitted"]))
def test_both_paths_match_lapack_longer(case, k, seed, path):
    _, a = case
    result = topk_svd(sp.csr_array(a) if path == "host" else a, k, key=jax.random.key(seed))
    assert_matches_lapack(a, result, k)


def test_a_graph_with_hundreds_of_components_finds_every_copy_of_one():
    """``s = 1`` 300 times: ``k = 40`` copies found on the host path (block reruns once it fills a block)."""
    a = components(5, 300, (500, 420))
    result = topk_svd(sp.csr_array(a), 40)
    assert np.allclose(result.s, 1.0, rtol=0, atol=1e-12)
    assert_matches_lapack(a, result, 40)


PARITY = {
    "generic": np.random.default_rng(1).standard_normal((90, 70)),
    "repeated": repeated_blocks(2, 12, 5, (90, 70)),
    "low rank": low_rank(3, 3, (90, 70)),
    "components": components(4, 20, (90, 70)),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_the_two_back_ends_agree(name):
    """The same matrix and key on the host path (scipy CSR) and the jitted path (dense: one compilation for all
    four; the jagged sparse layout is the scale tests'): the same values, the same subspace for every cluster of
    equal values, the same reason."""
    a, k = PARITY[name], 6
    host = topk_svd(sp.csr_array(a), k, key=jax.random.key(7))
    jitted = topk_svd(a, k, key=jax.random.key(7))
    assert host.certificate.reason == jitted.certificate.reason == Reason.CONVERGED
    scale = float(host.s[0])
    np.testing.assert_allclose(host.s, jitted.s, rtol=0, atol=1e-9 * scale)
    reference = np.linalg.svd(a, compute_uv=False)
    for start, stop in clusters(np.concatenate([reference, np.zeros(max(a.shape))]), k):
        if stop <= k:  # a whole cluster: one subspace (a cut one has no unique part to compare)
            for mine, theirs in ((host.u, jitted.u), (host.vt.T, jitted.vt.T)):
                assert projector_distance(mine[:, start:stop], theirs[:, start:stop]) < 1e-6, (start, stop)


def test_the_two_back_ends_agree_on_running_out_of_cycles():
    """One cycle is not enough for a dense spectrum at tol 1e-12: both report the iteration limit."""
    rng = np.random.default_rng(8)
    u, _ = np.linalg.qr(rng.standard_normal((90, 90)))
    v, _ = np.linalg.qr(rng.standard_normal((70, 70)))
    a = (u[:, :70] * np.linspace(1.0, 0.9, 70)) @ v.T  # the parity shape and k: the same compilation
    host = topk_svd(sp.csr_array(a), 6, max_iterations=1, tol=1e-12)
    jitted = topk_svd(a, 6, max_iterations=1, tol=1e-12)
    assert host.certificate.reason == jitted.certificate.reason == Reason.ITERATION_LIMIT
