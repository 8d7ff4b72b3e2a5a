"""Running an experiment: its grid of points times its seeds, each point measured once, saved as it finishes,
and reused by any later run that asks for the same point.

**Run folder** (``runs/<date>-<experiment>-<n>/`` by default):

- ``config.toml``: the resolved config (`amf.experiments.config.to_toml`), written first;
- ``points/<key>.json`` (and ``.npz`` for arrays): one file per finished point, written atomically as soon as
  it is measured. ``key`` hashes the experiment, the amf version, the point's whole config and its seed, so a
  rerun of a finished or interrupted run, a run with more seeds or a longer sweep reuses every point it shares;
- ``log.txt``: one line per event (start, each point with its seconds, end);
- ``results.json`` = ``{experiment, claim, config, seeds, versions, device, dtype, provenance, points,
  summary, ...}`` and ``arrays.npz`` (keys ``p<index>_<name>``, listed in each point's ``arrays``);
- ``complete.json``, written last: the run finished. A folder without it holds an interrupted run.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from amf._version import __version__
from amf.errors import InputError
from amf.experiments import config as cfg
from amf.io import OUTPUT_MARKER, atomic_write, check_output_folder, json_safe, write_json, write_npz
from amf.provenance import Provenance, device, now, versions

RUNS = Path("runs")
"""Where run folders go by default (relative to the working directory)."""


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One claim of the paper as a configurable run.

    ``config``: the frozen `amf.experiments.config.Config` subclass (full-size defaults); ``quick``: the overrides of the quick preset;
    ``measure(config, seed) -> dict``: the metrics of one point, ``config`` holding that point's values (an
    ``arrays`` entry, name -> ndarray, goes to ``arrays.npz``); ``summarize(config, points) -> dict``: extra
    top-level keys of ``results.json`` (may be None); ``headline``: the metrics the terminal table shows
    (``outer.inner`` for nested ones); ``quick_seconds``: about how long ``--quick`` takes on two CPU cores.
    """

    name: str
    claim: str
    config: type
    quick: dict
    measure: Callable[..., dict]
    summarize: Callable[..., dict] | None = None
    headline: tuple[str, ...] = ()
    quick_seconds: float = 0.0

    def __post_init__(self):
        if not (isinstance(self.config, type) and issubclass(self.config, cfg.Config)):
            raise TypeError(f"experiment {self.name!r}: its config must be an amf.experiments.config.Config subclass")

    def make_config(self, *, quick: bool = False, values: dict | None = None, seeds=None):
        """The validated config: defaults, then the quick preset, then ``values``, then ``seeds``."""
        return cfg.build(self.config, self.quick, use_quick=quick, values=values, seeds=seeds)


@dataclasses.dataclass
class Result:
    """A finished run: ``points`` (one dict per grid point and seed, in grid-then-seed order), the per-setting
    ``summary``, the experiment's ``extra`` keys, the ``arrays`` and how many points were ``computed`` and
    ``reused``."""

    experiment: Experiment
    config: object
    points: list[dict]
    summary: list[dict]
    extra: dict
    arrays: dict[str, np.ndarray]
    computed: int
    reused: int

    @property
    def passed(self) -> bool:
        """No point failed (points no criterion judges, ``passed = None``, do not fail a run)."""
        return all(p.get("passed") is not False for p in self.points)

    def as_dict(self, provenance: dict | None = None) -> dict:
        """``results.json``."""
        return json_safe({
            "experiment": self.experiment.name,
            "claim": self.experiment.claim,
            "config": cfg.as_dict(self.config),
            "seeds": list(self.config.seeds),
            "versions": versions(),
            "device": device(),
            "dtype": "float64",
            "provenance": provenance,
            "points": self.points,
            "summary": self.summary,
            **self.extra,
        })


