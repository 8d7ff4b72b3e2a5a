"""One entry point for factorizing a graph: ``solve(graph, k, solver=...)`` returns a certified `Solution`.

`SOLVERS` is the one registry of solvers. Each `SolverEntry` holds a solver class: a frozen dataclass whose
fields are the solver's own options, declared once with `amf._validate.param` (name, kind, default, range, help)
and checked when it is made. From the declarations the registry derives the keywords `solve` accepts (an option
the solver does not take is an `InputError` naming the solver and its options), the command line's flags and
help, and the report's ``settings`` (every option a run used). Spectral solvers (`amf.solvers.spectral.Spectral`:
`Exact`, `Krylov`) return the canonical Eckart–Young minimizer with an `amf.solution.SVDCertificate`; gradient
solvers (`amf.solvers.training.Objective`: `GD`, `SGD`, `InfoNCE`, plus the options every one of them shares,
`amf.solvers.gradient.Training`) return trained encoders with an `amf.solution.TrainingCertificate` measured
against the exact minimizer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from amf import _validate
from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.solution import Solution
from amf.solvers import gradient
from amf.solvers.gd import GD
from amf.solvers.infonce import InfoNCE
from amf.solvers.sgd import SGD
from amf.solvers.spectral import Exact, Krylov, Spectral, check_k
from amf.solvers.training import Objective

DTYPES = _validate.DTYPES

SPECTRAL_RULE = ("every residual ||Pn v_i - s_i u_i|| / s_1 and ||Pn^T u_i - s_i v_i|| / s_1 <= tol, U and V "
                 "orthonormal, s non-increasing, and no singular value outside the returned subspaces above the last "
                 "returned one (amf.certify_svd's complement test)")


@dataclasses.dataclass(frozen=True)
class SolverEntry:
    """A solver in the registry, all derived from its class:

    - ``name``, ``kind`` (``"spectral"`` or ``"gradient"``), ``summary`` (one line for help texts);
    - ``options``: every option it takes, by name, as declared (`amf._validate.param` fields);
    - ``defaults``: the defaults of the shared training options (gradient solvers; empty for spectral ones);
    - ``tolerances``: per dtype name, the thresholds its certificate applies; ``criterion``: "converged" in words;
    - ``run(graph, k, *, dtype, seed, **options) -> Solution``: options checked, then solved;
    - ``settings(**options) -> dict``: every option a run with these options uses, resolved.
    """

    name: str
    kind: str
    summary: str
    options: Mapping[str, dataclasses.Field]
    defaults: Mapping[str, Any]
    tolerances: Mapping[str, Mapping[str, float]]
    criterion: str
    run: Callable[..., Solution]
    settings: Callable[..., dict]


def spectral_entry(solver: type[Spectral]) -> SolverEntry:
    """The registry entry of a spectral solver class."""
    options = _validate.declared(solver)

    def make(given: dict) -> Spectral:
        _validate.known("option", given, list(options), f"the {solver.name} solver")
        return solver(**given)

    def run(graph: CoOccurrence, k: int, *, dtype: str, seed: int, **given) -> Solution:
        return make(given).solve(graph, k, dtype=dtype, seed=seed)

    def settings(**given) -> dict:
        return dataclasses.asdict(make(given))

    return SolverEntry(solver.name, "spectral", solver.summary, options, {},
                       {d: {"residual": solver.default_tolerance(d)} for d in DTYPES}, SPECTRAL_RULE, run, settings)


def gradient_entry(objective: type[Objective]) -> SolverEntry:
    """The registry entry of a gradient solver's objective class (its own options and the shared ones)."""

    def run(graph: CoOccurrence, k: int, *, dtype: str, seed: int, **given) -> Solution:
        made, options = gradient.configure(objective, given)
        return gradient.fit_graph(graph, k, made, options, seed=seed, dtype=dtype)

    def settings(**given) -> dict:
        return gradient.settings(*gradient.configure(objective, given))

    return SolverEntry(objective.name, "gradient", objective.summary, gradient.options(objective),
                       dict(objective.defaults), objective.tolerances, objective.rule, run, settings)


SOLVERS: dict[str, SolverEntry] = {
    "exact": spectral_entry(Exact),
    "krylov": spectral_entry(Krylov),
    "gd": gradient_entry(GD),
    "sgd": gradient_entry(SGD),
    "infonce": gradient_entry(InfoNCE),
}
"""Every solver `solve` accepts, by name. Adding one: its module (a `Spectral` or `Objective` subclass) and one
line here."""


def kinds(kind: str) -> tuple[str, ...]:
    """The names of the registered solvers of one kind (``"spectral"`` or ``"gradient"``), in registry order."""
    return tuple(name for name, entry in SOLVERS.items() if entry.kind == kind)


def entry(solver: str) -> SolverEntry:
    """The registry entry of ``solver``; an unknown name is an `InputError` naming the nearest and every one."""
    if not isinstance(solver, str) or solver not in SOLVERS:
        raise _validate.unknown("solver", solver, list(SOLVERS))
    return SOLVERS[solver]


def solve(graph: CoOccurrence, k: int, *, solver: str = "exact", dtype: str = "float64", seed: int = 0,
          **options) -> Solution:
    """Factorize ``Pn`` at rank ``k`` with ``solver`` (a name in `SOLVERS`) in ``dtype``.

    ``options`` are the solver's own (``SOLVERS[solver].options``, e.g. ``tol`` for spectral solvers,
    ``devices`` for krylov, ``steps``/``lr``/... for gradient solvers, ``tau`` for infonce). An option the solver
    does not take is refused with `InputError`, as is a value outside its declared range.
    """
    k = check_k(graph, k)
    dtype = _validate.dtype_name(dtype)
    return entry(solver).run(graph, k, dtype=dtype, seed=seed, **options)


def train(graph: CoOccurrence, k: int, *, solver: str = "gd", dtype: str = "float64", seed: int = 0,
          **options) -> Solution:
    """`solve` with a gradient solver (default ``"gd"``); a spectral solver's name is refused."""
    if entry(solver).kind != "gradient":
        raise InputError(f"train needs a gradient solver ({', '.join(kinds('gradient'))}), got {solver!r}")
    return solve(graph, k, solver=solver, dtype=dtype, seed=seed, **options)
