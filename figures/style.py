"""The shared look of every figure: a headless backend, the Okabe–Ito palette with one colour per quantity, method
and graph, readable fonts at the README's width (8 in at 100 dpi = 800 px), log axes that show zeros, seed error
bars read from a run's ``summary``, and an atomic save to PNG / PDF / SVG.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from amf.io import atomic_write  # noqa: E402

OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
             "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#7F7F7F"}
"""Okabe & Ito's colour-blind-safe palette (grey added for references)."""
_C = OKABE_ITO
COLORS = {
    # quantities of the theory
    "probe_error_ls": _C["black"], "bound_rigorous_phi": _C["blue"], "bound_rigorous_alpha": _C["sky"],
    "bound_paper_form": _C["grey"], "alpha": _C["orange"], "phi": _C["vermillion"], "s_next": _C["purple"],
    "gap": _C["green"], "spectral_gap": _C["green"],
    # graphs and learners
    "mmcl": _C["blue"], "sscl": _C["orange"], "block": _C["green"], "noisy": _C["purple"],
    "gd": _C["blue"], "sgd": _C["green"], "infonce": _C["vermillion"],
    # CLIP-guided edits
    "add_new_positive": _C["blue"], "drop_false_positive": _C["green"], "drop_false_negative": _C["orange"],
    "drop_easy_negative": _C["purple"],
    # spectral solvers
    "amf-f64": _C["blue"], "amf-f32": _C["sky"], "arpack": _C["vermillion"], "arpack-tol": _C["orange"],
    "propack": _C["green"], "sklearn": _C["purple"],
}
LABELS = {"probe_error_ls": "$E_{LS}$ (measured)", "bound_rigorous_phi": r"$2\varphi/(1-s_{k+1}^2)$ [proved]",
          "bound_paper_form": r"paper form $4\alpha/(1-s_{k+1}^2)+8\alpha$", "alpha": r"$\alpha$",
          "phi": r"$\varphi$", "s_next": "$s_{k+1}$", "gap": "gap $1-s_{k+1}^2$",
          "spectral_gap": "spectral_gap $1-s_{k+1}^2$"}
VACUOUS = {"color": _C["grey"], "alpha": 0.15, "lw": 0}
"""The look of the region where a bound is vacuous (>= 1)."""

plt.rcParams.update({
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
    "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11, "axes.grid": True,
    "grid.alpha": 0.3, "grid.linewidth": 0.6, "axes.spines.top": False, "axes.spines.right": False,
    "lines.markersize": 5, "lines.linewidth": 1.6, "errorbar.capsize": 3, "legend.frameon": False,
    "axes.formatter.useoffset": False, "pdf.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=list(_C.values())),
})


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 8.0, height: float = 3.6, **kwargs):
    """A constrained-layout figure ``width`` x ``height`` inches and its axes as a flat list."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", squeeze=False, **kwargs)
    return fig, list(axes.flat)


def zero_floor(ax, values, axis: str = "y") -> float | None:
    """Put ``ax``'s ``axis`` on a log scale that shows zeros (left linear when ``values`` are positive and span
    under a decade): returns the floor (a decade below the smallest positive of ``values``, None when none is
    zero) at which a caller draws its zeros; the floor's tick reads "0", no tick lies below it and a dotted line
    marks it."""
    values = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    positive = values[values > 0]
    if positive.size and positive.max() < 10 * positive.min() and not (values <= 0).any():
        return None  # under a decade: a linear axis reads better
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    if not (values <= 0).any():
        return None
    return 10.0 ** (np.floor(np.log10(positive.min())) - 1) if positive.size else 1e-3


def finish_floor(ax, floor: float | None, axis: str = "y") -> None:
    """After plotting: a dotted line at ``floor``, ticks at the decades above it, the floor's labelled "0" (call
    last)."""
    if floor is None:
        return
    (ax.axhline if axis == "y" else ax.axvline)(floor, color=_C["grey"], ls=":", lw=1)
    get, set_lim = (ax.get_ylim, ax.set_ylim) if axis == "y" else (ax.get_xlim, ax.set_xlim)
    top = max(get()[1], floor * 10)
    set_lim(floor / 1.6, top)
    decades = [t for t in LogLocator(numticks=8).tick_values(floor, top) if floor * 3 < t <= top * 1.0001]
    minor = [t for t in LogLocator(subs=np.arange(2, 10)).tick_values(floor, top) if floor < t < top]
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(FixedLocator([floor, *decades]))
    target.set_minor_locator(FixedLocator(minor))
    target.set_minor_formatter(NullFormatter())
    labels = ["0", *(f"$10^{{{int(round(np.log10(t)))}}}$" for t in decades)]
    (ax.set_yticklabels if axis == "y" else ax.set_xticklabels)(labels)


def floored(values, floor: float | None) -> np.ndarray:
    """``values`` with zeros (and negatives) at ``floor``, None as nan."""
    out = np.array([np.nan if v is None else v for v in values], dtype=float)
    if floor is not None:
        out[out <= 0] = floor
    return out


def shade_vacuous(ax, label: str = "bound vacuous (≥ 1)", top: float = 3.0) -> None:
    """Shade the region above 1 of a log y axis up to the data's top (at least ``top``), after plotting: an
    error rate never exceeds 1, a bound there says nothing."""
    top = max(ax.get_ylim()[1], top)
    ax.axhspan(1.0, top, **VACUOUS, label=label)
    ax.axhline(1.0, color=_C["grey"], lw=0.8)
    ax.set_ylim(top=top)


# ---- a run's settings and seed spread --------------------------------------------------------------------------


def swept(results: dict) -> list[str]:
    """The names of the parameters that take more than one value across ``results["points"]``."""
    names = dict.fromkeys(n for p in results["points"] for n in p["params"])
    return [n for n in names if len({json.dumps(p["params"].get(n)) for p in results["points"]}) > 1]


def series(results: dict, x: str) -> tuple[str, dict[str, list[dict]]]:
    """The x parameter (``x`` when swept, else the first swept one, else ``x`` at its config value) and the
    ``summary`` rows grouped by every other swept parameter (label ``"name = value, ..."``), sorted by x."""
    names = swept(results)
    x = x if x in names or not names else names[0]
    groups: dict[str, list[dict]] = {}
    for row in results["summary"]:
        groups.setdefault(", ".join(f"{n} = {row['params'].get(n)}" for n in names if n != x), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda row: x_value(results, row, x))
    return x, groups


def x_value(results: dict, row: dict, x: str):
    """The value of parameter ``x`` at a summary row (its config value where it is not swept)."""
    value = row["params"].get(x, results["config"].get(x))
    return value if not isinstance(value, list) else value[0]


def seed_stats(rows: list[dict], metric: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Per summary row, the seed mean of ``metric`` (nan where absent) and its error bar ``(2, n)``: min–max
    over the seeds when at most 3, else ± std; with the legend's note of which."""
    stats = [row["metrics"].get(metric) for row in rows]
    mean = np.array([s["mean"] if s else np.nan for s in stats])
    n = max((s["n"] for s in stats if s), default=0)
    if n <= 3:
        bar = np.array([[s["mean"] - s["min"], s["max"] - s["mean"]] if s else [0, 0] for s in stats]).T
        note = "1 seed" if n <= 1 else f"bars: min–max over {n} seeds"
    else:
        bar = np.array([[s["std"], s["std"]] if s else [0, 0] for s in stats]).T
        note = f"bars: ± std over {n} seeds"
    return mean, bar.reshape(2, len(rows)), note


