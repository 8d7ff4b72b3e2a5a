"""``sgd``: minibatch training on pairs ``(i_b, j_b) ~ P`` with the unbiased estimator of the MMCL loss.

The estimator is `amf.losses.minibatch_loss` (Gram form, ``O(B k^2)``). Tables train in natural coordinates
with ``p_floor = 1 / B``: a node with ``B p_i >= 1`` appears in most batches and gets the natural
(``D^{-1}``-preconditioned) step; a rare node gets one step of size ``~lr`` per appearance (without the floor its
per-appearance kick grows like ``1 / (B p_i)`` and the run diverges). The default is plain SGD with sparse row
updates, ``lr = 0.05`` with cosine decay. Larger steps diverge on graphs whose top singular vectors are localized
on rare nodes (``|f(i)|`` of tens: the estimator's variance grows like ``E ||f||^4``); on large graphs where every
node is rare (``B p_i << 1``, e.g. ``benchmarks/bench_sgd.py``) ``lr = 0.3`` is stable and much faster.
"""

from __future__ import annotations

import dataclasses

from amf.losses import minibatch_loss
from amf.solvers.convergence import loss_and_subspace
from amf.solvers.training import Batched


@dataclasses.dataclass(frozen=True)
class SGD(Batched):
    """The minibatch estimator on ``B`` sampled pairs; judged by the population loss gap relative to the
    informative part of the minimum and, where the subspace is determined, the subspace distance (a run measured
    on a planted graph reached 1e-3 and 0.03: the tolerances 2e-2 and 0.1 leave room for sampling noise)."""

    name = "sgd"
    summary = "minibatch training on pairs drawn from P with the unbiased estimator"
    rule = ("the population loss_gap = (L - L_min) / sum_{2<=i<=k} s_i^2 <= tol and, where s_k - s_{k+1} >= 1e-3, "
            "the subspace distance to span(U_k) <= tol")
    defaults = {"steps": 5000, "lr": 0.05, "optimizer": "sgd", "schedule": "cosine", "chunk": 250}
    tolerances = {"float64": {"loss_gap": 2e-2, "subspace_distance": 0.1},
                  "float32": {"loss_gap": 2e-2, "subspace_distance": 0.1}}

    def loss(self, data, hyper, f_images, f_texts, i, j):
        return minibatch_loss(f_images, f_texts)

    def criterion(self, measures, tolerance):
        return loss_and_subspace(self.name, measures, tolerance,
                                 against="-sum_{i<=k} s_i^2 (population MMCL loss from the edges)")
