"""What a theory check returns: a `Measured` value with its tolerance, or a `Skip` with the reason; the registry
names them into a `Check` (a verdict) or a `Skipped` (docs/theory.md section 6)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Measured:
    """What a check measured: it holds when ``value <= tolerance``; ``detail`` says what was compared."""

    value: float
    tolerance: float
    detail: str


@dataclasses.dataclass(frozen=True)
class Skip:
    """A check that cannot run here, and why."""

    reason: str


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


def named(name: str, outcome: Measured | Skip) -> Check | Skipped:
    """The `Check` that ``outcome.value <= outcome.tolerance`` (or the `Skipped`), under ``name``."""
    if isinstance(outcome, Skip):
        return Skipped(name, outcome.reason)
    value = float(outcome.value)
    return Check(name, bool(value <= outcome.tolerance), value, float(outcome.tolerance), outcome.detail)
