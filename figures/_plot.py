"""Shared matplotlib setup: a headless backend, a figure of n panels, an atomic PNG save."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from amf.io import atomic_write  # noqa: E402  (public)


def new_figure(panels: int, width_ratios=None):
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), gridspec_kw={"width_ratios": width_ratios})
    return fig, axes


def save(fig, path: str | Path) -> None:
    fig.tight_layout()
    with atomic_write(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
