"""The theory checks of docs/theory.md T1–T4, each a named verdict with its value and tolerance, and the model card.

Every check states ``value <= tolerance`` for an error or violation measure ``value`` (an inequality
``a <= b`` is checked as ``a - b <= tolerance``). Values come from routes independent of the solver where one
exists: the population loss from the edges, the text-induced graph through ``P`` and ``D_L``, dense
eigendecompositions on small graphs. Checks that need dense ``N x N`` matrices run only when
``max(N_V, N_L)^2 <= dense_limit`` and are otherwise listed as skipped, with the reason.

One module per theorem group, over the shared `Context` (`context`: inputs, cached quantities, tolerances):
`certificate` (the triplets), `factorization` (T1), `eckart_young` (T2: the minimizer and the unit pair),
`text_induced` (T3), `bounds` (T2e, T4); `card` measures the encoders against the optimum. Each check registers
itself in `registry.CHECKS` under its function's name; the modules are imported here in report order.
"""

from amf.checks import certificate, factorization, eckart_young, text_induced, bounds  # noqa: F401  (report order)
from amf.checks.context import (
    AMBIGUITY,
    EMBEDDING_TOL,
    FULL_RANK_LIMIT,
    IDENTITY_TOL,
    MINIMIZER_TOL,
    N_TRIALS,
    Context,
    column_basis,
    determination,
    solution_tolerance,
)
from amf.checks.registry import CHECKS, encoder_checks, run_checks

__all__ = ["AMBIGUITY", "CHECKS", "EMBEDDING_TOL", "FULL_RANK_LIMIT", "IDENTITY_TOL", "MINIMIZER_TOL", "N_TRIALS",
           "Context", "column_basis", "determination", "encoder_checks", "run_checks", "solution_tolerance"]
