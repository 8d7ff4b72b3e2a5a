"""Image–text pair lists read into a co-occurrence graph, streamed line by line.

`read_pairs` reads one (image, text) pair per line, optionally with a weight and an image and a text label, and
returns `Pairs`: the graph's edge arrays and the id and label mappings. `write_pairs_graph` writes them as a graph
file (docs/file-format.md) and a JSON mapping file beside it.

**Formats**, chosen by the file's suffix: ``.csv`` (comma-separated) and ``.tsv`` (tab-separated), read with the
`csv` module (double-quote quoting, a quoted field may hold the delimiter or a line break; strict, so an
unterminated quote is an error), with a header line naming the columns; ``.jsonl``, one JSON object per line,
the columns being its keys (the line readers and field parsers: `amf.pair_lines`). Files are UTF-8 (a byte-order
mark is skipped); blank lines are skipped. The columns are chosen by name (``image_col``, ``text_col``,
``weight_col``, ``image_label_col``, ``text_label_col``); fields beyond them are ignored.

**Mapping.** An id is a string or an integer, kept as its string form (``7`` and ``"7"`` in JSONL are one id); an
empty id is an error. Images and texts get indices ``0..N-1`` in order of first appearance. A weight (default 1
a line) is a finite number ``>= 0``; a pair given on several lines gets the sum of their weights. Labels are
strings or integers compared by their string form, like ids; an empty label (an empty field, or in JSONL ``null``,
``""`` or an absent key) says nothing. A node's label must be the same on every line that gives one; every image
needs one when ``image_label_col`` is given (``missing_label``: ``"error"``, the default, refuses the file;
``"drop"`` removes unlabeled images with their pairs, and the texts left without a pair; ``"unknown"`` gives them
one class of their own, whose value is ``None``, which the probe, ``alpha`` and ``phi`` then count as a class),
a text without one gets ``-1`` (unknown). Image and text labels share
one class numbering, ``0..C-1`` in order of first appearance over both columns, because the theory compares them
(``alpha`` counts edges whose image and text labels differ); ``image_label_values`` and ``text_label_values`` are
then equal lists, ``values[c]`` being the label first seen for class ``c`` (as written: a JSONL integer stays an
integer). Every bad line stops the read with an `amf.errors.InputError`: one line naming the file, the line number
and the problem.

**Memory.** Ids are interned in one dict per side (a lookup of a new id adds it; the index ints are made in
batches, so that freeing the dicts gives their pages back), classes in one dict shared by both sides. Per line only
an int64 key ``image << 32 | text`` (and a float64 weight with ``weight_col``) is kept, appended to an
`array.array` buffer; every ``chunk_lines`` lines the buffer is moved onto the end of one numpy array that grows in
place (``realloc``: no second copy, and no 8 MB chunk arrays that would stay in the heap once freed). No line's
Python objects outlive the line. At the end the dicts become the id lists, the keys are sorted in place (with a
weight column: a stable argsort, so a pair's weights are summed in line order) and each run of equal keys becomes
one edge (``np.add.reduceat`` of the weights, or the run length without a weight column). Duplicates are thus
summed, not kept: that costs one sort and no memory beyond the result, and the edges come out unique, in row-major
order. Peak memory is about the ids (dicts included), the keys, then three arrays of ``nnz`` for the result.

Time and peak memory on a 10^7-line CSV: docs/performance.md, "Reading pair lists" (most of the time goes to the
dict lookups of the ids).
"""

from __future__ import annotations

import array
import csv
import dataclasses
import itertools
import os
from pathlib import Path

import numpy as np

from amf.errors import InputError
from amf.graph import MAX_SIDE, CoOccurrence
from amf.io import write_json, write_npz
from amf.pair_lines import (LineError, csv_label, csv_source, csv_weight, fail, json_label, json_weight,
                            jsonl_source, show)

DELIMITERS = {".csv": ",", ".tsv": "\t", ".jsonl": None}
"""Suffix -> field delimiter (None: JSON lines)."""

