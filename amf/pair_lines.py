"""The lines of an image–text pair list, as records for `amf.pairs.read_pairs`.

`csv_source` (``.csv``, ``.tsv``: the `csv` module, strict, a header line naming the columns) and `jsonl_source`
(one JSON object per line) each return an iterator of records, the fields of the named columns in the order
image, text, then the given optional columns, and a function giving the current line number. The field parsers
(`csv_weight`, `json_weight`, `csv_label`, `json_label`) turn a raw field into a weight or a label key. A bad
line raises `LineError`, to which the reader adds the file and the line number (`fail`: the one-line
`amf.errors.InputError`).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import operator

from amf.errors import InputError

__all__ = ["LineError", "csv_label", "csv_source", "csv_weight", "fail", "json_label", "json_weight",
           "jsonl_source", "show"]


class LineError(Exception):
    """A problem with the current line; the reader adds the file and the line number."""


def show(value) -> str:
    """``repr(value)`` on one line, shortened."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(path, line, problem: str):
    where = f"{path}" if line is None else f"{path}, line {line}"
    raise InputError(f"pairs file {where}: {problem}")


def csv_weight(raw: str) -> float:
    try:
        w = float(raw)
    except ValueError:
        raise LineError(f"bad weight {show(raw)}: not a number") from None
    if not 0.0 <= w < math.inf:
        raise LineError(f"bad weight {show(raw)}: must be finite and >= 0")
    return w


def json_weight(raw) -> float:
    if type(raw) not in (int, float):
        raise LineError(f"bad weight {show(raw)}: not a number")
    try:
        w = float(raw)
    except OverflowError:
        w = math.inf
    if not 0.0 <= w < math.inf:
        raise LineError(f"bad weight {show(raw)}: must be finite and >= 0")
    return w


def csv_label(raw: str) -> str | None:
    return raw or None


def json_label(raw) -> str | None:
    if raw is None or raw == "":
        return None
    if type(raw) is str:
        return raw
    if type(raw) is int:
        return str(raw)
    raise LineError(f"label {show(raw)} is not a string or an integer")


def _json_id(raw, side: str) -> str:
    if type(raw) is str:
        return raw
    if type(raw) is int:
        return str(raw)
    raise LineError(f"{side} id {show(raw)} is not a string or an integer")


def csv_source(fh, path, delimiter: str, columns: list[str | None]):
    """(records, line): an iterator of field tuples of the named columns, and the current line number."""
    reader = csv.reader(fh, delimiter=delimiter, strict=True)

    def line() -> int:
        return reader.line_num

    try:
        header = next(filter(None, reader))
    except StopIteration:
        fail(path, None, "empty file (no header line)")
    except csv.Error as exc:
        fail(path, line(), f"malformed CSV: {exc}")
    names = [name.strip() for name in header]
    positions = []
    for column in columns:
        if column is None:
            continue
        if names.count(column) != 1:
            problem = "no column" if column not in names else "more than one column"
            fail(path, line(), f"{problem} {show(column)} in the header (columns: {', '.join(map(repr, names))})")
        positions.append(names.index(column))
    get = operator.itemgetter(*positions)
    need = max(positions) + 1

    def records():
        rows = filter(None, reader)
        while True:
            try:
                yield from map(get, rows)
                return
            except IndexError:
                problem = f"missing field: the line has fewer than the {need} fields its columns need"
                raise LineError(problem) from None

    return records(), line


def jsonl_source(fh, path, columns: list[str | None]):
    """As `csv_source`, for JSON lines: ids in string form, other fields as given (labels may be absent)."""
    state = [0]
    required = [column for column in columns[:3] if column is not None]
    labels = [column for column in columns[3:] if column is not None]

    def line() -> int:
        return state[0]

    def records():
        loads = json.loads
        for number, text in enumerate(fh, 1):
            state[0] = number
            if not text.strip():
                continue
            try:
                obj = loads(text)
            except (ValueError, RecursionError) as exc:
                raise LineError(f"malformed JSON: {getattr(exc, 'msg', None) or type(exc).__name__}") from None
            if type(obj) is not dict:
                raise LineError(f"not a JSON object (got {type(obj).__name__})")
            try:
                fields = [obj[column] for column in required]
            except KeyError as exc:
                keys = ", ".join(map(repr, itertools.islice(obj, 20))) + (", ..." if len(obj) > 20 else "")
                raise LineError(f"missing field {show(exc.args[0])} (keys: {keys or 'none'})") from None
            image, text_id = fields[0], fields[1]
            fields[0] = image if type(image) is str else _json_id(image, "image")
            fields[1] = text_id if type(text_id) is str else _json_id(text_id, "text")
            fields.extend(obj.get(column) for column in labels)
            yield fields

    return records(), line
