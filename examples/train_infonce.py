"""Train a two-encoder CLIP model with the symmetric InfoNCE loss (JAX + optax) on pairs drawn from a generated
graph, then ask amf how far it is from the theory's optimum: ``amf.verify(graph, k, embeddings=...)``.

    python examples/train_infonce.py [--steps 1500] [--tau 0.2] [--k 4] [--seed 0] [--json card.json]

The encoders are tables (one row per image and per text), L2-normalized as CLIP's are; each step draws a batch
of image-text pairs i.i.d. from the joint ``P`` (duplicate nodes in a batch are masked out of the negatives).
The printed model card says how far the trained encoders are from the Eckart–Young optimum of the spectral
loss and in which directions; InfoNCE is not the spectral loss, so the verdict is expected to be "not the
minimizer": the card measures, it does not grade the trainer.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

import amf
import synthetic
from amf._format import format_report
from amf._random import named_key
from amf.io import write_json
from amf.losses import infonce_loss, sample_pairs


def train(graph: amf.CoOccurrence, k: int, *, steps: int, batch_size: int, tau: float, lr: float,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric InfoNCE at temperature ``tau`` on tables ``f_V (N_V, k)``, ``f_L (N_L, k)``; returns the
    normalized embeddings (float64)."""
    joint = graph.joint_arrays(np.float32)
    init_v, init_l, sampling = (named_key(seed, name) for name in ("infonce/images", "infonce/texts", "infonce/pairs"))
    params = {"images": 0.1 * jax.random.normal(init_v, (graph.n_images, k)),
              "texts": 0.1 * jax.random.normal(init_l, (graph.n_texts, k))}
    optimizer = optax.adam(lr)

    def objective(p, i, j):
        return infonce_loss(p["images"][i], p["texts"][j], tau, image_ids=i, text_ids=j)

    @jax.jit
    def step(p, state, key):
        i, j = sample_pairs(key, joint, batch_size)
        loss, grads = jax.value_and_grad(objective)(p, i, j)
        updates, state = optimizer.update(grads, state, p)
        return optax.apply_updates(p, updates), state, loss

    state = optimizer.init(params)
    for key in jax.random.split(sampling, steps):
        params, state, _ = step(params, state, key)
    normalized = [np.asarray(x / jnp.linalg.norm(x, axis=1, keepdims=True), np.float64)
                  for x in (params["images"], params["texts"])]
    return normalized[0], normalized[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--edges", type=int, default=4000)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--tau", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the verify report (with its card) here")
    args = parser.parse_args(argv)
    edges = synthetic.planted_model(n_images=args.images, n_texts=args.texts, n_edges=args.edges,
                                    n_classes=args.classes, noise=0.1, seed=args.seed)
    graph = amf.CoOccurrence.from_edges(edges)
    embeddings = train(graph, args.k, steps=args.steps, batch_size=args.batch_size, tau=args.tau, lr=args.lr,
                       seed=args.seed)
    report, _ = amf.verify(graph, args.k, embeddings=embeddings, seed=args.seed)
    report["example"] = {"script": "examples/train_infonce.py", "argv": sys.argv[1:] if argv is None else argv}
    print(format_report(report))
    if args.json:
        write_json(args.json, report)
    return report


if __name__ == "__main__":
    main()
