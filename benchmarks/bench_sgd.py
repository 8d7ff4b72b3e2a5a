"""Benchmark the minibatch SGD solver at N_V = N_L = 10^5, k = 32, batch 4096 (about 10^6 edges).

    python benchmarks/bench_sgd.py [--images N] [--texts N] [--edges E] [--classes C] [--k K] [--batch B]
                                   [--steps S] [--lr LR] [--target GAP] [--dtype float32 float64] [--seed S]

Graph: ``synthetic.planted_model`` with ``C = 32`` classes and equal node activities (``degree_exponent = inf``):
``s_2..s_32 ~ 0.92`` and ``s_33 ~ 0.61``, a clear eigengap at ``k = 32``. (With the default power-law degrees the
graph splits into dozens of tiny components, whose ``s = 1`` indicator vectors, localized on a few rare nodes,
fill the top of the spectrum: a different and much harder problem for any sampler.) The reference
``-sum_{i<=k} s_i^2`` needs the top ``k + 1`` triplets of ``Pn``: ``scipy.sparse.linalg.svds`` (ARPACK).

Measured, per dtype:

- ``steps_per_s``: throughput of the solver's jitted ``lax.scan`` chunk (sampling + Gram-form estimator +
  gradient + sparse row update), after compilation, no evaluation in between;
- ``jax_step_ms`` / ``numpy_step_ms``: one SGD step on the *same batch* (indices drawn once), by the solver's
  step (`amf.solvers.training.sparse_sgd_update`, ``--repeats`` steps inside one jitted ``lax.scan``, as the solver runs
  them) and by a plain numpy implementation of the same math (hand-written gradient of the Gram-form estimator,
  ``np.add.at`` scatter, ``--repeats`` steps in a loop): time per step (median of 5 runs), and their ratio
  ``speedup``; ``max_abs_diff`` compares the tables after one step of each from the same start;
- ``time_to_target_s`` / ``steps_to_target``: wall time (compilation included) and steps of
  ``amf.train(solver="sgd")`` until the population loss gap ``(L - L_min) / |L_min|`` first reaches
  ``--target`` (checked every ``--chunk`` steps; cosine schedule over ``--steps``).

`run(...)` returns the rows as a list of dicts; ``main`` prints them as one table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import amf  # noqa: E402
from amf.solvers import training  # noqa: E402
from amf.solvers.encoders import natural_scale  # noqa: E402
from amf.solvers.sampler import EdgeSampler  # noqa: E402
from amf.solvers.sgd import SGD  # noqa: E402
from amf.solvers.spectral import reference_svd  # noqa: E402


def numpy_sgd_step(theta_v, theta_l, scale_v, scale_l, i, j, rate):
    """The solver's sparse SGD step in plain numpy, in place: same estimator, same gradient, same update.

    ``a = r_V[i] theta_V[i]``, ``c = r_L[j] theta_L[j]``, ``d_b = <a_b, c_b>``,
    ``L = -(2/B) sum d + (tr((a^T a)(c^T c)) - sum d^2) / (B (B-1))``;
    ``dL/da = -(2/B) c + 2 (a (c^T c) - d c) / (B (B-1))`` (symmetrically for ``c``), chained through ``r``.
    Returns the batch loss.
    """
    b = len(i)
    sv, sl = scale_v[i, None], scale_l[j, None]
    a, c = sv * theta_v[i], sl * theta_l[j]
    d = np.einsum("bk,bk->b", a, c)
    gram_a, gram_c = a.T @ a, c.T @ c
    norm = 1.0 / (b * (b - 1))
    loss = -2.0 * d.mean() + (np.sum(gram_a * gram_c) - d @ d) * norm
    grad_a = (-2.0 / b) * c + 2.0 * norm * (a @ gram_c - d[:, None] * c)
    grad_c = (-2.0 / b) * a + 2.0 * norm * (c @ gram_a - d[:, None] * a)
    np.add.at(theta_v, i, -rate * sv * grad_a)
    np.add.at(theta_l, j, -rate * sl * grad_c)
    return float(loss)


def build_graph(n_images: int, n_texts: int, n_edges: int, n_classes: int, seed: int) -> amf.CoOccurrence:
    import synthetic

    edges = synthetic.planted_model(n_images=n_images, n_texts=n_texts, n_edges=n_edges, n_classes=n_classes,
                                    degree_exponent=float("inf"), seed=seed)
    return amf.CoOccurrence.from_edges(edges, drop_isolated=True)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def step_comparison(graph: amf.CoOccurrence, k: int, batch: int, dtype: str, seed: int, repeats: int) -> dict:
    """Time the jitted step and the numpy step on the same batch; check they compute the same update."""
    jdtype = jnp.dtype(dtype)
    plan = training.Plan(SGD(batch_size=batch), "sgd", "constant", 1, 1, batch, ("table", "table"))
    p_floor = 1.0 / batch
    scale_v = natural_scale(graph.p_images, p_floor).astype(dtype)
    scale_l = natural_scale(graph.p_texts, p_floor).astype(dtype)
    data = {"images_scale": jnp.asarray(scale_v), "texts_scale": jnp.asarray(scale_l)}
    hyper = {"lr": jnp.asarray(0.1, jdtype), "tau": jnp.asarray(1.0, jdtype)}
    rng = np.random.default_rng(seed)
    theta_v = (rng.standard_normal((graph.n_images, k)) * 0.1 / np.sqrt(k) / scale_v[:, None]).astype(dtype)
    theta_l = (rng.standard_normal((graph.n_texts, k)) * 0.1 / np.sqrt(k) / scale_l[:, None]).astype(dtype)
    sampler = EdgeSampler.from_joint(graph.joint_arrays(jdtype))
    i, j = (np.asarray(x) for x in sampler.sample(jax.random.fold_in(jax.random.key(seed), 1), batch))

    def step(params, i, j):
        return training.sparse_sgd_update(plan, params, data, hyper, i, j, hyper["lr"])

    def steps(params, i, j):  # `repeats` steps on the same batch inside one scan, as the solver runs them
        return jax.lax.scan(lambda p, _: step(p, i, j), params, None, length=repeats)

    one_step = jax.jit(step)
    many_steps = jax.jit(steps, donate_argnums=0)
    params = {"images": jnp.asarray(theta_v), "texts": jnp.asarray(theta_l)}
    i_dev, j_dev = jnp.asarray(i), jnp.asarray(j)
    # agreement: one step from the same start gives the same tables as numpy
    new, jax_loss = one_step(params, i_dev, j_dev)
    ref_v, ref_l = theta_v.copy(), theta_l.copy()
    np_loss = numpy_sgd_step(ref_v, ref_l, scale_v, scale_l, i, j, 0.1)
    agree = max(float(np.max(np.abs(np.asarray(new["images"]) - ref_v))),
                float(np.max(np.abs(np.asarray(new["texts"]) - ref_l))))
    holder = {"params": many_steps(params, i_dev, j_dev)[0]}  # compile

    def run_jax():
        holder["params"], losses = many_steps(holder["params"], i_dev, j_dev)
        jax.block_until_ready(losses)

    def run_numpy():
        for _ in range(repeats):
            numpy_sgd_step(ref_v, ref_l, scale_v, scale_l, i, j, 0.1)

    jax_s = _median_time(run_jax, 5) / repeats
    numpy_s = _median_time(run_numpy, 5) / repeats
    return {"jax_step_ms": 1e3 * jax_s, "numpy_step_ms": 1e3 * numpy_s, "speedup": numpy_s / jax_s,
            "max_abs_diff": agree, "loss_diff": abs(float(jax_loss) - np_loss)}


def chunk_throughput(graph, k, batch, dtype, seed, chunk=200, repeats=3) -> float:
    """Steps per second of the solver's jitted chunk (after compilation)."""
    jdtype = jnp.dtype(dtype)
    plan = training.Plan(SGD(batch_size=batch), "sgd", "cosine", 10**6, chunk, batch, ("table", "table"))
    p_floor = 1.0 / batch
    data = {"images_scale": jnp.asarray(natural_scale(graph.p_images, p_floor), jdtype),
            "texts_scale": jnp.asarray(natural_scale(graph.p_texts, p_floor), jdtype),
            "images_features": None, "texts_features": None,
            "sampler": EdgeSampler.from_joint(graph.joint_arrays(jdtype))}
    hyper = {"lr": jnp.asarray(0.1, jdtype), "tau": jnp.asarray(1.0, jdtype)}
    key = jax.random.fold_in(jax.random.key(seed), 2)
    params = {"images": 0.01 * jax.random.normal(key, (graph.n_images, k), jdtype),
              "texts": 0.01 * jax.random.normal(key, (graph.n_texts, k), jdtype)}
    state = {"params": params, "t": 0}

    def run_chunk():
        state["params"], _, values = training.run_chunk(plan, state["params"], None, data, hyper, key,
                                                        jnp.asarray(state["t"], jnp.int32))
        state["t"] += chunk
        jax.block_until_ready(values)

    run_chunk()  # compile
    return chunk / _median_time(run_chunk, repeats)


