"""Open project… of a project another window has open for writing asks: read-only, a copy, or
nothing (issue 22, item 1). The choice itself is the API's (``open_project(mode=...)``, tested
in tests/napari/test_project_open_twice.py); here the dock asks and opens what was chosen."""

import os

import numpy as np
import pytest
from napari.components import ViewerModel
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

from napari_samlabel.api import ProjectLocked, start_session
from napari_samlabel.synthetic import disc

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("own_cache")]  # a real window: over 2 s

MOVIE = np.random.default_rng(3).random((3, 40, 50)).astype(np.float32)


@pytest.fixture
def held(tmp_path):
    """A project saved, and so held for writing, by a session in another window."""
    other = ViewerModel()
    s = start_session(other, other.add_image(MOVIE, name="movie"))
    s.commit(disc((40, 50), 20, 20, 5), region=(1,))
    folder = s.save_project(tmp_path / "movie.samlabel")
    yield folder
    s.close()


def test_open_project_asks_and_opens_what_was_chosen(make_napari_viewer, held):
    viewer = make_napari_viewer()
    viewer.add_image(MOVIE, name="movie")
    _, export = viewer.window.add_plugin_dock_widget("napari-samlabel", "Export annotations")
    asked = []

    export.choose_open_mode = lambda locked: asked.append(str(locked)) or None  # Cancel
    assert export.open_project(str(held)) is None
    assert f"pid {os.getpid()}" in asked[0] and export.status.text().startswith("Not opened: ")

    export.choose_open_mode = lambda locked: "read"
    s = export.open_project(str(held))
    assert s.read_only and "read-only (open for writing by" in export.status.text()
    assert len(s.table.present()) == 1
    viewer.layers.remove(s.labels)

    export.choose_open_mode = lambda locked: "copy"
    c = export.open_project(str(held))
    assert c.project_folder is None and " as a copy: 1 instances" in export.status.text()


def test_the_question_offers_read_only_a_copy_and_cancel(make_napari_viewer, held):
    viewer = make_napari_viewer()
    _, export = viewer.window.add_plugin_dock_widget("napari-samlabel", "Export annotations")
    locked = ProjectLocked(f"{held}: open for writing by someone", held, {"pid": 1})

    def answer(text):
        box = QApplication.activeModalWidget()
        if box is None:  # not shown yet
            QTimer.singleShot(20, lambda: answer(text))
            return
        assert str(held) in box.text()
        next(b for b in box.buttons() if b.text().replace("&", "") == text).click()

    for text, mode in (("Open a copy", "copy"), ("Read only", "read"), ("Cancel", None)):
        QTimer.singleShot(20, lambda t=text: answer(t))
        assert export._ask_open_mode(locked) == mode
