"""Acceptance: `amf verify` matches an independent dense float64 computation of every report value, and every
check passes on every graph the strategy can draw; the theory itself (docs/theory.md T1–T4, §4 closed forms) holds in
the test's own numpy; and every check can fail when the solution or the graph is wrong.

Reference values are computed here from the raw edge arrays only: ``W`` (duplicates added), ``P = W / W.sum()``,
``p_V``, ``p_L``, ``Pn``, ``np.linalg.svd(Pn)``, ``A_V = P D_L^{-1} P^T``, ``np.linalg.eigh``, a weighted
least-squares probe by ``np.linalg.lstsq`` on ``sqrt(p_V)``-weighted rows, and scipy's ``connected_components`` on
the bipartite adjacency.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, event, given, note
from hypothesis.errors import InvalidArgument
from hypothesis import strategies as st

import amf.downstream
import synthetic
from amf import CoOccurrence, mmcl_loss, sscl_loss
from amf.report import build_report, verify
from amf.solve import solve
from amf.text_induced import pairs_joint, text_induced_graph
from amf.text_induced import text_induced_matmat as _matmat
from tests.helpers import ZERO_S, Dense, close, dense_mmcl
from tests.strategies import graph_arrays

ALL_CHECKS = {
    "solver_certificate",
    "top_singular_triplets",
    "factorization_identity",
    "eckart_young_loss",
    "eckart_young_subspace",
    "eckart_young_perturbations",
    "eckart_young_random_factorizations",
    "unit_singular_pair",
    "top_singular_value",
    "top_singular_vector",
    "unit_multiplicity_components",
    "full_rank_ratio",
    "text_induced_degrees",
    "text_induced_normalized",
    "text_induced_eigenvalues",
    "sscl_same_subspace",
    "sscl_optimum_loss",
    "profile_identity",
    "probe_invariance",
    "phi_le_2alpha",
    "bound_rigorous_phi",
    "bound_rigorous_alpha",
}
"""Every check a dense float64 report must list, as run or skipped."""

def record(message: str, *, as_event: bool = False) -> None:
    """`hypothesis.note` / `event` inside a property test; nothing in an ordinary test."""
    try:
        (event if as_event else note)(message)
    except InvalidArgument:
        pass


def from_arrays(arrays):
    rows, cols, weights, shape, image_labels, text_labels = arrays
    return (
        CoOccurrence.from_arrays(rows, cols, weights, shape, image_labels, text_labels),
        Dense(rows, cols, weights, shape, image_labels, text_labels),
    )


# ---- the acceptance property ------------------------------------------------------------------------------


def assert_report_matches_dense(report, solution, d: Dense, k: int):
    n_v, n_l = d.shape
    assert report["k"] == k and report["solver"] == "exact" and report["dtype"] == "float64"
    assert report["graph"]["n_images"] == n_v and report["graph"]["n_texts"] == n_l
    assert report["graph"]["nnz"] == int(np.count_nonzero(d.w))
    assert report["graph"]["n_components"] == d.n_components

    s = d.singular_values(k)
    assert len(report["singular_values"]) == k + 1
    np.testing.assert_allclose(report["singular_values"], s, rtol=0, atol=1e-12)

    loss_min = -np.sum(s[:k] ** 2)
    assert close(report["loss_min"], loss_min, 1e-12)
    loss_at = dense_mmcl(d, solution.f_images, solution.f_texts)
    assert close(report["loss_at_solution"], loss_at, 1e-10)  # the report's value is the loss of these encoders
    assert close(report["loss_at_solution"], loss_min, 1e-8)  # ... and they are optimal (T2b)

    m = min(k + 1, n_v)  # only N_V eigenvalues exist; the report pads the top k+1 with zeros
    assert len(report["text_induced_eigenvalues"]) == k + 1
    np.testing.assert_allclose(report["text_induced_eigenvalues"][:m], d.abar_values[:m], rtol=0, atol=1e-10)
    assert not any(report["text_induced_eigenvalues"][m:])
    np.testing.assert_allclose(report["text_induced_eigenvalues"][: len(d.s)], s[:m][: len(d.s)] ** 2, atol=1e-10)

    for key in ("alpha", "phi"):
        expected = getattr(d, key)
        if expected is None:
            assert report[key] is None
        else:
            assert report[key] == pytest.approx(expected, abs=1e-12), key
            assert report[key] >= -1e-15, f"{key} is a probability mass"

    if d.y_v is None:
        assert report["probe_error_ls"] is None
    else:
        low, high, ties = d.probe_error(solution.f_images)
        record(f"probe ties: {ties > 0}", as_event=True)
        record(f"E_LS interval [{low}, {high}], {ties} tied points")
        assert low - 1e-12 <= report["probe_error_ls"] <= high + 1e-12
        if d.s[k - 1] - s[k] > 1e-6:  # a unique span(U_k): the probe is independent of the solver's basis (T2e)
            low_u, high_u, _ = d.probe_error(d.top_basis(k) / np.sqrt(d.p_v)[:, None])
            assert low_u - 1e-12 <= report["probe_error_ls"] <= high_u + 1e-12

    expected = d.bounds(k)
    gap = 1.0 - s[k] ** 2
    for key, value in expected.items():
        got = report["bounds"][key]
        if value is None:
            assert got is None, key
        else:
            assert got == pytest.approx(value, rel=1e-9 + 1e-13 / gap, abs=1e-12), key
            assert report["bounds"]["vacuous"][key] == (got >= 1)

    # the certificate: residuals of the returned triplets against Pn, recomputed here
    u, s_svd, vt = (np.asarray(x, dtype=np.float64) for x in (solution.svd.u, solution.svd.s, solution.svd.vt))
    left = np.linalg.norm(d.pn @ vt.T - u * s_svd, axis=0) / s_svd[0]
    right = np.linalg.norm(d.pn.T @ u - vt.T * s_svd, axis=0) / s_svd[0]
    cert = report["certificate"]
    np.testing.assert_allclose(cert["residual_left"], left, rtol=0, atol=1e-14)
    np.testing.assert_allclose(cert["residual_right"], right, rtol=0, atol=1e-14)
    assert cert["max_residual"] == pytest.approx(max(left.max(), right.max()), abs=1e-14)
    assert cert["converged"] is True and cert["max_residual"] <= cert["tolerance"]

    json.dumps(report, allow_nan=False)  # strict JSON


def assert_checks(report, d: Dense, k: int):
    done = {c["name"]: c for c in report["checks"]}
    skipped = {c["name"]: c["reason"] for c in report["skipped_checks"]}
    assert not set(done) & set(skipped)
    assert set(done) | set(skipped) == ALL_CHECKS
    for c in report["checks"]:
        assert c["passed"] == (c["value"] <= c["tolerance"]), c
        assert c["passed"], c
    # what may be skipped on a small dense graph, and only then
    n_v = d.shape[0]
    may_skip = set()
    if d.n_components > min(k + 1, min(d.shape)):
        may_skip.add("top_singular_vector")
    if k >= n_v or d.s[k - 1] ** 2 - d.singular_values(k)[k] ** 2 <= 1e-6:
        may_skip.add("sscl_same_subspace")
    if report["subspace_determination"]["ill_determined"]:
        may_skip.add("eckart_young_subspace")
    if d.y_v is None:
        may_skip |= {"probe_invariance", "phi_le_2alpha", "bound_rigorous_phi", "bound_rigorous_alpha"}
    if not d.all_texts_labeled:
        may_skip |= {"phi_le_2alpha", "bound_rigorous_alpha"}
    if not d.gap_defined(k):
        may_skip |= {"bound_rigorous_phi", "bound_rigorous_alpha"}
    assert set(skipped) <= may_skip, skipped
    assert report["passed"] is True
    assert report["passed"] == (all(c["passed"] for c in report["checks"]) and report["certificate"]["converged"])


@st.composite
def graph_and_k(draw, **kwargs):
    arrays = draw(graph_arrays(**kwargs))
    limit = min(arrays[3])
    # from 1 to full rank, over few distinct values (each new (shape, k) compiles the solver once more)
    k = draw(st.sampled_from(sorted({1, 2, 3, limit // 2, limit - 1, limit})), label="k")
    return arrays, k


@given(graph_and_k())
@pytest.mark.slow
def test_verify_matches_dense_reference_and_passes(case):
    arrays, k = case
    graph, d = from_arrays(arrays)
    report, solution = verify(graph, k)
    event(f"components > 1: {d.n_components > 1}; k = min shape: {k == min(d.shape)}")
    assert_report_matches_dense(report, solution, d, k)
    assert_checks(report, d, k)


@pytest.mark.slow
def test_verify_on_disconnected_graph_with_enough_k():
    """Three components and ``k >= 3``: ``s = 1`` three times, every check runs and passes."""
    rng = np.random.default_rng(7)
    w = sp.block_diag([rng.uniform(0.1, 10.0, (4, 3)) for _ in range(3)]).toarray()
    rows, cols = np.nonzero(w)
    labels_v, labels_l = np.repeat([0, 1, 2], 4), np.repeat([0, 1, 2], 3)
    graph, d = from_arrays((rows, cols, w[rows, cols], w.shape, labels_v, labels_l))
    for k in (3, 4):
        report, solution = verify(graph, k)
        assert report["graph"]["n_components"] == 3
        np.testing.assert_allclose(report["singular_values"][:3], 1.0, atol=1e-12)
        assert report["singular_values"][3] < 1 - 1e-3
        assert_report_matches_dense(report, solution, d, k)
        assert_checks(report, d, k)
        assert report["phi"] == pytest.approx(0.0, abs=1e-15) and report["probe_error_ls"] == 0.0


@pytest.mark.parametrize("labels", ["none", "images_only"])
def test_verify_without_labels(labels):
    """No labels: alpha, phi, E_LS and every bound are null and the label checks are skipped; image labels only:
    phi and the phi bound exist, alpha and its bounds do not."""
    rng = np.random.default_rng(8)
    w = rng.uniform(0.1, 3.0, (12, 9)) * (rng.random((12, 9)) < 0.6)
    w[np.arange(12), np.arange(12) % 9] += 1.0
    rows, cols = np.nonzero(w)
    y_v = None if labels == "none" else np.arange(12) % 3
    graph, d = from_arrays((rows, cols, w[rows, cols], (12, 9), y_v, None))
    report, solution = verify(graph, 3)
    assert report["alpha"] is None and report["bounds"]["rigorous_alpha"] is None
    assert report["bounds"]["paper_form"] is None
    skipped = {c["name"] for c in report["skipped_checks"]}
    assert {"phi_le_2alpha", "bound_rigorous_alpha"} <= skipped
    if labels == "none":
        assert report["phi"] is None and report["probe_error_ls"] is None and report["bounds"]["rigorous_phi"] is None
        assert {"probe_invariance", "bound_rigorous_phi"} <= skipped
    else:
        assert report["phi"] == pytest.approx(d.phi, abs=1e-12) and report["bounds"]["rigorous_phi"] is not None
        assert "bound_rigorous_phi" not in skipped
    assert_report_matches_dense(report, solution, d, 3)
    assert_checks(report, d, 3)


# ---- regressions: bugs found by these tests, fixed in the library ----------------------------------------------------------------


def three_blocks(seed=3):
    rng = np.random.default_rng(seed)
    w = sp.block_diag([rng.uniform(0.1, 10.0, (4, 3)) for _ in range(3)]).toarray()
    rows, cols = np.nonzero(w)
    return rows, cols, w[rows, cols], w.shape, np.repeat([0, 1, 2], 4), np.repeat([0, 1, 2], 3)


@pytest.mark.parametrize("source", ["random_blocks", pytest.param("block_model_b0", marks=pytest.mark.slow)])
def test_bounds_undefined_when_components_exceed_k(source):
    if source == "random_blocks":
        arrays, k = three_blocks(), 1
    else:
        e = synthetic.block_model(n_classes=3, images_per_class=3, texts_per_class=2, across=0.0)
        arrays, k = (e.rows, e.cols, e.weights, e.shape, e.image_labels, e.text_labels), 2
    graph, d = from_arrays(arrays)
    assert d.n_components > k
    report, _ = verify(graph, k)
    assert report["bounds"]["rigorous_phi"] is None and report["bounds"]["paper_form"] is None
    assert report["passed"], [c for c in report["checks"] if not c["passed"]]


def rank_deficient_arrays():
    """The strategy's planted graph (shape (12, 9), seed 4, density 0.15, 3 classes, noise 0.1): ``s_9 = 0``."""
    n_v, n_l, n_classes, noise = 12, 9, 3, 0.1
    rng = np.random.default_rng(4)
    image_class, text_class = rng.integers(0, n_classes, n_v), rng.integers(0, n_classes, n_l)
    same = image_class[:, None] == text_class[None, :]
    keep = rng.random((n_v, n_l)) < 0.15 * np.where(same, 1.0, noise)
    keep[np.arange(n_v), rng.integers(0, n_l, n_v)] = True
    keep[rng.integers(0, n_v, n_l), np.arange(n_l)] = True
    rows, cols = np.nonzero(keep)
    weights = 10.0 ** rng.uniform(-1.5, 1.5, len(rows))
    flip = rng.random(n_v) < noise / 2
    image_labels = np.where(flip, rng.integers(0, n_classes, n_v), image_class)
    return rows, cols, weights, (n_v, n_l), image_labels, text_class


