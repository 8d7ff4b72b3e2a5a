"""`amf.topk_svd` on degenerate but valid inputs, on both back-ends, against dense LAPACK (issue 22's table).

Every row of the table the issue reported (identity, permutations, every value repeated 40 times, a rank below
k, two blocks of ones, entries of 1e+-80 and 1e+-150) returns the right top-k with a converged certificate on
the host path (a scipy sparse matrix: numpy beside the CPU kernel) and on the jitted path (a dense array, or a
sparse operator in the jagged layout); non-real dtypes are one-line refusals naming the dtype; a scipy
LinearOperator and integer matrices are accepted. `tests/krylov_reference.py` holds the dense reference.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as sla

import amf  # noqa: F401  (float64)
from amf.errors import InputError
from amf.operators import on_host, sparse_operator
from amf.solvers.krylov import topk_svd
from tests.krylov_reference import assert_matches_lapack

RNG = np.random.default_rng(22)
B5 = RNG.standard_normal((5, 5))
PERMUTATION = sp.csr_array((np.ones(200), (np.arange(200), RNG.permutation(200))), shape=(200, 200))
X, Y = RNG.standard_normal((200, 2)), RNG.standard_normal((150, 2))
ONES = sp.block_diag([np.ones((60, 50)), np.ones((40, 70))], format="csr")
GAUSS = RNG.standard_normal((120, 90))


def host(a):
    """The host path's input: scipy CSR (on a CPU its products and the whole iteration run in numpy)."""
    return sp.csr_array(a)


def jitted(a):
    """The jitted path's input: a dense array."""
    return np.asarray(a.toarray() if sp.issparse(a) else a)


def jagged(a):
    """The jitted path with a sparse operator (the layout accelerators use)."""
    return sparse_operator(sp.csr_array(a), kernel="jagged")


def dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a)


TABLE = [  # (name, matrix, k, keys, paths): every row on the host path; on the jitted one (a compilation per
    # shape and k) the issue's jitted rows and one of each other kind
    ("identity", sp.identity(100, format="csr"), 5, (0,), "host"),
    ("identity", sp.identity(100, format="csr"), 9, (0,), "both"),
    ("identity", sp.identity(100, format="csr"), 20, (0,), "host"),
    ("2 identity", 2 * sp.identity(100, format="csr"), 9, (0,), "both"),
    ("permutation", PERMUTATION, 5, (0,), "host"),
    ("permutation", PERMUTATION, 9, (0,), "host"),
    ("permutation", PERMUTATION, 17, (0,), "both"),
    ("kron(I_40, B)", sp.csr_array(sp.kron(sp.identity(40), B5)), 41, (0,), "host"),
    ("kron(I_20, B)", sp.csr_array(sp.kron(sp.identity(20), B5)), 30, (0,), "both"),
    ("rank 2", X @ Y.T, 5, (0, 1, 2, 3, 4), "both"),
    ("two blocks of ones", ONES, 5, (0, 1, 2, 3), "both"),
]
CASES = [(path, *row[:4]) for row in TABLE for path in (host, jitted) if row[4] == "both" or path is host]
SLOW = pytest.mark.slow  # the jitted rows (a compilation each, seconds) and the largest host row (k = 41)


def _marks(case):
    return [SLOW] if case[0] is jitted or case[1] == "kron(I_40, B)" else []


@pytest.mark.parametrize("path, name, matrix, k, keys", [
    pytest.param(*c, id=f"{c[1]}-k{c[3]}-{c[0].__name__}", marks=_marks(c)) for c in CASES])
def test_the_issue_table_returns_the_top_k_certified(path, name, matrix, k, keys):
    for seed in keys:
        result = topk_svd(path(matrix), k, key=jax.random.key(seed))
        assert_matches_lapack(dense(matrix), result, k)


def test_the_host_path_is_the_one_taken_for_scipy_input():
    from amf.solvers.krylov import _as_typed_operator

    assert on_host(_as_typed_operator(host(ONES), None)[0])
    assert not on_host(_as_typed_operator(jitted(ONES), None)[0])


