"""Every check can fail, and fails when it should: one wrong input per check that it must reject, and valid but
unusual inputs that every check must accept (docs/theory.md section 6), on every route a check is used on.

A mutation changes one thing of a correct exact solution (or of the graph it is judged on) and names the check
that must catch it. Each runs on two routes: the solver's (a spectral `Solution` judged with its own triplets)
and given embeddings (the same encoders judged against the same spectrum as a reference, as `amf.verify(...,
embeddings=...)` does), and with ``dense_limit = 0``, where every check takes its sparse route (the one a 10^6-node
graph gets), so the verdicts depend neither on the route nor on the graph's size.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

import amf
import amf.checks
import amf.checks.context
import synthetic
from amf import InputError, build_report, downstream
from amf.solvers.spectral import encoders_from_svd

K = 4


@pytest.fixture(scope="module")
def case():
    """A planted graph with a clear gap after s_K (small enough for every dense route), solved exactly with K + 2
    triplets, so that mutations can reach past s_{K+1}."""
    edges = synthetic.planted_model(n_images=90, n_texts=70, n_edges=1500, n_classes=K, noise=0.1, seed=2)
    graph = amf.CoOccurrence.from_edges(edges)
    svd = amf.solve(graph, K + 1, solver="exact").svd  # K + 2 triplets
    s = np.asarray(svd.s)
    assert s[K - 1] - s[K] > 0.1 and s[K] - s[K + 1] > 1e-3
    return graph, svd


def solution_from(graph, svd, k=K):
    f_v, f_l = encoders_from_svd(graph, svd, k)
    return amf.Solution(f_v, f_l, solver="exact", dtype="float64", certificate=svd.certificate, svd=svd)


def truncated(svd, index):
    index = np.asarray(index)
    return dataclasses.replace(svd, u=svd.u[:, index], s=svd.s[index], vt=svd.vt[index])


def rotated(svd, i, j, angle):
    """Triplet ``i`` rotated toward ``j`` by ``angle`` on both sides (still orthonormal, no longer singular)."""
    u, vt = svd.u.copy(), svd.vt.copy()
    c, s = np.cos(angle), np.sin(angle)
    u[:, i], u[:, j] = c * svd.u[:, i] + s * svd.u[:, j], -s * svd.u[:, i] + c * svd.u[:, j]
    vt[i], vt[j] = c * svd.vt[i] + s * svd.vt[j], -s * svd.vt[i] + c * svd.vt[j]
    return dataclasses.replace(svd, u=u, vt=vt)


def as_embeddings(solution):
    """The solution's encoders as given embeddings, judged against its triplets as the reference spectrum."""
    return amf.Solution(solution.f_images, solution.f_texts, solver="embeddings", dtype="float64",
                        certificate=solution.svd.certificate, reference=solution.svd)


def report_of(graph, solution, dense_limit, route="solver"):
    if route == "embeddings":
        solution = as_embeddings(solution)
    return build_report(graph, solution, seed=0, **({} if dense_limit is None else {"dense_limit": dense_limit}))


def verdicts(report):
    return {c["name"]: c for c in report["checks"]}


# ---- the mutations: (check that must fail, how the input is made wrong) ---------------------------------------


def _rotation(graph, svd, monkeypatch):  # u_K toward u_{K+1} by 1e-3 rad: triplets no longer singular
    return graph, solution_from(graph, rotated(truncated(svd, range(K + 1)), K - 1, K, 1e-3))


def _saddle(graph, svd, monkeypatch):  # u_K and u_{K+1} swapped: a stationary point that is no minimum
    return graph, solution_from(graph, truncated(svd, [*range(K - 1), K, K - 1]))


def _scaled(graph, svd, monkeypatch):  # both encoders scaled by 1.01
    sol = solution_from(graph, truncated(svd, range(K + 1)))
    return graph, dataclasses.replace(sol, f_images=1.01 * sol.f_images, f_texts=1.01 * sol.f_texts)


