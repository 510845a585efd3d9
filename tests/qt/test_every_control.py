"""Every button, check box and menu action of the SAM Label panel, pressed in a real window
(issue 21, item 5: Track > Interpolate raised ImportError and no test had pressed it).

:data:`CONTROLS` names each control as the live window names it (:func:`live_controls`):
the panel's tab, the folding sections and inner tab pages around it, and its text (its
tooltip when it has none; ``(row)`` for a button in every row of a table, ``(option)`` for
an ontology's tick boxes, ``(section)`` for a section's fold button). Each entry says how to
get the window ready, and checks what a user would notice after the press: a status line, a
layer, a count of instances, a class, a lock, a frame, a section unfolded, a dialog.

``test_the_table_lists_every_control`` fails on a control the table does not know (a new
button without a test) and on an entry the window no longer has. The presses run per tab,
each in a fresh window, in the table's order (an entry may rely on the one before it). The
file dialogs, Yes/No questions, the colour picker and the project folder dialog answer at
once (``Answers``); a slot that raises fails the test (pytest-qt), and so does an ERROR
notification in napari. Qt's own buttons of the panel (the tab bars' scroll arrows, the
class table's corner button) are hidden at this size: their entries check just that.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from qtpy.QtCore import QPoint, Qt, QTimer
from qtpy.QtGui import QColor, QContextMenuEvent
from qtpy.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QColorDialog,
    QDialog,
    QFileDialog,
    QInputDialog,
    QLineEdit,
    QMenu,
    QMessageBox,
    QScrollArea,
    QTabBar,
    QTabWidget,
)
from superqt import QCollapsible

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.synthetic import fluorescence_timelapse

pytestmark = pytest.mark.slow

N_FRAMES, SIZE = 8, 96
ONTOLOGY = {
    "classes": [
        {"name": "nucleus", "color": "#ff8800", "kind": "thing", "hotkey": "1", "attributes": [
            {"name": "flags", "type": "any-of", "options": ["round", "dividing"]},
        ]},
        {"name": "cell", "color": "#3cb44b", "kind": "thing", "hotkey": "2"},
        {"name": "debris", "color": "#4363d8", "kind": "thing", "hotkey": "3"},
    ],
    "classifications": [{"name": "quality", "type": "one-of", "options": ["good", "blurred"]}],
}  # fmt: skip
#: the instances the window starts with: (truth label on frame 0, class)
START = ((1, "nucleus"), (2, "nucleus"), (3, "cell"), (4, "debris"))
MENU = "Instances menu"


# -- the live window's controls ----------------------------------------------------------
def _label(button: QAbstractButton) -> str:
    """What a control is called when its text says nothing (Qt's own buttons)."""
    parent = button.parentWidget()
    kind = button.metaObject().className()
    if kind == "QTableCornerButton":
        return "table corner"
    if isinstance(parent, QTabBar):
        return "tab scroll " + ("left" if "Left" in button.objectName() else "right")
    if isinstance(parent, QLineEdit):
        return f"clear {parent.placeholderText()!r}"
    return button.text().replace("&", "") or button.toolTip() or kind


def control_name(panel, button: QAbstractButton) -> str:
    """The control's name, "Tab: Section / Page / Text": stable while the labels stay (see above)."""
    tab = "Panel"
    for i in range(panel.tabs.count()):
        if panel.tabs.widget(i).isAncestorOf(button):
            tab = panel.tabs.tabText(i)
    parts, suffix, label = [], "", _label(button)
    parent = button.parentWidget()
    if isinstance(parent, QCollapsible) and button is parent.toggleButton():
        suffix = " (section)"
    w = parent
    while w is not None and w is not panel:
        if isinstance(w, QCollapsible) and w.content().isAncestorOf(button):
            parts.append(w.text())
        elif isinstance(w, QTabWidget) and w is not panel.tabs:
            pages = [w.tabText(i) for i in range(w.count()) if w.widget(i).isAncestorOf(button)]
            parts += pages
        elif isinstance(w, QAbstractItemView) and w.viewport().isAncestorOf(button):
            suffix = " (row)"
        elif type(w).__name__ == "ValuesForm":  # a tick per option of an any-of attribute
            label = next(n for n, (_, f) in w.fields.items() if f.isAncestorOf(button))
            suffix = " (option)"
        w = w.parentWidget()
    return f"{tab}: {' / '.join([*reversed(parts), label])}{suffix}"


def live_controls(panel) -> dict[str, list[QAbstractButton]]:
    found: dict[str, list[QAbstractButton]] = {}
    for button in panel.findChildren(QAbstractButton):
        found.setdefault(control_name(panel, button), []).append(button)
    return found


# -- the window ----------------------------------------------------------------------------
@dataclass
class Answers:
    """What the dialogs answer (the entries set them before a press); who asked, in order."""

    open_file: str = ""
    open_files: list = field(default_factory=list)
    save_file: str = ""
    folder: str = ""
    project: Path | None = None
    color: str = "#123456"
    asked: list = field(default_factory=list)


@dataclass
class Win:
    viewer: Any
    panel: Any
    qtbot: Any
    tmp: Path
    truth: np.ndarray
    answers: Answers
    notes: list  # napari's notifications, as they came
    monkeypatch: Any
    ids: dict = field(default_factory=dict)  # truth label -> instance id of START

    @property
    def s(self):
        from napari_samlabel.api import current_session

        return current_session(self.viewer)

    # -- reading what the user sees
    def present(self) -> list[int]:
        return sorted(r.id for r in self.s.table.present())

    def list_rows(self) -> int:
        return self.panel.instances.proxy.rowCount()

    def index(self, label_id: int, col: int):
        inst = self.panel.instances
        return inst.proxy.mapFromSource(inst.model.index(inst.model.row_of_id(label_id), col))

    def cell(self, label_id: int, col: int, role=Qt.ItemDataRole.DisplayRole):
        return self.index(label_id, col).data(role)

    def checked(self, label_id: int, col: int) -> bool:
        from napari_samlabel._qt.instances_widget import _is_checked

        return _is_checked(self.cell(label_id, col, Qt.ItemDataRole.CheckStateRole))

    def status(self, tab: str) -> str:
        return getattr(self.panel, tab).status.text()

    # -- acting as a user
    def widget(self, name: str) -> QAbstractButton:
        found = live_controls(self.panel).get(name)
        assert found, f"no control {name!r} in the window"
        return found[0]

    def show(self, w) -> None:
        """Its tab current, the sections around it unfolded, the inner page shown, scrolled to."""
        tabs, area = self.panel.tabs, None
        for i in range(tabs.count()):
            if tabs.widget(i).isAncestorOf(w):
                tabs.setCurrentIndex(i)
                area = tabs.widget(i)
        chain, a = [], w.parentWidget()
        while a is not None and a is not self.panel:
            chain.append(a)
            a = a.parentWidget()
        for a in reversed(chain):
            if isinstance(a, QCollapsible) and a.content().isAncestorOf(w) and not a.isExpanded():
                a.expand(animate=False)
            elif isinstance(a, QTabWidget) and a is not tabs:
                for i in range(a.count()):
                    if a.widget(i).isAncestorOf(w):
                        a.setCurrentIndex(i)
        self.qtbot.wait(10)
        if isinstance(area, QScrollArea):
            area.ensureWidgetVisible(w)
        self.qtbot.wait(10)
        assert w.isVisible(), f"{w.text()!r} is not shown"

    def click(self, w) -> None:
        self.show(w)
        assert w.isEnabled(), f"{w.text()!r} is disabled"
        # a check box reacts on its box and text, not anywhere in a row it was stretched over
        pos = QPoint(8, w.height() // 2) if isinstance(w, QCheckBox) else w.rect().center()
        # where the click goes is on screen (not under a section still unfolding, nor scrolled away)
        self.qtbot.waitUntil(lambda: w.visibleRegion().contains(pos), timeout=3000)
        self.qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=pos)
        self.qtbot.wait(20)

    def press(self, name: str) -> None:
        self.click(self.widget(name))

    def select(self, *ids: int) -> None:
        """Click the rows (Ctrl for the others), on their Class cell, as a user picks them."""
        from napari_samlabel._qt.instances_widget import COL_CLASS

        tree = self.panel.instances.tree
        self.show(tree)
        for k, i in enumerate(ids):
            index = self.index(i, COL_CLASS)
            tree.scrollTo(index)
            mod = Qt.KeyboardModifier.ControlModifier if k else Qt.KeyboardModifier.NoModifier
            self.qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, mod, tree.visualRect(index).center())
        self.qtbot.wait(10)
        assert self.s.selection == sorted(ids), (self.s.selection, ids)

    def commit(self, frame: int, mask, cls: str | None = None, **kw):
        if cls is not None:
            self.s.select_class(cls)
        rec = self.s.commit(mask, region=(frame,), **kw)
        self.qtbot.wait(10)
        return rec

    def free(self, frame: int, mask) -> bool:
        return not (np.asarray(self.s.labels.data[frame])[mask] != 0).any()

    def menu(self, label_id: int, pick: str | None = None) -> list[str]:
        """Right-click the row: the list's own menu opens (QMenu.exec); ``pick`` is clicked in
        it (else it is closed). The texts of its actions, in order."""
        from napari_samlabel._qt.instances_widget import COL_CLASS

        tree = self.panel.instances.tree
        index = self.index(label_id, COL_CLASS)
        tree.scrollTo(index)
        pos = tree.visualRect(index).center()
        seen: list[str] = []
        deadline = time.monotonic() + 5

        def drive():
            menu = QApplication.activePopupWidget()
            if not isinstance(menu, QMenu):
                if time.monotonic() < deadline:
                    QTimer.singleShot(20, drive)
                return
            actions = [a for a in menu.actions() if not a.isSeparator()]
            seen.extend(a.text() for a in actions)
            chosen = next((a for a in actions if a.text() == pick), None)
            if chosen is None:
                menu.close()
                return
            menu.setActiveAction(chosen)
            self.qtbot.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(chosen).center())
            if menu.isVisible():  # (a platform that wants a move first) the action as the menu runs it
                chosen.trigger()
                menu.close()

        QTimer.singleShot(0, drive)
        event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, tree.viewport().mapToGlobal(pos))
        QApplication.sendEvent(tree.viewport(), event)  # returns when the menu has closed
        self.qtbot.wait(20)
        assert seen, "the list's right-click menu did not open"
        return seen

    def wait(self, done: Callable[[], bool], timeout=30000) -> None:
        self.qtbot.waitUntil(done, timeout=timeout)


