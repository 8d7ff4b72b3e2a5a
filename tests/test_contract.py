"""The package's contracts: every registered solver returns a `Solution` whose certificate follows the protocol
and honours dtype and seed; certificates say why they failed; the theory checks refuse gradient solutions with
a reason; old import paths keep working; the import graph of `amf` has no cycle."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import amf
import synthetic
from amf import Certificate, InputError, Reason, Solution
from amf.cli import _parser
from amf.solve import SOLVERS, kinds
from tests.helpers import projector_gap

K = 3
FAST = {"steps": 200, "chunk": 100, "batch_size": 64, "progress": False}
"""Gradient options that keep a contract run short (convergence is not what is tested here)."""


@pytest.fixture(scope="module")
def graph():
    edges = synthetic.planted_model(n_images=60, n_texts=50, n_edges=600, n_classes=K, noise=0.1, seed=4)
    return amf.CoOccurrence.from_edges(edges)


def _solve(graph, name, **kwargs):
    options = {key: value for key, value in FAST.items() if key in SOLVERS[name].options}
    return amf.solve(graph, K, solver=name, **options, **kwargs)


@pytest.mark.parametrize("name", [  # a gradient solver's run is a training (seconds): slow; spectral ones stay fast
    pytest.param(name, marks=pytest.mark.slow) if SOLVERS[name].kind == "gradient" else name for name in SOLVERS])
@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=pytest.mark.slow)])  # float32 compiles
def test_every_solver_returns_a_certified_solution(graph, name, dtype):
    entry = SOLVERS[name]
    solution = _solve(graph, name, dtype=dtype, seed=3)
    assert isinstance(solution, Solution) and solution.solver == name and solution.dtype == dtype
    assert solution.f_images.shape == (graph.n_images, K) and solution.f_texts.shape == (graph.n_texts, K)
    assert solution.f_images.dtype == np.float64 and solution.f_texts.dtype == np.float64
    cert = solution.certificate
    assert isinstance(cert, Certificate) and isinstance(cert.reason, Reason)
    assert cert.converged == (cert.reason is Reason.CONVERGED) and solution.converged == cert.converged
    record = json.loads(json.dumps(cert.as_dict(), allow_nan=False))  # strict JSON
    assert record["converged"] == cert.converged and record["reason"] == cert.reason.value
    assert entry.kind in ("spectral", "gradient") and dtype in entry.tolerances and entry.criterion
    if entry.kind == "spectral":
        assert solution.svd is not None and solution.reference is None and solution.spectral
        assert solution.svd.u.dtype == np.dtype(dtype)
    else:
        assert solution.svd is None and solution.reference is not None and not solution.spectral
        assert set(solution.curve) >= {"step", "loss", "loss_gap", "objective", "seconds"}


@pytest.mark.parametrize("name", [  # a gradient solver's runs compile (seconds): slow; test_gradient has their smoke
    pytest.param(name, marks=pytest.mark.slow) if SOLVERS[name].kind == "gradient" else name for name in SOLVERS])
def test_every_solver_is_reproducible_from_its_seed(graph, name):
    first, again = _solve(graph, name, seed=5), _solve(graph, name, seed=5)
    np.testing.assert_array_equal(first.f_images, again.f_images)
    np.testing.assert_array_equal(first.f_texts, again.f_texts)
    other = _solve(graph, name, seed=6)
    if SOLVERS[name].kind == "gradient":  # another seed: other initial tables, other batches
        assert not np.allclose(first.f_images, other.f_images)
    else:  # another start block, the same subspace (compared with projectors, not vectors)
        q1 = np.linalg.qr(np.sqrt(graph.p_images)[:, None] * first.f_images)[0]
        q2 = np.linalg.qr(np.sqrt(graph.p_images)[:, None] * other.f_images)[0]
        assert projector_gap(q1, q2) <= 1e-6


def test_registry_kinds_and_cli_choices_come_from_one_place():
    assert set(kinds("spectral")) | set(kinds("gradient")) == set(SOLVERS)
    assert {"exact", "krylov", "gd", "sgd", "infonce"} <= set(SOLVERS)
    commands = {a.dest: a for a in _parser()._subparsers._group_actions[0].choices["solve"]._actions}
    assert tuple(commands["solver"].choices) == tuple(SOLVERS)
    verify = {a.dest: a for a in _parser()._subparsers._group_actions[0].choices["verify"]._actions}
    assert tuple(verify["solver"].choices) == kinds("spectral")


def test_options_a_solver_does_not_take_are_refused(graph):
    with pytest.raises(InputError, match="unknown option 'steps' of the exact solver; allowed: tol$"):
        amf.solve(graph, K, solver="exact", steps=10)
    with pytest.raises(InputError, match="unknown option 'tol' of the gd solver"):
        amf.solve(graph, K, solver="gd", tol=1e-3)
    with pytest.raises(InputError, match="unknown option 'devices' of the gd solver"):
        amf.solve(graph, K, solver="gd", devices=2)
    with pytest.raises(InputError, match="unknown option 'tau' of the gd solver; allowed: steps, lr"):
        amf.solve(graph, K, solver="gd", tau=0.5)
    with pytest.raises(InputError, match="unknown option 'batch_size' of the gd solver"):
        amf.train(graph, K, solver="gd", batch_size=64)


@pytest.mark.slow
def test_reasons_name_the_failure(graph):
    short = amf.solve(graph, K, solver="gd", steps=10, chunk=10, progress=False)
    assert not short.converged and short.certificate.reason is Reason.ITERATION_LIMIT
    diverged = amf.solve(graph, K, solver="sgd", steps=200, batch_size=16, chunk=100, lr=1e4, progress=False)
    assert not diverged.converged and diverged.certificate.reason is Reason.BREAKDOWN
    # krylov with one restart cycle on a clustered spectrum stops before its rule holds
    rng = np.random.default_rng(0)
    u = np.linalg.qr(rng.standard_normal((300, 300)))[0]
    v = np.linalg.qr(rng.standard_normal((200, 200)))[0]
    s = np.concatenate([[1.0], 0.999 - 1e-4 * np.arange(199)])
    a = (u[:, :200] * s) @ v.T
    result = amf.topk_svd(a, 20, max_iterations=1, tol=1e-12)
    assert not result.certificate.converged and result.certificate.reason is Reason.ITERATION_LIMIT
    exact = amf.solve(graph, K, solver="exact")
    assert exact.certificate.reason is Reason.CONVERGED


@pytest.mark.slow
def test_theory_checks_judge_a_gradient_solution_against_its_reference(graph):
    trained = amf.solve(graph, K, solver="gd", progress=False)
    report = amf.build_report(graph, trained, seed=0)
    assert report["solver"] == "gd" and report["passed"] is True and report["subspace_distance"] <= 1e-3
    short = amf.solve(graph, K, solver="gd", steps=10, chunk=10, progress=False)  # stopped early: it fails
    assert amf.build_report(graph, short, seed=0)["passed"] is False
    report = amf.training_report(graph, short, seed=0, settings={})
    assert report["singular_values"] == pytest.approx(list(short.reference.s))
    assert report["certificate"]["reason"] == short.certificate.reason.value
    bare = dataclasses.replace(short, reference=None)
    with pytest.raises(InputError, match="need the spectrum of Pn"):
        amf.build_report(graph, bare, seed=0)


def test_amf_import_graph_has_no_cycle():
    """Module-level and function-level imports alike: every ``import amf.x`` / ``from amf.x import y`` edge."""
    root = Path(amf.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(("amf", *path.relative_to(root).with_suffix("").parts))
        modules[name.removesuffix(".__init__")] = path
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                if target in modules and target not in ("amf", name) and not name.startswith(target + "."):
                    edges[name].add(target)
    state: dict[str, int] = {}

    def visit(module, stack):
        state[module] = 1
        for nxt in edges[module]:
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(stack[stack.index(nxt):] + [nxt])
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[module] = 2

    for module in sorted(modules):
        if module not in state:
            visit(module, [module])
