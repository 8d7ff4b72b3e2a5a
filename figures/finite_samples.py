"""``finite-samples``: the probe error of the empirical minimizer against the number of sampled pairs.

Reads the ``finite-samples`` experiment (`amf.experiments.empirical`): per sample size the seed summary of
``probe_error_ls`` (on the population's images, images never drawn counted as errors), ``probe_error_present``
(on the drawn images only), ``missing_mass`` (``p_V`` mass never drawn) and the empirical ``s_{k+1}``, beside the
population minimizer's error and ``s_{k+1}`` (lines). Log x; the error axis is log with zeros on a marked floor.
"""

from __future__ import annotations

from figures import style

LOOK = {"probe_error_ls": ("o", "-", "$E_{LS}$ on the population (unseen images = errors)"),
        "probe_error_present": ("s", "--", "$E_{LS}$ on the sampled images"),
        "missing_mass": ("D", "-", "$p_V$ mass of images never drawn"),
        "s_next": ("^", "-", "empirical $s_{k+1}$")}
COLORS = {"probe_error_ls": "probe_error_ls", "probe_error_present": "bound_paper_form", "missing_mass": "alpha",
          "s_next": "s_next"}


def draw(results: dict, arrays: dict):
    x, groups = style.series(results, "n_pairs")
    fig, (left, right) = style.new_figure(2, height=3.9)
    left.set_xscale("log")
    right.set_xscale("log")
    errors = ("probe_error_ls", "probe_error_present")
    values = style.extent(groups, errors)
    population = [r["metrics"].get("population.probe_error_ls") for rows in groups.values() for r in rows]
    population = [p["mean"] for p in population if p]
    floor = style.zero_floor(left, values + population)
    note = ""
    for group, rows in groups.items():
        xs = [style.x_value(results, row, x) for row in rows]
        suffix = f" ({group})" if group else ""
        for ax, metrics in ((left, errors), (right, ("missing_mass", "s_next"))):
            for metric in metrics:
                marker, ls, label = LOOK[metric]
                note = style.errorbars(ax, xs, rows, metric, floor if ax is left else None, marker=marker, ls=ls,
                                       color=style.COLORS[COLORS[metric]], label=label + suffix)
    first = next(iter(groups.values()))[0]["metrics"]
    ns = [style.x_value(results, row, x) for rows in groups.values() for row in rows]
    if min(ns) == max(ns):  # one sample size: give the log axis a width before the lines across it
        for ax in (left, right):
            ax.set_xlim(ns[0] / 3, ns[0] * 3)
    if population:
        left.axhline(style.floored([population[0]], floor)[0], color=style.OKABE_ITO["blue"], ls="-.", lw=1.2,
                     label=f"population minimizer: $E_{{LS}}$ = {population[0]:.2g}")
    if "population.s_next" in first:
        right.axhline(first["population.s_next"]["mean"], color=style.COLORS["s_next"], ls="-.", lw=1.2,
                      label=f"population $s_{{k+1}}$ = {first['population.s_next']['mean']:.2f}")
    style.finish_floor(left, floor)
    right.set_ylim(-0.03, 1.03)
    for ax in (left, right):
        ax.set_xlabel("sampled pairs n (log scale)" if x == "n_pairs" else x)
    left.set_ylabel("error rate (share of $p_V$ mass)")
    left.set_title("probe error of the empirical minimizer")
    right.set_ylabel("value (unitless, 0 to 1)")
    right.set_title("what the sample covers")
    fig.legend(*style.handles(left, right), loc="outside lower center", ncols=2,
               title=note + ("; dotted: measured 0" if floor else ""))
    cfg = results["config"]
    k = first["k"]["mean"] if "k" in first else cfg.get("k")
    fig.suptitle(f"Finite samples from a synthetic planted graph ({cfg['n_images']} × {cfg['n_texts']}, "
                 f"{cfg['n_classes']} classes, noise {cfg['noise']}, k = {k:.0f})")
    return fig
