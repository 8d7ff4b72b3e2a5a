"""The command line: exit status 0 / 1 / 2, report keys of docs/file-format.md, one-line errors, nothing
half-written."""

import json
import subprocess
import sys

import numpy as np
import pytest

from amf.cli import main
from amf.graph import CoOccurrence

REPORT_KEYS = {
    "amf_version", "solver", "dtype", "k", "graph", "singular_values", "loss_min", "loss_at_solution",
    "text_induced_eigenvalues", "alpha", "phi", "probe_error_ls", "bounds", "checks", "passed",
    "seed", "versions", "device",
}


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("graphs") / "block.npz"
    assert main(["generate", "block", "--out", str(path), "--set", "n_classes=3", "--set", "across=0.2"]) == 0
    return path


def test_generate_writes_a_loadable_graph(graph_file):
    g = CoOccurrence.load(graph_file)
    assert g.shape == (24, 18) and g.image_labels is not None and g.text_labels is not None


def test_verify_passes_and_writes_the_contract_report(graph_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["verify", str(graph_file), "--k", "3", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert REPORT_KEYS <= set(report)
    assert set(report["graph"]) >= {"n_images", "n_texts", "nnz", "n_components"}
    assert set(report["bounds"]) >= {"rigorous_phi", "rigorous_alpha", "paper_form"}
    assert all(set(c) == {"name", "passed", "value", "tolerance", "detail"} for c in report["checks"])
    assert report["passed"] and len(report["singular_values"]) == 4
    # block model closed form: s_2 = s_3 = (a - b)/(a + (r-1) b) with a = 1, b = 0.2, r = 3
    np.testing.assert_allclose(report["singular_values"][:3], [1.0, 0.8 / 1.4, 0.8 / 1.4], rtol=1e-12)
    assert "all checks passed" in capsys.readouterr().out


def test_failed_check_exits_1(graph_file, monkeypatch, capsys):
    import amf.checks.context

    monkeypatch.setattr(amf.checks.context, "IDENTITY_TOL", -1.0)  # no identity can hold to a negative tolerance
    assert main(["verify", str(graph_file), "--k", "2"]) == 1
    assert "SOME CHECKS FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["verify", "missing.npz", "--k", "2"], "graph file not found"),
        (["verify", "{graph}", "--k", "0"], "k must be an integer in [1, min(N_V, N_L) = "),
        (["verify", "{graph}", "--k", "99"], "k must be an integer in [1, min(N_V, N_L) = "),
        (["generate", "nosuchmodel", "--out", "{tmp}/g.npz"], "unknown model"),
        (["generate", "block", "--out", "{tmp}/g.npz", "--set", "n_classes=1"], "n_classes"),
        (["generate", "block", "--out", "{tmp}/g.npz", "--set", "colour=red"], "unknown parameter"),
        (["generate", "block", "--out", "{tmp}/g.npz", "--set", "oops"], "KEY=VALUE"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, graph_file, tmp_path, capsys):
    argv = [a.format(graph=graph_file, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_graph_file_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, rows=np.array([0, 1]), cols=np.array([0, 5]), weights=np.ones(2), shape=np.array([2, 2]))
    assert main(["verify", str(path), "--k", "1", "--json", str(tmp_path / "r.json")]) == 2
    assert "cols index 5 out of range" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_drop_isolated(tmp_path, capsys):
    path = tmp_path / "lonely.npz"
    np.savez(path, rows=np.array([0, 1, 1]), cols=np.array([0, 0, 1]), weights=np.ones(3), shape=np.array([3, 3]))
    assert main(["verify", str(path), "--k", "1"]) == 2
    assert main(["verify", str(path), "--k", "1", "--drop-isolated"]) == 0
    assert "dropped 1 isolated image(s) and 1 isolated text(s)" in capsys.readouterr().out


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["verify"])
    assert info.value.code == 2


def test_solve_writes_embeddings_that_reevaluate(graph_file, tmp_path):
    import amf

    assert main(["solve", str(graph_file), "--k", "3", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    with np.load(tmp_path / "embeddings.npz") as data:
        f_v, f_l = data["f_images"], data["f_texts"]
    loss = float(amf.mmcl_loss(CoOccurrence.load(graph_file).joint_arrays(), f_v, f_l))
    assert loss == pytest.approx(report["loss_at_solution"], rel=1e-12)


@pytest.mark.slow
def test_console_script_runs(graph_file):
    done = subprocess.run(
        [sys.executable, "-m", "amf.cli", "verify", str(graph_file), "--k", "3"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_solve_gd_writes_curve_and_converges(graph_file, tmp_path):
    import amf

    assert main(["solve", str(graph_file), "--k", "3", "--solver", "gd", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] and abs(report["loss_gap"]) <= 1e-6 and report["subspace_distance"] <= 1e-4
    with np.load(tmp_path / "curve.npz") as curve:
        assert len(curve["step"]) == len(curve["loss"]) > 0
    with np.load(tmp_path / "embeddings.npz") as data:
        loss = float(amf.mmcl_loss(CoOccurrence.load(graph_file).joint_arrays(), data["f_images"], data["f_texts"]))
    assert loss == pytest.approx(report["loss_at_solution"], rel=1e-10)


def test_solve_rejects_gradient_options_for_spectral_solvers(graph_file, tmp_path, capsys):
    assert main(["solve", str(graph_file), "--k", "3", "--steps", "10", "--out", str(tmp_path / "x")]) == 2
    assert "unknown option 'steps' of the exact solver; allowed: tol" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    for solver, flag in (("gd", "--tau"), ("gd", "--batch-size"), ("sgd", "--normalize")):
        argv = ["solve", str(graph_file), "--k", "3", "--solver", solver, flag, *(["2"] if "normalize" not in flag
                                                                                   else []), "--out", str(tmp_path / "x")]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"unknown option '{flag[2:].replace('-', '_')}' of the {solver} solver; allowed: " in err
        assert not (tmp_path / "x").exists()
