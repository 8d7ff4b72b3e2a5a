"""What a theory check returns: a `Check` (a verdict with its value and tolerance) or a `Skipped` (a reason)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Check:
    """One verdict: ``passed`` is ``value <= tolerance``; ``detail`` says what was compared."""

    name: str
    passed: bool
    value: float
    tolerance: float
    detail: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A check that did not run, and why."""

    name: str
    reason: str

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def verdict(name: str, value: float, tolerance: float, detail: str) -> Check:
    """The `Check` that ``value <= tolerance``."""
    value = float(value)
    return Check(name, bool(value <= tolerance), value, float(tolerance), detail)
