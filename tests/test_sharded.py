"""Multi-device and multi-process solves equal the single-device solve to round-off.

The sharded runs happen in subprocesses (`tests.sharded_worker`): JAX fixes its device count at start-up, so a
test process cannot fake 4 CPU devices after the fact, and the two-process run joins a `jax.distributed`
cluster of two CPU processes on loopback (gloo collectives), the path a multi-host GPU/TPU job takes.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from amf._linalg import projector_distance
from amf.solvers.lanczos_spec import default_tolerance
from amf.solvers.krylov import topk_svd
from tests import sharded_worker

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def single_device():
    g = sharded_worker.graph()
    rng = np.random.default_rng(0)  # the worker's fixed blocks
    x = rng.standard_normal((g.n_texts, 3))
    y = rng.standard_normal((g.n_images, 3))
    return g, x, y, topk_svd(g.normalized_operator(), sharded_worker.K + 1)


def _run(*args, timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("XLA_FLAGS", None)
    return subprocess.Popen([sys.executable, "-m", "tests.sharded_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _assert_matches(out: Path, single_device, devices: int, processes: int):
    g, x, y, reference = single_device
    with np.load(out) as data:
        assert int(data["devices"]) == devices and int(data["processes"]) == processes
        assert str(data["basis_side"]) == "left"  # the Krylov basis lives on the sharded image side
        np.testing.assert_allclose(data["matmat"], g.normalized @ x, rtol=0, atol=1e-13)
        np.testing.assert_allclose(data["rmatmat"], g.normalized.T @ y, rtol=0, atol=1e-13)
        assert bool(data["converged"])
        np.testing.assert_allclose(data["s"], reference.s, rtol=0, atol=1e-12)
        assert data["u"].shape == reference.u.shape
        # top K triplets (a gap after them): each solve's residuals are <= tol s_1, so each subspace is within
        # tol / singular_gap of span(U_K) (Davis-Kahan / Wedin), and the two within twice that of each other
        k = sharded_worker.K
        limit = 2 * default_tolerance("float64") / (reference.s[k - 1] - reference.s[k])
        assert projector_distance(data["u"][:, :k], reference.u[:, :k]) < limit
        assert projector_distance(data["vt"][:k].T, reference.vt[:k].T) < limit


@pytest.mark.slow
def test_four_devices_match_one(tmp_path, single_device):
    worker = _run("local", "4", str(tmp_path / "out.npz"))
    output, _ = worker.communicate(timeout=240)
    assert worker.returncode == 0, output
    _assert_matches(tmp_path / "out.npz", single_device, devices=4, processes=1)


@pytest.mark.slow
def test_two_processes_on_loopback_match_one(tmp_path, single_device):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    workers = [_run("process", str(i), "2", str(port), str(tmp_path / "out.npz")) for i in range(2)]
    outputs = [w.communicate(timeout=240)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    _assert_matches(tmp_path / "out.npz", single_device, devices=4, processes=2)
