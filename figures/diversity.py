"""``diversity``: captions that reach more styles of their class open the spectral gap and make the bound say
something.

Reads the ``diversity`` experiment (`amf.experiments.captions`): per setting the seed summary of ``s_{k+1}``, the
``spectral_gap = 1 - s_{k+1}^2`` and ``phi`` (left; the closed-form ``s_{k+1}`` of the population dashed where the
points were sampled) and of the measured ``E_LS`` beside the proved bound ``2 phi / spectral_gap`` (right, log
scale, zeros on a marked floor, the vacuous region shaded), against the swept ``diversity``.
"""

from __future__ import annotations

from figures.consistency import sweep_figure


def draw(results: dict, arrays: dict):
    return sweep_figure(results, "diversity", ("s_next", "spectral_gap", "phi"),
                        ("probe_error_ls", "bound_rigorous_phi"),
                        "More diverse captions: a wider spectral_gap, an informative bound")
