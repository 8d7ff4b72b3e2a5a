"""The CLIP-guided resampling edits (`amf.edits`) and their simulator (`amf.experiments.clip_resampling`),
docs/theory.md section 5: each edit does exactly what it says on hand-built graphs, the baseline trains to the
SSCL optimum, AddNewPositive opens the gap of a poorly connected augmentation graph and DropFalsePositive
removes the cross-class positives."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

import synthetic
from amf import edits
from amf.experiments import clip_resampling as sim_rs
from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.text_induced import text_induced_graph


def dense_negatives(negatives) -> np.ndarray:
    """``N`` as a dense array (toy sizes)."""
    n = negatives.n_nodes
    low = np.asarray(negatives.left).T @ np.asarray(negatives.right)
    sparse = sp.coo_array((np.asarray(negatives.weights), (np.asarray(negatives.rows), np.asarray(negatives.cols))),
                          shape=(n, n)).toarray()
    return low + sparse


@pytest.fixture
def two_sources():
    """4 views, views {0, 1} of source 0 and {2, 3} of source 1: ``A`` = two 2x2 blocks of 1/8."""
    a = sp.csr_array(np.kron(np.eye(2), np.ones((2, 2))) / 8.0)
    sim = np.array([[1.0, 0.9, 0.5, 0.2],
                    [0.9, 1.0, 0.1, 0.3],
                    [0.5, 0.1, 1.0, 0.7],
                    [0.2, 0.3, 0.7, 1.0]])
    return a, sim


def augmentation_graph(strength, confusion, seed=0, r=2, n=4, v=2):
    edges = synthetic.augmentation_model(n_classes=r, images_per_class=n, views_per_image=v, strength=strength,
                                         confusion=confusion, seed=seed)
    graph = CoOccurrence.from_edges(edges)
    return text_induced_graph(graph), graph.image_labels, np.arange(r * n * v) // v


def test_removed_share_exact_fractions_and_ties():
    keys = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    masses = np.array([0.1, 0.2, 0.3, 0.1, 0.3])
    # lowest keys first: 1.0 (0.2) goes whole, then the tied level 2.0 (0.4) shares the remaining 0.1
    share = edits._removed_share(keys, masses, 0.3)
    np.testing.assert_allclose(share, [0.0, 1.0, 0.25, 0.25, 0.0], atol=1e-15)
    assert np.sum(share * masses) == pytest.approx(0.3 * masses.sum(), abs=1e-15)
    two = edits._removed_share(np.stack([keys, -keys]), np.stack([masses, masses]), 0.3)
    np.testing.assert_allclose(two[0], share, atol=1e-15)
    np.testing.assert_allclose(two[1], [0.0, 0.0, 0.0, 0.0, 1.0], atol=1e-15)  # the top key holds exactly 0.3
    np.testing.assert_array_equal(edits._removed_share(keys, masses, 0.0), 0.0)


def test_add_new_positive_exact_edges(two_sources):
    a, sim = two_sources
    w = np.full(4, 0.25)
    edit = edits.add_new_positive(a, sim, weight=0.5)
    # nearest other view: 0 -> 1, 1 -> 0, 2 -> 3, 3 -> 2 (already positives); with groups: 0 -> 2, 1 -> 3,
    # 2 -> 0, 3 -> 1
    m = np.zeros((4, 4))
    m[[0, 1, 2, 3], [1, 0, 3, 2]] = w
    np.testing.assert_allclose(edit.positives.toarray(), 0.5 * a.toarray() + 0.25 * (m + m.T), atol=1e-15)
    grouped = edits.add_new_positive(a, sim, weight=0.5, groups=[0, 0, 1, 1])
    m = np.zeros((4, 4))
    m[[0, 1, 2, 3], [2, 3, 0, 1]] = w
    expected = 0.5 * a.toarray() + 0.25 * (m + m.T)
    np.testing.assert_allclose(grouped.positives.toarray(), expected, atol=1e-15)
    assert grouped.sscl and grouped.negatives.is_product_of(grouped.degrees)
    dense = grouped.positives.toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert dense.sum() == pytest.approx(1.0, abs=1e-15)


def test_add_new_positive_splits_ties(two_sources):
    a, _ = two_sources
    sim = np.ones((4, 4))  # every other view ties: the extra positive is spread equally
    edit = edits.add_new_positive(a, sim, weight=0.3, groups=[0, 0, 1, 1])
    m = np.kron(1.0 - np.eye(2), np.ones((2, 2))) * 0.25 / 2
    np.testing.assert_allclose(edit.positives.toarray(), 0.7 * a.toarray() + 0.15 * (m + m.T), atol=1e-15)


def test_drop_false_positive_exact(two_sources):
    a, sim = two_sources
    a = sp.csr_array(0.5 * a.toarray() + 0.5 * np.full((4, 4), 1 / 16))  # every pair is a positive
    dense = a.toarray()
    # unordered pairs by similarity: {1,2} 0.1, {0,3} 0.2, {1,3} 0.3 ... off-diagonal pair mass 2 A = 1/16
    edit = edits.drop_false_positive(a, sim, fraction=1.5 / 16)  # {1,2} goes whole, half of {0,3}
    kept = dense.copy()
    kept[1, 2] = kept[2, 1] = 0.0
    kept[0, 3] = kept[3, 0] = dense[0, 3] / 2
    np.testing.assert_allclose(edit.positives.toarray(), kept / kept.sum(), atol=1e-15)
    assert kept.sum() == pytest.approx(1 - 1.5 / 16, abs=1e-15)
    assert edit.stats["removed_mass"] == pytest.approx(1.5 / 16, abs=1e-15)
    assert (edit.stats["pairs_removed"], edit.stats["pairs_thinned"]) == (1, 1)
    out = edit.positives.toarray()
    np.testing.assert_array_equal(out, out.T)
    assert edit.sscl and edit.negatives.is_product_of(edit.degrees)


@pytest.mark.parametrize("method", ["drop_false_negative", "drop_easy_negative"])
def test_drop_negatives_rows(method):
    a, _, groups = augmentation_graph(0.3, 0.1)
    n = a.shape[0]
    rng = np.random.default_rng(0)
    source_sim = rng.random((n // 2, n // 2))
    sim = (source_sim + source_sim.T)[np.ix_(groups, groups)]
    fraction = 0.1
    edit = getattr(edits, method)(a, sim, fraction=fraction, groups=groups)
    assert not edit.sscl and edit.positives is not None
    np.testing.assert_allclose(edit.positives.toarray(), a.toarray(), atol=0)  # A unchanged
    w = edit.degrees
    big = dense_negatives(edit.negatives)
    assert big.min() >= -1e-15  # negatives stay >= 0
    assert big.sum() == pytest.approx(1.0, abs=1e-13)  # rescaled to total mass 1
    removed = (np.outer(w, w) - big / edit.stats["rescale"])
    same_group = groups[:, None] == groups[None, :]
    np.testing.assert_allclose(removed[same_group], 0.0, atol=1e-15)  # own-source pairs never dropped
    eligible_mass = (~same_group * w[None, :]).sum(axis=1)
    np.testing.assert_allclose(removed.sum(axis=1), fraction * w * eligible_mass, rtol=1e-12)
    for x in range(0, n, 7):  # the removed views are the most (least) similar eligible ones
        cut = removed[x] > 1e-15
        others = ~same_group[x] & ~cut
        if method == "drop_false_negative":
            assert sim[x, cut].min() >= sim[x, others].max()
        else:
            assert sim[x, cut].max() <= sim[x, others].min()


def test_add_new_positive_opens_the_gap_of_a_poorly_connected_graph():
    r, n, v = 2, 5, 2
    a, labels, groups = augmentation_graph(0.0, 0.0, r=r, n=n, v=v)  # every source its own component
    assert 1.0 - edits.spectrum(a)[r] == pytest.approx(0.0, abs=1e-12)
    # a CLIP that orders each class's sources on a line and puts other classes far away: the nearest other
    # source is a neighbour on the line, so the new positives chain each class together
    src = np.arange(r * n)
    source_sim = -np.abs(src[:, None] - src[None, :]) - 100.0 * (src[:, None] // n != src[None, :] // n)
    sim = source_sim[np.ix_(groups, groups)].astype(float)
    edit = edits.add_new_positive(a, sim, weight=0.5, groups=groups)
    assert 1.0 - edits.spectrum(edit.positives)[r] > 0.01
    assert edits.positive_phi(edit.positives, labels) == 0.0  # consistent CLIP: no cross-class positive added


def test_drop_false_positive_lowers_phi():
    a, labels, groups = augmentation_graph(0.2, 0.3, r=3, n=3)
    phi = edits.positive_phi(a, labels)
    assert phi > 0.05
    sim = (labels[:, None] == labels[None, :]).astype(float)  # lowest similarity = the cross-class pairs
    half = edits.drop_false_positive(a, sim, fraction=phi / 2)
    assert edits.positive_phi(half.positives, labels) == pytest.approx((phi / 2) / (1 - phi / 2), rel=1e-10)
    whole = edits.drop_false_positive(a, sim, fraction=phi)
    assert edits.positive_phi(whole.positives, labels) == pytest.approx(0.0, abs=1e-12)


def test_validation(two_sources):
    a, sim = two_sources
    with pytest.raises(InputError, match="fraction"):
        edits.drop_false_positive(a, sim, fraction=1.0)
    with pytest.raises(InputError, match="weight"):
        edits.add_new_positive(a, sim, weight=0.0)
    with pytest.raises(InputError, match="similarity"):
        edits.drop_easy_negative(a, sim[:3, :3])
    with pytest.raises(InputError, match="symmetric"):
        edits.baseline(sp.csr_array(np.triu(a.toarray()) / np.triu(a.toarray()).sum()))
    with pytest.raises(InputError, match="no candidate"):
        edits.add_new_positive(a, sim, groups=[0, 0, 0, 0])
    with pytest.raises(InputError, match="unknown method"):
        edits.edit("nope", a, sim)


@pytest.mark.slow
def test_simulator_and_baseline_reaches_sscl_optimum():
    sim = sim_rs.simulator(n_classes=2, images_per_class=6, views_per_image=2, strength=0.2, confusion=0.1,
                       clip_edges_per_image=6, seed=0)
    assert sim.similarity.shape == (24, 24)
    np.testing.assert_array_equal(sim.similarity, sim.similarity.T)
    assert np.all(sim.similarity[sim.sources[:, None] == sim.sources[None, :]] == sim.similarity[0, 0])
    k = 2
    objective = edits.baseline(sim.positives)
    row = sim_rs.evaluate(sim, objective, k)
    _, loss_min = edits.exact_optimum(sim.positives, k)
    assert row["converged"] and row["loss_min"] == pytest.approx(loss_min, rel=1e-12)
    assert row["loss"] == pytest.approx(loss_min, rel=1e-6)
    assert row["probe_error"] == row["probe_error_exact"]
    assert row["negatives_same_class"] == pytest.approx(
        sum(sim.p[sim.labels == c].sum() ** 2 for c in range(2)), rel=1e-12)
    negative = sim_rs.evaluate(sim, edits.drop_easy_negative(sim.positives, sim.similarity, groups=sim.sources), k,
                           restarts=2)
    assert negative["bound"] is None and negative["probe_error_exact"] is None
    assert len(negative["restart_losses"]) == 2 and negative["loss"] == min(negative["restart_losses"])
    json.dumps([row, negative], allow_nan=False)


def test_summarize_pairs_by_seed():
    rows = [{"method": m, "k": 2, "seed": s, "probe_error": e, "phi": 0.1, "spectral_gap": 0.2, "converged": True}
            for m, s, e in [("baseline", 0, 0.3), ("baseline", 1, 0.1), ("add_new_positive", 0, 0.2),
                            ("add_new_positive", 1, 0.2)]]
    summary = {s["method"]: s for s in sim_rs.summarize(rows)}
    assert summary["add_new_positive"]["delta_mean"] == pytest.approx(0.0)
    assert (summary["add_new_positive"]["better_than_baseline"], summary["add_new_positive"]["worse_than_baseline"]) \
        == (1, 1)


# ---- the resampling experiment: views ranked by CLIP, NT-Xent rows, verdicts from the seeds ----------------------


def test_clip_view_noise_breaks_the_ties_of_one_source_and_zero_keeps_them():
    tied = sim_rs.simulator(n_classes=2, images_per_class=4, views_per_image=3, clip_edges_per_image=4, seed=0)
    noisy = sim_rs.simulator(n_classes=2, images_per_class=4, views_per_image=3, clip_edges_per_image=4,
                             clip_view_noise=0.3, seed=0)
    same = noisy.sources[:, None] == noisy.sources[None, :]
    off = same & ~np.eye(len(noisy.sources), dtype=bool)
    assert np.all(tied.similarity[off] == 1.0)
    assert np.all(noisy.similarity[off] < 1.0) and len(np.unique(noisy.similarity[off])) == off.sum() // 2
    np.testing.assert_allclose(noisy.similarity, noisy.clip_views @ noisy.clip_views.T, atol=1e-15)
    np.testing.assert_allclose(np.diag(noisy.similarity), 1.0, atol=0)
    with pytest.raises(InputError, match="clip_view_noise"):
        sim_rs.simulator(n_classes=2, images_per_class=4, clip_view_noise=-0.1)


@pytest.mark.parametrize("deltas, paper, agrees", [
    ([-3.0, -2.0, -4.0, -1.0, -2.5], 1.1, True),  # error down in every seed, the paper's accuracy up
    ([3.0, 2.0, 4.0, 1.0, 2.5], 1.1, False),  # error up in every seed
    ([-3.0, 2.0, -4.0, 1.0, 2.5], 1.1, "undetermined"),  # the seeds split: the interval holds 0
    ([-3.0, -2.0, -4.0, -1.0], 1.1, "undetermined"),  # one sign, but fewer than MIN_SEEDS seeds
    ([-3.0, -2.0, -4.0, -1.0, 6.0], 1.1, "undetermined"),  # 4 of 5 better, yet the interval holds 0
])
def test_verdict_needs_seeds_that_agree(deltas, paper, agrees):
    from amf.experiments import resampling

    v = resampling.verdict(deltas, paper)
    assert v["agrees"] == agrees
    n = len(deltas)
    half = __import__("scipy.stats").stats.t.ppf(0.975, n - 1) * np.std(deltas, ddof=1) / np.sqrt(n)
    assert v["interval"] == pytest.approx([np.mean(deltas) - half, np.mean(deltas) + half], rel=1e-12)
    assert (v["better_in"], v["worse_in"]) == (sum(d < 0 for d in deltas), sum(d > 0 for d in deltas))


def test_summary_marks_split_seeds_undetermined_and_notes_the_released_drop_false_positive():
    from amf.experiments import resampling

    def point(seed, base, **errors):
        methods = {"baseline": {"probe_error": base}, **{m: {"probe_error": e} for m, e in errors.items()}}
        return {"params": {"objective": "ntxent"}, "objective": "ntxent", "k": 4, "seed": seed,
                "methods": methods, "delta": {m: 100 * (e - base) for m, e in errors.items()}}

    split = [0.01, -0.01, 0.02, -0.02, 0.01]
    points = [point(s, 0.3, drop_easy_negative=0.3 + split[s], add_new_positive=0.2 - 0.01 * s,
                    drop_false_positive_released=0.3) for s in range(5)]
    extra = resampling.summarize(None, points)
    entries = {e["method"]: e for e in extra["comparison_with_paper"]}
    assert entries["drop_easy_negative"]["agrees"] == "undetermined"
    assert entries["add_new_positive"]["agrees"] is True
    assert entries["drop_false_positive_released"]["agrees"] == "undetermined"  # no change at all
    assert "plain NT-Xent" in entries["drop_false_positive_released"]["note"]
    assert all(e["paper_runs"] == 1 and e["paper_spread"] is None for e in entries.values())
    assert all(e["objective"] == "ntxent" for e in entries.values())


@pytest.mark.slow  # NT-Xent trainings (seconds)
def test_train_ntxent_row_and_matched_keys():
    sim = sim_rs.simulator(n_classes=2, images_per_class=6, views_per_image=2, clip_edges_per_image=4,
                           clip_view_noise=0.3, seed=0)
    kwargs = dict(batch=6, tau=0.5, steps=100, lr=0.2, seed=3)
    row = sim_rs.train_ntxent(sim, "baseline", 2, **kwargs)
    again = sim_rs.train_ntxent(sim, "baseline", 2, **kwargs)
    assert row["curve"] == again["curve"] and row["probe_error"] == again["probe_error"]  # one seed, one run
    assert row["passed"] and 0.0 <= row["probe_error"] <= 1.0 and len(row["curve"]) == 10
    assert row["curve"][-1] < row["curve"][0]  # it trains
    json.dumps(row, allow_nan=False)
    rerun = sim_rs.train_ntxent(sim, "drop_false_positive_released", 2, **kwargs)  # plain NT-Xent, fresh keys
    assert rerun["curve"] != row["curve"]
    with pytest.raises(InputError, match="batch"):
        sim_rs.train_ntxent(sim, "baseline", 2, **{**kwargs, "batch": 13})
    with pytest.raises(InputError, match="at least 1"):
        sim_rs.train_ntxent(sim, "drop_false_negative", 2, **kwargs)  # int(0.05 x 12 views) = 0