@pytest.mark.slow  # its own graph and verify (~0.7 s)
def test_probe_invariance_on_rank_deficient_graph():
    graph, d = from_arrays(rank_deficient_arrays())
    k = min(d.shape)
    assert d.s[k - 1] < ZERO_S  # structurally rank-deficient
    report, _ = verify(graph, k)
    assert report["passed"], [c for c in report["checks"] if not c["passed"]]


def test_rigorous_alpha_is_not_reported_without_all_text_labels():
    e = synthetic.block_model(n_classes=3, images_per_class=4, texts_per_class=3, within=1.0, across=0.2)
    graph = CoOccurrence.from_arrays(e.rows, e.cols, e.weights, e.shape, e.image_labels, np.full(9, -1))
    report, solution = verify(graph, 1)
    assert report["probe_error_ls"] > 0 and report["alpha"] == 0.0
    bound = report["bounds"]["rigorous_alpha"]
    assert bound is None or bound >= report["probe_error_ls"]


# ---- T3 and T4 in the test's own numpy --------------------------------------------------------------------


@given(graph_and_k(labels=False), st.integers(0, 2**31 - 1))
def test_mmcl_is_sscl_on_text_induced_pairs(case, seed):
    """T3 from the test's own numpy (the library's losses on these objects: test_losses.py and the tests below)."""
    arrays, k = case
    d = Dense(*arrays)
    n_v = d.shape[0]
    rng = np.random.default_rng(seed)
    # A_V is a joint over image pairs with marginal p_V
    np.testing.assert_allclose(d.a_v.sum(axis=1), d.p_v, rtol=1e-12)
    assert abs(d.a_v.sum() - 1.0) < 1e-12 and np.allclose(d.a_v, d.a_v.T, atol=1e-15)
    # Abar_V = Pn Pn^T, whose eigenvalues are s_i^2 (then zeros)
    np.testing.assert_allclose(d.abar, d.pn @ d.pn.T, atol=1e-12)
    np.testing.assert_allclose(d.abar_values, np.pad(d.s**2, (0, n_v - len(d.s))), atol=1e-12)
    # the SSCL optimum F = U_k S_k spans span(U_k) when the eigengap is positive; its loss is -sum s^4
    values, vectors = np.linalg.eigh(d.abar)
    top = vectors[:, ::-1][:, :k]
    s_next = d.singular_values(k)[k]
    gap = d.s[k - 1] ** 2 - s_next**2
    if gap > 1e-6 and k < n_v:
        distance = np.linalg.norm(top @ top.T - d.u[:, :k] @ d.u[:, :k].T, ord=2)
        assert distance < 1e-11 / gap
    f_sscl = d.u[:, :k] * d.s[:k] / np.sqrt(d.p_v)[:, None]
    w = d.a_v.sum(axis=1)
    gram = f_sscl @ f_sscl.T
    dense_sscl = -2 * np.sum(d.a_v * gram) + np.sum(np.outer(w, w) * gram**2)
    assert close(dense_sscl, -np.sum(d.s[:k] ** 4), 1e-11)
    # ... and nothing nearby goes lower
    for size in (1e-2, 1e-4):
        nudged = f_sscl + size * np.abs(f_sscl).max() * rng.standard_normal(f_sscl.shape)
        g2 = nudged @ nudged.T
        assert -2 * np.sum(d.a_v * g2) + np.sum(np.outer(w, w) * g2**2) >= dense_sscl - 1e-12
    # profile identity at a random F_V: min over f_L of L(f_V, f_L) = -tr(Pi_{F_V} Abar_V)
    big_v = rng.standard_normal((n_v, k))
    big_l = np.linalg.lstsq(big_v, d.pn, rcond=None)[0].T  # argmin_{F_L} ||Pn - F_V F_L^T||_F
    f_v, f_l = big_v / np.sqrt(d.p_v)[:, None], big_l / np.sqrt(d.p_l)[:, None]
    q, _ = np.linalg.qr(big_v)
    trace = np.trace(q.T @ d.abar @ q)
    assert close(dense_mmcl(d, f_v, f_l), -trace, 1e-10)
    # profile minimum really is a minimum over f_L
    other = f_l + 1e-3 * rng.standard_normal(f_l.shape) * np.abs(f_l).max()
    assert dense_mmcl(d, f_v, other) >= -trace - 1e-12


