"""Synthetic image–text co-occurrence graphs for the amf toolkit (numpy; parameters checked with
`amf._validate`).

Generators return an ``Edges`` (COO arrays in the docs/file-format.md graph format plus labels and the resolved
parameters); ``amf`` turns it into its graph object. Models (``MODELS``, or ``generate(name, seed=, **params)``):

- ``block``: r classes, weight a within and b across; exact spectrum, alpha, phi (``block_model_closed_form``);
- ``diversity``: classes split into styles; low vs high caption diversity (``diversity_model_closed_form``);
- ``planted``: large degree-corrected planted partition with power-law activities (10^7 edges in seconds);
- ``augmentation``: an SSCL augmentation graph as a views x sources co-occurrence (docs/theory.md T3 converse);
- ``matched``: captions or augmentations over the same views, degrees and per-edge noise (T5, matched arms).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable

from amf._validate import known, parse_value, unknown

from ._edges import Edges
from .augmentation import augmentation_model
from .block import block_model, block_model_closed_form
from .diversity import diversity_model, diversity_model_closed_form
from .matched import matched_model
from .planted import planted_model

__all__ = [
    "Edges",
    "Model",
    "MODELS",
    "generate",
    "block_model",
    "block_model_closed_form",
    "diversity_model",
    "diversity_model_closed_form",
    "planted_model",
    "augmentation_model",
    "matched_model",
]


@dataclass(frozen=True)
class Model:
    """A registered generator: ``fn(**defaults, seed=...)`` builds the graph. ``defaults`` lists every parameter
    except ``seed`` with its default value (its type is the type a string value is converted to)."""

    name: str
    fn: Callable[..., Edges]
    description: str
    defaults: dict = field(default_factory=dict)


def _model(name: str, fn: Callable[..., Edges], description: str) -> Model:
    sig = inspect.signature(fn)
    defaults = {p.name: p.default for p in sig.parameters.values()
                if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"}
    return Model(name=name, fn=fn, description=description, defaults=defaults)


MODELS: dict[str, Model] = {
    m.name: m
    for m in (
        _model("block", block_model,
               "r classes, weight `within` for same-class image-text pairs and `across` otherwise "
               "(exact spectrum, alpha, phi)"),
        _model("diversity", diversity_model,
               "classes split into styles; texts link to their style (1), other styles of the class "
               "(`diversity`) and other classes (`noise`)"),
        _model("planted", planted_model,
               "large planted-partition graph with power-law degrees, class noise and caption (label) noise"),
        _model("augmentation", augmentation_model,
               "SSCL augmentation graph as a views x source-images co-occurrence (consistent, poorly connected)"),
        _model("matched", matched_model,
               "captions or augmentations (`arm`) over the same views, degrees and per-edge noise; `diversity` "
               "spreads an edge over its class, `noise` sends it to another class"),
    )
}


def generate(name: str, *, seed: int = 0, **params) -> Edges:
    """Build the graph of model ``name`` with ``params`` overriding its defaults.

    Values given as strings (a Python caller's ``"1e6"``) are read as the command line's ``--set`` values are
    (`amf._validate.parse_value`: TOML; an integral ``1e6`` is an integer). Raises `amf.errors.InputError` (a
    ``ValueError``) for an unknown model or parameter (naming the nearest and every allowed one) and for a value
    of the wrong type or out of range.
    """
    if name not in MODELS:
        raise unknown("model", name, sorted(MODELS))
    model = MODELS[name]
    known("parameter", params, [*model.defaults, "seed"], f"model {name!r}")
    read = lambda value: parse_value(value) if isinstance(value, str) else value  # noqa: E731
    return model.fn(seed=read(seed), **{key: read(value) for key, value in params.items()})
