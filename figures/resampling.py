"""``resampling``: the paper's four CLIP-guided edits of SSCL on the synthetic simulator, beside the paper's own
ImageNet-100 numbers, on separate axes (our probe ERROR change, the paper's ACCURACY change: opposite signs mean
the same direction).

Reads the ``resampling`` experiment (`amf.experiments.resampling`): ``comparison_with_paper`` (per setting and
method: ``paper_delta``, ``agrees``) and every point's per-seed ``delta`` (method minus SSCL, percentage
points). Left: our mean change per method and setting with its seed spread (bar, whisker, one dot per seed
beside it); right: the paper's change; the right margin marks whether the two point the same way.
"""

from __future__ import annotations

import numpy as np

from figures import style

NAMES = {"add_new_positive": "AddNewPositive", "drop_false_positive": "DropFalsePositive",
         "drop_false_negative": "DropFalseNegative", "drop_easy_negative": "DropEasyNegative"}
HATCHES = ("", "//", "..", "xx")


def _settings(results: dict) -> list[tuple[str, dict, list[dict]]]:
    """(label, params, points) per setting, in the order of ``comparison_with_paper``."""
    names = style.swept(results)
    out = []
    for entry in results["comparison_with_paper"]:
        if any(entry["params"] == params for _, params, _ in out):
            continue
        label = ", ".join(f"k = {entry['k']}" if n == "k" else f"{n} = {entry['params'][n]}" for n in names)
        out.append((label, entry["params"], [p for p in results["points"] if p["params"] == entry["params"]]))
    return out


def draw(results: dict, arrays: dict):
    comparison = results["comparison_with_paper"]
    methods = [m for m in NAMES if any(e["method"] == m for e in comparison)]
    settings = _settings(results)
    fig, (ours, paper) = style.new_figure(2, height=1.6 + 0.5 * len(methods) * len(settings) ** 0.5,
                                          sharey=True, width_ratios=[1.5, 1])
    height = 0.8 / len(settings)
    note = ""
    for j, (label, params, points) in enumerate(settings):
        entries = {e["method"]: e for e in comparison if e["params"] == params}
        for i, method in enumerate(methods):
            y = i + (j - (len(settings) - 1) / 2) * height
            seeds = np.array([p["delta"][method] for p in points])
            mean = seeds.mean()
            if len(seeds) > 3:
                err, note = [[seeds.std()], [seeds.std()]], f"whiskers: ± std over {len(seeds)} seeds"
            else:
                err = [[mean - seeds.min()], [seeds.max() - mean]]
                note = f"whiskers: min–max over {len(seeds)} seeds" if len(seeds) > 1 else "1 seed, no spread"
            ours.barh(y, mean, height * 0.9, color=style.COLORS[method], alpha=0.85, hatch=HATCHES[j % 4],
                      edgecolor="white", label=label if i == 0 else None)
            ours.errorbar(mean, y, xerr=err, color="k", lw=1, capsize=3)
            ours.plot(seeds, np.full(len(seeds), y + height * 0.38), "o", color="k", ms=3)
            end = max(mean + err[1][0], seeds.max()) if mean >= 0 else min(mean - err[0][0], seeds.min())
            ours.text(end, y, f" {mean:+.1f} " if mean >= 0 else f" {mean:+.1f} ", va="center", fontsize=9,
                      ha="left" if mean >= 0 else "right")
            agrees = entries[method]["agrees"]
            paper.text(1.03, y, "✓ agrees" if agrees else "✗ disagrees", transform=paper.get_yaxis_transform(),
                       va="center", fontsize=9, color=style.OKABE_ITO["green" if agrees else "vermillion"])
    deltas = {e["method"]: e["paper_delta"] for e in comparison}
    for i, method in enumerate(methods):
        paper.barh(i, deltas[method], 0.6, color=style.COLORS[method], alpha=0.85)
        paper.text(deltas[method], i, f" {deltas[method]:+.1f}", va="center", fontsize=9)
    paper.set_xlim(min(0, *deltas.values()) - 0.5, max(deltas.values()) * 1.3 + 0.5)
    ours.margins(x=0.18)
    for ax in (ours, paper):
        ax.axvline(0, color="k", lw=0.8)
        ax.grid(axis="y", visible=False)
    ours.set_yticks(range(len(methods)), [NAMES[m] for m in methods])
    ours.invert_yaxis()
    ours.set_xlabel("our probe-error change vs SSCL\n(percentage points; < 0 = better)")
    paper.set_xlabel("paper's accuracy change vs SimCLR\n(percentage points; > 0 = better)")
    ours.set_title("synthetic simulator (ours)")
    paper.set_title("paper: ImageNet-100, ResNet-18")
    handles, labels = ours.get_legend_handles_labels()
    title = note + ("; dots: one per seed" if len(settings[0][2]) > 1 else "")
    if len(settings) > 1:
        fig.legend(handles, labels, loc="outside lower center", ncols=len(settings), title=title)
    else:
        ours.set_title(f"synthetic simulator (ours)\n{title}", fontsize=9)
    cfg = results["config"]
    fig.suptitle(f"CLIP-guided resampling on a SYNTHETIC simulator ({cfg['n_classes']} classes × "
                 f"{cfg['images_per_class']} sources × {cfg['views_per_image']} views),\nbeside the paper's "
                 "ImageNet numbers (not reproduced here)")
    return fig