def point_key(experiment: str, config, seed: int) -> str:
    """The cache key of one point: a hash of the experiment, the amf version, the point's config and seed."""
    values = cfg.as_dict(config)
    values.pop("seeds")
    text = json.dumps({"experiment": experiment, "amf": __version__, "config": values, "seed": seed},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run(experiment: Experiment, config, *, folder: Path | None = None, progress: bool = False,
        log: Callable[[str], None] | None = None) -> Result:
    """Measure every (grid point, seed) of ``config``; with a run ``folder``, reuse the points saved there and
    save each new one as it finishes (the folder must already hold ``config.toml``: see `prepare`)."""
    settings = config.grid()
    jobs = [(params, seed) for params in settings for seed in config.seeds]
    cache = {}
    keys = [point_key(experiment.name, cfg.at(config, params), seed) for params, seed in jobs]
    if folder is not None:
        cache = {key: _load_point(folder, key) for key in keys if (folder / "points" / f"{key}.json").is_file()}
    missing = [i for i, key in enumerate(keys) if key not in cache]
    _log(log, folder, f"{experiment.name}: {len(jobs)} points ({len(settings)} settings x {len(config.seeds)} "
                      f"seeds): {len(jobs) - len(missing)} reused, {len(missing)} to compute")
    show_bar = progress and sys.stderr.isatty()
    bar = tqdm(total=len(missing), desc=experiment.name, unit="point", disable=not show_bar)
    try:
        for i in missing:
            params, seed = jobs[i]
            started = time.perf_counter()
            metrics = dict(experiment.measure(cfg.at(config, params), seed))
            arrays = {name: np.asarray(a) for name, a in metrics.pop("arrays", {}).items()}
            point = json_safe({"params": params, "seed": seed, **metrics,
                               "seconds": round(time.perf_counter() - started, 3)})
            cache[keys[i]] = (point, arrays)
            if folder is not None:
                _save_point(folder, keys[i], point, arrays)
            _log(None if show_bar else log, folder, f"  {params} seed {seed}: {point['seconds']:.2f} s"
                                                    f"{'' if point.get('passed') is not False else ' (FAILED)'}")
            bar.update()
    finally:
        bar.close()
    points, arrays = [], {}
    for index, key in enumerate(keys):
        point, point_arrays = cache[key]
        point = dict(point)
        if point_arrays:
            point["arrays"] = {name: f"p{index:04d}_{name}" for name in point_arrays}
            arrays.update({f"p{index:04d}_{name}": a for name, a in point_arrays.items()})
        points.append(point)
    extra = experiment.summarize(config, points) if experiment.summarize is not None else {}
    return Result(experiment, config, points, seed_statistics(points), extra, arrays, len(missing),
                  len(jobs) - len(missing))


def seed_statistics(points: list[dict]) -> list[dict]:
    """Per setting (same ``params``): how many seeds, how many passed, and mean / std / min / max over seeds of
    every numeric metric (nested dicts flattened as ``outer.inner``; None values left out)."""
    groups: dict[str, list[dict]] = {}
    for point in points:
        groups.setdefault(json.dumps(point["params"], sort_keys=True), []).append(point)
    out = []
    for group in groups.values():
        values: dict[str, list[float]] = {}
        for point in group:
            for name, value in _numbers(point):
                values.setdefault(name, []).append(value)
        verdicts = [p.get("passed") for p in group]
        out.append({
            "params": group[0]["params"],
            "seeds": [p["seed"] for p in group],
            "passed": sum(v is True for v in verdicts), "failed": sum(v is False for v in verdicts),
            "metrics": {name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                               "max": float(np.max(v)), "n": len(v)} for name, v in values.items()},
        })
    return out


_SKIP = {"params", "seed", "seconds", "passed", "arrays"}


def _numbers(point: dict, prefix: str = ""):
    for name, value in point.items():
        if not prefix and name in _SKIP:
            continue
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{name}", float(value)


