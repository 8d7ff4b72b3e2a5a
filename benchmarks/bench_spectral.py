"""Benchmark the top-k SVD of ``Pn`` (`amf.solvers.krylov.topk_svd`) against scipy and scikit-learn, in one run.

    python benchmarks/bench_spectral.py [--sizes 1e4,1e5,1e6] [--k 32] [--edges-per-node 10] [--classes 32]
                                        [--noise 0.1] [--degree-exponent 2.5] [--methods ...] [--tol T]
                                        [--timeout S] [--plot FILE] [--json FILE] [--kernels | --parts]

Graph: ``synthetic.planted_model(n_images=n, n_texts=n, n_edges=10 n, n_classes=32, noise=0.1, seed=0)`` (its
defaults: power-law activities, ``degree_exponent = 2.5``), normalized to ``Pn = D_V^{-1/2} P D_L^{-1/2}``
(`amf.graph.CoOccurrence`); one connected component at every size here. With ``k`` = the number of classes (the
theory's setting) the wanted values are ``s_1 = 1`` and a cluster ``s_2..s_32 ~ 0.91-0.93`` with a gap after it
(``s_33 ~ 0.80`` at ``n = 10^5``); with ``--classes 16`` and ``k = 32`` half of them lie in the noise bulk, where
neighbouring values are close and every method needs more products.

Methods, each in a fresh subprocess (so peak memory is its own): ``amf-f64`` / ``amf-f32`` (`topk_svd` with
its default tolerance, 1e-8 / 1e-4, on `amf.operators.SparseOperator`, certificate included; given the matrix
only, so no class ordering), ``amf-f64-labels`` (the same, given the graph's class labels: its matrix stored
in the class ordering of `amf.operators.ordering.label_order`, which `amf.solve` and `amf verify` apply when
labels exist; the ordering's computation is timed), ``arpack`` / ``propack`` (``scipy.sparse.linalg.svds`` with
its defaults, ``tol = 0``: machine precision), ``arpack-tol`` (ARPACK stopped at amf-f64's tolerance, 1e-8 or
``--tol``: the like-for-like accuracy), ``primme`` (``primme.svds(A, k, which="LM", tol=1e-8)``, PRIMME's
documented call for the largest triplets with its default method, at amf-f64's tolerance; PRIMME ships as a
source package that needs a BLAS and LAPACK to link: `benchmarks/install_primme.sh`), ``sklearn``
(``sklearn.utils.extmath.randomized_svd``, 10 oversamples, with the fewest power iterations found to reach a max relative residual of `SKLEARN_TARGET` = 1e-6, timed at that
count: `_randomized_to`).

Columns: ``time_s`` wall time of the solve (for amf including JIT compilation and its certificate;
``certify_s`` is the part in `amf.solvers.certify.certify_svd`, ``compile_s`` the part spent compiling, from
`jax.monitoring`; for scikit-learn the run at ``n_iter`` alone); ``peak_mb`` the peak resident memory *during
the solve* (``VmHWM`` after resetting it through ``/proc/self/clear_refs`` once the matrix is built; XLA's
buffers included, unlike tracemalloc), ``csr_mb`` the CSR size of ``Pn``; ``max_res`` the largest relative residual
``max_i max(||A v_i - s_i u_i||, ||A^T u_i - s_i v_i||) / s_1``, recomputed here with scipy; ``s_k`` the k-th
singular value returned (methods that miss copies of a repeated value return a smaller one); ``matvecs`` the
columns multiplied by ``A`` or ``A^T`` (amf: including the ``2k`` of its certificate; ARPACK and PROPACK: counted
through a ``LinearOperator``, which is what ``svds`` makes of a sparse matrix anyway, and PRIMME's likewise; none
for scikit-learn, which needs the matrix itself); ``x_time`` /
``x_mem`` = method / amf-f64. `run(...)` returns the rows as a list of dicts; ``main`` prints one table.

``--parts`` instead times each part of one float64 host solve (`parts_table`: the solver's products, its
Gram–Schmidt, restarts, Rayleigh–Ritz, the certificate's complement test and residuals).

``--kernels`` instead times the sparse products ``A X`` and ``A^T X`` (scipy CSR, BCOO, gather +
``segment_sum``, the jagged layout of `amf.operators.jagged`, amf's host kernel from jit and directly, and
directly with rows and columns in class order) for 1, 8 and 32 columns.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from amf.io import atomic_write  # noqa: E402

METHODS = ("amf-f64", "amf-f32", "amf-f64-labels", "arpack", "arpack-tol", "propack", "primme", "sklearn")


# ---- one method in a child process ------------------------------------------------------------------------


def build_graph(n: int, edges_per_node: float, classes: int, noise: float, degree_exponent: float, seed: int):
    """The planted graph with ``n`` images and ``n`` texts (`amf.graph.CoOccurrence`, with its class labels)."""
    import synthetic
    from amf.graph import CoOccurrence

    edges = synthetic.planted_model(n_images=n, n_texts=n, n_edges=int(round(edges_per_node * n)),
                                    n_classes=classes, noise=noise, degree_exponent=degree_exponent, seed=seed)
    return CoOccurrence.from_edges(edges)


def build_matrix(n: int, edges_per_node: float, classes: int, noise: float, degree_exponent: float, seed: int):
    """``Pn`` (scipy CSR, float64) of the planted graph with ``n`` images and ``n`` texts."""
    return build_graph(n, edges_per_node, classes, noise, degree_exponent, seed).normalized


def _peak_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _counting(a):
    """``a`` as a scipy ``LinearOperator`` that counts the columns it multiplies by ``A`` or ``A^T`` (as
    ``aslinearoperator``, which ``svds`` applies to a sparse matrix, would multiply them)."""
    from scipy.sparse.linalg import LinearOperator

    products = [0]

    def counted(matrix):
        def product(x):
            products[0] += 1 if x.ndim == 1 else x.shape[1]
            return matrix @ x
        return product

    forward, backward = counted(a), counted(a.T)
    op = LinearOperator(a.shape, matvec=forward, rmatvec=backward, matmat=forward, rmatmat=backward, dtype=a.dtype)
    return op, products


def _solve(method: str, a, k: int, tol: float | None, seed: int, labels=None):
    """``(u, s, vt, extra)`` by ``method``; ``extra`` holds method-specific counters. ``labels``: the graph's
    ``(image_labels, text_labels)``, which ``amf-f64-labels`` turns into the class ordering."""
    if method.startswith("amf"):
        import jax

        from amf import topk_svd  # importing amf enables float64
        from amf.operators import sparse_operator
        from amf.operators.ordering import label_order

        compile_s = []
        jax.monitoring.register_event_duration_secs_listener(
            lambda name, secs, **kw: compile_s.append(secs) if "backend_compile" in name else None
        )
        dtype = "float32" if method == "amf-f32" else "float64"
        certify_s = []
        _timed_certificate(certify_s)
        order = label_order(a, *labels) if method == "amf-f64-labels" else None  # timed: part of the solve
        op = sparse_operator(a, dtype, order=order)
        result = topk_svd(op, k, tol=tol, key=jax.random.key(seed))
        cert = result.certificate
        extra = dict(iterations=cert.iterations, matvecs=cert.matvecs, converged=cert.converged,
                     compile_s=round(sum(compile_s), 2), certify_s=round(sum(certify_s), 2))
        return result.u, result.s, result.vt, extra
    if method in ("arpack", "arpack-tol", "propack"):
        import numpy as np
        from scipy.sparse.linalg import svds

        peer_tol = 0 if method != "arpack-tol" else (1e-8 if tol is None else tol)
        counted, products = _counting(a)
        u, s, vt = svds(counted, k=k, solver=method.removesuffix("-tol"), tol=peer_tol, random_state=seed)
        order = np.argsort(-s)
        return u[:, order], s[order], vt[order], dict(matvecs=products[0])
    if method == "primme":
        import numpy as np
        import primme

        counted, products = _counting(a)
        # PRIMME's documented call for the largest triplets (which="LM", its default hybrid method); its tol is
        # relative to its estimate of ||A|| = s_1, like amf's residual tolerance
        u, s, vt = primme.svds(counted, k=k, which="LM", tol=1e-8 if tol is None else tol)
        order = np.argsort(-s)
        return u[:, order], s[order], vt[order], dict(matvecs=products[0])
    if method == "sklearn":
        return _randomized_to(a, k, seed, SKLEARN_TARGET)
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")


SKLEARN_TARGET = 1e-6
"""Max relative residual scikit-learn's ``randomized_svd`` is given power iterations to reach."""


