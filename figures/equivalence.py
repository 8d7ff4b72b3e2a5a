"""``equivalence``: T3 on many random graphs, the MMCL image subspace against the SSCL optimum of the text-induced
graph.

Reads the ``equivalence`` experiment (`amf.experiments.equivalence`): per point (graph, seed) the
``subspace_distance`` between the two top-``k`` subspaces against the ``relative_gap``
``(s_k^2 - s_{k+1}^2) / s_k^2``, coloured by ``status``. Ill-determined points (Davis–Kahan,
`amf.checks.determination`) have no determined subspace (grey crosses, their distance means nothing); determined
points must lie under the round-off tolerance ``EPS / relative gap`` (dashed). Right: the distribution of the
distances per status. Zeros sit on marked floors.
"""

from __future__ import annotations

import numpy as np

from amf.experiments.equivalence import EPS
from figures import style

STATUS = {"agrees": ("o", style.OKABE_ITO["blue"]), "ill-determined": ("x", style.OKABE_ITO["grey"]),
          "disagrees": ("^", style.OKABE_ITO["vermillion"])}


def draw(results: dict, arrays: dict):
    points = results["points"]
    fig, (ax, hist) = style.new_figure(2, height=4.2, width_ratios=[3, 1], sharey=True)
    gap = np.array([p["relative_gap"] for p in points])
    distance = np.array([p["subspace_distance"] for p in points])
    x_floor = style.zero_floor(ax, gap, axis="x")
    y_floor = style.zero_floor(ax, [*distance, EPS])  # log down to the tolerance, whatever the distances
    x, y = style.floored(gap, x_floor), style.floored(distance, y_floor)
    bins = 10.0 ** np.arange(np.floor(np.log10(np.nanmin(y))), np.log10(np.nanmax(y)) + 0.75, 0.5)  # half decades
    for status, (marker, color) in STATUS.items():
        mine = np.array([p["status"] == status for p in points])
        if not mine.any():
            continue
        label = f"{status} ({mine.sum()} of {len(points)})"
        ax.scatter(x[mine], y[mine], marker=marker, color=color, s=22, lw=1.2,
                   facecolors="none" if marker == "o" else color, label=label)
        hist.hist(y[mine], bins=bins, orientation="horizontal", color=color, alpha=0.6, label=status)
    left = np.nanmin(x) / 2
    line = np.logspace(np.log10(left), np.log10(max(np.nanmax(x), 1.0)), 50)
    ax.plot(line, EPS / np.maximum(line, EPS), "--", color="k", lw=1, label=f"round-off tolerance {EPS:g} / gap")
    ax.set_xlim(left, max(np.nanmax(x) * 3, 3.0))
    style.finish_floor(ax, x_floor, axis="x")
    style.finish_floor(ax, y_floor)
    ax.set_xlabel("relative gap $(s_k^2 - s_{k+1}^2) / s_k^2$ (unitless, log)")
    ax.set_ylabel("subspace distance (sin of largest angle)")
    ax.set_title("each point: one random graph and seed")
    hist.set_xlabel("points (count)")
    hist.set_title("distribution")
    hist.tick_params(labelleft=False)
    counts = results.get("equivalence", {}).get("max_eigenvalue_error")
    extra = f"; max $|\\lambda_i - s_i^2|$ over all graphs = {counts:.0e}" if counts is not None else ""
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               title=("dotted lines: measured 0" if x_floor or y_floor else "") + extra)
    cfg = results["config"]
    swept = [f"{n} ∈ {sorted({p['params'][n] for p in points})}" for n in style.swept(results)]
    fixed = [f"{n} = {cfg[n]}" for n in ("n_images", "density", "noise", "k") if not isinstance(cfg.get(n), list)]
    fig.suptitle("T3 on synthetic planted graphs: MMCL optimum vs SSCL on the text-induced graph\n"
                 + ", ".join(swept + fixed + [f"{len(results['seeds'])} seeds"]))
    return fig