def _stale(graph, svd, monkeypatch):  # another SVD under the exact solver's (passing) certificate
    moved = rotated(truncated(svd, range(K + 1)), 1, 2, 0.05)
    return graph, solution_from(graph, dataclasses.replace(moved, certificate=svd.certificate))


def _not_top(graph, svd, monkeypatch):  # exact triplets 1..K-1, K+1, K+2: s_K left out
    return graph, solution_from(graph, truncated(svd, [*range(K - 1), K, K + 1]))


def _s_down(graph, svd, monkeypatch):  # s_2 lowered by 1%: the claimed minimum is above the reachable loss
    return graph, solution_from(graph, dataclasses.replace(svd, s=svd.s * np.r_[1.0, 0.99, np.ones(K)]))


def _all_small(graph, svd, monkeypatch):
    sol = solution_from(graph, truncated(svd, range(K + 1)))
    return graph, dataclasses.replace(sol, svd=dataclasses.replace(sol.svd, s=sol.svd.s * 0.1))


def _s_up(graph, svd, monkeypatch):
    return graph, solution_from(graph, dataclasses.replace(svd, s=svd.s * (1 + 1e-3)))


def _s2_is_one(graph, svd, monkeypatch):
    return graph, solution_from(graph, dataclasses.replace(svd, s=np.r_[1.0, 1.0, svd.s[2:]]))


def _u1_replaced(graph, svd, monkeypatch):
    u = svd.u.copy()
    u[:, 0] = u[:, 1]
    return graph, solution_from(graph, dataclasses.replace(svd, u=u))


def _wrong_normalization(graph, svd, monkeypatch):  # the graph's cached Pn off by 1%
    wrong = amf.CoOccurrence.from_arrays(*graph.joint.tocoo().coords, graph.joint.tocoo().data, graph.shape,
                                         graph.image_labels, graph.text_labels)
    wrong.__dict__["normalized"] = sp.csr_array(graph.normalized * 1.01)
    return wrong, solution_from(graph, svd)


def _wrong_text_induced(graph, svd, monkeypatch):  # A_V off by 1%
    original = amf.checks.context.text_induced_graph
    monkeypatch.setattr(amf.checks.context, "text_induced_graph", lambda g: original(g) * 1.01)
    return graph, solution_from(graph, svd)


def _wrong_abar_products(graph, svd, monkeypatch):  # Abar_V X off by 1%
    original = amf.checks.context.text_induced_matmat
    monkeypatch.setattr(amf.checks.context, "text_induced_matmat", lambda g, x, **kw: 1.01 * original(g, x, **kw))
    return graph, solution_from(graph, svd)


def _wrong_subspace(graph, svd, monkeypatch):  # encoders from triplets 1, 3, 4, 5: not the top subspace
    sol = solution_from(graph, svd)
    f_v, f_l = encoders_from_svd(graph, truncated(svd, [0, *range(2, K + 1)]), K)
    return graph, dataclasses.replace(sol, f_images=f_v, f_texts=f_l)


def _wrong_alpha(graph, svd, monkeypatch):
    monkeypatch.setattr(downstream, "alpha", lambda g: 0.0)
    return graph, solution_from(graph, svd)


def _probe_not_linear(graph, svd, monkeypatch):  # a "probe" that is not invariant under f_V -> f_V M
    monkeypatch.setattr(downstream, "probe_scores", lambda g, f: np.asarray(f)[:, :1] ** 2)
    return graph, solution_from(graph, svd)


def _encoder_saddle(graph, svd, monkeypatch):  # encoders with u_{K+1} for u_K, judged against the true spectrum
    sol = solution_from(graph, truncated(svd, range(K + 1)))
    f_v, f_l = encoders_from_svd(graph, truncated(svd, [*range(K - 1), K, K - 1]), K)
    return graph, dataclasses.replace(sol, f_images=f_v, f_texts=f_l)