def extent(groups: dict[str, list[dict]], metrics) -> list[float]:
    """Every seed mean and lower whisker end `errorbars` draws for these summary rows and metrics (what a log
    axis must show: `zero_floor` takes them)."""
    out = []
    for rows in groups.values():
        for metric in metrics:
            mean, bar, _ = seed_stats(rows, metric)
            out += [*mean, *(mean - bar[0])]
    return [v for v in out if np.isfinite(v)]


def errorbars(ax, x, rows: list[dict], metric: str, floor: float | None = None, **style) -> str:
    """Plot the seed mean of ``metric`` against ``x`` with its seed error bar (zeros at ``floor``); returns
    the note of `seed_stats`."""
    mean, bar, note = seed_stats(rows, metric)
    y = floored(mean, floor)
    low = np.where(np.isfinite(mean), mean - bar[0], np.nan)
    low = floored(low, floor) if floor is not None else low
    ax.errorbar(x, y, yerr=[np.clip(y - low, 0, None), np.clip(bar[1], 0, None)], **style)  # clip round-off
    return note


def short_log_ticks(axis) -> None:
    """Label a log ``axis`` short (``20k``, ``1M``, ``0.05``): decades only over 3 decades or more, 1-2-5 over
    one or more, every tick below that."""

    def label(value: float, _pos=None) -> str:
        low, high = sorted(axis.get_view_interval())
        span = math.log10(high / low) if low > 0 else 9
        exponent = math.floor(math.log10(value) + 1e-9) if value > 0 else 0
        mantissa = round(value / 10**exponent, 6)
        keep = (1,) if span >= 3 else (1, 2, 5) if span >= 1 else range(1, 10)
        if value <= 0 or mantissa not in keep:
            return ""
        for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if value >= scale:
                return f"{value / scale:g}{suffix}"
        return f"{value:g}"

    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(FuncFormatter(label))


def handles(*axes) -> tuple[list, list[str]]:
    """Every labelled artist of the panels, once per label (the first one drawn): the arguments of a shared
    ``fig.legend``."""
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    return list(seen.values()), list(seen)


def save(fig, stem: str | Path, formats=("png", "pdf"), dpi: int = 100) -> list[Path]:
    """Write ``stem.<fmt>`` for each format atomically, close the figure; returns the paths."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        with atomic_write(path, suffix=f".{fmt}") as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        paths.append(path)
    plt.close(fig)
    return paths
