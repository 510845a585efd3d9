"""SAM 3 in the docks (issue 24, item 1): a class's prompt text typed in the Classes dock,
Label all as that class with SAM 3 loaded, and Label similar (a box drawn around one object:
every object like it, SAM 3's visual exemplars), each run one Ctrl+Z; the button is off with
a model that has no exemplars.

The model is the shrunk random-weight SAM 3 of tests/backends/test_sam3_concepts.py, saved as a
folder and loaded through the registry (and once through the dock's Load button); random
weights score about 0.25, so its threshold is lowered to 0.2. Its masks mean nothing: the
tests check that what the docks write is exactly what the model gives.
"""

from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QApplication

from hf_helpers import backend_tests, plane, saved_folder
from napari_samlabel.api import current_session, start_session
from napari_samlabel.backends import registry
from napari_samlabel.core import Ontology

from window_helpers import key

pytestmark = pytest.mark.slow

CLASSES = {"classes": [{"name": "nucleus", "color": "#ff8800", "hotkey": "1"},
                       {"name": "cell", "color": "#3cb44b", "hotkey": "2"}]}  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from napari_samlabel.backends.torch_guard import guard_torch_import

    guard_torch_import()  # a window may have loaded Mesa's LLVM already (see torch_guard)
    pytest.importorskip("transformers.models.sam3")
    concepts = backend_tests("test_sam3_concepts")
    return saved_folder(tmp_path_factory, "sam3-docks", *concepts.tiny_sam3())


@pytest.fixture(scope="module")
def sam3(folder):
    backend = registry.load_backend("sam3", str(folder), device="cpu")
    backend.threshold = backend_tests("test_sam3_concepts").THRESHOLD  # 0.2: random weights score ~0.25
    return backend


@pytest.fixture
def window(make_napari_viewer, qtbot):
    """A shown window at a laptop's size: a 64x80 image, a session with two classes, the panel."""
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1366, 740)
    image = viewer.add_image(plane(64, 80, seed=3)[..., 0].astype(np.float32), name="cells")
    start_session(viewer, image, ontology=Ontology.from_dict(CLASSES))
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    viewer.window._qt_window.activateWindow()  # keys go where the focus is, as on a desktop
    qtbot.wait(50)
    return viewer, current_session(viewer), panel


def show_tab(panel, name):
    tabs = panel.tabs
    tabs.setCurrentIndex([tabs.tabText(i) for i in range(tabs.count())].index(name))


def type_in(qtbot, edit, text: str) -> None:
    """Click into the field, type, press Return: the keyboard, focus where a person's is."""
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is edit, timeout=3000)
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    if text:
        qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    qtbot.wait(50)


def what_the_model_sees(s) -> np.ndarray:
    """The plane shown, windowed as the docks give it to the model."""
    from napari_samlabel._napari.view import current_plane, model_image
    from napari_samlabel.core.planes import window_to_uint8

    data, limits, rgb = model_image(s)
    return window_to_uint8(current_plane(s).read(data), limits, rgb=rgb)


def made_since(s, before) -> list:
    return [r for r in s.table.present() if r.id not in before]


def written_as_found(s, made, found) -> None:
    """Each instance is one of the model's detections with its score; the best is whole."""
    scores = [round(sc, 6) for _, sc in found]
    assert made and all(round(r.confidence, 6) in scores for r in made)
    best = max(made, key=lambda r: r.confidence)
    assert best.confidence == pytest.approx(found[0][1])
    assert np.array_equal(np.asarray(s.labels.data) == best.id, found[0][0])


def test_the_prompt_typed_in_the_classes_dock_is_the_class_prompt_and_return_saves_no_mask(window, qtbot):
    viewer, s, panel = window
    seg, classes = panel.segment, panel.classes
    # a preview waiting in SAM mode (the weight-free model): Return in the field must not save it
    show_tab(panel, "Segment")
    seg.set_backend(seg.registry.weight_free())
    c = seg.start_prompting()
    c.add_point((32, 40))
    qtbot.waitUntil(lambda: c.result is not None and seg._worker is None, timeout=15000)
    show_tab(panel, "Classes")
    classes.select_row("nucleus")
    qtbot.wait(20)
    edit = classes.prompt_edit
    assert edit.isVisible() and edit.isEnabled()
    assert edit.text() == "" and edit.placeholderText() == "nucleus"  # no prompt: the name is what SAM 3 looks for
    before = s.ontology.to_dict()
    type_in(qtbot, edit, "cell  nucleus")
    assert s.ontology["nucleus"].prompt == "cell nucleus" and s.ontology["nucleus"].prompt_text == "cell nucleus"
    after = s.ontology.to_dict()
    after["classes"][0].pop("prompt")
    assert after == before  # nothing else of the ontology changed
    assert not np.asarray(s.labels.data).any() and not list(s.table.present())  # no mask saved
    assert c.result is not None and len(c.points.data) == 1  # the preview still waits
    assert "SAM 3 looks for 'cell nucleus'" in classes.status.text()
    # the other class's field shows its own; emptied, the class is looked for by its name again
    classes.table.selectRow(1)
    qtbot.wait(20)
    assert edit.placeholderText() == "cell" and edit.text() == ""
    classes.table.selectRow(0)
    qtbot.wait(20)
    assert edit.text() == "cell nucleus"
    type_in(qtbot, edit, "")
    assert s.ontology["nucleus"].prompt is None and s.ontology["nucleus"].prompt_text == "nucleus"
    assert "prompt" not in s.ontology.to_dict()["classes"][0]  # saved like the other fields: gone when empty
    assert not list(s.table.present())


