"""Tracking without napari: frame ranges, Grow-from-seeds propagation quality, interpolation."""

import numpy as np
import pytest

from napari_samlabel.backends.seeds import SeedTracker
from napari_samlabel.backends.tracking import FrameSource, frame_order
from napari_samlabel.core.interpolate import interpolate_masks, keyframe_gaps
from napari_samlabel.core.planes import Plane
from napari_samlabel.synthetic import disc, fluorescence_timelapse


def iou(a, b):
    return (a & b).sum() / max((a | b).sum(), 1)


def test_frame_order_counts_the_start_frame():
    assert frame_order(5, 20, "forward", 4) == [[6, 7, 8]]
    assert frame_order(5, 20, "backward", 4) == [[4, 3, 2]]
    assert frame_order(5, 20, "both", 30) == [list(range(6, 20)), [4, 3, 2, 1, 0]]
    assert frame_order(18, 20, "forward", None) == [[19]]
    with pytest.raises(ValueError, match="direction"):
        frame_order(0, 5, "sideways", 3)


@pytest.fixture(scope="module")
def tracking_movie():
    return fluorescence_timelapse(n_frames=20, size=128, n_cells=6, seed=3)


def test_seeds_follow_moving_deforming_nuclei(tracking_movie, record_property):
    image, truth = tracking_movie
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (image.min(), image.max()))
    ids = [i for i in np.unique(truth[0]) if i and i != 1]  # 1 leaves the field; see below
    per_frame = []
    for step in SeedTracker().track(frames, 0, {i: truth[0] == i for i in ids}, "forward", n_frames=20):
        per_frame.append(np.mean([iou(step.objects[i].mask, truth[step.frame] == i) for i in ids]))
    print("seeds tracking IoU per frame:", " ".join(f"{v:.2f}" for v in per_frame))
    record_property("seeds_tracking_iou_mean", float(np.mean(per_frame)))
    assert len(per_frame) == 19 and np.mean(per_frame) > 0.85 and min(per_frame) > 0.75


def test_object_leaving_the_field_stops_and_is_not_labeled(tracking_movie):
    image, truth = tracking_movie
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (image.min(), image.max()))
    gone = next(t for t in range(20) if not (truth[t] == 1).any())
    steps = list(SeedTracker().track(frames, 0, {1: truth[0] == 1}, "forward", n_frames=None, stop_after=2))
    stopped_at = next(s.frame for s in steps if 1 in s.stopped)
    assert gone <= stopped_at <= gone + 2
    area = (truth[0] == 1).sum()
    for s in steps:
        if s.frame == gone:  # its blurred edge may still glow at the border for a frame
            assert s.objects[1].mask.sum() < area / 3
        if s.frame > gone:
            assert not s.objects[1].present and not s.objects[1].mask.any()
    assert steps[-1].frame == stopped_at  # nothing left to track: the run ends


def test_cancel_stops_within_one_frame(tracking_movie):
    image, truth = tracking_movie
    frames = FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (image.min(), image.max()))
    seen = []
    for step in SeedTracker().track(frames, 0, {2: truth[0] == 2}, cancelled=lambda: len(seen) >= 3):
        seen.append(step.frame)
    assert seen == [1, 2, 3]


def test_shape_based_interpolation_morphs(record_property):
    small, big = disc((80, 80), 40, 20, 6), disc((80, 80), 40, 60, 16)
    between = interpolate_masks(small, big, 3)
    dices = []
    for k, m in enumerate(between, start=1):
        w = k / 4
        ideal = disc((80, 80), 40, 20 + 40 * w, 6 + 10 * w)
        dices.append(2 * (m & ideal).sum() / (m.sum() + ideal.sum()))
    print("interpolation Dice vs the ideal in-between discs:", [round(d, 3) for d in dices])
    record_property("interpolation_dice_min", float(min(dices)))
    assert min(dices) > 0.9
    assert keyframe_gaps({0, 1, 4, 9}) == [(1, 4), (4, 9)]
    with pytest.raises(ValueError, match="non-empty"):
        interpolate_masks(small, np.zeros_like(small), 2)