@pytest.fixture
def answers(monkeypatch, tmp_path):
    """Every dialog a control opens answers at once, as these answers say."""
    from napari_samlabel._qt import project_dialog

    a = Answers()

    def asked(what, value):
        a.asked.append(what)
        return value

    def patch(cls, name, fn):
        monkeypatch.setattr(cls, name, staticmethod(fn))

    patch(QFileDialog, "getOpenFileName", lambda *_a, **_k: asked("open file", (a.open_file, "")))
    patch(QFileDialog, "getOpenFileNames", lambda *_a, **_k: asked("open files", (list(a.open_files), "")))
    patch(QFileDialog, "getSaveFileName", lambda *_a, **_k: asked("save file", (a.save_file, "")))
    patch(QFileDialog, "getExistingDirectory", lambda *_a, **_k: asked("folder", a.folder))
    patch(QMessageBox, "question", lambda *_a, **_k: asked("question", QMessageBox.StandardButton.Yes))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: asked("message box", QMessageBox.StandardButton.Yes))
    patch(QColorDialog, "getColor", lambda *_a, **_k: asked("colour", QColor(a.color)))
    patch(QInputDialog, "getItem", lambda _p, _t, _l, items, *_a, **_k: asked("item", (items[0], True)))
    monkeypatch.setattr(project_dialog, "ask_project_folder", lambda _parent, _s: asked("project folder", a.project))
    return a


@pytest.fixture
def notes():
    """napari's notifications while the test runs (an ERROR one is a failure, see below)."""
    from napari.utils.notifications import notification_manager

    got = []

    def keep(note):
        got.append(note)

    notification_manager.notification_ready.connect(keep)
    yield got
    notification_manager.notification_ready.disconnect(keep)


