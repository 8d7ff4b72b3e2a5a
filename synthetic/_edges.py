"""The generators' output: a bipartite image–text co-occurrence graph as coordinate (COO) edge arrays.

An ``Edges`` holds the unnormalized weight matrix ``W`` (``N_V x N_L``) as triplets: ``W[rows[e], cols[e]] +=
weights[e]`` (duplicate pairs add up). The joint of docs/theory.md section 1 is ``P = W / W.sum()``. Its ``arrays()``
are exactly the keys of the docs/file-format.md ``.npz`` graph format, so ``np.savez(path, **edges.arrays())`` writes a
valid graph file, and ``amf`` builds its graph object from the same attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Edges"]


@dataclass(frozen=True, eq=False)
class Edges:
    """A synthetic co-occurrence graph in docs/file-format.md form.

    Attributes
    ----------
    rows : int64 (nnz,)
        Image index ``i`` of each entry, ``0 <= rows < N_V``.
    cols : int64 (nnz,)
        Text index ``j`` of each entry, ``0 <= cols < N_L``.
    weights : float64 (nnz,)
        Nonnegative co-occurrence mass or count of each entry (need not sum to 1; duplicates add up).
    shape : (N_V, N_L)
    image_labels : int64 (N_V,) or None
        Downstream class ``y_V(i) >= 0`` of each image.
    text_labels : int64 (N_L,) or None
        Class ``y_L(j)`` of each text, ``-1`` = unknown.
    model : str
        Name of the generator that produced it (a key of ``synthetic.MODELS``).
    params : dict
        The resolved generator parameters, seed included (plain Python scalars: JSON-serializable).
    """

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int]
    image_labels: np.ndarray | None = None
    text_labels: np.ndarray | None = None
    model: str = ""
    params: dict = field(default_factory=dict)

    @property
    def n_images(self) -> int:
        return int(self.shape[0])

    @property
    def n_texts(self) -> int:
        return int(self.shape[1])

    @property
    def nnz(self) -> int:
        """Number of stored entries (duplicate pairs counted separately)."""
        return int(self.rows.shape[0])

    def arrays(self) -> dict:
        """The docs/file-format.md ``.npz`` keys: ``rows, cols, weights, shape`` (int64 array of 2) and, when present,
        ``image_labels, text_labels``."""
        out = {
            "rows": self.rows,
            "cols": self.cols,
            "weights": self.weights,
            "shape": np.asarray(self.shape, dtype=np.int64),
        }
        if self.image_labels is not None:
            out["image_labels"] = self.image_labels
        if self.text_labels is not None:
            out["text_labels"] = self.text_labels
        return out

    def dense(self, max_entries: int = 50_000_000) -> np.ndarray:
        """The weight matrix ``W`` as a dense float64 ``N_V x N_L`` array (duplicates summed). For small graphs
        (tests, closed-form checks); refuses more than ``max_entries`` cells."""
        n_v, n_l = self.shape
        if n_v * n_l > max_entries:
            raise ValueError(f"dense() of a {n_v} x {n_l} graph exceeds max_entries={max_entries}")
        flat = np.bincount(self.rows * n_l + self.cols, weights=self.weights, minlength=n_v * n_l)
        return flat.reshape(n_v, n_l)

    def validate(self) -> None:
        """Check the docs/file-format.md invariants (dtypes, lengths, index ranges, finite nonnegative weights, positive
        total, every image and every text with positive weight, label ranges). Raises ``ValueError``."""
        n_v, n_l = self.shape
        for name, arr, dtype in (("rows", self.rows, np.int64), ("cols", self.cols, np.int64),
                                 ("weights", self.weights, np.float64)):
            if arr.dtype != dtype or arr.ndim != 1 or arr.shape[0] != self.rows.shape[0]:
                raise ValueError(f"{name} must be a 1-d {np.dtype(dtype)} array of length nnz")
        if self.nnz and (self.rows.min() < 0 or self.rows.max() >= n_v):
            raise ValueError("rows out of range [0, N_V)")
        if self.nnz and (self.cols.min() < 0 or self.cols.max() >= n_l):
            raise ValueError("cols out of range [0, N_L)")
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0):
            raise ValueError("weights must be finite and >= 0")
        if np.any(np.bincount(self.rows, weights=self.weights, minlength=n_v) <= 0):
            raise ValueError("an image has no positive-weight edge")
        if np.any(np.bincount(self.cols, weights=self.weights, minlength=n_l) <= 0):
            raise ValueError("a text has no positive-weight edge")
        if self.image_labels is not None:
            y = self.image_labels
            if y.dtype != np.int64 or y.shape != (n_v,) or (n_v and y.min() < 0):
                raise ValueError("image_labels must be int64 of shape (N_V,) with values >= 0")
        if self.text_labels is not None:
            y = self.text_labels
            if y.dtype != np.int64 or y.shape != (n_l,) or (n_l and y.min() < -1):
                raise ValueError("text_labels must be int64 of shape (N_L,) with values >= -1")

    def __repr__(self) -> str:
        return (f"Edges(model={self.model!r}, shape={tuple(self.shape)}, nnz={self.nnz}, "
                f"params={self.params!r})")
