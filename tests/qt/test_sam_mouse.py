"""SAM mode, real mouse events on the canvas: a click is a point and a drag is a box whatever
layer is selected (or none); a middle drag pans; napari's brush keeps its clicks."""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from tests.window_helpers import canvas_point, click, drag

pytestmark = pytest.mark.slow  # real windows: each test over 2 s

SHAPE = (200, 240)


@pytest.fixture
def sam(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1200, 900)
    image = viewer.add_image(np.zeros((4, *SHAPE), np.float32), name="movie")
    onto = Ontology()
    onto.add("nucleus", hotkey="1")
    s = start_session(viewer, image, ontology=onto)
    _, seg = viewer.window.add_plugin_dock_widget("napari-samlabel", "Segment")
    seg.set_sam_mode(True)
    viewer.reset_view()
    qtbot.wait(50)
    return viewer, s, seg.controller


@pytest.mark.parametrize("selected", ["labels", "image", "none", "clicks"])
def test_a_click_is_a_point_and_a_drag_a_box_whatever_layer_is_selected(sam, selected):
    viewer, s, c = sam
    chosen = {"labels": s.labels, "image": s.image, "none": None, "clicks": c.points}[selected]
    if chosen is None:
        viewer.layers.selection.clear()
    else:
        viewer.layers.selection.active = chosen
    center = viewer.camera.center
    click(viewer, s.labels, (50, 60))
    assert len(c.points.data) == 1, f"a click with the {selected} layer selected adds a point"
    assert c.points.features["positive"].tolist() == [True]
    np.testing.assert_allclose(c.points.data[0][-2:], (50, 60), atol=1.5)
    click(viewer, s.labels, (70, 80), button=Qt.RightButton)
    assert c.points.features["positive"].tolist() == [True, False], "a right click is background"
    drag(viewer, s.labels, [(100, 100), (120, 130), (150, 170)])
    assert len(c.boxes.data) == 1, "a drag draws a box"
    box = np.asarray(c.boxes.data[0])[:, -2:]
    np.testing.assert_allclose(box.min(0), (100, 100), atol=2)
    np.testing.assert_allclose(box.max(0), (150, 170), atol=2)
    assert np.allclose(viewer.camera.center, center), "the view did not pan under the box"
    assert len(c.points.data) == 2


def test_a_middle_drag_pans_and_adds_nothing(sam):
    viewer, s, c = sam
    viewer.layers.selection.active = s.labels
    native, start = canvas_point(viewer, s.labels, (100, 120))
    _, end = canvas_point(viewer, s.labels, (60, 60))
    center = np.asarray(viewer.camera.center)
    QTest.mousePress(native, Qt.MiddleButton, Qt.NoModifier, start)
    for t in np.linspace(0, 1, 6)[1:]:
        QTest.mouseMove(native, start + (end - start) * t)
        QTest.qWait(5)
    QTest.mouseRelease(native, Qt.MiddleButton, Qt.NoModifier, end)
    QTest.qWait(20)
    assert not len(c.points.data) and not len(c.boxes.data)
    assert not np.allclose(viewer.camera.center, center), "the view moved with the middle button"


def test_the_brush_keeps_its_clicks_in_sam_mode(sam):
    viewer, s, c = sam
    viewer.layers.selection.active = s.labels
    s.labels.mode = "paint"
    s.labels.brush_size = 6
    click(viewer, s.labels, (50, 60))
    assert not len(c.points.data), "a click with the brush paints, it is no prompt"
    assert (np.asarray(s.labels.data) > 0).any()


def test_shift_a_in_the_3d_view_says_what_to_do_and_raises_nothing(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    image = viewer.add_image(np.random.default_rng(1).random((10, 60, 80)).astype(np.float32), name="volume")
    s = start_session(viewer, image, ontology=Ontology())
    _, seg = viewer.window.add_plugin_dock_widget("napari-samlabel", "Segment")
    viewer.dims.ndisplay = 3
    seg.registry.keys.press("Shift-A")  # the mouse never moved over the 3D canvas
    qtbot.wait(200)
    assert not seg.sam_mode and "2D" in seg.status.text()
    assert seg.controller is None, "no prompt layers on a 3D view"
    viewer.dims.ndisplay = 2
    seg.registry.keys.press("Shift-A")
    assert seg.sam_mode
    del s
