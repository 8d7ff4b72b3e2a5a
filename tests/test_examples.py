"""The scripts in examples/ run as shipped (small settings) and produce what they promise."""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # an InfoNCE training (seconds)
def test_train_infonce_prints_the_model_card(tmp_path, capsys):
    """A small InfoNCE model: the card is printed first and written, and measures a model that is not the
    minimizer (InfoNCE is not the spectral loss), with the loss after the best linear maps between L_min and L."""
    example = load("train_infonce")
    out = tmp_path / "card.json"
    report = example.main(["--images", "60", "--texts", "50", "--edges", "800", "--steps", "60", "--batch-size",
                           "64", "--json", str(out)])
    printed = capsys.readouterr().out
    assert printed.startswith("model card: the embeddings encoders") and "verdict: NOT the Eckart-Young" in printed
    card = json.loads(out.read_text())["card"]
    assert card["loss"] == pytest.approx(report["card"]["loss"], rel=1e-12)
    assert card["minimizer"]["passed"] is False and report["passed"] is False
    assert card["loss_min"] <= card["loss_linear"] <= card["loss"]
    assert 0 <= card["subspace_distance"] <= 1 and len(card["principal_angles"]) == 4
