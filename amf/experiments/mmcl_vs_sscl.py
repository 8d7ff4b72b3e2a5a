"""T5: the same images and labels under a caption graph (MMCL) and an augmentation graph (SSCL).

The images are the views of `synthetic.augmentation_model` (``r`` classes, ``images_per_class`` sources of
``views_per_image`` views each). **SSCL**: the views x sources co-occurrence, whose text-induced graph is the
augmentation graph ``A_S`` (docs/theory.md T3 converse); ``strength`` links each view to another source of its
class (more diverse), ``confusion = confusion_ratio * strength`` to a source of another class (less consistent).
**MMCL**: a `synthetic.planted_model` caption graph over the same views (rows matched class by class, so every
view keeps its label), ``captions_per_image`` edges per image, caption noise ``noise``; its text-induced graph is
``A_V``. Both are verified at ``k = r`` and held against each other on ``phi``, the gap, the proved bound and
E_LS; ``winner_bound`` / ``winner_probe`` say which graph has the smaller bound / error (``tie`` within 1e-12).
"""

from __future__ import annotations

import dataclasses

import numpy as np

import synthetic
from amf.experiments.config import Config, param
from amf.experiments.measures import matched_rows, verified
from amf.experiments.runner import Experiment
from amf.graph import CoOccurrence

TIE = 1e-12


@dataclasses.dataclass(frozen=True)
class MmclVsSsclConfig(Config):
    n_classes: int = param(4, kind=int, low=2, help="r, the number of classes")
    images_per_class: int = param(16, kind=int, low=2, help="source images per class")
    views_per_image: int = param(4, kind=int, low=1, help="augmented views per source (the images compared)")
    strength: float = param((0.05, 0.1, 0.2, 0.4, 0.8), kind=float, low=0.0, high=0.99,
                            help="augmentation strength: weight of a view's edge to another source of its class")
    confusion_ratio: float = param(0.25, kind=float, low=0.0, high=1.0,
                                   help="confusion / strength: weight of a view's edge to a source of another class")
    noise: float = param((0.02, 0.05, 0.1, 0.2, 0.3), kind=float, low=0.0, high=1.0,
                         help="caption noise: probability that a caption edge ignores the image's class")
    captions_per_image: int = param(8, kind=int, low=2, help="caption edges per image")
    seeds: tuple[int, ...] = (0, 1, 2)


def graphs(config: MmclVsSsclConfig, seed: int) -> tuple[CoOccurrence, CoOccurrence]:
    """``(captions, augmentations)`` over the same views with the same labels."""
    augmentation = CoOccurrence.from_edges(synthetic.augmentation_model(
        n_classes=config.n_classes, images_per_class=config.images_per_class,
        views_per_image=config.views_per_image, strength=config.strength,
        confusion=min(config.confusion_ratio * config.strength, 0.99), seed=seed))
    n_views = augmentation.n_images
    n_texts = max(config.n_classes, n_views // 2)
    planted = synthetic.planted_model(n_images=n_views, n_texts=n_texts,
                                      n_edges=config.captions_per_image * n_views + n_texts,
                                      n_classes=config.n_classes, noise=config.noise, seed=seed)
    perm = matched_rows(planted.image_labels, augmentation.image_labels)  # view x is planted image perm[x]
    view_of = np.empty_like(perm)
    view_of[perm] = np.arange(n_views)
    captions = CoOccurrence.from_arrays(view_of[planted.rows], planted.cols, planted.weights, planted.shape,
                                        augmentation.image_labels, planted.text_labels)
    return captions, augmentation


def measure(config: MmclVsSsclConfig, seed: int) -> dict:
    captions, augmentation = graphs(config, seed)
    k = config.n_classes
    mmcl, sscl = verified(captions, k, seed), verified(augmentation, k, seed)
    return {"k": k, "mmcl": mmcl, "sscl": sscl,
            "winner_bound": _winner(mmcl["bound_rigorous_phi"], sscl["bound_rigorous_phi"]),
            "winner_probe": _winner(mmcl["probe_error_ls"], sscl["probe_error_ls"]),
            "passed": mmcl["passed"] and sscl["passed"]}


def _winner(mmcl: float, sscl: float) -> str:
    return "tie" if abs(mmcl - sscl) <= TIE else ("mmcl" if mmcl < sscl else "sscl")


def summarize(config: MmclVsSsclConfig, points: list[dict]) -> dict:
    """``map``: per (strength, noise) the seed means of phi, gap, bound and E_LS of each graph and the winners
    of the means; ``wins``: how many settings each graph wins by bound and by E_LS."""
    cells = {}
    for p in points:
        cells.setdefault((p["params"].get("strength", config.strength), p["params"].get("noise", config.noise)),
                         []).append(p)
    table = []
    for (strength, noise), group in sorted(cells.items()):
        row = {"strength": strength, "noise": noise}
        for side in ("mmcl", "sscl"):
            for metric in ("phi", "gap", "bound_rigorous_phi", "probe_error_ls"):
                row[f"{side}_{metric}"] = float(np.mean([p[side][metric] for p in group]))
        row["winner_bound"] = _winner(row["mmcl_bound_rigorous_phi"], row["sscl_bound_rigorous_phi"])
        row["winner_probe"] = _winner(row["mmcl_probe_error_ls"], row["sscl_probe_error_ls"])
        table.append(row)
    wins = {by: {side: sum(r[f"winner_{by}"] == side for r in table) for side in ("mmcl", "sscl", "tie")}
            for by in ("bound", "probe")}
    return {"map": table, "wins": wins}


EXPERIMENT = Experiment(
    name="mmcl-vs-sscl",
    claim="T5: on the same images, captions (diverse) against augmentations (consistent when weak, connected "
          "when strong): where each has the smaller bound and probe error",
    config=MmclVsSsclConfig,
    quick={"images_per_class": 8, "strength": [0.1, 0.5], "noise": [0.05, 0.3], "seeds": [0]},
    measure=measure,
    summarize=summarize,
    headline=("mmcl.phi", "sscl.phi", "mmcl.gap", "sscl.gap", "mmcl.bound_rigorous_phi", "sscl.bound_rigorous_phi",
              "mmcl.probe_error_ls", "sscl.probe_error_ls"),
    quick_seconds=8.0,
)