def _rotated_encoders(graph, svd, monkeypatch):  # encoders 1e-3 rad from u_K toward u_{K+1}; the spectrum exact
    sol = solution_from(graph, truncated(svd, range(K + 1)))
    f_v, f_l = encoders_from_svd(graph, rotated(truncated(svd, range(K + 1)), K - 1, K, 1e-3), K)
    return graph, dataclasses.replace(sol, f_images=f_v, f_texts=f_l)


def _overstated_probe_error(graph, svd, monkeypatch):  # a probe-error route that reports E_LS = 1
    monkeypatch.setattr(downstream, "probe_error_ls", lambda g, f: 1.0)
    return graph, solution_from(graph, svd)


MUTATIONS = {
    "solver_certificate": [_rotation, _stale, _saddle],
    "top_singular_triplets": [_not_top],
    "factorization_identity": [_wrong_normalization],
    "eckart_young_loss": [_scaled, _s_down, _encoder_saddle],
    "eckart_young_subspace": [_wrong_subspace, _rotated_encoders, _encoder_saddle],
    "eckart_young_perturbations": [_saddle, _s_down, _encoder_saddle],
    "eckart_young_random_factorizations": [_all_small],
    "unit_singular_pair": [_wrong_normalization],
    "top_singular_value": [_s_up],
    "top_singular_vector": [_u1_replaced],
    "unit_multiplicity_components": [_s2_is_one],
    "full_rank_ratio": [_wrong_normalization],
    "text_induced_degrees": [_wrong_text_induced, _wrong_abar_products],
    "text_induced_normalized": [_wrong_normalization],
    "text_induced_eigenvalues": [_s_up],
    "sscl_same_subspace": [_wrong_subspace],
    "sscl_optimum_loss": [_wrong_subspace, _wrong_abar_products],
    "profile_identity": [_wrong_abar_products],
    "probe_invariance": [_probe_not_linear],
    "phi_le_2alpha": [_wrong_alpha],
    "bound_rigorous_phi": [_overstated_probe_error],
    "bound_rigorous_alpha": [_overstated_probe_error],
}
"""For every check, the wrong inputs it must reject (on both routes)."""

ROUTES = ("solver", "embeddings")

DENSE_ONLY = {"factorization_identity", "sscl_same_subspace", "full_rank_ratio"}
"""Checks with no sparse route (skipped above the dense limit)."""

ONE_ROUTE = {("text_induced_degrees", "_wrong_text_induced"): None, ("text_induced_degrees", "_wrong_abar_products"): 0}
"""Mutations of one route's ingredient (the dense ``A_V``, or the products through ``P``), run on that route only:
the dense-limit value under which each applies."""


@pytest.mark.slow
def test_every_check_has_a_mutation(case):
    graph, svd = case
    report = build_report(graph, solution_from(graph, svd), seed=0)
    names = {c["name"] for c in report["checks"]} | {c["name"] for c in report["skipped_checks"]}
    assert len(names) == len(amf.checks.CHECKS) and set(MUTATIONS) == names


@pytest.mark.parametrize("route", [  # fast subset: each mutation once, dense, on the embeddings route; the valid
    # minimizers below run on both routes and both dense limits
    pytest.param(route, marks=pytest.mark.slow) if route == "solver" else route for route in ROUTES])
@pytest.mark.parametrize("dense_limit", [None, pytest.param(0, marks=pytest.mark.slow)],
                         ids=["dense", "sparse-routes"])
@pytest.mark.parametrize("check, mutation", [  # every check's first mutation is fast, its others slow
    (c, m) if i == 0 else pytest.param(c, m, marks=pytest.mark.slow) for c, ms in MUTATIONS.items()
    for i, m in enumerate(ms)], ids=lambda x: x if isinstance(x, str) else x.__name__.strip("_"))
