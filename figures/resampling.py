"""docs/theory.md section 5 on the synthetic simulator: probe error of SSCL and the four CLIP-guided edits, with the
consistency (phi) and diversity (gap) of each edited positive graph (from `amf.experiments.resampling`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._plot import new_figure, save

LABELS = {"baseline": "SSCL\n(baseline)", "add_new_positive": "AddNew\nPositive",
          "drop_false_positive": "DropFalse\nPositive", "drop_false_negative": "DropFalse\nNegative",
          "drop_easy_negative": "DropEasy\nNegative"}


def plot(result: dict, path: str | Path) -> None:
    summary = result["summary"]
    methods = [m for m in LABELS if any(s["method"] == m for s in summary)]
    ks = result["k"]
    sensitivity = result.get("sensitivity") or []
    fig, axes = new_figure(3 if sensitivity else 2, width_ratios=[3, 2, 2] if sensitivity else [3, 2])
    left, right = axes[0], axes[1]
    x = np.arange(len(methods))
    width = 0.8 / len(ks)
    for i, k in enumerate(ks):
        rows = {s["method"]: s for s in summary if s["k"] == k}
        means = [rows[m]["probe_error_mean"] for m in methods]
        spread = [rows[m]["probe_error_std"] for m in methods]
        offset = x + (i - (len(ks) - 1) / 2) * width
        bars = left.bar(offset, means, width, yerr=spread, capsize=3, label=f"k = {k}", alpha=0.85)
        for j, m in enumerate(methods):  # one dot per seed
            seeds = [r["probe_error"] for r in result["rows"] if r["method"] == m and r["k"] == k]
            left.plot([offset[j]] * len(seeds), seeds, "k.", ms=3)
        for bar, value, sd in zip(bars, means, spread):
            left.text(bar.get_x() + bar.get_width() / 2, value + sd + 0.005, f"{value:.2f}", ha="center",
                      va="bottom", fontsize=7)
    k0 = ks[0]
    rows0 = {s["method"]: s for s in summary if s["k"] == k0}
    for j, m in enumerate(methods):
        left.text(x[j], -0.02, f"φ={rows0[m]['phi_mean']:.3f}\ngap={rows0[m]['gap_mean']:.3f}", ha="center",
                  va="top", fontsize=7, transform=left.get_xaxis_transform())
    left.set_xticks(x, [LABELS[m] for m in methods], fontsize=8)
    left.tick_params(axis="x", pad=24)
    left.set_ylabel("least-squares probe error (ours; lower is better)")
    n_views, seeds = result["n_views"], len(result["seeds"])
    left.set_title(f"synthetic simulator ({n_views} views, {seeds} seeds; mean ± sd, dots = seeds)", fontsize=9)
    left.legend(fontsize=8)

    phi = [rows0[m]["phi_mean"] for m in methods]
    gap = [rows0[m]["gap_mean"] for m in methods]
    right.bar(x - 0.2, phi, 0.4, label="φ (inconsistency, lower = better)", color="tab:red", alpha=0.8)
    right.bar(x + 0.2, gap, 0.4, label=f"gap 1 - λ$_{{{k0 + 1}}}$(Ā) (diversity)", color="tab:green", alpha=0.8)
    right.set_xticks(x, [LABELS[m] for m in methods], fontsize=7)
    right.set_title(f"edited positive graph A (k = {k0})", fontsize=9)
    right.set_ylim(0, 1.45 * max(phi + gap))
    right.text(0.98, 0.97, "negative edits\nkeep A = A_S", transform=right.transAxes, ha="right", va="top",
               fontsize=7, color="gray")
    right.legend(fontsize=7, loc="upper left")

    if sensitivity:
        ax = axes[2]
        for m in methods:
            points = [r for r in sensitivity if r["method"] == m]
            if not points:
                continue
            grid = sorted({r["parameter"] for r in points})
            errors = [np.mean([r["probe_error"] for r in points if r["parameter"] == g]) for g in grid]
            ax.plot(grid, errors, "o-", label=LABELS[m].replace("\n", ""))
        k_s = sensitivity[0]["k"]
        seeds_s = {r["seed"] for r in sensitivity}
        base = [r["probe_error"] for r in result["rows"]
                if r["method"] == "baseline" and r["k"] == k_s and r["seed"] in seeds_s]
        if base:
            ax.axhline(np.mean(base), color="gray", ls="--", lw=1, label="SSCL baseline")
        ax.set_xlabel("edit parameter (weight β or dropped fraction)")
        ax.set_ylabel("probe error, mean over seeds")
        ax.set_title(f"sensitivity (k = {k_s}, {len(seeds_s)} seeds)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle("CLIP-guided resampling for SSCL: SYNTHETIC simulator (text-induced graph as CLIP), "
                 "not the paper's ImageNet numbers", fontsize=10)
    save(fig, path)
