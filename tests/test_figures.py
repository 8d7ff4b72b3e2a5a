"""``amf figures``: every figure of the manifest from the quick experiments, drawn from saved results, and a
second run that recomputes nothing (counted from the run folders, not timed)."""

from __future__ import annotations

import json

import pytest

from amf.cli import main
from amf.errors import InputError
from figures import BENCH_RESULTS, FIGURES
from figures.build import CHECKOUT, plan

ROWS = [{"n": n, "nnz": 10 * n, "k": 8, "method": m, "time_s": t * n / 1e4, "peak_mb": 50.0, "max_res": 1e-10}
        for n in (1000, 10000) for m, t in (("amf-f64", 1.0), ("arpack-tol", 2.0), ("propack", 1.5))]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    out = tmp_path_factory.mktemp("figures")
    bench = out / "rows.json"
    bench.write_text(json.dumps(ROWS))
    code = main(["figures", "--quick", "--out", str(out / "figs"), "--bench", str(bench)])
    return out / "figs", bench, code


@pytest.mark.slow
def test_every_figure_is_drawn_as_png_and_pdf(drawn):
    out, _, code = drawn
    assert code in (0, 1)  # 1: a quick point failed its checks, drawn as measured (the manifest counts them)
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["name"] for e in manifest["figures"]] == list(FIGURES)
    for entry in manifest["figures"]:
        assert entry["claim"] and {f.rsplit(".", 1)[1] for f in entry["files"]} == {"png", "pdf"}
        for name in entry["files"]:
            head = (out / name).read_bytes()[:8]
            assert head.startswith(b"\x89PNG\r\n\x1a\n") if name.endswith(".png") else head.startswith(b"%PDF")
        if entry["name"] != "scale":
            results = json.loads((out / entry["results"]).read_text())
            assert results["config"] == entry["config"] and entry["versions"]["amf"]
            assert entry["computed"] == len(results["points"]) and entry["seeds"] == results["seeds"]
    assert code == (1 if any(e["failed_points"] for e in manifest["figures"]) else 0)


@pytest.mark.slow
def test_a_second_run_recomputes_nothing_and_replot_never_computes(drawn, capsys):
    out, bench, code = drawn
    assert main(["figures", "--quick", "--out", str(out), "--bench", str(bench), "--format", "svg"]) == code
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(e["computed"] == 0 for e in manifest["figures"])
    assert all(f.endswith(".svg") for e in manifest["figures"] for f in e["files"])
    assert main(["figures", "--quick", "--replot", "--only", "consistency", "--out", str(out)]) == code
    assert "0 points computed" in capsys.readouterr().out


@pytest.mark.slow
def test_only_keeps_the_other_entries_and_recompute_recomputes(drawn):
    out, bench, _ = drawn
    main(["figures", "--quick", "--only", "spectrum", "--recompute", "--out", str(out), "--bench", str(bench)])
    manifest = {e["name"]: e for e in json.loads((out / "manifest.json").read_text())["figures"]}
    assert set(manifest) == set(FIGURES) and manifest["spectrum"]["computed"] == 2


@pytest.mark.parametrize("argv, message", [
    (["--only", "nope"], "unknown figure 'nope'"),
    (["--format", "png,gif"], "--format takes"),
    (["--replot", "--only", "diversity"], "no up-to-date results for diversity"),
])
def test_bad_figure_requests_exit_2_before_any_work(argv, message, tmp_path, capsys):
    assert main(["figures", "--quick", "--out", str(tmp_path / "f"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "f" / "results").exists()


def test_scale_is_skipped_without_benchmark_rows_and_says_so_on_stderr(tmp_path, capsys):
    assert main(["figures", "--quick", "--only", "scale", "--out", str(tmp_path), "--bench",
                 str(tmp_path / "none.json")]) == 0
    err = capsys.readouterr().err
    assert "scale skipped: no benchmark rows at" in err and "none.json" in err
    assert not (tmp_path / "scale.png").exists()


def test_the_default_benchmark_rows_are_found_from_any_working_folder(tmp_path, monkeypatch, capsys):
    assert (CHECKOUT / BENCH_RESULTS).is_file()  # shipped with the checkout
    monkeypatch.chdir(tmp_path)  # no docs/ here
    assert main(["figures", "--only", "scale", "--out", "figs", "--format", "png"]) == 0
    assert (tmp_path / "figs" / "scale.png").is_file() and "skipped" not in capsys.readouterr().err
    entry = json.loads((tmp_path / "figs" / "manifest.json").read_text())["figures"][0]
    assert entry["results"] == str(CHECKOUT / BENCH_RESULTS)


def test_only_accepts_underscores_for_hyphens(tmp_path):
    chosen = plan(["finite_samples", "mmcl_vs_sscl", "scale"], quick=True, out=tmp_path, replot=False)
    assert [figure.name for figure, _ in chosen] == ["finite-samples", "mmcl-vs-sscl", "scale"]
    with pytest.raises(InputError, match="unknown figure 'finite_sample'"):
        plan(["finite_sample"], quick=True, out=tmp_path, replot=False)
