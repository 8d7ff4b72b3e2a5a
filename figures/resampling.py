"""``resampling``: the paper's four CLIP-guided edits on the synthetic simulator, per objective (NT-Xent per batch as
the released code computes it; the spectral surrogate), beside the paper's own ImageNet-100 numbers, on separate
axes (our probe ERROR change, the paper's ACCURACY change: opposite signs mean the same direction).

Reads the ``resampling`` experiment (`amf.experiments.resampling`): ``comparison_with_paper`` (per setting and
method: ``paper_delta``, the seeds' 95% ``interval`` and ``agrees`` in true / false / ``"undetermined"``) and every
point's per-seed ``delta`` (method minus baseline, percentage points). Left: our mean change per method and setting
with its 95% interval (whisker) and one dot per seed; right: the paper's single run (no spread); the right margin
gives each setting's verdict.
"""

from __future__ import annotations

import numpy as np

from figures import style

NAMES = {"add_new_positive": "AddNewPositive", "drop_false_positive": "DropFalsePositive\n(as intended)",
         "drop_false_positive_released": "DropFalsePositive\n(as released = NT-Xent)",
         "drop_false_negative": "DropFalseNegative", "drop_easy_negative": "DropEasyNegative"}
OBJECTIVES = {"ntxent": "NT-Xent, per batch", "spectral": "spectral surrogate"}
HATCHES = ("", "//", "..", "xx")
VERDICTS = {True: ("✓ agrees", "green"), False: ("✗ disagrees", "vermillion"),
            "undetermined": ("? undetermined", "grey")}


def _settings(results: dict) -> list[tuple[str, dict, list[dict]]]:
    """(label, params, points) per setting, in the order of ``comparison_with_paper``."""
    names = [n for n in style.swept(results) if n != "objective"]
    out = []
    for entry in results["comparison_with_paper"]:
        if any(entry["params"] == params for _, params, _ in out):
            continue
        parts = [OBJECTIVES.get(entry.get("objective"), str(entry.get("objective")))]
        parts += [f"k = {entry['k']}" if n == "k" else f"{n} = {entry['params'][n]}" for n in names]
        out.append((", ".join(parts), entry["params"],
                    [p for p in results["points"] if p["params"] == entry["params"]]))
    return out


def _color(method: str) -> str:
    return style.COLORS.get(method, style.COLORS["drop_false_positive"])


def draw(results: dict, arrays: dict):
    comparison = results["comparison_with_paper"]
    methods = [m for m in NAMES if any(e["method"] == m for e in comparison)]
    settings = _settings(results)
    fig, (ours, paper) = style.new_figure(2, height=1.8 + 0.55 * len(methods) * len(settings) ** 0.5,
                                          sharey=True, width_ratios=[1.5, 1])
    height = 0.8 / len(settings)
    seeds_seen = set()
    for j, (label, params, points) in enumerate(settings):
        entries = {e["method"]: e for e in comparison if e["params"] == params}
        for i, method in enumerate(methods):
            if method not in entries:
                continue
            entry = entries[method]
            y = i + (j - (len(settings) - 1) / 2) * height
            seeds = np.array([p["delta"][method] for p in points])
            seeds_seen.add(len(seeds))
            mean = float(seeds.mean())
            ours.barh(y, mean, height * 0.9, color=_color(method), alpha=0.85, hatch=HATCHES[j % 4],
                      edgecolor="white", label=label if i == 0 else None)
            if entry.get("interval"):
                low, high = entry["interval"]
                ours.errorbar(mean, y, xerr=[[mean - low], [high - mean]], color="k", lw=1, capsize=3)
            ours.plot(seeds, np.full(len(seeds), y + height * 0.38), "o", color="k", ms=3)
            end = max([mean, *seeds, *(entry.get("interval") or [])]) if mean >= 0 else \
                min([mean, *seeds, *(entry.get("interval") or [])])
            ours.text(end, y, f" {mean:+.1f} ", va="center", fontsize=9, ha="left" if mean >= 0 else "right")
            text, color = VERDICTS[entry["agrees"]]
            paper.text(1.03, y, text, transform=paper.get_yaxis_transform(), va="center", fontsize=9,
                       color=style.OKABE_ITO.get(color, "0.4"))
    deltas = {e["method"]: e["paper_delta"] for e in comparison}
    for i, method in enumerate(methods):
        paper.barh(i, deltas[method], 0.6, color=_color(method), alpha=0.85)
        paper.text(deltas[method], i, f" {deltas[method]:+.1f}", va="center", fontsize=9)
    paper.set_xlim(min(0, *deltas.values()) - 0.5, max(deltas.values()) * 1.3 + 0.5)
    ours.margins(x=0.18)
    for ax in (ours, paper):
        ax.axvline(0, color="k", lw=0.8)
        ax.grid(axis="y", visible=False)
    ours.set_yticks(range(len(methods)), [NAMES[m] for m in methods])
    ours.invert_yaxis()
    ours.set_xlabel("our probe-error change vs baseline\n(points; < 0 = better)")
    paper.set_xlabel("paper's accuracy change vs SimCLR\n(points; > 0 = better)")
    paper.set_title("paper: ImageNet-100, ResNet-18\n(one run each, no spread)", fontsize=10)
    handles, labels = ours.get_legend_handles_labels()
    n_seeds = "/".join(str(n) for n in sorted(seeds_seen))
    title = (f"whiskers: 95% interval of the mean over {n_seeds} seeds; dots: one per seed\n"
             "a verdict needs ≥ 5 seeds and an interval that excludes 0, else undetermined")
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(settings), 3), title=title,
               title_fontsize=8)
    ours.set_title("synthetic simulator (ours)")
    cfg = results["config"]
    fig.suptitle(f"CLIP-guided resampling on a SYNTHETIC simulator ({cfg['n_classes']} classes × "
                 f"{cfg['images_per_class']} sources × {cfg['views_per_image']} views),\nbeside the paper's "
                 "ImageNet numbers (not reproduced here)")
    return fig
