"""Keyframes (issue 12, part 3): an instance's frames the user made or corrected.

Tracking conditions on all of them in its range and never writes over them;
interpolation fills between them (replacing tracked and interpolated frames), so
re-interpolating after a keyframe was edited works; undo brings back exactly the
keyframes there were. The SAM 2 tests run the real code path with random weights.
"""

import numpy as np
import pytest
from napari.components import ViewerModel
from scipy import ndimage as ndi

from napari_samlabel._napari.tracking import TrackOptions, make_job
from napari_samlabel.api import start_session
from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.backends.tracking import FrameSource, ObjectResult, TrackStep
from napari_samlabel.core import Annotation
from napari_samlabel.core.compose import Mode
from napari_samlabel.core.planes import Plane
from napari_samlabel.core.tracking_run import TrackOptions as CoreOptions, TrackRun
from napari_samlabel.synthetic import fluorescence_timelapse


@pytest.fixture
def setup(movie, classes):
    image, truth = movie
    viewer = ViewerModel()
    s = start_session(viewer, viewer.add_image(image), ontology=classes)
    viewer.dims.set_current_step(0, 6)
    a = s.commit(truth[6] == 2, region=(6,))
    return viewer, s, truth, a.id


def disc(shape, centre, radius):
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2


# -- which frames are keyframes, and undo -------------------------------------------------
def test_keyframes_are_the_frames_the_user_made_or_corrected_and_undo_restores_them(setup):
    viewer, s, truth, a = setup
    make_job(s, SeedGrowSegmenter().tracker(), [a], TrackOptions("forward", 6)).run()
    rec = s.table[a]
    assert rec.frames == set(range(6, 12)) and rec.keyframes == {6}  # tracked frames are not keyframes
    # a correction by commit (a prompt's mask) on a tracked frame makes it a keyframe
    s.commit(ndi.binary_dilation(s.labels.data[9] == a, iterations=2), region=(9,), label_id=a, replace=True)
    assert s.table[a].keyframes == {6, 9}
    # napari's own brush on a tracked frame, too
    rows, cols = np.nonzero(s.labels.data[10] == a)
    s.labels.brush_size = 5
    s.labels.paint((10, int(rows.max()) + 1, int(cols.mean())), a)  # grows it at its edge
    assert s.table[a].keyframes == {6, 9, 10}
    s.labels.undo()
    assert s.table[a].keyframes == {6, 9}
    s.labels.undo()
    assert s.table[a].keyframes == {6} and s.table[a].source_on(9) == "tracked"
    s.labels.redo()
    assert s.table[a].keyframes == {6, 9}
    # the model's own masks (label all, imports) are the user's choice too: keyframes
    b = s.commit(truth[3] == 3, region=(3,), source="model", confidence=0.8)
    assert s.table[b.id].keyframes == {3}


# -- interpolation between keyframes -------------------------------------------------------
def test_reinterpolating_after_a_keyframe_was_edited_follows_the_new_keyframe(setup):
    viewer, s, truth, a = setup
    shape = truth.shape[1:]
    s.commit(disc(shape, (30, 30), 8), region=(2,), label_id=a)
    s.commit(disc(shape, (30, 60), 8), region=(12,), label_id=a)
    ann = s.annotation
    ann.interpolate(a, frames=(2, 6))  # 3-5 between the keyframes 2 and 6
    first = ann.interpolate(a, frames=(6, 12))
    assert first == [7, 8, 9, 10, 11] and s.table[a].keyframes == {2, 6, 12}
    before = s.labels.data.copy()
    # the user moves the object on keyframe 12; re-interpolating used to say "no gap"
    s.commit(disc(shape, (80, 60), 8), region=(12,), label_id=a, replace=True)
    again = ann.interpolate(a, frames=(6, 12))
    assert again == [7, 8, 9, 10, 11]
    rows, _ = np.nonzero(s.labels.data[11] == a)
    old_rows, _ = np.nonzero(before[11] == a)
    assert rows.mean() > old_rows.mean() + 30  # frame 11 follows the keyframe to its new place
    assert not ((before[11] == a) & ~disc(shape, (75, 60), 12) & (s.labels.data[11] == a)).any()  # the old shape is gone
    assert [s.table[a].source_on(f) for f in (6, 9, 12)] == ["manual", "interpolated", "manual"]
    s.labels.undo()  # the re-interpolation
    s.labels.undo()  # the edit of keyframe 12
    assert (s.labels.data == before).all()


