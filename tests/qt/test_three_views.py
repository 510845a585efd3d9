"""Three linked views (issue 23, item 2): axial, coronal and sagittal at once, each oriented
with its patient letters, each taking SAM clicks, the brush and the keys, through the same
write path as the canvas (locks, instance records, one Ctrl+Z). Real mouse events on the
linked views' own canvases."""

import numpy as np
import pytest

from napari_samlabel._napari.registry import sessions
from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from tests.window_helpers import click, drag, key

pytestmark = pytest.mark.slow  # real windows

SHAPE = (30, 64, 72)  # z, y, x


def _ct(tmp_path):
    """A small CT series (pydicom) with an organ: patient geometry, so the views are oriented."""
    from tests.dicom_helpers import write_dicom_series

    z, y, x = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    organ = ((z - 15) / 9.0) ** 2 + ((y - 30) / 16.0) ** 2 + ((x - 36) / 14.0) ** 2 <= 1
    vol = np.where(organ, 160, 40).astype(np.int16)
    folder = tmp_path / "CT"
    write_dicom_series(folder, vol, spacing=(2.0, 1.0, 1.0), description="CT", window=(100, 300))
    return folder, organ


@pytest.fixture
def three(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    folder, organ = _ct(tmp_path)
    viewer.open(str(folder), plugin="napari-samlabel")
    onto = Ontology()
    onto.add("liver", hotkey="1")
    onto.add("lesion", hotkey="2")
    s = start_session(viewer, viewer.layers[0], ontology=onto)
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.views_button.click()
    qtbot.wait(300)
    linked = panel.three_views.views()
    yield viewer, s, panel, linked, organ
    panel.views_button.setChecked(False)


def _qt(panel, vm):
    from napari_samlabel._qt.three_views import _manager

    m = _manager(panel.viewer)
    return next(w.qt_viewer for w in (m.right_widget, m.bottom_widget) if w.vm_container.viewer_model is vm)


def test_three_views_show_the_three_planes_oriented_with_letters(three):
    viewer, s, panel, linked, _ = three
    assert panel.three_views.shown and len(linked) == 2
    views = sessions(viewer).views
    assert views.all == [viewer, *linked]
    orient = panel.three_views._orient
    planes = {sessions(viewer).orientation.plane} | {orient[id(vm)].plane for vm in linked}
    assert planes == {"axial", "coronal", "sagittal"}, planes
    for vm in linked:
        o = orient[id(vm)]
        letters = o.letters()
        if o.plane == "sagittal":
            assert letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
        else:
            assert letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
        assert [ly.name for ly in vm.layers][-1] == s.labels.name or s.labels.name in [ly.name for ly in vm.layers]


def test_a_sam_click_in_a_linked_view_prompts_on_that_views_plane(three, qtbot):
    viewer, s, panel, linked, organ = three
    panel.segment.set_sam_mode(True)
    qtbot.wait(50)
    c = panel.segment.controller
    sagittal = next(vm for vm in linked if panel.three_views._orient[id(vm)].plane == "sagittal")
    qt = _qt(panel, sagittal)
    z_axis, y_axis = sagittal.dims.displayed
    click(viewer, s.labels, (15, 30), qt_viewer=qt)  # rows: z, columns: y (sagittal)
    assert len(c.points.data) == 1, "the click in the linked view is a point"
    point = c.points.data[0]
    np.testing.assert_allclose(point[[z_axis, y_axis]], (15, 30), atol=1.5)
    plane = c.current_plane()
    assert set(plane.displayed) == {0, 1}, f"the plane worked on is the sagittal one: {plane.displayed}"
    c.update_preview()
    copies = [vm.layers[c.points.name] for vm in linked]
    qtbot.waitUntil(lambda: all(len(cp.data) == 1 for cp in copies), timeout=2000)
    rec = c.commit()
    qtbot.waitUntil(lambda: all(len(cp.data) == 0 for cp in copies), timeout=2000)  # markers gone everywhere
    x = int(round(point[2]))
    written = np.asarray(s.labels.data)[:, :, x] == rec.id
    assert written.any(), "the mask was written on the sagittal plane under the click"
    assert not (np.asarray(s.labels.data) == rec.id)[:, :, [i for i in range(SHAPE[2]) if i != x]].any()


def test_the_brush_in_a_linked_view_passes_the_write_path_locks_and_undo(three, qtbot):
    viewer, s, panel, linked, _ = three
    s.select_class("liver")
    first = s.commit(np.ones((10, 10), bool), region=(15, slice(20, 30), slice(30, 40)))
    s.annotation.set_locked([first.id])
    coronal = next(vm for vm in linked if panel.three_views._orient[id(vm)].plane == "coronal")
    copy = coronal.layers[s.labels.name]
    viewer.layers.selection.active = s.labels
    s.select_class("lesion")
    brush_id = s.labels.selected_label
    s.labels.brush_size = 5
    s.labels.mode = "paint"
    qtbot.wait(50)
    assert copy.mode == "paint" and copy.selected_label == brush_id
    qt = _qt(panel, coronal)
    coronal.dims.set_point(1, viewer.layers[0].data_to_world((0, 25, 0))[1])  # the coronal plane y = 25
    qtbot.wait(50)
    drag(viewer, s.labels, [(15, 30), (15, 36), (15, 42), (15, 48)], qt_viewer=qt)  # rows z, columns x
    qtbot.wait(100)
    data = np.asarray(s.labels.data)
    assert (data == brush_id).any(), "the stroke in the linked view painted"
    assert brush_id in s.table, "and made an instance record"
    assert s.table[brush_id].frames, "with its frames"
    assert (data == first.id).sum() == 100, "the locked liver kept every pixel"
    key(viewer, "Control-Z")
    assert not (np.asarray(s.labels.data) == brush_id).any(), "Ctrl+Z took the stroke back"


def test_t_moves_the_slices_to_the_point_under_the_mouse_in_patient_coordinates(three, qtbot):
    """The series lies at z = 100-158 mm (write_dicom_series' origin): T takes the mouse's
    world position, not millimetres for slice numbers."""
    from qtpy.QtTest import QTest

    from tests.window_helpers import canvas_point

    viewer, s, panel, linked, _ = three
    sagittal = next(vm for vm in linked if panel.three_views._orient[id(vm)].plane == "sagittal")
    qt = _qt(panel, sagittal)
    native, p = canvas_point(viewer, s.labels, (7, 50), qt_viewer=qt)  # z 7, y 50 on the sagittal plane
    QTest.mouseMove(native, p)
    qtbot.wait(50)
    native.setFocus()
    QTest.keyClick(native, "t")
    qtbot.wait(50)
    z, y, _x = viewer.dims.current_step
    assert abs(z - 7) <= 1 and abs(y - 50) <= 1, viewer.dims.current_step


def test_hiding_the_views_lets_go_of_everything(three, qtbot):
    viewer, s, panel, linked, _ = three
    copy = linked[0].layers[s.labels.name]
    names = tuple(viewer.dims.axis_labels)
    assert id(copy) in s.store._views
    canvas_parent = viewer.window._qt_viewer.parentWidget()
    panel.views_button.setChecked(False)
    qtbot.wait(100)
    assert not panel.three_views.shown
    assert sessions(viewer).views.linked == []
    assert s.store._views == {}
    assert "paint" not in copy.__dict__, "the copy's brush is napari's again"
    assert tuple(viewer.dims.axis_labels) == names == ("axial (I→S)", "coronal (A→P)", "sagittal (R→L)")
    assert viewer.window._qt_viewer.parentWidget() is not canvas_parent, "the single canvas is back in the window"
    from napari_orthogonal_views.widget_controls import MainControlsWidget

    assert not [w for w in viewer.window._qt_window.findChildren(MainControlsWidget) if w.isVisible()]
    panel.views_button.setChecked(True)
    qtbot.wait(200)
    assert len(panel.three_views.views()) == 2, "and they come back"
