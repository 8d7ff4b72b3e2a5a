"""Encoders for the gradient solvers: embedding tables (the default) and small MLPs on node features.

An encoder maps node indices to embeddings ``f(i)`` (``k`` numbers per node). Two kinds, each an explicit
``init / apply`` pair of pure functions on plain arrays (no framework):

- **Table** (docs/theory.md section 1: "encoders are tables"): ``f(i) = r_i * theta_i``. ``theta`` (``N x k``) is the
  trained parameter and ``r`` (``N,``) a fixed per-node scale, the *coordinates* the optimizer works in.
  ``r = 1`` is the plain table. ``r_i = max(p_i, p_floor)^{-1/2}`` are the natural coordinates: with
  ``p_floor = 0``, ``theta = D^{1/2} f = F`` is the scaled factor of T1, where the loss is
  ``||Pn - F_V F_L^T||^2 - ||Pn||^2`` and ``||Pn||_2 = 1`` (T2c), so one step size suits every graph
  (the solver modules `amf.solvers.gd`, `sgd` and `infonce` explain the choice).
- **MLP** on given node features ``x (N, d)``: ``f(i) = mlp(x_i)``, ReLU hidden layers, linear output.

Initialization is small and size-free: ``f(i) ~ scale * N(0, I_k / k)`` for a table, so
``E_p ||f(i)||^2 = scale^2`` whatever the graph's size (the optimum has ``E_p ||f||^2 = sum_{i<=k} s_i <= k``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from amf._linalg import matmul


# ---- tables ----------------------------------------------------------------------------------------------------


def table_init(key: jax.Array, n: int, k: int, *, row_scale=None, scale: float = 0.1, dtype=jnp.float64) -> jax.Array:
    """``theta (n, k)`` such that ``f = row_scale[:, None] * theta`` has i.i.d. ``N(0, scale^2 / k)`` entries."""
    f = jax.random.normal(key, (n, k), dtype=dtype) * (scale / np.sqrt(k))
    if row_scale is None:
        return f
    return f / jnp.asarray(row_scale, dtype=dtype)[:, None]


def table_apply(theta: jax.Array, row_scale: jax.Array, index: jax.Array | None = None) -> jax.Array:
    """``f(i) = r_i theta_i`` for the nodes ``index`` (all nodes when None)."""
    if index is None:
        return row_scale[:, None] * theta
    return row_scale[index, None] * theta[index]


def natural_scale(p: np.ndarray, p_floor: float = 0.0) -> np.ndarray:
    """Row scale of the natural coordinates ``r_i = max(p_i, p_floor)^{-1/2}`` (float64, ``p > 0``)."""
    return 1.0 / np.sqrt(np.maximum(np.asarray(p, dtype=np.float64), p_floor))


# ---- MLPs ------------------------------------------------------------------------------------------------------


def mlp_init(key: jax.Array, sizes: Sequence[int], *, scale: float = 0.1, dtype=jnp.float64) -> list:
    """Parameters ``[(W_1, b_1), ..., (W_L, b_L)]`` of an MLP with layer widths ``sizes = (d, h_1, ..., k)``.

    Hidden layers use He initialization (``W ~ N(0, 2 / fan_in)``, ``b = 0``); the output layer is scaled so that
    each output coordinate has variance about ``scale^2 / k`` for unit-variance inputs, matching `table_init`.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must list at least an input and an output width, all >= 1, got {sizes}")
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = layer == len(sizes) - 2
        std = scale / np.sqrt(sizes[-1] * fan_in) if last else np.sqrt(2.0 / fan_in)
        if last and layer > 0:
            std *= np.sqrt(0.5)  # ReLU features have second moment ~ half the pre-activations'
        w = jax.random.normal(keys[layer], (fan_in, fan_out), dtype=dtype) * std
        params.append((w, jnp.zeros((fan_out,), dtype=dtype)))
    return params


def mlp_apply(params: list, x: jax.Array) -> jax.Array:
    """``mlp(x)``: ``relu(x W_1 + b_1) ... W_L + b_L``; ``x (n, d)`` to ``(n, k)``; matmuls at HIGHEST precision."""
    for w, b in params[:-1]:
        x = jax.nn.relu(matmul(x, w) + b)
    w, b = params[-1]
    return matmul(x, w) + b
