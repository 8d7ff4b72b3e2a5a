"""One entry point for factorizing a graph: ``solve(graph, k, solver=...)`` returns a certified `Solution`.

`SOLVERS` is the one registry of solver names: each `SolverEntry` says its kind (spectral or gradient), what it
is, the options it takes, its defaults, its tolerances per dtype and what "converged" means. The command line
builds its choices and help from it. Spectral solvers (`amf.solvers.spectral`) return the canonical Eckart–Young
minimizer with an `amf.solution.SVDCertificate`; gradient solvers (`amf.solvers.gradient`) return trained encoders
with an `amf.solution.TrainingCertificate` measured against the exact minimizer.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from amf import _validate
from amf.errors import InputError
from amf.graph import CoOccurrence
from amf.solution import Solution
from amf.solvers.exact import default_tolerance as exact_tolerance
from amf.solvers.krylov import default_tolerance as krylov_tolerance
from amf.solvers.gradient import OBJECTIVES, train
from amf.solvers.spectral import check_k, encoders_from_svd, spectral_svd

DTYPES = _validate.DTYPES


@dataclasses.dataclass(frozen=True)
class SolverEntry:
    """A solver in the registry.

    - ``name``, ``kind`` (``"spectral"`` or ``"gradient"``), ``summary`` (one line for help texts);
    - ``run(graph, k, *, dtype, seed, **options) -> Solution``;
    - ``options``: the keyword options ``run`` accepts beyond ``dtype`` and ``seed``;
    - ``defaults``: default values of the options that have one;
    - ``tolerances``: per dtype name, the thresholds its certificate applies;
    - ``criterion``: what ``converged`` means, in words.
    """

    name: str
    kind: str
    summary: str
    run: Callable[..., Solution]
    options: tuple[str, ...]
    defaults: Mapping[str, Any]
    tolerances: Mapping[str, Mapping[str, float]]
    criterion: str


def _spectral(solver: str) -> Callable[..., Solution]:
    def run(graph: CoOccurrence, k: int, *, dtype: str, seed: int, tol=None, devices: int | None = None) -> Solution:
        rank = min(k + 1, min(graph.shape))
        if solver == "krylov" and rank >= min(graph.shape):
            raise InputError(
                f"the krylov solver needs k + 1 < min(N_V, N_L) = {min(graph.shape)} (it computes k + 1 triplets), "
                f"got k = {k}; use the exact solver"
            )
        svd = spectral_svd(graph, rank, solver=solver, dtype=dtype, seed=seed, tol=tol, devices=devices)
        f_images, f_texts = encoders_from_svd(graph, svd, k)
        return Solution(f_images, f_texts, solver=solver, dtype=dtype, certificate=svd.certificate, svd=svd)

    return run


def _gradient(name: str) -> SolverEntry:
    objective = OBJECTIVES[name]
    options = tuple(p for p in inspect.signature(train).parameters if p not in ("graph", "k", "solver", "dtype",
                                                                                   "seed"))

    def run(graph: CoOccurrence, k: int, *, dtype: str, seed: int, **kwargs) -> Solution:
        return train(graph, k, solver=name, dtype=dtype, seed=seed, **kwargs)

    return SolverEntry(name, "gradient", objective.summary, run, options, dict(objective.defaults),
                       objective.tolerances, objective.rule)


SPECTRAL_RULE = ("every residual ||Pn v_i - s_i u_i|| / s_1 and ||Pn^T u_i - s_i v_i|| / s_1 <= tol, U and V "
                 "orthonormal, s non-increasing, and no singular value outside the returned subspaces above the last "
                 "returned one (amf.certify_svd's complement test)")

SOLVERS: dict[str, SolverEntry] = {
    "exact": SolverEntry(
        "exact", "spectral", "jitted dense LAPACK SVD of Pn (graphs up to a few thousand nodes a side)",
        _spectral("exact"), ("tol",), {},
        {d: {"residual": exact_tolerance(d)} for d in DTYPES},
        SPECTRAL_RULE),
    "krylov": SolverEntry(
        "krylov", "spectral", "matrix-free thick-restart block Lanczos, float32/float64, one or many devices",
        _spectral("krylov"), ("tol", "devices"), {},
        {d: {"residual": krylov_tolerance(d)} for d in DTYPES},
        SPECTRAL_RULE),
    **{name: _gradient(name) for name in OBJECTIVES},
}
"""Every solver `solve` accepts, by name."""

SPECTRAL_SOLVERS = tuple(name for name, entry in SOLVERS.items() if entry.kind == "spectral")
GRADIENT_SOLVERS = tuple(name for name, entry in SOLVERS.items() if entry.kind == "gradient")


def solve(graph: CoOccurrence, k: int, *, solver: str = "exact", dtype: str = "float64", seed: int = 0,
          **options) -> Solution:
    """Factorize ``Pn`` at rank ``k`` with ``solver`` (a name in `SOLVERS`) in ``dtype``.

    ``options`` are the solver's own (``SOLVERS[solver].options``): ``tol`` for spectral solvers, ``devices``
    for krylov, and the training options of `amf.solvers.gradient.train` for gradient solvers. An option the solver
    does not take is refused with `InputError`.
    """
    k = check_k(graph, k)
    dtype = _validate.dtype_name(dtype)
    entry = SOLVERS.get(solver) if isinstance(solver, str) else None
    if entry is None:
        raise InputError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    given = {name: value for name, value in options.items() if value is not None or name not in ("tol", "devices")}
    unknown = sorted(set(given) - set(entry.options))
    if unknown:
        raise InputError(f"option(s) {', '.join(unknown)} do not apply to the {solver} solver; it takes "
                         f"{', '.join(entry.options) or 'no options'}")
    return entry.run(graph, k, dtype=dtype, seed=seed, **given)
