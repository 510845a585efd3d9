"""Real window: Label all over a frame range from the Segment tab of the SAM Label panel at a
laptop's size: the progress bar counts frames as they are written, Cancel stops within one
frame (keeping or dropping what was done), one Ctrl+Z undoes the run; a screenshot."""

import os
import time

import pytest
from qtpy.QtCore import QPoint, Qt

from napari_samlabel.api import current_session, start_session
from napari_samlabel.backends.seeds import SeedGrowSegmenter

from window_helpers import key

pytestmark = pytest.mark.slow


class SlowFinderForTest:
    """A test double: the seeds backend, 0.4 s per find-everything call (a slow model), that
    notes the frames it was called on (by their pixels)."""

    name = "slow-finder-double"

    def __init__(self):
        self.inner = SeedGrowSegmenter()
        self.calls = 0

    def set_image(self, rgb):
        self.inner.set_image(rgb)

    def predict(self, *a, **k):
        return self.inner.predict(*a, **k)

    def segment_all(self, rgb):
        self.calls += 1
        time.sleep(0.4)
        return self.inner.segment_all(rgb)


@pytest.fixture
def window(make_napari_viewer, qtbot):
    from napari_samlabel.cli import DEMO_CLASSES
    from napari_samlabel.core import Ontology

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 740)
    viewer.open_sample("napari-samlabel", "timelapse")
    start_session(viewer, viewer.layers[0], ontology=Ontology.from_dict(DEMO_CLASSES))
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    panel.tabs.setCurrentIndex([panel.tabs.tabText(i) for i in range(panel.tabs.count())].index("Segment"))
    seg = panel.segment
    seg.start_prompting()
    model = SlowFinderForTest()
    seg.set_backend(model)
    qtbot.wait(50)
    return viewer, current_session(viewer), seg, model


def frames_labeled(s, cls):
    return [f for f in range(s.labels.data.shape[0]) if any(s.table[i].class_name == cls
            for i in set(s.labels.data[f].ravel().tolist()) - {0})]  # fmt: skip


def choose_range(seg, qtbot, first, last, cls):
    seg.range_combo.setCurrentText("frames")
    seg.first_spin.setValue(first)
    seg.last_spin.setValue(last)
    seg.all_class_combo.setCurrentText(cls)


def test_label_all_over_frames_shows_progress_cancel_keeps_frames_done_undo_removes_them(window, qtbot, tmp_path):
    viewer, s, seg, model = window
    assert s.current_class == "nucleus"
    choose_range(seg, qtbot, 2, 11, "mitotic")
    assert seg.busy.isHidden()
    qtbot.mouseClick(seg.label_all_button, Qt.LeftButton)
    assert seg.busy.isVisible() and seg.cancel_button.isEnabled() and not seg.label_all_button.isEnabled()
    qtbot.waitUntil(lambda: seg.busy.value() >= 2, timeout=10000)
    assert seg.busy.text().startswith(f"{seg.busy.value()} / 10 frames")
    assert frames_labeled(s, "mitotic")[:2] == [2, 3]  # written as they come, as the class picked
    seg.window().grab().save(os.fspath(tmp_path / "label_all_running.png"))
    viewer.window._qt_window.grab().save(os.fspath(tmp_path / "label_all_window.png"))
    if os.environ.get("SAMLABEL_ARTEFACTS"):
        viewer.window._qt_window.grab().save(os.path.join(os.environ["SAMLABEL_ARTEFACTS"], "label_all_running.png"))
    qtbot.mouseClick(seg.cancel_button, Qt.LeftButton)
    at_cancel = model.calls
    qtbot.waitUntil(lambda: seg.busy.isHidden(), timeout=5000)
    assert model.calls == at_cancel  # stopped within the frame being computed
    done = frames_labeled(s, "mitotic")
    assert done == list(range(2, 2 + len(done))) and 2 <= len(done) <= at_cancel < 10
    assert "cancelled" in seg.status.text() and "One Ctrl+Z" in seg.status.text()
    assert s.current_class == "nucleus" and seg.label_all_button.isEnabled()
    key(viewer, "Control-Z")
    assert frames_labeled(s, "mitotic") == [] and not s.labels.data.any()


def test_cancel_without_keep_writes_nothing_and_a_full_run_is_one_undo_step(window, qtbot):
    viewer, s, seg, model = window
    choose_range(seg, qtbot, 0, 2, "nucleus")
    seg.keep_on_cancel.setChecked(False)
    qtbot.mouseClick(seg.label_all_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: seg.busy.value() >= 1, timeout=10000)
    qtbot.mouseClick(seg.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: seg.busy.isHidden(), timeout=5000)
    assert not s.labels.data.any() and "nothing of it kept" in seg.status.text()
    worker = seg.label_all()
    with qtbot.waitSignal(worker.finished, timeout=10000):
        pass
    qtbot.waitUntil(lambda: seg.busy.isHidden(), timeout=5000)
    assert frames_labeled(s, "nucleus") == [0, 1, 2]
    key(viewer, "Control-Z")
    assert not s.labels.data.any()


def test_box_with_one_object_per_box_off_and_enter_labels_each_object_inside(window, qtbot):
    viewer, s, seg, model = window
    seg.one_per_box.setChecked(False)
    c = seg.controller
    seg.all_class_combo.setCurrentText("mitotic")
    viewer.dims.set_current_step(0, 0)
    c.set_box([0, 0, 0], [0, 191, 191])  # the whole frame: every object on it, each its own instance
    key(viewer, "Enter")
    qtbot.waitUntil(lambda: seg.busy.isHidden() and s.labels.data[0].any(), timeout=10000)
    ids = set(s.labels.data[0].ravel().tolist()) - {0}
    assert len(ids) >= 5 and {s.table[i].class_name for i in ids} == {"mitotic"}
    assert len(c.boxes.data) == 0 and not s.labels.data[1:].any()


def test_the_label_all_rows_fit_a_300_px_panel_at_1366x768_while_a_run_goes(window, qtbot, tmp_path):
    viewer, s, seg, model = window
    win = viewer.window._qt_window
    panel = next(w for w in viewer.window.dock_widgets.values() if seg in w.findChildren(type(seg)))
    win.resizeDocks([panel.parent()], [300], Qt.Horizontal)  # the dock napari wraps the panel in
    choose_range(seg, qtbot, 0, 19, "mitotic")
    qtbot.mouseClick(seg.label_all_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: seg.busy.value() >= 1, timeout=10000)
    qtbot.wait(100)
    scroll = seg.parent().parent()  # the scroll area the panel puts each tab in
    assert scroll.viewport().width() <= 300
    assert scroll.horizontalScrollBar().maximum() == 0, f"{seg.minimumSizeHint().width()} px wide"
    for w in (seg.label_all_button, seg.all_class_combo, seg.cancel_button, seg.range_combo, seg.first_spin,
              seg.last_spin, seg.one_per_box, seg.keep_on_cancel, seg.busy):  # fmt: skip
        assert w.isVisible(), w
        top_left = w.mapTo(scroll.viewport(), QPoint(0, 0))
        assert 0 <= top_left.x() and top_left.x() + w.width() <= scroll.viewport().width(), w
    text = seg.busy.text()
    assert text.endswith(" / 20 frames") and seg.busy.width() >= seg.busy.fontMetrics().horizontalAdvance(text) + 20
    win.grab().save(os.fspath(tmp_path / "label_all_300px.png"))
    qtbot.mouseClick(seg.cancel_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: seg.busy.isHidden() and not seg.cancel_button.isVisible(), timeout=5000)
