"""Every loss of docs/theory.md section 2, computed from edges (never a dense ``N_V x N_L`` matrix).

- `mmcl_loss`: ``L(f_V, f_L) = -2 sum_ij P_ij <f_V(i), f_L(j)> + sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2``.
  The negative term uses the Gram trick
  ``sum_ij p_V(i) p_L(j) <f_V(i), f_L(j)>^2 = tr((f_V^T D_V f_V)(f_L^T D_L f_L))``: ``O((N_V + N_L) k^2)``.
- `mmcl_minibatch_loss`: the unbiased estimator on ``B`` pairs drawn from ``P`` (pairwise form), and
  `minibatch_loss`, the same estimator in Gram form with a hand-written gradient (what the sgd solver trains).
- `sscl_loss`: ``L_S(f) = -2 sum A_ii' <f(i), f(i')> + sum w_i w_i' <f(i), f(i')>^2`` on a symmetric graph ``A``.
- `infonce_loss`: the symmetric CLIP loss with temperature (no theorem; compared against the spectral loss).
- `weighted_loss`: ``-2 sum A <f, f'> + sum N <f, f'>^2`` with reweighted negatives `NegativeWeights`
  (docs/theory.md section 5).

All are pure JAX functions of arrays (jit- and grad-compatible); matmuls pin ``precision=HIGHEST``.

**InfoNCE.** On a batch of ``B`` pairs ``(i_b, j_b) ~ P`` with embeddings ``a_b = f_V(i_b)``,
``c_b = f_L(j_b)`` (optionally L2-normalized), logits ``z_bb' = <a_b, c_b'> / tau`` and the symmetric cross-entropy

    InfoNCE = (1/2B) sum_b [ (logsumexp_b' z_bb' - z_bb)  +  (logsumexp_b' z_b'b - z_bb) ]

(image -> text rows, then text -> image columns). The toolkit claims no theorem for it; its population optimum
puts ``<f_V, f_L> / tau`` near ``log(P_ij / (p_V(i) p_L(j)))`` plus per-row constants (docs/theory.md T2d).

**Duplicates.** Pairs are drawn i.i.d., so a batch can hold the same text (or image) twice. By default
(``mask_duplicates=False``) every off-diagonal entry is a negative, as in CLIP and as the i.i.d. population
objective assumes: a repeated text ``j_b' = j_b`` is then a negative equal to the positive (its logit is the
positive's, capping that row's loss at ``log 2``-ish but giving no wrong-signed gradient). With
``mask_duplicates=True`` an off-diagonal entry ``(b, b')`` with ``i_b = i_b'`` or ``j_b = j_b'`` is removed from
both softmaxes (a repeated node is neither a positive nor a negative).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from amf._linalg import matmul
from amf.errors import InputError
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
    MMCL loss of the graph ``A`` with both encoders equal to ``f`` (docs/theory.md T3: SSCL is the symmetric case).
    """
    return mmcl_loss(pairs, f, f)


# ---- the minibatch estimator in Gram form ---------------------------------------------------------------------


@jax.custom_vjp
def minibatch_loss(images: jax.Array, texts: jax.Array) -> jax.Array:
    """`amf.losses.mmcl_minibatch_loss` in Gram form: ``O(B k^2)`` instead of the ``B x B`` score matrix.

    ``-(2/B) sum_b d_b + (tr((A^T A)(C^T C)) - sum_b d_b^2) / (B (B - 1))`` with ``A = images``, ``C = texts``
    (``(B, k)``) and ``d_b = <a_b, c_b>``; equal to the pairwise form up to round-off. Its gradient is written
    out (a custom VJP reusing the two ``k x k`` Grams: half the time of autodiff on CPU):
    ``dL/dA = -(2/B) C + 2 (A (C^T C) - diag(d) C) / (B (B - 1))``, symmetrically for ``C``.
    """
    return _minibatch_forward(images, texts)[0]


def _minibatch_forward(images, texts):
    b = images.shape[0]
    d = jnp.sum(images * texts, axis=1)
    gram_images, gram_texts = matmul(images.T, images), matmul(texts.T, texts)
    value = -2.0 * jnp.mean(d) + (jnp.sum(gram_images * gram_texts) - jnp.sum(d * d)) / (b * (b - 1))
    return value, (images, texts, d, gram_images, gram_texts)


def _minibatch_backward(residuals, cotangent):
    images, texts, d, gram_images, gram_texts = residuals
    b = images.shape[0]
    norm = 2.0 / (b * (b - 1))
    grad_images = (-2.0 / b) * texts + norm * (matmul(images, gram_texts) - d[:, None] * texts)
    grad_texts = (-2.0 / b) * images + norm * (matmul(texts, gram_images) - d[:, None] * images)
    return cotangent * grad_images, cotangent * grad_texts


minibatch_loss.defvjp(_minibatch_forward, _minibatch_backward)


# ---- InfoNCE --------------------------------------------------------------------------------------------------


def infonce_loss(
    images: jax.Array,
    texts: jax.Array,
    tau: float | jax.Array,
    *,
    normalize: bool = True,
    image_ids: jax.Array | None = None,
    text_ids: jax.Array | None = None,
) -> jax.Array:
    """Symmetric InfoNCE of ``images (B, k)`` against ``texts (B, k)`` (row ``b`` of each is the positive pair).

    Pass ``image_ids`` and ``text_ids`` (``(B,)`` node indices) to mask duplicate nodes (module docstring);
    without them every off-diagonal entry is a negative.
    """
    if normalize:
        images = images / jnp.linalg.norm(images, axis=1, keepdims=True)
        texts = texts / jnp.linalg.norm(texts, axis=1, keepdims=True)
    logits = matmul(images, texts.T) / tau
    if image_ids is not None and text_ids is not None:
        same = (image_ids[:, None] == image_ids[None, :]) | (text_ids[:, None] == text_ids[None, :])
        off = same & ~jnp.eye(logits.shape[0], dtype=bool)
        logits = jnp.where(off, -jnp.inf, logits)
    positive = jnp.diagonal(logits)
    image_to_text = jax.nn.logsumexp(logits, axis=1) - positive
    text_to_image = jax.nn.logsumexp(logits, axis=0) - positive
    return 0.5 * (jnp.mean(image_to_text) + jnp.mean(text_to_image))