def test_label_all_with_sam3_loaded_uses_the_class_prompt(window, qtbot, folder, sam3):
    viewer, s, panel = window
    seg, classes = panel.segment, panel.classes
    show_tab(panel, "Classes")
    classes.select_row("nucleus")
    type_in(qtbot, classes.prompt_edit, "cell nucleus")
    assert s.ontology["nucleus"].prompt == "cell nucleus"
    # SAM 3 through the dock's own Load (the folder given as its checkpoint)
    show_tab(panel, "Segment")
    seg.model_combo.setCurrentText("sam3")
    seg.checkpoint_edit.setText(str(folder))
    seg.device_combo.setCurrentText("cpu")
    qtbot.mouseClick(seg.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: seg.load_button.isEnabled() and seg.backend is not None
                    and seg.backend.name == "sam3", timeout=60000)  # fmt: skip
    assert "sam3 ready" in seg.model_line.text() and seg.similar_button.isEnabled()
    # each model keeps its own folder: picking EdgeTAM does not offer it SAM 3's
    seg.model_combo.setCurrentText("edgetam")
    assert seg.checkpoint_edit.text() == ""
    seg.model_combo.setCurrentText("sam3")
    assert seg.checkpoint_edit.text() == str(folder)
    seg.start_prompting()
    seg.all_class_combo.setCurrentText("nucleus")
    # at the default least score random weights find nothing: said, with what was looked for
    assert seg.min_score_spin.isEnabled() and seg.min_score_spin.value() == 0.5
    qtbot.mouseClick(seg.label_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: seg._label_all is None, timeout=60000)
    assert seg.status.text() == ("Label all: no object 'cell nucleus' with a score of 0.50 or more on 1 frame(s); "
                                 "nothing written, no undo step. Lower 'SAM 3 min score' in Model options to find more.")
    assert not np.asarray(s.labels.data).any()
    seg.min_score_spin.setValue(sam3.threshold)  # random weights: see the module's note
    assert seg.backend.threshold == pytest.approx(sam3.threshold)
    found = sam3.segment_text(what_the_model_sees(s), "cell nucleus")
    qtbot.mouseClick(seg.label_all_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: seg._label_all is None, timeout=60000)
    made = list(s.table.present())
    assert {r.class_name for r in made} == {"nucleus"} and {r.sources for r in made} == {"model"}
    written_as_found(s, made, found)
    assert seg.status.text().startswith(f"Labeled {len(made)} objects as nucleus")
    key(viewer, "Control-Z")
    assert not np.asarray(s.labels.data).any() and not list(s.table.present())


def test_a_box_and_label_similar_label_every_object_like_it_one_undo(window, qtbot, sam3):
    viewer, s, panel = window
    seg = panel.segment
    show_tab(panel, "Segment")
    seg.set_backend(sam3)
    c = seg.start_prompting()
    assert seg.similar_button.isEnabled() and "exemplars" in seg.similar_button.toolTip()
    seg.all_class_combo.setCurrentText("cell")
    c.set_box((10, 12), (40, 50))  # a drag from (10, 12) to (40, 50)
    qtbot.wait(100)
    assert c.result is None and seg._worker is None  # SAM 3's concept model: no one-object preview, no error
    box = (10, 12, 41, 51)  # as plane pixels, ends excluded
    found = sam3.segment_exemplars(what_the_model_sees(s), [box], [1])
    before = set()
    qtbot.mouseClick(seg.similar_button, Qt.MouseButton.LeftButton)
    assert not seg.similar_button.isEnabled() and not seg.label_all_button.isEnabled()  # while it runs
    qtbot.waitUntil(lambda: seg._label_all is None, timeout=60000)
    made = made_since(s, before)
    assert {r.class_name for r in made} == {"cell"}
    written_as_found(s, made, found)
    assert seg.status.text().startswith(f"Labeled {len(made)} objects like the box as cell")
    assert len(c.boxes.data) == 0 and seg.similar_button.isEnabled()  # the box was used
    key(viewer, "Control-Z")  # one step: all of them
    assert not np.asarray(s.labels.data).any() and not list(s.table.present())
    # Shift+L does the same; with no box, the instances picked in the list are the examples
    mine = s.commit(np.pad(np.ones((6, 6), bool), ((2, 56), (2, 72))), region=()).id  # saved: picked
    before = {mine}
    assert s.selection == [mine]
    key(viewer, "Shift-L")
    qtbot.waitUntil(lambda: seg._label_all is None, timeout=60000)
    assert "like 1 picked instance(s)" in seg.status.text()
    found = sam3.segment_exemplars(what_the_model_sees(s), [(2, 2, 8, 8)], [1])
    made = made_since(s, before)
    if found:
        assert all(round(r.confidence, 6) in [round(sc, 6) for _, sc in found] for r in made)


def test_label_similar_is_off_with_a_model_without_exemplars(window, qtbot):
    viewer, s, panel = window
    seg = panel.segment
    show_tab(panel, "Segment")
    seg.set_backend(seg.registry.weight_free())
    seg.start_prompting()
    assert seg.similar_button.isVisible() and not seg.similar_button.isEnabled()
    tip = seg.similar_button.toolTip()
    assert "SAM 3 (sam3)" in tip and "seeds has no exemplars" in tip
    seg.controller.set_box((10, 12), (40, 50))
    key(viewer, "Shift-L")  # the key says why, and does nothing
    assert "load SAM 3 (sam3)" in seg.status.text() and not list(s.table.present())
