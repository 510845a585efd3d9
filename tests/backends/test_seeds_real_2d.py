"""Grow from seeds on a real image (issue 25): the DSB 2018 fluorescence field in tests/data
(hand-made masks), each half on its own (tune on one, check the other). Figures:
``python benchmarks/bench_seeds_real.py --old-rev af83d97``."""

import sys
from pathlib import Path

import pytest
from real_nuclei import as_rgb, click_point, nuclei_2d, objects

from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.core.prompts import PromptSet

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from bench_seeds_real import click, label_all  # noqa: E402


@pytest.fixture(scope="module")
def real():
    return nuclei_2d()


@pytest.fixture(scope="module")
def clicks(real):
    return click(SeedGrowSegmenter(), *real)


@pytest.mark.slow
@pytest.mark.parametrize("side", ["left", "right"])
def test_one_click_per_real_nucleus(clicks, side, record_property):
    """Goal 0.90 isolated, 0.85 touching. Before (af83d97): left 0.850 / 0.619, right 0.881 / 0.666;
    then 0.877 / 0.781 and 0.907 / 0.847; now (the main band first, not the crispest-looking one)
    0.889 / 0.816 and 0.905 / 0.900, asserted with a margin: the goal is met on the right half only."""
    res = clicks[side]
    record_property(f"real_{side}_isolated", res["isolated"][1])
    record_property(f"real_{side}_touching", res["touching"][1])
    isolated, touching = {"left": (0.88, 0.80), "right": (0.895, 0.885)}[side]
    assert res["isolated"][1] >= isolated and res["touching"][1] >= touching


@pytest.mark.slow
def test_a_negative_click_on_a_real_touching_neighbour(clicks):
    """Every real touching pair (52): a negative click on the neighbour's centre. Goal: never worse
    by more than 0.02. Before (af83d97): 10 worse by > 0.02 (worst -0.44); then 3 on the left half
    (worst -0.43: the valley cut between the clicks); now 0 (the split's parts that hold the
    negative seed go, else the cut is at the neck of the cores' distance transform)."""
    assert clicks["left"]["negative_clicks"] + clicks["right"]["negative_clicks"] == 52
    assert clicks["left"]["worse_by_0.02"] == 0 and clicks["right"]["worse_by_0.02"] == 0
    assert min(clicks["left"]["worst"], clicks["right"]["worst"]) >= -0.02


@pytest.mark.slow
def test_a_click_is_fast_enough(clicks):
    assert clicks["click_ms_median"] <= 50


@pytest.mark.slow
def test_label_all_is_at_least_the_classical_pipeline(real):
    """AP at IoU 0.5 per half: ours 0.728 / 0.895, scikit-image's Otsu + distance watershed 0.528 / 0.549."""
    ap = label_all(SeedGrowSegmenter(), *real)
    for side in ("left", "right"):
        assert ap[side]["seeds"] >= ap[side]["classical"]


def test_two_touching_real_nuclei_are_split_at_the_neck(real):
    """One real clump (nucleus 24 and its 3 touching neighbours): the click gave all four (1696 px)."""
    img, lab = real
    assert 24 in objects(lab)
    m = lab == 24
    seg = SeedGrowSegmenter()
    seg.set_image(as_rgb(img))
    pred = seg.predict(PromptSet([click_point(m)], [1])).masks[0]
    assert pred.sum() < 1.6 * m.sum() and 2 * (pred & m).sum() / (pred.sum() + m.sum()) > 0.75