def max_residual(a, u, s, vt) -> float:
    """``max_i max(||A v_i - s_i u_i||, ||A^T u_i - s_i v_i||) / s_1``, by scipy products in float64."""
    import numpy as np

    u, s, vt = (np.asarray(x, dtype=np.float64) for x in (u, s, vt))
    left = np.linalg.norm(a @ vt.T - u * s, axis=0)
    right = np.linalg.norm(a.T @ u - vt.T * s, axis=0)
    return float(max(left.max(), right.max()) / s[0])


def _randomized_to(a, k: int, seed: int, target: float):
    """scikit-learn's ``randomized_svd`` with the fewest power iterations found to reach ``target``: runs with
    4 and 8 iterations, then at the count extrapolated from their residuals (the error decays geometrically
    in the iterations), raised by a quarter until the target is met. ``time_s`` is the last run's alone (the
    row's ``time_s`` is replaced by it); ``n_iter`` its count, ``search_s`` the whole search."""
    import math

    from sklearn.utils.extmath import randomized_svd

    t_search = time.perf_counter()
    tried = {}
    n_iter = 4
    while True:
        t = time.perf_counter()
        u, s, vt = randomized_svd(a, k, n_iter=n_iter, random_state=seed)
        elapsed = time.perf_counter() - t
        res = max_residual(a, u, s, vt)
        tried[n_iter] = res
        if res <= target or n_iter >= 4096:
            break
        if len(tried) == 1:
            n_iter = 8
            continue
        (q1, r1), (q2, r2) = sorted(tried.items())[-2:]
        rate = math.log(r2 / r1) / (q2 - q1) if r2 < r1 else 0.0
        guess = q2 + math.log(target / r2) / rate if rate < 0 else 2 * q2
        n_iter = max(int(math.ceil(guess)), int(math.ceil(1.25 * q2)), q2 + 1)
    return u, s, vt, dict(n_iter=n_iter, time_override=round(elapsed, 4),
                          search_s=round(time.perf_counter() - t_search, 4))