def positive_pairs_by_definition(q):
    """Draw a source ``xbar ~ p``, then two views i.i.d. from ``A(.|xbar)``: the joint of the two views."""
    p_src = q.sum(axis=0)
    joint = np.zeros((q.shape[0], q.shape[0]))
    for src in range(q.shape[1]):
        cond = q[:, src] / p_src[src]
        joint += p_src[src] * np.outer(cond, cond)
    return joint


@pytest.mark.parametrize("source", [pytest.param("augmentation_model", marks=pytest.mark.slow), "random"])
def test_sscl_augmentation_graph_is_mmcl_between_views_and_sources(source):
    if source == "augmentation_model":
        e = synthetic.augmentation_model(n_classes=3, images_per_class=3, views_per_image=3, strength=0.3, seed=1)
        rows, cols, weights, shape = e.rows, e.cols, e.weights, e.shape
    else:
        rng = np.random.default_rng(11)
        mask = rng.random((10, 6)) < 0.4
        mask[np.arange(10), rng.integers(0, 6, 10)] = True
        mask[rng.integers(0, 10, 6), np.arange(6)] = True
        rows, cols = np.nonzero(mask)
        weights, shape = rng.uniform(0.1, 3.0, len(rows)), (10, 6)
    d = Dense(rows, cols, weights, shape)
    a_s = positive_pairs_by_definition(d.p)
    np.testing.assert_allclose(a_s, d.p @ np.diag(1.0 / d.p_l) @ d.p.T, atol=1e-15)  # Q D^{-1} Q^T
    graph = CoOccurrence.from_arrays(rows, cols, weights, shape)
    np.testing.assert_allclose(text_induced_graph(graph).toarray(), a_s, atol=1e-15)
    # SSCL on A_S has the MMCL spectrum of Q squared, and its optimum is the MMCL image subspace
    values = np.linalg.eigvalsh(a_s / np.sqrt(np.outer(d.p_v, d.p_v)))[::-1]
    np.testing.assert_allclose(values[: len(d.s)], d.s**2, atol=1e-12)
    k = 3
    f = d.u[:, :k] * d.s[:k] / np.sqrt(d.p_v)[:, None]
    loss = float(sscl_loss(pairs_joint(sp.csr_array(a_s)), f))
    assert close(loss, -np.sum(d.s[:k] ** 4), 1e-11)
    # MMCL on Q: the canonical encoders reach -sum s^2, and at a random F_V the best f_L gives -tr(Pi Abar)
    f_v = d.u[:, :k] * np.sqrt(d.s[:k]) / np.sqrt(d.p_v)[:, None]
    f_l = d.vt[:k].T * np.sqrt(d.s[:k]) / np.sqrt(d.p_l)[:, None]
    assert close(float(mmcl_loss(graph.joint_arrays(), f_v, f_l)), -np.sum(d.s[:k] ** 2), 1e-12)
    big_v = np.random.default_rng(5).standard_normal((shape[0], k))
    big_l = np.linalg.lstsq(big_v, d.pn, rcond=None)[0].T
    q, _ = np.linalg.qr(big_v)
    profile = float(mmcl_loss(graph.joint_arrays(), big_v / np.sqrt(d.p_v)[:, None], big_l / np.sqrt(d.p_l)[:, None]))
    assert close(profile, -np.trace(q.T @ d.abar @ q), 1e-11)