@pytest.fixture
def win(make_napari_viewer, qtbot, tmp_path, answers, notes, monkeypatch):
    """A shown window: an 8-frame time-lapse, a session with three classes (an attribute with
    ticks, a frame classification), the SAM Label panel, four instances on frame 0."""
    from napari_samlabel._qt.unsaved import DISCARD, unsaved_guard

    image, truth = fluorescence_timelapse(n_frames=N_FRAMES, size=SIZE, n_cells=4, seed=2)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 768)
    layer = viewer.add_image(image, name="cells")
    session = start_session(viewer, layer, ontology=Ontology.from_dict(ONTOLOGY))
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    guard = unsaved_guard(viewer)
    if guard is not None:
        guard.ask = lambda _lines: DISCARD  # the test's window closes without asking
    w = Win(viewer, panel, qtbot, tmp_path, truth, answers, notes, monkeypatch)
    for k, cls in START:
        w.ids[k] = w.commit(0, truth[0] == k, cls).id
    viewer.layers.selection.active = session.labels
    qtbot.wait(50)
    return w


# -- the table ---------------------------------------------------------------------------
@dataclass
class Control:
    """``prepare(w)`` gets the window ready and returns what ``check(w, before)`` compares
    with; ``press``: how (default: a left click on the control, shown first); ``ok_notes``:
    ERROR notifications this press is expected to show (none so far)."""

    check: Callable[[Win, Any], None]
    prepare: Callable[[Win], Any] = lambda w: None
    press: Callable[[Win, str], None] | None = None
    ok_notes: tuple = ()


def hidden_qt_button(w: Win, name: str) -> None:
    """Qt's own button (a tab bar's scroll arrow, a table's corner): not the plugin's, shown
    only when the tabs overflow or the row header is on; at this size it must stay hidden."""
    button = w.widget(name)
    w.show(button.parentWidget())
    assert not button.isVisible(), f"{name} is shown: the tabs do not fit, or the table got a row header"


def _no_press(check):
    return Control(check=lambda w, _b: check(w), press=lambda w, name: hidden_qt_button(w, name))


def centre(mask) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return int(ys.mean()), int(xs.mean())


# Panel ----------------------------------------------------------------------------------
def _keys_dialog(w, _b):
    from napari_samlabel._napari.keys import SHORTCUTS

    dialogs = [d for d in w.panel.findChildren(QDialog) if d.isVisible()]
    assert len(dialogs) == 1 and "shortcuts" in dialogs[0].windowTitle()
    assert dialogs[0].table.rowCount() == len(SHORTCUTS) > 5
    dialogs[0].close()
    dialogs[0].deleteLater()


def _three_views(w, _b):
    """Two linked views beside the canvas, each showing the session's labels; pressed again: gone."""
    views = w.panel.three_views.views()
    assert w.panel.three_views.shown and len(views) == 2
    assert all(w.s.labels.name in vm.layers for vm in views)
    w.click(w.panel.views_button)
    assert not w.panel.three_views.shown and w.panel.three_views.views() == []


def _all_tabs_fit(w):
    bar = w.panel.tabs.tabBar()
    assert all(bar.rect().contains(bar.tabRect(i)) for i in range(bar.count()))


# Classes --------------------------------------------------------------------------------
def _class_row(w, name):
    return w.panel.classes.ontology.names.index(name)


def _colour(w, before):
    first = w.s.ontology.names[0]
    assert w.s.ontology[first].color == "#123456" != before
    assert w.answers.asked[-1] == "colour"
    swatch = w.panel.classes.table.cellWidget(0, 0)
    assert "#123456" in swatch.styleSheet()  # the swatch shows the new colour


def _added(w, before):
    names = w.s.ontology.names
    assert len(names) == before + 1 and names[-1] == "class 4"
    table = w.panel.classes.table
    assert table.rowCount() == before + 1 and table.item(before, 1).text() == "class 4"


def _select_class_row(w, name):
    table = w.panel.classes.table
    w.show(table)
    row = _class_row(w, name)
    rect = table.visualItemRect(table.item(row, 1))
    w.qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert table.currentRow() == row
    return table.rowCount()


def _deleted_class(w, before):
    assert "class 4" not in w.s.ontology and w.panel.classes.table.rowCount() == before - 1


def _classes_file(w):
    data = json.loads(json.dumps(ONTOLOGY))
    data["classes"].append({"name": "mitosis", "color": "#f032e6", "kind": "thing"})
    path = w.tmp / "classes.json"
    path.write_text(json.dumps(data))
    w.answers.open_file = str(path)


def _loaded_classes(w, _b):
    assert w.s.ontology.names == ["nucleus", "cell", "debris", "mitosis"]
    assert w.panel.classes.table.rowCount() == 4
    assert w.status("classes").startswith("Loaded 4 classes")


def _save_classes(w):
    w.answers.save_file = str(w.tmp / "saved classes.json")


def _saved_classes(w, _b):
    path = Path(w.answers.save_file)
    assert Ontology.load(path).names == w.s.ontology.names
    assert w.status("classes").startswith(f"Saved {len(w.s.ontology)} classes")


def _pick_instance(w):
    w.s.select_instance(w.ids[1])
    return w.s.labels.selected_label


def _new_instance(w, before):
    fresh = w.s.labels.selected_label
    assert fresh != before and fresh not in w.present()
    assert w.panel.classes.current_label.text().startswith("Labeling:")


def _dicom_folder(w):
    from dicom_helpers import write_dicom_series

    folder = w.tmp / "dicom"
    write_dicom_series(folder, np.random.default_rng(0).integers(0, 200, (5, 32, 32)).astype(np.int16))
    w.answers.folder = str(folder)
    return len(w.viewer.layers)


def _dicom_opened(w, before):
    from napari.layers import Image

    assert len(w.viewer.layers) == before + 1 and isinstance(w.viewer.layers[-1], Image)
    assert w.panel.classes.image_combo.currentText() == w.viewer.layers[-1].name
    assert w.status("classes").startswith("Opened") and "5 slices" in w.status("classes")


def _pick_dicom(w):
    from napari_samlabel._qt.classes_widget import NEW_LABELS

    classes = w.panel.classes
    classes.image_combo.setCurrentText(w.viewer.layers[-1].name)
    classes.labels_combo.setCurrentText(NEW_LABELS)
    return w.s, len(w.viewer.layers)


def _started(w, before):
    old, n_layers = before
    assert w.s is not old and w.s.image is w.viewer.layers[-2]
    assert len(w.viewer.layers) == n_layers + 1 and w.viewer.layers.selection.active is w.s.labels
    assert w.status("classes").startswith("Annotating")
    assert w.s.ontology.names == old.ontology.names  # the classes shown go with it


