"""No input can crash amf, hang it or exhaust memory: each case of bad input or a bad output path ends in one
line on stderr and exit status 2, in bounded time, with nothing half-written; a fuzz test throws malformed graph
files and argument lists at the command line."""

from __future__ import annotations

import time
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import amf
from amf.cli import main

EDGES = dict(rows=np.array([0, 1, 2, 3]), cols=np.array([0, 1, 2, 3]), weights=np.ones(4))


def run(argv, capsys):
    """``main(argv)`` as the console script runs it: the exit status and stderr (argparse exits via SystemExit)."""
    started = time.perf_counter()
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    err = capsys.readouterr().err.strip()
    return status, err, time.perf_counter() - started


def one_line(err):
    return err and "\n" not in err and "Traceback" not in err


@pytest.fixture(scope="module")
def graph_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("graph") / "g.npz"
    assert main(["generate", "block", "--out", str(path), "--set", "n_classes=3"]) == 0
    return path


@pytest.mark.parametrize("side", [10**9, 2**32 + 1, 2**40, 2**63 - 1])
def test_a_declared_shape_costs_nothing_until_the_edges_support_it(tmp_path, capsys, side):
    """4 edges declaring 10^9 x 10^9 nodes took 24 GB and died; now it is refused from the edges, at once."""
    path = tmp_path / "huge.npz"
    np.savez(path, **EDGES, shape=np.array([side, side], dtype=np.int64))
    status, err, seconds = run(["verify", str(path), "--k", "2"], capsys)
    assert status == 2 and one_line(err) and seconds < 10
    assert ("have no edge" in err) if side < 2**31 else ("exceeds the largest side" in err)


def test_drop_isolated_renumbers_from_the_edges(tmp_path, capsys):
    path = tmp_path / "huge.npz"
    np.savez(path, **EDGES, shape=np.array([10**9, 10**9]))
    graph = amf.CoOccurrence.load(path, drop_isolated=True)
    assert graph.shape == (4, 4) and graph.dropped == (10**9 - 4, 10**9 - 4)


def test_uint64_index_is_named_as_it_is(tmp_path, capsys):
    path = tmp_path / "u.npz"
    np.savez(path, rows=np.array([0, 1, 2, 2**64 - 1], dtype=np.uint64), cols=EDGES["cols"], weights=np.ones(4),
             shape=np.array([4, 4]))
    status, err, _ = run(["verify", str(path), "--k", "2"], capsys)
    assert status == 2 and one_line(err) and str(2**64 - 1) in err


@pytest.mark.slow
def test_label_ids_are_classes_not_columns():
    """ImageNet-style ids (about 1.4 million) cost what ids 0..3 cost: the one-hot has one column per class."""
    rng = np.random.default_rng(0)
    rows, cols = np.repeat(np.arange(40), 4), rng.integers(0, 30, 160)
    cols[:30] = np.arange(30)
    small = amf.CoOccurrence.from_arrays(rows, cols, np.ones(160), (40, 30), np.arange(40) % 4, np.arange(30) % 4)
    big = amf.CoOccurrence.from_arrays(rows, cols, np.ones(160), (40, 30), 1_400_000 + 10**8 * (np.arange(40) % 4),
                                       1_400_000 + 10**8 * (np.arange(30) % 4))
    a, _ = amf.verify(small, 3)
    b, _ = amf.verify(big, 3)
    for key in ("alpha", "phi", "probe_error_ls"):
        assert a[key] == pytest.approx(b[key], abs=1e-15)


@pytest.mark.parametrize("value", [1e308, 1e-320])
def test_extreme_but_valid_weights(tmp_path, value):
    """All weights 1e308 (the sum overflows) or 1e-320 (subnormal): the same joint as all weights 1."""
    rng = np.random.default_rng(1)
    rows, cols = np.repeat(np.arange(30), 3), rng.integers(0, 20, 90)
    cols[:20] = np.arange(20)
    ones = amf.CoOccurrence.from_arrays(rows, cols, np.ones(90), (30, 20))
    extreme = amf.CoOccurrence.from_arrays(rows, cols, np.full(90, value), (30, 20))
    assert abs(extreme.joint - ones.joint).max() <= 1e-16
    report, _ = amf.verify(extreme, 2)
    assert report["passed"]


