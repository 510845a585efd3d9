"""Grow from seeds on a low-contrast organ (issue 25), and what a refused lesion-in-organ click says."""

import numpy as np
import pytest
from seeds_cases import dice
from seeds_organ_case import ct_organ_plane

from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.core import Annotation, AnnotationError, Ontology
from napari_samlabel.core.prompts import PromptSet


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_click_on_an_organ_30_hu_above_its_surround_stays_inside(seed, record_property):
    """Seed 2 gave 41-139 px before (the organ filled the click's window, so it was taken for a dark
    object); the goal is Dice >= 0.85 and no leak across the body."""
    case = ct_organ_plane(seed)
    seg = SeedGrowSegmenter()
    seg.set_image(case["rgb"])
    pred = seg.predict(PromptSet([case["click"]], [1]))
    d = dice(pred.masks[0], case["organ"])
    record_property(f"ct_organ_one_click_dice_{seed}", d)
    assert d >= 0.85 and pred.masks[0].sum() < 1.2 * case["organ"].sum()


def test_a_lesion_refused_inside_a_labelled_organ_says_what_would_work():
    onto = Ontology()
    onto.add("organ")
    onto.add("lesion")
    ann = Annotation(np.zeros((64, 64), np.uint16), onto)
    organ = ann.new_instance("organ")
    yy, xx = np.mgrid[:64, :64]
    ann.write_mask((yy - 32) ** 2 + (xx - 32) ** 2 <= 20**2, organ.id)
    lesion = ann.new_instance("lesion")
    with pytest.raises(AnnotationError) as err:
        ann.write_mask((yy - 30) ** 2 + (xx - 30) ** 2 <= 4**2, lesion.id, mode="exclude", require_pixels=True)
    msg = str(err.value)
    assert "\n" not in msg and "'overwrite' mode" in msg and "'Into selected'" in msg
