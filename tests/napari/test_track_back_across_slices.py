"""Shift+T then Shift+Alt+T from a sagittal prompt (frame axis z, run along x): the backward
run tracks too. Before, the forward run's own columns made every slice the prompt crosses
look drawn by the user, so the backward run kept them all as they were and wrote nothing."""

import numpy as np

from napari_samlabel.core.compose import Mode
from napari_samlabel.core.tracking_run import TrackOptions as CoreOptions
from tests.napari.test_keyframes import FixedMaskTrackerDouble, run_on


def test_a_run_back_from_a_sagittal_prompt_after_a_run_ahead_tracks():
    shape = (10, 30, 30)  # z, y, x
    labels = np.zeros(shape, np.uint32)
    labels[3:8, 10:20, 12] = 1  # a prompt saved on the sagittal plane x=12: slices 3-7 are the user's
    out = np.zeros((10, 30), bool)
    out[3:8, 10:20] = True
    ahead = FixedMaskTrackerDouble({1: out})
    ann, run = run_on(labels, lambda a: None, ahead, [1], 12, CoreOptions("forward", 4, None, Mode.EXCLUDE), axis=2)
    assert run.done == 3 and sorted({int(x) for x in np.nonzero(labels == 1)[2]}) == [12, 13, 14, 15]
    from napari_samlabel.backends.tracking import FrameSource
    from napari_samlabel.core.planes import Plane
    from napari_samlabel.core.tracking_run import TrackRun

    plane = Plane(shape, (0, 1), (0,) * 3)
    frames = FrameSource(np.zeros(shape, np.uint8), plane, 2, (0, 1))
    back = TrackRun(ann, FixedMaskTrackerDouble({1: out}), frames, [1], 12,
                    CoreOptions("backward", 4, None, Mode.EXCLUDE))  # fmt: skip
    assert back.drawn_slices(1) == set(), "the run ahead's columns are not slices the user drew"
    back.run()
    assert sorted({int(x) for x in np.nonzero(labels == 1)[2]}) == [9, 10, 11, 12, 13, 14, 15]
    assert ann.table[1].keyframes == {3, 4, 5, 6, 7}, "the prompt's slices stay the user's"