@pytest.mark.parametrize("factor", [1e80, 1e150, 1e-80, 1e-150])
@pytest.mark.parametrize("path", [host, pytest.param(jitted, marks=SLOW), pytest.param(jagged, marks=SLOW)])
def test_extreme_scales_behave_like_one(path, factor):
    result = topk_svd(path(GAUSS * factor), 5)
    assert_matches_lapack(GAUSS * factor, result, 5, unit=factor)


def test_a_moderate_matrix_is_not_rescaled(monkeypatch):
    """The normal path pays nothing: a matrix of norm ~1 (or up to 2^64) is solved as given."""
    import amf.solvers.krylov as krylov

    assert krylov._scale(krylov._as_typed_operator(host(GAUSS), None)[0], np.float64) == 0
    assert krylov._scale(krylov._as_typed_operator(GAUSS * 1e15, None)[0], np.float64) == 0
    assert krylov._scale(krylov._as_typed_operator(GAUSS * 1e150, None)[0], np.float64) != 0


@pytest.mark.slow  # jitted compilations
def test_k_above_the_rank_returns_zeros_with_an_orthonormal_completion():
    for path, k in ((host, 12), (jitted, 5)):  # k = 5: the table's compilation
        result = topk_svd(path(X @ Y.T), k)
        assert np.all(np.asarray(result.s[2:]) <= 1e-12 * float(result.s[0]))
        assert_matches_lapack(X @ Y.T, result, k)
    zero = sp.csr_array((60, 50))
    for path in (host, jitted):
        result = topk_svd(path(zero), 3)
        assert np.all(np.asarray(result.s) == 0) and result.certificate.converged


@pytest.mark.parametrize("matrix, kind", [
    (GAUSS + 1j * GAUSS, "complex"),
    (sp.csr_array(GAUSS + 1j * GAUSS), "complex"),
    (GAUSS.astype(object), "object"),
    (GAUSS > 0, "boolean"),
    (sp.csr_array(GAUSS > 0), "boolean"),
    (np.full((40, 30), "a"), "string"),
    (sla.aslinearoperator(GAUSS + 1j * GAUSS), "complex"),
])
def test_non_real_dtypes_are_refused_naming_the_dtype(matrix, kind):
    with pytest.raises(InputError, match=f"{kind} dtype .*real-valued"):
        topk_svd(matrix, 3)


def test_a_non_finite_matrix_is_refused():
    bad = GAUSS.copy()
    bad[3, 4] = np.inf
    with pytest.raises(InputError, match="not finite"):
        topk_svd(host(bad), 3)


@pytest.mark.parametrize("factor", [1.0, 1e150])
def test_a_scipy_linear_operator_runs_on_the_host(factor):
    operator = sla.aslinearoperator(GAUSS * factor)
    result = topk_svd(operator, 5)
    assert_matches_lapack(GAUSS * factor, result, 5, unit=factor)
    big = RNG.standard_normal((700, 600))  # beyond the dense complement test: the host Lanczos route
    result = topk_svd(sla.aslinearoperator(big * factor), 4)
    assert result.certificate.top.method == "lanczos"
    assert_matches_lapack(big * factor, result, 4, unit=factor)


@pytest.mark.slow  # jitted compilations
def test_integer_matrices_are_converted_explicitly():
    counts = np.rint(np.abs(GAUSS) * 10).astype(np.int64)
    for matrix in (counts, sp.csr_array(counts), counts.astype(np.uint8)):
        result = topk_svd(matrix, 5)  # k = 5: the scale tests' compilation
        assert result.s.dtype == np.float64
        assert_matches_lapack(counts.astype(np.float64), result, 5)


def test_many_components_verify_with_the_krylov_solver(tmp_path, capsys):
    """``s = 1`` once per component of a graph with 150 components: every copy found, the checks pass."""
    import json

    from amf.cli import main
    from amf.graph import CoOccurrence
    from synthetic.block import block_model

    path = tmp_path / "components.npz"
    CoOccurrence.from_edges(block_model(n_classes=150, images_per_class=2, texts_per_class=2, across=0.0)).save(path)
    report = tmp_path / "report.json"
    assert main(["verify", str(path), "--k", "5", "--solver", "krylov", "--json", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["passed"] is True
    assert np.allclose(data["singular_values"][:6], 1.0, rtol=0, atol=1e-12)
