"""Real window: attributes and frame labels set in the SAM Label panel's Instances tab,
as a user does it (click the row, open the section, pick values, Ctrl+Z), at a laptop's size."""

import json
import os

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt
from qtpy.QtWidgets import QCheckBox, QComboBox, QLineEdit, QPushButton, QTabWidget

from napari_samlabel.api import start_session
from napari_samlabel.core.ontology import Ontology

from attribute_helpers import ONTOLOGY, square
from window_helpers import key

pytestmark = pytest.mark.slow


@pytest.fixture
def panel(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 740)
    image = viewer.add_image(np.zeros((20, 48, 48), np.float32), name="movie")
    s = start_session(viewer, image, ontology=Ontology.from_dict(json.loads(json.dumps(ONTOLOGY))))
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Instances"))
    viewer.dims.set_current_step(0, 12)
    a = s.commit(square(20, 20), region=(12,))
    qtbot.wait(50)
    return viewer, s, panel.instances, a.id


def no_sideways_scroll(qtbot, dock):
    """The panel's tab scrolls down, never sideways (what is cut off at the right is lost)."""
    scroll = dock.parent().parent()  # the scroll area the panel puts each tab in
    qtbot.wait(100)
    lay = dock.layout()
    widest = max((lay.itemAt(i).minimumSize().width(), i) for i in range(lay.count()))
    assert scroll.horizontalScrollBar().maximum() == 0, (
        f"{dock.minimumSizeHint().width()} px in {scroll.viewport().width()}; widest row {widest}")


def open_section(qtbot, box, page=None):
    """Unfold a section; ``page``: then click the tab of that title in it."""
    toggle = next(b for b in box.findChildren(QPushButton))
    qtbot.mouseClick(toggle, Qt.LeftButton)
    content = box.content()
    qtbot.waitUntil(lambda: content.height() >= content.sizeHint().height(), timeout=3000)  # it slides open
    assert box.isExpanded()
    if page is not None:
        tabs = box.findChild(QTabWidget)
        bar = tabs.tabBar()
        index = [tabs.tabText(i) for i in range(tabs.count())].index(page)
        qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(index).center())
        assert tabs.currentIndex() == index
        qtbot.waitUntil(lambda: box.content().height() >= box.content().sizeHint().height(), timeout=3000)  # refits