@given(graph_and_k(all_texts_labeled=True))
def test_proved_bound_holds_in_numpy(case):
    """T4 [proved]: ``E_LS <= 2 phi / (1 - s_{k+1}^2) <= 4 alpha / (1 - s_{k+1}^2)`` with all texts labeled."""
    arrays, k = case
    d = Dense(*arrays)
    phi, alpha = d.phi, d.alpha
    assert 0 <= phi <= 2 * alpha + 1e-14
    assume(d.gap_defined(k))
    basis = d.top_basis(k)
    _, e_ls, _ = d.probe_error(basis / np.sqrt(d.p_v)[:, None])  # worst case over tie-breaking
    s_next = d.singular_values(k)[k]
    bound = 2 * phi / (1 - s_next**2)
    note(f"E_LS = {e_ls}, bound = {bound}")
    assert e_ls <= bound + 1e-12
    # the proof's steps: residual of the class indicators off span(U_k) is at most phi / (1 - s_{k+1}^2)
    n_classes = int(d.y_v.max()) + 1
    g = np.sqrt(d.p_v)[:, None] * np.eye(n_classes)[d.y_v]
    residual = g - basis @ (basis.T @ g)
    assert np.sum(residual**2) <= phi / (1 - s_next**2) + 1e-12
    assert np.sum(g * ((np.eye(d.shape[0]) - d.abar) @ g)) == pytest.approx(phi, abs=1e-12)


