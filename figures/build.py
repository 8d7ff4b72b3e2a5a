"""``amf figures``: draw every figure from saved experiment results, computing only what is missing.

Layout of the output folder ``DIR``:

- ``DIR/results/<experiment>/``: the experiment's run folder (`amf.experiments.runner`); reused when it is
  complete and holds this config made by this amf version, resumed when it was interrupted;
- ``DIR/<figure>.<fmt>`` for each format;
- ``DIR/manifest.json`` = ``{figures: [{name, claim, files, results, config, seeds, versions, seconds,
  computed, reused, failed_points}]}`` with paths relative to ``DIR`` (entries of figures not drawn this time are kept).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import amf
from amf.errors import InputError
from amf.experiments import EXPERIMENTS
from amf.experiments.config import to_toml
from amf.experiments.runner import execute
from amf.io import OUTPUT_MARKER, write_json
from figures import BENCH_RESULTS, FIGURES, Figure
from figures.style import save

FORMATS = ("png", "pdf", "svg")
CHECKOUT = Path(__file__).resolve().parents[1]
"""The source checkout holding the ``figures`` package (where the default benchmark rows live)."""


@dataclasses.dataclass(frozen=True)
class Drawn:
    """One figure's manifest entry and how many points its experiment computed (0 when its results were reused)."""

    entry: dict
    computed: int


def check_formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise InputError(f"--format takes a comma-separated list of {', '.join(FORMATS)}; got {text!r}")
    return formats


def up_to_date(folder: Path, experiment: str, config) -> bool:
    """The run folder is complete, holds exactly this config, and was made by this amf version."""
    try:
        complete = (folder / "complete.json").is_file()
        same = (folder / "config.toml").read_text() == to_toml(experiment, config)
        version = json.loads((folder / "results.json").read_text())["versions"]["amf"]
    except (OSError, ValueError, KeyError):
        return False
    return complete and same and version == amf.__version__


def plan(names, *, quick: bool, out: Path, replot: bool) -> list[tuple[Figure, object]]:
    """The figures to draw with each one's config, checked before any work: unknown names, and with ``replot``
    results that are missing or stale, are refused."""
    unknown = [n for n in names if n not in FIGURES and n.replace("_", "-") not in FIGURES]
    names = [n if n in FIGURES else n.replace("_", "-") for n in names]  # finite_samples = finite-samples
    if unknown:
        raise InputError(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    chosen = []
    for figure in (FIGURES[n] for n in (names or FIGURES)):
        if figure.experiment is None:
            chosen.append((figure, None))
            continue
        config = EXPERIMENTS[figure.experiment].make_config(quick=quick)
        if replot and not up_to_date(out / "results" / figure.experiment, figure.experiment, config):
            raise InputError(f"--replot: no up-to-date results for {figure.name} in {out / 'results'} "
                             f"(run without --replot to compute them)")
        chosen.append((figure, config))
    return chosen


def make(names=(), *, quick: bool = False, out: str | Path = "amf-out/figures", formats=("png", "pdf"),
         dpi: int = 150, replot: bool = False, recompute: bool = False, bench: str | Path = BENCH_RESULTS,
         log: Callable[[str], None] = print) -> list[Drawn]:
    """Draw the figures ``names`` (all by default) into ``out``; returns what was drawn (see the module)."""
    out, bench = Path(out), bench_rows(bench)
    chosen = plan(names, quick=quick, out=out, replot=replot)
    out.mkdir(parents=True, exist_ok=True)
    (out / OUTPUT_MARKER).write_text("written by amf\n")
    drawn = []
    for i, (figure, config) in enumerate(chosen, 1):
        started = time.perf_counter()
        log(f"[{i}/{len(chosen)}] {figure.name}: ...")
        if figure.experiment is None:
            item = _draw_benchmark(figure, out, bench, formats, dpi)
        else:
            item = _draw_experiment(figure, config, out, formats, dpi, recompute)
        if item is None:
            print(f"amf figures: {figure.name} skipped: no benchmark rows at {bench} (amf bench spectral --json FILE "
                  "writes them)", file=sys.stderr)
            continue
        item.entry["seconds"] = round(time.perf_counter() - started, 2)
        drawn.append(item)
        log(f"[{i}/{len(chosen)}] {figure.name}: {item.entry['seconds']:.1f} s, {item.computed} points computed "
            f"-> {', '.join(item.entry['files'])}")
    _write_manifest(out, [d.entry for d in drawn])
    return drawn


def bench_rows(bench: str | Path) -> Path:
    """Where the scale figure's rows are: ``bench`` itself, except that the default `figures.BENCH_RESULTS`
    (relative), when the working folder lacks it, is the one in the checkout that holds this package."""
    path = Path(bench)
    if not path.is_file() and str(bench) == BENCH_RESULTS:
        return CHECKOUT / BENCH_RESULTS
    return path


def _draw_experiment(figure: Figure, config, out: Path, formats, dpi: int, recompute: bool) -> Drawn:
    experiment = EXPERIMENTS[figure.experiment]
    folder = out / "results" / figure.experiment
    computed = 0
    if recompute or not up_to_date(folder, figure.experiment, config):
        if recompute and folder.is_dir():
            shutil.rmtree(folder / "points", ignore_errors=True)
        result, _ = execute(experiment, config, out=folder, force=False, log=None)
        computed = result.computed
    results = json.loads((folder / "results.json").read_text())
    with np.load(folder / "arrays.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    files = save(figure.draw(results, arrays), out / figure.name, formats, dpi)
    entry = {"name": figure.name, "claim": experiment.claim, "files": [f.relative_to(out).as_posix() for f in files],
             "results": (folder / "results.json").relative_to(out).as_posix(), "config": results["config"],
             "seeds": results["seeds"], "versions": results["versions"], "computed": computed,
             "reused": len(results["points"]) - computed,
             "failed_points": sum(p.get("passed") is False for p in results["points"])}
    return Drawn(entry, computed)


def _draw_benchmark(figure: Figure, out: Path, bench: Path, formats, dpi: int) -> Drawn | None:
    if not bench.is_file():
        return None
    try:
        rows = json.loads(bench.read_text())
    except ValueError as exc:
        raise InputError(f"cannot read benchmark rows {bench}: {exc}") from None
    files = save(figure.draw({"rows": rows}, {}), out / figure.name, formats, dpi)
    entry = {"name": figure.name, "claim": "solver time against edges: amf and its peers, measured in one run",
             "files": [f.relative_to(out).as_posix() for f in files], "results": str(bench), "config": None,
             "seeds": None, "versions": None, "computed": 0, "reused": 0, "failed_points": 0}
    return Drawn(entry, 0)


def _write_manifest(out: Path, entries: list[dict]) -> None:
    path = out / "manifest.json"
    kept = []
    if path.is_file():
        try:
            old = json.loads(path.read_text()).get("figures", [])
        except ValueError:
            old = []
        drawn = {e["name"] for e in entries}
        kept = [e for e in old if e.get("name") not in drawn and all((out / f).is_file() for f in e.get("files", []))]
    order = list(FIGURES)
    figures = sorted(kept + entries, key=lambda e: order.index(e["name"]) if e["name"] in order else len(order))
    write_json(path, {"figures": figures})