def run(
    *,
    n_images: int = 100_000,
    n_texts: int = 100_000,
    n_edges: int = 1_000_000,
    n_classes: int = 32,
    k: int = 32,
    batch: int = 4096,
    steps: int = 3500,
    chunk: int = 250,
    lr: float = 0.3,
    target: float = 1e-2,
    dtypes=("float32", "float64"),
    seed: int = 0,
    repeats: int = 20,
    log=print,
) -> list[dict]:
    """Build the graph, compute the reference, and measure every dtype; one dict per dtype."""
    t0 = time.perf_counter()
    graph = build_graph(n_images, n_texts, n_edges, n_classes, seed)
    log(f"graph {graph} in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    reference = reference_svd(graph, k, tol=1e-8, seed=seed)
    svds_s = time.perf_counter() - t0
    s = reference.s
    log(f"reference: svds top {len(s)} in {svds_s:.1f} s, s_k = {s[k - 1]:.4f}, s_k+1 = {s[k]:.4f}, "
        f"L_min = {-np.sum(s[:k] ** 2):.6f}, max residual {reference.certificate.max_residual:.1e}")
    rows = []
    for dtype in dtypes:
        compare = step_comparison(graph, k, batch, dtype, seed, repeats)
        throughput = chunk_throughput(graph, k, batch, dtype, seed)
        t0 = time.perf_counter()
        solution = amf.train(graph, k, solver="sgd", batch_size=batch, steps=steps, chunk=chunk, lr=lr,
                             seed=seed, dtype=dtype, reference=reference, early_stop=True,
                             tolerance={"loss_gap": target}, progress=False)
        wall = time.perf_counter() - t0
        gaps = solution.curve["loss_gap"]
        hit = np.flatnonzero(gaps <= target)
        rows.append({
            "dtype": dtype,
            "n_images": graph.n_images, "n_texts": graph.n_texts, "nnz": graph.nnz, "k": k, "batch": batch,
            "steps_per_s": throughput,
            **compare,
            "time_to_target_s": float(solution.curve["seconds"][hit[0]]) if hit.size else float("nan"),
            "steps_to_target": int(solution.curve["step"][hit[0]]) if hit.size else -1,
            "final_gap": float(gaps[-1]),
            "train_wall_s": wall,
            "svds_s": svds_s,
            "target": target,
            "lr": lr,
        })
    return rows


def print_table(rows: list[dict]) -> None:
    columns = [("dtype", "{}"), ("steps_per_s", "{:.0f}"), ("jax_step_ms", "{:.2f}"), ("numpy_step_ms", "{:.2f}"),
               ("speedup", "{:.1f}x"), ("max_abs_diff", "{:.1e}"), ("steps_to_target", "{}"),
               ("time_to_target_s", "{:.1f}"), ("final_gap", "{:.2e}")]
    header = " | ".join(name for name, _ in columns)
    print(header)
    print("-" * len(header))
    for row in rows:
        print(" | ".join(fmt.format(row[name]) for name, fmt in columns))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=float, default=1e5)
    ap.add_argument("--texts", type=float, default=1e5)
    ap.add_argument("--edges", type=float, default=1e6)
    ap.add_argument("--classes", type=int, default=32)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--steps", type=int, default=3500)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--lr", type=float, default=0.3)
    ap.add_argument("--target", type=float, default=1e-2)
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    rows = run(n_images=int(args.images), n_texts=int(args.texts), n_edges=int(args.edges), n_classes=args.classes,
               k=args.k, batch=args.batch, steps=args.steps, chunk=args.chunk, lr=args.lr, target=args.target,
               dtypes=tuple(args.dtype), seed=args.seed, repeats=args.repeats)
    print(f"device: {jax.devices()[0].platform} ({jax.devices()[0].device_kind}); jax {jax.__version__}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
