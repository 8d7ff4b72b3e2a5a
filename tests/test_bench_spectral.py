"""The spectral benchmark's own measurements (benchmarks/bench_spectral.py): the residual it reports, the
power-iteration search that times scikit-learn at a given accuracy, and the plot."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_spectral  # noqa: E402


def test_max_residual_against_a_dense_svd():
    a = sp.csr_array(np.random.default_rng(0).standard_normal((40, 30)))
    u, s, vt = np.linalg.svd(a.toarray(), full_matrices=False)
    assert bench_spectral.max_residual(a, u[:, :5], s[:5], vt[:5]) <= 1e-13
    assert bench_spectral.max_residual(a, u[:, :5], s[:5] * 1.01, vt[:5]) >= 0.9e-2 * s[4] / s[0]


def test_randomized_search_reaches_the_target_and_times_that_run():
    pytest.importorskip("sklearn")
    a = bench_spectral.build_matrix(1000, 10.0, 8, 0.1, 2.5, 0)
    u, s, vt, extra = bench_spectral._randomized_to(a, 8, 0, 1e-6)
    assert bench_spectral.max_residual(a, u, s, vt) <= 1e-6
    assert extra["n_iter"] > 8 and 0 < extra["time_override"] <= extra["search_s"]


def test_plot_writes_a_file(tmp_path):
    rows = [dict(n=n, nnz=10 * n, k=4, method=method, time_s=t * n / 1e4, compile_s=0.1)
            for n in (10_000, 100_000) for method, t in (("amf-f64", 1.0), ("arpack-tol", 2.0))]
    rows.append(dict(n=10_000, k=4, method="propack", error="timeout"))
    path = tmp_path / "plot.png"
    bench_spectral.plot(rows, str(path))
    assert path.stat().st_size > 1000


def test_parts_of_a_host_solve_add_up_and_the_solver_is_restored():
    from amf.solvers import host_blocks, krylov_host

    before = (krylov_host.Normal.apply, krylov_host.combine, host_blocks.combine, krylov_host._orthonormalize)
    rows = bench_spectral.parts_table(3000, k=8, classes=8)
    parts = {row["part"]: row for row in rows}
    assert {"sparse products (solver)", "Gram-Schmidt and normalization (solver)",
            "restarts and Ritz vectors (combine)", "certificate: complement test",
            "certificate: residuals"} <= set(parts)
    assert parts["sparse products (solver)"]["calls"] == parts["Gram-Schmidt and normalization (solver)"]["calls"]
    total = rows[-1]["seconds"]
    assert abs(sum(row["seconds"] for row in rows[:-1]) - total) <= 0.05 and rows[-2]["seconds"] >= -0.01
    assert (krylov_host.Normal.apply, krylov_host.combine, host_blocks.combine,
            krylov_host._orthonormalize) == before
