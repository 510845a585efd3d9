"""Tracking on a session (napari models, no Qt), with the weight-free tracker."""

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari.tracking import TrackOptions, make_job
from napari_samlabel._napari.tracks import add_tracks_layer
from napari_samlabel.api import AnnotationError, start_session
from napari_samlabel.backends.seeds import SeedGrowSegmenter


@pytest.fixture
def setup(movie, classes):
    image, truth = movie
    viewer = ViewerModel()
    layer = viewer.add_image(image, scale=(1.0, 0.5, 0.5))
    s = start_session(viewer, layer, ontology=classes)
    viewer.dims.set_current_step(0, 6)
    a = s.commit(truth[6] == 2, region=(6,))
    b = s.commit(truth[6] == 3, region=(6,))
    return viewer, s, truth, a.id, b.id


def tracker():
    return SeedGrowSegmenter().tracker()


def test_forward_range_counts_the_start_frame(setup):
    viewer, s, truth, a, b = setup
    job = make_job(s, tracker(), [a], TrackOptions("forward", 4)).run()
    assert s.table[a].frames == {6, 7, 8, 9} and s.table[b].frames == {6}
    assert s.table[a].sources == "manual+tracked" and 0 < s.table[a].frame_scores[7] <= 1
    assert s.table[a].source_on(6) == "manual" and s.table[a].score_on(6) == 1.0  # the start frame stays the user's
    assert job.total == job.done == 3


def test_backward_both_and_to_the_end(setup):
    viewer, s, truth, a, b = setup
    make_job(s, tracker(), [a], TrackOptions("backward", 3)).run()
    assert s.table[a].frames == {4, 5, 6}
    make_job(s, tracker(), [b], TrackOptions("both", None)).run()
    assert s.table[b].frames == set(range(14))


def test_many_objects_keep_their_ids_and_never_eat_each_other(setup):
    viewer, s, truth, a, b = setup
    locked = s.commit(truth[9] == 4, region=(9,))
    s.annotation.set_locked([locked.id])
    before = s.labels.data == locked.id
    make_job(s, tracker(), None, TrackOptions("forward", 8)).run()  # all on the current frame
    for f in range(7, 14):
        for i, t in ((a, 2), (b, 3)):
            got, want = s.labels.data[f] == i, truth[f] == t
            assert (got & want).sum() / (got | want).sum() > 0.8
    assert ((s.labels.data == locked.id) == before).all()


def test_whole_run_is_one_undo_step(setup):
    viewer, s, truth, a, b = setup
    before = s.labels.data.copy()
    make_job(s, tracker(), [a, b], TrackOptions("both", 30)).run()
    assert len(s.table[a].frames) == 14
    s.labels.undo()
    assert (s.labels.data == before).all() and s.table[a].frames == {6}


def run_and_cancel(s, ids, after: int, keep: bool):
    """A run the user cancels once ``after`` frames are written."""
    job = make_job(s, tracker(), ids, TrackOptions("forward", 30))
    job.begin()
    for step in job.steps():
        job.apply(step)
        if job.done == after:
            job.cancel()
    job.finish(keep=keep)


def test_cancel_keeps_or_discards(setup):
    viewer, s, truth, a, b = setup
    run_and_cancel(s, [a], after=2, keep=True)
    assert s.table[a].frames == {6, 7, 8}  # stopped within one frame of the cancel
    run_and_cancel(s, [b], after=3, keep=False)
    assert s.table[b].frames == {6}
    s.labels.undo()  # the discarded run left no undo step: this undoes the first run
    assert s.table[a].frames == {6}


def test_retrack_from_a_corrected_frame_replaces_only_that_instance(setup):
    viewer, s, truth, a, b = setup
    make_job(s, tracker(), [a, b], TrackOptions("forward", 30)).run()
    b_before = s.labels.data == b
    # the user fixes a on frame 10 (here: swaps in a shrunken mask) and re-tracks a only
    from scipy import ndimage as ndi

    fixed = ndi.binary_erosion(truth[10] == 2, iterations=2)
    s.annotation.write_mask(fixed, a, (10,), replace=True)
    viewer.dims.set_current_step(0, 10)
    make_job(s, tracker(), [a], TrackOptions("forward", 30)).run()
    assert ((s.labels.data == b) == b_before).all()
    assert s.table[a].frames == set(range(6, 14))


def test_errors_are_clear(setup, classes):
    viewer, s, truth, a, b = setup
    with pytest.raises(AnnotationError, match="not on frame 6"):
        fresh = s.annotation.new_instance("nucleus")
        make_job(s, tracker(), [fresh.id])
    s.annotation.set_locked([a])
    with pytest.raises(AnnotationError, match="locked"):
        make_job(s, tracker(), [a])
    flat = ViewerModel()
    s2 = start_session(flat, flat.add_image(np.zeros((20, 20))), ontology=classes)
    with pytest.raises(AnnotationError, match="no time or slice axis"):
        make_job(s2, tracker(), [1])


def test_tracks_layer_has_a_centroid_per_frame(setup):
    viewer, s, truth, a, b = setup
    make_job(s, tracker(), [a, b], TrackOptions("forward", 4)).run()
    layer = add_tracks_layer(s)
    assert layer in viewer.layers
    rows = layer.data[layer.data[:, 0] == a]
    assert rows[:, 1].tolist() == [6, 7, 8, 9]
    np.testing.assert_allclose(layer.scale, s.labels.scale)


def test_interpolation_fills_gaps_as_one_step(setup):
    viewer, s, truth, a, b = setup
    s.annotation.write_mask(truth[10] == 2, a, (10,))
    filled = s.annotation.interpolate(a)
    assert filled == [7, 8, 9] and s.table[a].frames == set(range(6, 11))
    for f in filled:
        got, want = s.labels.data[f] == a, truth[f] == 2
        assert 2 * (got & want).sum() / (got.sum() + want.sum()) > 0.85
    assert [s.table[a].source_on(f) for f in (6, 7, 8, 9, 10)] == ["manual"] + ["interpolated"] * 3 + ["manual"]
    assert all(0.5 <= s.table[a].score_on(f) < 1.0 for f in filled)
    s.labels.undo()
    assert s.table[a].frames == {6, 10}


def test_no_full_collection_while_a_run_writes_and_the_launchers_freeze_is_kept(setup):
    """A full collection over everything the session keeps paused the GUI ~180 ms at the
    start of a run when `samlabel` had frozen its start-up objects (the run then held
    nothing back); and a run that froze and unfroze around itself handed those start-up
    objects back to the collector for good. Now: no generation-2 collection while a run
    writes, whatever is frozen; the freeze and the thresholds are as they were after it."""
    import gc

    _, s, _, a, _ = setup
    full = []

    def note(phase, info):
        if phase == "start" and info["generation"] == 2:
            full.append(1)

    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()  # what `samlabel` does at start-up
    gc.callbacks.append(note)
    try:
        frozen = gc.get_freeze_count()
        job = make_job(s, tracker(), [a], TrackOptions("forward", 3))
        job.begin()
        # a session's worth of young objects: enough to trigger full collections without the hold
        garbage = [[[i]] for i in range(300_000)]
        for step in job.steps():
            job.apply(step)
            garbage.extend([[i]] for i in range(100_000))
        assert full == []
        job.finish()
        assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() >= frozen * 0.9  # the launcher's freeze is still there
        del garbage
    finally:
        gc.callbacks.remove(note)
        gc.unfreeze()
