"""Singular values of the normalized co-occurrence with the ``s_{k+1}`` gap, and the probe error against its bounds.

Input: a verify report (dict, as written by ``amf verify --json`` / ``amf demo``); ``spectrum`` is used when
present (more singular values than the report's ``k + 1``), else ``singular_values``.
"""

from __future__ import annotations

from pathlib import Path

from figures._plot import new_figure, save


def plot(report: dict, path: str | Path) -> None:
    """Two panels: ``s_i`` against ``i`` with the gap after ``k`` shaded; ``E_LS`` beside the bounds."""
    k = report["k"]
    s = report.get("spectrum") or report["singular_values"]
    fig, (left, right) = new_figure(2, width_ratios=[3, 2])
    index = range(1, len(s) + 1)
    left.plot(index, s, "o-", ms=4, color="tab:blue", label="$s_i$ of $P_n$")
    s_k, s_next = report["singular_values"][k - 1], report["singular_values"][k]
    left.axhspan(s_next, s_k, color="tab:orange", alpha=0.25, label=f"gap $s_{{{k}}} - s_{{{k + 1}}}$ = {s_k - s_next:.3f}")
    left.axvline(k + 0.5, color="gray", ls="--", lw=1)
    left.set_xlabel("index i")
    left.set_ylabel("singular value")
    left.set_ylim(0, 1.05)
    left.set_title("spectrum of the normalized co-occurrence")
    left.legend(loc="upper right", fontsize=8)

    bounds = report["bounds"]
    names = ["E_LS", "2φ/(1-s²)\n[proved]", "4α/(1-s²)\n[proved]", "paper form\n[unconfirmed]"]
    values = [report["probe_error_ls"], bounds["rigorous_phi"], bounds["rigorous_alpha"], bounds["paper_form"]]
    shown = [(n, v) for n, v in zip(names, values) if v is not None]
    colors = ["tab:green"] + ["tab:blue"] * 2 + ["tab:gray"]
    right.bar([n for n, _ in shown], [v for _, v in shown], color=colors[: len(shown)])
    right.axhline(1.0, color="red", lw=1, ls=":", label="vacuous above 1")
    for i, (_, v) in enumerate(shown):
        right.text(i, v, f"{v:.3g}", ha="center", va="bottom", fontsize=8)
    right.set_yscale("log")
    right.set_title(f"linear-probe error vs bounds (k = {k})")
    right.legend(fontsize=8)
    right.tick_params(axis="x", labelsize=8)
    save(fig, path)