def test_interpolating_after_tracking_fills_between_keyframes_and_keeps_the_rest(setup):
    viewer, s, truth, a = setup
    make_job(s, SeedGrowSegmenter().tracker(), [a], TrackOptions("forward", 8)).run()  # 7-13 tracked
    tracked = s.labels.data.copy()
    corrected = ndi.binary_dilation(tracked[10] == a, iterations=2)
    s.commit(corrected, region=(10,), label_id=a, replace=True)  # corrects frame 10
    filled = s.annotation.interpolate(a)
    assert filled == [7, 8, 9]
    assert [s.table[a].source_on(f) for f in range(6, 14)] == (
        ["manual"] + ["interpolated"] * 3 + ["manual"] + ["tracked"] * 3
    )
    assert (s.labels.data[11:] == tracked[11:]).all()


# -- the run: keyframes to the tracker, never written over -------------------------------
class FixedMaskTrackerDouble:
    """A test double: 'tracks' by yielding given masks on every frame, and keeps the
    keyframes it was given."""

    name = "double"

    def __init__(self, out):
        self.out, self.got = out, None

    def track(self, frames, start, masks, direction="forward", n_frames=30, stop_after=None,
              cancelled=lambda: False, keyframes=None):  # fmt: skip
        from napari_samlabel.core.tracking_run import frame_order

        self.got = keyframes
        for order in frame_order(start, len(frames), direction, n_frames):
            for f in order:
                yield TrackStep(f, {i: ObjectResult(m.copy(), 0.7, True) for i, m in self.out.items()})


def run_on(labels, table_setup, tracker, ids, start, options, axis=0):
    ann = Annotation(labels, frame_axis=0)
    ann.ontology.add("cell")
    ann.sync_frames()
    table_setup(ann)
    plane = Plane(labels.shape, tuple(a for a in range(labels.ndim) if a != axis)[-2:], (0,) * labels.ndim)
    frames = FrameSource(np.zeros(labels.shape, np.uint8), plane, axis, (0, 1))
    return ann, TrackRun(ann, tracker, frames, ids, start, options).run()


def test_a_run_passes_the_keyframes_in_its_range_and_never_writes_over_them():
    shape = (10, 40, 40)
    labels = np.zeros(shape, np.uint32)
    a_start, a_key, b_start = disc(shape[1:], (10, 10), 5), disc(shape[1:], (20, 20), 6), disc(shape[1:], (30, 30), 5)
    labels[1][a_start] = 1
    labels[5][a_key] = 1
    labels[8][disc(shape[1:], (10, 30), 4)] = 1  # a keyframe outside the run's range
    labels[1][b_start] = 2

    def sources(ann):
        for f in (1, 5, 8):
            ann.table[1].set_frame(f, "manual", 1.0)
        ann.table[2].set_frame(1, "manual", 1.0)

    # both objects 'track' to masks that cover a's keyframe pixels, in overwrite mode
    out_a, out_b = disc(shape[1:], (20, 20), 9), disc(shape[1:], (26, 26), 6)
    assert (out_b & a_key).any()
    double = FixedMaskTrackerDouble({1: out_a, 2: out_b})
    ann, run = run_on(labels, sources, double, [1, 2], 1, CoreOptions("forward", 6, None, Mode.OVERWRITE))
    assert ((labels[5] == 1) == a_key).all()  # a's keyframe is as the user drew it ...
    assert ((labels[5] == 2) == (out_b & ~a_key)).all()  # ... and b took none of its pixels
    assert ((labels[4] == 2) == out_b).all()  # (elsewhere overwrite mode is what it is)
    assert ann.table[1].source_on(5) == "manual" and ann.table[1].keyframes == {1, 5, 8}
    assert set(double.got) == {5} and set(double.got[5]) == {1}  # in 2-6 only; b has none
    np.testing.assert_array_equal(double.got[5][1], a_key)
    assert ann.table[1].source_on(4) == ann.table[2].source_on(4) == "tracked"
    assert run.done == 5


