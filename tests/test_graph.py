"""The co-occurrence graph: validation of every invalid input, lossless files, sparse marginals and Pn."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given

from amf import CoOccurrence, InputError
from tests.strategies import graph_arrays

ROWS, COLS, WEIGHTS = np.array([0, 1, 2, 2]), np.array([0, 1, 0, 1]), np.array([1.0, 2.0, 3.0, 4.0])


def build(**overrides):
    args = dict(rows=ROWS, cols=COLS, weights=WEIGHTS, shape=(3, 2), image_labels=None, text_labels=None)
    args.update(overrides)
    return CoOccurrence.from_arrays(**args)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(rows=ROWS[:3]), "same length"),
        (dict(rows=np.array([0, 1, 3, 2])), "rows index 3 out of range"),
        (dict(cols=np.array([0, -1, 0, 1])), "cols index -1 out of range"),
        (dict(weights=np.array([1.0, -2.0, 3.0, 4.0])), "weights must be >= 0"),
        (dict(weights=np.array([1.0, np.nan, 3.0, 4.0])), "weights must be finite"),
        (dict(weights=np.array([1.0, np.inf, 3.0, 4.0])), "weights must be finite"),
        (dict(weights=np.zeros(4)), "sum to zero"),
        (dict(shape=(4, 2)), "1 image\\(s\\) have no edge \\(first: image 3\\)"),
        (dict(shape=(3, 3)), "1 text\\(s\\) have no edge \\(first: text 2\\)"),
        (dict(weights=np.array([1.0, 0.0, 3.0, 4.0])), "image 1"),
        (dict(image_labels=np.array([0, 1])), "image_labels must have length N_V = 3"),
        (dict(text_labels=np.array([0, 1, 1])), "text_labels must have length N_L = 2"),
        (dict(image_labels=np.array([0, -1, 1])), "image_labels must be >= 0"),
        (dict(text_labels=np.array([0, -2])), "text_labels must be >= 0, or -1"),
        (dict(shape=(3,)), "shape must be two integers"),
        (dict(shape=(0, 2)), "shape must be positive"),
        (dict(rows=np.array([0.0, 1.0, 2.0, 2.0])), "rows must hold integers"),
    ],
)
def test_invalid_input_gets_one_line_error(overrides, message):
    with pytest.raises(InputError, match=message) as info:
        build(**overrides)
    assert "\n" not in str(info.value)


def test_duplicates_add_up_and_joint_is_normalized():
    g = CoOccurrence.from_arrays([0, 0, 1], [0, 0, 1], [1.0, 2.0, 1.0], (2, 2))
    np.testing.assert_allclose(g.joint.toarray(), [[0.75, 0.0], [0.0, 0.25]])
    assert g.nnz == 2


def test_drop_isolated_removes_nodes_and_their_labels():
    g = build(shape=(5, 3), image_labels=np.array([0, 1, 2, 3, 4]), text_labels=np.array([0, 1, 2]),
              drop_isolated=True)
    assert g.shape == (3, 2) and g.dropped == (2, 1)
    np.testing.assert_array_equal(g.image_labels, [0, 1, 2])
    np.testing.assert_array_equal(g.text_labels, [0, 1])


@given(graph_arrays())
def test_marginals_and_normalized_match_dense(arrays):
    rows, cols, weights, shape, image_labels, text_labels = arrays
    g = CoOccurrence.from_arrays(rows, cols, weights, shape, image_labels, text_labels)
    dense = np.zeros(shape)
    np.add.at(dense, (rows, cols), weights)
    p = dense / dense.sum()
    p_v, p_l = p.sum(1), p.sum(0)
    np.testing.assert_allclose(g.p_images, p_v, rtol=1e-13)
    np.testing.assert_allclose(g.p_texts, p_l, rtol=1e-13)
    np.testing.assert_allclose(g.normalized_dense(), p / np.sqrt(np.outer(p_v, p_l)), rtol=1e-12, atol=1e-15)


def test_normalized_operator_matches_the_sparse_matrix():
    g = build(image_labels=None)
    x, y = np.random.default_rng(0).normal(size=(2, 3)), np.random.default_rng(1).normal(size=(3, 2))
    op = g.normalized_operator()
    np.testing.assert_allclose(np.asarray(op.matmat(x)), g.normalized @ x, rtol=1e-13)
    np.testing.assert_allclose(np.asarray(op.rmatmat(y)), g.normalized.T @ y, rtol=1e-13)


def test_save_load_roundtrip_is_lossless(tmp_path):
    g = build(image_labels=np.array([0, 1, 1]), text_labels=np.array([0, -1]))
    g.save(tmp_path / "g.npz")
    h = CoOccurrence.load(tmp_path / "g.npz")
    assert (g.joint != h.joint).nnz == 0
    np.testing.assert_array_equal(h.image_labels, g.image_labels)
    np.testing.assert_array_equal(h.text_labels, g.text_labels)
    assert [p.name for p in tmp_path.iterdir()] == ["g.npz"]  # no temporary file left behind


def test_reads_scipy_save_npz(tmp_path):
    matrix = sp.csr_array((WEIGHTS, (ROWS, COLS)), shape=(3, 2))
    sp.save_npz(tmp_path / "m.npz", matrix)
    g = CoOccurrence.load(tmp_path / "m.npz")
    np.testing.assert_allclose(g.joint.toarray(), matrix.toarray() / WEIGHTS.sum())
    assert g.image_labels is None


@pytest.mark.parametrize(
    "arrays, message",
    [
        (dict(rows=ROWS, cols=COLS, shape=np.array([3, 2])), "no 'weights' array"),
        (dict(rows=ROWS, cols=COLS, weights=WEIGHTS), "no 'shape' array"),
        (dict(rows=ROWS, cols=COLS, weights=WEIGHTS, shape=np.array([3, 2]), image_labels=np.zeros(2, int)),
         "image_labels must have length"),
    ],
)
def test_bad_files(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=message):
        CoOccurrence.load(tmp_path / "bad.npz")


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="cannot read graph file"):
        CoOccurrence.load(tmp_path / "junk.npz")
    with pytest.raises(InputError, match="not found"):
        CoOccurrence.load(tmp_path / "absent.npz")


def test_components_counted_on_the_bipartite_graph():
    # two blocks {images 0,1; text 0} and {image 2; text 1}
    g = CoOccurrence.from_arrays([0, 1, 2], [0, 0, 1], [1.0, 1.0, 1.0], (3, 2))
    assert g.n_components == 2


@pytest.mark.parametrize("seed", range(5))
def test_components_match_the_symmetric_adjacency(seed):
    # sparse random graphs with many components; reference: undirected components of [[0, W], [W^T, 0]]
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(seed)
    n_v, n_l, n_e = 60, 45, 50
    rows = np.concatenate([np.arange(n_v), rng.integers(0, n_v, n_e)])
    cols = np.concatenate([rng.integers(0, n_l, n_v), rng.integers(0, n_l, n_e)])
    g = CoOccurrence.from_arrays(rows, cols, np.ones(rows.size), (n_v, n_l), drop_isolated=True)
    w = sp.csr_array(g.joint)
    expected = connected_components(sp.block_array([[None, w], [w.T, None]]), directed=False)[0]
    assert expected > 1 and g.n_components == expected
