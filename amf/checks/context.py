"""The shared context of the theory checks: the inputs, the certified spectrum, cached quantities, and the
tolerances every check uses.

Tolerances: identities of the graph alone are computed in float64 and held to `IDENTITY_TOL`; quantities of
the solution are held to `solution_tolerance` of the solver's dtype. "Is this the Eckart–Young minimizer?" has one
rule on every route (`Context.minimizer_tol`): the loss gap ``|L - L_min| / I_k`` relative to the informative part
``I_k = sum_{2<=i<=k} s_i^2`` of the minimum, and the subspace distance to ``span(U_k)`` where it is determined,
at the solver's declared tolerances (`MINIMIZER_TOL`, gd's, for given embeddings).
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.linalg

from amf import downstream
from amf._linalg import projector_distance
from amf._random import named_key, normal
from amf.errors import InputError
from amf.graph import DENSE_LIMIT, CoOccurrence
from amf.solution import Reason, Solution, TrainingCertificate
from amf.solvers.certify import DEFAULT_TOL, certify_svd
from amf.solvers.convergence import informative_loss
from amf.solvers.gd import GD
from amf.solvers.lanczos_spec import default_tolerance
from amf.text_induced import text_induced_graph, text_induced_matmat

IDENTITY_TOL = 1e-10
"""Relative tolerance of identities computed in float64 from the graph alone."""

FULL_RANK_LIMIT = 1_000_000
"""Largest ``N_V * N_L`` for the full-rank ratio check (it needs every singular triplet)."""

AMBIGUITY = 1e-3
"""Largest Davis–Kahan bound on the angle between the computed and a true ``span(U_k)`` at which basis-dependent
quantities (``probe_error_ls``, the subspace checks) are judged; above it they are "ill-determined at this k"."""

MINIMIZER_TOL = dict(GD.tolerances["float64"])
"""``{loss_gap, subspace_distance}`` a minimizer must reach when its solver declares none (given embeddings,
``infonce``): the ``gd`` solver's float64 tolerances, so trained encoders and ``gd`` are judged alike."""

EMBEDDING_TOL = MINIMIZER_TOL["loss_gap"]
"""Default loss-gap tolerance of given embeddings (``--embedding-tolerance``)."""

N_TRIALS = 8
"""Random encoders tried by the Eckart–Young optimality checks on small graphs; 2 above ``dense_limit``, where
each trial costs two ``N x k`` draws and a pass over the edges."""


def solution_tolerance(dtype: str) -> float:
    """Relative tolerance for quantities derived from a solution computed in ``dtype``: the spectral solvers'
    residual tolerance (`amf.solvers.lanczos_spec.default_tolerance`)."""
    return default_tolerance(dtype)


def determination(singular_values, k: int, max_residual: float) -> dict:
    """Whether ``span(U_k)`` is determined at ``k`` by singular values ``s`` (``k + 1`` of them, descending) computed
    to relative residual ``max_residual``: the ``singular_gap = s_k - s_{k+1}`` and the Davis–Kahan bound
    ``sin theta <= sqrt(2) max_residual s_1 / singular_gap`` on how far the computed subspace may be from a true
    one; "ill-determined" when it exceeds `AMBIGUITY` (always at a tie, e.g. ``k`` below the number of components,
    where every subspace of the tied singular space is a minimizer and the probe error depends on the arbitrary
    choice). The one definition of ill-determined (docs/theory.md, vocabulary); ``gap`` is the old name of
    ``singular_gap``."""
    s = np.asarray(singular_values, dtype=np.float64)
    gap = float(s[k - 1] - s[k])
    noise = max(float(max_residual), np.finfo(np.float64).eps) * float(s[0])
    bound = float(np.sqrt(2.0) * noise / gap) if gap > 0 else float("inf")
    return {"ill_determined": not bound <= AMBIGUITY, "singular_gap": gap, "gap": gap, "angle_bound": bound,
            "threshold": AMBIGUITY,
            "quantities": ["probe_error_ls", "sscl_same_subspace", "eckart_young_subspace", "card.subspace"]}


def _minimizer_tolerance(solution: Solution, tol: float, encoder_tolerance: float | None) -> dict[str, float]:
    """``{loss_gap, subspace_distance}`` for the Eckart–Young verdicts on ``solution`` (see `Context`)."""
    if solution.spectral:
        return {"loss_gap": tol, "subspace_distance": tol}
    declared = solution.certificate.tolerance if isinstance(solution.certificate, TrainingCertificate) else {}
    out = {key: float(declared.get(key, default)) for key, default in MINIMIZER_TOL.items()}
    if encoder_tolerance is not None:
        out["loss_gap"] = float(encoder_tolerance)
    return out


