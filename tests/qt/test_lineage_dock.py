"""Real viewer: a cell divides, the user says so in the Track dock (Divide at this frame,
Shift+D, Link, Unlink), and the Instances dock's Parent column and the Tracks layer show it."""

import numpy as np
import pytest
from qtpy.QtCore import Qt

from lineage_movie import image, truth
from napari_samlabel.api import start_session
from napari_samlabel.core import Ontology


def dock(viewer, name):
    _, widget = viewer.window.add_plugin_dock_widget("napari-samlabel", name)
    return widget


@pytest.fixture
def setup(make_napari_viewer, qtbot):
    """The dividing-cells movie; cell 1 labeled as one instance on every frame, its
    daughters' pixels included (as a tracker that follows the cell gives it)."""
    viewer = make_napari_viewer()
    gt = truth()
    onto = Ontology()
    onto.add("cell")
    s = start_session(viewer, viewer.add_image(image(gt), name="movie"), ontology=onto)
    family = np.isin(gt, [1, 2, 3, 4, 5])
    mother = s.commit(family[0], region=(0,))
    for t in range(1, len(gt)):
        s.commit(family[t], region=(t,), label_id=mother.id)
    instances, track = dock(viewer, "Instances"), dock(viewer, "Track")
    qtbot.wait(10)
    return viewer, s, instances, track, gt, mother.id


def parent_column(instances):
    """{instance id: what its Parent cell shows}, as the user sees the list."""
    from napari_samlabel._qt.instances_widget import COL_NAME, COL_PARENT, ID_ROLE

    model = instances.tree.model()
    return {model.index(r, COL_NAME).data(ID_ROLE): model.index(r, COL_PARENT).data() for r in range(model.rowCount())}


def click_row(qtbot, instances, label_id, modifier=Qt.NoModifier):
    from napari_samlabel._qt.instances_widget import ID_ROLE

    model = instances.tree.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(ID_ROLE) == label_id)
    rect = instances.tree.visualRect(model.index(row, 1))
    qtbot.mouseClick(instances.tree.viewport(), Qt.LeftButton, modifier, rect.center())


@pytest.mark.slow
def test_divide_at_this_frame_makes_two_daughters_shown_in_the_docks_and_tracks(setup, qtbot):
    viewer, s, instances, track, gt, mother = setup
    viewer.dims.set_current_step(0, 2)  # the mother's last frame: on frame 3 it is two cells
    click_row(qtbot, instances, mother)
    assert s.selection == [mother]
    qtbot.mouseClick(track.divide_button, Qt.LeftButton)
    daughters = sorted(r.id for r in s.table if r.parent == mother)
    assert len(daughters) == 2, track.status.text()
    assert "divided after frame 2" in track.status.text()
    assert sorted(s.table[mother].frames) == [0, 1, 2]
    for d in daughters:  # each daughter is one of the true cells from frame 3 on
        assert min(s.table[d].frames) == 3 and len(np.unique(gt[3][s.labels.data[3] == d])) == 1
    qtbot.wait(10)
    assert parent_column(instances) == {mother: "", daughters[0]: str(mother), daughters[1]: str(mother)}

    qtbot.mouseClick(track.tracks_button, Qt.LeftButton)
    tracks = viewer.layers[-1]
    assert tracks.graph == {daughters[0]: [mother], daughters[1]: [mother]}
    assert "1 division(s) drawn" in track.status.text()

    s.labels.undo()  # Ctrl+Z: one step takes the division back
    qtbot.wait(10)
    assert parent_column(instances) == {mother: ""} and sorted(s.table[mother].frames) == list(range(10))


def test_shift_d_link_and_unlink(setup, qtbot):
    viewer, s, instances, track, gt, mother = setup
    viewer.dims.set_current_step(0, 1)
    click_row(qtbot, instances, mother)
    from napari_samlabel._napari.registry import sessions

    sessions(viewer).keys.press("Shift-D")
    assert "one piece on frame 2" in track.status.text()  # not a division yet: nothing changed
    assert sorted(s.table[mother].frames) == list(range(10))
    viewer.dims.set_current_step(0, 2)
    sessions(viewer).keys.press("Shift-D")
    a, b = sorted(r.id for r in s.table if r.parent == mother)

    instances.tree.clearSelection()
    for i, mod in ((a, Qt.NoModifier), (b, Qt.ControlModifier)):
        click_row(qtbot, instances, i, mod)
    qtbot.mouseClick(track.unlink_button, Qt.LeftButton)
    qtbot.wait(10)
    assert parent_column(instances)[a] == parent_column(instances)[b] == ""
    click_row(qtbot, instances, mother, Qt.ControlModifier)
    qtbot.mouseClick(track.link_button, Qt.LeftButton)  # the one that ends first is the mother
    qtbot.wait(10)
    assert parent_column(instances)[a] == parent_column(instances)[b] == str(mother)
    assert "now divided from" in track.status.text()



def test_painting_after_a_division_goes_to_a_daughter_and_a_broken_lineage_is_said(setup, qtbot, monkeypatch):
    """After Divide the brush no longer holds the mother (before, the next stroke painted her
    on after her daughters started, silently, and only the CTC export refused). Painting her
    there on purpose is said at once, and the Tracks layer leaves the broken link out."""
    warned = []
    monkeypatch.setattr("napari_samlabel._napari.session._warn", warned.append)
    viewer, s, instances, track, gt, mother = setup
    viewer.dims.set_current_step(0, 2)
    click_row(qtbot, instances, mother)
    s.labels.selected_label = mother  # the user was brushing the mother
    qtbot.mouseClick(track.divide_button, Qt.LeftButton)
    daughters = sorted(r.id for r in s.table if r.parent == mother)
    assert s.labels.selected_label in daughters

    with s.labels.block_history():  # a brush stroke on a later frame
        s.labels.paint((6, 5, 5), s.labels.selected_label)
    assert sorted(s.table[mother].frames) == [0, 1, 2] and not warned

    s.labels.selected_label = mother
    with s.labels.block_history():
        s.labels.paint((6, 30, 30), mother)
    assert 6 in s.table[mother].frames
    assert warned and "no longer holds" in warned[-1] and s.table[mother].name in warned[-1]
    qtbot.mouseClick(track.tracks_button, Qt.LeftButton)
    assert viewer.layers[-1].graph == {}  # not drawn backwards in time
    from napari_samlabel.io.exporting import export

    with pytest.raises(ValueError, match="a lineage does not hold: Cell"):
        export("ctc", "unused", np.asarray(s.labels.data), s.ontology, s.table, 0)
