"""What solvers return: the factors and a certificate saying how far they can be trusted.

Callers never guess whether a solver converged. Every `Solution` carries a certificate that follows one protocol,
`Certificate`: ``converged`` (the solver's stated criterion holds for measured values), ``reason`` (a `Reason`:
converged, iteration limit, breakdown, tolerance not met, or not judged) and ``as_dict()`` (JSON-safe, with
``converged`` and ``reason`` among its keys). Two kinds implement it:

- `SVDCertificate` (spectral solvers): residuals of the returned singular triplets, recomputed from the operator;
- `TrainingCertificate` (gradient solvers): loss gap and subspace distance to the Eckart–Young minimizer, measured
  in float64 from the edges.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Protocol, runtime_checkable

import numpy as np

from amf.io import json_safe


class Reason(str, enum.Enum):
    """Why a solver stopped, as its certificate judges it."""

    CONVERGED = "converged"
    """The stated criterion holds."""
    ITERATION_LIMIT = "iteration limit"
    """The iteration or step budget ran out before the criterion held."""
    BREAKDOWN = "breakdown"
    """Non-finite values (divergence, a numerical breakdown)."""
    TOLERANCE = "tolerance not met"
    """The solver finished by its own rule, but the measured accuracy misses the tolerance."""
    NOT_JUDGED = "not judged"
    """No criterion applies: the measures are reported, not judged."""

    def __str__(self) -> str:
        return self.value


@runtime_checkable
class Certificate(Protocol):
    """The protocol every solver's certificate follows."""

    converged: bool
    reason: Reason
    iterations: int

    def as_dict(self) -> dict[str, Any]: ...


@dataclasses.dataclass(frozen=True)
class SVDCertificate:
    """Accuracy of a truncated SVD ``A ~ U diag(s) V^T`` with ``r`` triplets.

    - ``residual_left[i] = ||A v_i - s_i u_i|| / s_1``, ``residual_right[i] = ||A^T u_i - s_i v_i|| / s_1``, ``(r,)``;
    - ``orthonormality = max(||U^T U - I||_max, ||V^T V - I||_max)``;
    - ``iterations`` and ``matvecs`` spent (products with a block count once per column);
    - ``descending``: ``s`` is non-increasing (to ``tolerance s_1``): a claim that pairs ``u_{k+1}`` with position
      ``k`` is no top-``k`` SVD, whatever its residuals;
    - ``top``: the complement test (`amf.solvers.certify.TopTest`: ``bound``, ``threshold``, ``passed``,
      ``failure_probability``), None when it was not run;
    - ``converged``: every residual ``<= tolerance``, ``orthonormality <= max(tolerance, 1e4 eps)`` (a
      repeated triplet has zero residuals but is no SVD), ``descending`` and the top test passed; ``reason`` says
      why not.
    """

    residual_left: np.ndarray
    residual_right: np.ndarray
    orthonormality: float
    iterations: int
    matvecs: int
    tolerance: float
    converged: bool
    reason: Reason = Reason.CONVERGED
    descending: bool = True
    top: Any = None

    @property
    def max_residual(self) -> float:
        if self.residual_left.size == 0:
            return 0.0
        return float(max(self.residual_left.max(), self.residual_right.max()))

    def as_dict(self) -> dict[str, Any]:
        return json_safe({
            "kind": "svd",
            "converged": self.converged,
            "reason": self.reason.value,
            "max_residual": self.max_residual,
            "residual_left": self.residual_left.tolist(),
            "residual_right": self.residual_right.tolist(),
            "orthonormality": self.orthonormality,
            "iterations": self.iterations,
            "matvecs": self.matvecs,
            "tolerance": self.tolerance,
            "descending": self.descending,
            "top": None if self.top is None else self.top.as_dict(),
        })


@dataclasses.dataclass(frozen=True)
class TrainingCertificate:
    """What a gradient solver's result is worth, measured in float64 from the edges. Fields that do not apply
    are None.

    - ``converged``: the ``criterion`` holds for the measures below with ``tolerance``; ``reason`` says why not;
    - ``iterations``: optimizer steps taken; ``criterion``: the rule, in words;
    - ``loss``: population MMCL loss of the encoders (for InfoNCE: after the best scalar rescaling, see
      `amf.solvers.infonce`); ``loss_min = -sum_{i<=k} s_i^2``, ``loss_gap = (loss - loss_min) / |loss_min|``;
    - ``subspace_distance``, ``principal_angles``: ``col(D_V^{1/2} f_V)`` against ``span(U_k)``;
    - ``probe_error``, ``probe_error_optimal``: ``E_LS`` of the trained and of the optimal ``f_V`` (None without
      image labels);
    - ``tolerance``: the thresholds the criterion used, by measure name;
    - ``eigengap``: ``s_k - s_{k+1}`` of the reference; ``relative_change``: relative change of the training
      objective's chunk mean over the last chunk; ``gradient_norm``: relative gradient norm (weighted solver).
    """

    converged: bool
    iterations: int
    criterion: str
    loss: float
    loss_min: float | None
    loss_gap: float | None
    subspace_distance: float | None
    principal_angles: np.ndarray | None
    probe_error: float | None
    probe_error_optimal: float | None
    tolerance: dict[str, float]
    eigengap: float | None = None
    relative_change: float | None = None
    gradient_norm: float | None = None
    reason: Reason = Reason.CONVERGED

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe dict (arrays as lists, non-finite floats as None)."""
        out = {"kind": "training"}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.value if isinstance(value, Reason) else value
        return json_safe(out)


@dataclasses.dataclass(frozen=True)
class SVDResult:
    """Truncated SVD: ``u (m, r)``, ``s (r,)`` descending, ``vt (r, n)``, with its certificate."""

    u: np.ndarray
    s: np.ndarray
    vt: np.ndarray
    certificate: SVDCertificate

    @property
    def v(self) -> np.ndarray:
        return self.vt.T


@dataclasses.dataclass(frozen=True)
class Solution:
    """Encoders that (approximately) minimize the MMCL loss, with how they were obtained.

    - ``f_images (N_V, k)`` is ``f_V`` and ``f_texts (N_L, k)`` is ``f_L`` (row = embedding);
    - ``certificate``: the solver's accuracy record (a `Certificate`: `SVDCertificate` for spectral solvers,
      `TrainingCertificate` for gradient solvers);
    - ``svd``: spectral solvers only, the top ``k+1`` singular triplets of ``Pn`` the encoders came from
      (``s_{k+1}`` enters the bound; when ``k + 1 > min(N_V, N_L)`` the missing values are 0); None otherwise;
    - ``reference``: gradient solvers only, the reference SVD (top ``k+1`` triplets of ``Pn``) the training
      certificate was measured against; None otherwise;
    - ``dtype``: the floating type the solver worked in;
    - ``curve``: for iterative gradient solvers, the loss curve as a mapping of equal-length arrays
      (e.g. ``step``, ``loss``); None otherwise.
    """

    f_images: np.ndarray
    f_texts: np.ndarray
    solver: str
    dtype: str
    certificate: Certificate
    svd: SVDResult | None = None
    reference: SVDResult | None = None
    curve: dict[str, np.ndarray] | None = None

    @property
    def k(self) -> int:
        return int(self.f_images.shape[1])

    @property
    def converged(self) -> bool:
        return bool(self.certificate.converged)

    @property
    def spectral(self) -> bool:
        """Whether the encoders come from a truncated SVD (``svd`` is set)."""
        return self.svd is not None