def test_keyframes_are_frames_of_the_frame_axis_on_the_tracked_slice():
    shape = (4, 6, 30, 30)  # t, z, y, x: frames are time points
    labels = np.zeros(shape, np.uint32)
    labels[0, 0][disc(shape[2:], (10, 10), 4)] = 1
    labels[2, 0][disc(shape[2:], (12, 10), 4)] = 1
    labels[3, 5][disc(shape[2:], (12, 10), 4)] = 1  # a keyframe on another slice: nothing on z=0
    double = FixedMaskTrackerDouble({1: disc(shape[2:], (10, 10), 4)})
    run_on(labels.copy(), lambda ann: None, double, [1], 0, CoreOptions("forward", 4), axis=0)  # through time
    assert set(double.got) == {2} and double.got[2][1].sum() == disc(shape[2:], (12, 10), 4).sum()
    double.got = None
    run_on(labels.copy(), lambda ann: None, double, [1], 0, CoreOptions("forward", 4), axis=1)  # through z
    assert double.got is None  # t's keyframes are not z's


# -- SAM 2 (random weights): a second keyframe is a conditioning frame ----------------------
sam2_tests = pytest.mark.skipif(
    not __import__("importlib").util.find_spec("sam2"), reason="sam2 is not installed"
)


@pytest.fixture(scope="module")
def small_movie():
    return fluorescence_timelapse(n_frames=12, size=64, n_cells=3, seed=5)


def frames_of(image):
    return FrameSource(image, Plane(image.shape, (1, 2), (0, 0, 0)), 0, (float(image.min()), float(image.max())))


@pytest.mark.slow
@sam2_tests
def test_sam2_conditions_on_every_keyframe_in_the_range(model, small_movie):
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    image, truth = small_movie
    tracker = Sam2Tracker(model)
    masks = {7: truth[2] == 1, 9: truth[2] == 2}
    key = truth[5] == 1
    keyframes = {5: {7: key}, 10: {7: truth[10] == 1}}  # 10 is past the range (2-7)
    steps = list(tracker.track(frames_of(image), 2, masks, "forward", n_frames=6, keyframes=keyframes))
    assert [s.frame for s in steps] == [3, 4, 5, 6, 7]
    state = tracker.last_state
    cond = [sorted(state["output_dict_per_obj"][state["obj_id_to_idx"][i]]["cond_frame_outputs"]) for i in (7, 9)]
    assert cond == [[2, 5], [2]]  # object 7 is conditioned on its keyframe too; 9 has none
    # what SAM 2 keeps of frame 5 is the user's mask (its low-res logits, seen at the frame's size)
    import torch

    low = state["output_dict_per_obj"][state["obj_id_to_idx"][7]]["cond_frame_outputs"][5]["pred_masks"]
    seen = torch.nn.functional.interpolate(low.float(), size=key.shape, mode="bilinear")[0, 0].numpy() > 0
    assert 2 * (seen & key).sum() / (seen.sum() + key.sum()) > 0.8
    # on its keyframe the object is the user's: the step leaves it out, the other is tracked
    step5 = next(s for s in steps if s.frame == 5)
    assert set(step5.objects) == {9}
    assert all(set(s.objects) == {7, 9} for s in steps if s.frame != 5)
    # without keyframes: only the start frame conditions (what every run did before)
    list(tracker.track(frames_of(image), 2, {7: masks[7]}, "forward", n_frames=2))
    assert sorted(tracker.last_state["output_dict_per_obj"][0]["cond_frame_outputs"]) == [2]


@pytest.mark.slow  # ~4 s of SAM 2 tracking: the full suite's
@sam2_tests
def test_sam2_backward_pass_takes_the_keyframes_before_the_start(model, small_movie):
    from napari_samlabel.backends.sam2_video import Sam2Tracker

    image, truth = small_movie
    tracker = Sam2Tracker(model)
    steps = list(tracker.track(frames_of(image), 6, {1: truth[6] == 1}, "both", n_frames=4,
                               keyframes={3: {1: truth[3] == 1}, 8: {1: truth[8] == 1}}))  # fmt: skip
    assert [s.frame for s in steps] == [7, 8, 9, 5, 4, 3]
    assert sorted(tracker.last_state["output_dict_per_obj"][0]["cond_frame_outputs"]) == [3, 6]  # the backward pass
    assert [set(s.objects) for s in steps] == [{1}, set(), {1}, {1}, {1}, set()]