# Segment --------------------------------------------------------------------------------
def _loaded(w, _b):
    seg = w.panel.segment
    w.wait(lambda: seg.load_button.isEnabled())
    assert seg.model_combo.currentText() == "seeds"  # the default: weight-free
    assert "seeds ready" in seg.model_line.text() and seg.load_button.text() == "Loaded"
    assert seg.registry.backend is seg.backend is not None
    # a SAM 2 model without weights, offline: one clear line, the weight-free model kept, no hang
    from napari_samlabel.backends import registry

    w.monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    w.monkeypatch.setattr(registry, "_hub_cached", lambda spec: None)
    seg.model_combo.setCurrentText("sam2.1-tiny")
    w.press("Segment: Load")
    w.wait(lambda: seg.load_button.isEnabled(), timeout=20000)
    assert "no weights here" in seg.model_line.text() and "Using 'seeds'" in seg.model_line.text()
    assert seg.backend.name == "seeds" and seg.load_button.text() == "Load"
    assert any("sam2.1-tiny" in str(n.message) for n in w.notes)  # a warning in the viewer too
    seg.model_combo.setCurrentText("seeds")


def _unfolded(section_of):
    def check(w, _b):
        section = section_of(w.panel)
        assert section.isExpanded() and section.content().isVisible()

    return check


def _ckpt(w):
    w.answers.open_file = str(w.tmp / "my.pt")


def _ckpt_set(w, _b):
    assert w.panel.segment.checkpoint_edit.text() == w.answers.open_file
    w.panel.segment.checkpoint_edit.clear()


def _ticked(get, then: Callable[[Win, bool], None] | None = None, restore=True):
    """A check box: its state flips; ``then(w, on)`` checks what it changes."""

    def prepare(w):
        return get(w.panel).isChecked()

    def check(w, before):
        box = get(w.panel)
        assert box.isChecked() != before
        if then is not None:
            then(w, box.isChecked())
        if restore:
            box.setChecked(before)

    return prepare, check


def _fast_said(w, on):
    from napari_samlabel._qt import segment_widget

    assert segment_widget._stored_bool(segment_widget.FAST_KEY) is on  # kept for the next session
    assert "fast" in w.panel.segment.model_line.text().lower() or "bf16" in w.panel.segment.model_line.text()


def _controller_says(attr):
    def then(w, on):
        assert getattr(w.panel.segment.controller, attr) is on

    return then


def _sam_on(w, _b):
    seg = w.panel.segment
    assert seg.sam_mode and seg.prompt_button.isChecked()
    assert "SAM mode: <b>on</b>" in w.panel.mode_label.text()
    assert w.viewer.layers.selection.active is seg.controller.points and seg.controller.points.visible


def _prompt_on(w, k: int, frame: int):
    """A real click on object ``k`` of ``frame`` in SAM mode; waits for its preview."""
    from window_helpers import click

    seg = w.panel.segment
    w.s.go_to_frame(frame)
    w.qtbot.wait(50)
    click(w.viewer, w.s.labels, centre(w.truth[frame] == k))
    w.wait(lambda: seg.controller.result is not None and seg._worker is None, timeout=15000)
    assert "Candidate 1/" in w.status("segment"), w.status("segment")


def _prompt_for_next(w):
    _prompt_on(w, 1, 2)
    return w.panel.segment.controller.choice


def _next(w, before):
    c = w.panel.segment.controller
    n = len(c.result.prediction)
    assert c.choice == (before + 1) % n and f"Candidate {c.choice + 1}/{n}" in w.status("segment")


def _count(w):
    return len(w.present())


def _saved_prompt(w, before):
    assert len(w.present()) == before + 1 and w.status("segment").startswith("Saved")
    assert 2 in w.s.table[w.present()[-1]].frames


def _prompt_for_clear(w):
    _prompt_on(w, 2, 2)


def _cleared(w, _b):
    c = w.panel.segment.controller
    assert len(c.points.data) == 0 and c.result is None
    assert not np.asarray(c.preview.data).any()


def _this_plane(w):
    from napari_samlabel._qt.segment_widget import THIS_PLANE

    w.panel.segment.range_combo.setCurrentText(THIS_PLANE)
    w.s.go_to_frame(3)
    return len(w.present())


def _labeled_all(w, before):
    seg = w.panel.segment
    w.wait(lambda: seg._label_all is None)
    assert len(w.present()) > before and w.status("segment").startswith("Labeled")
    assert all(3 in w.s.table[i].frames for i in w.present()[before:])


class SlowModel:
    """A test double: the weight-free model, 0.5 s a frame for Label all and tracking: a run
    that is still going when Cancel is pressed."""

    name = "slow-model-double"
    SECONDS = 0.5

    def __init__(self):
        from napari_samlabel.backends.seeds import SeedGrowSegmenter

        self.inner = SeedGrowSegmenter()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def segment_all(self, rgb):
        time.sleep(self.SECONDS)
        return self.inner.segment_all(rgb)

    def tracker(self):
        inner, seconds = self.inner.tracker(), self.SECONDS

        class SlowTracker:
            name = "slow-tracker-double"

            def track(self, *args, **kwargs):
                for step in inner.track(*args, **kwargs):
                    time.sleep(seconds)
                    yield step

        return SlowTracker()


def _running_label_all(w):
    from napari_samlabel._qt.segment_widget import FRAMES

    seg = w.panel.segment
    seg.set_backend(SlowModel())
    seg.range_combo.setCurrentText(FRAMES)
    seg.first_spin.setValue(4)
    seg.last_spin.setValue(7)
    before = len(w.present())
    w.press("Segment: Label all as")
    assert seg._label_all is not None and seg.cancel_button.isVisible()
    return before


def _cancelled_label_all(kept: bool):
    def check(w, before):
        seg = w.panel.segment
        if kept:  # (Keep on Cancel was just unticked: Cancel itself comes now)
            w.press("Segment: Cancel")
        w.wait(lambda: seg._label_all is None)
        assert w.status("segment").startswith("Label all cancelled")
        assert not seg.cancel_button.isVisible() and not seg.busy.isVisible()
        if kept:
            assert "nothing of it kept" in w.status("segment") and len(w.present()) == before
            assert not seg.keep_on_cancel.isChecked()
            seg.keep_on_cancel.setChecked(True)
        seg.set_backend(seg.registry.weight_free())

    return check


