"""The registry of theory checks: each is registered once, under its function's name, with what it judges.

A check is a function ``name(ctx: Context) -> Measured | Skip`` decorated with `check`; its name (the function's)
is the report's ``checks[].name``. `CHECKS` holds them in report order (the order the modules of `amf.checks`
register them); `run_checks` runs them and turns each outcome into a named `amf.verdicts.Check` or `Skipped`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from amf.verdicts import Check, Measured, Skip, Skipped, named

SUBJECTS = ("encoders", "graph")
"""What a check judges: the encoders (is this the Eckart–Young minimizer?), or the graph, its certified spectrum
and the theorems on it."""


@dataclasses.dataclass(frozen=True)
class Entry:
    name: str
    subject: str
    run: Callable


CHECKS: list[Entry] = []
"""Every theory check, in report order."""


def check(subject: str) -> Callable:
    """Register the decorated function as the check named after it, judging ``subject`` (one of `SUBJECTS`)."""
    if subject not in SUBJECTS:
        raise ValueError(f"subject must be one of {SUBJECTS}, got {subject!r}")

    def register(fn: Callable) -> Callable:
        if any(entry.name == fn.__name__ for entry in CHECKS):
            raise ValueError(f"a check named {fn.__name__!r} is registered already")
        CHECKS.append(Entry(fn.__name__, subject, fn))
        return fn

    return register


def encoder_checks() -> frozenset[str]:
    """The names of the checks that judge the encoders."""
    return frozenset(entry.name for entry in CHECKS if entry.subject == "encoders")


def run_checks(ctx) -> tuple[list[Check], list[Skipped]]:
    """Run `CHECKS` on a context; returns the verdicts and the skipped checks."""
    done, skipped = [], []
    for entry in CHECKS:
        outcome: Measured | Skip = entry.run(ctx)
        result = named(entry.name, outcome)
        (done if isinstance(result, Check) else skipped).append(result)
    return done, skipped