@pytest.mark.slow
@sam2_tests
def test_an_object_that_stopped_is_tracked_again_from_its_keyframe(model, small_movie, monkeypatch):
    """SAM 2 with random weights never loses these cells, so a test double of its
    propagation empties the masks of frames 2-4 (as if the object were lost there)."""
    import torch

    from napari_samlabel.backends.sam2_video import Sam2Tracker

    real = model.propagate_in_video

    def losing_propagation_double(state, *args, **kwargs):
        for frame, ids, masks in real(state, *args, **kwargs):
            yield frame, ids, (torch.full_like(masks, -10.0) if 2 <= frame <= 4 else masks)

    monkeypatch.setattr(model, "propagate_in_video", losing_propagation_double)
    image, truth = small_movie
    masks = {1: truth[0] == 1}
    plain = list(Sam2Tracker(model).track(frames_of(image), 0, masks, n_frames=None, stop_after=1))
    assert [s.frame for s in plain] == [1, 2] and plain[-1].stopped == (1,)  # lost at 2: the run ends
    steps = list(Sam2Tracker(model).track(frames_of(image), 0, masks, n_frames=None, stop_after=1,
                                           keyframes={6: {1: truth[6] == 1}}))  # fmt: skip
    assert [s.frame for s in steps] == list(range(1, 12))  # on to the keyframe, and on from it
    assert [sorted(s.objects) for s in steps] == [[1], [1]] + [[]] * 4 + [[1]] * 5
    assert all(s.objects[1].present for s in steps[6:])


@pytest.mark.slow
@sam2_tests
def test_a_session_run_with_sam2_keeps_a_corrected_frame_and_conditions_on_it(model, small_movie, classes):
    from napari_samlabel.backends.sam2 import Sam2Segmenter

    image, truth = small_movie
    viewer = ViewerModel()
    s = start_session(viewer, viewer.add_image(image), ontology=classes)
    viewer.dims.set_current_step(0, 2)
    rec = s.commit(truth[2] == 1, region=(2,))
    tracker = Sam2Segmenter(model).tracker()
    make_job(s, tracker, [rec.id], TrackOptions("forward", 8)).run()  # 3-9 tracked
    # the user corrects frame 5 (a click there, committed) and tracks again from the start
    s.commit(truth[5] == 1, region=(5,), label_id=rec.id, replace=True)
    before = s.labels.data.copy()
    corrected = before[5] == rec.id
    assert corrected.sum() < 100  # random weights had tracked it over most of the frame
    make_job(s, tracker, [rec.id], TrackOptions("forward", 8), start=2).run()
    assert sorted(tracker.last_state["output_dict_per_obj"][0]["cond_frame_outputs"]) == [2, 5]
    assert ((s.labels.data[5] == rec.id) == corrected).all()  # the correction stays
    assert (s.labels.data[[3, 4, 6]] != before[[3, 4, 6]]).any()  # the frames around it were tracked again
    assert s.table[rec.id].keyframes == {2, 5} and s.table[rec.id].source_on(5) == "manual"
    s.labels.undo()
    assert (s.labels.data == before).all() and s.table[rec.id].keyframes == {2, 5}


# -- the Instances dock shows them ---------------------------------------------------------
def test_the_instances_rows_show_the_keyframes_and_follow_undo(setup):
    from napari_samlabel._napari.instance_rows import SORT_KEYS, RowTracker

    viewer, s, truth, a = setup
    rows = RowTracker()
    rows.update(s.table)
    make_job(s, SeedGrowSegmenter().tracker(), [a], TrackOptions("forward", 6)).run()
    rows.update(s.table)
    assert (rows.rows[a].frames_text, rows.rows[a].keys_text) == ("6-11", "6")
    s.commit(ndi.binary_dilation(s.labels.data[9] == a, iterations=2), region=(9,), label_id=a, replace=True)
    assert rows.update(s.table).changed == [a] and rows.rows[a].keys_text == "6, 9"
    s.labels.undo()
    assert rows.update(s.table).changed == [a] and rows.rows[a].keys_text == "6"
    b = s.commit(truth[3] == 3, region=(3,))
    s.commit(truth[5] == 3, region=(5,), label_id=b.id)
    rows.update(s.table)
    assert SORT_KEYS["keyframes"](rows.rows[b.id]) > SORT_KEYS["keyframes"](rows.rows[a])  # two keyframes sort after one


