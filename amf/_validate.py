"""One validation vocabulary for the whole project: argument checks, declared parameters and the ``--set`` reader.

Every check raises `InputError` (a ``ValueError``) with one message format that names the key, the allowed range
and the value received: ``"{name} must be {what}, got {value}"``, e.g. ``"steps must be an integer >= 1, got 0"``
or ``"noise must be a number in [0, 1), got 2"``; an unknown key names its owner, the nearest known name
(`difflib`) and every allowed one. Generators (`synthetic`), solver options (`amf.solve`), experiment configs
(`amf.experiments.config`) and the command line use it.

`param` declares a field of a frozen dataclass (its kind, default, range or choices, help); `check` checks a
value against that declaration. `parse_set` reads ``KEY=VALUE`` the one way every ``--set`` does.

Validate at the entry point, before any allocation or computation: nothing should fail deep inside a numerical
routine with an opaque error.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import tomllib
from collections.abc import Sequence

import numpy as np

from amf.errors import InputError

DTYPES = ("float32", "float64")
"""The floating types every solver accepts, by name."""

KINDS = {int: "an integer", float: "a number", str: "a string", bool: "a boolean (true/false)"}
"""The kinds a declared parameter may have, as the messages name them."""


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def range_text(low=None, high=None, *, low_open: bool = False, high_open: bool = False, low_label=None,
               high_label=None) -> str:
    """The allowed range in words: ``">= 1"``, ``"< 1"``, ``"in [0, 1)"`` or ``""``; a label replaces a bound
    derived from other values (e.g. ``"min(N_V, N_L) = 40"``)."""
    lo = None if low is None else (low_label or _fmt(low))
    hi = None if high is None else (high_label or _fmt(high))
    if lo is not None and hi is not None:
        return f"in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
    if lo is not None:
        return f"{'>' if low_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if high_open else '<='} {hi}"
    return ""


def _refuse(name: str, what: str, value) -> InputError:
    return InputError(f"{name} must be {what}, got {value!r}")


def integer(name: str, value, low: int | None = None, high: int | None = None, high_label: str | None = None, *,
            low_label: str | None = None) -> int:
    """``value`` as an ``int`` (bools and floats refused) with ``low <= value <= high`` where given."""
    what = f"an integer {range_text(low, high, low_label=low_label, high_label=high_label)}".strip()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise _refuse(name, what, value)
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise _refuse(name, what, v)
    return v


def real(name: str, value, low=None, high=None, *, low_open: bool = False, high_open: bool = False,
         allow_inf: bool = False, note: str = "") -> float:
    """``value`` as a ``float`` (bools refused) in the given interval; NaN always refused, ``+inf`` only with
    ``allow_inf``; ``note`` is appended to the range (e.g. ``" (inf = uniform)"``)."""
    what = f"a number {range_text(low, high, low_open=low_open, high_open=high_open)}".strip() + note
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _refuse(name, what, value)
    v = float(value)
    bad = math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0))
    if low is not None:
        bad = bad or (v <= low if low_open else v < low)
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        raise InputError(f"{name} must be {what}, got {_fmt(v)}")
    return v


def positive_float(name: str, value) -> float:
    """``value`` as a finite ``float > 0``."""
    return real(name, value, 0, low_open=True)


def fraction(name: str, value, *, low_open: bool = False) -> float:
    """``value`` as a float in ``[0, 1)`` (``(0, 1)`` with ``low_open``)."""
    return real(name, value, 0, 1, low_open=low_open, high_open=True)


def choice(name: str, value, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise _refuse(name, f"one of {', '.join(allowed)}", value)
    return value


def boolean(name: str, value) -> bool:
    """``value`` if it is a bool (numpy's included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise _refuse(name, KINDS[bool], value)
    return bool(value)


def dtype_name(value) -> str:
    """A solver dtype by name: ``"float32"`` or ``"float64"``."""
    return choice("dtype", value, DTYPES)


def rank(k, limit: int, what: str = "min(N_V, N_L)") -> int:
    """The embedding dimension ``k``: an integer with ``1 <= k <= limit`` (``what`` names the limit)."""
    return integer("k", k, 1, limit, f"{what} = {limit}")


def features(name: str, x, n: int) -> np.ndarray | None:
    """Node features as a finite float64 ``(n, d)`` array (None stays None)."""
    if x is None:
        return None
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be a finite ({n}, d) array, got shape {arr.shape}")
    return arr


def unknown(kind: str, key: str, allowed: Sequence[str], owner: str = "") -> InputError:
    """The error for a key nobody declared: its owner, the nearest known name and every allowed one, e.g.
    ``"unknown option 'tau' of the gd solver; allowed: steps, lr, ..."``."""
    close = difflib.get_close_matches(str(key), list(allowed), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return InputError(f"unknown {kind} {key!r}{' of ' + owner if owner else ''}{hint}; allowed: "
                      f"{', '.join(allowed) or 'none'}")


def known(kind: str, given, allowed: Sequence[str], owner: str = "") -> None:
    """Refuse the first key of ``given`` not in ``allowed`` with `unknown`."""
    for key in given:
        if key not in allowed:
            raise unknown(kind, key, allowed, owner)


# ---- declared parameters ---------------------------------------------------------------------------------------


def param(default, *, kind: type, help: str, low=None, high=None, low_open: bool = False, choices: Sequence[str] = (),
          sweep: bool = True, optional: bool = False, cli: bool = True, traced: bool = False, accept=None):
    """A declared field of a frozen dataclass: its ``kind`` (``int``, ``float``, ``str``, ``bool``; ``object``
    for values only Python passes, checked by their user), allowed range ``[low, high]`` (``low_open``:
    ``low < value``) or ``choices``, a one-line ``help``, whether a list of values may sweep it (experiment
    configs), whether None is allowed (``optional``: "the default of whoever uses it") and whether the command
    line offers it (``cli``). ``traced``: a value that does not change a compiled program (left out of the
    dataclass's equality and hash); ``accept``: a predicate for values taken as they are (e.g. ``callable``)."""
    return dataclasses.field(default=default, compare=not traced, metadata={
        "kind": kind, "help": help, "low": low, "high": high, "low_open": low_open, "choices": tuple(choices),
        "sweep": sweep, "optional": optional, "cli": cli, "traced": traced, "accept": accept})


def declared(cls) -> dict[str, dataclasses.Field]:
    """The `param` fields of a dataclass (or of an instance's class), by name."""
    return {f.name: f for f in dataclasses.fields(cls) if "kind" in f.metadata}


def check(name: str, field: dataclasses.Field, value):
    """``value`` of the declared ``field`` checked and converted (an int given for a float becomes a float);
    raises `InputError` in the one message format."""
    meta = field.metadata
    kind = meta["kind"]
    if (value is None and meta["optional"]) or kind is object or (meta["accept"] is not None
                                                                    and meta["accept"](value)):
        return value
    if kind is int:
        return integer(name, value, meta["low"], meta["high"])
    if kind is float:
        return real(name, value, meta["low"], meta["high"], low_open=meta["low_open"])
    if kind is bool:
        return boolean(name, value)
    if meta["choices"]:
        return choice(name, value, meta["choices"])
    if not isinstance(value, kind):
        raise _refuse(name, KINDS.get(kind, kind.__name__), value)
    return value


def check_all(instance) -> None:
    """Check every declared field of a frozen dataclass instance in place (for ``__post_init__``)."""
    for name, field in declared(instance).items():
        object.__setattr__(instance, name, check(name, field, getattr(instance, name)))


def describe(field: dataclasses.Field, default_text: str | None = None) -> str:
    """A declared field's help line with its range or choices and its default, read from the declaration."""
    meta = field.metadata
    bounds = range_text(meta["low"], meta["high"], low_open=meta["low_open"])
    allowed = f"one of {', '.join(meta['choices'])}" if meta["choices"] else bounds
    default = default_text if default_text is not None else (
        None if field.default is None or field.default is dataclasses.MISSING else _fmt(field.default))
    extra = "; ".join(x for x in (allowed, f"default: {default}" if default is not None else "") if x)
    return f"{meta['help']} ({extra})" if extra else meta["help"]


# ---- the one KEY=VALUE reader ----------------------------------------------------------------------------------


def parse_value(text: str):
    """A ``--set`` value read as TOML (``0.1``, ``[0.1, 0.2]``, ``true``, ``inf``, ``"gd"``); an integral number
    in exponent form (``1e6``) is an integer; a bare word that is not TOML is a string."""
    text = text.strip()
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and "." not in text:
        return int(value)
    return value


def parse_set(item: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> ``(key, parse_value(VALUE))``, the one reader of every ``--set``."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--set expects KEY=VALUE, got {item!r}")
    return key, parse_value(text)
