"""Time the large planted-model generator (10^6 images, 10^6 texts, 10^7 edges by default).

    python benchmarks/bench_generate.py [--images N] [--texts N] [--edges E] [--classes K] [--repeat R]

Prints the wall time of every repetition, the best and median, and the process's peak resident memory.
Target: well under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from synthetic import planted_model  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=float, default=1e6)
    ap.add_argument("--texts", type=float, default=1e6)
    ap.add_argument("--edges", type=float, default=1e7)
    ap.add_argument("--classes", type=int, default=16)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--degree-exponent", type=float, default=2.5)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    params = dict(n_images=int(args.images), n_texts=int(args.texts), n_edges=int(args.edges),
                  n_classes=args.classes, noise=args.noise, degree_exponent=args.degree_exponent)
    times = []
    for rep in range(args.repeat):
        t0 = time.perf_counter()
        edges = planted_model(**params, seed=rep)
        times.append(time.perf_counter() - t0)
        print(f"run {rep}: {times[-1]:.3f} s  ({edges.nnz:,} edges, shape {edges.shape})")
        del edges
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(f"planted_model {params}")
    print(f"best {min(times):.3f} s, median {statistics.median(times):.3f} s, peak RSS {peak_mib:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
