"""The model card (amf/checks/card.py) and the one Eckart–Young pass rule of every route (docs/theory.md section 7).

Each number of the card is compared with an independent route: the loss after the best linear maps with a
numerical minimization over the maps, the direction sines with dense projectors, the probe errors with the
probe on the optimum's encoders; the pass rule with the tolerances the solvers declare.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import scipy.optimize

import amf
import synthetic
from amf import build_report
from amf.checks import MINIMIZER_TOL
from amf.solution import TrainingCertificate
from amf.solvers.gd import GD
from amf.solvers.sgd import SGD
from amf.solvers.spectral import encoders_from_svd

K = 4


@pytest.fixture(scope="module")
def case():
    edges = synthetic.planted_model(n_images=60, n_texts=50, n_edges=900, n_classes=K, noise=0.15, seed=5)
    graph = amf.CoOccurrence.from_edges(edges)
    svd = amf.solve(graph, K + 1, solver="exact").svd
    s = np.asarray(svd.s)
    assert s[K - 1] - s[K] > 0.05
    return graph, svd


def take(svd, index):
    index = np.asarray(index)
    return dataclasses.replace(svd, u=svd.u[:, index], s=svd.s[index], vt=svd.vt[index])


def embeddings(graph, svd, f_v, f_l, certificate=None):
    return amf.Solution(f_v, f_l, solver="embeddings", dtype="float64", certificate=certificate or svd.certificate,
                        reference=take(svd, range(K + 1)))


def card_of(graph, svd, f_v, f_l):
    return build_report(graph, embeddings(graph, svd, f_v, f_l), seed=0)


def population_loss(graph, f_v, f_l):
    pn = graph.normalized_dense()
    big_v = np.sqrt(graph.p_images)[:, None] * f_v
    big_l = np.sqrt(graph.p_texts)[:, None] * f_l
    return float(np.sum((pn - big_v @ big_l.T) ** 2) - np.sum(pn**2))


def test_loss_after_the_best_linear_maps_is_the_numerical_minimum_over_the_maps(case):
    """``min_{A,B} L(f_V A, f_L B) = -||Q_V^T Pn Q_L||_F^2``: a BFGS minimization over the 2 k^2 entries of the maps
    (dense loss ``||Pn - F_V A B^T F_L^T||^2 - ||Pn||^2``, several starts) reaches the closed form and never beats
    it."""
    graph, svd = case
    rng = np.random.default_rng(0)
    f_v = rng.standard_normal((graph.n_images, K))
    f_l = rng.standard_normal((graph.n_texts, K))
    card = card_of(graph, svd, f_v, f_l)["card"]

    def objective(x):
        a, b = x[: K * K].reshape(K, K), x[K * K:].reshape(K, K)
        return population_loss(graph, f_v @ a, f_l @ b)

    best = min(scipy.optimize.minimize(objective, rng.standard_normal(2 * K * K) * 0.1, method="BFGS",
                                       options={"gtol": 1e-12}).fun for _ in range(3))
    assert best == pytest.approx(card["loss_linear"], abs=1e-8)
    assert card["loss"] == pytest.approx(population_loss(graph, f_v, f_l), rel=1e-12)
    assert card["loss_min"] <= card["loss_linear"] <= card["loss"]


def test_card_splits_the_constant_direction_from_the_class_directions(case):
    """An encoder spanning u_2..u_{k+1} (no constant direction, the class directions whole) against one spanning
    u_1..u_{k-1}, u_{k+1} (the constant, one class direction missing): sines from dense projectors."""
    graph, svd = case
    root = np.sqrt(graph.p_images)
    no_constant = encoders_from_svd(graph, take(svd, range(1, K + 1)), K)
    card = card_of(graph, svd, *no_constant)["card"]
    assert card["constant_sine"] == pytest.approx(1.0, abs=1e-12)
    assert card["class_sine"] < 1e-10 and card["subspace_distance"] == pytest.approx(1.0, abs=1e-12)
    assert "misses the constant direction" in card["readings"]["constant_sine"]
    saddle = encoders_from_svd(graph, take(svd, [*range(K - 1), K]), K)
    card = card_of(graph, svd, *saddle)["card"]
    q = np.linalg.qr(np.sqrt(graph.p_images)[:, None] * saddle[0])[0]
    projector = q @ q.T
    assert card["constant_sine"] == pytest.approx(np.linalg.norm(root - projector @ root), abs=1e-12)
    assert card["constant_sine"] < 1e-10
    assert card["class_sine"] == pytest.approx(1.0, abs=1e-12)
    degrees = np.degrees(card["principal_angles"])
    assert degrees[-1] == pytest.approx(90.0) and np.all(degrees[:-1] < 1e-6)
    assert "misses class directions" in card["readings"]["class_sine"]


def test_card_probe_errors_are_the_model_and_the_optimum_on_the_same_graph(case):
    graph, svd = case
    rng = np.random.default_rng(1)
    f_v, f_l = rng.standard_normal((graph.n_images, K)), rng.standard_normal((graph.n_texts, K))
    report = card_of(graph, svd, f_v, f_l)
    card = report["card"]
    assert card["probe_error_ls"] == amf.downstream.probe_error_ls(graph, f_v)
    optimum = amf.downstream.probe_error_ls(graph, encoders_from_svd(graph, svd, K)[0])
    assert card["probe_error_optimal"] == optimum == report["probe_error_optimal"]
    assert card["minimizer"]["passed"] is False


def test_the_saddle_fails_the_perturbation_check_by_its_gain(case):
    """u_{k+1} in place of u_k: the best rotation back gains s_k^2 - s_{k+1}^2, relative to I_k."""
    graph, svd = case
    s = np.asarray(svd.s)
    report = card_of(graph, svd, *encoders_from_svd(graph, take(svd, [*range(K - 1), K]), K))
    got = {c["name"]: c for c in report["checks"]}["eckart_young_perturbations"]
    informative = np.sum(s[1:K] ** 2)
    assert got["value"] == pytest.approx((s[K - 1] ** 2 - s[K] ** 2) / informative, rel=1e-8)
    assert not got["passed"] and report["passed"] is False


def rotated_encoders(graph, svd, angle):
    u, vt = svd.u.copy(), svd.vt.copy()
    c, s = np.cos(angle), np.sin(angle)
    u[:, K - 1], vt[K - 1] = c * svd.u[:, K - 1] + s * svd.u[:, K], c * svd.vt[K - 1] + s * svd.vt[K]
    return encoders_from_svd(graph, dataclasses.replace(svd, u=u, vt=vt), K)


def test_one_pass_rule_for_given_embeddings_gd_and_sgd(case):
    """The same loss gap and subspace distance judge every non-spectral route, at the tolerances each solver
    declares (given embeddings: gd's). A 1e-3 rad rotation from u_k toward u_{k+1}, whose loss gap is far inside
    the loss tolerance, fails for given embeddings and gd and passes sgd's declared looser 0.1; f_V M with f_L M^-T
    passes."""
    graph, svd = case
    assert MINIMIZER_TOL == GD.tolerances["float64"]
    rotated = rotated_encoders(graph, svd, 1e-3)
    for solver, tolerance in (("embeddings", None), ("gd", GD.tolerances["float64"]),
                              ("sgd", SGD.tolerances["float64"])):
        if tolerance is None:
            solution = embeddings(graph, svd, *rotated)
        else:  # what amf.solve returns for a gradient solver: its declared tolerances in its certificate
            certificate = TrainingCertificate(True, 100, "declared", 0.0, None, None, None, None, None, None,
                                              tolerance=dict(tolerance))
            solution = amf.Solution(*rotated, solver=solver, dtype="float64", certificate=certificate,
                                    reference=take(svd, range(K + 1)))
        report = build_report(graph, solution, seed=0)
        got = {c["name"]: c for c in report["checks"]}
        expected = tolerance or MINIMIZER_TOL
        assert got["eckart_young_loss"]["tolerance"] == expected["loss_gap"]
        assert got["eckart_young_subspace"]["tolerance"] == expected["subspace_distance"]
        assert got["eckart_young_loss"]["value"] < 1e-6 and got["eckart_young_subspace"]["value"] == pytest.approx(
            np.sin(1e-3), rel=1e-6)
        assert got["eckart_young_subspace"]["passed"] is (expected["subspace_distance"] >= 1e-3)
    m = np.eye(K) + 0.3 * np.random.default_rng(2).standard_normal((K, K))
    exact = encoders_from_svd(graph, svd, K)
    report = card_of(graph, svd, exact[0] @ m, exact[1] @ np.linalg.inv(m).T)
    assert report["passed"] is True and report["card"]["minimizer"]["passed"] is True


INEQUALITY = re.compile(r"= (-?[0-9.e+-]+) (<=|>|>=) [^=]*= (-?[0-9.e+-]+)")


def test_no_detail_line_prints_a_false_inequality(case):
    """Every ``a <= b`` or ``a > b`` a detail or reading prints holds for the printed numbers, on a minimizer and
    on random embeddings (whose E_LS exceeds the graph's bound)."""
    graph, svd = case
    rng = np.random.default_rng(3)
    for f_v, f_l in (encoders_from_svd(graph, svd, K),
                     (rng.standard_normal((graph.n_images, K)), rng.standard_normal((graph.n_texts, K)))):
        report = card_of(graph, svd, f_v, f_l)
        lines = [c["detail"] for c in report["checks"]] + list(report["card"]["readings"].values())
        seen = 0
        for line in lines:
            for a, relation, b in INEQUALITY.findall(line):
                a, b = float(a), float(b)
                assert {"<=": a <= b, ">": a > b, ">=": a >= b}[relation], line
                seen += 1
        assert seen >= 3
    reading = report["card"]["readings"]["bounds"]
    assert "not a theorem about these encoders" in reading
    above = report["card"]["probe_error_ls"] > report["card"]["bounds"]["rigorous_phi"]
    assert ("> it" if above else "<= it") in reading


def test_null_bounds_are_null_everywhere(case):
    """Without text labels the alpha bounds are null, and so is their vacuous flag (never false)."""
    graph, _ = case
    unlabeled = amf.CoOccurrence.from_arrays(*graph.joint.tocoo().coords, graph.joint.tocoo().data, graph.shape,
                                             graph.image_labels, None)
    report, _ = amf.verify(unlabeled, K)
    assert report["bounds"]["rigorous_alpha"] is None and report["bounds"]["vacuous"]["rigorous_alpha"] is None
    assert report["bounds"]["paper_form"] is None and report["bounds"]["vacuous"]["paper_form"] is None
    assert report["bounds"]["vacuous"]["rigorous_phi"] is False
