"""amf: multi-modal contrastive learning as asymmetric matrix factorization, verified.

The public API. Data flows one way: a `CoOccurrence` graph -> `solve` (or `topk_svd`, `train`,
`train_weighted`) -> a `Solution` with its certificate -> `verify` / `build_report` (the theory checks) -> a
report. docs/architecture.md describes the package; docs/theory.md the statements it checks.

Importing amf enables float64 in JAX (``jax_enable_x64``): the toolkit checks identities to round-off, and
float64 is its default; solvers take ``dtype="float32"`` where speed matters more.
"""

import jax

jax.config.update("jax_enable_x64", True)

from amf._version import __version__  # noqa: E402
from amf.errors import InputError  # noqa: E402
from amf.graph import CoOccurrence, Joint  # noqa: E402
from amf.losses import (  # noqa: E402
    NegativeWeights,
    infonce_loss,
    minibatch_loss,
    mmcl_loss,
    mmcl_minibatch_loss,
    sample_pairs,
    sscl_loss,
    weighted_loss,
)
from amf.report import build_report, training_report, verify  # noqa: E402
from amf.solution import (  # noqa: E402
    Certificate,
    Reason,
    Solution,
    SVDCertificate,
    SVDResult,
    TrainingCertificate,
)
from amf.solve import SOLVERS, solve, train  # noqa: E402
from amf.solvers.certify import certify_svd  # noqa: E402
from amf.solvers.krylov import topk_svd  # noqa: E402
from amf.solvers.weighted import train_weighted  # noqa: E402
from amf.text_induced import text_induced_graph  # noqa: E402

__all__ = [
    "SOLVERS",
    "Certificate",
    "CoOccurrence",
    "InputError",
    "Joint",
    "NegativeWeights",
    "Reason",
    "SVDCertificate",
    "SVDResult",
    "Solution",
    "TrainingCertificate",
    "__version__",
    "build_report",
    "certify_svd",
    "infonce_loss",
    "minibatch_loss",
    "mmcl_loss",
    "mmcl_minibatch_loss",
    "sample_pairs",
    "solve",
    "sscl_loss",
    "text_induced_graph",
    "topk_svd",
    "train",
    "train_weighted",
    "training_report",
    "verify",
    "weighted_loss",
]