def execute(experiment: Experiment, config, *, out: str | Path | None = None, force: bool = False, inputs=(),
            command: list[str] | None = None, progress: bool = True,
            log: Callable[[str], None] | None = print) -> tuple[Result, Path]:
    """`prepare` the run folder, `run` (resuming what it holds), `finish` it with the provenance: the files
    the run read (``inputs``, hashed) and its ``command`` line (default ``sys.argv``)."""
    provenance = Provenance.start(inputs, command=command)
    folder = prepare(experiment, config, out, force=force)
    if log is not None:
        log(f"run folder: {folder}")
    result = run(experiment, config, folder=folder, progress=progress, log=log)
    finish(folder, result, provenance.as_dict())
    return result, folder


# ---- run folders -----------------------------------------------------------------------------------------------


def prepare(experiment: Experiment, config, out: str | Path | None = None, *, force: bool = False,
            runs: Path = RUNS) -> Path:
    """Choose and open the run folder before any work: ``out`` when given (an existing amf folder is resumed;
    another existing folder is refused unless ``force``); otherwise the newest ``runs/*-<name>-<n>`` whose
    ``config.toml`` is this config (resumed), or a new ``runs/<date>-<name>-<n>``. Writes ``config.toml`` and
    removes a stale completion marker."""
    text = cfg.to_toml(experiment.name, config)
    folder = Path(out) if out is not None else (_matching_run(runs, experiment.name, text)
                                                 or _new_run(runs, experiment.name))
    check_output_folder(folder, force=force)
    (folder / "points").mkdir(parents=True, exist_ok=True)
    (folder / OUTPUT_MARKER).write_text("written by amf\n")
    (folder / "complete.json").unlink(missing_ok=True)
    _write_text(folder / "config.toml", text)
    return folder


def finish(folder: Path, result: Result, provenance: dict) -> None:
    """Write ``arrays.npz``, ``results.json`` and, last, ``complete.json``."""
    write_npz(folder / "arrays.npz", **result.arrays)
    write_json(folder / "results.json", result.as_dict(provenance))
    write_json(folder / "complete.json", {"finished": now(), "points": len(result.points),
                                          "computed": result.computed, "reused": result.reused,
                                          "passed": result.passed})
    _log(None, folder, f"finished: {len(result.points)} points, {result.computed} computed, {result.reused} reused")


def _matching_run(runs: Path, name: str, text: str) -> Path | None:
    candidates = sorted(runs.glob(f"*-{name}-*"), key=lambda p: p.stat().st_mtime, reverse=True) \
        if runs.is_dir() else []
    for folder in candidates:
        toml = folder / "config.toml"
        if re.fullmatch(rf"\d{{4}}-\d\d-\d\d-{re.escape(name)}-\d+", folder.name) and toml.is_file() \
                and toml.read_text() == text:
            return folder
    return None


def _new_run(runs: Path, name: str) -> Path:
    date = datetime.date.today().isoformat()
    taken = [int(m.group(1)) for p in (runs.glob(f"{date}-{name}-*") if runs.is_dir() else [])
             if (m := re.fullmatch(rf"{date}-{re.escape(name)}-(\d+)", p.name))]
    return runs / f"{date}-{name}-{max(taken, default=0) + 1}"


def _save_point(folder: Path, key: str, point: dict, arrays: dict) -> None:
    if arrays:
        write_npz(folder / "points" / f"{key}.npz", **arrays)
    write_json(folder / "points" / f"{key}.json", point)  # the json last: it marks the point done


def _load_point(folder: Path, key: str) -> tuple[dict, dict]:
    try:
        point = json.loads((folder / "points" / f"{key}.json").read_text())
        arrays = {}
        if (folder / "points" / f"{key}.npz").is_file():
            with np.load(folder / "points" / f"{key}.npz", allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read saved point {folder}/points/{key}.json: {exc}; delete it to recompute it") \
            from None
    return point, arrays


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text)


def _log(log, folder: Path | None, line: str) -> None:
    if log is not None:
        log(line)
    if folder is not None:
        with open(folder / "log.txt", "a") as handle:
            handle.write(f"{now()} {line}\n")


__all__ = ["Experiment", "Result", "execute", "finish", "point_key", "prepare", "run", "seed_statistics"]
