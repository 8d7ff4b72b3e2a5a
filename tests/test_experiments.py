"""Experiments (`amf.experiments`): configs, run folders and resume, and what each quick run must show.

Each experiment runs once per module on a config smaller than its quick preset where that keeps the claim
visible; the assertions are the theory's (the proved bound holds at every point, ``phi <= 2 alpha`` with every
text labeled, the closed forms of docs/theory.md section 4), never the experiment's own numbers read back.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import synthetic

from amf.cli import main
from amf.errors import InputError
from amf.checks import AMBIGUITY
from amf.experiments import EXPERIMENTS, equivalence, runner
from amf._validate import parse_set
from amf.experiments.config import to_toml
from amf.graph import read_metadata
from tests.test_synthetic import dense_reference

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str, *, quick: bool = True, seeds=None, **values) -> runner.Result:
    experiment = EXPERIMENTS[name]
    return runner.run(experiment, experiment.make_config(quick=quick, values=values, seeds=seeds))


def _by(points, key):
    return sorted(points, key=lambda p: p["params"][key])


# ---- configs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("values, message", [
    ({"nois": 0.1}, r"unknown config key 'nois' \(did you mean 'noise'\?\); allowed: seeds, "),
    ({"noise": "high"}, r"^noise must be a number in \[0, 1\], got 'high'$"),
    ({"noise": [0.1, "x"]}, "noise must be a number"),
    ({"noise": 1.5}, r"noise must be a number in \[0, 1\], got 1.5"),
    ({"noise": []}, "empty list"),
    ({"noise": [0.1, 0.1]}, "lists a value twice"),
    ({"n_classes": 2.5}, "n_classes must be an integer"),
    ({"n_classes": True}, "n_classes must be an integer"),
    ({"seeds": [0, -1]}, "seeds"),
    ({"seeds": [1, 1]}, "lists a seed twice"),
    ({"k": 10_000}, "'k' must be below"),
])
def test_bad_config_values_are_refused_naming_the_key(values, message):
    with pytest.raises(InputError, match=message):
        EXPERIMENTS["consistency"].make_config(quick=True, values=values)


def test_a_list_is_refused_where_a_key_cannot_sweep():
    with pytest.raises(InputError, match="'restarts' takes one value"):
        EXPERIMENTS["resampling"].make_config(values={"restarts": [1, 2]})


def test_lists_make_a_grid_and_ints_count_as_floats():
    config = EXPERIMENTS["mmcl-vs-sscl"].make_config(quick=True, values={"diversity": [1, 0.5], "noise": [0.1]})
    assert config.diversity == (1.0, 0.5) and isinstance(config.diversity[0], float)
    assert config.grid() == [{"held": h, "diversity": d, "noise": 0.1} for h in ("phi", "spectral_gap")
                            for d in (1.0, 0.5)]


def test_set_values_are_toml():
    assert parse_set("noise=[0.1, 0.2]") == ("noise", [0.1, 0.2])
    assert parse_set("solver=gd") == ("solver", "gd")
    assert parse_set("k = 3") == ("k", 3)
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_set("noise")


def test_written_config_reads_back_to_the_same_config(tmp_path):
    experiment = EXPERIMENTS["training"]
    config = experiment.make_config(quick=True, values={"tau": [0.2, 0.5]}, seeds=[3, 4])
    data = tomllib.loads(to_toml("training", config))
    again = experiment.make_config(values=data["config"], seeds=data["seeds"])
    assert again == config


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    from amf.experiments.config import read_toml

    data = read_toml(path)
    EXPERIMENTS[data["experiment"]].make_config(quick=data.get("quick", False), values=data.get("config", {}),
                                                seeds=data.get("seeds"))


def test_every_experiment_has_a_quick_preset_and_claim():
    assert set(EXPERIMENTS) >= {"consistency", "diversity", "mmcl-vs-sscl", "bound-tightness", "finite-samples",
                                "training", "equivalence", "resampling"}
    for e in EXPERIMENTS.values():
        quick, full = e.make_config(quick=True), e.make_config()
        assert e.claim and e.headline and quick != full


# ---- command line, run folders, resume ---------------------------------------------------------------------------


@pytest.mark.slow
def test_run_folder_resume_and_provenance(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["experiment", "consistency", "--quick", "--seeds", "2", "--set", "n_pairs=0", "--set",
            "noise=[0.0, 0.05]", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert (out / "complete.json").is_file() and (out / "config.toml").is_file() and (out / "log.txt").is_file()
    assert set(results) >= {"experiment", "config", "seeds", "versions", "provenance", "points", "summary"}
    assert results["seeds"] == [0, 1] and len(results["points"]) == 4
    assert results["provenance"]["command"] == ["amf", *argv]
    assert results["provenance"]["started"] <= results["provenance"]["finished"]
    # a point deleted (an interrupted run): only it is recomputed, and the results are the same
    victim = sorted((out / "points").glob("*.json"))[0]
    victim.unlink()
    (out / "complete.json").unlink()
    capsys.readouterr()
    assert main(argv) == 0
    assert "1 computed, 3 reused" in capsys.readouterr().out
    again = json.loads((out / "results.json").read_text())
    strip = lambda r: [{k: v for k, v in p.items() if k != "seconds"} for p in r["points"]]  # noqa: E731
    assert strip(again) == strip(results)
    # a longer sweep reuses the points it shares
    assert main(argv[:-4] + ["--set", "noise=[0.0, 0.05, 0.1]", "--out", str(out)]) == 0
    assert "2 computed, 4 reused" in capsys.readouterr().out


@pytest.mark.slow
def test_default_run_folder_is_reused_for_the_same_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["experiment", "equivalence", "--quick", "--seeds", "1", "--set", "n_images=30", "--set", "density=0.3",
            "--set", "noise=0.1"]
    assert main(argv) == 0 and main(argv) == 0
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.endswith("-equivalence-1")
    assert "0 computed" in capsys.readouterr().out
    assert main(argv[:-1] + ["noise=0.2"]) == 0
    assert sorted(p.name[-1] for p in (tmp_path / "runs").iterdir()) == ["1", "2"]


def test_amf_run_reads_a_toml_config(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('experiment = "equivalence"\nquick = true\nseeds = [5]\n[config]\nn_images = 30\n'
                      'density = [0.2, 0.5]\nnoise = 0.0\nk = 4\n')
    assert main(["run", str(config), "--set", "n_classes=3", "--out", str(tmp_path / "r")]) == 0
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["seeds"] == [5] and results["config"]["n_classes"] == 3
    assert [p["params"] for p in results["points"]] == [{"density": 0.2}, {"density": 0.5}]
    sha = hashlib.sha256(config.read_bytes()).hexdigest()
    assert results["provenance"]["inputs"][str(config)]["sha256"] == sha


@pytest.mark.parametrize("argv, message", [
    (["experiment", "nope"], "unknown experiment 'nope'"),
    (["experiment", "consistency", "--set", "nois=1"], "unknown config key 'nois'"),
    (["experiment", "consistency", "--set", "noise=[0.1, abc]"], "noise must be a number"),
    (["experiment", "consistency", "--set", "noise"], "KEY=VALUE"),
    (["run", "{tmp}/missing.toml"], "config file not found"),
    (["run", "{tmp}/bad.toml"], "unknown top-level key 'colour'"),
    (["run", "{tmp}/broken.toml"], "cannot read config"),
])
def test_bad_experiment_input_exits_2_with_one_line_and_writes_nothing(argv, message, tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text('experiment = "consistency"\ncolour = "red"\n')
    (tmp_path / "broken.toml").write_text('experiment = "consistency\n')
    assert main([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_experiment_list_names_every_experiment(capsys):
    assert main(["experiment", "list"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in EXPERIMENTS)


def test_generated_graphs_and_reports_carry_provenance(tmp_path):
    graph = tmp_path / "g.npz"
    assert main(["generate", "block", "--out", str(graph), "--seed", "7", "--set", "n_classes=3"]) == 0
    meta = read_metadata(graph)
    assert meta["model"] == "block" and meta["seed"] == 7 and meta["params"]["n_classes"] == 3
    assert meta["provenance"]["versions"]["amf"] and meta["provenance"]["command"][-2:] == ["--set", "n_classes=3"]
    assert main(["verify", str(graph), "--k", "3", "--json", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["provenance"]["inputs"][str(graph)]["sha256"] == hashlib.sha256(graph.read_bytes()).hexdigest()
    assert report["seed"] == 0 and report["versions"]["jax"] and report["device"]["platform"]


# ---- what each quick experiment must show ----------------------------------------------------------------------


@pytest.mark.slow
def test_consistency_population_matches_the_closed_forms_and_the_bound_holds():
    result = _run("consistency", seeds=[0], n_pairs=0, noise=[0.0, 0.05, 0.2])
    points = _by(result.points, "noise")
    for p in points:
        assert p["passed"]
        assert p["alpha"] == pytest.approx(p["population"]["alpha"], abs=1e-12)
        assert p["phi"] == pytest.approx(p["population"]["phi"], abs=1e-12)
        assert p["s_next"] == pytest.approx(p["population"]["s_next"], abs=1e-12)
        assert p["probe_error_ls"] <= p["bound_rigorous_phi"] + 1e-12
        assert p["phi"] <= 2 * p["alpha"] + 1e-12  # every text is labeled
    assert [p["alpha"] for p in points] == sorted(p["alpha"] for p in points) and points[-1]["alpha"] > 0


@pytest.mark.slow
def test_consistency_sampled_graphs_vary_with_the_seed():
    result = _run("consistency", seeds=[0, 1], noise=[0.1], n_pairs=2000)
    a, b = result.points
    assert a["phi"] != b["phi"] and all(p["probe_error_ls"] <= p["bound_rigorous_phi"] for p in result.points)
    [summary] = result.summary
    assert summary["metrics"]["phi"]["std"] > 0 and summary["metrics"]["phi"]["n"] == 2


@pytest.mark.slow
def test_diversity_opens_the_gap_as_the_closed_form_says():
    result = _run("diversity", seeds=[0], n_pairs=0)
    points = _by(result.points, "diversity")
    gaps = [p["spectral_gap"] for p in points]
    assert gaps == sorted(gaps) and points[0]["bound_rigorous_phi"] > 1 > points[-1]["bound_rigorous_phi"]
    for p in points:
        assert p["s_next"] == pytest.approx(p["population"]["s_next"], abs=1e-12)
        assert p["probe_error_ls"] <= p["bound_rigorous_phi"] + 1e-12


@pytest.mark.slow
def test_mmcl_vs_sscl_holds_the_stated_quantity_equal():
    from amf.experiments.mmcl_vs_sscl import MATCH

    result = _run("mmcl-vs-sscl", seeds=[0])
    config = result.config
    for p in result.points:
        assert p["passed"] and p["matched"]
        held = p["params"]["held"]
        mmcl, sscl = p["mmcl"], p["sscl"]
        assert abs(sscl[held] / mmcl[held] - 1) <= MATCH[held] and p["match_ratio"] == sscl[held] / mmcl[held]
        for side in (mmcl, sscl):
            assert side["probe_error_ls"] <= side["bound_rigorous_phi"] + 1e-12
        # the arms' phi against an independent dense A_V of the same generator call
        for side, arm in ((mmcl, "captions"), (sscl, "augmentations")):
            edges = synthetic.matched_model(arm=arm, n_classes=config.n_classes,
                                            sources_per_class=config.sources_per_class,
                                            views_per_source=config.views_per_source, min_degree=config.min_degree,
                                            degree_exponent=config.degree_exponent, diversity=side["diversity"],
                                            noise=side["noise"], seed=p["seed"])
            assert dense_reference(edges)["phi"] == pytest.approx(side["phi"], rel=1e-10)
        if held == "phi":  # diversity differs: the augmentations keep theirs, the solve sets their noise
            assert sscl["diversity"] == config.augmentation_diversity < mmcl["diversity"]
        else:  # consistency differs: the augmentations are noisier by noise_excess, the solve sets their diversity
            assert sscl["noise"] == pytest.approx(mmcl["noise"] + config.noise_excess)
            assert sscl["phi"] > mmcl["phi"]
    assert {r["held"] for r in result.extra["table"]} == {"phi", "spectral_gap"}
    assert all(r["probe"]["verdict"] in ("undetermined", "tie") for r in result.extra["table"])  # one seed


def test_mmcl_vs_sscl_reports_an_unmatched_pair_as_failed(monkeypatch):
    from amf.experiments import mmcl_vs_sscl

    monkeypatch.setattr(mmcl_vs_sscl, "solve", lambda quantity, target, low, high, tolerance: low)  # no matching solve
    config = EXPERIMENTS["mmcl-vs-sscl"].make_config(quick=True, values={"held": "phi", "diversity": 0.5,
                                                                                "noise": 0.15})
    point = mmcl_vs_sscl.measure(config, 0)
    assert point["sscl"]["noise"] == 0 and point["sscl"]["phi"] == 0 < point["mmcl"]["phi"]
    assert point["match_ratio"] == 0 and not point["matched"] and point["passed"] is False
    table = mmcl_vs_sscl.summarize(config, [{"params": {}, "seed": 0, **point}])["table"]
    assert table[0]["probe"] == table[0]["bound"] == {"verdict": "not matched"}


@pytest.mark.parametrize("differences, verdict", [
    ([0.1, 0.12, 0.09, 0.11, 0.1], "captions better"),
    ([-0.2, -0.1, -0.15, -0.3, -0.2], "augmentations better"),
    ([0.3, -0.1, 0.2, -0.2, 0.05], "undetermined"),  # the seeds split
    ([0.01, 0.02, 0.01, 0.0, 0.5], "undetermined"),  # all one way, but the interval reaches 0
    ([0.1], "undetermined"),  # one seed: no spread
    ([0.0, 1e-13, -1e-13], "tie"),
    ([0.1, None], "no bound"),
])
def test_seed_verdicts(differences, verdict):
    from amf.experiments.mmcl_vs_sscl import seed_verdict

    out = seed_verdict(differences)
    assert out["verdict"] == verdict
    if out.get("interval") is not None:  # against scipy's one-sample t interval
        low, high = stats.ttest_1samp(differences, 0.0).confidence_interval(0.95)
        assert out["interval"] == pytest.approx([low, high], rel=1e-12)
        assert (low > 0 or high < 0) == (verdict != "undetermined")


@pytest.mark.slow
def test_bound_tightness_is_vacuous_below_the_class_count():
    result = _run("bound-tightness", noise=[0.0, 0.05], k=[1, 4])
    assert result.extra["bound_held"]
    rows = {(row["k"], row["noise"]): row for row in result.extra["table"]}
    assert rows[1, 0.05]["vacuous_share"] == 1.0 and rows[4, 0.05]["vacuous_share"] == 0.0
    assert rows[4, 0.05]["bound_paper_form"] >= rows[4, 0.05]["bound_rigorous_phi"]
    # noise 0: four components, s_2 = 1, so at k = 1 there is no gap and no bound (left out, counted)
    assert rows[1, 0.0]["undefined"] == 1 and rows[1, 0.0]["bound_rigorous_phi"] is None


@pytest.mark.slow
def test_finite_samples_approach_the_population_floor():
    result = _run("finite-samples", seeds=[0], n_pairs=[300, 20000])
    small, large = _by(result.points, "n_pairs")
    floor = small["population"]["probe_error_ls"]
    assert large["probe_error_ls"] < small["probe_error_ls"] and large["probe_error_ls"] <= floor + 0.02
    assert small["missing_mass"] > large["missing_mass"] >= 0


@pytest.mark.slow
def test_training_curves_and_verdicts():
    result = _run("training", solver=["gd", "infonce"], tau=[0.5], steps=300, batch_size=128)
    gd, infonce = result.points
    assert gd["params"] == {"solver": "gd", "tau": None} and infonce["params"] == {"solver": "infonce", "tau": 0.5}
    assert gd["passed"] and gd["loss_gap"] <= 1e-6 and gd["subspace_distance"] <= 1e-4
    assert infonce["passed"] is None and infonce["reason"] == "not judged"
    for p in (gd, infonce):
        lengths = {len(result.arrays[key]) for key in p["arrays"].values()}
        assert len(lengths) == 1 and lengths.pop() > 0
    assert result.extra["temperature"][0]["tau"] == 0.5


def test_equivalence_agrees_and_flags_ill_determined_subspaces():
    result = _run("equivalence", n_images=[30], density=[0.3], noise=[0.0, 0.3])
    assert result.passed and not result.extra["equivalence"]["counts"]["disagrees"]
    for p in result.points:
        if p["status"] == "agrees":
            assert p["subspace_distance"] <= p["tolerance"]
        else:
            # an exact tie (singular_gap 0) makes the bound infinite, which the run's strict JSON writes as null
            bound = float("inf") if p["angle_bound"] is None else p["angle_bound"]
            assert p["status"] == "ill-determined" and bound > AMBIGUITY
            assert p["angle_bound"] is not None or p["singular_gap"] <= 0
    # noise 0: four disconnected classes, s_1 = .. = s_4 = 1, so k = 2 cannot pick a subspace
    assert any(p["status"] == "ill-determined" for p in result.points if p["params"]["noise"] == 0.0)


def test_equivalence_reports_a_wrong_sscl_optimum_as_disagreement(monkeypatch):
    true = equivalence.sscl_optimum

    def rotated(g, k):
        values, vectors = true(g, k + 1)
        return values[:k], np.concatenate([vectors[:, :k - 1], vectors[:, k:k + 1]], axis=1)  # u_k -> u_{k+1}

    monkeypatch.setattr(equivalence, "sscl_optimum", rotated)
    result = _run("equivalence", seeds=[0], n_images=[30], density=[0.3], noise=[0.3], k=[4])
    assert [p["status"] for p in result.points] == ["disagrees"] and not result.passed


@pytest.mark.slow
def test_resampling_compares_with_the_paper_by_sign():
    result = _run("resampling", seeds=[0], objective="spectral")  # ntxent: tests/test_resampling.py
    comparison = {c["method"]: c for c in result.extra["comparison_with_paper"]}
    assert {m: c["paper_delta"] for m, c in comparison.items()} == {
        "add_new_positive": 6.2, "drop_false_positive": 0.6, "drop_false_negative": 0.2, "drop_easy_negative": 1.1}
    for c in comparison.values():
        assert c["agrees"] == "undetermined" and c["objective"] == "spectral"  # one seed settles no sign
    [point] = result.points
    base = point["methods"]["baseline"]["probe_error"]
    for method, delta in point["delta"].items():
        assert delta == pytest.approx(100 * (point["methods"][method]["probe_error"] - base))


@pytest.mark.slow
def test_spectrum_eigenvalues_are_squared_singular_values():
    result = _run("spectrum")
    for p in result.points:
        assert p["eigenvalue_error"] <= 1e-12
        s = result.arrays[p["arrays"]["singular_values"]]
        if p["params"]["graph"] == "block":  # s_2..s_r = (a - b) / (a + (r - 1) b) with a = 1, b = 0.1, r = 4
            np.testing.assert_allclose(s[1:4], 0.9 / 1.3, atol=1e-12)
            assert s[4] <= 1e-12


def test_a_point_that_fails_its_checks_fails_the_run(monkeypatch, tmp_path, capsys):
    from amf.experiments import captions

    real = captions.verified
    monkeypatch.setattr(captions, "verified", lambda *a: {**real(*a), "passed": False})
    argv = ["experiment", "consistency", "--quick", "--seeds", "1", "--set", "noise=0.1", "--set", "n_pairs=0",
            "--out", str(tmp_path / "r")]
    assert main(argv) == 1
    assert "0/1" in capsys.readouterr().out


def _cell(text: str) -> tuple:
    """A table cell of docs/experiments.md as a tuple of values (numbers as floats, so 5 == 5.0)."""
    def value(word):
        try:
            return float(word)
        except ValueError:
            return {"true": True, "false": False}.get(word, word)

    return tuple(value(w.strip()) for w in text.split(","))


def _config_cell(value) -> tuple:
    return tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                 for v in (value if isinstance(value, tuple) else (value,)))


def _doc_tables() -> dict[str, dict[str, tuple[str, str]]]:
    """Per experiment section of docs/experiments.md: key -> (full cell, quick cell) of its table."""
    text = (ROOT / "docs" / "experiments.md").read_text()
    tables = {}
    for section in text.split("\n### `")[1:]:
        name, body = section.split("`", 1)
        rows = [line.split("|")[1:-1] for line in body.split("\n## ")[0].splitlines() if line.startswith("| `")]
        tables[name] = {cells[0].strip().strip("`"): (cells[1].strip(), cells[2].strip()) for cells in rows}
    return tables


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_documented_defaults_and_quick_presets_are_the_configs(name):
    """Every key of every experiment has a row in docs/experiments.md whose full and quick values are the
    config's (``same`` = the quick preset keeps the full value), and no row names a key the config lacks."""
    import dataclasses

    table = _doc_tables()[name]
    full, quick = EXPERIMENTS[name].make_config(), EXPERIMENTS[name].make_config(quick=True)
    keys = [f.name for f in dataclasses.fields(full)]
    assert sorted(table) == sorted(keys), name
    for key in keys:
        stated_full, stated_quick = table[key]
        assert _cell(stated_full) == _config_cell(getattr(full, key)), (name, key, "full")
        expected_quick = "same" if getattr(quick, key) == getattr(full, key) else _config_cell(getattr(quick, key))
        assert (stated_quick if stated_quick == "same" else _cell(stated_quick)) == expected_quick, \
            (name, key, "quick")


def test_the_docs_table_check_catches_a_wrong_value(monkeypatch):
    """A stated value that is not the config's fails (the quick k of bound-tightness, said as 1, 4, 8)."""
    real = _doc_tables()
    assert real["bound-tightness"]["k"][1] != "1, 4, 8"
    wrong = {**real, "bound-tightness": {**real["bound-tightness"], "k": (real["bound-tightness"]["k"][0], "1, 4, 8")}}
    monkeypatch.setattr(f"{__name__}._doc_tables", lambda: wrong)
    with pytest.raises(AssertionError):
        test_documented_defaults_and_quick_presets_are_the_configs("bound-tightness")
