"""Slice one instance in two along a drawn line, join what a line crosses, split an instance's
disconnected parts: the core (numpy), the napari model (a Shapes layer's line in world
coordinates, undo on the labels layer) and the Instances dock's buttons in a real window."""

import numpy as np
import pytest

from napari_samlabel.core import Annotation, AnnotationError, Ontology
from napari_samlabel.core.reshape import slice_instance, split_parts
from napari_samlabel.synthetic import disc

SHAPE = (40, 50)


@pytest.fixture
def ann():
    onto = Ontology()
    onto.add("cell")
    onto.add("nucleus")
    onto.add("sky", kind="stuff")
    return Annotation(np.zeros((4, *SHAPE), np.uint32), onto, frame_axis=0)


def paint(ann, cls, frame, mask, **kw):
    inst = ann.new_instance(cls)
    ann.write_mask(mask, inst.id, (frame,), **kw)
    return ann.table[inst.id]


def rect(r0, r1, c0, c1, shape=SHAPE):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


# -- slice (core) -------------------------------------------------------------------------
def test_a_line_across_cuts_the_instance_in_two_and_the_larger_side_keeps_the_id(ann):
    a = paint(ann, "nucleus", 2, rect(10, 30, 5, 45), source="tracked", confidence=0.7)
    other = paint(ann, "cell", 2, rect(32, 38, 5, 45))
    before = ann.store.data.copy()
    new = slice_instance(ann, a.id, 2, [[0, 30.2], [39, 29.8]])  # a near-vertical line at column 30
    lab = ann.store.data[2]
    assert new.id not in (a.id, other.id) and new.class_name == "nucleus"
    assert (lab == new.id).sum() < (lab == a.id).sum()  # the larger side kept the id
    assert set(np.unique(np.nonzero(lab == new.id)[1])) <= set(range(29, 45))
    assert set(np.unique(np.nonzero(lab == a.id)[1])) <= set(range(5, 32))
    assert ((lab == a.id) | (lab == new.id)).sum() == rect(10, 30, 5, 45).sum()  # nothing lost, no gap
    assert ((lab == a.id) | (lab == new.id) == rect(10, 30, 5, 45)).all()
    changed = before != ann.store.data
    assert (before[changed] == a.id).all() and (ann.store.data[changed] == new.id).all()  # only a's pixels
    assert new.frames == {2} and new.source_on(2) == "tracked" and new.score_on(2) == pytest.approx(0.7)
    assert ann.table[a.id].frames == {2}


def test_a_line_that_stops_inside_the_object_is_carried_to_its_edge(ann):
    a = paint(ann, "nucleus", 0, rect(10, 30, 5, 45))
    new = slice_instance(ann, a.id, 0, [[14, 20], [26, 20]])  # drawn short of both edges
    lab = ann.store.data[0]
    assert (lab == new.id).any() and (lab == a.id).any()
    assert not (np.nonzero(lab == new.id)[1] > 21).any()  # the left side is the smaller


def test_a_winding_line_still_makes_two_instances_as_cvat_does(ann):
    a = paint(ann, "cell", 1, rect(18, 22, 2, 48))  # a thin bar
    # a zig-zag crossing the bar three times: four pieces, alternately on either side
    new = slice_instance(ann, a.id, 1, [[5, 10], [35, 10], [35, 25], [5, 25], [5, 40], [35, 40]])
    lab = ann.store.data[1]
    assert set(np.unique(lab).tolist()) == {0, a.id, new.id}
    assert (lab == a.id).sum() + (lab == new.id).sum() == rect(18, 22, 2, 48).sum()


def test_a_line_that_cuts_nothing_is_refused_and_changes_nothing(ann):
    a = paint(ann, "cell", 0, disc(SHAPE, 20, 20, 6))
    before = ann.store.data.copy()
    with pytest.raises(AnnotationError, match="does not cut Cell"):
        slice_instance(ann, a.id, 0, [[0, 40], [39, 45]])  # beside it
    with pytest.raises(AnnotationError, match="not on this plane"):
        slice_instance(ann, a.id, 3, [[0, 20], [39, 20]])
    with pytest.raises(AnnotationError, match="at least two points"):
        slice_instance(ann, a.id, 0, [[0, 20]])
    assert (ann.store.data == before).all() and not [r for r in ann.table if r.id != a.id]


