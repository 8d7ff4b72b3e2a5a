"""``mmcl-vs-sscl``: on the same views and labels, captions (MMCL) against augmentations (SSCL): which has the
smaller proved bound and the smaller measured probe error, and why (consistency ``phi``, diversity ``gap``).

Reads the ``mmcl-vs-sscl`` experiment (`amf.experiments.mmcl_vs_sscl`). Left: the ``map`` over augmentation
strength x caption noise, each cell coloured by the graph with the smaller seed-mean proved bound and lettered
by the one with the smaller ``E_LS``. Middle: the caption graph's ``phi`` and gap against caption noise; right:
the augmentation graph's against strength (each pooled over the other axis and the seeds, min–max bars).
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch

from figures import style

SIDES = {"mmcl": "captions (MMCL)", "sscl": "augmentations (SSCL)", "tie": "tie (within 1e-12)"}
LETTERS = {"mmcl": "M", "sscl": "S", "tie": "="}


def draw(results: dict, arrays: dict):
    cfg, cells = results["config"], results["map"]
    fig, (ax, mm, ss) = style.new_figure(3, height=4.0, width_ratios=[1.25, 1, 1])
    noises = sorted({c["noise"] for c in cells})
    strengths = sorted({c["strength"] for c in cells})
    winners = list(SIDES)
    grid = np.full((len(strengths), len(noises)), np.nan)
    for c in cells:
        i, j = strengths.index(c["strength"]), noises.index(c["noise"])
        grid[i, j] = winners.index(c["winner_bound"])
        ax.text(j, i, LETTERS[c["winner_probe"]], ha="center", va="center", fontsize=12,
                color="white" if c["winner_bound"] == "mmcl" else "black")
    colors = [style.COLORS["mmcl"], style.COLORS["sscl"], "#DDDDDD"]
    ax.pcolormesh(np.arange(len(noises) + 1) - 0.5, np.arange(len(strengths) + 1) - 0.5, grid,
                  cmap=ListedColormap(colors), vmin=-0.5, vmax=2.5, edgecolors="white", linewidth=1)  # vector
    ax.set_xticks(range(len(noises)), [f"{v:g}" for v in noises])
    ax.set_yticks(range(len(strengths)), [f"{v:g}" for v in strengths])
    ax.grid(False)
    ax.set_xlabel("caption noise (probability)")
    ax.set_ylabel("aug. strength (edge weight)")
    ax.set_title("smaller bound (colour),\nsmaller $E_{LS}$ (letter)")
    note = ""
    for side, axis, name, label in (("mmcl", mm, "noise", "caption noise (probability)"),
                                    ("sscl", ss, "strength", "aug. strength (edge weight)")):
        for metric, marker in (("phi", "o"), ("gap", "s")):
            xs, mean, bar, note = _pooled(results, side, metric, name)
            axis.errorbar(xs, mean, yerr=bar, color=style.COLORS[metric], marker=marker,
                          label=style.LABELS[metric])
        axis.set_ylim(-0.03, 1.03)
        axis.set_xlabel(label)
        axis.set_title(SIDES[side])
    mm.set_ylabel("value (unitless, 0 to 1)")
    handles = [Patch(color=c, label=f"{LETTERS[w]}: {SIDES[w]}") for w, c in zip(winners, colors)]
    handles += mm.get_legend_handles_labels()[0]
    wins = results.get("wins", {})
    tally = "; ".join(f"by {by}: " + ", ".join(f"{LETTERS[w]} {n}" for w, n in counts.items())
                      for by, counts in wins.items())
    fig.legend(handles=handles, loc="outside lower center", ncols=3,
               title=f"settings won {tally}; {note}" if tally else note)
    fig.suptitle(f"Captions against augmentations on the same synthetic views ({cfg['n_classes']} classes × "
                 f"{cfg['images_per_class']} sources × {cfg['views_per_image']} views, k = {cfg['n_classes']})")
    return fig


def _pooled(results: dict, side: str, metric: str, name: str):
    """x values of parameter ``name`` and, per value, the mean and min–max bar of ``side.metric`` over every
    point with that value (all seeds, every value of the other axis)."""
    values: dict[float, list[float]] = {}
    for p in results["points"]:
        x = p["params"].get(name, results["config"][name])
        values.setdefault(x, []).append(p[side][metric])
    xs = sorted(values)
    data = [np.asarray(values[x]) for x in xs]
    mean = np.array([d.mean() for d in data])
    bar = np.array([[m - d.min(), d.max() - m] for m, d in zip(mean, data)]).T
    return xs, mean, bar, f"bars: min–max over {max(len(d) for d in data)} points (seeds × other axis)"
