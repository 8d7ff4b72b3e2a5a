"""GPU timings of the matrix-free solver: planted graphs of 10^6 and 10^7 nodes a side, one table.

    python benchmarks/gpu_check.py [--sizes 1e6,1e7] [--edges-per-node 10] [--k 64] [--dtypes float32,float64]

The graph of each (size, k) has k planted classes, so s_k - s_{k+1} is the gap after the class block (cutting
inside a cluster of near-equal singular values would measure a harder problem than the theory poses).
For each size, k and dtype: the time to build the graph and the operator on the host, the first solve
(compile + run) and a second solve of the same shapes (run only), with the certificate's max relative residual,
cycles and products. Target (issue 4): 10^7 nodes a side, 10^8 edges, k = 64 in under 10 s on an H100.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import jax  # noqa: E402

import synthetic  # noqa: E402
from amf import CoOccurrence, topk_svd  # noqa: E402  (importing amf enables float64)


def run(sizes, ks, dtypes, edges_per_node: int = 10) -> list[dict]:
    rows = []
    for n in sizes:
        for k in ks:
            t = time.perf_counter()
            edges = synthetic.planted_model(n_images=n, n_texts=n, n_edges=edges_per_node * n,
                                            n_classes=k, noise=0.1, seed=0)
            graph = CoOccurrence.from_edges(edges)
            del edges
            host_s = time.perf_counter() - t
            for dtype in dtypes:
                t = time.perf_counter()
                op = graph.normalized_operator(dtype)
                jax.block_until_ready(op)
                op_s = time.perf_counter() - t
                times = []
                for _ in range(2):
                    t = time.perf_counter()
                    result = topk_svd(op, k)
                    times.append(time.perf_counter() - t)
                cert = result.certificate
                rows.append(dict(n=n, nnz=graph.nnz, k=k, dtype=dtype, graph_s=host_s, operator_s=op_s,
                                 first_s=times[0], solve_s=times[1], residual=cert.max_residual,
                                 cycles=cert.iterations, products=cert.matvecs, converged=cert.converged))
                print(_line(rows[-1]), flush=True)
                del op
    return rows


def _line(r: dict) -> str:
    return (f"{r['n']:>9.0e} {r['nnz']:>11,} {r['k']:>3} {r['dtype']:>8} {r['graph_s']:8.1f} {r['operator_s']:8.1f} "
            f"{r['first_s']:8.2f} {r['solve_s']:8.2f} {r['residual']:9.1e} {r['cycles']:6} {r['products']:8} "
            f"{r['converged']!s:>5}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--k", default="64")
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--edges-per-node", type=int, default=10)
    args = ap.parse_args(argv)
    device = jax.devices()[0]
    print(f"device: {device.platform} {device.device_kind} x{jax.device_count()}, jax {jax.__version__}")
    print(f"{'n/side':>9} {'nnz':>11} {'k':>3} {'dtype':>8} {'graph_s':>8} {'op_s':>8} {'first_s':>8} "
          f"{'solve_s':>8} {'residual':>9} {'cycles':>6} {'products':>8} {'conv':>5}")
    rows = run([int(float(x)) for x in args.sizes.split(",")], [int(x) for x in args.k.split(",")],
               args.dtypes.split(","), args.edges_per_node)
    return 0 if all(r["converged"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
