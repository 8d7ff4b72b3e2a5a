"""Shared test setup: float64 JAX (importing amf enables it) and a fast hypothesis profile."""

import os

import jax
from hypothesis import HealthCheck, settings

import amf  # noqa: F401  (enables jax_enable_x64)

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "amf",
    max_examples=int(os.environ.get("AMF_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.load_profile("amf")