def _timed_certificate(timings: list):
    """Wrap `amf.solvers.krylov.certify_svd` so that its time inside the solve is recorded in ``timings``."""
    from amf.solvers import krylov

    inner = krylov.certify_svd

    def timed(*args, **kwargs):
        t = time.perf_counter()
        result = inner(*args, **kwargs)
        timings.append(time.perf_counter() - t)
        return result

    krylov.certify_svd = timed


def child(args: argparse.Namespace) -> dict:
    """Build the graph, solve with one method, measure; returns the row (printed as JSON by ``--child``)."""
    import numpy as np

    graph = build_graph(args.n, args.edges_per_node, args.classes, args.noise, args.degree_exponent, args.seed)
    a, labels = graph.normalized, (graph.image_labels, graph.text_labels)
    del graph
    csr_mb = (a.data.nbytes + a.indices.nbytes + a.indptr.nbytes) / 2**20
    _peak_reset()
    base_kb = _status_kb("VmRSS")
    t0 = time.perf_counter()
    u, s, vt, extra = _solve(args.method, a, args.k, args.tol, args.seed, labels)
    elapsed = time.perf_counter() - t0
    peak_kb = _status_kb("VmHWM")
    elapsed = extra.pop("time_override", elapsed)
    s = np.asarray(s, dtype=np.float64)
    return dict(
        n=args.n, nnz=int(a.nnz), k=args.k, method=args.method, time_s=round(elapsed, 2),
        peak_mb=round(peak_kb / 1024, 1), solve_mb=round((peak_kb - base_kb) / 1024, 1),
        csr_mb=round(csr_mb, 1), max_res=max_residual(a, u, s, vt), s_k=float(s[-1]), s_1=float(s[0]), **extra,
    )


