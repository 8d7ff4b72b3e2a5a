"""T5: consistency (phi) and diversity (spectral gap) of caption graphs against augmentation graphs."""

from __future__ import annotations

from pathlib import Path

from figures._plot import new_figure, save


def plot(result: dict, path: str | Path) -> None:
    fig, (left, right) = new_figure(2)
    for name, marker in (("captions", "o"), ("augmentations", "s")):
        points = result[name]
        left.scatter([p["gap"] for p in points], [p["phi"] for p in points], marker=marker, s=40,
                     label=f"{name} ({'MMCL' if name == 'captions' else 'SSCL'})")
        right.scatter([p["gap"] for p in points], [p["rigorous_phi"] for p in points], marker=marker, s=40,
                      label=name)
    left.set_xlabel("diversity: gap $1 - s_{k+1}^2$")
    left.set_ylabel("inconsistency φ")
    left.set_title("captions: diverse; augmentations: consistent")
    left.legend()
    right.set_yscale("log")
    right.axhline(1.0, color="red", ls=":", lw=1, label="vacuous above 1")
    right.set_xlabel("diversity: gap $1 - s_{k+1}^2$")
    right.set_ylabel("proved bound 2φ/(1-s²)")
    right.set_title("bound on the linear-probe error")
    right.legend()
    save(fig, path)