def test_check_rejects_its_mutation(case, monkeypatch, check, mutation, dense_limit, route):
    graph, svd = case
    if dense_limit == 0 and check in DENSE_ONLY:
        pytest.skip("a dense-only check")
    if ONE_ROUTE.get((check, mutation.__name__), dense_limit) != dense_limit:
        pytest.skip("the mutation changes what only the other route uses")
    g, solution = mutation(graph, svd, monkeypatch)
    report = report_of(g, solution, dense_limit, route)
    got = verdicts(report)
    assert check in got, report["skipped_checks"]
    assert not got[check]["passed"], got[check]
    assert report["passed"] is False


def _invertible(seed, k=K):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((k, k)) + 2 * np.eye(k)
    assert np.linalg.cond(m) < 50
    return m


def _valid_variants(graph, svd):
    base = solution_from(graph, truncated(svd, range(K + 1)))
    m = _invertible(1)
    signs = np.r_[1.0, -1.0, 1.0, -1.0, 1.0, -1.0]
    flipped = dataclasses.replace(svd, u=svd.u * signs, vt=svd.vt * signs[:, None])
    return {
        "f_V M, f_L M^-T": dataclasses.replace(base, f_images=base.f_images @ m,
                                               f_texts=base.f_texts @ np.linalg.inv(m).T),
        "more triplets than k + 1": solution_from(graph, svd),
        "signs of triplets flipped": solution_from(graph, flipped),
        "rounded to float32": dataclasses.replace(base, f_images=base.f_images.astype(np.float32).astype(float),
                                                  f_texts=base.f_texts.astype(np.float32).astype(float)),
    }


VALID = {"f_V M, f_L M^-T": ROUTES, "more triplets than k + 1": ROUTES, "signs of triplets flipped": ROUTES,
         "rounded to float32": ("embeddings",)}
"""Valid unusual minimizers and the routes they are minimizers on (float32 round-off is within the 1e-6 loss gap
and 1e-4 subspace distance asked of given embeddings, not within a float64 SVD's 1e-8)."""


@pytest.mark.parametrize("dense_limit", [None, 0], ids=["dense", "sparse-routes"])
@pytest.mark.parametrize("variant, route", [(v, r) for v, routes in VALID.items() for r in routes])
def test_valid_unusual_minimizers_pass_every_check(case, variant, route, dense_limit):
    graph, svd = case
    report = report_of(graph, _valid_variants(graph, svd)[variant], dense_limit, route)
    bad = {c["name"]: (c["value"], c["tolerance"]) for c in report["checks"] if not c["passed"]}
    assert not bad and report["passed"] is True and report["card"]["minimizer"]["passed"] is True


@pytest.mark.slow
def test_a_padded_next_singular_value_is_refused(case):
    """Only K triplets: s_{K+1} would be padded with 0, making the bound look informative. Refused."""
    graph, svd = case
    with pytest.raises(InputError, match="need the top 5 singular triplets"):
        build_report(graph, solution_from(graph, truncated(svd, range(K))), seed=0)


def test_the_non_top_svd_fails_above_the_dense_size_of_the_complement_test():
    """On a graph too large for the dense complement test the Lanczos estimate still sees the skipped s_k."""
    edges = synthetic.planted_model(n_images=1500, n_texts=1200, n_edges=20000, n_classes=K, noise=0.1, seed=3)
    graph = amf.CoOccurrence.from_edges(edges)
    svd = amf.solve(graph, K + 1, solver="krylov").svd
    good = build_report(graph, solution_from(graph, truncated(svd, range(K + 1))), seed=0, dense_limit=0)
    top = verdicts(good)["top_singular_triplets"]
    assert good["passed"] and "lanczos" in top["detail"]
    bad = build_report(graph, solution_from(graph, truncated(svd, [*range(K - 1), K, K + 1])), seed=0, dense_limit=0)
    assert not verdicts(bad)["top_singular_triplets"]["passed"] and bad["passed"] is False
    assert bad["recomputed_certificate"]["top"]["failure_probability"] <= 1e-6


