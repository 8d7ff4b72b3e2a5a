"""T4 finite samples: probe error of the empirical minimizer against the number of sampled pairs n."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._plot import new_figure, save


def plot(result: dict, path: str | Path) -> None:
    rows = [r for r in result["samples"] if r["error"] is not None and np.isfinite(r["error"])]
    fig, (left, right) = new_figure(2)
    n = np.array([r["n"] for r in rows])
    left.loglog(n, [max(r["error"], 1e-6) for r in rows], "o", label="error on the population (unseen = wrong)")
    left.loglog(n, [max(r["error_present"], 1e-6) for r in rows], "s", mfc="none", label="error on the sampled images")
    left.axhline(max(rows[0]["optimal_error"], 1e-6), color="gray", ls="--", label="population minimizer")
    left.set_xlabel("sampled pairs n")
    left.set_ylabel("least-squares probe error")
    left.set_title(f"empirical minimizer, k = {result['k']}")
    left.legend(fontsize=8)
    right.semilogx(n, [r["missing_mass"] for r in rows], "o", label="p_V mass of unseen images")
    right.semilogx(n, [r["s_k1"] for r in rows], "s", label="empirical $s_{k+1}$")
    right.set_xlabel("sampled pairs n")
    right.set_title("what the sample covers")
    right.legend(fontsize=8)
    save(fig, path)
