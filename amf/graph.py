"""The image–text co-occurrence graph: a validated joint distribution ``P`` over (image, text) pairs.

Symbols (docs/theory.md section 1): ``P`` is ``N_V x N_L``, nonnegative, sums to 1; marginals ``p_V = P 1`` and
``p_L = P^T 1`` are positive; the normalized co-occurrence is ``Pn = D_V^{-1/2} P D_L^{-1/2}``.
The graph is held sparsely (scipy CSR); a dense ``N_V x N_L`` array is built only when asked for.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import zipfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from amf.io import json_safe, write_npz
from amf.errors import InputError
from amf.operators import SparseOperator, sparse_operator

MAX_SIDE = 2**31 - 1
"""Largest ``N_V`` or ``N_L`` a graph may declare (indices are int32 in the JAX operators)."""

DENSE_LIMIT = 25_000_000
"""Largest ``N_V * N_L`` for which a dense normalized matrix is built (200 MB in float64)."""


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Joint:
    """The joint as JAX arrays, the form the jitted losses and solvers take (a pytree of arrays).

    ``rows, cols (nnz,)`` index the nonzeros, ``mass (nnz,)`` holds ``P_ij``; ``p_images (N_V,)`` is ``p_V`` and
    ``p_texts (N_L,)`` is ``p_L``.
    """

    rows: jnp.ndarray
    cols: jnp.ndarray
    mass: jnp.ndarray
    p_images: jnp.ndarray
    p_texts: jnp.ndarray


class CoOccurrence:
    """A validated image–text co-occurrence graph.

    Build it with `from_arrays`, `from_edges` (a `synthetic.Edges`) or `load` (a ``.npz`` graph file). The
    stored weights are the given counts with duplicates summed; the joint is ``weights / weights.sum()``.
    """

    def __init__(self, weights: sp.csr_array, image_labels=None, text_labels=None, *, dropped=(0, 0)):
        self._weights = weights
        self._total = float(weights.sum())
        self.image_labels = image_labels
        self.text_labels = text_labels
        self.dropped = dropped
        """``(images, texts)`` removed by ``drop_isolated``."""

    # ---- construction -------------------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls, rows, cols, weights, shape, image_labels=None, text_labels=None, *, drop_isolated: bool = False
    ) -> CoOccurrence:
        """Validate edge arrays (docs/file-format.md graph format) and build the graph.

        Raises `InputError` with a one-line message for every invalid input. With ``drop_isolated``, images
        and texts without an edge of positive weight are removed (with their labels) instead of rejected;
        ``graph.dropped`` says how many.

        Time and memory follow the edges, never the declared shape: every node needs an edge, so a shape larger
        than the number of entries is refused before anything of that size is allocated (with ``drop_isolated``
        the used indices are renumbered from the edges alone). Weights whose sum would overflow or whose maximum
        is below ``1e-300`` are rescaled by an exact power of two (the joint ``P`` does not change).
        """
        shape = _as_shape(shape)
        rows = _as_index(rows, "rows")
        cols = _as_index(cols, "cols")
        weights = _as_float(weights, "weights")
        if not (len(rows) == len(cols) == len(weights)):
            raise InputError(
                f"rows, cols and weights must have the same length, got {len(rows)}, {len(cols)}, {len(weights)}"
            )
        _check_range(rows, shape[0], "rows", "N_V")
        _check_range(cols, shape[1], "cols", "N_L")
        if not np.all(np.isfinite(weights)):
            bad = int(np.flatnonzero(~np.isfinite(weights))[0])
            raise InputError(f"weights must be finite, got {weights[bad]} at entry {bad}")
        if np.any(weights < 0):
            bad = int(np.flatnonzero(weights < 0)[0])
            raise InputError(f"weights must be >= 0, got {weights[bad]} at entry {bad}")
        if not np.any(weights > 0):
            raise InputError("weights sum to zero: the joint P = weights / weights.sum() is undefined")
        weights = _rescaled(weights)
        if not drop_isolated:
            for n, name, symbol in ((shape[0], "image", "N_V"), (shape[1], "text", "N_L")):
                if n > len(weights):
                    raise InputError(
                        f"shape declares {symbol} = {n} {name}s but the graph has {len(weights)} entries: at least "
                        f"{n - len(weights)} {name}(s) have no edge; every node needs a positive marginal (use "
                        "--drop-isolated to remove them)")
        image_labels = _as_labels(image_labels, shape[0], "image_labels", "N_V", minimum=0)
        text_labels = _as_labels(text_labels, shape[1], "text_labels", "N_L", minimum=-1)
        if drop_isolated:
            positive = weights > 0
            used_v, rows = np.unique(rows[positive], return_inverse=True)
            used_l, cols = np.unique(cols[positive], return_inverse=True)
            weights = weights[positive]
            w = sp.csr_array((weights, (rows.ravel(), cols.ravel())), shape=(len(used_v), len(used_l)))
            w.sum_duplicates()
            w.sort_indices()
            return cls(
                w,
                None if image_labels is None else image_labels[used_v],
                None if text_labels is None else text_labels[used_l],
                dropped=(shape[0] - len(used_v), shape[1] - len(used_l)),
            )

        w = sp.csr_array((weights, (rows, cols)), shape=shape)
        w.sum_duplicates()
        w.eliminate_zeros()
        w.sort_indices()
        degree_v, degree_l = np.asarray(w.sum(axis=1)).ravel(), np.asarray(w.sum(axis=0)).ravel()
        lonely_v, lonely_l = np.flatnonzero(degree_v <= 0), np.flatnonzero(degree_l <= 0)
        if len(lonely_v):
            raise InputError(
                f"{len(lonely_v)} image(s) have no edge (first: image {lonely_v[0]}); every node needs a positive "
                "marginal (use --drop-isolated to remove them)"
            )
        if len(lonely_l):
            raise InputError(
                f"{len(lonely_l)} text(s) have no edge (first: text {lonely_l[0]}); every node needs a positive "
                "marginal (use --drop-isolated to remove them)"
            )
        return cls(w, image_labels, text_labels)

    @classmethod
    def from_edges(cls, edges, *, drop_isolated: bool = False) -> CoOccurrence:
        """Build from any object with ``rows, cols, weights, shape`` (and optional label) attributes."""
        return cls.from_arrays(
            edges.rows,
            edges.cols,
            edges.weights,
            edges.shape,
            getattr(edges, "image_labels", None),
            getattr(edges, "text_labels", None),
            drop_isolated=drop_isolated,
        )

    @classmethod
    def load(cls, path: str | os.PathLike, *, drop_isolated: bool = False) -> CoOccurrence:
        """Read a graph file: the ``.npz`` format of docs/file-format.md, or a ``scipy.sparse.save_npz`` file (no
        labels)."""
        path = Path(path)
        if path.is_dir():
            raise InputError(f"{path} is a folder, not a graph file")
        if not path.is_file():
            raise InputError(f"graph file not found: {path}")
        if not zipfile.is_zipfile(path):
            raise InputError(f"cannot read graph file {path}: not an .npz archive (a .npy array or a text file "
                             "renamed?)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"cannot read graph file {path}: {first}") from None
        if "format" in arrays and "rows" not in arrays:
            try:
                matrix = sp.load_npz(path).tocoo()
            except Exception as exc:  # scipy raises several types for malformed files
                raise InputError(f"cannot read scipy sparse file {path}: {exc}") from None
            return cls.from_arrays(matrix.row, matrix.col, matrix.data, matrix.shape, drop_isolated=drop_isolated)
        for key in ("rows", "cols", "weights", "shape"):
            if key not in arrays:
                raise InputError(f"graph file {path} has no '{key}' array (needs rows, cols, weights, shape)")
        return cls.from_arrays(
            arrays["rows"],
            arrays["cols"],
            arrays["weights"],
            arrays["shape"],
            arrays.get("image_labels"),
            arrays.get("text_labels"),
            drop_isolated=drop_isolated,
        )

    def save(self, path: str | os.PathLike, *, metadata: dict | None = None) -> None:
        """Write the graph file (docs/file-format.md format) atomically; `load` gives back the same graph exactly.

        ``metadata`` (JSON-able: e.g. the generator's ``model``, ``params``, ``seed`` and the run's provenance)
        is stored as one JSON string under the key ``metadata``; `read_metadata` reads it back."""
        coo = self._weights.tocoo()
        arrays = {
            "rows": coo.row.astype(np.int64),
            "cols": coo.col.astype(np.int64),
            "weights": coo.data.astype(np.float64),
            "shape": np.asarray(self.shape, dtype=np.int64),
        }
        if self.image_labels is not None:
            arrays["image_labels"] = self.image_labels
        if self.text_labels is not None:
            arrays["text_labels"] = self.text_labels
        if metadata is not None:
            arrays["metadata"] = np.asarray(json.dumps(json_safe(metadata), allow_nan=False))
        write_npz(path, **arrays)

    # ---- sizes and marginals ------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(N_V, N_L)``."""
        return tuple(int(n) for n in self._weights.shape)

    @property
    def n_images(self) -> int:
        return self.shape[0]

    @property
    def n_texts(self) -> int:
        return self.shape[1]

    @property
    def nnz(self) -> int:
        return int(self._weights.nnz)

    @functools.cached_property
    def joint(self) -> sp.csr_array:
        """``P`` (``N_V x N_L``, CSR, sums to 1)."""
        return sp.csr_array(self._weights / self._total)

    @functools.cached_property
    def p_images(self) -> np.ndarray:
        """``p_V = P 1`` (``N_V,``)."""
        return np.asarray(self.joint.sum(axis=1)).ravel()

    @functools.cached_property
    def p_texts(self) -> np.ndarray:
        """``p_L = P^T 1`` (``N_L,``)."""
        return np.asarray(self.joint.sum(axis=0)).ravel()

    @functools.cached_property
    def normalized(self) -> sp.csr_array:
        """``Pn = D_V^{-1/2} P D_L^{-1/2}`` (``N_V x N_L``, CSR)."""
        p = self.joint
        scale_v = 1.0 / np.sqrt(self.p_images)
        scale_l = 1.0 / np.sqrt(self.p_texts)
        data = p.data * scale_v[np.repeat(np.arange(p.shape[0]), np.diff(p.indptr))] * scale_l[p.indices]
        return sp.csr_array((data, p.indices, p.indptr), shape=p.shape)

    def normalized_operator(self, dtype=np.float64) -> SparseOperator:
        """``Pn`` as a JAX operator (``matmat(X) = Pn X``, ``rmatmat(Y) = Pn^T Y``)."""
        return sparse_operator(self.normalized, dtype)

    def normalized_dense(self) -> np.ndarray:
        """``Pn`` as a dense ``N_V x N_L`` float64 array; refuses graphs above `DENSE_LIMIT` entries."""
        if self.n_images * self.n_texts > DENSE_LIMIT:
            raise InputError(
                f"graph too large for a dense matrix ({self.n_images} x {self.n_texts}); use the krylov solver"
            )
        return self.normalized.toarray()

    def joint_arrays(self, dtype=np.float64) -> Joint:
        """The joint as JAX arrays for the jitted losses and gradient solvers."""
        coo = self.joint.tocoo()
        return Joint(
            rows=jnp.asarray(coo.row, dtype=jnp.int32),
            cols=jnp.asarray(coo.col, dtype=jnp.int32),
            mass=jnp.asarray(coo.data, dtype=dtype),
            p_images=jnp.asarray(self.p_images, dtype=dtype),
            p_texts=jnp.asarray(self.p_texts, dtype=dtype),
        )

    @functools.cached_property
    def n_components(self) -> int:
        """Connected components of the bipartite image–text graph (a sparse graph routine, no dense array).

        The graph is the ``(N_V + N_L)``-node directed graph with an arc from image ``i`` to text ``N_V + j`` per
        edge, whose *weak* components are the bipartite graph's components; its CSR arrays come straight from
        ``W``'s (no symmetric block matrix to assemble; the gain: docs/performance.md).
        """
        n_v, n_l = self.shape
        w = sp.csr_array(self._weights)
        index = np.int32 if n_v + n_l < 2**31 else np.int64
        indptr = np.concatenate([w.indptr, np.full(n_l, w.indptr[-1])]).astype(index)
        arcs = sp.csr_array((np.ones(w.nnz, np.int8), w.indices.astype(index) + n_v, indptr),
                            shape=(n_v + n_l, n_v + n_l))
        return int(csgraph.connected_components(arcs, directed=True, connection="weak")[0])

    def __repr__(self) -> str:
        labels = [name for name, x in (("image", self.image_labels), ("text", self.text_labels)) if x is not None]
        return (
            f"CoOccurrence(n_images={self.n_images}, n_texts={self.n_texts}, nnz={self.nnz}, "
            f"labels={'+'.join(labels) or 'none'})"
        )