@pytest.mark.slow
def test_the_instances_dock_has_a_keys_column(make_napari_viewer, qtbot, movie, classes):
    from qtpy.QtCore import Qt

    from napari_samlabel._qt.instances_widget import COL_FRAMES, COL_NAME, COLUMNS, ID_ROLE

    image, truth = movie
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 740)
    s = start_session(viewer, viewer.add_image(image), ontology=classes)
    _, dock = viewer.window.add_plugin_dock_widget("napari-samlabel", "Instances")
    a = s.commit(truth[6] == 2, region=(6,)).id
    make_job(s, SeedGrowSegmenter().tracker(), [a], TrackOptions("forward", 6)).run()
    s.commit(ndi.binary_dilation(s.labels.data[9] == a, iterations=2), region=(9,), label_id=a, replace=True)
    qtbot.wait(50)
    model = dock.tree.model()
    (r,) = [r for r in range(model.rowCount()) if model.index(r, COL_NAME).data(ID_ROLE) == a]
    keys = model.index(r, COLUMNS.index("Keys"))
    assert keys.data() == "6, 9"
    assert "Keyframes (yours) 6, 9" in model.index(r, COL_FRAMES).data(Qt.ItemDataRole.ToolTipRole)
    header = dock.tree.header()
    if header.isSectionHidden(keys.column()):  # a slim dock shows the columns that fit: make room, as a
        for col in (COL_FRAMES, COLUMNS.index("Conf."), COLUMNS.index("Lock")):  # right click on the header does
            dock.tree.want_column(col, False)
    assert not header.isSectionHidden(keys.column())
    assert header.sectionSize(keys.column()) >= header.fontMetrics().horizontalAdvance("6, 9") + 6
    assert not dock.tree.horizontalScrollBar().isVisible()


def test_a_run_across_the_slices_never_changes_the_slices_the_user_drew():
    """Sagittal tracking through a volume labelled in axial slices (frame axis 0): on the axial
    slices the user drew, neither the tracked instance nor another one changes, in overwrite mode."""
    shape = (10, 30, 30)  # z, y, x
    labels = np.zeros(shape, np.uint32)
    for z in (4, 5, 6):
        labels[z][disc(shape[1:], (15, 15), 5)] = 1  # drawn by the user, axial
    labels[7][disc(shape[1:], (15, 15), 3)] = 2  # another instance, drawn on slice 7
    labels[3:8, 10:20, 12] = 1  # the start: instance 1 on the sagittal plane x=12 (slices 3-7)
    labels[7][disc(shape[1:], (15, 15), 3)] = 2
    before = labels.copy()

    def sources(ann):
        for z in (4, 5, 6):
            ann.table[1].set_frame(z, "manual", 1.0)
        ann.table[2].set_frame(7, "manual", 1.0)

    out = np.zeros((10, 30), bool)  # on every sagittal plane: rows z 2-8, columns y 5-25
    out[2:9, 5:25] = True
    double = FixedMaskTrackerDouble({1: out})
    ann, run = run_on(labels, sources, double, [1], 12, CoreOptions("forward", 6, None, Mode.OVERWRITE), axis=2)
    assert run.done == 5
    for z in (4, 5, 6):
        np.testing.assert_array_equal(labels[z], before[z], err_msg=f"the user's slice {z} changed")
    np.testing.assert_array_equal(labels[7] == 2, before[7] == 2, err_msg="instance 2's slice 7 changed")
    # slices 3 and 7 hold instance 1 only on the start plane (drawn on this sagittal plane): tracked
    assert all((labels[z, 5:25, 13:18] == 1).all() for z in (2, 3, 8)), "slices nobody drew are tracked"


def test_a_run_across_the_slices_leaves_the_users_slices_keyframes():
    """A lesion saved on a sagittal plane, tracked along x: its slices stay the user's
    (source manual, 1.0, keyframes), not 'tracked' (Delete below confidence would take them)."""
    shape = (10, 30, 30)
    labels = np.zeros(shape, np.uint32)
    labels[3:8, 10:20, 12] = 1  # drawn on the sagittal plane x=12: slices 3-7 are the user's
    out = np.zeros((10, 30), bool)
    out[3:8, 10:20] = True
    ann, run = run_on(labels, lambda a: None, FixedMaskTrackerDouble({1: out}), [1], 12,
                      CoreOptions("forward", 4, None, Mode.EXCLUDE), axis=2)  # fmt: skip
    assert run.done == 3 and (labels[5, 12:18, 13:16] == 1).all()
    rec = ann.table[1]
    assert rec.keyframes == {3, 4, 5, 6, 7} and all(rec.source_on(z) == "manual" for z in range(3, 8))
