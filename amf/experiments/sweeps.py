"""The T5 sweeps: caption diversity, and caption graphs (MMCL) against augmentation graphs (SSCL).

Every point comes from `amf.report.verify`, so each number a figure shows passed the theory checks of its
graph (the result records ``passed`` per point). Results are JSON-serializable dicts; figures only plot them.
"""

from __future__ import annotations

import numpy as np

import synthetic
from amf.graph import CoOccurrence
from amf.report import verify


def _point(edges, k: int, seed: int) -> dict:
    report, _ = verify(CoOccurrence.from_edges(edges), k, seed=seed)
    s = report["singular_values"]
    return {
        "params": edges.params,
        "k": k,
        "s_k": s[k - 1],
        "s_next": s[k],
        "gap": 1.0 - s[k] ** 2,
        "alpha": report["alpha"],
        "phi": report["phi"],
        "probe_error_ls": report["probe_error_ls"],
        "rigorous_phi": report["bounds"]["rigorous_phi"],
        "paper_form": report["bounds"]["paper_form"],
        "passed": report["passed"],
    }


def diversity_sweep(*, quick: bool = False, seed: int = 0) -> dict:
    """T5 diversity: caption diversity ``d`` from 0 to 1 at ``k = r``; the bound is vacuous at low diversity."""
    diversities = np.linspace(0.0, 1.0, 5 if quick else 11)
    params = dict(n_classes=4, styles_per_class=3, images_per_style=6, texts_per_style=4, noise=0.02)
    points = [
        _point(synthetic.diversity_model(diversity=float(d), **params), params["n_classes"], seed)
        for d in diversities
    ]
    return {"experiment": "diversity", "model": "diversity", "params": params, "points": points}


def mmcl_vs_sscl(*, quick: bool = False, seed: int = 0) -> dict:
    """T5 consistency and diversity: caption graphs (MMCL) against augmentation graphs (SSCL), both at ``k = r``.

    Captions: planted graphs with class noise ``noise`` (less consistent as noise grows) whose texts link many
    images of a class (diverse). Augmentations: each view links its source, with weight ``strength`` one other
    source of its class, and with weight ``strength / 4`` one source of another class: stronger augmentations
    connect a class better (more diverse) but change the object more often (less consistent).
    """
    r = 4
    noises = [0.05, 0.2] if quick else [0.02, 0.05, 0.1, 0.2, 0.3]
    strengths = [0.1, 0.5] if quick else [0.05, 0.1, 0.2, 0.4, 0.8]
    captions = [
        _point(
            synthetic.planted_model(n_images=160, n_texts=120, n_edges=1600, n_classes=r, noise=noise, seed=seed),
            r,
            seed,
        )
        for noise in noises
    ]
    augmentations = [
        _point(
            synthetic.augmentation_model(
                n_classes=r, images_per_class=10, views_per_image=4, strength=strength,
                confusion=strength / 4, seed=seed,
            ),
            r,
            seed,
        )
        for strength in strengths
    ]
    return {"experiment": "mmcl_vs_sscl", "captions": captions, "augmentations": augmentations}