# ---- §4 closed forms ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "r, n, m, a, b",
    [(3, 4, 3, 1.0, 0.1), pytest.param(4, 3, 5, 1.0, 0.3, marks=pytest.mark.slow),  # slow: new shapes (~1 s each)
     pytest.param(2, 5, 5, 0.2, 1.0, marks=pytest.mark.slow), (3, 4, 3, 1.0, 0.0),
     pytest.param(5, 2, 2, 2.0, 0.0, marks=pytest.mark.slow)],
)
def test_block_model_closed_form(r, n, m, a, b):
    e = synthetic.block_model(n_classes=r, images_per_class=n, texts_per_class=m, within=a, across=b)
    graph = CoOccurrence.from_edges(e)
    d = Dense(e.rows, e.cols, e.weights, e.shape, e.image_labels, e.text_labels)
    denom = a + (r - 1) * b
    s_exact = np.zeros(min(r * n, r * m))  # docs/theory.md §4, written out here
    s_exact[0], s_exact[1:r] = 1.0, abs(a - b) / denom
    alpha = (r - 1) * b / denom
    phi = 1 - (1 - alpha) ** 2 - alpha**2 / (r - 1)
    components = r if b == 0 else 1
    assert d.n_components == components
    np.testing.assert_allclose(d.s, s_exact, atol=1e-12)  # the closed form agrees with numpy's SVD
    # k = r: a gap after the class block; k = r - 1 < r components when b = 0 leaves the bounds undefined (regression above)
    ks = [r, r - 1] if b > 0 else [r]
    for k in ks:
        report, solution = verify(graph, k)
        np.testing.assert_allclose(report["singular_values"], np.pad(s_exact, (0, k + 1))[: k + 1], atol=1e-12)
        assert report["alpha"] == pytest.approx(alpha, abs=1e-12)
        assert report["phi"] == pytest.approx(phi, abs=1e-12)
        assert report["graph"]["n_components"] == components
        assert report["loss_min"] == pytest.approx(-np.sum(s_exact[:k] ** 2), abs=1e-12)
        done = {c["name"]: c for c in report["checks"]}
        assert done["unit_multiplicity_components"]["passed"]
        if "top_singular_vector" in done:
            assert done["top_singular_vector"]["passed"]
        else:
            assert components > min(k + 1, len(s_exact))
        if k == r:  # the class indicators lie in span(U_r): the probe is perfect and the bound is 2 phi
            assert report["probe_error_ls"] == 0.0
            assert report["bounds"]["rigorous_phi"] == pytest.approx(2 * phi, abs=1e-12)
            assert report["bounds"]["rigorous_alpha"] == pytest.approx(4 * alpha, abs=1e-12)
            assert report["bounds"]["paper_form"] == pytest.approx(12 * alpha, abs=1e-12)
        assert_report_matches_dense(report, solution, d, k)
        assert_checks(report, d, k)


