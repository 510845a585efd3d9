"""Nothing lost on quit: closing with unsaved labels asks Save / Discard / Cancel and names
what would be lost; autosave is on by default and the next start offers to recover it;
Ctrl+S saves in place; choosing the project's own folder in the save dialog saves into it."""

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology
from napari_samlabel.io.project import load_project
from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.slow  # real windows: each test over 2 s

SHAPE = (80, 100)


@pytest.fixture
def window(make_napari_viewer, qtbot):
    from napari.settings import get_settings

    get_settings().application.confirm_close_window = False  # napari's own "close?" is not under test
    viewer = make_napari_viewer(show=True)
    image = viewer.add_image(np.zeros((3, *SHAPE), np.float32), name="movie")
    onto = Ontology()
    onto.add("nucleus", hotkey="1")
    s = start_session(viewer, image, ontology=onto)
    _, panel = viewer.window.add_plugin_dock_widget("napari-samlabel", "SAM Label")
    s.commit(disc(SHAPE, 30, 30, 8), region=(0,))
    qtbot.wait(20)
    return viewer, s, panel


def close_from_the_menu(viewer) -> bool:
    """File > Close Window, as napari's action does it; whether the window is gone."""
    from qtpy import sip

    window = viewer.window._qt_window
    window.close(quit_app=False, confirm_need=True)
    QTest.qWait(50)
    closed = sip.isdeleted(window) or not window.isVisible()
    if closed:  # as napari's Window.close() leaves it, so the fixture's own close is a no-op
        viewer.window._teardown()
        del viewer.window._qt_window
    return closed


def test_closing_with_unsaved_labels_asks_and_cancel_keeps_the_window(window):
    viewer, s, panel = window
    from napari_samlabel._qt.unsaved import CANCEL, DISCARD, unsaved_guard

    guard = unsaved_guard(viewer)
    asked = []
    guard.ask = lambda lines: asked.append(lines) or CANCEL
    assert not close_from_the_menu(viewer), "Cancel keeps the window and the labels"
    assert asked == [["'movie': 1 instance, never saved"]]
    guard.ask = lambda lines: DISCARD
    assert close_from_the_menu(viewer), "Discard closes"


def test_save_on_close_writes_the_project_first(window, tmp_path):
    viewer, s, panel = window
    from napari_samlabel._qt.unsaved import SAVE, unsaved_guard

    folder = panel.export.save_project(str(tmp_path / "movie.samlabel"))
    s.commit(disc(SHAPE, 60, 70, 8), region=(1,))
    guard = unsaved_guard(viewer)
    asked = []
    guard.ask = lambda lines: asked.append(lines) or SAVE
    assert close_from_the_menu(viewer)
    assert "changed since" in asked[0][0] and "movie.samlabel" in asked[0][0]
    _labels, _onto, table, _meta = load_project(folder)
    assert len(table.present()) == 2, "the second instance was saved before closing"


def test_nothing_unsaved_closes_without_a_question(window, tmp_path):
    viewer, s, panel = window
    from napari_samlabel._qt.unsaved import unsaved_guard

    panel.export.save_project(str(tmp_path / "movie.samlabel"))
    unsaved_guard(viewer).ask = lambda lines: pytest.fail(f"asked with nothing unsaved: {lines}")
    assert close_from_the_menu(viewer)


def test_ctrl_s_saves_in_place_without_a_dialog_from_the_canvas_and_the_list(window, tmp_path, monkeypatch):
    viewer, s, panel = window
    from napari_samlabel._qt import project_dialog

    folder = panel.export.save_project(str(tmp_path / "movie.samlabel"))
    monkeypatch.setattr(project_dialog, "ask_project_folder", lambda *a: pytest.fail("a dialog after the first save"))
    s.commit(disc(SHAPE, 60, 70, 8), region=(1,))
    canvas = viewer.window._qt_viewer.canvas.native
    viewer.window._qt_window.activateWindow()
    canvas.setFocus()
    QTest.qWait(20)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_S, Qt.ControlModifier)
    QTest.qWait(20)
    assert len(load_project(folder)[2].present()) == 2, "Ctrl+S on the canvas saved into the project"
    s.commit(disc(SHAPE, 20, 70, 6), region=(2,))
    panel.tabs.setCurrentIndex(2)
    panel.instances.tree.setFocus()
    QTest.qWait(20)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_S, Qt.ControlModifier)
    QTest.qWait(20)
    assert len(load_project(folder)[2].present()) == 3, "Ctrl+S from the Instances list too"
    assert s.version == s.saved_version


def test_choosing_the_existing_project_folder_saves_into_it(window, tmp_path, qtbot):
    viewer, s, panel = window
    from napari_samlabel._qt.project_dialog import ProjectFolderDialog

    folder = panel.export.save_project(str(tmp_path / "movie.samlabel"))
    dialog = ProjectFolderDialog(None, "Save project", str(tmp_path))
    dialog.setDirectory(str(tmp_path))
    dialog.selectFile(str(folder))
    dialog.accept()
    assert dialog.result() == ProjectFolderDialog.DialogCode.Accepted and dialog.chosen == folder
    assert dialog.directory().absolutePath() == str(tmp_path), "it did not open the folder"


def test_autosave_is_on_and_the_next_start_offers_to_recover(window, qtbot):
    viewer, s, panel = window
    export = panel.export
    assert export.autosave.isChecked() and export._timer.isActive(), "autosave is on by default"
    written = export.autosave_now()
    assert written and "autosave" in str(written[0]), "an unsaved session goes to the cache"
    assert s.saved_version != s.version, "an autosave in the cache is not a save: closing still asks"
    image = s.image
    viewer.layers.remove(s.labels)  # what a crash loses: the window's labels
    asked = []
    export.confirm = lambda title, question: asked.append(question) or True
    again = start_session(viewer, image, ontology=s.ontology)
    qtbot.waitUntil(lambda: len(viewer.layers) and any(
        getattr(x, "features", None) is not None and len(x.features) for x in viewer.layers if x is not image), timeout=5000)  # fmt: skip
    assert asked and "1 instances" in asked[0] and "'movie'" in asked[0]
    from napari_samlabel.api import current_session

    recovered = current_session(viewer)
    assert recovered is not again and len(recovered.table.present()) == 1
    assert again.labels not in viewer.layers, "the empty labels just started made way"
    assert recovered.project_folder is None, "Ctrl+S asks where to keep it, never back into the cache"


def test_a_save_forgets_the_cache_autosave_and_an_empty_start_never_overwrites_one(window, tmp_path):
    """The next start offered 'autosaved ... not saved since' after a save into a project; and while
    the question was open, the new empty session's autosave overwrote the one asked about."""
    from napari_samlabel._napari.autosave import autosave, autosave_folder

    viewer, s, panel = window
    written = panel.export.autosave_now()
    folder = autosave_folder(s)
    assert written and folder.is_dir()
    panel.export.save_project(str(tmp_path / "movie.samlabel"))
    assert not folder.exists(), "saved where the user chose: the cache's copy is stale"
    s.commit(disc(SHAPE, 60, 20, 6), region=(1,))
    s.project_folder = None  # (as after a crash: labels only in the cache)
    s.saved_version = -1
    autosave([s])
    assert folder.is_dir()
    image = s.image
    viewer.layers.remove(s.labels)
    panel.export.confirm = lambda title, question: False  # the question stays unanswered for now
    empty = start_session(viewer, image, ontology=s.ontology)
    assert autosave([empty]) == [] and folder.is_dir(), "an empty start never overwrites a crash's autosave"
