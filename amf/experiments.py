"""Experiments behind the figures: each runs verified solves on synthetic graphs and returns plain results.

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


def finite_samples(*, quick: bool = False, seed: int = 0) -> dict:
    """T4 finite samples: the probe error of the empirical minimizer (exact SVD of ``n`` sampled pairs), evaluated
    on the population, against ``n``; the population minimizer's error is the floor. Measured, not asserted: the
    paper's complexity term is not confirmed (THEORY.md T4)."""
    from amf.sampling import probe_error_curve

    params = dict(n_images=300, n_texts=240, n_edges=6000, n_classes=4, noise=0.2)
    graph = CoOccurrence.from_edges(synthetic.planted_model(seed=seed, **params))
    ns = [300, 1000, 3000, 10000] if quick else [300, 600, 1000, 2000, 4000, 10000, 30000, 100000]
    rows = probe_error_curve(graph, params["n_classes"], ns, seed, repeats=1 if quick else 3)
    return {"experiment": "finite_samples", "model": "planted", "params": params, "k": params["n_classes"],
            "samples": rows}


def resampling(*, quick: bool = False, seed: int = 0) -> dict:
    """THEORY.md section 5 on a synthetic simulator (`amf.resampling`): SSCL against the paper's four CLIP-guided
    edits (AddNewPositive, DropFalsePositive, DropFalseNegative, DropEasyNegative), the text-induced embedding of
    a noisy caption graph standing in for CLIP. Per seed and ``k``: the probe error of the trained view encoder,
    ``phi`` and the gap of the edited positive graph. Measured, not asserted: the paper's ImageNet accuracies are
    stored beside ours for reference only."""
    from amf import resampling as rs

    params = dict(n_classes=4, images_per_class=16, views_per_image=4, strength=0.1, confusion=0.1,
                  clip_noise=0.3, clip_edges_per_image=8)
    seeds = [seed + i for i in range(2 if quick else 5)]
    ks = [params["n_classes"]] if quick else [params["n_classes"], 2 * params["n_classes"]]
    rows, clip, sensitivity = [], [], []
    for s in seeds:
        sim = rs.simulator(seed=s, **params)
        clip.append({"seed": s, **sim.clip})
        for k in ks:
            rows += rs.compare(sim, k, seed=s)
        if not quick and s - seed < 3:
            sensitivity += rs.sensitivity(sim, params["n_classes"], {
                "add_new_positive": [0.1, 0.25, 0.5], "drop_false_positive": [0.05, 0.1, 0.2],
                "drop_false_negative": [0.02, 0.05, 0.1], "drop_easy_negative": [0.05, 0.1, 0.2]}, seed=s)
    return {
        "experiment": "resampling",
        "model": "augmentation graph (SSCL) + planted caption graph as CLIP",
        "params": params,
        "n_views": params["n_classes"] * params["images_per_class"] * params["views_per_image"],
        "seeds": seeds,
        "k": ks,
        "method_parameters": dict(rs.DEFAULT_FRACTIONS),
        "clip": clip,
        "rows": rows,
        "summary": rs.summarize(rows),
        "sensitivity": sensitivity,
        "paper_imagenet_accuracy": {
            "note": "the PAPER's ImageNet-100 linear-probe accuracies in percent (SimCLR, ResNet-18), THEORY.md "
                    "section 5; NOT produced by this simulator; higher is better, unlike our probe errors",
            "values": dict(rs.PAPER_IMAGENET_ACCURACY),
        },
    }
