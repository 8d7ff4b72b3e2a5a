"""NT-Xent, the loss SimCLR and the paper's released code train, with the four CLIP-guided edits computed per batch
as the released losses compute them (`github:PKU-ML/CLIP-Help-SimCLR`, ``models/losses.py``), docs/theory.md
section 5.

**The batch.** ``n = 2 B`` views of ``B`` sources, ordered as the released sampler orders them: first view of every
source, then the second (``MultiplyBatchSampler``), so the positive partner of view ``i`` is ``i + n/2 (mod n)``.
``z (n, d)`` the trained embeddings, ``c (n, n)`` the frozen CLIP's cosine similarities of the same VIEWS (its
diagonal is 1). With ``u = z / |z|`` and temperature ``tau``, the logits are ``l_ij = <u_i, u_j> / tau``, self
excluded from every softmax, and

    NT-Xent = -(1/n) sum_i log( exp(l_{i p(i)}) / sum_{j in D_i} exp(l_ij) ),   D_i = {j != i}

(the positive stays in its own denominator ``D_i``). The edits, each a rule on ``c`` only (no gradient flows
through CLIP); ``rank(r) = int(r n)`` counts entries of a row, ties counted:

- ``drop_false_negative`` (``NTXent_dfn``, ``r = 0.05``): ``D_i`` loses every ``j`` with ``c_ij >= t_i``,
  ``t_i`` the row's ``rank(r)``-th LARGEST value, ``c_ii`` included in the ranking; the positive is put back.
- ``drop_easy_negative`` (``NTXent_den``, ``r = 0.1``): ``D_i`` loses every ``j`` with ``c_ij <= t_i``, ``t_i``
  the row's ``rank(r)``-th SMALLEST value; the positive is put back.
- ``add_new_positive`` (``NTXent_newp``): ``q(i) = argmax_j c_ij`` over ``j`` not ``i`` nor ``p(i)``; the loss is
  ``(1 - beta) NT-Xent + beta (-(1/n) sum_i log softmax_i(l)_{q(i)})`` with the same denominators, ``beta = 1/2``
  as released (``(loss + loss_2) / 2``).
- ``drop_false_positive`` AS INTENDED (``NTXent_dfp`` with its mask applied): ``t`` = the ``rank(r)``-th smallest
  of the ``n`` positive similarities ``c_{i p(i)}`` (``r = 0.1``, one threshold per batch); the positive term of
  row ``i`` is dropped when ``c_{i p(i)} <= t``; the rest is averaged over the ``n_2`` kept rows (the released
  code counts ``n_2`` and never uses it); denominators unchanged.
- ``drop_false_positive_released``: what ``NTXent_dfp`` computes: it masks ``logprob`` and then recomputes
  ``logprob = log_softmax(logits)`` before the loss, so the mask is lost: **plain NT-Xent**.

The rules rank ``c`` rounded to float32 (the released CLIP features are no finer: CLIP runs in half precision
on a GPU; and XLA's CPU ``top_k`` is far slower in float64); the tests use similarities that float32 holds
exactly. Every rule needs ``rank(r) >= 1`` (the released ``topk(int(r n))[:, -1]`` fails otherwise);
`InputError` says so.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from amf.errors import InputError

METHODS = ("baseline", "add_new_positive", "drop_false_positive", "drop_false_positive_released",
           "drop_false_negative", "drop_easy_negative")
"""Plain NT-Xent and the edits; ``drop_false_positive`` is the mask applied (as intended),
``drop_false_positive_released`` the released loss (plain NT-Xent)."""

RELEASED = {"add_new_positive": 0.5, "drop_false_positive": 0.1, "drop_false_positive_released": 0.1,
            "drop_false_negative": 0.05, "drop_easy_negative": 0.1}
"""The released constants: ``beta`` of add_new_positive (``(loss + loss_2) / 2``), else the ratio ``r`` of
``int(r n)``."""


def partners(n: int) -> np.ndarray:
    """``p(i) = i + n/2 (mod n)``: the other view of view ``i``'s source (``n`` even)."""
    return (np.arange(n) + n // 2) % n


def rank(ratio: float, n: int, name: str = "ratio") -> int:
    """``int(ratio n)``, the released rank count; `InputError` below 1 (the released code fails there)."""
    count = int(ratio * n)
    if count < 1:
        raise InputError(f"{name} = {ratio} keeps int({ratio} x {n} views) = {count} entries per batch; "
                         f"the released rule needs at least 1 (a larger batch or ratio)")
    return count


def denominators(method: str, similarity, ratio: float):
    """``D (n, n)`` boolean: ``D_ij`` = ``j`` is in the softmax denominator of row ``i`` (module docstring)."""
    c = jnp.asarray(similarity, dtype=jnp.float32)
    n = c.shape[0]
    others = ~jnp.eye(n, dtype=bool)
    if method == "drop_false_negative":
        t = jax.lax.top_k(c, rank(ratio, n, method))[0][:, -1]  # the rank-th largest, self included
        kept = others & (c < t[:, None])
    elif method == "drop_easy_negative":
        t = -jax.lax.top_k(-c, rank(ratio, n, method))[0][:, -1]  # the rank-th smallest
        kept = others & (c > t[:, None])
    else:
        return others
    return kept.at[jnp.arange(n), partners(n)].set(True)


def new_positives(similarity) -> jax.Array:
    """``q(i) = argmax_j c_ij`` over ``j`` not ``i`` nor ``p(i)`` (``(n,)`` int; the first on a tie, as torch.max
    in practice)."""
    c = jnp.asarray(similarity, dtype=jnp.float32)
    n = c.shape[0]
    blocked = jnp.eye(n, dtype=bool).at[jnp.arange(n), partners(n)].set(True)
    return jnp.argmax(jnp.where(blocked, -jnp.inf, c), axis=1)


def kept_positives(similarity, ratio: float) -> jax.Array:
    """``(n,)`` boolean: row ``i``'s positive term is kept, ``c_{i p(i)} > t`` with ``t`` the ``int(r n)``-th
    smallest positive similarity of the batch (DropFalsePositive as intended)."""
    c = jnp.asarray(similarity, dtype=jnp.float32)
    n = c.shape[0]
    positive = c[jnp.arange(n), partners(n)]
    t = jnp.sort(positive)[rank(ratio, n, "drop_false_positive") - 1]
    return positive > t


def loss(method: str, z, similarity, tau: float, parameter: float | None = None):
    """The batch loss of ``method`` (module docstring) at embeddings ``z (n, d)`` and CLIP similarities
    ``similarity (n, n)``; ``parameter``: ``beta`` or ``r`` (None: `RELEASED`)."""
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    z = jnp.asarray(z)
    n = z.shape[0]
    if n % 2 or n < 4:
        raise InputError(f"a batch holds two views of each of at least 2 sources: n even and >= 4, got {n}")
    value = RELEASED.get(method) if parameter is None else parameter
    c = jax.lax.stop_gradient(jnp.asarray(similarity, dtype=z.dtype))
    u = z / jnp.linalg.norm(z, axis=1, keepdims=True)
    logits = jnp.matmul(u, u.T, precision=jax.lax.Precision.HIGHEST) / tau
    kept = denominators(method, c, value)
    logprob = logits - jax.nn.logsumexp(jnp.where(kept, logits, -jnp.inf), axis=1, keepdims=True)
    rows = jnp.arange(n)
    positive = logprob[rows, partners(n)]
    if method == "add_new_positive":
        return -(1.0 - value) * positive.mean() - value * logprob[rows, new_positives(c)].mean()
    if method == "drop_false_positive":
        keep = kept_positives(c, value)
        return -jnp.sum(jnp.where(keep, positive, 0.0)) / jnp.maximum(jnp.sum(keep), 1)
    return -positive.mean()


# ---- training --------------------------------------------------------------------------------------------------


def train(method: str, clip_views, columns, *, dim: int, batch: int, tau: float, steps: int, lr: float,
          parameter: float | None = None, init_key, batch_key) -> tuple[np.ndarray, np.ndarray]:
    """SimCLR on a free embedding table: ``steps`` Adam steps (optax; learning rate ``lr`` annealed to 0 on a cosine,
    as the released runs anneal theirs) of ``loss(method)``.

    Each step draws ``batch`` distinct sources uniformly and two views of each from its column of the
    augmentation co-occurrence (``columns (n_sources, n_views)``, view ``x`` with probability proportional to
    ``Q(x, source)``), ordered as the released sampler orders them; the CLIP similarities of the batch are
    ``clip_views[i] . clip_views[j]`` (``clip_views (n_views, d_clip)``, unit rows). The table
    ``(n_views, dim)`` starts standard normal from ``init_key``; the batches come from ``batch_key``.

    Returns the trained table (float64 numpy) and the loss of every step ``(steps,)``.
    """
    columns = np.asarray(columns, dtype=np.float64)
    n_sources, n_views = columns.shape
    if not 2 <= batch <= n_sources:
        raise InputError(f"batch must be between 2 and the number of sources ({n_sources}), got {batch}")
    value = RELEASED.get(method) if parameter is None else float(parameter)
    if method not in ("baseline", "add_new_positive", "drop_false_positive_released"):
        rank(value, 2 * batch, method)  # refuse before compiling
    # each source's views as a padded list (a column holds a few views): sampling costs O(views per source)
    width = min(-(-int(np.max(np.count_nonzero(columns, axis=1))) // 8) * 8, n_views)  # few shapes, few compiles
    order = np.argsort(columns <= 0, axis=1, kind="stable")[:, :width]
    weights = np.take_along_axis(columns, order, axis=1)
    with np.errstate(divide="ignore"):
        log_weights = np.where(weights > 0, np.log(weights), -np.inf)
    table = jax.random.normal(init_key, (n_views, dim), dtype=jnp.float64)
    table, curve = _fit(table, jnp.asarray(order), jnp.asarray(log_weights), jnp.asarray(clip_views, jnp.float64),
                        batch_key, method=method, batch=int(batch), tau=float(tau), steps=int(steps), lr=float(lr),
                        parameter=value)
    return np.asarray(table, dtype=np.float64), np.asarray(curve, dtype=np.float64)


@functools.partial(jax.jit, static_argnames=("method", "batch", "tau", "steps", "lr", "parameter"))
def _fit(table, members, log_weights, clip_views, key, *, method, batch, tau, steps, lr, parameter):
    optimizer = optax.adam(optax.cosine_decay_schedule(lr, steps))  # annealed, as the released runs anneal

    def step(carry, key):
        table, state = carry
        pick, draw = jax.random.split(key)
        sources = jax.random.choice(pick, members.shape[0], (batch,), replace=False)
        slots = jax.random.categorical(draw, log_weights[sources], shape=(2, batch))
        views = members[sources[None, :], slots].reshape(-1)  # first views of every source, then the second
        c = jnp.matmul(clip_views[views], clip_views[views].T, precision=jax.lax.Precision.HIGHEST)
        value, grad = jax.value_and_grad(lambda t: loss(method, t[views], c, tau, parameter))(table)
        updates, state = optimizer.update(grad, state, table)
        return (optax.apply_updates(table, updates), state), value

    (table, _), curve = jax.lax.scan(step, (table, optimizer.init(table)), jax.random.split(key, steps))
    return table, curve
