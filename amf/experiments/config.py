"""Experiment configurations: frozen dataclasses whose fields are declared with `param`, read from TOML and
``--set key=value``, validated before anything runs, and expanded into a grid of points.

A field holds one value of its kind (``int``, ``float``, ``str``, ``bool``) or, when it may be swept, a list of
them; every list is a swept axis and several lists make a grid (their product, in field order). ``seeds`` is a
tuple of run seeds; each grid point runs once per seed.

A TOML config (``amf run CONFIG.toml``)::

    experiment = "consistency"
    quick = true                # optional: start from the quick preset
    seeds = [0, 1]              # optional
    [config]
    noise = [0.05, 0.15, 0.3]
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import tomllib
from collections.abc import Sequence
from pathlib import Path

from amf.errors import InputError

SEED_MAX = 2**32 - 1
KINDS = {int: "an integer", float: "a number", str: "a string", bool: "a boolean (true/false)"}


def param(default, *, kind: type, help: str, low=None, high=None, choices: Sequence[str] = (),
          sweep: bool = True, low_open: bool = False):
    """A config field: its ``kind``, allowed range ``[low, high]`` (``low_open``: ``low < value``) or ``choices``,
    a one-line ``help``, and whether a list of values may sweep it."""
    return dataclasses.field(default=default, metadata={
        "kind": kind, "help": help, "low": low, "high": high, "choices": tuple(choices), "sweep": sweep,
        "low_open": low_open})


def fields(config_type: type) -> dict[str, dataclasses.Field]:
    """The `param` fields of a config class, by name (``seeds`` excluded)."""
    return {f.name: f for f in dataclasses.fields(config_type) if f.name != "seeds"}


def check_value(name: str, field: dataclasses.Field, value):
    """``value`` of field ``name`` checked and converted (an int given for a float becomes a float; a list
    becomes a tuple); raises `InputError` naming the key."""
    meta = field.metadata
    if isinstance(value, (list, tuple)):
        if not meta["sweep"]:
            raise InputError(f"config key {name!r} takes one value, not a list")
        if not value:
            raise InputError(f"config key {name!r}: an empty list sweeps nothing")
        values = tuple(_scalar(name, meta, v) for v in value)
        if len(set(values)) != len(values):
            raise InputError(f"config key {name!r} lists a value twice: {list(value)}")
        return values
    return _scalar(name, meta, value)


def _scalar(name: str, meta, value):
    kind = meta["kind"]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise InputError(f"config key {name!r} expects {KINDS[kind]}, got {value!r}")
    if kind is float and not math.isfinite(value):
        raise InputError(f"config key {name!r} must be finite, got {value!r}")
    if meta["choices"] and value not in meta["choices"]:
        raise InputError(f"config key {name!r} must be one of {', '.join(meta['choices'])}; got {value!r}")
    low, high = meta["low"], meta["high"]
    if low is not None and (value <= low if meta["low_open"] else value < low):
        raise InputError(f"config key {name!r} must be {'>' if meta['low_open'] else '>='} {low}, got {value!r}")
    if high is not None and value > high:
        raise InputError(f"config key {name!r} must be <= {high}, got {value!r}")
    return value


def check_seeds(seeds) -> tuple[int, ...]:
    """Run seeds: a non-empty list of distinct integers in ``[0, 2^32 - 1]`` (one integer is a list of one)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise InputError(f"config key 'seeds' expects a non-empty list of integers, got {seeds!r}")
    for seed in seeds:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= SEED_MAX:
            raise InputError(f"config key 'seeds': every seed must be an integer in [0, {SEED_MAX}], got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise InputError(f"config key 'seeds' lists a seed twice: {list(seeds)}")
    return tuple(int(s) for s in seeds)


def build(config_type: type, quick: dict, *, use_quick: bool = False, values: dict | None = None,
          seeds=None):
    """A validated config: the full-size defaults, the ``quick`` overrides when ``use_quick``, then ``values``
    (key -> value, e.g. from TOML or ``--set``), then ``seeds``. Unknown keys and bad values raise `InputError`."""
    known = fields(config_type)
    merged, preset_seeds = {}, None
    for key, value in [*(quick.items() if use_quick else ()), *(values or {}).items()]:
        if key == "seeds":
            preset_seeds = value
            continue
        if key not in known:
            raise InputError(f"unknown config key {key!r}; known keys: {', '.join(['seeds', *known])}")
        merged[key] = value
    checked = {key: check_value(key, known[key], value) for key, value in merged.items()}
    seeds = seeds if seeds is not None else preset_seeds
    if seeds is not None:
        checked["seeds"] = check_seeds(seeds)
    config = config_type(**checked)
    if hasattr(config, "validate"):  # checks that join several keys, at every point of the grid
        for point in grid(config):
            at(config, point).validate()
    return config


def grid(config) -> list[dict]:
    """The swept settings: one dict ``{name: value}`` per point of the product of the list-valued fields (in
    field order); ``[{}]`` when nothing is swept. A config class with a ``grid()`` method lays out its own."""
    if hasattr(config, "grid"):
        return config.grid()
    axes = {name: getattr(config, name) for name in fields(type(config)) if isinstance(getattr(config, name), tuple)}
    return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def at(config, params: dict):
    """The config of one point: every swept field replaced by its value in ``params``."""
    return dataclasses.replace(config, **params)


def as_dict(config) -> dict:
    """The config as plain data (tuples as lists), seeds included."""
    return {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
            for f in dataclasses.fields(config)}


def parse_set(item: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a TOML value (``0.1``, ``[0.1, 0.2]``, ``true``, ``"gd"``); a bare word
    that is not TOML is a string."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        value = tomllib.loads(f"value = {text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    return key, value


def read_toml(path: str | Path) -> dict:
    """A config file's ``experiment``, ``quick``, ``seeds`` and ``[config]`` table; anything else is refused."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config {path}: {exc}") from None
    unknown = sorted(set(data) - {"experiment", "quick", "seeds", "config"})
    if unknown:
        raise InputError(f"config {path}: unknown top-level key {unknown[0]!r} (allowed: experiment, quick, seeds, "
                         "[config])")
    if not isinstance(data.get("experiment"), str):
        raise InputError(f"config {path} needs experiment = \"NAME\"")
    if not isinstance(data.get("quick", False), bool):
        raise InputError(f"config {path}: quick must be true or false")
    if not isinstance(data.get("config", {}), dict):
        raise InputError(f"config {path}: config must be a table ([config])")
    return data


def to_toml(experiment: str, config) -> str:
    """The resolved config as TOML of the `read_toml` form (no ``quick``: every value is written out)."""
    values = as_dict(config)
    lines = [f"experiment = {json.dumps(experiment)}", f"seeds = {_toml(values.pop('seeds'))}", "", "[config]"]
    lines += [f"{name} = {_toml(value)}" for name, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)