def test_block_model_without_cross_edges_top_vector_check():
    """``b = 0``, r = 3 components: ``top_singular_vector`` runs at ``k = r - 1`` (all r unit triplets computed)
    and passes; unit multiplicity matches the components."""
    e = synthetic.block_model(n_classes=3, images_per_class=4, texts_per_class=3, across=0.0)
    report, _ = verify(CoOccurrence.from_edges(e), 2)
    done = {c["name"]: c for c in report["checks"]}
    assert done["top_singular_vector"]["passed"] and done["unit_multiplicity_components"]["passed"]
    np.testing.assert_allclose(report["singular_values"], [1.0, 1.0, 1.0], atol=1e-12)
    report1, _ = verify(CoOccurrence.from_edges(e), 1)  # 2 computed triplets < 3 components: skipped
    assert "top_singular_vector" in {c["name"] for c in report1["skipped_checks"]}
    assert {c["name"]: c for c in report1["checks"]}["unit_multiplicity_components"]["passed"]


@pytest.mark.parametrize("diversity, vacuous", [(0.0, True), (1.0, False)])
def test_diversity_model_bound(diversity, vacuous):
    r, g, n, m, eps = 3, 3, 2, 2, 0.01
    e = synthetic.diversity_model(
        n_classes=r, styles_per_class=g, images_per_style=n, texts_per_style=m, diversity=diversity, noise=eps
    )
    d = Dense(e.rows, e.cols, e.weights, e.shape, e.image_labels, e.text_labels)
    z = 1 + (g - 1) * diversity + (r - 1) * g * eps
    s_exact = np.sort(
        np.concatenate([[1.0], np.full(r - 1, (1 + (g - 1) * diversity - g * eps) / z),
                        np.full(r * (g - 1), (1 - diversity) / z), np.zeros(r * g * min(n, m) - r * g)])
    )[::-1]
    np.testing.assert_allclose(d.s, s_exact, atol=1e-12)
    report, solution = verify(CoOccurrence.from_edges(e), r)
    np.testing.assert_allclose(report["singular_values"], s_exact[: r + 1], atol=1e-12)
    bound = report["bounds"]["rigorous_phi"]
    assert bound == pytest.approx(2 * d.phi / (1 - s_exact[r] ** 2), rel=1e-10)
    assert report["bounds"]["vacuous"]["rigorous_phi"] is vacuous
    assert (bound > 1) is vacuous
    assert_report_matches_dense(report, solution, d, r)
    assert_checks(report, d, r)
    assert report["probe_error_ls"] <= bound


