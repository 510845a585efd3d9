"""A one-shot ``samlabel track`` keeps only the features it reads again, so the feature cache
stays flat in the stack's length (issue 24: 24 frames took 1.29x the memory of 6 when every
tracked frame's features stayed cached); the dock's tracker still keeps every frame for
re-tracking. The cache's own entries are counted, not the process's memory. The real SAM 2
code path, random weights, shrunk to 256 px."""

import numpy as np
import pytest

from napari_samlabel.backends.torch_guard import guard_torch_import

guard_torch_import()
torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from napari_samlabel.backends.sam2 import Sam2Segmenter  # noqa: E402
from napari_samlabel.core.prompts import PromptSet  # noqa: E402
from napari_samlabel.headless import track_objects  # noqa: E402


@pytest.fixture(scope="module")
def movie():
    from napari_samlabel.synthetic import fluorescence_timelapse

    image, _ = fluorescence_timelapse(n_frames=9, size=64, n_cells=3, seed=5)
    return image


def box(frame):
    """A box prompt over the whole plane: random weights still find something in it."""
    return {"id": 1, "class": "cell", "frame": [frame], "box": [2, 2, 61, 61]}


def encoder_runs(seg):
    runs = []
    encode = seg.model.forward_image
    seg.model.forward_image = lambda x: runs.append(1) or encode(x)
    return runs


def tracked(seg, image, objects, **kw):
    runs = encoder_runs(seg)
    try:
        labels = track_objects(image, objects, seg, n_frames=None, **kw)
    finally:
        del seg.model.forward_image  # the model is shared by the file's tests
    return labels, len(runs)


@pytest.mark.slow
def test_a_one_shot_track_keeps_no_frame_features_whatever_the_length(model, movie):
    held = {}
    for n in (3, 9):
        seg = Sam2Segmenter(model, "tiny-256")
        labels, runs = tracked(seg, movie[:n], [box(0)])
        assert (labels[1:] == 1).any(), "nothing was tracked: the test would prove nothing"
        assert runs == n, "a frame was encoded twice"
        held[n] = (len(seg.cache), seg.cache.bytes)
    # only the prompted plane (the start of the run) stays: the same for 3 frames as for 9
    assert held[3] == held[9] and held[9][0] == 1


@pytest.mark.slow
def test_a_frame_a_later_run_reads_again_stays_and_is_encoded_once(model, movie):
    seg = Sam2Segmenter(model, "tiny-256")
    objects = [box(0), {**box(3), "id": 2}]  # two runs: from 0 (1-5), then from 3 (4-5)
    labels, runs = tracked(seg, movie[:6], objects, mode="overwrite")
    assert runs == 6, "frames the second run reads again were encoded again"
    assert len(seg.cache) == 2 + 2  # the two prompted planes and frames 4 and 5, nothing else
    assert set(np.unique(labels)) >= {1, 2}


@pytest.mark.slow
def test_the_docks_tracker_still_keeps_every_frame_for_re_tracking(model, movie):
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane

    seg = Sam2Segmenter(model, "tiny-256")
    frames = FrameSource(movie, Plane(movie.shape, (1, 2), (0, 0, 0)), 0, (float(movie.min()), float(movie.max())))
    seg.set_image(frames[0])
    pred = seg.predict(PromptSet([], [], [2, 2, 61, 61]))
    list(seg.tracker().track(frames, 0, {1: pred.masks[0]}, "forward", n_frames=None))
    assert len(seg.cache) == len(movie)  # every tracked frame, within the budget