@pytest.mark.parametrize("content, message", [
    (b"hello\n", "not an .npz archive"),
    (np.lib.format.magic(1, 0) + b"{}", "not an .npz archive"),
])
def test_files_that_are_no_npz(tmp_path, capsys, content, message):
    path = tmp_path / "g.npz"
    path.write_bytes(content)
    status, err, _ = run(["verify", str(path), "--k", "2"], capsys)
    assert status == 2 and one_line(err) and message in err


def test_a_folder_is_called_a_folder(tmp_path, capsys):
    status, err, _ = run(["verify", str(tmp_path), "--k", "2"], capsys)
    assert status == 2 and "is a folder" in err


@pytest.mark.parametrize("argv, message", [
    (["demo", "--seed", "-1"], "seed must be an integer in [0, 4294967295]"),
    (["demo", "--seed", "1234567890123456789012345"], "seed must be an integer"),
    (["verify", "{graph}", "--k", "2", "--solver", "krylov", "--devices", "0"], "must be an integer >= 1"),
    (["verify", "{graph}", "--k", "2", "--dense-limit", "-1"], "must be an integer >= 0"),
    (["verify", "{graph}", "--k", "2", "--bogus"], "unrecognized arguments"),
    (["solve", "{graph}", "--k", "2", "--solver", "gd", "--tau", "0.5", "--out", "{tmp}/s"],
     "unknown option 'tau' of the gd solver"),
    (["solve", "{graph}", "--k", "2", "--solver", "exact", "--steps", "5", "--out", "{tmp}/s"],
     "unknown option 'steps' of the exact solver"),
    (["solve", "{graph}", "--k", "2", "--solver", "sgd", "--lr", "-1", "--out", "{tmp}/s"], "lr must be a number > 0, got -1"),
])
def test_bad_arguments_are_one_line(graph_file, tmp_path, capsys, argv, message):
    argv = [a.format(graph=graph_file, tmp=tmp_path) for a in argv]
    status, err, _ = run(argv, capsys)
    assert status == 2 and one_line(err) and message in err, err
    assert not (tmp_path / "s").exists()


def test_outputs_are_checked_before_any_work(graph_file, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.txt").write_text("keep me")
    cases = [
        (["verify", str(graph_file), "--k", "2", "--json", str(tmp_path)], "is a folder"),
        (["verify", str(graph_file), "--k", "2", "--json", str(graph_file)], "is an input"),
        (["solve", str(graph_file), "--k", "2", "--out", str(afile)], "is an existing file"),
        (["solve", str(graph_file), "--k", "2", "--out", str(mine)], "was not written by amf"),
    ]
    for argv, message in cases:
        status, err, seconds = run(argv, capsys)
        assert status == 2 and one_line(err) and message in err, err
    assert (mine / "data.txt").read_text() == "keep me" and afile.read_text() == "x"
    assert amf.CoOccurrence.load(graph_file).nnz > 0  # the input is intact


@pytest.mark.slow
def test_an_output_folder_is_whole_and_replaced_by_a_rerun(graph_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["solve", str(graph_file), "--k", "2", "--solver", "gd", "--steps", "50", "--out", str(out)]) in (0, 1)
    assert (out / "curve.npz").exists()
    assert main(["solve", str(graph_file), "--k", "2", "--solver", "exact", "--out", str(out)]) == 0
    assert not (out / "curve.npz").exists() and (out / "report.json").exists()  # nothing of the gd run is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temporary sibling stays behind


def test_an_interrupted_run_leaves_nothing(graph_file, tmp_path, capsys, monkeypatch):
    import amf.cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(amf.cli, "write_json", interrupt)  # Ctrl-C while the outputs are being written
    out = tmp_path / "run"
    status, err, _ = run(["solve", str(graph_file), "--k", "2", "--out", str(out)], capsys)
    assert status == 130 and err == "amf solve: interrupted"
    assert list(tmp_path.iterdir()) == []


# ---- fuzz: malformed graph files and argument lists -----------------------------------------------------------

KEYS = ("rows", "cols", "weights", "shape", "image_labels", "text_labels")


@st.composite
def malformed_graph(draw):
    """An .npz whose arrays are drawn from plausible and broken values alike."""
    arrays = {}
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))):
        kind = draw(st.sampled_from(["int", "float", "bool", "nan", "neg", "2d", "big", "empty", "str"]))
        n = draw(st.integers(0, 12))
        value = {
            "int": lambda: np.asarray(draw(st.lists(st.integers(-3, 20), min_size=n, max_size=n)), dtype=np.int64),
            "float": lambda: np.asarray(draw(st.lists(st.floats(-1, 1e3, allow_nan=False), min_size=n, max_size=n))),
            "bool": lambda: np.ones(n, dtype=bool),
            "nan": lambda: np.full(n, np.nan),
            "neg": lambda: -np.ones(n),
            "2d": lambda: np.ones((n, 2)),
            "big": lambda: np.full(max(n, 2), 2**62, dtype=np.int64),
            "empty": lambda: np.zeros(0),
            "str": lambda: np.array(["a"] * n),
        }[kind]()
        arrays[key] = value
    return arrays


