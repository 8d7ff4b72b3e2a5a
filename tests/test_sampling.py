"""Pair sampling and finite-sample graphs: the sampler draws from P, empirical graphs count n pairs with aligned
labels and converge to the joint, and the probe-error curve reaches the population minimizer's error."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import amf
from amf._random import named_key
from amf.errors import InputError
from amf.losses import sample_pairs
from amf.experiments.empirical import empirical_counts, empirical_graph, population_probe_error, probe_error_curve
from amf.solvers.sampler import EdgeSampler

jax.config.update("jax_enable_x64", True)


@pytest.fixture(scope="module")
def graph():
    """Two noisy classes on 30 images x 20 texts, every pair an edge with a random weight."""
    rng = np.random.default_rng(0)
    n_v, n_l = 30, 20
    y_v, y_l = np.arange(n_v) % 2, np.arange(n_l) % 2
    rows, cols = np.divmod(np.arange(n_v * n_l), n_l)
    weights = rng.random(n_v * n_l) * np.where(y_v[rows] == y_l[cols], 1.0, 0.15)
    weights[rng.random(n_v * n_l) < 0.5] = 0.0
    weights[np.arange(n_v) * n_l + np.arange(n_v) % n_l] += 0.5  # every node keeps an edge
    weights *= np.repeat(rng.pareto(2.0, n_v) + 0.2, n_l)  # uneven image degrees
    return amf.CoOccurrence.from_arrays(rows, cols, weights, (n_v, n_l), y_v, y_l)


@pytest.mark.slow
def test_sampler_matches_sample_pairs(graph):
    joint = graph.joint_arrays()
    key = named_key(0, "pairs")
    i, j = EdgeSampler.from_joint(joint).sample(key, 257)
    i_ref, j_ref = sample_pairs(key, joint, 257)
    np.testing.assert_array_equal(i, i_ref)
    np.testing.assert_array_equal(j, j_ref)


def test_empirical_graph_counts_and_index_maps(graph):
    sample = empirical_graph(graph, 500, seed=3)
    g = sample.graph
    assert g._weights.sum() == pytest.approx(500) and sample.n_pairs == 500
    np.testing.assert_array_equal(g.image_labels, graph.image_labels[sample.image_index])
    np.testing.assert_array_equal(g.text_labels, graph.text_labels[sample.text_index])
    assert g.dropped == (graph.n_images - len(sample.image_index), graph.n_texts - len(sample.text_index))
    assert np.all(np.diff(sample.image_index) > 0) and np.all(g.p_images > 0)
    # every empirical edge is a population edge, at the mapped indices
    coo = g.joint.tocoo()
    population = graph.joint.toarray()
    assert np.all(population[sample.image_index[coo.row], sample.text_index[coo.col]] > 0)
    again = empirical_graph(graph, 500, seed=3)  # reproducible from the seed
    np.testing.assert_array_equal(again.graph.joint.toarray(), g.joint.toarray())


@pytest.mark.slow
def test_empirical_joint_converges_to_population(graph):
    mass = graph.joint.tocoo().data
    distances = []
    for n in (10**3, 10**5, 10**6):
        counts = empirical_counts(graph, n, seed=1)
        assert counts.sum() == n
        distances.append(0.5 * np.abs(counts / n - mass).sum())  # total variation
    # E TV ~ sum_e sqrt(P_e / (2 pi n)): shrinks like n^{-1/2}
    expected = np.sum(np.sqrt(mass / (2 * np.pi * 10**6)))
    assert distances[0] > distances[1] > distances[2]
    assert distances[2] <= 2 * expected


def test_drop_isolated_false_rejects_undrawn_nodes(graph):
    with pytest.raises(InputError):
        empirical_graph(graph, 5, seed=0, drop_isolated=False)
    with pytest.raises(InputError):
        empirical_graph(graph, 0, seed=0)


def test_absent_images_count_as_errors(graph):
    present = np.arange(0, graph.n_images, 2)
    f = np.eye(2)[graph.image_labels[present]]  # a perfect encoder on the present images
    out = population_probe_error(graph, f, present)
    missing = graph.p_images[1::2].sum()
    assert out["missing_mass"] == pytest.approx(missing)
    assert out["error_present"] == pytest.approx(0.0)
    assert out["error"] == pytest.approx(missing)


@pytest.mark.slow
def test_probe_error_curve(graph):
    rows = probe_error_curve(graph, 2, [20, 200000], seed=0)
    small, large = rows
    assert large["missing_mass"] == 0.0 and large["images_kept"] == graph.n_images
    assert large["error"] == pytest.approx(large["optimal_error"], abs=0.02)
    assert small["images_kept"] < graph.n_images and small["missing_mass"] > 0
    for row in rows:
        bound = row["error_present"] * (1 - row["missing_mass"]) + row["missing_mass"]
        assert row["error"] == pytest.approx(bound, abs=1e-12)
    with pytest.raises(InputError):
        probe_error_curve(amf.CoOccurrence.from_arrays([0, 1], [0, 1], [1.0, 1.0], (2, 2)), 1, [10], seed=0)
