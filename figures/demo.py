"""The ``amf demo`` figure: the spectrum of the demo graph with the gap at ``k``, and the measured probe error
beside its bounds.

``draw(results, arrays)`` as every figure module: ``results`` is a verify report (as ``amf verify --json`` /
``amf demo`` write it): ``spectrum`` when present (more singular values than the report's ``k + 1``), else
``singular_values``; ``probe_error_ls`` and ``bounds``. ``arrays`` is unused.
"""

from __future__ import annotations

import numpy as np

from figures import style

BARS = (("probe_error_ls", "$E_{LS}$\nmeasured"), ("rigorous_phi", "$2\\varphi$/spectral_gap\nproved"),
        ("rigorous_alpha", "$4\\alpha$/spectral_gap\nproved"), ("paper_form", "paper form\n(unconfirmed)"))
COLORS = {"probe_error_ls": "probe_error_ls", "rigorous_phi": "bound_rigorous_phi",
          "rigorous_alpha": "bound_rigorous_alpha", "paper_form": "bound_paper_form"}


def draw(results: dict, arrays: dict):
    """Two panels: ``s_i`` against ``i``, the gap after ``k`` marked; ``E_LS`` beside the bounds, log scale, a
    measured 0 drawn on a floor labelled 0."""
    report = results
    k = report["k"]
    s = np.asarray(report.get("spectrum") or report["singular_values"], dtype=float)
    top = report["singular_values"]
    fig, (left, right) = style.new_figure(2, height=3.8, width_ratios=[1, 1])
    i = np.arange(1, len(s) + 1)
    left.plot(i, s, "o-", ms=4, color=style.COLORS["mmcl"], label="$s_i$ of $P_n$")
    if len(top) > k:
        s_k, s_next = top[k - 1], top[k]
        left.axhspan(s_next, s_k, color=style.COLORS["spectral_gap"], alpha=0.2, lw=0,
                     label=f"singular_gap $s_{{{k}}} - s_{{{k + 1}}}$ = {s_k - s_next:.3f}; "
                           f"spectral_gap $1 - s_{{{k + 1}}}^2$ = {1 - s_next ** 2:.3f}")
    left.axvline(k + 0.5, color=style.OKABE_ITO["grey"], ls="--", lw=1, label=f"k = {k}")
    left.set_xlabel("index i (descending order)")
    left.set_ylabel("singular value $s_i$ (unitless)")
    left.set_ylim(0, 1.05)
    left.set_title("spectrum of the normalized co-occurrence $P_n$")
    left.legend(loc="lower right")

    values = {"probe_error_ls": report["probe_error_ls"], **report["bounds"]}
    shown = [(key, label, values[key]) for key, label in BARS if values.get(key) is not None]
    floor = style.zero_floor(right, [v for _, _, v in shown])
    base = floor or min(v for _, _, v in shown) / 3
    right.set_ylim(base, max(3.0, 2 * max(v for _, _, v in shown)))  # fixed first: one value has no y extent
    for x, (key, _, value) in enumerate(shown):
        y = style.floored([value], floor)[0]
        color = style.COLORS[COLORS[key]]
        right.vlines(x, base, y, color=color, lw=3)
        right.plot(x, y, "o", ms=8, color=color, mfc="white" if value <= 0 else color)
        right.annotate("0 (measured)" if value <= 0 else f"{value:.3g}", (x, y), xytext=(0, 6),
                       textcoords="offset points", ha="center", va="bottom", fontsize=9)
    style.shade_vacuous(right)
    style.finish_floor(right, floor)
    right.set_xticks(range(len(shown)), [label for _, label, _ in shown], fontsize=9)
    right.set_xlim(-0.6, len(shown) - 0.4)
    right.grid(axis="x", visible=False)
    right.set_ylabel("error rate (share of $p_V$ mass)")
    right.set_title(f"linear-probe error vs bounds (k = {k})")
    right.set_xlabel("bounds with spectral_gap = $1 - s_{k+1}^2$" if len(shown) > 1 else
                    "bounds undefined: no spectral_gap ($s_{k+1} = 1$)")
    right.legend(loc="upper left")
    model = report.get("graph", {}).get("model", {})
    name = f"synthetic {model['name']} graph" if model else "graph"
    fig.suptitle(f"amf demo: {name} of {report['graph'].get('n_images', '?')} images × "
                 f"{report['graph'].get('n_texts', '?')} texts" if "graph" in report else "amf demo")
    return fig
