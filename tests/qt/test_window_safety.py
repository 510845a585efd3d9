"""Real window: napari's brush driven by real mouse events on the canvas, Ctrl+Z by a real
key press, over a locked instance and during a tracking run (slow tier)."""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import disc
from window_helpers import drag as drag_on_canvas

pytestmark = pytest.mark.slow


@pytest.fixture
def window(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    image = viewer.add_image(np.zeros((4, 120, 160), np.float32), name="movie")
    onto = Ontology()
    onto.add("nucleus")
    s = start_session(viewer, image, ontology=onto)
    viewer.reset_view()
    viewer.dims.set_current_step(0, 1)
    qtbot.wait(50)
    return viewer, s


def drag(qtbot, viewer, layer, points):
    drag_on_canvas(viewer, layer, points)

def ctrl_z(qtbot, viewer):
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_Z, Qt.ControlModifier)
    qtbot.wait(20)


def test_brush_stroke_across_a_locked_instance(window, qtbot, tmp_path):
    viewer, s = window
    a = s.commit(disc((120, 160), 60, 80, 15), region=(1,))
    s.annotation.set_locked([a.id])
    locked = s.labels.data == a.id
    s.new_instance()
    brush = s.labels.selected_label
    viewer.layers.selection.active = s.labels
    s.labels.mode = "paint"
    s.labels.brush_size = 10
    drag(qtbot, viewer, s.labels, [(60, 40), (60, 70), (60, 90), (60, 120)])  # straight through it
    painted = s.labels.data[1] == brush
    assert painted[60, 40] and painted[60, 120], "the stroke did not reach the canvas"
    assert ((s.labels.data == a.id) == locked).all() and not painted[60, 80]
    screenshot = viewer.screenshot(canvas_only=False, flash=False)
    from imageio import imwrite

    imwrite(tmp_path / "locked_stroke.png", screenshot)
    ctrl_z(qtbot, viewer)  # the stroke is one undo step, and only the stroke
    assert not (s.labels.data == brush).any() and ((s.labels.data == a.id) == locked).all()
    assert s.table[a.id].frames == {1} and not s.table[brush].present


def test_ctrl_z_during_a_tracking_run_is_refused_and_says_so(window, qtbot):
    from napari_samlabel._napari.tracking import TrackOptions, make_job
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    viewer, s = window
    movie = np.zeros((4, 120, 160), np.float32)
    for f in range(4):
        movie[f] = disc((120, 160), 60, 60 + 5 * f, 12)
    s.image.data = movie
    a = s.commit(disc((120, 160), 60, 65, 12), region=(1,))
    job = make_job(s, SeedGrowSegmenter().tracker(), [a.id], TrackOptions("forward", 4))
    steps = job.steps()
    job.begin()
    job.apply(next(steps))
    before = s.labels.data.copy()
    warnings = []
    s.store._warn = warnings.append
    ctrl_z(qtbot, viewer)
    assert (s.labels.data == before).all() and warnings and "Tracking is writing" in warnings[-1]
    for step in steps:
        job.apply(step)
    job.finish()
    ctrl_z(qtbot, viewer)
    assert s.table[a.id].frames == {1}
