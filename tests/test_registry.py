"""The solver registry derives every route from each solver's one declaration (`amf.solve`), and the validation
vocabulary every entry point shares (`amf._validate`).

The recipe of docs/architecture.md ("a gradient solver with an option of its own: one module plus one registry
entry") is followed here with a toy solver defined in this file: `solve`, the command line's parser and flags,
and the report's settings pick it up without any other change.
"""

from __future__ import annotations

import dataclasses
import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

import amf
import synthetic
from amf import _validate
from amf._validate import param
from amf.cli import _parser, main
from amf.errors import InputError
from amf.experiments.config import Config
from amf.experiments.runner import Experiment
from amf.losses import mmcl_loss
from amf.solve import SOLVERS, gradient_entry, kinds
from amf.solvers.convergence import loss_and_subspace
from amf.solvers.gd import GD
from amf.solvers.infonce import InfoNCE
from amf.solvers.training import Objective
from tests.helpers import projector_gap

K = 3


@dataclasses.dataclass(frozen=True)
class Damped(Objective):
    """The recipe's toy: the population loss plus ``decay * (||F_V||^2 + ||F_L||^2)``. At ``decay = 0`` it is
    gd's objective, so it reaches the Eckart–Young subspace; its one option of its own is ``decay``."""

    decay: float = param(0.0, kind=float, low=0.0, help="weight decay on both tables")

    name = "damped"
    summary = "population loss plus weight decay (a test's toy)"
    rule = "as gd"
    early_stop = True
    defaults = {"steps": 3000, "lr": 0.2, "optimizer": "momentum", "schedule": "constant", "chunk": 100}
    tolerances = GD.tolerances

    def loss(self, data, hyper, f_images, f_texts, i, j):
        penalty = jnp.sum(f_images**2) + jnp.sum(f_texts**2)
        return mmcl_loss(data["joint"], f_images, f_texts) + self.decay * penalty

    def criterion(self, measures, tolerance):
        return loss_and_subspace(self.name, measures, tolerance, against="-sum_{i<=k} s_i^2")


@pytest.fixture(scope="module")
def graph():
    edges = synthetic.planted_model(n_images=60, n_texts=50, n_edges=600, n_classes=K, noise=0.1, seed=4)
    return amf.CoOccurrence.from_edges(edges)


@pytest.fixture
def damped(monkeypatch):
    monkeypatch.setitem(SOLVERS, "damped", gradient_entry(Damped))  # the recipe's one registry entry


@pytest.mark.slow  # a training to convergence (seconds)
def test_the_recipe_toy_solver_is_picked_up_by_solve_cli_and_settings(graph, damped, tmp_path, capsys):
    solution = amf.solve(graph, K, solver="damped", decay=0.0, progress=False)
    exact = amf.solve(graph, K, solver="exact")
    assert solution.converged and solution.solver == "damped"
    basis = [np.linalg.qr(np.sqrt(graph.p_images)[:, None] * s.f_images)[0] for s in (solution, exact)]
    assert projector_gap(*basis) <= 1e-3  # decay 0: gd's optimum, judged against the dense SVD
    with pytest.raises(InputError, match=r"^decay must be a number >= 0, got -1$"):
        amf.solve(graph, K, solver="damped", decay=-1)
    with pytest.raises(InputError, match="unknown option 'decay' of the gd solver"):
        amf.solve(graph, K, solver="gd", decay=0.1)
    settings = SOLVERS["damped"].settings(decay=0.25)
    assert settings["decay"] == 0.25 and settings["steps"] == 3000 and settings["optimizer"] == "momentum"

    solve = _parser()._subparsers._group_actions[0].choices["solve"]
    flags = {a.dest: a for a in solve._actions}
    assert "damped" in flags["solver"].choices
    assert "weight decay on both tables" in flags["decay"].help and "damped only" in flags["decay"].help
    assert main(["generate", "block", "--out", str(tmp_path / "g.npz")]) == 0
    out = tmp_path / "run"
    assert main(["solve", str(tmp_path / "g.npz"), "--k", "3", "--solver", "damped", "--decay", "0.001",
                 "--steps", "300", "--out", str(out)]) in (0, 1)
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["decay"] == 0.001 and report["settings"]["steps"] == 300
    capsys.readouterr()
    assert main(["solve", str(tmp_path / "g.npz"), "--k", "3", "--solver", "gd", "--decay", "0.1",
                 "--out", str(tmp_path / "no")]) == 2
    assert "unknown option 'decay' of the gd solver" in capsys.readouterr().err


