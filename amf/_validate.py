"""One set of argument checks for the whole library, each raising `InputError` with a message that names the
parameter, the allowed range and the value received (scikit-learn's declarative constraints, in functions).

Validate at the entry point, before any allocation or computation: nothing should fail deep inside a numerical
routine with an opaque error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from amf.errors import InputError

DTYPES = ("float32", "float64")
"""The floating types every solver accepts, by name."""


def integer(name: str, value, low: int | None = None, high: int | None = None, high_text: str = "") -> int:
    """``value`` as an ``int`` (bools refused) with ``low <= value <= high`` where given; ``high_text`` names
    the upper bound in the message (e.g. ``"min(N_V, N_L) = 40"``)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bound = (f"{low} <= " if low is not None else "") + name + (
            f" <= {high_text or high}" if high is not None else "")
        raise InputError(f"{name} must satisfy {bound}, got {value}")
    return int(value)


def positive_float(name: str, value) -> float:
    """``value`` as a finite ``float > 0``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a positive number, got {value!r}") from None
    if isinstance(value, bool) or not (math.isfinite(x) and x > 0):
        raise InputError(f"{name} must be a positive finite number, got {value!r}")
    return x


def fraction(name: str, value, *, low_open: bool = False) -> float:
    """``value`` as a float in ``[0, 1)`` (``(0, 1)`` with ``low_open``)."""
    interval = f"{'(' if low_open else '['}0, 1)"
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in {interval}, got {value!r}") from None
    if not (math.isfinite(x) and (x > 0 if low_open else x >= 0) and x < 1):
        raise InputError(f"{name} must be a number in {interval}, got {value!r}")
    return x


def choice(name: str, value, allowed: Sequence[str]) -> str:
    """``value`` if it is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise InputError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def dtype_name(value) -> str:
    """A solver dtype by name: ``"float32"`` or ``"float64"``."""
    return choice("dtype", value, DTYPES)


def rank(k, limit: int, what: str = "min(N_V, N_L)") -> int:
    """The embedding dimension ``k``: an integer with ``1 <= k <= limit`` (``what`` names the limit)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= limit:
        raise InputError(f"k must be an integer with 1 <= k <= {what} = {limit}, got {k!r}")
    return int(k)


def features(name: str, x, n: int) -> np.ndarray | None:
    """Node features as a finite float64 ``(n, d)`` array (None stays None)."""
    if x is None:
        return None
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != n or not np.all(np.isfinite(arr)):
        raise InputError(f"{name} must be a finite ({n}, d) array, got shape {arr.shape}")
    return arr