class Context:
    """What the checks share: the graph, the solution, its spectrum and lazily built dense matrices.

    ``singular_values`` has ``k + 1`` entries (``s_{k+1} = 0`` when ``k = min(N_V, N_L)``). ``minimizer_tol``
    (``{loss_gap, subspace_distance}``): a spectral solution's dtype tolerance for both; a gradient solution's
    declared tolerances (``sgd``'s looser ones stay a property of ``sgd``); otherwise `MINIMIZER_TOL`, with the
    loss gap at ``encoder_tolerance`` when given.
    """

    def __init__(self, graph: CoOccurrence, solution: Solution, *, seed: int, dense_limit: int = DENSE_LIMIT,
                 encoder_tolerance: float | None = None):
        svd = solution.svd if solution.spectral else solution.reference
        if svd is None:
            raise InputError(
                f"the theory checks need the spectrum of Pn: the {solution.solver} solution has neither svd (a "
                "spectral solution) nor reference (gradient solvers and given embeddings set it)")
        self.graph, self.solution, self.seed = graph, solution, seed
        self.k = solution.k
        needed = min(self.k + 1, min(graph.shape))
        if len(svd.s) < needed or svd.u.shape[0] != graph.n_images or svd.vt.shape[1] != graph.n_texts:
            raise InputError(
                f"the checks at k = {self.k} need the top {needed} singular triplets of this graph's Pn "
                f"(u with {graph.n_images} rows, vt with {graph.n_texts} columns); the solution holds {len(svd.s)} "
                f"(u {svd.u.shape}, vt {svd.vt.shape})")
        self.dense = max(graph.shape) ** 2 <= dense_limit
        self.trials = N_TRIALS if self.dense else 2
        s = np.asarray(svd.s[:needed], dtype=np.float64)
        self.singular_values = np.pad(s, (0, self.k + 1 - needed))  # s_{k+1} = 0 only when k = min(N_V, N_L)
        self.u = np.asarray(svd.u[:, :needed], dtype=np.float64)
        self.tol = solution_tolerance(solution.dtype)
        self.minimizer_tol = _minimizer_tolerance(solution, self.tol, encoder_tolerance)
        self.svd = svd
        # the solution's triplets certified afresh from Pn: residuals, orthonormality, and that they are the top
        claimed = svd.certificate.tolerance
        self.certificate = certify_svd(
            graph.normalized_operator(np.float64), svd.u[:, :needed], svd.s[:needed], svd.vt[:needed],
            key=named_key(seed, "checks/certify_svd"), tol=min(claimed, DEFAULT_TOL[np.dtype(solution.dtype)]),
            iterations=svd.certificate.iterations, matvecs=svd.certificate.matvecs,
            finished=svd.certificate.reason is not Reason.ITERATION_LIMIT).certificate
        self.loss_min = float(-np.sum(self.singular_values[: self.k] ** 2))
        self.informative = informative_loss(self.singular_values[: self.k])

    def loss(self, f_images: np.ndarray, f_texts: np.ndarray) -> float:
        """Population MMCL loss ``L(f_V, f_L)`` from the edges, float64, by scipy's CSR product.

        ``-2 tr(f_V^T P f_L) + tr(G_V G_L)`` as in `amf.losses.mmcl_loss`; a multi-column CSR product reads the
        edges once instead of gathering ``nnz x k`` text features (the gain: docs/performance.md).
        """
        f_v, f_l = np.asarray(f_images, np.float64), np.asarray(f_texts, np.float64)
        positive = np.sum(f_v * (self.graph.joint @ f_l))
        gram_images = f_v.T @ (self.graph.p_images[:, None] * f_v)
        gram_texts = f_l.T @ (self.graph.p_texts[:, None] * f_l)
        return float(-2.0 * positive + np.sum(gram_images * gram_texts))

    @functools.cached_property
    def loss_at_solution(self) -> float:
        return self.loss(self.solution.f_images, self.solution.f_texts)

    @functools.cached_property
    def abar_u(self) -> np.ndarray:
        """``Abar_V U`` for the computed left singular vectors ``U (N_V, k+1)``, through ``P`` and ``D_L``."""
        return self.abar(self.u)

    @functools.cached_property
    def subspace_distance(self) -> float:
        """``||Pi_{col(F_V)} - Pi_{span(U_k)}||_2`` (0 for a minimizer, up to round-off; T2e)."""
        return projector_distance(self.scaled_images, self.u[:, : self.k])

    @functools.cached_property
    def scaled_images(self) -> np.ndarray:
        """``F_V = D_V^{1/2} f_V`` (``N_V x k``)."""
        return np.sqrt(self.graph.p_images)[:, None] * np.asarray(self.solution.f_images, np.float64)

    @functools.cached_property
    def text_induced_dense(self) -> np.ndarray:
        """``A_V`` as a dense ``N_V x N_V`` array, from the sparse product ``P D_L^{-1} P^T``."""
        return text_induced_graph(self.graph).toarray()

    @functools.cached_property
    def abar_eigen(self) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k+1`` eigenpairs of ``Abar_V = D_V^{-1/2} A_V D_V^{-1/2}`` by a dense symmetric eigensolver."""
        scale = 1.0 / np.sqrt(self.graph.p_images)
        abar = scale[:, None] * self.text_induced_dense * scale[None, :]
        n = abar.shape[0]
        values, vectors = scipy.linalg.eigh(abar, subset_by_index=[max(0, n - self.k - 1), n - 1])
        return values[::-1], vectors[:, ::-1]

    @functools.cached_property
    def unit_tolerance(self) -> float:
        """How close to 1 a computed singular value must be to count as a unit singular value."""
        return max(10 * self.certificate.max_residual, 1e3 * np.finfo(np.float64).eps, self.tol * 1e-2)

    @functools.cached_property
    def determination(self) -> dict:
        """`determination` of ``span(U_k)`` from the certified spectrum."""
        return determination(self.singular_values, self.k, self.certificate.max_residual)

    @property
    def spectral_gap(self) -> float:
        """``1 - s_{k+1}^2``: the gap of the text-induced graph's Laplacian the T4 bounds divide by."""
        return 1.0 - self.s_next**2

    @functools.cached_property
    def optimal_images(self) -> np.ndarray:
        """``D_V^{-1/2} U_k`` (``N_V x k``): an image encoder spanning the optimum's subspace (every minimizer
        ``f_V M`` probes alike, T2e)."""
        return self.u[:, : self.k] / np.sqrt(self.graph.p_images)[:, None]

    @functools.cached_property
    def probe_error_optimal(self) -> float | None:
        """``E_LS`` of the optimum's subspace ``span(U_k)`` (None without image labels)."""
        return downstream.probe_error_ls(self.graph, self.optimal_images)

    @property
    def s_next(self) -> float:
        """``s_{k+1}``."""
        return float(self.singular_values[self.k])

    @functools.cached_property
    def phi(self) -> float | None:
        return downstream.phi(self.graph)

    @functools.cached_property
    def alpha(self) -> float | None:
        return downstream.alpha(self.graph)

    @functools.cached_property
    def probe_error(self) -> float | None:
        """``E_LS`` of the solution's ``f_V`` (None without image labels)."""
        return downstream.probe_error_ls(self.graph, self.solution.f_images)

    def loss_gap(self, loss: float) -> float:
        """``|L - L_min| / I_k``: a loss's distance from the minimum relative to its informative part (the
        normalization of every Eckart–Young verdict; the absolute value also catches a claimed minimum above a
        reachable loss)."""
        return abs(loss - self.loss_min) / self.informative

    @functools.cached_property
    def bounds(self) -> dict[str, float | None]:
        alpha = self.alpha if downstream.all_texts_labeled(self.graph) else None
        return downstream.bounds(self.phi, alpha, self.s_next, self.unit_tolerance)

    def abar(self, x: np.ndarray, *, normalized: bool = True) -> np.ndarray:
        """``Abar_V x`` (``A_V x`` with ``normalized=False``) through ``P`` and ``D_L``, never a dense ``A_V``."""
        return text_induced_matmat(self.graph, x, normalized=normalized)

    def random_images(self, name: str) -> np.ndarray:
        """Random ``f_V (N_V, k)`` drawn for purpose ``name``."""
        return normal(self.seed, name + "/images", (self.graph.n_images, self.k))

    def random_encoders(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Random ``(f_V, f_L)`` drawn for purpose ``name``."""
        return self.random_images(name), normal(self.seed, name + "/texts", (self.graph.n_texts, self.k))

    def best_text_encoder(self, f_images: np.ndarray) -> np.ndarray:
        """``argmin_{f_L} L(f_V, f_L)``: ``F_L = Pn^T F_V (F_V^T F_V)^{-1} = Pn^T Q R^{-T}`` with ``F_V = Q R`` (the QR
        form keeps the error at ``eps cond(F_V)``, not its square), returned as ``f_L = D_L^{-1/2} F_L``."""
        q, r = np.linalg.qr(np.sqrt(self.graph.p_images)[:, None] * f_images)
        big_l = scipy.linalg.solve_triangular(r, np.asarray(self.graph.normalized.T @ q).T).T
        return big_l / np.sqrt(self.graph.p_texts)[:, None]


def relation(a: float, b: float) -> str:
    """The true one of ``<=`` and ``>`` between ``a`` and ``b`` (a detail line never prints a false inequality)."""
    return "<=" if a <= b else ">"
def column_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal basis of ``col(x)`` without its round-off directions (an encoder column set to 0 for a zero
    singular value has no direction)."""
    q, sv, _ = np.linalg.svd(np.asarray(x, np.float64), full_matrices=False)
    return q[:, sv > 1e-10 * max(float(sv[0]), np.finfo(float).tiny)]