class ExemplarModel:
    """A test double for a model with visual exemplars (SAM 3's ``segment_exemplars``): the
    weight-free model's objects, noting the boxes it was given."""

    name = "exemplar-double"

    def __init__(self):
        from napari_samlabel.backends.seeds import SeedGrowSegmenter

        self.inner, self.asked = SeedGrowSegmenter(), []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def segment_exemplars(self, rgb, boxes, labels=None, text=None):
        self.asked.append([tuple(b) for b in boxes])
        return self.inner.segment_all(rgb)


def _box_for_similar(w):
    """A model with exemplars, frame 5 shown, a box around object 2 drawn (class 'debris')."""
    from napari_samlabel._qt.segment_widget import THIS_PLANE

    seg = w.panel.segment
    if seg.controller is None:
        seg.start_prompting()
    seg.set_backend(ExemplarModel())
    seg.range_combo.setCurrentText(THIS_PLANE)
    seg.all_class_combo.setCurrentText("debris")
    w.s.go_to_frame(5)
    w.qtbot.wait(20)
    rows, cols = np.nonzero(w.truth[5] == 2)
    seg.controller.set_box((5, rows.min(), cols.min()), (5, rows.max(), cols.max()))
    return len(w.present()), (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)


def _labeled_similar(w, before):
    seg = w.panel.segment
    n, box = before
    w.wait(lambda: seg._label_all is None)
    assert seg.backend.asked == [[box]]  # the box drawn, as plane pixels
    made = w.present()[n:]
    assert made and all(w.s.table[i].class_name == "debris" and 5 in w.s.table[i].frames for i in made)
    assert w.status("segment").startswith("Labeled") and "like the box as debris" in w.status("segment")
    assert len(seg.controller.boxes.data) == 0  # the box was used
    seg.set_backend(seg.registry.weight_free())
    assert not seg.similar_button.isEnabled() and "SAM 3" in seg.similar_button.toolTip()


def _weak_instance(w):
    w.s.go_to_frame(6)
    rec = w.commit(6, w.truth[6] == 3, "cell", source="model", confidence=0.2)  # (manual is always 1.0)
    return rec.id


def _pruned(w, weak):
    assert weak not in w.present() and w.status("segment").startswith("Removed")
    assert "below 0.50 on frame 6" in w.status("segment")


# Instances ------------------------------------------------------------------------------
def _search(w):
    inst = w.panel.instances
    w.show(inst.search_edit)
    w.qtbot.keyClicks(inst.search_edit, "zzz")
    assert w.list_rows() == 0
    return len(w.present())


def _search_cleared(w, n):
    assert w.panel.instances.search_edit.text() == "" and w.list_rows() == n


def _set_class(w):
    w.select(w.ids[1])
    w.panel.instances.class_combo.setCurrentText("cell")


def _class_set(w, _b):
    from napari_samlabel._qt.instances_widget import COL_CLASS

    assert w.s.table[w.ids[1]].class_name == "cell" == w.cell(w.ids[1], COL_CLASS)
    assert w.status("instances") == "1 instance(s) are now cell."


def _select(*ks):
    def prepare(w):
        w.select(*(w.ids[k] for k in ks))
        return len(w.present())

    return prepare


def _deleted(w, before):
    assert w.ids[4] not in w.present() and len(w.present()) == before - 1 and w.list_rows() == before - 1
    assert w.status("instances").startswith("Deleted 1 instance(s)")


def _merged(w, before):
    assert len(w.present()) == before - 1 and w.ids[2] not in w.present()
    assert w.status("instances").startswith("Merged 2 instances")


def _slice_one(w):
    w.select(w.ids[3])
    return len(w.present()), len(w.viewer.layers)


def _sliced(w, before):
    from napari_samlabel._napari.reshape import LINE_LAYER

    n, n_layers = before
    # the first press makes the line layer and says how to draw
    assert len(w.viewer.layers) == n_layers + 1 and w.viewer.layers[-1].name == LINE_LAYER
    assert "Draw a line across the object" in w.status("instances")
    mask = np.asarray(w.s.labels.data[0]) == w.ids[3]
    y, x = centre(mask)
    ys, xs = np.nonzero(mask)
    line = np.array([[0, y, xs.min() - 3], [0, y, xs.max() + 3]], float)
    w.viewer.layers[LINE_LAYER].add_paths([line])
    w.press("Instances: Slice")
    assert len(w.present()) == n + 1 and w.status("instances").startswith("Sliced")


def _two_parts(w):
    w.s.go_to_frame(5)
    rec = w.commit(5, (w.truth[5] == 1) | (w.truth[5] == 2), "nucleus")
    w.select(rec.id)
    return len(w.present())


def _split(w, before):
    assert len(w.present()) == before + 1 and w.status("instances").startswith("New from the parts")


def _to_frame(f):
    def prepare(w):
        w.s.go_to_frame(f)

    return prepare


def _span(first, last):
    def check(w, _b):
        inst = w.panel.instances
        assert (inst.first_spin.value(), inst.last_spin.value()) == (first, last)

    return check


def _delete_frame_5(w):
    from napari_samlabel._qt.instances_widget import OP_DELETE_ALL

    inst = w.panel.instances
    inst.op_combo.setCurrentText(OP_DELETE_ALL)
    inst.first_spin.setValue(5)
    inst.last_spin.setValue(5)
    on = w.s.table.on_frame(5)
    assert on
    return len(w.present()), len(w.answers.asked)


def _bulk_applied(w, before):
    n, asked = before
    assert w.answers.asked[asked:] == ["question"]  # asked first, answered Yes
    assert not w.s.table.on_frame(5) and len(w.present()) < n
    assert w.status("instances").startswith("Delete everything:") and "frames 5-5" in w.status("instances")


def _one_nucleus(w):
    w.s.go_to_frame(0)
    w.select(w.ids[1])
    assert w.s.table[w.ids[1]].class_name == "cell"  # (set above): back to a nucleus, which has ticks
    w.s.annotation.change_class([w.ids[1]], "nucleus")
    w.qtbot.wait(10)


def _flag_set(w, _b):
    assert list(w.s.table[w.ids[1]].attributes_on(0).get("flags")) == ["round"]
    assert "flags = round" in w.status("instances")


def _preserve(w, on):
    assert w.s.annotation.preserve_attributes is on


def _this_frame(w, _b):
    fl = w.panel.instances.frame_labels
    assert fl.first_spin.value() == fl.last_spin.value() == 2


