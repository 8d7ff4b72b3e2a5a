"""T5 diversity: spectral gap, probe error and the proved bound against caption diversity (from `diversity_sweep`)."""

from __future__ import annotations

from pathlib import Path

from figures._plot import new_figure, save


def plot(result: dict, path: str | Path) -> None:
    points = result["points"]
    d = [p["params"]["diversity"] for p in points]
    fig, (left, right) = new_figure(2)
    left.plot(d, [p["s_next"] for p in points], "o-", label="$s_{k+1}$")
    left.plot(d, [p["gap"] for p in points], "s-", label="gap $1 - s_{k+1}^2$")
    left.set_xlabel("caption diversity d")
    left.set_title(f"spectrum at k = r = {points[0]['k']}")
    left.legend()
    right.semilogy(d, [p["rigorous_phi"] for p in points], "o-", label="2φ/(1-s²) [proved]")
    right.semilogy(d, [max(p["probe_error_ls"], 1e-6) for p in points], "s-", label="probe error $E_{LS}$ (floor 1e-6)")
    right.axhline(1.0, color="red", ls=":", lw=1, label="vacuous above 1")
    right.set_xlabel("caption diversity d")
    right.set_title("diverse captions make the bound informative")
    right.legend()
    save(fig, path)
