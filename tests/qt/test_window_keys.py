"""Keys wherever the focus is: after a click in the Instances list or a combo box the plugin's
keys still act; Return in a text field (the search box, napari's frame number) saves nothing.

Keys are sent to the widget that has the focus, as the keyboard does, never to the canvas."""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication, QLineEdit

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.slow  # real windows: each test over 2 s

SHAPE = (120, 160)


@pytest.fixture
def window(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    image = viewer.add_image(np.zeros((8, *SHAPE), np.float32), name="movie")
    onto = Ontology()
    onto.add("nucleus", hotkey="1")
    onto.add("cell", hotkey="2")
    s = start_session(viewer, image, ontology=onto)
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    for frame, (cy, cx) in ((0, (30, 30)), (0, (80, 100))):
        s.commit(disc(SHAPE, cy, cx, 8), region=(frame,))
    viewer.window._qt_window.activateWindow()
    qtbot.wait(50)
    return viewer, s, panel


def press(widget, key, modifiers=Qt.NoModifier):
    """The keyboard: a key goes to the widget with the focus."""
    widget.setFocus()
    QTest.qWait(10)
    assert QApplication.focusWidget() is widget, f"focus is on {QApplication.focusWidget()}, not {widget}"
    QTest.keyClick(widget, key, modifiers)
    QTest.qWait(20)


def test_after_a_click_in_the_instances_list_class_keys_and_arrows_act(window, qtbot):
    viewer, s, panel = window
    from tests.qt.test_instances_dock import click_row

    panel.tabs.setCurrentIndex(2)
    first = min(r.id for r in s.table.present())
    click_row(qtbot, panel.instances, first)
    tree = panel.instances.tree
    assert QApplication.focusWidget() is tree
    assert s.current_class == "nucleus"
    press(tree, Qt.Key_2)
    assert s.current_class == "cell", "2 picks the class with that hotkey from the list too"
    step = viewer.dims.current_step[0]
    press(tree, Qt.Key_Right)
    assert viewer.dims.current_step[0] == step + 1, "Right steps a frame from the list"
    press(tree, Qt.Key_Left)
    assert viewer.dims.current_step[0] == step


def test_keys_act_after_using_a_combo_box(window, qtbot):
    viewer, s, panel = window
    panel.tabs.setCurrentIndex(1)
    combo = panel.segment.class_combo
    press(combo, Qt.Key_2)
    assert s.current_class == "cell", "a class hotkey, not the combo's type-ahead search"
    press(combo, Qt.Key_1)
    assert s.current_class == "nucleus"


def test_return_in_a_text_field_saves_nothing_on_the_canvas_it_saves(window, qtbot):
    viewer, s, panel = window
    seg = panel.segment
    seg.set_sam_mode(True)
    c = seg.controller
    c.add_point((3, 60, 40))
    viewer.dims.set_current_step(0, 3)
    c.update_preview()
    assert c.chosen is not None
    before = len(s.table.present())
    notes = []
    from napari.utils.notifications import notification_manager

    notification_manager.notification_ready.connect(notes.append)
    panel.tabs.setCurrentIndex(2)
    press(panel.instances.search_edit, Qt.Key_Return)
    number = [w for w in viewer.window._qt_viewer.dims.findChildren(QLineEdit) if w.isVisible()]
    assert number, "napari's frame-number box"
    press(number[0], Qt.Key_Return)
    assert len(s.table.present()) == before, "Return in a text field saved a mask"
    assert not [n for n in notes if "Nothing" in str(n.message) or "nothing" in str(n.message)]
    canvas = viewer.window._qt_viewer.canvas.native
    press(canvas, Qt.Key_Return)
    assert len(s.table.present()) == before + 1, "Return on the canvas saves the preview"


def test_typing_in_the_search_box_is_typing(window, qtbot):
    viewer, s, panel = window
    panel.tabs.setCurrentIndex(2)
    edit = panel.instances.search_edit
    press(edit, Qt.Key_2)
    press(edit, Qt.Key_T, Qt.ShiftModifier)
    assert edit.text().lower() == "2t"
    assert s.current_class == "nucleus", "a digit typed in a text field picks no class"


def test_saving_a_new_instance_makes_it_the_selection_so_shift_t_tracks_it(window, qtbot):
    """A row picked before (the ventricle) must not be what Shift+T tracks after Enter saved a lesion."""
    viewer, s, panel = window
    from tests.qt.test_instances_dock import click_row

    panel.tabs.setCurrentIndex(2)
    first = min(r.id for r in s.table.present())
    click_row(qtbot, panel.instances, first)
    assert s.selection == [first]
    new = s.commit(disc(SHAPE, 60, 40, 6), region=(0,))
    assert s.selection == [new.id] and s.targets() == [new.id]
    qtbot.waitUntil(lambda: panel.instances.selected_ids() == [new.id], timeout=2000)


def test_a_row_click_jumps_to_the_first_frame_only_when_the_instance_is_not_shown(window, qtbot):
    viewer, s, panel = window
    from tests.qt.test_instances_dock import click_row

    panel.tabs.setCurrentIndex(2)
    a, b = sorted(r.id for r in s.table.present())
    late = s.commit(disc(SHAPE, 60, 60, 6), region=(5,))
    viewer.dims.set_current_step(0, 3)
    click_row(qtbot, panel.instances, a)
    assert viewer.dims.current_step[0] == 0, "not on frame 3: the viewer went to its first frame"
    viewer.dims.set_current_step(0, 5)
    click_row(qtbot, panel.instances, late.id)
    assert viewer.dims.current_step[0] == 5, "on the frame shown: the viewer stays"
    del b


def test_the_row_menu_says_what_it_did_and_the_undo_line_follows_a_redo(window, qtbot):
    viewer, s, panel = window
    first = min(r.id for r in s.table.present())
    panel.tabs.setCurrentIndex(2)
    panel.instances._menu_action("Lock", panel.instances.review_actions()["Lock"], [first])
    assert s.table[first].locked and panel.instances.status.text() == f"Lock: {s.table[first].name}."
    track = panel.track
    track.status.ok("Done. One Ctrl+Z undoes it.", undo_of=s)
    s.commit(disc(SHAPE, 60, 60, 5), region=(1,))
    s.labels.undo()
    assert track.status.text().startswith("Undid")
    s.labels.redo()
    assert track.status.text().startswith("Redid"), "the line follows the redo too"