def test_locked_and_stuff_instances_are_not_sliced(ann):
    a = paint(ann, "cell", 0, disc(SHAPE, 20, 20, 8))
    sky = paint(ann, "sky", 0, rect(0, 5, 0, 50))
    before = ann.store.data.copy()
    ann.set_locked([a.id])
    with pytest.raises(AnnotationError, match="locked"):
        slice_instance(ann, a.id, 0, [[0, 20], [39, 20]])
    with pytest.raises(AnnotationError, match="stuff"):
        slice_instance(ann, sky.id, 0, [[0, 20], [39, 20]])
    assert (ann.store.data == before).all()


def test_a_locked_neighbour_under_the_line_is_left_alone(ann):
    a = paint(ann, "cell", 0, rect(10, 30, 5, 25))
    b = paint(ann, "cell", 0, rect(10, 30, 25, 45))
    ann.set_locked([b.id])
    new = slice_instance(ann, a.id, 0, [[20, 0], [20, 49]])  # a horizontal line across both
    lab = ann.store.data[0]
    assert (lab == b.id).sum() == rect(10, 30, 25, 45).sum()
    assert (lab == new.id).any() and (lab == a.id).any()


def test_slicing_a_side_view_of_a_volume(ann):
    """The plane may cross the frame axis (a volume seen from the side): each slice keeps
    the source and confidence it had."""
    a = ann.new_instance("cell")
    for f, score in ((1, 0.6), (2, 0.8)):
        ann.write_mask(rect(10, 30, 10, 30), a.id, (f,), source="tracked", confidence=score)
    new = slice_instance(ann, a.id, (slice(None), 15, slice(None)), [[0, 20.2], [3, 19.8]])  # rows: frames
    assert new.frames == {1, 2} and ann.table[a.id].frames == {1, 2}
    assert new.score_on(1) == pytest.approx(0.6) and new.score_on(2) == pytest.approx(0.8)
    assert new.source_on(1) == new.source_on(2) == "tracked"
    for f in (1, 2):  # only the row of the plane changed
        assert set(np.nonzero(ann.store.data[f, 15] == new.id)[0]) == set(range(21, 30))  # the smaller side
        assert (ann.store.data[f, 14] == a.id).sum() == 20


# -- split parts (core) ---------------------------------------------------------------------
def test_each_disconnected_part_becomes_an_instance_followed_through_frames(ann):
    a = ann.new_instance("nucleus")
    for f in range(4):  # a big blob drifting right, a small one still, never touching
        ann.write_mask(disc(SHAPE, 15, 12 + 2 * f, 6) | disc(SHAPE, 32, 40, 3), a.id, (f,),
                       source="tracked" if f else "manual", confidence=0.5)  # fmt: skip
    (new,) = split_parts(ann, a.id)
    lab = ann.store.data
    for f in range(4):
        assert ((lab[f] == a.id) == disc(SHAPE, 15, 12 + 2 * f, 6)).all()  # the largest kept the id
        assert ((lab[f] == new.id) == disc(SHAPE, 32, 40, 3)).all()
    assert new.class_name == "nucleus" and new.frames == set(range(4))
    assert new.source_on(0) == "manual" and new.source_on(2) == "tracked" and new.score_on(2) == pytest.approx(0.5)


def test_split_parts_only_on_the_frames_given(ann):
    a = ann.new_instance("cell")
    for f in range(4):
        ann.write_mask(rect(5, 15, 5, 15) | rect(25, 30, 30, 40), a.id, (f,))
    (new,) = split_parts(ann, a.id, frames=range(2, 4))
    assert new.frames == {2, 3} and ann.table[a.id].frames == {0, 1, 2, 3}
    assert (ann.store.data[0] == a.id).sum() == rect(5, 15, 5, 15).sum() + rect(25, 30, 30, 40).sum()


