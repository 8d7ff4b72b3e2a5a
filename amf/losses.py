"""The spectral contrastive losses of THEORY.md section 2, computed from edges (never a dense ``N_V x N_L``).

- `mmcl_loss`: ``L(f_V, f_L) = -2 sum_ij P_ij <f_V(i), f_L(j)> + sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2``.
  The negative term uses the Gram trick
  ``sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2 = tr((f_V^T D_V f_V)(f_L^T D_L f_L))``: ``O((N_V + N_L) k^2)``.
- `mmcl_minibatch_loss`: the unbiased estimator on ``B`` pairs drawn from ``P``.
- `sscl_loss`: ``L_S(f) = -2 sum A_ii' <f(i), f(i')> + sum w_i w_i' <f(i), f(i')>^2`` on a symmetric graph ``A``.

All are pure JAX functions of arrays (jit- and grad-compatible); matmuls pin ``precision=HIGHEST``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from amf._linalg import matmul
from amf.graph import Joint


def positive_term(joint: Joint, f_images: jax.Array, f_texts: jax.Array) -> jax.Array:
    """``sum_ij P_ij <f_V(i), f_L(j)> = tr(f_V^T P f_L)``: the positive-pair expectation."""
    pf = jax.ops.segment_sum(
        joint.mass[:, None] * f_texts[joint.cols],
        joint.rows,
        num_segments=f_images.shape[0],
        indices_are_sorted=True,
    )
    return jnp.sum(f_images * pf)


def negative_term(joint: Joint, f_images: jax.Array, f_texts: jax.Array) -> jax.Array:
    """``sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2 = tr(G_V G_L)``, ``G_V = f_V^T D_V f_V`` (``k x k``)."""
    gram_images = matmul(f_images.T, joint.p_images[:, None] * f_images)
    gram_texts = matmul(f_texts.T, joint.p_texts[:, None] * f_texts)
    return jnp.sum(gram_images * gram_texts)


@jax.jit
def mmcl_loss(joint: Joint, f_images: jax.Array, f_texts: jax.Array) -> jax.Array:
    """Population MMCL spectral loss ``L(f_V, f_L)``; ``f_images (N_V, k)``, ``f_texts (N_L, k)``."""
    return -2.0 * positive_term(joint, f_images, f_texts) + negative_term(joint, f_images, f_texts)


@jax.jit
def mmcl_minibatch_loss(f_images_batch: jax.Array, f_texts_batch: jax.Array) -> jax.Array:
    """Unbiased minibatch estimator of ``L`` on ``B >= 2`` pairs ``(i_b, j_b) ~ P``.

    ``-(2/B) sum_b <f_V(i_b), f_L(j_b)> + 1/(B(B-1)) sum_{b != b'} <f_V(i_b), f_L(j_b')>^2``, with
    ``f_images_batch = f_V[i]`` and ``f_texts_batch = f_L[j]`` of shape ``(B, k)``.
    """
    b = f_images_batch.shape[0]
    scores = matmul(f_images_batch, f_texts_batch.T)
    diagonal = jnp.diagonal(scores)
    off_diagonal_sq = jnp.sum(scores**2) - jnp.sum(diagonal**2)
    return -2.0 * jnp.mean(diagonal) + off_diagonal_sq / (b * (b - 1))


def sample_pairs(key: jax.Array, joint: Joint, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Draw ``batch_size`` pairs ``(i_b, j_b)`` i.i.d. from ``P``; returns image and text indices ``(B,)``."""
    edge = jax.random.choice(key, joint.mass.shape[0], shape=(batch_size,), p=joint.mass)
    return joint.rows[edge], joint.cols[edge]


@jax.jit
def sscl_loss(pairs: Joint, f: jax.Array) -> jax.Array:
    """SSCL spectral loss ``L_S(f)`` on a symmetric pair graph ``A`` (``f (N, k)``).

    ``pairs`` holds ``A`` in coordinate form with ``p_images = p_texts = w = A 1``; then ``L_S(f)`` is the
    MMCL loss of the graph ``A`` with both encoders equal to ``f`` (THEORY.md T3: SSCL is the symmetric case).
    """
    return mmcl_loss(pairs, f, f)
