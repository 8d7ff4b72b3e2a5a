"""``mmcl-vs-sscl``: captions (MMCL) against augmentations (SSCL) on matched graphs, one T5 property at a time.

Reads the ``mmcl-vs-sscl`` experiment (`amf.experiments.mmcl_vs_sscl`). Top row: ``phi`` held equal (captions
more diverse); bottom row: ``spectral_gap`` held equal (captions more consistent). Left: the proved bound
``2 phi / spectral_gap`` of each arm per setting (caption diversity ``delta``, caption noise ``eps``); right:
the measured ``E_LS``. Every seed is a small dot, the seed mean a large marker; the letter over a setting is its
seed verdict (C: captions better, A: augmentations better, ?: undetermined, =: tie, x: not matched, -: no bound).
"""

from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from figures import style

SIDES = {"mmcl": "captions (MMCL)", "sscl": "augmentations (SSCL)"}
HELD = {"phi": r"$\varphi$ held equal: captions more diverse",
        "spectral_gap": r"$1-s_{k+1}^2$ held equal: captions more consistent"}
LETTERS = {"captions better": "C", "augmentations better": "A", "undetermined": "?", "tie": "=",
           "not matched": "x", "no bound": "-"}
PANELS = (("bound", "bound_rigorous_phi", r"proved bound $2\varphi/(1-s_{k+1}^2)$"),
          ("probe", "probe_error_ls", r"$E_{LS}$ (measured)"))


def draw(results: dict, arrays: dict):
    cfg, table = results["config"], results["table"]
    helds = [h for h in HELD if any(r["held"] == h for r in table)]
    fig, axes = style.new_figure(2, len(helds), width=10.0, height=3.3 * len(helds) + 0.8)
    for row, held in enumerate(helds):
        rows = [r for r in table if r["held"] == held]
        labels = [f"δ={r['diversity']:g}\nε={r['noise']:g}" for r in rows]
        for col, (by, metric, name) in enumerate(PANELS):
            ax = axes[2 * row + col]
            for offset, side in ((-0.12, "mmcl"), (0.12, "sscl")):
                for i, r in enumerate(rows):
                    values = _seed_values(results, r, side, metric)
                    ax.plot(np.full(len(values), i + offset), values, ".", color=style.COLORS[side], alpha=0.45)
                means = [r[f"{side}_{metric}"] for r in rows]
                ax.plot(np.arange(len(rows)) + offset, [np.nan if m is None else m for m in means], "o",
                        color=style.COLORS[side], markersize=7, linestyle="none")
            if metric == "bound_rigorous_phi":
                style.shade_vacuous(ax)
            top = ax.get_ylim()[1]
            for i, r in enumerate(rows):
                ax.text(i, top, LETTERS[r[by]["verdict"]], ha="center", va="bottom", fontsize=11,
                        fontweight="bold")
            ax.set_ylim(bottom=0, top=top * 1.12)
            ax.set_xticks(range(len(rows)), labels)
            ax.set_xlim(-0.5, len(rows) - 0.5)
            ax.set_ylabel(name)
            ax.set_title(HELD[held], loc="left" if col == 0 else "right")
    worst = max((p["match_ratio"] for p in results["points"]), key=lambda x: abs(x - 1.0))
    unmatched = sum(not p["matched"] for p in results["points"])
    handles = [Line2D([], [], marker="o", linestyle="none", color=style.COLORS[s], label=SIDES[s]) for s in SIDES]
    handles.append(Line2D([], [], marker=".", linestyle="none", color="grey", label="one seed"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3,
               title=f"C / A: the {len(results['seeds'])} seeds' 95% interval excludes 0; ?: it does not; the held "
                     f"quantity differs by at most {abs(worst - 1):.1%}; {unmatched} point(s) outside the tolerance")
    fig.suptitle(f"Captions against augmentations on matched graphs ({cfg['n_classes']} classes × "
                 f"{cfg['sources_per_class']} sources × {cfg['views_per_source']} views, same degrees and noise "
                 f"model, k = {cfg['n_classes']})")
    return fig


def _seed_values(results: dict, row: dict, side: str, metric: str) -> list[float]:
    """``side.metric`` of every seed of the setting ``row`` (None values left out)."""
    values = []
    for p in results["points"]:
        params = {key: p["params"].get(key, results["config"][key]) for key in ("held", "diversity", "noise")}
        if params == {key: row[key] for key in params} and p[side][metric] is not None:
            values.append(p[side][metric])
    return values