def test_a_volume_splits_by_3d_connectivity(ann):
    """Slices of a volume: a part that continues onto the next slice is one part, in 3D; an
    object missing on some slices (or frames: hidden for a while) stays one part across the gap."""
    a = ann.new_instance("cell")
    ann.write_mask(rect(5, 10, 5, 10), a.id, (0,))
    ann.write_mask(rect(8, 20, 8, 12), a.id, (1,))  # overlaps the slice above: the same part
    ann.write_mask(rect(30, 35, 30, 35), a.id, (1,))  # a second object, on slice 1 only
    ann.write_mask(rect(30, 35, 30, 35), a.id, (3,))  # on the instance's next slice (a gap skipped): linked
    ann.write_mask(rect(2, 6, 40, 45), a.id, (3,))  # touching nothing: a part of its own
    x, y = split_parts(ann, a.id)
    lab = ann.store.data
    assert x.frames == {1, 3} and y.frames == {3} and ann.table[a.id].frames == {0, 1}
    assert (lab[1][30:35, 30:35] == x.id).all() and (lab[3][30:35, 30:35] == x.id).all()
    assert (lab[3][2:6, 40:45] == y.id).all()
    assert (lab[0][5:10, 5:10] == a.id).all() and (lab[1][8:20, 8:12] == a.id).all()


def test_labels_without_a_frame_axis_split_in_nd(ann):
    onto = ann.ontology
    vol = Annotation(np.zeros((6, 20, 20), np.uint32), onto, frame_axis=None)
    a = vol.new_instance("cell")
    m = np.zeros((6, 20, 20), bool)
    m[0:4, 2:6, 2:6] = True  # a column through the slices: one part in 3D
    m[5, 10:14, 10:14] = True
    vol.write_mask(m, a.id)
    (new,) = split_parts(vol, a.id)
    assert (vol.store.data == new.id).sum() == 16 and (vol.store.data == a.id).sum() == 64


def test_split_parts_refusals_change_nothing(ann):
    a = paint(ann, "cell", 0, disc(SHAPE, 20, 20, 6))
    b = paint(ann, "cell", 1, rect(2, 6, 2, 6) | rect(20, 25, 20, 25))
    sky = paint(ann, "sky", 2, rect(0, 3, 0, 50) | rect(30, 33, 0, 50))
    before = ann.store.data.copy()
    with pytest.raises(AnnotationError, match="one connected piece"):
        split_parts(ann, a.id)
    with pytest.raises(AnnotationError, match="stuff"):
        split_parts(ann, sky.id)
    ann.set_locked([b.id])
    with pytest.raises(AnnotationError, match="locked"):
        split_parts(ann, b.id)
    assert (ann.store.data == before).all()


# -- the napari model: a line drawn in a Shapes layer, undo on the labels layer --------------
@pytest.fixture
def scaled(viewer, classes):
    """A movie shown scaled and translated: world and data coordinates differ."""
    from napari_samlabel.api import start_session

    image = viewer.add_image(np.zeros((5, *SHAPE), np.float32), name="movie", scale=(1, 2.0, 0.5),
                             translate=(0, 10.0, -4.0))  # fmt: skip
    s = start_session(viewer, image, ontology=classes)
    viewer.dims.set_point(0, 3)
    return s


def world(s, rows_cols, frame=3):
    """Data (row, col) points on ``frame`` -> world coordinates (what a drawn line holds)."""
    return np.array([s.labels.data_to_world((frame, r, c)) for r, c in rows_cols])


def draw(viewer, s, rows_cols, own_layer=False):
    """A line in the "slice line" layer as the path tool leaves it. ``own_layer``: one the user
    made with no transform (its data coordinates are world coordinates)."""
    from napari_samlabel._napari.reshape import LINE_LAYER, line_layer

    if own_layer and LINE_LAYER not in [layer.name for layer in viewer.layers]:
        viewer.add_shapes(ndim=3, name=LINE_LAYER)
    layer = line_layer(s)
    pts = world(s, rows_cols)
    layer.add_paths([np.array([layer.world_to_data(p) for p in pts])])
    return layer


