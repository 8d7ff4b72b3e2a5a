"""Synthetic image–text co-occurrence graphs for the amf toolkit (pure numpy).

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
import math
from dataclasses import dataclass, field
from typing import Callable

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

_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}


def _convert(model: str, key: str, value: str, default):
    """Parse a ``--set key=value`` string to the type of the parameter's default."""
    text = value.strip()
    try:
        if isinstance(default, bool):
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if isinstance(default, int):
            try:
                return int(text)
            except ValueError:
                x = float(text)  # accept "1e6" for integral values
                if math.isfinite(x) and x.is_integer():
                    return int(x)
                raise
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = {bool: "a boolean (true/false)", int: "an integer", float: "a number"}[type(default)]
        raise ValueError(f"parameter {key!r} of model {model!r} expects {kind}, got {value!r}") from None
    return value


def generate(name: str, *, seed: int = 0, **params) -> Edges:
    """Build the graph of model ``name`` with ``params`` overriding its defaults.

    Values given as strings (e.g. from a CLI ``--set key=value``) are converted to the type of the parameter's
    default (int / float / bool; ``seed`` to int). Raises ``ValueError`` for an unknown model (listing the known
    ones), an unknown parameter (listing the allowed ones), an unparsable string or an out-of-range value.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}")
    model = MODELS[name]
    unknown = sorted(set(params) - set(model.defaults))
    if unknown:
        raise ValueError(f"unknown parameter {unknown[0]!r} for model {name!r}; allowed: "
                         f"{', '.join(list(model.defaults) + ['seed'])}")
    if isinstance(seed, str):
        seed = _convert(name, "seed", seed, 0)
    kwargs = {key: _convert(name, key, val, model.defaults[key]) if isinstance(val, str) else val
              for key, val in params.items()}
    return model.fn(seed=seed, **kwargs)