_SHIFT = 32
_LOW = (1 << _SHIFT) - 1
_INT_BATCH = 1 << 16


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Pairs:
    """Unique edges ``(rows[e], cols[e])`` with summed ``weights[e]``, in row-major order, and the mappings.

    ``image_ids[i]`` / ``text_ids[j]`` is the id of image ``i`` / text ``j``; ``image_labels`` (``>= 0``) and
    ``text_labels`` (``-1`` unknown) index ``image_label_values`` / ``text_label_values`` (None without the
    column); ``lines`` counts the data lines read; ``unlabeled_images`` the images that had no label and
    ``dropped`` the ``(images, texts)`` removed for it (``missing_label="drop"``).
    """

    rows: np.ndarray
    cols: np.ndarray
    weights: np.ndarray
    shape: tuple[int, int]
    image_ids: list[str]
    text_ids: list[str]
    image_labels: np.ndarray | None
    text_labels: np.ndarray | None
    image_label_values: list | None
    text_label_values: list | None
    lines: int
    unlabeled_images: int = 0
    dropped: tuple[int, int] = (0, 0)

    @property
    def nnz(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"Pairs(shape={self.shape}, nnz={self.nnz}, lines={self.lines})"


class _Ids(dict):
    """Id -> index in order of first appearance; looking up a new id adds it.

    The index ints are made in batches, so that they fill memory pages of their own: freed with the dict, those
    pages go back to the system (ints made one by one would sit between the id strings, which live on).
    """

    __slots__ = ("side", "_ints")

    def __init__(self, side: str):
        super().__init__()
        self.side = side
        self._ints = []

    def __missing__(self, key: str) -> int:
        if not key:
            raise LineError(f"empty {self.side} id")
        n, ints = len(self), self._ints
        if n == len(ints):
            ints.extend(range(n, n + _INT_BATCH))
        index = self[key] = ints[n]
        return index


class _Labels:
    """The label of each node of one side, in a class numbering shared with the other side."""

    def __init__(self, side: str, column: str, classes: dict, values: list):
        self.side, self.column = side, column
        self.classes, self.values = classes, values
        self.of = array.array("q")

    def set(self, node: int, node_id: str, raw, key: str) -> None:
        c = self.classes.get(key)
        if c is None:
            c = self.classes[key] = len(self.values)
            self.values.append(raw)
        of = self.of
        if len(of) <= node:
            of.extend(itertools.repeat(-1, node + 1 - len(of)))
        prev = of[node]
        if prev != c:
            if prev >= 0:
                raise LineError(
                    f"{self.side} {show(node_id)} has label {show(raw)} in column {show(self.column)}, "
                    f"but {show(self.values[prev])} on an earlier line"
                )
            of[node] = c

    def array(self, n: int) -> np.ndarray:
        out = np.full(n, -1, dtype=np.int64)
        out[: len(self.of)] = np.frombuffer(self.of, dtype=np.int64)
        return out


def read_pairs(
    path,
    *,
    image_col="image",
    text_col="text",
    weight_col=None,
    image_label_col=None,
    text_label_col=None,
    missing_label="error",
    chunk_lines=1_000_000,
) -> Pairs:
    """Read an image–text pair list (``.csv``, ``.tsv`` or ``.jsonl``) into `Pairs`; see the module docstring.

    Raises `amf.errors.InputError` with a one-line message for an unreadable, empty or malformed file, a missing
    column or field, a bad id, weight or label, a label conflict, or a file without pairs.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in DELIMITERS:
        fail(path, None, f"unknown suffix {show(path.suffix)} (use {', '.join(DELIMITERS)})")
    if not isinstance(chunk_lines, int) or chunk_lines < 1:
        raise InputError(f"chunk_lines must be a positive integer, got {chunk_lines!r}")
    if missing_label not in MISSING_LABEL:
        raise InputError(f"missing_label must be one of {', '.join(MISSING_LABEL)}, got {missing_label!r}")
    delimiter = DELIMITERS[suffix]
    columns = [image_col, text_col, weight_col, image_label_col, text_label_col]
    try:
        fh = open(path, encoding="utf-8-sig", newline="" if delimiter else None)
    except OSError as exc:
        fail(path, None, f"cannot read: {exc.strerror or type(exc).__name__}")
    line = lambda: None  # noqa: E731  (until the source is open)
    with fh:
        try:
            if delimiter is None:
                records, line = jsonl_source(fh, path, columns)
            else:
                records, line = csv_source(fh, path, delimiter, columns)
            return _accumulate(path, records, columns, delimiter is None, chunk_lines, missing_label)
        except LineError as exc:
            fail(path, line(), str(exc))
        except csv.Error as exc:
            fail(path, line(), f"malformed {suffix[1:].upper()}: {exc}")
        except UnicodeDecodeError as exc:
            fail(path, None, f"not UTF-8 text after line {line() or 0} ({exc.reason})")
        except OSError as exc:
            fail(path, line(), f"cannot read: {exc.strerror or type(exc).__name__}")


def _accumulate(path, records, columns, is_json: bool, chunk_lines: int, missing_label: str) -> Pairs:
    image_col, text_col, weight_col, image_label_col, text_label_col = columns
    images, texts = _Ids("image"), _Ids("text")
    classes, values = {}, []
    image_labels = None if image_label_col is None else _Labels("image", image_label_col, classes, values)
    text_labels = None if text_label_col is None else _Labels("text", text_label_col, classes, values)
    # positions of the optional fields in a record: image, text, then the given optional columns in order
    position = 2
    weight_at = image_label_at = text_label_at = None
    if weight_col is not None:
        weight_at, position = position, position + 1
    if image_label_col is not None:
        image_label_at, position = position, position + 1
    if text_label_col is not None:
        text_label_at = position
    to_weight = json_weight if is_json else csv_weight
    label_key = json_label if is_json else csv_label

    key_buf, weight_buf = array.array("q"), array.array("d")
    keys, weights = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    lines = 0
    while True:
        add_key, add_weight = key_buf.append, weight_buf.append
        for record in itertools.islice(records, chunk_lines):
            i, j = images[record[0]], texts[record[1]]
            add_key(i << _SHIFT | j)
            if weight_at is not None:
                add_weight(to_weight(record[weight_at]))
            if image_label_at is not None:
                raw = record[image_label_at]
                key = label_key(raw)
                if key is not None:
                    image_labels.set(i, record[0], raw, key)
            if text_label_at is not None:
                raw = record[text_label_at]
                key = label_key(raw)
                if key is not None:
                    text_labels.set(j, record[1], raw, key)
        count = len(key_buf)
        if max(len(images), len(texts)) > MAX_SIDE:
            fail(path, None, f"more than {MAX_SIDE} distinct images or texts")
        if count:
            _append(keys, key_buf)
            if weight_at is not None:
                _append(weights, weight_buf)
            lines += count
        if count < chunk_lines:
            break
    if lines == 0:
        fail(path, None, "no pairs (no data lines)")

    shape = (len(images), len(texts))
    image_ids, text_ids = list(images), list(texts)
    del images, texts  # the dicts' index ints and tables; the id strings live on in the lists
    labels_of = {}
    for side, labels in (("image", image_labels), ("text", text_labels)):
        if labels is not None:
            labels_of[side] = labels.array(shape[0] if side == "image" else shape[1])
    missing = np.flatnonzero(labels_of["image"] < 0) if image_labels is not None else np.empty(0, np.int64)
    if len(missing) and missing_label == "error":
        fail(
            path, None, f"{len(missing)} image(s) have no label in column {show(image_label_col)} on any line "
            f"(first: image {show(image_ids[missing[0]])}; --missing-label drop or unknown keeps the rest)"
        )
    if len(missing) and missing_label == "unknown":
        labels_of["image"][missing] = len(values)
        values.append(None)
    arrays = [keys, weights if weight_at is not None else None]
    del keys, weights  # _sum_duplicates holds the only references, so that it can free them on the way
    rows, cols, weights = _sum_duplicates(arrays)
    dropped = (0, 0)
    if len(missing) and missing_label == "drop":
        rows, cols, weights, image_ids, text_ids, labels_of, dropped = _drop_images(
            path, missing, rows, cols, weights, image_ids, text_ids, labels_of)
        shape = (len(image_ids), len(text_ids))
    return Pairs(
        rows=rows,
        cols=cols,
        weights=weights,
        shape=shape,
        image_ids=image_ids,
        text_ids=text_ids,
        image_labels=labels_of.get("image"),
        text_labels=labels_of.get("text"),
        image_label_values=None if image_labels is None else list(values),
        text_label_values=None if text_labels is None else list(values),
        lines=lines,
        unlabeled_images=len(missing),
        dropped=dropped,
    )


MISSING_LABEL = ("error", "drop", "unknown")
"""What `read_pairs` does with images that have no label (module docstring)."""


def _drop_images(path, missing, rows, cols, weights, image_ids, text_ids, labels_of):
    """Remove the ``missing`` images with their edges, then the texts left without an edge; renumber both sides
    in their order (the edges stay unique and row-major)."""
    keep_image = np.ones(len(image_ids), dtype=bool)
    keep_image[missing] = False
    if not keep_image.any():
        fail(path, None, f"every image lacks a label: nothing left after dropping {len(missing)} image(s)")
    kept = keep_image[rows]
    rows, cols, weights = rows[kept], cols[kept], weights[kept]
    keep_text = np.zeros(len(text_ids), dtype=bool)
    keep_text[cols] = True
    new_row = np.cumsum(keep_image) - 1
    new_col = np.cumsum(keep_text) - 1
    labels = {side: array[keep_image if side == "image" else keep_text] for side, array in labels_of.items()}
    dropped = (int(len(missing)), int(np.sum(~keep_text)))
    return (new_row[rows], new_col[cols], weights, [x for x, k in zip(image_ids, keep_image) if k],
            [x for x, k in zip(text_ids, keep_text) if k], labels, dropped)


def _append(store: np.ndarray, buf: array.array) -> None:
    """Move the values of ``buf`` to the end of ``store``, which grows in place: ``realloc``, which moves the pages of
    a large array instead of copying it, so a growing array never exists twice and a chunk is never a separate
    array (freed chunks would stay in the heap, never given back)."""
    start = len(store)
    store.resize(start + len(buf), refcheck=False)
    store[start:] = np.frombuffer(buf, dtype=store.dtype)
    del buf[:]


def _sum_duplicates(arrays: list):
    """Unique ``(rows, cols, weights)`` in row-major order from ``arrays = [keys, weights or None]`` (emptied: the
    packed keys are sorted in place and freed on the way).

    The temporaries are sized to keep the peak at about the size of the result (three arrays of ``nnz``).
    """
    keys, weights = arrays
    arrays.clear()
    n = len(keys)
    if weights is None:
        keys.sort()
    else:
        order = np.argsort(keys, kind="stable")  # stable: a pair's weights are summed in line order
        keys = keys[order]
        weights = weights[order]
        del order
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(keys[1:], keys[:-1], out=new[1:])
    if new.all():
        del new
        if weights is None:
            weights = np.ones(n, dtype=np.float64)
    else:
        starts = np.flatnonzero(new)
        del new
        keys = keys[starts]
        if weights is None:  # a pair's weight is its number of lines
            weights = np.empty(len(starts), dtype=np.float64)
            np.subtract(starts[1:], starts[:-1], out=weights[:-1])
            weights[-1] = n - starts[-1]
        else:
            weights = np.add.reduceat(weights, starts)
        del starts
    rows = keys >> _SHIFT
    keys &= _LOW
    return rows, keys, weights


def write_pairs_graph(pairs: Pairs, out: str | os.PathLike) -> Path:
    """Write ``pairs`` as a graph file ``out`` (docs/file-format.md) and its ids beside it; return the ids' path.

    The ids file ``<out stem>.ids.json`` holds ``{"images": [...], "texts": [...], "image_labels": [...] | null,
    "text_labels": [...] | null}``: the id of each image and text index and the label value of each class index.
    The graph is first validated by `amf.graph.CoOccurrence.from_arrays` (its `InputError`, e.g. an image whose
    weights are all zero, propagates); then both files are written atomically.
    """
    out = Path(out)
    mapping_path = ids_path(out)
    shape = np.asarray(pairs.shape, dtype=np.int64)
    CoOccurrence.from_arrays(pairs.rows, pairs.cols, pairs.weights, shape, pairs.image_labels, pairs.text_labels)
    arrays = {"rows": pairs.rows, "cols": pairs.cols, "weights": pairs.weights, "shape": shape}
    if pairs.image_labels is not None:
        arrays["image_labels"] = pairs.image_labels
    if pairs.text_labels is not None:
        arrays["text_labels"] = pairs.text_labels
    mapping = {
        "images": pairs.image_ids,
        "texts": pairs.text_ids,
        "image_labels": pairs.image_label_values,
        "text_labels": pairs.text_label_values,
    }
    for target, write in ((out, lambda: write_npz(out, **arrays)),
                          (mapping_path, lambda: write_json(mapping_path, mapping))):
        try:
            write()
        except OSError as exc:
            raise InputError(f"cannot write {target}: {exc.strerror or type(exc).__name__}") from None
    return mapping_path


def ids_path(out: str | os.PathLike) -> Path:
    """Where `write_pairs_graph` puts the mapping of graph file ``out``: ``<stem>.ids.json`` beside it."""
    out = Path(out)
    return out.with_name(out.stem + ".ids.json")