@pytest.mark.parametrize("own_layer", [False, True])
def test_slice_uses_the_drawn_line_in_world_coordinates_and_undoes_in_one_step(viewer, scaled, own_layer):
    from napari_samlabel._napari.reshape import slice_with_line

    s = scaled
    a = s.commit(rect(5, 35, 5, 45), region=(3,))
    before, n = s.labels.data.copy(), len(s.labels._undo_history)
    layer = draw(viewer, s, [(0, 15.2), (39, 14.8)], own_layer)
    new = slice_with_line(s)
    lab = s.labels.data[3]
    assert set(np.unique(np.nonzero(lab == new.id)[1])) <= set(range(5, 17))  # cut at data column 15
    assert (lab == new.id).sum() < (lab == a.id).sum() and len(layer.data) == 0  # the line was used up
    assert len(s.labels._undo_history) == n + 1
    s.labels.undo()
    assert (s.labels.data == before).all() and not s.table[new.id].present and s.table[a.id].frames == {3}
    s.labels.redo()
    assert (s.labels.data[3] == new.id).sum() == (lab == new.id).sum()


def test_slice_asks_which_instance_when_the_line_crosses_several(viewer, scaled):
    from napari_samlabel._napari.reshape import slice_with_line

    s = scaled
    a = s.commit(rect(5, 15, 5, 45), region=(3,))
    b = s.commit(rect(20, 35, 5, 45), region=(3,))
    s.set_selection([])  # (saving made b the selection: here the user picked nothing)
    draw(viewer, s, [(0, 25), (39, 25)])
    with pytest.raises(AnnotationError, match=rf"crosses Nucleus \({a.id}\), Nucleus \({b.id}\): pick"):
        slice_with_line(s)
    s.set_selection([b.id])
    new = slice_with_line(s)
    assert (s.labels.data[3] == a.id).sum() == rect(5, 15, 5, 45).sum()
    assert (s.labels.data[3] == new.id).any() and (s.labels.data[3] == b.id).any()


def test_no_line_makes_the_layer_ready_and_says_how(viewer, scaled):
    from napari_samlabel._napari.reshape import LINE_LAYER, slice_with_line

    s = scaled
    s.commit(rect(5, 35, 5, 45), region=(3,))
    with pytest.raises(AnnotationError, match="Draw a line across the object"):
        slice_with_line(s)
    layer = viewer.layers[LINE_LAYER]
    assert layer.mode == "add_path" and viewer.layers.selection.active is layer
    assert np.allclose(layer.scale, s.labels.scale) and np.allclose(layer.translate, s.labels.translate)


def test_join_merges_what_the_line_crosses_into_the_first_it_meets(viewer, scaled):
    from napari_samlabel._napari.reshape import join_with_line

    s = scaled
    a = s.commit(rect(2, 8, 5, 45), region=(3,))
    b = s.commit(rect(15, 20, 5, 45), region=(3,))
    c = s.commit(rect(28, 35, 5, 45), region=(3,))
    other = s.commit(rect(2, 35, 47, 50), region=(3,))
    before = s.labels.data.copy()
    draw(viewer, s, [(39, 20), (10, 20)])  # from the bottom: c first, then b; a not crossed
    assert join_with_line(s) == c.id
    lab = s.labels.data[3]
    assert (lab == c.id).sum() == rect(15, 20, 5, 45).sum() + rect(28, 35, 5, 45).sum()
    assert not s.table[b.id].present and (lab == a.id).any() and (lab == other.id).any()
    s.labels.undo()
    assert (s.labels.data == before).all() and s.table[b.id].present