@pytest.mark.slow  # 40 solves of malformed files; the argument-list fuzz stays in the fast subset
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arrays=malformed_graph(), k=st.integers(-1, 4), solver=st.sampled_from(["exact", "krylov"]))
def test_fuzz_graph_files_never_crash(tmp_path_factory, capsys, arrays, k, solver):
    path = tmp_path_factory.mktemp("fuzz") / "g.npz"
    with zipfile.ZipFile(path, "w"):
        pass
    np.savez(path, **arrays)
    status, err, seconds = run(["verify", str(path), "--k", str(k), "--solver", solver], capsys)
    assert status in (0, 1, 2) and seconds < 30
    if status == 2:
        assert one_line(err), err
    else:
        assert "Traceback" not in err


FLAGS = ["--k", "--seed", "--solver", "--dtype", "--json", "--out", "--steps", "--lr", "--tau", "--devices",
         "--dense-limit", "--batch-size", "--embeddings", "--drop-isolated", "--normalize", "--bogus"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(["verify", "solve", "demo", "generate", "figures"]),
       words=st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(["-1", "0", "2", "1e9", "x", "gd", "krylov",
                                                                         "float16", "nan", ""])), max_size=6))
def test_fuzz_argument_lists_never_crash(graph_file, tmp_path_factory, capsys, command, words):
    folder = tmp_path_factory.mktemp("args")
    argv = [command] + ([str(graph_file)] if command in ("verify", "solve") else []) + words
    argv = [str(folder / "out") if a == "" else a for a in argv]
    if command in ("demo", "figures") and "--k" not in words and "--seed" not in words:
        argv += ["--bogus"]  # keep the fuzz fast: a full demo or figures run is not what is fuzzed
    status, err, seconds = run(argv, capsys)
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err and (status != 2 or one_line(err)), (argv, err)


def test_a_full_disk_is_one_line_and_leaves_nothing(graph_file, tmp_path, capsys, monkeypatch):
    import errno

    import amf.cli

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "report.json"))

    monkeypatch.setattr(amf.cli, "write_json", full)
    status, err, _ = run(["solve", str(graph_file), "--k", "2", "--out", str(tmp_path / "run")], capsys)
    assert status == 2 and one_line(err) and "No space left on device" in err
    assert list(tmp_path.iterdir()) == []  # no empty or partial folder


def test_an_output_under_a_file_is_refused_first(graph_file, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    status, err, _ = run(["verify", str(graph_file), "--k", "2", "--json", str(blocker / "r.json")], capsys)
    assert status == 2 and one_line(err) and "not a writable folder" in err
