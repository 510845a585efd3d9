"""Grow from seeds where it used to fail (issue 13): low contrast, more prompts, touching and
leaving objects. Cases from tests/seeds_cases.py, with truth; Dice / IoU asserted."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from scipy import ndimage as ndi
from seeds_cases import (
    crossing_cells, ct_lesion_plane, ct_lesion_volume, dice, iou, jumping_cell, leaving_cell, object_in_organ,
)  # fmt: skip

from napari_samlabel.backends.seeds import SeedGrowSegmenter, SeedTracker
from napari_samlabel.backends.tracking import FrameSource
from napari_samlabel.core.planes import Plane
from napari_samlabel.core.prompts import PromptSet


def centre(mask):
    d = ndi.distance_transform_edt(mask)
    return np.unravel_index(np.argmax(d), d.shape)


def bounds(mask, margin=1):
    rows, cols = np.nonzero(mask)
    return [rows.min() - margin, cols.min() - margin, rows.max() + margin, cols.max() + margin]


def frames_of(image, window=None):
    window = window or (float(image.min()), float(image.max()))
    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, window)


def inside_box(mask, box):
    r0, c0, r1, c1 = box
    outside = mask.copy()
    outside[r0 : r1 + 1, c0 : c1 + 1] = False
    return not outside.any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_click_in_a_low_contrast_lesion_stays_in_the_lesion(seed, record_property):
    """A lesion 60 HU above its organ, windowed W400/L40: one click gave the whole organ (Dice 0.03)."""
    rgb, lesion, organ = ct_lesion_plane(seed)
    seg = SeedGrowSegmenter()
    seg.set_image(rgb)
    pred = seg.predict(PromptSet([centre(lesion)], [1]))
    d = dice(pred.masks[0], lesion)
    record_property(f"ct_lesion_one_click_dice_{seed}", d)
    assert d > 0.9 and pred.masks[0].sum() < 1.5 * lesion.sum()
    assert all(m.sum() < 2 * lesion.sum() for m in pred.masks)  # no candidate is the organ


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_more_correct_prompts_never_make_the_lesion_worse(seed):
    """Box alone, then box + a positive click at its centre + negative clicks in the organ
    (one inside the box's corner, one outside it): gave 0.99 then 0.75."""
    rgb, lesion, organ = ct_lesion_plane(seed)
    seg = SeedGrowSegmenter()
    seg.set_image(rgb)
    box = bounds(lesion, 2)
    near = organ & ~ndi.binary_dilation(lesion, iterations=2)
    corner = (box[0] + 1, box[1] + 1) if near[box[0] + 1, box[1] + 1] else (box[2] - 1, box[3] - 1)
    assert near[corner]
    far = np.argwhere(organ & ~ndi.binary_dilation(lesion, iterations=15))[0]
    alone = seg.predict(PromptSet(box=box)).masks[0]
    more = seg.predict(PromptSet([centre(lesion), corner, far], [1, 0, 0], box)).masks[0]
    assert dice(alone, lesion) > 0.9
    assert dice(more, lesion) > 0.9 and dice(more, lesion) >= dice(alone, lesion) - 0.02
    assert inside_box(alone, box) and inside_box(more, box)


def test_a_box_through_an_object_is_a_hard_bound():
    rgb, lesion, organ = ct_lesion_plane(0)
    seg = SeedGrowSegmenter()
    seg.set_image(rgb)
    r0, c0, r1, c1 = bounds(lesion, 2)
    half = [r0, c0, (r0 + r1) // 2, c1]  # the top half of the lesion only
    for prompts in (PromptSet(box=half), PromptSet([centre(lesion)], [1], half)):
        pred = seg.predict(prompts)
        top = lesion.copy()
        top[half[2] + 1 :] = False
        assert all(inside_box(m, half) for m in pred.masks)
        assert dice(pred.masks[0], top) > 0.85


def test_tracking_a_lesion_through_the_slices_stays_in_it():
    case = ct_lesion_volume(1)
    vol, truth = case["volume"], case["truth"]
    frames = FrameSource(vol, Plane(vol.shape, (1, 2), (0, 0, 0)), 0, case["window"])
    mid = vol.shape[0] // 2
    per = {}
    for step in SeedTracker().track(frames, mid, {1: truth[mid]}, "both", n_frames=None):
        if truth[step.frame].sum() >= 40:  # the caps of the ellipsoid are a few pixels
            per[step.frame] = dice(step.objects[1].mask, truth[step.frame]) if 1 in step.objects else 0.0
    assert len(per) >= 4 and min(per.values()) > 0.8


def test_crossing_cells_keep_their_identities(record_property):
    """Two nuclei touch as they pass: the old tracker lost one for good (IoU 0) and the other's fell to 0.4."""
    image, truth = crossing_cells()
    per_frame = []
    for step in SeedTracker().track(frames_of(image), 0, {1: truth[0] == 1, 2: truth[0] == 2}, n_frames=None):
        per_frame.append([iou(step.objects[i].mask, truth[step.frame] == i) for i in (1, 2)])
        assert not (step.objects[1].mask & step.objects[2].mask).any()
    per_frame = np.array(per_frame)
    print("crossing cells, IoU per frame:", np.round(per_frame.T, 2).tolist())
    record_property("seeds_crossing_iou_min", float(per_frame.min()))
    assert len(per_frame) == len(image) - 1 and per_frame.min() > 0.8


def test_a_cell_that_leaves_stays_gone_and_border_noise_is_not_it():
    """It used to be missed for two frames, then glow and specks at the border became it again
    (275 px, 289 px), which also reset its 'stop after' count."""
    image, truth, gone = leaving_cell()
    steps = list(SeedTracker().track(frames_of(image), 0, {1: truth[0] == 1, 2: truth[0] == 2}, n_frames=None, stop_after=3))
    stopped_at = next(s.frame for s in steps if 1 in s.stopped)
    assert gone <= stopped_at <= gone + 2
    for s in steps:
        leaver = s.objects.get(1)
        if s.frame < gone - 1:  # still (mostly) in the field
            assert leaver.present and iou(leaver.mask, truth[s.frame] == 1) > 0.8
        if s.frame >= gone:
            assert leaver is None or not leaver.mask.any()
        assert iou(s.objects[2].mask, truth[s.frame] == 2) > 0.85  # the one that stays
    assert steps[-1].frame == len(image) - 1  # the other one is still tracked to the end


def test_a_keyframe_replaces_the_grown_mask_and_seeds_the_frames_after():
    image, truth = jumping_cell()
    start = {1: truth[0] == 1}
    lost = list(SeedTracker().track(frames_of(image), 0, start, n_frames=None, stop_after=2))
    assert not any(s.objects[1].present for s in lost if s.frame >= 5 and 1 in s.objects)  # it jumped: lost
    user = truth[5] == 1
    steps = list(SeedTracker().track(frames_of(image), 0, start, n_frames=None, stop_after=2, keyframes={5: {1: user}}))
    by_frame = {s.frame: s for s in steps}
    assert set(by_frame) == set(range(1, len(image)))  # stopped at 6-7 without it; the keyframe brings it back
    assert np.array_equal(by_frame[5].objects[1].mask, user) and by_frame[5].objects[1].score == 1.0
    for f in range(6, len(image)):
        assert iou(by_frame[f].objects[1].mask, truth[f] == 1) > 0.8


def test_a_keyframe_of_one_object_is_not_taken_by_another():
    image, truth = crossing_cells()
    mid = 7
    user = ndi.binary_dilation(truth[mid] == 1, iterations=2)  # the user drew it generously
    steps = list(SeedTracker().track(frames_of(image), 0, {1: truth[0] == 1, 2: truth[0] == 2}, n_frames=None,
                                     keyframes={mid: {1: user}}))  # fmt: skip
    s = next(s for s in steps if s.frame == mid)
    assert np.array_equal(s.objects[1].mask, user) and not (s.objects[2].mask & user).any()
    assert iou(s.objects[2].mask, (truth[mid] == 2) & ~user) > 0.8


# -- property: an added correct prompt never makes the result worse -----------------------

scenes = st.fixed_dictionaries({
    "cy": st.floats(24, 40), "cx": st.floats(24, 40), "ry": st.floats(5, 10), "rx": st.floats(5, 10),
    "contrast": st.sampled_from([-1, 1]).flatmap(lambda s: st.floats(25, 90).map(lambda c: s * c)),
    "organ_level": st.floats(110, 160), "fat_level": st.floats(10, 60),
    "noise": st.floats(0, 5), "blur": st.floats(0.6, 1.5), "seed": st.integers(0, 1000),
})  # fmt: skip


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(scene=scenes, start=st.sampled_from(["click", "box", "click+box"]),
       kind=st.sampled_from(["positive", "negative", "box"]), pick=st.floats(0, 1), margin=st.integers(1, 6))  # fmt: skip
@pytest.mark.slow
def test_an_added_correct_prompt_never_makes_it_worse(scene, start, kind, pick, margin):
    """Prompts a user might start with (a click at the centre, a box around the object, both),
    then one more correct prompt: a positive click anywhere well inside, a negative click
    anywhere clearly outside, or a box around it. The mask never leaves a box."""
    assume(not (kind == "box" and "box" in start))
    rgb, obj = object_in_organ(**scene)
    seg = SeedGrowSegmenter()
    seg.set_image(rgb)
    points, labels = ([centre(obj)], [1]) if "click" in start else ([], [])
    box = bounds(obj, margin) if "box" in start else None
    base = seg.predict(PromptSet(points, labels, box)).masks[0]
    if kind == "positive":
        deep = np.argwhere(ndi.distance_transform_edt(obj) >= 3)
        assume(len(deep))
        points, labels = points + [deep[int(pick * (len(deep) - 1))]], labels + [1]
    elif kind == "negative":
        away = np.argwhere(~ndi.binary_dilation(obj, iterations=3))
        points, labels = points + [away[int(pick * (len(away) - 1))]], labels + [0]
    else:
        box = bounds(obj, margin)
    more = seg.predict(PromptSet(points, labels, box))
    assert dice(more.masks[0], obj) >= dice(base, obj) - 0.05
    if box is not None:
        assert all(inside_box(m, np.clip(box, 0, 63)) for m in more.masks)
