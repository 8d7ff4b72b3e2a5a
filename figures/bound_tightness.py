"""``bound-tightness``: the measured probe error ``E_LS`` against the proved bound ``2 phi / (1 - s_{k+1}^2)`` and
the paper's form, over the rank ``k`` and the class noise; where the bound is vacuous (>= 1) it is shaded.

Reads the ``bound-tightness`` experiment (`amf.experiments.bound_tightness`): the seed summary of
``probe_error_ls``, ``bound_rigorous_phi`` and ``bound_paper_form`` per setting, one panel per noise (or per
setting of whatever else was swept), ``k`` on the x axis (or the one swept parameter), ``k = r`` marked. Log
scale; zeros on a marked floor labelled 0.
"""

from __future__ import annotations

import math

from matplotlib.ticker import MaxNLocator

from figures import style

METRICS = ("probe_error_ls", "bound_rigorous_phi", "bound_paper_form")


def draw(results: dict, arrays: dict):
    x, groups = style.series(results, "k")
    ncols = min(len(groups), 3)
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = style.new_figure(ncols, nrows, height=2.9 * nrows + 1.2, sharex=True, sharey=True)
    values = style.extent(groups, METRICS)
    cfg = results["config"]
    note, floor = "", None
    for ax, (group, rows) in zip(axes, groups.items()):
        floor = style.zero_floor(ax, values)
        xs = [style.x_value(results, row, x) for row in rows]
        for metric, marker in zip(METRICS, "osD"):
            note = style.errorbars(ax, xs, rows, metric, floor, color=style.COLORS[metric], marker=marker,
                                   ls="--" if metric == "bound_paper_form" else "-", label=style.LABELS[metric])
        undefined = [xv for xv, row in zip(xs, rows) if "bound_rigorous_phi" not in row["metrics"]]
        if undefined:  # no gap (s_{k+1} = 1): the bound is undefined, not small
            ax.plot(undefined, [0.97] * len(undefined), "x", ms=8, mew=2, color=style.COLORS["bound_rigorous_phi"],
                    transform=ax.get_xaxis_transform(), label="bound undefined: no gap ($s_{k+1} = 1$)")
        if x == "k":
            ax.axvline(cfg["n_classes"], color=style.OKABE_ITO["grey"], ls="--", lw=0.8,
                       label=f"k = r = {cfg['n_classes']} classes")
        fixed = ", ".join(f"{n} = {cfg[n]}" for n in ("noise", "k") if n != x and not isinstance(cfg[n], list))
        ax.set_title((group or fixed).replace("noise =", "class noise ="))
        if x == "k" and len(xs) <= 6:
            ax.set_xticks(xs)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(6, integer=x == "k", steps=[1, 2, 5, 10]))
    for ax in axes[:len(groups)]:
        style.shade_vacuous(ax)
    for ax in axes[:len(groups)]:
        style.finish_floor(ax, floor)
    for ax in axes[len(groups):]:
        ax.set_axis_off()
    for ax in axes[(nrows - 1) * ncols:] + axes[len(groups) - ncols:len(groups)]:
        ax.set_xlabel({"k": "rank k", "noise": "class noise (probability)"}.get(x, x))
        ax.tick_params(labelbottom=True)
    for ax in axes[::ncols]:
        ax.set_ylabel("error rate (share of $p_V$)")
    spare = axes[len(groups)] if len(groups) < len(axes) else None
    legend = (spare or fig).legend(*style.handles(*axes),
                                   **({"loc": "center"} if spare else {"loc": "outside lower center", "ncols": 3}),
                                   title=note + ("\ndotted line: measured 0" if floor else ""))
    legend.get_title().set_multialignment("center")
    held = results.get("bound_held")
    fig.suptitle(f"Where the proved bound is tight, loose or vacuous — synthetic planted graphs\n"
                 f"{cfg['n_images']} images × {cfg['n_texts']} texts, {cfg['n_classes']} classes"
                 + ("" if held is None else f"; $E_{{LS}}$ ≤ proved bound at every point: {'yes' if held else 'NO'}"))
    return fig
