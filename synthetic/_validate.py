"""The generators' parameter checks: `amf._validate`'s, under the names the generators use.

Every check returns the value as a plain Python ``int`` / ``float`` (so ``Edges.params`` stays JSON-serializable)
or raises `amf.errors.InputError` (a ``ValueError``) with the project's one message format, e.g.
``"n_classes must be an integer >= 2, got 1"``.
"""

from __future__ import annotations

from amf._validate import integer, real

__all__ = ["check_int", "check_real", "check_seed"]


def check_int(name: str, value, *, low=None, high=None, low_label: str | None = None,
              high_label: str | None = None) -> int:
    """An integer (not a bool, not a float) with ``low <= value <= high``; a label replaces a bound derived from
    other parameters, e.g. ``"max(n_images, n_texts) = 100"``."""
    return integer(name, value, low, high, high_label, low_label=low_label)


def check_real(name: str, value, *, low=None, high=None, low_open: bool = False, high_open: bool = False,
               allow_inf: bool = False, note: str = "") -> float:
    """A real number (not a bool) in the given interval; NaN refused, ``+inf`` only with ``allow_inf``."""
    return real(name, value, low, high, low_open=low_open, high_open=high_open, allow_inf=allow_inf, note=note)


def check_seed(seed) -> int:
    """A seed for ``np.random.default_rng``: an integer >= 0."""
    return check_int("seed", seed, low=0)
