"""amf: multi-modal contrastive learning as asymmetric matrix factorization, verified.

Importing amf enables float64 in JAX (``jax_enable_x64``): the toolkit checks identities to round-off, and
float64 is its default; solvers take ``dtype="float32"`` where speed matters more.
"""

import jax

jax.config.update("jax_enable_x64", True)

from amf.errors import InputError  # noqa: E402
from amf.graph import CoOccurrence, Joint  # noqa: E402
from amf.losses import mmcl_loss, mmcl_minibatch_loss, sample_pairs, sscl_loss  # noqa: E402
from amf.solution import Solution, SVDCertificate, SVDResult  # noqa: E402
from amf.solve import solve  # noqa: E402
from amf.text_induced import text_induced_graph  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CoOccurrence",
    "InputError",
    "Joint",
    "SVDCertificate",
    "SVDResult",
    "Solution",
    "mmcl_loss",
    "mmcl_minibatch_loss",
    "sample_pairs",
    "solve",
    "sscl_loss",
    "text_induced_graph",
    "__version__",
]
