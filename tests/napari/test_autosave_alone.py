"""Autosave of a session that cannot be saved fails alone (issue 22, item 6): the sessions
after it are still autosaved, and its failure is said once, not at every interval."""

import numpy as np

from napari_samlabel._napari.autosave import autosave, autosave_folder
from napari_samlabel.api import start_session
from napari_samlabel.io.project import load_project
from napari_samlabel.synthetic import disc


def drawn(viewer, classes, name, frame):
    s = start_session(viewer, viewer.add_image(np.zeros((3, 30, 30)) + frame, name=name), ontology=classes)
    s.commit(disc((30, 30), 12, 12, 5), region=(frame,))
    return s


def test_one_session_that_cannot_be_saved_does_not_stop_the_others(viewer, classes, tmp_path):
    share = tmp_path / "share"
    share.write_text("a file where the project's folder should be: nothing can be written under it")
    stuck = drawn(viewer, classes, "on the share", 0)
    stuck.project_folder = share / "A.samlabel"  # opened from there, saved there by autosave
    fine = drawn(viewer, classes, "local", 1)
    said = []
    stuck.said.connect(said.append)

    written = autosave([stuck, fine], root=tmp_path / "cache")

    assert written == [autosave_folder(fine, tmp_path / "cache")]
    assert np.array_equal(load_project(written[0])[0], np.asarray(fine.labels.data))
    (line,) = said
    assert "\n" not in line and "on the share" in line and str(stuck.project_folder) in line

    for s in (stuck, fine):  # more edits; the next interval fails the same way: not said again
        s.commit(disc((30, 30), 20, 20, 3), region=(2,))
    assert autosave([stuck, fine], root=tmp_path / "cache") == written
    assert said == [line]
