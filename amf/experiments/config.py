"""Experiment configurations: frozen dataclasses whose fields are declared with `param`, read from TOML and
``--set key=value``, validated before anything runs, and expanded into a grid of points.

A field holds one value of its kind (``int``, ``float``, ``str``, ``bool``) or, when it may be swept, a list of
them; every list is a swept axis and several lists make a grid (their product, in field order). ``seeds`` is a
tuple of run seeds; each grid point runs once per seed.

Hooks are declared by the base class `Config` (``validate``, ``grid``), not looked up by name. ``--set`` values
are read by `amf._validate.parse_set`, the reader ``amf generate`` uses too.

A TOML config (``amf run CONFIG.toml``)::

    experiment = "consistency"
    quick = true                # optional: start from the quick preset
    seeds = [0, 1]              # optional
    [config]
    noise = [0.05, 0.15, 0.3]
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import json
import tomllib
from pathlib import Path

from amf import _validate
from amf._validate import param  # noqa: F401  (the declaration every config field uses)
from amf.errors import InputError

SEED_MAX = 2**32 - 1
HOOKS = ("validate", "grid")


@dataclasses.dataclass(frozen=True)
class Config:
    """The base of every experiment config: frozen `param` fields plus ``seeds``, and two declared hooks that a
    config overrides when it needs them. A method whose name is close to a hook's but not it (``validat``,
    ``grids``) is refused when the class is defined: a misspelt hook would otherwise be skipped silently."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, value in vars(cls).items():
            close = difflib.get_close_matches(name, HOOKS, n=1, cutoff=0.75)
            if callable(value) and close and name not in HOOKS:
                raise TypeError(f"{cls.__name__}.{name} looks like the hook {close[0]!r} misspelt")

    def validate(self) -> None:
        """Checks that join several keys, run at every point of the grid (default: none)."""

    def grid(self) -> list[dict]:
        """The swept settings: one dict ``{name: value}`` per point of the product of the list-valued fields (in
        field order); ``[{}]`` when nothing is swept. A config overrides it to lay out a grid that is not a
        product."""
        axes = {name: getattr(self, name) for name in fields(type(self)) if isinstance(getattr(self, name), tuple)}
        return [dict(zip(axes, values)) for values in itertools.product(*axes.values())]


def fields(config_type: type) -> dict[str, dataclasses.Field]:
    """The `param` fields of a config class, by name (``seeds`` excluded)."""
    return _validate.declared(config_type)


def check_value(name: str, field: dataclasses.Field, value):
    """``value`` of field ``name`` checked and converted (an int given for a float becomes a float; a list
    becomes a tuple); raises `InputError` naming the key."""
    if isinstance(value, (list, tuple)):
        if not field.metadata["sweep"]:
            raise InputError(f"config key {name!r} takes one value, not a list")
        if not value:
            raise InputError(f"config key {name!r}: an empty list sweeps nothing")
        values = tuple(_validate.check(name, field, v) for v in value)
        if len(set(values)) != len(values):
            raise InputError(f"config key {name!r} lists a value twice: {list(value)}")
        return values
    return _validate.check(name, field, value)


def check_seeds(seeds) -> tuple[int, ...]:
    """Run seeds: a non-empty list of distinct integers in ``[0, 2^32 - 1]`` (one integer is a list of one)."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if not isinstance(seeds, (list, tuple)) or not seeds:
        raise InputError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    checked = tuple(_validate.integer("seeds", seed, 0, SEED_MAX) for seed in seeds)
    if len(set(checked)) != len(checked):
        raise InputError(f"config key 'seeds' lists a seed twice: {list(seeds)}")
    return checked


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
            raise _validate.unknown("config key", key, ["seeds", *known])
        merged[key] = value
    checked = {key: check_value(key, known[key], value) for key, value in merged.items()}
    seeds = seeds if seeds is not None else preset_seeds
    if seeds is not None:
        checked["seeds"] = check_seeds(seeds)
    config = config_type(**checked)
    for point in config.grid():
        at(config, point).validate()
    return config


def at(config, params: dict):
    """The config of one point: every swept field replaced by its value in ``params``."""
    return dataclasses.replace(config, **params)


def as_dict(config) -> dict:
    """The config as plain data (tuples as lists), seeds included."""
    return {f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
            for f in dataclasses.fields(config)}


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
