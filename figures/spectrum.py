"""``spectrum``: the singular values of ``Pn`` and the eigenvalues of the text-induced image graph (T2, T3).

Reads the ``spectrum`` experiment (`amf.experiments.spectrum`): per point the arrays ``singular_values`` (amf's
exact solver) and ``text_induced_eigenvalues`` (dense ``eigh`` of ``Abar_V``), and ``k``, ``s_k``, ``s_next``.
Left: ``s_i`` against ``i`` per graph (seed mean, min–max band when several seeds), the drop from ``s_k`` to
``s_{k+1}`` marked at ``k``. Right: the eigenvalues ``lambda_i`` beside ``s_i^2`` (T3 says they are equal), with
the largest difference measured. One colour per graph (or per setting of whatever else was swept).
"""

from __future__ import annotations

import numpy as np

from figures import style

PALETTE = [style.OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "vermillion", "sky", "black")]


def _groups(results: dict, arrays: dict) -> dict[str, dict]:
    """Per setting: its label, ``k`` and the seeds' arrays stacked (trimmed to the shortest)."""
    names = style.swept(results)
    out: dict[str, dict] = {}
    for p in results["points"]:
        label = ", ".join(str(p["params"][n]) if n == "graph" else f"{n} = {p['params'][n]}" for n in names) \
            or str(p["params"].get("graph", results["config"].get("graph")))
        group = out.setdefault(label, {"graph": p["params"].get("graph", results["config"].get("graph")),
                                       "k": p["k"], "s": [], "eig": [],
                                       "error": 0.0})
        group["s"].append(arrays[p["arrays"]["singular_values"]])
        group["eig"].append(arrays[p["arrays"]["text_induced_eigenvalues"]])
        group["error"] = max(group["error"], p["eigenvalue_error"])
    for group in out.values():
        n = min(len(a) for a in group["s"] + group["eig"])
        group["s"] = np.stack([a[:n] for a in group["s"]])
        group["eig"] = np.stack([a[:n] for a in group["eig"]])
    return out


def draw(results: dict, arrays: dict):
    groups = _groups(results, arrays)
    fig, (left, right) = style.new_figure(2, height=3.9)
    seeds = len(results["seeds"])
    error = max(g["error"] for g in groups.values())
    graphs = [g["graph"] for g in groups.values()]
    by_graph = len(set(graphs)) == len(graphs) and all(g in style.COLORS for g in graphs)
    for j, (label, g) in enumerate(groups.items()):
        color = style.COLORS[g["graph"]] if by_graph else PALETTE[j % len(PALETTE)]
        i = np.arange(1, g["s"].shape[1] + 1)
        s, k = g["s"].mean(axis=0), g["k"]
        left.plot(i, s, "o-", ms=4, color=color, label=f"{label} graph")
        right.plot(i, (g["s"] ** 2).mean(axis=0), "-", color=color)
        right.plot(i, g["eig"].mean(axis=0), "o", ms=6, mfc="none", color=color)
        if seeds > 1:
            left.fill_between(i, g["s"].min(axis=0), g["s"].max(axis=0), color=color, alpha=0.2, lw=0)
        if k < len(s):
            x = k + 0.5 + 0.6 * j
            left.annotate("", xy=(x, s[k]), xytext=(x, s[k - 1]),
                          arrowprops={"arrowstyle": "<->", "color": color, "lw": 1.5, "shrinkA": 0, "shrinkB": 0})
            left.text(x + 0.3, (s[k] + s[k - 1]) / 2, f"{s[k - 1] - s[k]:.2f}", color=color, va="center",
                      fontsize=9, bbox={"fc": "white", "ec": "none", "pad": 1})
    right.plot([], [], "-", color="k", label="$s_i^2$ (from the SVD of $P_n$)")
    right.plot([], [], "o", mfc="none", color="k",
               label=f"$\\lambda_i(\\bar A_V)$ (dense eigh); max $|\\lambda_i - s_i^2|$ = {error:.0e}")
    ks = sorted({g["k"] for g in groups.values()})
    for ax in (left, right):
        for k in ks:
            ax.axvline(k + 0.5, color=style.OKABE_ITO["grey"], ls="--", lw=0.8)
        ax.set_xlabel("index i (descending order)")
        ax.set_ylim(-0.03, 1.05)
    left.text(ks[0] + 0.5, 1.02, f" k = {', '.join(map(str, ks))} (dashed); arrows: singular_gap $s_k - s_{{k+1}}$",
              va="top", fontsize=9)
    left.set_ylabel("singular value $s_i$ (unitless)")
    left.set_title("spectrum of $P_n = D_V^{-1/2} P D_L^{-1/2}$")
    right.set_ylabel("eigenvalue (unitless)")
    right.set_title("text-induced graph: $\\lambda_i = s_i^2$ (T3)")
    band = "; band: min–max over seeds" if seeds > 1 else ""
    fig.legend(*style.handles(left, right), loc="outside lower center", ncols=2,
               title=f"{seeds} seed{'s' * (seeds > 1)}, seed mean shown{band}")
    cfg = results["config"]
    about = {"block": f"block: weight {cfg.get('across')} across classes",
             "noisy": f"noisy: planted model, class noise {cfg.get('noise')}"}
    fig.suptitle(f"Spectra of synthetic graphs, {cfg.get('n_classes')} classes, {cfg.get('images')} images × "
                 f"{cfg.get('texts')} texts\n" + "; ".join(about[g] for g in dict.fromkeys(graphs) if g in about))
    return fig
