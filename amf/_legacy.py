"""Old import paths that keep working after the package was reorganized into `amf.operators`, `amf.solvers`
and `amf.experiments`.

Scripts written against the flat layout (``from amf.krylov import topk_svd``, ``amf.gradient.train``) still
run: importing an old module path gives a module whose attributes are looked up, on first use, in the modules
that now hold them. New code should import from the new places (docs/architecture.md).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types

MOVED: dict[str, tuple[str, ...]] = {
    "amf.operator": ("amf.operators.core",),
    "amf.sharded": ("amf.operators.sharded",),
    "amf._sparse": ("amf.operators.jagged",),
    "amf._host_sparse": ("amf.operators.host_csr",),
    "amf._io": ("amf.io",),
    "amf.exact": ("amf.solvers.exact",),
    "amf.krylov": ("amf.solvers.krylov",),
    "amf.encoders": ("amf.solvers.encoders",),
    "amf.infonce": ("amf.losses",),
    "amf.convergence": ("amf.solvers.convergence", "amf.solution", "amf.spectral"),
    "amf.gradient": ("amf.solvers.train", "amf.solvers.weighted", "amf.solvers.training", "amf.losses"),
    "amf.sampling": ("amf.solvers.sampler", "amf.experiments.empirical"),
    "amf.resampling": ("amf.edits", "amf.experiments.clip_resampling"),
}
"""Old module path -> the modules its public names now live in, searched in order."""


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path to a forwarding module (consulted after the real modules)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        homes = MOVED[module.__name__]
        module.__doc__ = f"Moved: {module.__name__} now lives in {', '.join(homes)}; this path keeps working."

        def forward(name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            for home in homes:
                target = importlib.import_module(home)
                if hasattr(target, name):
                    return getattr(target, name)
            raise AttributeError(f"module {module.__name__!r} (moved to {', '.join(homes)}) has no attribute {name!r}")

        module.__getattr__ = forward


def install() -> None:
    """Register the old paths (once per process)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.append(_Finder())