# ---- failure injection: every check must be able to fail ---------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    """A connected, full-rank random graph with labels on every node, solved at k = 2."""
    rng = np.random.default_rng(21)
    n_v, n_l, classes = 12, 9, 3
    y_v, y_l = np.arange(n_v) % classes, np.arange(n_l) % classes
    w = rng.uniform(0.1, 1.0, (n_v, n_l)) * np.where(y_v[:, None] == y_l[None, :], 5.0, 0.3)
    rows, cols = np.nonzero(w)
    arrays = (rows, cols, w[rows, cols], (n_v, n_l), y_v, y_l)
    graph, d = from_arrays(arrays)
    solution = solve(graph, 2)
    report = build_report(graph, solution, seed=0)
    assert report["passed"]
    return graph, d, solution


def failed(report):
    return {c["name"] for c in report["checks"] if not c["passed"]}


def with_svd(solution, **changes):
    return dataclasses.replace(solution, svd=dataclasses.replace(solution.svd, **changes))


def test_injected_wrong_text_scale_fails(planted):
    graph, d, solution = planted
    bad = dataclasses.replace(solution, f_texts=solution.f_texts * 1.1)
    report = build_report(graph, bad, seed=0)
    assert "eckart_young_loss" in failed(report) and report["passed"] is False
    assert close(report["loss_at_solution"], dense_mmcl(d, bad.f_images, bad.f_texts), 1e-10)


def test_injected_wrong_subspace_fails(planted):
    graph, d, solution = planted
    k = solution.k
    pick = np.array([0, 2])  # skip the second singular direction: a rank-k factorization, not the top one
    f_v = d.u[:, pick] * np.sqrt(d.s[pick]) / np.sqrt(d.p_v)[:, None]
    f_l = d.vt[pick].T * np.sqrt(d.s[pick]) / np.sqrt(d.p_l)[:, None]
    assert k == len(pick)
    report = build_report(graph, dataclasses.replace(solution, f_images=f_v, f_texts=f_l), seed=0)
    assert {"eckart_young_loss", "sscl_same_subspace", "sscl_optimum_loss"} <= failed(report)
    assert report["passed"] is False


@pytest.mark.parametrize(
    "tamper, must_fail",
    [
        (lambda s: s + np.r_[0.0, 1e-4, 0.0], {"eckart_young_loss", "text_induced_eigenvalues"}),
        (lambda s: s * np.r_[1.0, 0.99, 1.0], {"eckart_young_loss", "eckart_young_perturbations"}),
        (lambda s: np.r_[1.0, 1.0, s[2]], {"unit_multiplicity_components", "text_induced_eigenvalues"}),
        (lambda s: s * (1 + 1e-3), {"top_singular_value"}),
        (
            lambda s: s * 0.1,
            {"eckart_young_random_factorizations", "top_singular_value", "unit_multiplicity_components"},
        ),
    ],
    ids=["s2_up", "s2_down", "s2_is_one", "s1_above_one", "all_too_small"],
)
def test_injected_wrong_singular_values_fail(planted, tamper, must_fail):
    graph, _, solution = planted
    s = np.asarray(solution.svd.s, dtype=np.float64)
    report = build_report(graph, with_svd(solution, s=tamper(s)), seed=0)
    assert must_fail <= failed(report), failed(report)
    assert report["passed"] is False


