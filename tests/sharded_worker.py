"""Worker for the multi-device tests: run as a script so it can fake CPU devices or join a distributed run.

    python -m tests.sharded_worker local DEVICES OUT.npz
    python -m tests.sharded_worker process PROCESS_ID N_PROCESSES PORT OUT.npz

Computes the top singular triplets of a fixed synthetic graph's ``Pn`` with the row-sharded operator over every
device JAX sees, and (process 0) writes them with the sharded products of fixed blocks for the test to compare
with a single-device run.
"""

from __future__ import annotations

import sys

import jax
import numpy as np

K = 5


def graph():
    import synthetic
    from amf.graph import CoOccurrence

    return CoOccurrence.from_edges(
        synthetic.planted_model(n_images=301, n_texts=203, n_edges=3000, n_classes=4, noise=0.2, seed=7)
    )


def compute(out: str) -> None:
    import amf  # noqa: F401  (float64)
    from amf.operators.sharded import device_mesh, sharded_operator

    g = graph()
    op = sharded_operator(g.normalized, device_mesh())
    m = g.n_images
    rng = np.random.default_rng(0)  # the test draws the same blocks
    x = rng.standard_normal((g.n_texts, 3))
    y = np.zeros((op.shape[0], 3))
    y[:m] = rng.standard_normal((m, 3))
    matmat = jax.jit(lambda o, x: o.matmat(x))(op, x)
    rmatmat = jax.jit(lambda o, y: o.rmatmat(y))(op, jax.make_array_from_callback(y.shape, op.row_sharding(),
                                                                                 lambda i: y[i]))
    from amf.solvers.krylov import topk_svd

    result = topk_svd(op, K + 1, n_rows=m)
    arrays = {
        "matmat": _gather(matmat)[:m],
        "rmatmat": _gather(rmatmat),
        "devices": np.array(jax.device_count()),
        "processes": np.array(jax.process_count()),
        "basis_side": np.array(op.basis_side),
    }
    arrays.update(u=result.u, s=result.s, vt=result.vt, converged=np.array(result.certificate.converged))
    if jax.process_index() == 0:
        np.savez(out, **arrays)


def _gather(x: jax.Array) -> np.ndarray:
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "process":
        process_id, n_processes, port, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.config.update("jax_num_cpu_devices", 2)
        jax.distributed.initialize(f"127.0.0.1:{port}", num_processes=n_processes, process_id=process_id)
        compute(out)
        jax.distributed.shutdown()
    else:
        jax.config.update("jax_num_cpu_devices", int(sys.argv[2]))
        compute(sys.argv[3])
