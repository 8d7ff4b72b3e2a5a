"""``training``: how far gd, sgd and InfoNCE reach the Eckart–Young optimum of one synthetic planted graph.

Reads the ``training`` experiment (`amf.experiments.training_curves`): per point the curve arrays ``step``, ``loss_gap``
(``(L - L_min) / sum_{2<=i<=k} s_i^2`` with ``L_min = -sum_{i<=k} s_i^2``; InfoNCE's loss after the best scalar
rescaling) and ``subspace_distance`` (sine of the largest angle to ``span(U_k)``), drawn against step (seed
median, min–max band); and, when InfoNCE ran at several temperatures, its final distances (to all of
``span(U_k)``, to the class directions ``u_2..u_k``, to the constant ``u_1``) and probe error against ``tau``
(summary rows, seed spread) beside gd's and sgd's final values.
"""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.ticker import NullLocator

from figures import style


def _curves(results: dict, arrays: dict) -> dict[tuple, dict]:
    """Per (solver, tau): the seeds' curves on the shortest common length."""
    out: dict[tuple, dict] = {}
    for p in results["points"]:
        key = (p["params"].get("solver", results["config"]["solver"]), p["params"].get("tau"))
        group = out.setdefault(key, {"step": [], "loss_gap": [], "subspace_distance": []})
        for name in group:
            group[name].append(np.asarray(arrays[p["arrays"][name]], dtype=float))
    for group in out.values():
        n = min(len(a) for a in group["step"])
        for name in group:
            group[name] = np.stack([a[:n] for a in group[name]])
    return out


def _color(solver: str, tau, taus: list) -> str:
    """The solver's colour; InfoNCE's temperatures on a dark-to-light vermillion–yellow ramp (cold = dark)."""
    if solver != "infonce" or len(taus) < 2:
        return style.COLORS.get(solver, "k")
    ramp = mcolors.LinearSegmentedColormap.from_list("infonce", ["#6B2500", style.COLORS["infonce"],
                                                                 style.OKABE_ITO["orange"], style.OKABE_ITO["yellow"]])
    return mcolors.to_hex(ramp(taus.index(tau) / (len(taus) - 1)))


def _label(solver: str, tau) -> str:
    return f"{solver} (τ = {tau:g})" if tau is not None else solver


def draw(results: dict, arrays: dict):
    curves = _curves(results, arrays)
    taus = sorted({tau for (solver, tau) in curves if solver == "infonce" and tau is not None})
    fig, axes = style.new_figure(2, 2 if len(taus) > 1 else 1, height=6.4 if len(taus) > 1 else 3.6)
    seeds = len(results["seeds"])
    for metric, ax in zip(("loss_gap", "subspace_distance"), axes):
        floor = style.zero_floor(ax, [v for g in curves.values() for v in g[metric].ravel()])
        for (solver, tau), g in curves.items():
            color, step = _color(solver, tau, taus), g["step"][0]
            y = style.floored(np.median(g[metric], axis=0), floor)
            ax.plot(step, y, "o-", ms=3, color=color, label=_label(solver, tau))
            if seeds > 1:
                ax.fill_between(step, style.floored(g[metric].min(axis=0), floor),
                                style.floored(g[metric].max(axis=0), floor), color=color, alpha=0.2, lw=0)
        style.finish_floor(ax, floor)
        ax.set_xscale("log")  # gd converges in a few hundred steps, sgd and InfoNCE run thousands
        style.short_log_ticks(ax.xaxis)
        ax.set_xlabel("optimizer step (log scale)")
    axes[0].set_ylabel("$(L - L_{min})\\,/\\,\\Sigma_{2 \\leq i \\leq k}\\, s_i^2$ (relative)")
    axes[0].set_title("loss above $L_{min} = -\\Sigma_{i \\leq k}\\, s_i^2$")
    axes[1].set_ylabel("sin of largest angle to span($U_k$)")
    axes[1].set_title("subspace distance to the SVD")
    band = f"curves: median, band: min–max over {seeds} seeds" if seeds > 1 else "1 seed"
    if len(taus) > 1:
        band += "; τ panels: " + _temperature(results, axes[2:], taus) + "\n"
    if len(taus) > 1:
        axes[0].plot([], [], "--", color=style.OKABE_ITO["grey"], lw=1, label="gd / sgd final value (τ panels)")
        axes[0].plot([], [], ":", color="k", lw=1, label="exact minimizer's $E_{LS}$")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=min(len(curves), 4),
               title=band + ("" if band.endswith("\n") or not taus else "; ")
               + ("InfoNCE loss after the best scalar rescaling" if taus else ""))
    cfg = results["config"]
    k = cfg["k"] or cfg["n_classes"]
    fig.suptitle(f"Training on a synthetic planted graph ({cfg['n_images']} × {cfg['n_texts']}, "
                 f"{cfg['n_classes']} classes, noise {cfg['noise']}, k = {k})")
    return fig


def _temperature(results: dict, axes, taus: list) -> str:
    """InfoNCE's final subspace distance and probe error against tau, gd/sgd's final values as lines; returns
    the note on its error bars."""
    rows = sorted((r for r in results["summary"] if r["params"].get("solver") == "infonce"),
                  key=lambda r: r["params"]["tau"])
    others = [r for r in results["summary"] if r["params"].get("solver") != "infonce"]
    for metric, ax, name in zip(("subspace_distance", "probe_error_ls"), axes,
                                ("which part of span($U_k$) it misses", "final probe error $E_{LS}$")):
        note = style.errorbars(ax, taus, rows, metric, color=style.COLORS["infonce"], marker="", zorder=1)
        for tau, row in zip(taus, rows):
            ax.plot(tau, row["metrics"][metric]["mean"], "o", ms=7, color=_color("infonce", tau, taus), zorder=2)
        for r in others:
            solver = r["params"].get("solver")
            ax.axhline(r["metrics"][metric]["mean"], color=style.COLORS.get(solver, "k"), ls="--", lw=1)
        if metric == "subspace_distance":
            _missing_directions(ax, taus, rows)
        if metric == "probe_error_ls" and "probe_error_optimal" in rows[0]["metrics"]:
            ax.axhline(rows[0]["metrics"]["probe_error_optimal"]["mean"], color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xticks(taus, [f"{t:g}" for t in taus], minor=False)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("InfoNCE temperature τ (log scale)")
        ax.set_title(f"InfoNCE: {name}")
    axes[0].set_ylabel("sin of largest angle (0–1)")
    axes[1].set_ylabel("error rate (share of $p_V$ mass)")
    return note


def _missing_directions(ax, taus: list, rows: list[dict]) -> None:
    """Beside the largest angle to all of ``span(U_k)``: the distance of the class directions ``u_2..u_k`` and of
    the constant ``u_1`` from the encoder's column space (results made before these metrics existed lack them)."""
    handles = [ax.plot([], [], "o-", color=style.COLORS["infonce"], label="all of span($U_k$)")[0]]
    for metric, marker, color, label in (
            ("informative_distance", "s", style.OKABE_ITO["purple"], "class directions $u_2..u_k$"),
            ("constant_distance", "^", style.OKABE_ITO["black"], "constant $u_1 = \\sqrt{p_V}$")):
        if metric in rows[0]["metrics"]:
            style.errorbars(ax, taus, rows, metric, color=color, marker=marker, ls="-.", lw=1.2, zorder=1)
            handles.append(ax.plot([], [], marker=marker, ls="-.", color=color, label=label)[0])
    if len(handles) > 1:
        ax.legend(handles=handles, loc="center left", fontsize=8)
