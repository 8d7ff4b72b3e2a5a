"""Shared test references: independent dense float64 computations from the raw edge arrays, and a compilation
counter. Nothing here calls amf's own numerics, so a test that compares amf with these compares two routes.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph


def compilations(jitted) -> int:
    """How many programs a ``jax.jit`` function has compiled so far (its cache size): a test asserts a second
    call with new values of the same shapes adds none."""
    return int(jitted._cache_size())


def dense_joint(rows, cols, weights, shape):
    """``P``, ``p_V``, ``p_L`` and ``Pn`` from the raw edge arrays (duplicates add up), in float64 numpy."""
    w = np.zeros(shape)
    np.add.at(w, (np.asarray(rows), np.asarray(cols)), np.asarray(weights, dtype=np.float64))
    p = w / w.sum()
    p_v, p_l = p.sum(axis=1), p.sum(axis=0)
    pn = p / np.sqrt(np.outer(p_v, p_l))
    return p, p_v, p_l, pn


def numpy_residuals(a, u, s, vt):
    """``||A v_i - s_i u_i|| / s_1`` and ``||A^T u_i - s_i v_i|| / s_1`` by dense numpy products."""
    v = vt.T
    left = np.linalg.norm(a @ v - u * s, axis=0) / s[0]
    right = np.linalg.norm(a.T @ u - v * s, axis=0) / s[0]
    return left, right


def projector_gap(x, y):
    """``||X X^T - Y Y^T||_2`` for orthonormal ``X``, ``Y`` (dense projectors: small matrices only)."""
    return float(np.linalg.norm(x @ x.T - y @ y.T, ord=2))


def rel(a, b):
    """``|a - b| / max(1, |b|)``."""
    return abs(float(a) - float(b)) / max(1.0, abs(float(b)))


ZERO_S = 1e-10
"""Singular values at or below this are round-off of an exact zero (structurally rank-deficient ``Pn``)."""


# ---- the independent dense reference ---------------------------------------------------------------------


class Dense:
    """Every quantity of a graph, in float64 numpy, from the raw edge arrays."""

    def __init__(self, rows, cols, weights, shape, image_labels=None, text_labels=None):
        w = np.zeros(shape)
        np.add.at(w, (np.asarray(rows), np.asarray(cols)), np.asarray(weights, dtype=np.float64))
        self.w = w
        self.shape = tuple(shape)
        self.p = w / w.sum()
        self.p_v, self.p_l = self.p.sum(axis=1), self.p.sum(axis=0)
        self.pn = self.p / np.sqrt(np.outer(self.p_v, self.p_l))
        self.u, self.s, self.vt = np.linalg.svd(self.pn, full_matrices=False)
        self.a_v = self.p @ np.diag(1.0 / self.p_l) @ self.p.T
        self.abar = self.a_v / np.sqrt(np.outer(self.p_v, self.p_v))
        self.abar_values = np.linalg.eigvalsh(self.abar)[::-1]
        n_v, n_l = shape
        adjacency = np.block([[np.zeros((n_v, n_v)), w], [w.T, np.zeros((n_l, n_l))]])
        self.n_components = int(csgraph.connected_components(sp.csr_array(adjacency), directed=False)[0])
        self.y_v = None if image_labels is None else np.asarray(image_labels)
        self.y_l = None if text_labels is None else np.asarray(text_labels)

    def singular_values(self, k):
        """Top ``k + 1``, padded with zeros past ``min(N_V, N_L)``."""
        return np.pad(self.s, (0, k + 1))[: k + 1]

    @property
    def alpha(self):
        if self.y_v is None or self.y_l is None:
            return None
        disagree = (self.y_l[None, :] >= 0) & (self.y_v[:, None] != self.y_l[None, :])
        return float(self.p[disagree].sum())

    @property
    def phi(self):
        if self.y_v is None:
            return None
        return float(self.a_v[self.y_v[:, None] != self.y_v[None, :]].sum())

    @property
    def all_texts_labeled(self):
        return self.y_l is not None and bool(np.all(self.y_l >= 0))

    def gap_defined(self, k):
        """``s_{k+1} < 1`` exactly: the multiplicity of ``s = 1`` (= components, T2c) is at most ``k``."""
        return self.n_components <= k

    def bounds(self, k):
        s_next = self.singular_values(k)[k]
        gap = 1.0 - s_next**2
        phi, alpha = self.phi, self.alpha
        defined = self.gap_defined(k)
        return {
            "rigorous_phi": 2 * phi / gap if defined and phi is not None else None,
            "rigorous_alpha": 4 * alpha / gap if defined and alpha is not None and self.all_texts_labeled else None,
            "paper_form": 4 * alpha / gap + 8 * alpha if defined and alpha is not None and self.all_texts_labeled else None,
        }

    def probe_error(self, f_images):
        """``E_LS`` of the ``p_V``-weighted least-squares probe on ``f_images``, as an interval ``(low, high)``.

        Solved by `np.linalg.lstsq` on ``sqrt(p_V)``-weighted rows, after dropping round-off directions (an
        exact-zero singular value gives an exact-zero column of ``F_V``; computed, it is ``~sqrt(eps)``).
        ``low`` counts sure errors; ``high`` adds points whose true class ties (within 1e-9) with another at the
        maximum, where the arg-max is decided by round-off.
        """
        root = np.sqrt(self.p_v)
        x = root[:, None] * np.asarray(f_images, dtype=np.float64)
        q, sv, _ = np.linalg.svd(x, full_matrices=False)
        q = q[:, sv > np.sqrt(ZERO_S) * max(sv[0], 1e-300)]
        n_classes = int(self.y_v.max()) + 1
        targets = root[:, None] * np.eye(n_classes)[self.y_v]
        coefficients, *_ = np.linalg.lstsq(q, targets, rcond=None)
        scores = (q @ coefficients) / root[:, None]  # = f_V(i)^T B* row by row
        top = scores.max(axis=1, keepdims=True)
        near_top = scores >= top - 1e-9 * max(1.0, np.abs(scores).max())
        own = near_top[np.arange(len(self.y_v)), self.y_v]
        sure_wrong = ~own
        tied = own & (near_top.sum(axis=1) > 1)
        return float(self.p_v[sure_wrong].sum()), float(self.p_v[sure_wrong | tied].sum()), int(tied.sum())

    def top_basis(self, k):
        """``U_k`` without round-off directions (``s_i <= ZERO_S``)."""
        keep = self.s[:k] > ZERO_S
        return self.u[:, :k][:, keep]


def dense_mmcl(d: Dense, f_v, f_l):
    scores = f_v @ f_l.T
    return -2.0 * np.sum(d.p * scores) + np.sum(np.outer(d.p_v, d.p_l) * scores**2)


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))
