"""The Segment and Classes tabs as a user meets them: model calls never on the GUI thread,
hotkeys in SAM mode, the class table's columns (real window: slow tier)."""

import threading
import time

import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest

from doubles import DiscSegmenterDouble
from napari_samlabel.api import current_session

pytestmark = pytest.mark.slow


class SlowThreadRecordingDouble(DiscSegmenterDouble):
    """The disc double, 0.3 s per call, noting which thread each model call ran on."""

    def __init__(self):
        super().__init__()
        self.threads = []

    def predict(self, prompts, multimask=True, mask_input=None):
        self.threads.append(threading.current_thread() is threading.main_thread())
        time.sleep(0.3)
        return super().predict(prompts, multimask, mask_input)

    def segment_all(self, rgb):
        self.threads.append(threading.current_thread() is threading.main_thread())
        time.sleep(0.5)
        return super().segment_all(rgb)


@pytest.fixture
def panel(make_napari_viewer, qtbot):
    from napari_samlabel.cli import DEMO_CLASSES
    from napari_samlabel.core import Ontology

    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-samlabel", "timelapse")
    _, widget = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    from napari_samlabel.api import start_session

    start_session(viewer, viewer.layers[0], ontology=Ontology.from_dict(DEMO_CLASSES))
    qtbot.wait(50)
    return viewer, widget


def test_enter_on_a_stale_preview_saves_when_the_worker_returns(panel, qtbot):
    viewer, p = panel
    seg, s = p.segment, current_session(viewer)
    c = seg.start_prompting()
    model = SlowThreadRecordingDouble()
    seg.set_backend(model)
    viewer.dims.set_current_step(0, 3)
    c.add_point([3, 60, 60])
    QTest.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key_Return)  # at once: the preview is not there yet
    assert not any(r.present for r in s.table), "saved before the preview existed"
    qtbot.waitUntil(lambda: any(r.present for r in s.table), timeout=5000)
    assert model.threads and not any(model.threads), "the model ran on the GUI thread"
    (rec,) = [r for r in s.table if r.present]
    assert rec.frames == {3} and s.labels.data[3, 60, 60] == rec.id  # the disc around the click


def test_label_all_runs_in_a_worker_and_cancel_writes_nothing(panel, qtbot):
    viewer, p = panel
    seg, s = p.segment, current_session(viewer)
    seg.start_prompting()
    model = SlowThreadRecordingDouble()
    seg.set_backend(model)
    worker = seg.label_all()
    assert not seg.busy.isHidden() and seg.cancel_button.isEnabled()
    with qtbot.waitSignal(worker.finished, timeout=5000):  # listening before the click: a run
        qtbot.mouseClick(seg.cancel_button, Qt.LeftButton)  # cancelled at once may end within it
    qtbot.wait(50)
    assert not any(r.present for r in s.table) and seg.busy.isHidden()
    worker = seg.label_all()
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    qtbot.waitUntil(lambda: sum(r.present for r in s.table) == 2, timeout=2000)
    assert model.threads and not any(model.threads)  # never on the GUI thread; a Cancel before the frame starts skips the model


def test_a_class_hotkey_in_sam_mode_prompts_for_that_class(panel, qtbot):
    from window_helpers import key

    viewer, p = panel
    s = current_session(viewer)
    key(viewer, "Shift-A")
    assert p.segment.sam_mode
    viewer.layers.selection.active = s.labels  # the user clicked the labels layer meanwhile
    key(viewer, "2")
    assert s.current_class == "mitotic" and viewer.layers.selection.active is p.segment.controller.points
    assert p.segment.class_combo.currentText() == "mitotic"
    key(viewer, "Shift-A")
    assert not p.segment.sam_mode and not p.segment.controller.points.visible
    key(viewer, "1")  # SAM mode off: the hotkey picks the class for napari's brush
    assert s.current_class == "nucleus" and viewer.layers.selection.active is s.labels


def test_class_table_columns_stay_readable_and_kind_is_edited_from_a_list(make_napari_viewer, qtbot):
    from napari_samlabel._qt.classes_widget import COL_KEY, COL_KIND

    viewer = make_napari_viewer(show=True)
    viewer.open_sample("napari-samlabel", "timelapse")
    _, classes = viewer.window.add_plugin_dock_widget("napari-samlabel", "Classes")
    classes.start_button.click()
    for _ in range(3):  # added after the dock opened: the case that squashed the columns
        qtbot.mouseClick(classes.add_button, Qt.LeftButton)
    qtbot.wait(50)
    header = classes.table.horizontalHeader()
    metrics = classes.table.fontMetrics()
    assert header.sectionSize(COL_KIND) >= metrics.horizontalAdvance("thing") + 6
    assert header.sectionSize(COL_KEY) >= metrics.horizontalAdvance("9") + 6
    item = classes.table.item(1, COL_KIND)
    classes.table.editItem(item)
    qtbot.waitUntil(lambda: bool(classes.table.findChildren(type(classes.image_combo))), timeout=1000)
    editor = [e for e in classes.table.findChildren(type(classes.image_combo)) if e.count() == 2][-1]
    editor.setCurrentText("stuff")
    editor.activated.emit(editor.currentIndex())
    classes.table.setFocus()  # leaving the cell commits the choice
    qtbot.waitUntil(lambda: classes.ontology[classes.ontology.names[1]].kind == "stuff", timeout=1000)


def test_start_annotating_again_reuses_the_session_the_viewer_has(panel, qtbot):
    """Docks see napari's viewer through a proxy: pressing Start annotating on an image that
    has a session made a second one (a second labels layer, or two sessions on one layer)."""
    viewer, p = panel
    s = current_session(viewer)
    p.segment.start_prompting()
    rec = s.commit(__import__("napari_samlabel.synthetic", fromlist=["disc"]).disc((192, 192), 50, 50, 8), region=(2,))
    n_layers = len(viewer.layers)
    qtbot.mouseClick(p.classes.start_button, Qt.LeftButton)
    p.classes.labels_combo.setCurrentText(s.labels.name)
    qtbot.mouseClick(p.classes.start_button, Qt.LeftButton)
    registry = p.classes.registry
    assert len(registry.sessions) == 1 and current_session(viewer) is s and len(viewer.layers) == n_layers
    assert p.segment.controller is not None and p.segment.controller.points in viewer.layers
    assert rec.id in s.table and "samlabel preview" not in [
        p.classes.labels_combo.itemText(i) for i in range(p.classes.labels_combo.count())]  # fmt: skip
