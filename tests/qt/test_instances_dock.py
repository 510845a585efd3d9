"""Real window: the Instances dock as a user drives it (search, sort by header, frame filter,
row-by-row updates that keep the selection, confirmation for Delete everything, size, speed)."""

import time

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtWidgets import QApplication, QMessageBox

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.slow

SHAPE = (120, 160)


def instances_dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("napari-samlabel", "Instances")
    return widget


@pytest.fixture
def window(make_napari_viewer, qtbot):
    """An 8-frame movie, two classes, four instances, and the Instances dock in a shown window."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    image = viewer.add_image(np.zeros((8, *SHAPE), np.float32), name="movie")
    onto = Ontology()
    onto.add("nucleus")
    onto.add("cell")
    s = start_session(viewer, image, ontology=onto)
    dock = instances_dock(viewer)
    made = {}
    for key, cls, frame, (cy, cx), conf in [
        ("a", "nucleus", 0, (30, 30), 0.9),
        ("b", "cell", 2, (30, 90), 0.3),
        ("c", "nucleus", 4, (80, 30), 0.6),
        ("d", "cell", 6, (80, 90), 0.75),
    ]:
        s.select_class(cls)
        made[key] = s.commit(disc(SHAPE, cy, cx, 8), region=(frame,), source="tracked", confidence=conf)
    qtbot.wait(20)
    return viewer, s, dock, made


def shown_ids(dock):
    """The ids in the list, top to bottom, as the user sees them."""
    from napari_samlabel._qt.instances_widget import COL_NAME, ID_ROLE

    view = dock.tree
    model = view.model()
    return [model.index(r, COL_NAME).data(ID_ROLE) for r in range(model.rowCount())]


def row_rect(dock, label_id, column=0):
    from napari_samlabel._qt.instances_widget import ID_ROLE

    view = dock.tree
    model = view.model()
    for r in range(model.rowCount()):
        if model.index(r, 0).data(ID_ROLE) == label_id:
            return view.visualRect(model.index(r, column))
    raise AssertionError(f"{label_id} is not in the list")


def click_row(qtbot, dock, label_id, modifier=Qt.NoModifier, column=1):
    qtbot.mouseClick(dock.tree.viewport(), Qt.LeftButton, modifier, row_rect(dock, label_id, column).center())


def click_header(qtbot, dock, title):
    from napari_samlabel._qt.instances_widget import COLUMNS

    header = dock.tree.header()
    col = COLUMNS.index(title)
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, Qt.NoModifier, QPoint(x, header.height() // 2))


def answer_next_question(qtbot, button, seen):
    """Click ``button`` on the next message box that opens (as the user would)."""

    def answer():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, answer)

    QTimer.singleShot(20, answer)


def test_search_filters_rows_as_the_user_types(window, qtbot):
    viewer, s, dock, m = window
    assert shown_ids(dock) == sorted(r.id for r in m.values())  # by id
    qtbot.keyClicks(dock.search_edit, "cel")
    assert shown_ids(dock) == sorted([m["b"].id, m["d"].id])  # by class
    dock.search_edit.clear()
    qtbot.keyClicks(dock.search_edit, f"Nucleus ({m['c'].id})")
    assert shown_ids(dock) == [m["c"].id]  # by name
    dock.search_edit.clear()
    qtbot.keyClicks(dock.search_edit, str(m["d"].id))
    assert shown_ids(dock) == [m["d"].id]  # by id
    dock.search_edit.clear()
    assert len(shown_ids(dock)) == 4


def test_clicking_a_header_sorts_by_that_column(window, qtbot):
    viewer, s, dock, m = window
    click_header(qtbot, dock, "Conf.")
    assert shown_ids(dock) == [m["b"].id, m["c"].id, m["d"].id, m["a"].id]  # 0.3, 0.6, 0.75, 0.9
    click_header(qtbot, dock, "Conf.")
    assert shown_ids(dock) == [m["a"].id, m["d"].id, m["c"].id, m["b"].id]
    click_header(qtbot, dock, "Class")
    classes = [s.table[i].class_name for i in shown_ids(dock)]
    assert classes == sorted(classes)
    click_header(qtbot, dock, "Instance")  # by id
    assert shown_ids(dock) == sorted(shown_ids(dock))
    # a new commit lands where the sort puts it
    click_header(qtbot, dock, "Conf.")
    s.select_class("cell")
    e = s.commit(disc(SHAPE, 100, 140, 6), region=(1,), source="tracked", confidence=0.5)
    assert shown_ids(dock) == [m["b"].id, e.id, m["c"].id, m["d"].id, m["a"].id]


def test_frame_filter_all_current_and_range(window, qtbot):
    viewer, s, dock, m = window
    dock.filter_combo.setCurrentIndex(dock.filter_combo.findText("Current frame"))
    viewer.dims.set_current_step(0, 4)
    assert shown_ids(dock) == [m["c"].id]
    viewer.dims.set_current_step(0, 5)
    assert shown_ids(dock) == []
    dock.filter_combo.setCurrentIndex(dock.filter_combo.findText("Frame range"))
    assert dock.range_first_spin.isVisible() and dock.range_last_spin.isVisible()
    dock.range_first_spin.setValue(1)
    dock.range_last_spin.setValue(4)
    assert shown_ids(dock) == sorted([m["b"].id, m["c"].id])
    qtbot.keyClicks(dock.search_edit, "nucl")  # search and range together
    assert shown_ids(dock) == [m["c"].id]
    dock.filter_combo.setCurrentIndex(dock.filter_combo.findText("All frames"))
    assert not dock.range_first_spin.isVisible()
    assert shown_ids(dock) == sorted([m["a"].id, m["c"].id])


def test_a_commit_updates_its_row_only_and_keeps_the_selection(window, qtbot):
    viewer, s, dock, m = window
    click_row(qtbot, dock, m["a"].id)
    assert dock.selected_ids() == [m["a"].id] and s.selection == [m["a"].id]
    assert s.labels.selected_label == m["a"].id  # a click selects the instance

    model, proxy = dock.model, dock.tree.model()
    resets, changed = [], []
    for mdl in (model, proxy):
        mdl.modelReset.connect(lambda: resets.append(1))
        mdl.layoutChanged.connect(lambda *a: resets.append(2))
    model.dataChanged.connect(lambda tl, br, *r: changed.append((tl.row(), br.row())))
    b_row = model.row_of_id(m["b"].id)
    s.commit(disc(SHAPE, 30, 90, 8), region=(3,), label_id=m["b"].id)  # b also on frame 3
    qtbot.wait(10)
    assert resets == []  # not rebuilt
    assert changed == [(b_row, b_row)]  # one row
    assert dock.selected_ids() == [m["a"].id] and s.selection == [m["a"].id]
    assert model.index(b_row, 2).data() == "2-3"
    # hiding and locking also touch one row each
    changed.clear()
    s.annotation.set_locked([m["c"].id])
    assert len(changed) == 1 and dock.selected_ids() == [m["a"].id]
    # the user's selection with Ctrl+click, then Delete key on the list
    click_row(qtbot, dock, m["d"].id, Qt.ControlModifier)
    assert s.selection == [m["a"].id, m["d"].id]
    dock.tree.setFocus()
    qtbot.keyClick(dock.tree, Qt.Key_Delete)
    assert not s.table[m["a"].id].present and not s.table[m["d"].id].present
    assert shown_ids(dock) == sorted([m["b"].id, m["c"].id]) and s.selection == []
    assert resets == []


def test_delete_everything_asks_first(window, qtbot):
    viewer, s, dock, m = window
    assert not dock.bulk.isExpanded()  # collapsed by default
    qtbot.mouseClick(dock.bulk._toggle_btn, Qt.LeftButton)
    qtbot.waitUntil(lambda: dock.apply_button.isVisible() and dock.apply_button.height() > 10)  # animation done
    dock.op_combo.setCurrentText("Delete everything")
    before = s.labels.data.copy()
    seen = []
    answer_next_question(qtbot, QMessageBox.StandardButton.No, seen)
    qtbot.mouseClick(dock.apply_button, Qt.LeftButton)
    assert seen and "4 instance(s) on 4 frame(s)" in seen[0]
    assert (s.labels.data == before).all() and len(shown_ids(dock)) == 4
    assert "Nothing deleted" in dock.status.text()

    answer_next_question(qtbot, QMessageBox.StandardButton.Yes, seen)
    qtbot.mouseClick(dock.apply_button, Qt.LeftButton)
    assert len(seen) == 2 and not s.labels.data.any() and shown_ids(dock) == []


def test_the_dock_is_compact_and_the_list_takes_the_room(window, qtbot):
    viewer, s, dock, m = window
    hint = dock.minimumSizeHint()
    assert hint.height() <= 420 and hint.width() <= 360, hint
    from qtpy.QtWidgets import QVBoxLayout, QWidget

    from napari_samlabel._qt.instances_widget import InstancesWidget

    host = QWidget()  # a slim side panel's tab on a 1366 x 768 screen
    dock = InstancesWidget(viewer)
    QVBoxLayout(host).addWidget(dock)
    host.resize(380, 600)
    host.show()
    qtbot.waitExposed(host)
    assert dock.tree.height() >= 350, dock.tree.height()
    for w in (dock.search_edit, dock.filter_combo, dock.delete_button, dock.merge_button,
              dock.class_combo, dock.change_class_button, dock.bulk):  # fmt: skip
        assert w.isVisible() and host.rect().contains(w.geometry().translated(w.parentWidget().mapTo(host, QPoint())))
    assert len(shown_ids(dock)) == 4
    host.deleteLater()  # a closed panel lets go of the session
    qtbot.waitUntil(lambda: dock._session is None)
    s.commit(disc(SHAPE, 100, 140, 6), region=(1,))


def _labels_with_discs(n, size, r=12, step=44):
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    d = yy**2 + xx**2 <= r * r
    lab = np.zeros((size, size), np.uint32)
    per_row = size // step
    for k in range(n):
        y, x = (k // per_row) * step + step // 2, (k % per_row) * step + step // 2
        lab[y - r : y + r + 1, x - r : x + r + 1][d] = k + 1
    return lab


def test_one_commit_among_2000_instances_updates_the_dock_quickly(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    image = viewer.add_image(np.zeros((2000, 2000), np.float32), name="big")
    labels = viewer.add_labels(_labels_with_discs(2000, 2000), name="big labels")
    onto = Ontology()
    onto.add("nucleus")
    s = start_session(viewer, image, labels=labels, ontology=onto)
    dock = instances_dock(viewer)
    app = QApplication.instance()
    app.processEvents()
    assert len(shown_ids(dock)) == 2000
    small = disc((17, 17), 8, 8, 8)

    def commit(k):
        x = 100 + 30 * k
        s.commit(small, region=(slice(1974, 1991), slice(x, x + 17)))

    resets = []
    dock.model.modelReset.connect(lambda: resets.append(1))
    totals = []
    for k in range(3):  # what the user waits for: the commit and everything it updates
        t0 = time.perf_counter()
        commit(k)
        app.processEvents()
        totals.append(time.perf_counter() - t0)
    assert len(shown_ids(dock)) == 2003 and resets == []

    # the dock's own share: its update and repaint after a commit the rest of napari has absorbed
    s.annotation.changed.disconnect(dock._on_changed)
    shares = []
    for k in range(3, 6):
        commit(k)
        qtbot.wait(200)  # napari has drawn the new labels
        t0 = time.perf_counter()
        dock._on_changed()
        app.processEvents()
        shares.append(time.perf_counter() - t0)
    s.annotation.changed.connect(dock._on_changed)
    share = sorted(shares)[1]
    print(f"\n2000 instances: commit+processEvents {[round(t * 1000) for t in totals]} ms; "
          f"the dock's share {[round(t * 1000, 1) for t in shares]} ms")  # fmt: skip
    assert len(shown_ids(dock)) == 2006
    assert share < 0.050
