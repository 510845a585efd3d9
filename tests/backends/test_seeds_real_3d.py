"""One click on a nucleus' middle slice, propagated through the slices both ways (issue 25): the
object stops where it ends instead of running into the nucleus stacked above or below.

On StarDist's synthetic 3D nuclei (tests/data: made by others, 52 nuclei, 31 slices; 51 large
enough to click). Before the stop rules (an object that narrowed past its peak and grows again
from its least section since, or spreads out of its last section, is another object:
``seeds._Track.regrows``/``strays``) the mean 3D Dice was 0.45 from clicks and 0.50 from the true
middle sections; now 0.64 and 0.76. The
issue's goal (0.85) is not met: stacked nuclei that touch in z with the same brightness still
carry some objects on. The figures come
from :func:`propagate_all` below.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.backends.tracking import FrameSource
from napari_samlabel.core.planes import Plane
from napari_samlabel.core.prompts import PromptSet
from real_nuclei import as_rgb, click_point, dice, nuclei_3d


def propagate_all(from_truth: bool) -> tuple[list[float], list[int]]:
    """(3D Dice of each nucleus, slices it was carried past its true end): one click at the
    innermost pixel of its largest section (or that section itself), then both ways."""
    img, lab = nuclei_3d()
    lo, hi = float(img.min()), float(img.max())
    seg = SeedGrowSegmenter()
    tracker = seg.tracker()
    dices, over = [], []
    for i in (int(v) for v in np.unique(lab) if v):
        obj = lab == i
        areas = obj.sum(axis=(1, 2))
        z = int(np.argmax(areas))
        if areas.max() < 30:
            continue
        if from_truth:
            start = obj[z]
        else:
            seg.set_image(as_rgb(img[z], lo, hi))
            start = seg.predict(PromptSet([click_point(obj[z])], [1])).masks[0]
        vol = np.zeros_like(obj)
        vol[z] = start
        frames = FrameSource(img, Plane(img.shape, (1, 2), (z, 0, 0)), 0, (lo, hi))
        for step in tracker.track(frames, z, {1: start}, "both", n_frames=None, stop_after=1):
            found = step.objects.get(1)
            if found is not None and found.present:
                vol[step.frame] = found.mask
        dices.append(dice(vol, obj))
        over.append(int(vol.any(axis=(1, 2)).sum() - obj.any(axis=(1, 2)).sum()))
    return dices, over


@pytest.mark.slow  # 51 propagations through 31 slices (about 10 s)
def test_propagation_through_slices_stops_nearer_where_each_nucleus_ends():
    truth, over = propagate_all(from_truth=True)
    clicks, _ = propagate_all(from_truth=False)
    print(f"mean 3D Dice from the true middle section {np.mean(truth):.3f}, from one click {np.mean(clicks):.3f}; "
          f"slices carried past the end: median {np.median(over):.0f}, max {max(over)}")  # fmt: skip
    assert len(truth) == 51
    assert np.mean(truth) >= 0.74 and np.mean(clicks) >= 0.60  # 0.50 and 0.45 before the stop rules
    assert np.median(over) <= 2 and max(over) <= 12  # before: 12 and 28, objects ran on through the stack
