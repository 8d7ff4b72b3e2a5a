"""``consistency``: caption label noise against the graph's label disagreements and the probe error it allows.

Reads the ``consistency`` experiment (`amf.experiments.captions`): per setting the seed summary of ``alpha``,
``phi`` and the ``spectral_gap`` (left, with the population closed forms dashed where the points were sampled) and
of the measured ``E_LS`` beside the proved bound ``2 phi / spectral_gap`` and the paper's form (right, log scale,
zeros on a marked floor, the vacuous region shaded). The x axis is the swept ``noise`` (or whatever the run swept).
`sweep_figure` is shared with ``diversity``.
"""

from __future__ import annotations

from matplotlib.ticker import MaxNLocator

from figures import style

AXIS_LABELS = {"noise": "caption noise ε (edge weight, unitless)",
               "diversity": "caption diversity d (edge weight, unitless)"}
MARKERS = "osD^v<>"


def sweep_figure(results: dict, x: str, left: tuple[str, ...], right: tuple[str, ...], title: str):
    """Two panels against the swept ``x``: ``left`` metrics on [0, 1], ``right`` on a log axis with the
    vacuous region; one marker per group of the other swept parameters."""
    x, groups = style.series(results, x)
    fig, (ax_l, ax_r) = style.new_figure(2, height=3.9)
    values = style.extent(groups, right)
    floor = style.zero_floor(ax_r, values)
    note = ""
    for (group, rows), marker in zip(groups.items(), MARKERS * 9):
        xs = [style.x_value(results, row, x) for row in rows]
        first = marker == MARKERS[0]
        for metric in left:
            color = style.COLORS[metric]
            note = style.errorbars(ax_l, xs, rows, metric, color=color, marker=marker,
                                   label=style.LABELS[metric] if first else None)
            population, _, _ = style.seed_stats(rows, f"population.{metric}")
            if results["config"].get("n_pairs") and (population == population).any():
                ax_l.plot(xs, population, ls="--", lw=1, color=color)
        for metric in right:
            style.errorbars(ax_r, xs, rows, metric, floor, color=style.COLORS[metric], marker=marker,
                            ls="--" if metric == "bound_paper_form" else "-",
                            label=style.LABELS[metric] if first else None)
        if len(groups) > 1:
            ax_l.plot([], [], marker, color="k", label=group)
    style.shade_vacuous(ax_r)
    ax_l.set_ylim(-0.03, 1.03)
    ax_l.set_ylabel("value (unitless, 0 to 1)")
    ax_l.set_title("label disagreement and spectrum")
    style.finish_floor(ax_r, floor)
    ax_r.set_ylabel("error rate (share of $p_V$ mass)")
    ax_r.set_title("measured error against the bounds")
    for ax in (ax_l, ax_r):
        ax.set_xlabel(AXIS_LABELS.get(x, x))
        ax.xaxis.set_major_locator(MaxNLocator(6, steps=[1, 2, 5, 10]))
    notes = [note, "dashed: population closed form" if results["config"].get("n_pairs") else "",
             "dotted line: measured 0" if floor else ""]
    fig.legend(*style.handles(ax_l, ax_r), loc="outside lower center", ncols=3,
               title="; ".join(n for n in notes if n))
    cfg = results["config"]
    sample = f"{cfg['n_pairs']} sampled pairs" if cfg.get("n_pairs") else "population graph"
    k = style.seed_stats(next(iter(groups.values()))[:1], "k")[0][0]
    fig.suptitle(f"{title}\nsynthetic caption graphs: {cfg['n_classes']} classes × {cfg['styles_per_class']} "
                 f"styles, {sample}, k = {k:.0f}")
    return fig


def draw(results: dict, arrays: dict):
    return sweep_figure(results, "noise", ("alpha", "phi", "spectral_gap"),
                        ("probe_error_ls", "bound_rigorous_phi", "bound_paper_form"),
                        "Noisier captions: larger α and φ, looser bound")
