"""``scale``: wall time and peak memory of the top-k SVD of ``Pn`` against the number of edges, amf against its
peers, from the spectral benchmark's rows (``amf bench spectral --json FILE``, `figures.BENCH_RESULTS`).

``results = {"rows": [...]}`` (``arrays`` unused), each row ``{n, nnz, k, method, time_s, peak_mb, ...}``; amf's rows may carry ``compile_s`` (its JIT
compilation, drawn dashed without it); a row with ``error`` failed or timed out and is drawn as a cross on the
top edge at its size. Log–log, one colour per method, the legend below the axes.
"""

from __future__ import annotations

from matplotlib.transforms import blended_transform_factory

from figures import style


def draw(results: dict, arrays: dict):
    rows = results["rows"]
    fig, (time_ax, memory_ax) = style.new_figure(2, height=4.0)
    nnz_of = {r["n"]: r["nnz"] for r in rows if "nnz" in r}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for j, method in enumerate(methods):
        color = style.COLORS.get(method, f"C{j % 9}")
        done = sorted((r for r in rows if r["method"] == method and "error" not in r), key=lambda r: r["nnz"])
        nnz = [r["nnz"] for r in done]
        if done:
            time_ax.plot(nnz, [r["time_s"] for r in done], "o-", color=color, label=method)
            memory_ax.plot(nnz, [r["peak_mb"] for r in done], "o-", color=color, label=method)
            if all(r.get("compile_s") is not None for r in done):
                time_ax.plot(nnz, [max(r["time_s"] - r["compile_s"], 1e-3) for r in done], ".--", color=color,
                             label=f"{method} without JIT compilation")
        failed = [nnz_of[r["n"]] for r in rows if r["method"] == method and "error" in r and r["n"] in nnz_of]
        for ax in (time_ax, memory_ax) if failed else ():
            ax.plot(failed, [1.0] * len(failed), "x", ms=9, mew=2, color=color, clip_on=False,
                    transform=blended_transform_factory(ax.transData, ax.transAxes),
                    label=f"{method}: failed or timed out")
    for ax in (time_ax, memory_ax):
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            style.short_log_ticks(axis)
        ax.set_xlabel("edges (nonzeros of $P_n$, log scale)")
    time_ax.set_ylabel("wall time of the solve (s)")
    time_ax.set_title("time")
    memory_ax.set_ylabel("peak resident memory (MB)")
    memory_ax.set_title("memory")
    handles, labels = time_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3)
    ks = sorted({r["k"] for r in rows if "k" in r})
    fig.suptitle(f"Top-{'/'.join(map(str, ks))} SVD of $P_n$ on synthetic planted graphs: amf and its peers\n"
                 "(one run, each method in its own process)")
    return fig