# ---- the driver -------------------------------------------------------------------------------------------


def run(sizes, k: int = 32, *, methods=METHODS, edges_per_node: float = 10.0, classes: int = 32,
        noise: float = 0.1, degree_exponent: float = 2.5, tol: float | None = None, seed: int = 0,
        timeout: float = 1800.0, verbose: bool = True) -> list[dict]:
    """Run every method on every size (``n`` images = ``n`` texts); one row per (size, method).

    Each method runs in a fresh ``python`` subprocess; a method that fails or exceeds ``timeout`` seconds gets a
    row with ``error``. Ratios ``x_time`` / ``x_mem`` are relative to ``amf-f64`` of the same size.
    """
    rows = []
    for n in sizes:
        n = int(float(n))
        size_rows = []
        for method in methods:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--method", method, "--n", str(n),
                   "--k", str(k), "--edges-per-node", str(edges_per_node), "--classes", str(classes),
                   "--noise", str(noise), "--degree-exponent", str(degree_exponent), "--seed", str(seed)]
            if tol is not None:
                cmd += ["--tol", str(tol)]
            env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
                lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
                if proc.returncode != 0 or not lines:
                    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                    row = dict(n=n, k=k, method=method, error=f"exit {proc.returncode}: {tail}")
                else:
                    row = json.loads(lines[-1])
            except subprocess.TimeoutExpired:
                row = dict(n=n, k=k, method=method, error=f"timeout after {timeout:.0f} s")
            size_rows.append(row)
            if verbose:
                print(f"  n={n:>8d} {method:8s} " + (row.get("error") or
                      f"{row['time_s']:8.2f} s  peak {row['peak_mb']:8.1f} MB  max_res {row['max_res']:.1e}"),
                      file=sys.stderr, flush=True)
        ref = next((r for r in size_rows if r["method"] == "amf-f64" and "error" not in r), None)
        for row in size_rows:
            if ref is not None and "error" not in row:
                row["x_time"] = round(row["time_s"] / ref["time_s"], 2)
                row["x_mem"] = round(row["solve_mb"] / max(ref["solve_mb"], 1e-9), 2)
        rows += size_rows
    return rows


COLUMNS = ("n", "nnz", "method", "time_s", "certify_s", "compile_s", "x_time", "peak_mb", "solve_mb", "x_mem",
           "csr_mb", "max_res", "s_k", "matvecs", "iterations", "n_iter")


