"""Shared parameter checks for the generators (scikit-learn style: validate everything up front).

Every check returns the value converted to a plain Python ``int`` / ``float`` (so ``Edges.params`` stays
JSON-serializable) or raises ``ValueError`` with a one-line message that names the parameter, the offending value
and the allowed range, e.g. ``"n_classes must be an integer >= 2, got 1"``.
"""

from __future__ import annotations

import math
import numbers

__all__ = ["check_int", "check_real", "check_seed"]


def _fmt(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _range_text(low, high, low_open: bool, high_open: bool, low_label, high_label) -> str:
    lo = None if low is None else (low_label or _fmt(low))
    hi = None if high is None else (high_label or _fmt(high))
    if lo is not None and hi is not None:
        return f"in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
    if lo is not None:
        return f"{'>' if low_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if high_open else '<='} {hi}"
    return ""


def check_int(name: str, value, *, low=None, high=None, low_label: str | None = None,
              high_label: str | None = None) -> int:
    """Check that ``value`` is an integer (not a bool, not a float) with ``low <= value <= high``.

    ``low_label`` / ``high_label`` replace the printed bound when it is derived from other parameters, e.g.
    ``"max(n_images, n_texts) = 100"``.
    """
    what = ("an integer " + _range_text(low, high, False, False, low_label, high_label)).strip()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {what}, got {v}")
    return v


def check_real(name: str, value, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
               allow_inf: bool = False, note: str = "") -> float:
    """Check that ``value`` is a real number (not a bool) in the given interval.

    ``low_open`` / ``high_open`` make the bound strict. NaN is always rejected; ``+inf`` only with ``allow_inf``.
    ``note`` is appended to the range text (e.g. ``" (inf = uniform)"``).
    """
    what = ("a number " + _range_text(low, high, low_open, high_open, None, None)).strip() + note
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    v = float(value)
    bad = math.isnan(v) or (math.isinf(v) and not (allow_inf and v > 0))
    if low is not None:
        bad = bad or (v <= low if low_open else v < low)
    if high is not None:
        bad = bad or (v >= high if high_open else v > high)
    if bad:
        raise ValueError(f"{name} must be {what}, got {_fmt(v)}")
    return v


def check_seed(seed) -> int:
    """A seed for ``np.random.default_rng``: an integer >= 0."""
    return check_int("seed", seed, low=0)