@pytest.mark.slow
def test_extreme_weights_are_judged_at_their_conditioning():
    """A 3 x 3 graph with one weight 1e9 times the others: identities through F_V (cond 2e4) lose digits in
    proportion; the tolerance follows the conditioning instead of failing a right answer."""
    graph = amf.CoOccurrence.from_arrays([0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 2, 0], [1e9, 1, 1, 1, 1, 1], (3, 3))
    for k in (1, 2):
        report, _ = amf.verify(graph, k)
        assert report["passed"], [c for c in report["checks"] if not c["passed"]]
        profile = verdicts(report)["profile_identity"]
        assert profile["tolerance"] >= 1e-10 and "cond(F_V)" in profile["detail"]


@pytest.mark.slow  # its own graph and solve (~1 s); ill-determined reports are also the experiments' tests
def test_ties_at_k_are_reported_ill_determined_not_judged():
    """Three components and k = 2: s_1 = s_2 = s_3 = 1, so every 2-dimensional subspace of the unit singular space
    is a minimizer and E_LS depends on the arbitrary choice. With a gap after k = 3 it is determined."""
    blocks = sp.block_diag([np.full((4, 3), 1.0) + np.eye(4, 3) for _ in range(3)]).tocoo()
    labels_v, labels_l = np.repeat(np.arange(3), 4), np.repeat(np.arange(3), 3)
    graph = amf.CoOccurrence.from_arrays(blocks.row, blocks.col, blocks.data, blocks.shape, labels_v, labels_l)
    tied, _ = amf.verify(graph, 2)
    assert tied["subspace_determination"]["ill_determined"] is True and tied["subspace_determination"]["gap"] < 1e-12
    skipped = {c["name"]: c["reason"] for c in tied["skipped_checks"]}
    assert "ill-determined at this k" in skipped["sscl_same_subspace"]
    determined, _ = amf.verify(graph, 3)
    assert determined["subspace_determination"]["ill_determined"] is False and determined["passed"]


@pytest.mark.slow
def test_embeddings_from_any_trainer_are_judged_as_minimizers(case, tmp_path, capsys):
    graph, svd = case
    exact = solution_from(graph, truncated(svd, range(K + 1)))
    m = _invertible(2)
    rotated_pair = (exact.f_images @ m, exact.f_texts @ np.linalg.inv(m).T)
    report, solution = amf.verify(graph, K, embeddings=rotated_pair)
    assert report["passed"] is True and report["solver"] == "embeddings" and solution.reference is not None
    assert report["subspace_distance"] <= 1e-8 and report["embeddings"]["tolerance"] == 1e-6
    noisy = (exact.f_images + 1e-2 * np.random.default_rng(0).standard_normal(exact.f_images.shape), exact.f_texts)
    report, _ = amf.verify(graph, K, embeddings=noisy)
    assert report["passed"] is False and "eckart_young_loss" in {c["name"] for c in report["checks"] if not c["passed"]}
    for bad, message in (((exact.f_images[:, :2], exact.f_texts), "must have shape"),
                         ((exact.f_images * np.nan, exact.f_texts), "non-finite"),
                         ((exact.f_images,), "a pair")):
        with pytest.raises(InputError, match=message):
            amf.verify(graph, K, embeddings=bad)
    # the command line: a file with f_images and f_texts, exit 0 / 1 / 2
    from amf.cli import main

    graph.save(tmp_path / "g.npz")
    np.savez(tmp_path / "good.npz", f_images=rotated_pair[0], f_texts=rotated_pair[1])
    np.savez(tmp_path / "noisy.npz", f_images=noisy[0], f_texts=noisy[1])
    np.savez(tmp_path / "short.npz", f_images=exact.f_images)
    g = str(tmp_path / "g.npz")
    assert main(["verify", g, "--k", str(K), "--embeddings", str(tmp_path / "good.npz")]) == 0
    assert main(["verify", g, "--k", str(K), "--embeddings", str(tmp_path / "noisy.npz")]) == 1
    capsys.readouterr()
    assert main(["verify", g, "--k", str(K), "--embeddings", str(tmp_path / "short.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks f_texts" in err and "\n" not in err