# ---- validation helpers ----------------------------------------------------------------------------------


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The ``metadata`` a graph file was saved with (`CoOccurrence.save`), or None when it has none."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["metadata"])) if "metadata" in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"cannot read graph file {path}: {exc}") from None


def _as_shape(shape) -> tuple[int, int]:
    arr = np.asarray(shape)
    if arr.shape != (2,) or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"shape must be two integers (N_V, N_L), got an array of shape {arr.shape} and dtype "
                         f"{arr.dtype}")
    n_v, n_l = int(arr[0]), int(arr[1])  # Python ints: a uint64 2^64 - 1 stays itself, not -1
    if n_v <= 0 or n_l <= 0:
        raise InputError(f"shape must be positive, got ({n_v}, {n_l})")
    if max(n_v, n_l) > MAX_SIDE:
        raise InputError(f"shape ({n_v}, {n_l}) exceeds the largest side amf supports, {MAX_SIDE} nodes")
    return n_v, n_l


def _rescaled(weights: np.ndarray) -> np.ndarray:
    """``weights`` times an exact power of two when their sum could overflow or their scale underflow."""
    top = float(weights.max())
    if 1e-300 <= top <= 1e300 / max(len(weights), 1):
        return weights
    return np.ldexp(weights, -int(np.floor(np.log2(top))))  # exact, and no overflow of 2^e itself


def _as_index(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size and arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        bad = int(arr.max())
        raise InputError(f"{name} index {bad} out of range (larger than any graph amf supports)")
    return arr.astype(np.int64, copy=False)


def _as_float(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size and not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _check_range(index: np.ndarray, bound: int, name: str, symbol: str) -> None:
    if index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    if low < 0 or high >= bound:
        bad = low if low < 0 else high
        raise InputError(f"{name} index {bad} out of range: need 0 <= {name} < {symbol} = {bound}")


def _as_labels(labels, n: int, name: str, symbol: str, *, minimum: int):
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise InputError(f"{name} must have length {symbol} = {n}, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.size and arr.min() < minimum:
        allowed = ">= 0" if minimum == 0 else ">= 0, or -1 for unknown"
        raise InputError(f"{name} must be {allowed}, got {int(arr.min())}")
    return arr.astype(np.int64)
