"""How a result was made: seed, versions, device, dtype (`environment`), and the command line, input file
hashes and start/end times (`Provenance`). Every report, experiment result and generated graph carries them."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
import platform
import sys
import time

import jax
import numpy as np
import scipy

from amf._version import __version__


def versions() -> dict:
    """Versions of amf, Python and the numerical stack."""
    return {
        "amf": __version__,
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": _jaxlib_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def _jaxlib_version() -> str:
    import jaxlib  # jaxlib is a jax dependency; imported here only to read its version

    return getattr(jaxlib, "__version__", "unknown")


def device() -> dict:
    """The first JAX device's platform and kind, and how many devices and processes the run sees."""
    first = jax.devices()[0]
    return {"platform": first.platform, "kind": first.device_kind, "count": jax.device_count(),
            "processes": jax.process_count()}


def environment(seed: int, dtype: str) -> dict:
    """Seed, versions, device and dtype: what every report records so a run can be repeated."""
    return {"seed": seed, "dtype": dtype, "device": device(), "versions": versions()}


def sha256(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def now() -> str:
    """The current UTC time, ISO 8601 to the second (``2026-12-01T17:40:51Z``)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Provenance:
    """The command line (``argv``), the sha256 of each input file, and the start time, taken when the run
    starts (`start`; a path that is not a file is left for the reader to reject); `as_dict` adds the end time
    and the elapsed seconds.

    ``command`` defaults to ``sys.argv`` (the program name reduced to ``amf`` when it is the console script);
    the CLI passes the arguments it parsed."""

    command: list[str]
    inputs: dict[str, str]
    started: str
    _clock: float

    @classmethod
    def start(cls, inputs=(), command: list[str] | None = None) -> Provenance:
        argv = list(sys.argv if command is None else command)
        if argv and os.path.basename(argv[0]) == "amf":
            argv[0] = "amf"
        hashes = {str(path): sha256(path) for path in inputs if path is not None and os.path.isfile(path)}
        return cls(argv, hashes, now(), time.perf_counter())

    def as_dict(self) -> dict:
        return {"command": self.command, "inputs": {path: {"sha256": h} for path, h in self.inputs.items()},
                "started": self.started, "finished": now(),
                "seconds": round(time.perf_counter() - self._clock, 3)}