# ---- reweighted negatives ------------------------------------------------------------------------------------


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class NegativeWeights:
    """Negative-pair weights ``N = sum_r left[r] right[r]^T + sum_e weights[e] e_{rows[e]} e_{cols[e]}^T``.

    ``left, right (R, n)`` hold a low-rank part (``R = 1``, ``left = right = w`` is SSCL's ``N = w w^T``);
    ``rows, cols, weights (m,)`` a sparse part, whose weights may be negative to remove mass from the low-rank
    part (DropFalseNegative / DropEasyNegative of docs/theory.md section 5). Build with `product`, `low_rank`,
    `pairs` and `plus_pairs`; ``N`` itself is never formed.
    """

    left: jax.Array
    right: jax.Array
    rows: jax.Array
    cols: jax.Array
    weights: jax.Array

    @classmethod
    def low_rank(cls, left, right) -> NegativeWeights:
        left, right = np.atleast_2d(np.asarray(left, np.float64)), np.atleast_2d(np.asarray(right, np.float64))
        if left.shape != right.shape:
            raise InputError(f"negative factors must have equal shapes, got {left.shape} and {right.shape}")
        empty = np.zeros(0, dtype=np.int32)
        return cls(jnp.asarray(left), jnp.asarray(right), jnp.asarray(empty), jnp.asarray(empty), jnp.zeros(0))

    @classmethod
    def product(cls, w) -> NegativeWeights:
        """``N = w w^T`` (negatives drawn independently from ``w``)."""
        return cls.low_rank(w, w)

    @classmethod
    def pairs(cls, rows, cols, weights, n: int) -> NegativeWeights:
        """A purely sparse ``N`` on ``n`` nodes."""
        return cls.low_rank(np.zeros((0, n)), np.zeros((0, n))).plus_pairs(rows, cols, weights)

    def plus_pairs(self, rows, cols, weights) -> NegativeWeights:
        """This ``N`` plus sparse entries (duplicates add up; negative weights subtract)."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        weights = np.asarray(weights, dtype=np.float64)
        if not (rows.shape == cols.shape == weights.shape) or rows.ndim != 1:
            raise InputError("negative pairs need 1-D rows, cols and weights of equal length")
        n = self.n_nodes
        if rows.size and (min(rows.min(), cols.min()) < 0 or max(rows.max(), cols.max()) >= n):
            raise InputError(f"negative pair index out of range [0, {n})")
        return NegativeWeights(
            self.left, self.right,
            jnp.concatenate([self.rows, jnp.asarray(rows, dtype=jnp.int32)]),
            jnp.concatenate([self.cols, jnp.asarray(cols, dtype=jnp.int32)]),
            jnp.concatenate([self.weights, jnp.asarray(weights)]),
        )

    @property
    def n_nodes(self) -> int:
        return int(self.left.shape[1])

    def entries(self) -> np.ndarray:
        """``N`` at its sparse coordinates (low-rank part included), float64: each must be ``>= 0``."""
        rows, cols = np.asarray(self.rows), np.asarray(self.cols)
        low = np.einsum("rn,rn->n", np.asarray(self.left)[:, rows], np.asarray(self.right)[:, cols])
        total = sp.coo_array((np.asarray(self.weights), (rows, cols)), shape=(self.n_nodes,) * 2).tocsr()
        return low + np.asarray(total[rows, cols]).ravel()

    def is_product_of(self, w: np.ndarray) -> bool:
        """Whether ``N = w w^T`` exactly (one factor pair equal to ``w``, no sparse part)."""
        return (self.left.shape[0] == 1 and self.rows.shape[0] == 0
                and np.array_equal(np.asarray(self.left[0]), np.asarray(w))
                and np.array_equal(np.asarray(self.right[0]), np.asarray(w)))

    def astype(self, dtype) -> NegativeWeights:
        return NegativeWeights(self.left.astype(dtype), self.right.astype(dtype), self.rows, self.cols,
                               self.weights.astype(dtype))


def weighted_loss(positives: Joint, negatives: NegativeWeights, f: jax.Array) -> jax.Array:
    """``-2 sum_ii' A_ii' <f(i), f(i')> + sum_ii' N_ii' <f(i), f(i')>^2`` for one encoder ``f (n, k)``.

    ``positives`` holds ``A`` in coordinate form (`amf.text_induced.pairs_joint`, rows sorted); the low-rank part
    of ``N`` uses the Gram trick ``sum_ii' l_i r_i' <f_i, f_i'>^2 = tr((f^T D_l f)(f^T D_r f))``.
    """
    gram_left = jnp.einsum("rn,nk,nl->rkl", negatives.left, f, f, precision=jax.lax.Precision.HIGHEST)
    gram_right = jnp.einsum("rn,nk,nl->rkl", negatives.right, f, f, precision=jax.lax.Precision.HIGHEST)
    low_rank = jnp.sum(gram_left * gram_right)
    scores = jnp.sum(f[negatives.rows] * f[negatives.cols], axis=1)
    return -2.0 * positive_term(positives, f, f) + low_rank + jnp.sum(negatives.weights * scores**2)
