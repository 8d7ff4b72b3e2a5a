"""``infonce``: the symmetric CLIP loss on sampled batches (`amf.losses.infonce_loss`); no theorem covers it.

Adam on the tables (``lr = 1e-2``, cosine), L2-normalized embeddings, ``tau = 0.1``: measured better than the
sparse SGD of ``sgd`` for this objective (the normalization makes the step scale-dependent). The spectral loss of
the result is reported after the best scalar rescaling (`amf.solvers.convergence.rescaled_loss`), beside the
subspace distance to ``span(U_k)``; convergence to the SVD is not claimed, and the certificate's reason is
"not judged".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from amf.losses import infonce_loss
from amf._validate import param
from amf.solvers.training import Batched


@dataclasses.dataclass(frozen=True)
class InfoNCE(Batched):
    """Symmetric InfoNCE with temperature ``tau`` (a hyperparameter); ``normalize`` L2-normalizes embeddings,
    ``mask_duplicates`` removes repeated nodes from the softmaxes (`amf.losses.infonce_loss`)."""

    tau: float = param(0.1, kind=float, low=0, low_open=True, traced=True, help="InfoNCE temperature")
    normalize: bool = param(True, kind=bool, help="L2-normalize the embeddings InfoNCE scores")
    mask_duplicates: bool = param(False, kind=bool, cli=False, help="leave repeated nodes out of the softmaxes")

    name = "infonce"
    summary = "the symmetric CLIP loss with temperature (no theorem: measures reported)"
    rule = "not judged: no theorem ties InfoNCE to the SVD; the measures are reported"
    rescaled = True
    defaults = {"steps": 5000, "lr": 1e-2, "optimizer": "adam", "schedule": "cosine", "chunk": 250}
    tolerances = {"float64": {}, "float32": {}}

    def loss(self, data, hyper, f_images, f_texts, i, j):
        ids = (i, j) if self.mask_duplicates else (None, None)
        return infonce_loss(f_images, f_texts, hyper["tau"], normalize=self.normalize, image_ids=ids[0],
                            text_ids=ids[1])

    def representation(self, f):
        return f / np.linalg.norm(f, axis=1, keepdims=True) if self.normalize else f

    def criterion(self, measures, tolerance):
        return None, ("infonce: not judged. No theorem ties the InfoNCE optimum to the SVD, so amf claims no "
                      "convergence to it: the spectral loss after the best scalar rescaling, its gap, the subspace "
                      "distance, the probe error and the relative change of the objective over the last chunk are "
                      "reported as measures")