def test_split_into_parts_of_the_selection_is_one_undo_step(viewer, scaled):
    from napari_samlabel._napari.reshape import split_into_parts

    s = scaled
    a = s.commit(rect(2, 8, 2, 8) | rect(30, 35, 30, 40), region=(3,))
    b = s.commit(rect(12, 20, 2, 8) | rect(12, 20, 20, 22) | rect(25, 28, 2, 4), region=(3,))
    c = s.commit(rect(12, 20, 40, 45), region=(3,))  # one piece: skipped, said
    before = s.labels.data.copy()
    s.set_selection([a.id, b.id, c.id])
    made = split_into_parts(s)
    assert len(made) == 3 and all(r.present for r in made)
    assert "one connected piece" in s.viewer.status
    s.labels.undo()
    assert (s.labels.data == before).all() and not any(s.table[r.id].present for r in made)


# -- the Instances dock in a real window ---------------------------------------------------------
@pytest.mark.slow
def test_the_dock_buttons_slice_merge_along_a_line_and_split_parts(make_napari_viewer, qtbot):
    from qtpy.QtCore import Qt

    from napari_samlabel._qt.instances_widget import ID_ROLE
    from napari_samlabel.api import start_session

    viewer = make_napari_viewer(show=True)
    image = viewer.add_image(np.zeros((3, *SHAPE), np.float32), name="movie", scale=(1, 2.0, 2.0), translate=(0, 5, 5))
    onto = Ontology()
    onto.add("cell")
    s = start_session(viewer, image, ontology=onto)
    _, dock = viewer.window.add_plugin_dock_widget("napari-samlabel", "Instances")
    viewer.dims.set_point(0, 1)
    a = s.commit(rect(5, 35, 5, 45), region=(1,))
    start = s.labels.data.copy()

    qtbot.mouseClick(dock.slice_button, Qt.LeftButton)  # no line yet: the layer to draw in, and how
    assert "Draw a line across the object" in dock.status.text() and dock.status.styleSheet() == ""
    layer = viewer.layers["slice line"]
    assert layer.mode == "add_path" and viewer.layers.selection.active is layer
    # what the path tool leaves: points in the layer's data coordinates (the labels' grid)
    layer.add_paths([np.array([[1, 0, 30.0], [1, 39, 30.0]])])
    qtbot.mouseClick(dock.slice_button, Qt.LeftButton)
    lab = s.labels.data[1]
    (new,) = [r for r in s.table if r.present and r.id != a.id]
    assert "Sliced" in dock.status.text() and (lab == new.id).sum() == 30 * 14  # rows 5-34, columns 31-44
    assert set(np.unique(np.nonzero(lab == new.id)[1])) == set(range(31, 45))
    assert new.id in [dock.tree.model().index(r, 0).data(ID_ROLE) for r in range(dock.tree.model().rowCount())]

    qtbot.mouseClick(dock.merge_button, Qt.LeftButton)  # nothing selected, no line: how to join
    assert "or draw a line across them" in dock.status.text() and s.table[new.id].present
    layer.add_paths([np.array([[1, 20, 10.0], [1, 20, 48.0]])])  # across both halves: Merge joins them (CVAT's join)
    qtbot.mouseClick(dock.merge_button, Qt.LeftButton)
    assert "Joined" in dock.status.text()
    assert ((s.labels.data == a.id) == (start == a.id)).all() and not s.table[new.id].present

    s.labels.undo()  # Ctrl+Z: the join, then the slice
    assert (s.labels.data[1] == new.id).sum() == 30 * 14
    s.labels.undo()
    assert (s.labels.data == start).all()

    b = s.commit(rect(36, 39, 2, 10) | rect(36, 39, 20, 48), region=(1,))  # an instance in two parts
    model = dock.tree.model()
    row = next(r for r in range(model.rowCount()) if model.index(r, 0).data(ID_ROLE) == b.id)
    qtbot.mouseClick(dock.tree.viewport(), Qt.LeftButton, Qt.NoModifier, dock.tree.visualRect(model.index(row, 1)).center())
    assert dock.selected_ids() == [b.id]
    qtbot.mouseClick(dock.split_parts_button, Qt.LeftButton)
    assert "New from the parts" in dock.status.text()
    lab = s.labels.data[1]
    assert (lab[36:39, 20:48] == b.id).all() and lab[36, 2] not in (0, b.id) and (lab == lab[36, 2]).sum() == 24
    assert s.table[int(lab[36, 2])].class_name == "cell"
