"""The CLIP / InfoNCE loss (THEORY.md section 2): what practice trains, compared against the spectral loss.

On a batch of ``B`` pairs ``(i_b, j_b) ~ P`` with embeddings ``a_b = f_V(i_b)``, ``c_b = f_L(j_b)`` (optionally
L2-normalized), logits ``z_bb' = <a_b, c_b'> / tau`` and the symmetric cross-entropy

    InfoNCE = (1/2B) sum_b [ (logsumexp_b' z_bb' - z_bb)  +  (logsumexp_b' z_b'b - z_bb) ]

(image -> text rows, then text -> image columns). The toolkit claims no theorem for it; its population optimum
puts ``<f_V, f_L> / tau`` near ``log(P_ij / (p_V(i) p_L(j)))`` plus per-row constants (THEORY.md T2d).

**Duplicates.** Pairs are drawn i.i.d., so a batch can hold the same text (or image) twice. By default
(``mask_duplicates=False``) every off-diagonal entry is a negative, as in CLIP and as the i.i.d. population
objective assumes: a repeated text ``j_b' = j_b`` is then a negative equal to the positive (its logit is the
positive's, capping that row's loss at ``log 2``-ish but giving no wrong-signed gradient). With
``mask_duplicates=True`` an off-diagonal entry ``(b, b')`` with ``i_b = i_b'`` or ``j_b = j_b'`` is removed from
both softmaxes (a repeated node is neither a positive nor a negative).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from amf._linalg import matmul


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