def format_table(rows: list[dict], columns=COLUMNS) -> str:
    def cell(row, col):
        if col not in row:
            return row.get("error", "") if col == "time_s" else ""
        value = row[col]
        if col in ("max_res",):
            return f"{value:.1e}"
        if col == "s_k":
            return f"{value:.8f}"
        return str(value)

    table = [list(columns)] + [[cell(r, c) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    out = ["  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in table]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def plot(rows: list[dict], path: str) -> None:
    """Log–log wall time against the number of edges, one line per method (amf also without compilation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        done = [r for r in rows if r["method"] == method and "error" not in r]
        if not done:
            continue
        line, = ax.loglog(*zip(*sorted((r["nnz"], r["time_s"]) for r in done)), marker="o", label=method)
        if all("compile_s" in r for r in done):  # amf: the solve without JIT compilation, where cost ~ edges shows
            pts = sorted((r["nnz"], r["time_s"] - r["compile_s"]) for r in done)
            ax.loglog(*zip(*pts), marker=".", linestyle="--", color=line.get_color(),
                      label=f"{method} without compilation")
    ax.set_xlabel("edges (nnz of Pn)")
    ax.set_ylabel("wall time [s]")
    ax.set_title(f"top-{rows[0]['k']} SVD of Pn")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")  # off the curves
    with atomic_write(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")


# ---- sparse kernels ---------------------------------------------------------------------------------------


def kernel_table(n: int = 300_000, edges_per_node: float = 12.0, blocks=(1, 8, 32), degree_exponent=2.5,
                 repeats: int = 5, classes: int = 16) -> list[dict]:
    """Time ``A X`` and ``A^T X`` for the sparse product formulations (min of ``repeats`` runs, ms)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import scipy.sparse as sp
    from jax.experimental import sparse as jsparse

    import amf  # noqa: F401
    from amf.operators import sparse_operator
    from amf.operators.ordering import label_order

    graph = build_graph(n, edges_per_node, classes, 0.1, degree_exponent, 0)
    a = graph.normalized
    ordered = sparse_operator(a, kernel="host", order=label_order(a, graph.image_labels, graph.text_labels))
    at = sp.csr_array(a.T)
    coo = a.tocoo()
    rows_, cols_ = jnp.asarray(coo.row, jnp.int32), jnp.asarray(coo.col, jnp.int32)
    vals = jnp.asarray(coo.data)
    bcoo = jsparse.BCOO((vals, jnp.stack([rows_, cols_], 1)), shape=a.shape)
    jagged = sparse_operator(a, kernel="jagged")
    host = sparse_operator(a, kernel="host")
    m, nn = a.shape

    @jax.jit
    def seg_a(x):
        return jax.ops.segment_sum(vals[:, None] * x[cols_], rows_, num_segments=m, indices_are_sorted=True)

    @jax.jit
    def seg_at(y):
        return jax.ops.segment_sum(vals[:, None] * y[rows_], cols_, num_segments=nn)

    bcoo_a = jax.jit(lambda x: bcoo @ x)
    bcoo_at = jax.jit(lambda y: bcoo.T @ y)
    amf_a = jax.jit(lambda o, x: o.matmat(x))
    amf_at = jax.jit(lambda o, y: o.rmatmat(y))

    def best(f):
        jax.block_until_ready(f())
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            jax.block_until_ready(f())
            times.append(time.perf_counter() - t)
        return 1e3 * min(times)

    out = []
    rng = np.random.default_rng(0)
    for b in blocks:
        x = rng.standard_normal((nn, b))
        xj = jnp.asarray(x)
        for name, fa, fat in [
            ("scipy CSR (host)", lambda: a @ x, lambda: at @ x),
            ("jax BCOO", lambda: bcoo_a(xj), lambda: bcoo_at(xj)),
            ("gather + segment_sum", lambda: seg_a(xj), lambda: seg_at(xj)),
            ("amf jagged (GPU/TPU layout)", lambda: amf_a(jagged, xj), lambda: amf_at(jagged, xj)),
            ("amf host layout, from jit (callback)", lambda: amf_a(host, xj), lambda: amf_at(host, xj)),
            ("amf host kernel (numba), numpy in and out", lambda: host.forward.multiply(x),
             lambda: host.backward.multiply(x)),
            ("same, rows and columns in class order", lambda: ordered.forward.multiply_stored(x),
             lambda: ordered.backward.multiply_stored(x)),
        ]:
            out.append(dict(n=n, nnz=int(a.nnz), columns=b, kernel=name, a_x_ms=round(best(fa), 1),
                            at_x_ms=round(best(fat), 1)))
    return out


# ---- where the time of one host solve goes --------------------------------------------------------------


PARTS = {  # (module, attribute): the part of a host solve it is timed as; the first listed wins when nested
    ("amf.solvers.host_blocks", "combine"): "restarts and Ritz vectors (combine)",
    ("amf.solvers.krylov_host", "_orthonormalize"): "Gram-Schmidt and normalization (solver)",
    ("amf.solvers.krylov_host", "_rayleigh_ritz"): "Rayleigh-Ritz on the other side",
    ("amf.solvers.certify_host", "complement_lanczos"): "certificate: complement test",
    ("amf.solvers.certify_host", "residuals"): "certificate: residuals",
}


def parts_table(n: int, k: int = 32, edges_per_node: float = 10.0, classes: int = 32, noise: float = 0.1,
                degree_exponent: float = 2.5, seed: int = 0) -> list[dict]:
    """Wall time of each part of one float64 `topk_svd` of the planted graph with ``n`` nodes a side on the host
    path: the solver's products (`amf.solvers.krylov_host.Normal.apply`, timed apart from the certificate's; the
    first one loads numba's kernels in a fresh process), and
    the functions of `PARTS`, each wrapped with a timer (a part called inside another is counted in the outer).
    The timers add a little; the total is the solve's wall time with them."""
    import importlib

    import jax

    from amf import topk_svd
    from amf.operators import sparse_operator
    from amf.solvers import krylov_host

    a = build_matrix(n, edges_per_node, classes, noise, degree_exponent, seed)
    seconds: dict[str, float] = {}
    calls: dict[str, int] = {}
    active: list[str] = []

    def timed(label, function):
        def wrapper(*args, **kwargs):
            if active:
                return function(*args, **kwargs)
            active.append(label)
            t = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - t
                calls[label] = calls.get(label, 0) + 1
                active.pop()
        return wrapper

    originals = []
    for (module_name, name), label in PARTS.items():
        module = importlib.import_module(module_name)
        function = getattr(module, name)
        for holder in {module, krylov_host}:  # krylov_host imports combine by name
            if getattr(holder, name, None) is function:
                originals.append((holder, name, function))
                setattr(holder, name, timed(label, function))
    apply = krylov_host.Normal.apply
    krylov_host.Normal.apply = lambda self, x, out: timed(  # the certificate's products are inside its parts
        "sparse products (solver)", apply)(self, x, out)
    try:
        op = sparse_operator(a, "float64")
        t = time.perf_counter()
        result = topk_svd(op, k, key=jax.random.key(seed))
        total = time.perf_counter() - t
    finally:
        krylov_host.Normal.apply = apply
        for holder, name, original in originals:
            setattr(holder, name, original)
    rows = [dict(n=n, part=label, seconds=round(seconds[label], 2), calls=calls[label])
            for label in sorted(seconds, key=seconds.get, reverse=True)]
    rows.append(dict(n=n, part="the rest (plan, start, numba's start-up, Ritz values, certificate's checks)",
                     seconds=round(total - sum(seconds.values()), 2), calls=""))
    rows.append(dict(n=n, part=f"total ({result.certificate.matvecs} product columns)", seconds=round(total, 2),
                     calls=""))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e4,1e5", help="comma-separated n (images = texts), e.g. 1e4,1e5,1e6")
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--edges-per-node", type=float, default=10.0)
    parser.add_argument("--classes", type=int, default=32)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--degree-exponent", type=float, default=2.5)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--tol", type=float, default=None, help="amf tolerance (default: its dtype's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per method and size")
    parser.add_argument("--plot", default=None, help="write a log-log plot of time vs edges to this file")
    parser.add_argument("--json", default=None, help="write the rows to this JSON file")
    parser.add_argument("--kernels", action="store_true", help="time the sparse products instead")
    parser.add_argument("--parts", action="store_true",
                        help="time each part of one float64 host solve at each size instead (parts_table)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return 0
    if args.kernels:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
        rows = [r for n in sizes for r in kernel_table(n, args.edges_per_node, degree_exponent=args.degree_exponent,
                                                          classes=args.classes)]
        cols = ("n", "nnz", "columns", "kernel", "a_x_ms", "at_x_ms")
        print(format_table(rows, cols))
        return 0
    if args.parts:
        rows = [r for n in args.sizes.split(",") for r in parts_table(
            int(float(n)), args.k, args.edges_per_node, args.classes, args.noise, args.degree_exponent, args.seed)]
        print(format_table(rows, ("n", "part", "seconds", "calls")))
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    rows = run(args.sizes.split(","), args.k, methods=methods, edges_per_node=args.edges_per_node,
               classes=args.classes, noise=args.noise, degree_exponent=args.degree_exponent, tol=args.tol,
               seed=args.seed, timeout=args.timeout)
    print(format_table(rows))
    if args.json:
        with atomic_write(args.json, suffix=".json") as tmp:
            Path(tmp).write_text(json.dumps(rows, indent=1))
    if args.plot:
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