def _quality(w):
    combo = w.panel.instances.frame_labels.values.fields["quality"][1]
    combo.setCurrentText("good")


def _frame_labelled(w, _b):
    assert w.s.table.frame_labels.on(2) == {"quality": "good"}
    assert w.status("instances").startswith("Frames 2-2: quality: good")


def _review_one(w):
    w.s.go_to_frame(0)
    w.select(w.ids[1])
    return len(w.s.table.reviews.open_issues())


def _accepted(w, _b):
    assert w.status("instances").startswith("Accepted") and "on frame 0" in w.status("instances")


def _reject_one(w):
    n = _review_one(w)
    w.panel.instances.review.comment.setText("outline too large")
    return n


def _rejected(w, before):
    review = w.panel.instances.review
    assert w.status("instances").startswith("Rejected") and "open issue" in w.status("instances")
    assert len(w.s.table.reviews.open_issues()) == before + 1 == review.issues.count()
    assert "outline too large" in review.issues.item(0).text() and review.comment.text() == ""


def _pick_issue(w):
    review = w.panel.instances.review
    w.show(review.issues)
    where = review.issues.visualItemRect(review.issues.item(0)).center()
    w.qtbot.mouseClick(review.issues.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert review.issues.currentItem() is not None
    return review.issues.count()


def _resolved(w, before):
    review = w.panel.instances.review
    assert review.issues.count() == before - 1 and w.status("instances") == "Resolved."


# Instances menu -------------------------------------------------------------------------
def _menu_press(w, name):
    label_id = w.ids[1] if "Delete" not in name else w.ids[4]
    w.select(label_id)
    w.menu(label_id, name.split(": ", 1)[1])


def _row_status(text):
    def check(w, _b):
        from napari_samlabel._qt.instances_widget import COL_STATUS

        assert w.s.table[w.ids[1]].status == text == w.cell(w.ids[1], COL_STATUS)

    return check


def _row_ticked(col_name, on):
    def check(w, _b):
        from napari_samlabel._qt import instances_widget

        col = getattr(instances_widget, col_name)
        assert w.checked(w.ids[1], col) is on
        rec = w.s.table[w.ids[1]]
        assert (rec.locked if col_name == "COL_LOCK" else rec.visible) is on

    return check


def _menu_deleted(w, before):
    assert w.ids[4] not in w.present() and w.list_rows() == before - 1


# Track ----------------------------------------------------------------------------------
def _track_one(k, frames=N_FRAMES):
    def prepare(w):
        w.s.go_to_frame(0)
        w.select(w.ids[k])
        w.panel.track.frames_spin.setValue(frames)
        return k

    return prepare


def _tracked(w, k):
    track = w.panel.track
    w.wait(lambda: track.worker is None)
    frames = w.s.table[w.ids[k]].frames
    assert len(frames) > 3 and min(frames) == 0, frames
    assert w.status("track").startswith("Tracking done")
    assert track.progress.format().endswith(("done", "lost", "early")), track.progress.format()


def _running_track(k):
    def prepare(w):
        w.panel.segment.set_backend(SlowModel())  # (the Track tab tracks with the Segment tab's model)
        _track_one(k)(w)
        w.press("Track: Track")
        assert w.panel.track.worker is not None and w.panel.track.cancel_button.isEnabled()
        return k

    return prepare


def _track_cancelled(w, k):
    track = w.panel.track
    w.wait(lambda: track.worker is None)
    assert w.s.table[w.ids[k]].frames <= {0, 1}
    assert "cancelled, frames kept" in w.status("track") and track.progress.format().endswith("cancelled")
    assert track.track_button.isEnabled() and not track.cancel_button.isEnabled()


def _keep_unticked(w, before):
    """Unticked: the next cancelled run writes nothing."""
    track = w.panel.track
    assert not track.keep_on_cancel.isChecked()
    _running_track(3)(w)
    w.press("Track: Cancel")
    w.wait(lambda: track.worker is None)
    assert w.s.table[w.ids[3]].frames == {0} and "cancelled, nothing kept" in w.status("track")
    track.keep_on_cancel.setChecked(True)
    w.panel.segment.set_backend(w.panel.segment.registry.weight_free())


def _to_end(w, on):
    assert w.panel.track.frames_spin.isEnabled() is not on


def _two_keyframes(w):
    k = 4
    rec = w.commit(4, w.truth[4] == k, label_id=w.ids[k])
    assert rec.keyframes >= {0, 4}
    w.select(w.ids[k])


def _interpolated(w, _b):
    rec = w.s.table[w.ids[4]]
    assert rec.frames == {0, 1, 2, 3, 4}
    assert w.status("track") == f"Filled {rec.name}: 3 frame(s)"


def _tracks_layer(w):
    return len(w.viewer.layers)


def _tracks_added(w, before):
    from napari.layers import Tracks

    assert len(w.viewer.layers) == before + 1 and isinstance(w.viewer.layers[-1], Tracks)
    assert w.status("track").startswith("Tracks layer added")


def _dividing(w):
    mother = w.commit(5, w.truth[5] == 3, "cell")
    pieces = (w.truth[6] == 3) | (w.truth[6] == 4)
    assert w.free(6, pieces)
    w.commit(6, pieces, label_id=mother.id)
    w.s.go_to_frame(5)
    w.select(mother.id)
    return mother.id


def _divided(w, mother):
    kids = [r for r in w.s.table.present() if r.parent == mother]
    assert len(kids) == 2 and all(r.frames == {6} for r in kids)
    assert max(w.s.table[mother].frames) == 5
    assert "divided after frame 5" in w.status("track") and "Ctrl+Z" in w.status("track")


def _link_pair(w):
    assert w.free(7, w.truth[7] == 4)
    late = w.commit(7, w.truth[7] == 4, "debris")
    w.s.go_to_frame(0)
    w.select(w.ids[4], late.id)  # (instance 4: frames 0-4, interpolated above)
    return late.id


def _linked(w, late):
    assert w.s.table[late].parent == w.ids[4] and "now divided from" in w.status("track")
    w.ids["late"] = late


def _select_late(w):
    w.select(w.ids["late"])


def _unlinked(w, _b):
    assert not w.s.table[w.ids["late"]].parent and "parent cleared" in w.status("track")


# Export ---------------------------------------------------------------------------------
def _coco(w):
    w.panel.export.format_combo.setCurrentText("coco")
    w.answers.save_file = str(w.tmp / "coco.json")


def _exported(w, _b):
    data = json.loads(Path(w.answers.save_file).read_text())
    assert len(data["annotations"]) == len(w.present())
    assert all(isinstance(a["segmentation"], list) for a in data["annotations"])  # polygons: the box is ticked
    assert w.status("export").startswith("Wrote")


def _polygons(w, on):
    assert w.panel.export.polygons.isChecked() is on


def _label_image(w):
    import tifffile

    labels = np.zeros((N_FRAMES, SIZE, SIZE), np.uint16)
    labels[3, 2:10, 2:10] = 7  # a corner no cell reaches
    assert w.free(3, labels[3] > 0)
    path = w.tmp / "from elsewhere.tif"
    tifffile.imwrite(path, labels)
    w.answers.open_files = [str(path)]
    return len(w.present())


def _imported(w, before):
    assert len(w.present()) == before + 1
    assert any(w.s.table[i].frames == {3} for i in w.present()[before:])
    assert w.status("export").startswith("Imported 1 instance of 1 class from from elsewhere.tif"), w.status("export")


def _project_folder(w):
    w.answers.project = w.tmp / "cells.samlabel"


def _project_saved(w, _b):
    from napari_samlabel.io.project import is_project

    assert is_project(w.answers.project) and w.s.project_folder == w.answers.project
    assert w.status("export").startswith("Saved")


def _copy_of_project(w):
    copy = w.tmp / "copy.samlabel"
    shutil.copytree(w.answers.project, copy)
    w.answers.folder = str(copy)
    w.viewer.layers.selection.active = w.viewer.layers["cells"]
    return w.s, len(w.viewer.layers), len(w.present())


def _project_opened(w, before):
    old, n_layers, n = before
    assert w.s is not old and w.s.labels.name == "copy.samlabel" and len(w.viewer.layers) == n_layers + 1
    assert len(w.present()) == n and w.status("export") == f"Opened {w.answers.folder}: {n} instances."


def _autosave(w, on):
    assert w.panel.export._timer.isActive() is on


def _shapes_count(w):
    w.s.go_to_frame(0)
    return len(w.viewer.layers), len(w.s.table.on_frame(0))


def _shapes_made(w, before):
    from napari.layers import Shapes

    n_layers, n = before
    layer = w.viewer.layers[-1]
    assert len(w.viewer.layers) == n_layers + 1 and isinstance(layer, Shapes) and len(layer.data) == n
    assert w.status("export") == f"{n} shapes in {layer.name!r}."


def _drawn_square(w):
    square = np.array([[0, 86, 86], [0, 86, 94], [0, 94, 94], [0, 94, 86]], float)
    assert w.free(0, np.pad(np.ones((8, 8), bool), ((86, 2), (86, 2))))
    layer = w.viewer.add_shapes([square], shape_type="rectangle", name="drawn")
    w.viewer.layers.selection.active = layer
    return len(w.present())


def _from_shapes(w, before):
    assert len(w.present()) == before + 1 and w.status("export") == "1 instance(s) from 'drawn'."


def _sec(section):
    return Control(check=_unfolded(section))


def _tick(get, then=None, restore=True):
    prepare, check = _ticked(get, then, restore)
    return Control(prepare=prepare, check=check)


DETAILS = "Instances: Attributes, frame labels, review"

#: Every control of the panel, in the order each tab's test presses them.
CONTROLS: dict[str, Control] = {
    "Panel: Keys": Control(check=_keys_dialog),
    "Panel: 3 views": Control(check=_three_views),
    "Panel: tab scroll left": _no_press(_all_tabs_fit),
    "Panel: tab scroll right": _no_press(_all_tabs_fit),
    # -- Classes
    "Classes: Change colour (row)": Control(prepare=lambda w: w.s.ontology[w.s.ontology.names[0]].color, check=_colour),
    "Classes: table corner": _no_press(lambda w: None),
    "Classes: Add": Control(prepare=lambda w: len(w.s.ontology), check=_added),
    "Classes: Delete": Control(prepare=lambda w: _select_class_row(w, "class 4"), check=_deleted_class),
    "Classes: Load…": Control(prepare=_classes_file, check=_loaded_classes),
    "Classes: Save…": Control(prepare=_save_classes, check=_saved_classes),
    "Classes: New (M)": Control(prepare=_pick_instance, check=_new_instance),
    "Classes: Open one DICOM series…": Control(prepare=_dicom_folder, check=_dicom_opened),
    "Classes: Start annotating": Control(prepare=_pick_dicom, check=_started),
    # -- Segment
    "Segment: Load": Control(check=_loaded),
    "Segment: Model options (section)": _sec(lambda p: p.segment.model_options),
    "Segment: Model options / …": Control(prepare=_ckpt, check=_ckpt_set),
    "Segment: Model options / Embeddings on disk": _tick(lambda p: p.segment.disk_cache),
    "Segment: Model options / Fast mode (bf16)": _tick(lambda p: p.segment.fast_mode, _fast_said),
    "Segment: SAM mode (Shift+A)": Control(check=_sam_on),
    "Segment: Into selected": _tick(lambda p: p.segment.into_selected, _controller_says("into_selected")),
    "Segment: 3 candidates (C)": _tick(lambda p: p.segment.multimask, _controller_says("multimask")),
    "Segment: One object per box": _tick(lambda p: p.segment.one_per_box, _controller_says("one_per_box")),
    "Segment: Next (C)": Control(prepare=_prompt_for_next, check=_next),
    "Segment: Save (Enter)": Control(prepare=_count, check=_saved_prompt),
    "Segment: Clear (Esc)": Control(prepare=_prompt_for_clear, check=_cleared),
    "Segment: Label all as": Control(prepare=_this_plane, check=_labeled_all),
    "Segment: Label similar (Shift+L)": Control(prepare=_box_for_similar, check=_labeled_similar),
    "Segment: Cancel": Control(prepare=_running_label_all, check=_cancelled_label_all(kept=False)),
    "Segment: Keep on Cancel": Control(prepare=_running_label_all, check=_cancelled_label_all(kept=True)),
    "Segment: Delete below": Control(prepare=_weak_instance, check=_pruned),
    # -- Instances
    "Instances: clear 'Search name, class or id'": Control(prepare=_search, check=_search_cleared),
    "Instances: Set": Control(prepare=_set_class, check=_class_set),
    "Instances: Delete": Control(prepare=_select(4), check=_deleted),
    "Instances: Merge": Control(prepare=_select(2, 1), check=_merged),
    "Instances: Slice": Control(prepare=_slice_one, check=_sliced),
    "Instances: Split parts": Control(prepare=_two_parts, check=_split),
    "Instances: Bulk edit (section)": _sec(lambda p: p.instances.bulk),
    "Instances: Bulk edit / Current": Control(prepare=_to_frame(3), check=_span(3, 3)),
    "Instances: Bulk edit / All": Control(check=_span(0, N_FRAMES - 1)),
    "Instances: Bulk edit / Apply": Control(prepare=_delete_frame_5, check=_bulk_applied),
    f"{DETAILS} (section)": _sec(lambda p: p.instances.details_box),
    f"{DETAILS} / tab scroll left": _no_press(lambda w: None),
    f"{DETAILS} / tab scroll right": _no_press(lambda w: None),
    f"{DETAILS} / Attributes / flags (option)": Control(prepare=_one_nucleus, check=_flag_set),
    f"{DETAILS} / Attributes / Preserve chosen state": _tick(lambda p: p.instances.attributes.preserve, _preserve),
    f"{DETAILS} / Frame labels / This frame": Control(prepare=_to_frame(2), check=_this_frame),
    f"{DETAILS} / Frame labels / Set": Control(prepare=_quality, check=_frame_labelled),
    f"{DETAILS} / Review / On this frame only": _tick(lambda p: p.instances.review.this_frame, restore=False),
    f"{DETAILS} / Review / Accept": Control(prepare=_review_one, check=_accepted),
    f"{DETAILS} / Review / Reject": Control(prepare=_reject_one, check=_rejected),
    f"{DETAILS} / Review / Resolve": Control(prepare=_pick_issue, check=_resolved),
    # -- the Instances list's right-click menu (review_actions, then Delete)
    f"{MENU}: Accept": Control(press=_menu_press, check=_row_status("accepted")),
    f"{MENU}: Reject": Control(press=_menu_press, check=_row_status("rejected")),
    f"{MENU}: Mark unreviewed": Control(press=_menu_press, check=_row_status("unreviewed")),
    f"{MENU}: Lock": Control(press=_menu_press, check=_row_ticked("COL_LOCK", True)),
    f"{MENU}: Unlock": Control(press=_menu_press, check=_row_ticked("COL_LOCK", False)),
    f"{MENU}: Hide": Control(press=_menu_press, check=_row_ticked("COL_NAME", False)),
    f"{MENU}: Show": Control(press=_menu_press, check=_row_ticked("COL_NAME", True)),
    f"{MENU}: Delete": Control(prepare=_count, press=_menu_press, check=_menu_deleted),
    # -- Track
    "Track: Track": Control(prepare=_track_one(1), check=_tracked),
    "Track: Cancel": Control(prepare=_running_track(2), check=_track_cancelled),
    "Track: Keep frames done on Cancel": Control(check=_keep_unticked),
    "Track: to the end": _tick(lambda p: p.track.to_end, _to_end),
    "Track: Interpolate": Control(prepare=_two_keyframes, check=_interpolated),
    "Track: Tracks layer": Control(prepare=_tracks_layer, check=_tracks_added),
    "Track: Divide at this frame": Control(prepare=_dividing, check=_divided),
    "Track: Link": Control(prepare=_link_pair, check=_linked),
    "Track: Unlink": Control(prepare=_select_late, check=_unlinked),
    # -- Export
    "Export: COCO polygons (else RLE)": _tick(lambda p: p.export.polygons, _polygons, restore=False),
    "Export: Export…": Control(prepare=_coco, check=_exported),
    "Export: To Shapes": Control(prepare=_shapes_count, check=_shapes_made),
    "Export: From Shapes": Control(prepare=_drawn_square, check=_from_shapes),
    "Export: Import…": Control(prepare=_label_image, check=_imported),
    "Export: Autosave every": _tick(lambda p: p.export.autosave, _autosave),
    "Export: Save project…": Control(prepare=_project_folder, check=_project_saved),
    "Export: Open project…": Control(prepare=_copy_of_project, check=_project_opened),
}

GROUPS = ["Panel", "Classes", "Segment", "Instances", MENU, "Track", "Export"]


def _group(name: str) -> str:
    return name.split(":", 1)[0]


def _errors(notes) -> list[str]:
    from napari.utils.notifications import NotificationSeverity

    return [str(n.message) for n in notes if n.severity >= NotificationSeverity.ERROR]


# -- the tests ----------------------------------------------------------------------------
def test_the_table_lists_every_control(win):
    """Every button of the live panel and every action of the list's menu has an entry, and
    every entry is in the window: a new control without a test fails here."""
    w = win
    w.select(w.ids[1])  # one nucleus selected: the Attributes page has its ticks
    found = live_controls(w.panel)
    names = set(found) | {f"{MENU}: {text}" for text in w.menu(w.ids[1])}
    missing, extra = sorted(names - set(CONTROLS)), sorted(set(CONTROLS) - names)
    assert not missing and not extra, f"controls without an entry: {missing}; entries with no control: {extra}"
    several = {n: len(b) for n, b in found.items() if len(b) > 1 and not n.endswith(("(row)", "(option)"))}
    assert not several, f"names that do not tell controls apart: {several}"
    assert set(map(_group, CONTROLS)) == set(GROUPS)
    # and a button added to a tab (a new feature without an entry) is one this test reports
    from qtpy.QtWidgets import QPushButton

    w.panel.track.layout().addWidget(QPushButton("Brand new"))
    assert set(live_controls(w.panel)) - set(CONTROLS) == {"Track: Brand new"}


@pytest.mark.parametrize("group", GROUPS)
def test_every_control_of_the_tab_does_what_it_says(win, group):
    w = win
    for name, control in CONTROLS.items():
        if _group(name) != group:
            continue
        seen = len(w.notes)
        before = control.prepare(w)
        (control.press or (lambda w, n: w.press(n)))(w, name)
        try:
            control.check(w, before)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e
        errors = [m for m in _errors(w.notes[seen:]) if not any(ok in m for ok in control.ok_notes)]
        assert not errors, f"{name}: napari showed errors {errors}"