def test_a_bad_image_encoder_fails_as_encoder_and_leaves_the_bound_unjudged_on_it(monkeypatch):
    """On the block model the bound is ``2 phi`` (small); a random image encoder misclassifies far more. The
    bound is a theorem about span(U_k): its checks judge the optimum's E_LS (and pass), the encoder fails the
    encoder checks, and the card reports its E_LS beside the bound without a verdict. A probe route that
    overstates E_LS fails the bound."""
    e = synthetic.block_model(n_classes=3, images_per_class=6, texts_per_class=4, within=1.0, across=0.02)
    graph = CoOccurrence.from_edges(e)
    solution = solve(graph, 3)
    f_random = np.random.default_rng(0).standard_normal(solution.f_images.shape)
    report = build_report(graph, dataclasses.replace(solution, f_images=f_random), seed=0)
    assert report["probe_error_ls"] > report["bounds"]["rigorous_phi"] >= report["probe_error_optimal"]
    assert {"eckart_young_loss", "eckart_young_subspace", "sscl_same_subspace"} <= failed(report)
    assert not {"bound_rigorous_phi", "bound_rigorous_alpha"} & failed(report)
    assert "not a theorem about these encoders" in report["card"]["readings"]["bounds"]
    assert report["passed"] is False
    monkeypatch.setattr(amf.downstream, "probe_error_ls", lambda g, f: 1.0)
    assert {"bound_rigorous_phi", "bound_rigorous_alpha"} <= failed(build_report(graph, solution, seed=0))


def test_unconverged_certificate_fails(planted):
    graph, _, solution = planted
    cert = solution.certificate
    # a certificate that says "not converged" fails the report even when every check passes
    quiet = dataclasses.replace(solution, certificate=dataclasses.replace(cert, converged=False))
    report = build_report(graph, quiet, seed=0)
    assert not failed(report) and report["passed"] is False
    assert report["certificate"]["converged"] is False
    # large residuals fail the certificate check itself
    loud = dataclasses.replace(
        solution,
        certificate=dataclasses.replace(cert, residual_left=cert.residual_left + 1e-3, converged=False),
    )
    report = build_report(graph, loud, seed=0)
    assert "solver_certificate" in failed(report) and report["passed"] is False


def test_graph_identity_checks_fail_on_a_wrong_normalization(planted):
    """Checks of the graph alone can fail: a graph whose cached ``Pn`` is off by 1% fails them."""
    graph, d, solution = planted
    wrong = CoOccurrence.from_arrays(*np.nonzero(d.w), d.w[np.nonzero(d.w)], d.shape, d.y_v, d.y_l)
    wrong.__dict__["normalized"] = sp.csr_array(d.pn * 1.01)
    report = build_report(wrong, solution, seed=0)
    assert {"unit_singular_pair", "factorization_identity", "text_induced_normalized", "full_rank_ratio"} <= failed(
        report
    ), failed(report)
    assert report["passed"] is False


def test_injected_wrong_top_vector_fails(planted):
    """``u_1`` replaced by ``u_2``: ``sqrt(p_V)`` is no longer in the span of the unit left singular vectors."""
    graph, _, solution = planted
    u = np.asarray(solution.svd.u, dtype=np.float64).copy()
    u[:, 0] = u[:, 1]
    report = build_report(graph, with_svd(solution, u=u), seed=0)
    assert "top_singular_vector" in failed(report) and report["passed"] is False


@pytest.mark.parametrize(
    "target, wrong, must_fail",
    [
        (
            "text_induced_graph",
            lambda g: text_induced_graph(g) * 1.01,
            {"text_induced_degrees", "text_induced_normalized"},
        ),
        (
            "text_induced_matmat",
            lambda g, x, **kw: 1.01 * _matmat(g, x, **kw),
            {"profile_identity", "sscl_optimum_loss"},
        ),
    ],
    ids=["A_V", "Abar_V_matmat"],
)
def test_graph_checks_fail_with_a_wrong_text_induced_graph(planted, monkeypatch, target, wrong, must_fail):
    """The T3 identities are checked, not assumed: a text-induced graph off by 1% fails them."""
    import amf.checks.context

    graph, _, solution = planted
    monkeypatch.setattr(amf.checks.context, target, wrong)
    report = build_report(graph, solution, seed=0)
    assert must_fail <= failed(report), failed(report)


def test_phi_check_fails_with_a_wrong_alpha(planted, monkeypatch):
    from amf import downstream

    graph, d, solution = planted
    assert d.phi > 0
    monkeypatch.setattr(downstream, "alpha", lambda g: 0.0)
    report = build_report(graph, solution, seed=0)
    assert {"phi_le_2alpha", "bound_rigorous_alpha"} <= failed(report)


def test_probe_invariance_can_fail(planted, monkeypatch):
    """A probe whose scores depend on the basis (not just the span) fails the invariance check."""
    graph, _, solution = planted
    from amf import downstream

    monkeypatch.setattr(downstream, "probe_scores", lambda g, f: np.asarray(f)[:, :1] ** 2)
    report = build_report(graph, solution, seed=0)
    assert "probe_invariance" in failed(report)