@pytest.mark.slow  # an sgd training through the CLI (seconds)
def test_the_report_settings_list_every_option_used(graph, tmp_path):
    path = tmp_path / "g.npz"
    graph.save(path)
    assert main(["solve", str(path), "--k", "3", "--solver", "sgd", "--steps", "200", "--batch-size", "64",
                 "--out", str(tmp_path / "sgd")]) in (0, 1)
    settings = json.loads((tmp_path / "sgd" / "report.json").read_text())["settings"]
    assert settings["steps"] == 200 and settings["batch_size"] == 64 and settings["p_floor"] == 1 / 64
    assert settings["lr"] == 0.05 and settings["optimizer"] == "sgd" and settings["schedule"] == "cosine"
    assert set(settings) == {"solver", "k", "dtype", "seed", *SOLVERS["sgd"].settings()}


def test_every_registered_option_is_declared_with_help_and_a_valid_default():
    for name, entry in SOLVERS.items():
        assert entry.kind in ("spectral", "gradient") and name in kinds(entry.kind)
        for option, field in entry.options.items():
            assert field.metadata["help"], (name, option)
            if field.default is not None and field.metadata["kind"] is not object:
                assert _validate.check(option, field, field.default) == field.default
        entry.settings()  # the defaults alone make a valid solver


def test_a_traced_option_shares_the_compiled_program_a_static_one_does_not():
    assert InfoNCE(tau=0.1) == InfoNCE(tau=0.5) and hash(InfoNCE(tau=0.1)) == hash(InfoNCE(tau=0.5))
    assert InfoNCE(tau=0.5).hyper() == {"tau": 0.5}
    assert InfoNCE(normalize=True) != InfoNCE(normalize=False)
    with pytest.raises(InputError, match=r"^tau must be a number > 0, got 0$"):
        InfoNCE(tau=0.0)
    with pytest.raises(InputError, match=r"^normalize must be a boolean \(true/false\), got 1$"):
        InfoNCE(normalize=1)


def test_unknown_solver_names_the_nearest(graph):
    with pytest.raises(InputError, match=r"unknown solver 'krylv' \(did you mean 'krylov'\?\); allowed: exact"):
        amf.solve(graph, K, solver="krylv")
    with pytest.raises(InputError, match="train needs a gradient solver"):
        amf.train(graph, K, solver="exact")


# ---- the validation vocabulary ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("1e6", 1_000_000), ("2.0", 2.0), ("0.5", 0.5), ("inf", math.inf), ("true", True),
    ("[0.1, 0.2]", [0.1, 0.2]), ("gd", "gd"), ('"a b"', "a b"), ("1e-1", 0.1),
])
def test_one_set_reader(text, value):
    key, read = _validate.parse_set(f" key = {text}")
    assert key == "key" and read == value and type(read) is type(value)


@pytest.mark.parametrize("call, message", [
    (lambda: _validate.integer("n", 0, 1), r"^n must be an integer >= 1, got 0$"),
    (lambda: _validate.integer("n", 2.0, 1), r"^n must be an integer >= 1, got 2.0$"),
    (lambda: _validate.integer("n", True), r"^n must be an integer, got True$"),
    (lambda: _validate.integer("k", 9, 1, 4, "min(N_V, N_L) = 4"), r"^k must be an integer in \[1, min\(N_V, "),
    (lambda: _validate.real("x", math.nan), r"^x must be a number, got nan$"),
    (lambda: _validate.fraction("p", 1.0), r"^p must be a number in \[0, 1\), got 1$"),
    (lambda: _validate.choice("c", "z", ("a", "b")), r"^c must be one of a, b, got 'z'$"),
    (lambda: _validate.known("key", {"nosie": 1}, ["noise", "seeds"]),
     r"^unknown key 'nosie' \(did you mean 'noise'\?\); allowed: noise, seeds$"),
])
def test_one_message_format(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_valid_unusual_values_are_accepted():
    assert _validate.integer("n", np.int64(3), 1, 3) == 3 and _validate.real("x", math.inf, allow_inf=True) == math.inf
    assert _validate.fraction("p", 0.0) == 0.0 and _validate.boolean("b", np.bool_(False)) is False
    assert synthetic.generate("planted", n_images="200", n_texts="100", n_edges="2e3", n_classes=2,
                              seed="1").params["n_edges"] == 2000


def test_config_hooks_are_declared_and_a_misspelt_one_is_refused():
    with pytest.raises(TypeError, match="looks like the hook 'validate' misspelt"):
        @dataclasses.dataclass(frozen=True)
        class Bad(Config):  # noqa: F841
            def validat(self):
                pass

    @dataclasses.dataclass(frozen=True)
    class Plain:
        x: int = param(1, kind=int, help="x")

    with pytest.raises(TypeError, match="must be an amf.experiments.config.Config subclass"):
        Experiment("plain", "a claim", Plain, {}, lambda config, seed: {})