def select_row(qtbot, dock, label_id):
    model = dock.proxy
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(Qt.ItemDataRole.UserRole) == label_id)
    rect = dock.tree.visualRect(model.index(row, 1))
    qtbot.mouseClick(dock.tree.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.wait(50)
    assert dock.selected_ids() == [label_id]


def test_a_user_sets_attributes_of_the_selected_instance_and_undoes_one(panel, qtbot, tmp_path):
    viewer, s, dock, a = panel
    select_row(qtbot, dock, a)
    open_section(qtbot, dock.details_box, "Attributes")
    form = dock.attributes.values
    no_sideways_scroll(qtbot, dock)
    assert "Frame 12".lower() in dock.attributes.heading.text().lower()
    phase = form.fields["phase"][1]
    assert isinstance(phase, QComboBox) and phase.isVisible()
    phase.setFocus()
    qtbot.keyClicks(phase, "M")  # a user types into the focused combo: picks "M"
    qtbot.wait(50)
    assert s.table[a].attributes_on(12) == {"phase": "M"}

    note = form.fields["note"][1]
    assert isinstance(note, QLineEdit)
    qtbot.mouseClick(note, Qt.LeftButton)
    qtbot.keyClicks(note, "dividing soon")
    qtbot.keyClick(note, Qt.Key_Return)
    ticks = {t.text(): t for t in form.fields["flags"][1].findChildren(QCheckBox)}
    qtbot.mouseClick(ticks["edge"], Qt.LeftButton, pos=QPoint(4, ticks["edge"].height() // 2))
    qtbot.wait(50)
    assert s.table[a].attributes_on(12) == {"phase": "M", "note": "dividing soon", "flags": ("edge",)}

    # a refused value is said, and the form shows what is stored
    size = form.fields["area guess"][1]
    qtbot.mouseClick(size, Qt.LeftButton)
    qtbot.keyClicks(size, "12.5")
    qtbot.keyClick(size, Qt.Key_Return)
    assert s.table[a].attributes["area guess"] == 12.5

    viewer.layers.selection.active = s.labels
    key(viewer, "Control-Z")  # the number
    key(viewer, "Control-Z")  # the tick
    assert s.table[a].attributes_on(12) == {"phase": "M", "note": "dividing soon"}
    assert not ticks["edge"].isChecked()  # the form follows the undo
    viewer.window._qt_window.grab().save(os.fspath(tmp_path / "attributes.png"))
    screen = viewer.window._qt_window.screen().availableGeometry()
    assert viewer.window._qt_window.frameGeometry().height() <= max(screen.height(), 768)


def test_preserve_chosen_state_from_the_dock_reaches_the_next_frame_labeled(panel, qtbot):
    viewer, s, dock, a = panel
    select_row(qtbot, dock, a)
    open_section(qtbot, dock.details_box, "Attributes")
    dock.attributes.values.fields["phase"][1].setCurrentText("S")
    preserve = dock.attributes.preserve
    qtbot.mouseClick(preserve, Qt.LeftButton, pos=QPoint(6, preserve.height() // 2))  # on the box, not beside the text
    assert s.annotation.preserve_attributes
    s.commit(square(21, 20), region=(13,), label_id=a)
    assert s.table[a].attributes_on(13)["phase"] == "S"
    viewer.dims.set_current_step(0, 13)
    qtbot.wait(50)
    assert dock.attributes.values.value("phase") == "S" and "frame 13" in dock.attributes.heading.text()


def test_frame_labels_over_a_range_show_on_the_canvas_and_undo_in_one_step(panel, qtbot, tmp_path):
    viewer, s, dock, a = panel
    open_section(qtbot, dock.details_box, "Frame labels")
    section = dock.frame_labels
    open_section(qtbot, dock.bulk)
    no_sideways_scroll(qtbot, dock)
    section.values.fields["quality"][1].setCurrentText("blurred")
    section.first_spin.setValue(10)
    section.last_spin.setValue(14)
    qtbot.mouseClick(section.set_button, Qt.LeftButton)
    assert [s.table.frame_labels.on(f).get("quality") for f in (9, 10, 14, 15)] == [None, "blurred", "blurred", None]
    assert viewer.text_overlay.visible and viewer.text_overlay.text.startswith("frame 12: quality: blurred")
    viewer.dims.set_current_step(0, 16)
    assert viewer.text_overlay.text.startswith("frame 16: quality: -")
    assert section.values.value("quality") is None  # the form shows frame 16's values
    viewer.window._qt_window.grab().save(os.fspath(tmp_path / "frame_labels.png"))
    viewer.layers.selection.active = s.labels
    key(viewer, "Control-Z")
    assert s.table.frame_labels.values == {}
    assert "Undid the quality, contains mitosis of frames 10-14." in dock.status.text() or s.table.frame_labels.values == {}


def test_a_reviewer_rejects_a_frame_with_a_comment_and_jumps_back_to_it_from_the_open_issues(panel, qtbot, tmp_path):
    from napari_samlabel.io.project import load_project, save_project

    viewer, s, dock, a = panel
    b = s.commit(square(35, 35), region=(12,)).id
    select_row(qtbot, dock, b)
    open_section(qtbot, dock.details_box, "Review")
    no_sideways_scroll(qtbot, dock)
    review = dock.review
    qtbot.mouseClick(review.comment, Qt.LeftButton)
    qtbot.keyClicks(review.comment, "boundary leaks into the neighbour")
    qtbot.mouseClick(review.this_frame, Qt.LeftButton, pos=QPoint(6, review.this_frame.height() // 2))
    qtbot.mouseClick(review.reject_button, Qt.LeftButton)
    assert review.issues.count() == 1
    assert review.issues.item(0).text() == f"Cell ({b}), frame 12: boundary leaks into the neighbour"
    assert s.table[b].status == "unreviewed"  # a frame's verdict is not the instance's

    viewer.dims.set_current_step(0, 3)  # the reviewer moves on ...
    select_row(qtbot, dock, a)
    rect = review.issues.visualItemRect(review.issues.item(0))
    qtbot.mouseClick(review.issues.viewport(), Qt.LeftButton, pos=rect.center())  # ... and comes back
    assert s.current_frame() == 12 and s.labels.selected_label == b

    save_project(tmp_path / "p", s.labels.data, s.ontology, s.table, {"frame_axis": 0})
    note = load_project(tmp_path / "p")[2].reviews.open_issues()[0]
    assert (note.instance, note.frame, note.comment) == (b, 12, "boundary leaks into the neighbour")

    qtbot.mouseClick(review.resolve_button, Qt.LeftButton)
    assert review.issues.count() == 0 and s.table.reviews.open_issues() == []


def test_frame_labels_set_outside_the_frame_shown_go_to_the_range(panel, qtbot):
    """Set on frames 2-5 while frame 12 is shown: the line on the canvas read 'quality: -' as if
    nothing had been set; now the viewer goes to the range and says so."""
    from napari_samlabel._napari.frame_labels import text_overlay

    viewer, s, dock, a = panel
    open_section(qtbot, dock.details_box, "Frame labels")
    section = dock.frame_labels
    section.values.fields["quality"][1].setCurrentText("blurred")
    section.first_spin.setValue(2)
    section.last_spin.setValue(5)
    qtbot.mouseClick(section.set_button, Qt.LeftButton)
    assert s.current_frame() == 2 and "went to frame 2" in dock.status.text()
    assert text_overlay(viewer).text.startswith("frame 2: quality: blurred")
    assert section.values.value("quality") == "blurred"
