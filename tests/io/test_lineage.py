"""Lineage: a cell divides into two daughters (parent links), checked links, undo/redo,
the CTC export's parents, the project, the Tracks layer's graph and the Instances rows."""

import json

import numpy as np
import pytest

from lineage_movie import roots_tracked_whole, truth
from napari_samlabel.core import Annotation, Ontology
from napari_samlabel.core.annotation import AnnotationError


def onto():
    o = Ontology()
    o.add("cell")
    o.add("medium", kind="stuff")
    return o


@pytest.fixture
def tracked_lineage():
    """Each founder tracked as one instance over all its descendants' pixels (what a
    tracker that follows 'the cell' gives), and the truth with one id per cell."""
    gt = truth()
    ann = Annotation(roots_tracked_whole(gt).astype(np.uint32), onto(), frame_axis=0)
    ann.sync_frames()
    return ann, gt


def cells_of(ann, gt, label_id):
    """The true cells an instance's pixels are (one, when the division was right)."""
    return set(np.unique(gt[ann.store.data == label_id]).tolist())


# -- divide -----------------------------------------------------------------------------
def test_divide_makes_two_daughters_of_the_mother_and_ends_it(tracked_lineage):
    ann, gt = tracked_lineage
    ann.table[1].frame_sources[5] = "tracked"  # what a run wrote there
    ann.table[1].frame_scores[5] = 0.7
    a, b = ann.divide(1, 2)
    assert sorted(ann.table[1].frames) == [0, 1, 2]  # the mother ends where it divided
    assert a.parent == b.parent == 1 and min(a.frames) == min(b.frames) == 3
    assert {frozenset(cells_of(ann, gt, a.id)), frozenset(cells_of(ann, gt, b.id))} == {
        frozenset({2, 4, 5}), frozenset({3})}  # each later frame follows the piece it continues
    kid = a if 4 in cells_of(ann, gt, a.id) else b
    assert (kid.source_on(5), kid.score_on(5)) == ("tracked", 0.7)  # frames keep what made them
    c, d = ann.divide(kid.id, 6)  # the daughter divides again
    assert {frozenset(cells_of(ann, gt, c.id)), frozenset(cells_of(ann, gt, d.id))} == {frozenset({4}), frozenset({5})}
    assert c.parent == d.parent == kid.id and max(kid.frames) == 6


def test_divide_refuses_what_is_not_a_division_and_changes_nothing(tracked_lineage):
    ann, gt = tracked_lineage
    before = ann.store.data.copy()
    with pytest.raises(AnnotationError, match="one piece on frame 1"):
        ann.divide(1, 0)  # one cell on frame 1: no division there
    with pytest.raises(AnnotationError, match="the same"):
        ann.divide(6, 4, daughters=[gt[5] == 7, gt[5] == 7])
    ann.set_locked([6])
    with pytest.raises(AnnotationError, match="locked"):
        ann.divide(6, 4)
    with pytest.raises(AnnotationError, match="last one"):
        ann.divide(9, 9)
    assert (ann.store.data == before).all() and not any(r.parent for r in ann.table)
    assert len(ann.table) == 3  # no record was left behind either


def test_divide_with_drawn_masks_or_picked_ids(tracked_lineage):
    ann, gt = tracked_lineage
    a, b = ann.divide(6, 4, daughters=[gt[5] == 7, gt[5] == 8])  # the user drew the two daughters
    assert cells_of(ann, gt, a.id) == {7} and cells_of(ann, gt, b.id) == {8} and a.parent == b.parent == 6
    # two instances the user already has become the daughters
    ann2 = Annotation(gt.astype(np.uint32), onto(), frame_axis=0)
    ann2.sync_frames()
    c, d = ann2.divide(1, 2, daughters=[2, 3])
    assert (c.id, d.id, c.parent, d.parent) == (2, 3, 1, 1)
    with pytest.raises(AnnotationError, match="must end before"):
        ann2.divide(2, 5, daughters=[3, 9])  # 3 and 9 are there since frames 3 and 0
    assert ann2.table[3].parent == 1 and ann2.table[9].parent == 0 and max(ann2.table[2].frames) == 6


# -- undo and redo ------------------------------------------------------------------------
@pytest.fixture
def session_movie(viewer):
    from napari_samlabel.api import start_session

    gt = truth()
    image = viewer.add_image(gt.astype(np.float32), name="movie")
    labels = viewer.add_labels(roots_tracked_whole(gt).astype(np.uint32), name="tracked")
    return start_session(viewer, image, labels=labels, ontology=onto()), gt


def test_divide_is_one_undo_step_that_restores_the_mother(session_movie):
    s, gt = session_movie
    before = s.labels.data.copy()
    a, b = s.annotation.divide(1, 2)
    after = s.labels.data.copy()
    s.labels.undo()
    assert (s.labels.data == before).all() and sorted(s.table[1].frames) == list(range(10))
    assert not a.present and not b.present and s.table[a.id].parent == s.table[b.id].parent == 0
    assert list(s.labels.features["parent"]) == [0, 0, 0]
    s.labels.redo()
    assert (s.labels.data == after).all() and s.table[a.id].parent == s.table[b.id].parent == 1
    assert dict(zip(s.labels.features["index"], s.labels.features["parent"]))[a.id] == 1


def test_set_parent_checks_the_lineage_and_undoes(session_movie):
    s, gt = session_movie
    ann = s.annotation
    a, b = ann.divide(6, 4)
    ann.set_parent(a.id, 0)
    assert s.table[a.id].parent == 0
    with pytest.raises(AnnotationError, match="must end before"):
        ann.set_parent(a.id, 9)  # 9 is there on every frame
    with pytest.raises(AnnotationError, match="must end before"):
        ann.set_parent(6, a.id)  # the mother after its daughter: would loop too
    with pytest.raises(AnnotationError, match="own parent"):
        ann.set_parent(a.id, a.id)
    medium = ann.new_instance("medium")
    ann.write_mask(gt[0] == 0, medium.id, region=(0,))
    with pytest.raises(AnnotationError, match="stuff"):
        ann.set_parent(a.id, medium.id)
    ann.set_locked([b.id])
    with pytest.raises(AnnotationError, match="locked"):
        ann.set_parent(b.id, 0)
    ann.set_locked([b.id], False)
    ann.set_parent(a.id, 6)
    assert s.table[a.id].parent == 6
    s.labels.undo()
    assert s.table[a.id].parent == 0 and s.table[b.id].parent == 6
    s.labels.redo()
    assert s.table[a.id].parent == 6


def test_a_loop_through_old_links_is_refused():
    from napari_samlabel.core.lineage import link_problem

    ann = Annotation(np.zeros((4, 8, 8), np.uint32), onto(), frame_axis=0)
    early, late, gone = [ann.new_instance("cell") for _ in range(3)]
    with ann.action():
        ann.write_mask(np.ones((8, 8), bool), early.id, region=(0,))
        ann.write_mask(np.ones((8, 8), bool), late.id, region=(2,))
    early.parent, gone.parent = gone.id, late.id  # links kept through an instance since deleted
    assert "loop" in link_problem(ann.table, late.id, early.id)
    gone.parent = 0
    assert link_problem(ann.table, late.id, early.id) is None


def test_split_keeps_working_and_daughters_follow_the_part_that_divided(tracked_lineage):
    ann, gt = tracked_lineage
    a, b = ann.divide(6, 4)
    new = ann.split(6, 2)  # e.g. the tracker switched cells at frame 2
    assert sorted(new.frames) == [2, 3, 4] and sorted(ann.table[6].frames) == [0, 1]
    assert a.parent == b.parent == new.id and new.parent == 0


# -- CTC res_track.txt ------------------------------------------------------------------
def test_ctc_rows_carry_parents_across_gap_pieces():
    from napari_samlabel.io.ctc import ctc_tracks

    labels = np.zeros((8, 10, 10), np.uint32)
    labels[0:2, 1:3, 1:3] = 4
    labels[3:5, 1:3, 1:3] = 4  # the mother has a gap: its daughters come from its second piece
    labels[5:8, 1:3, 1:3] = 5
    labels[5:6, 6:8, 6:8] = 6
    labels[7:8, 6:8, 6:8] = 6  # a daughter with a gap: its second piece's parent is its first
    _, rows = ctc_tracks(labels, 0, parents={5: 4, 6: 4})
    assert rows == [(4, 0, 1, 0), (7, 3, 4, 4), (5, 5, 7, 7), (6, 5, 5, 7), (8, 7, 7, 6)]
    assert ctc_tracks(labels, 0, parents={5: 99})[1][2] == (5, 5, 7, 0)  # a parent with no pixels: none


def test_ctc_export_refuses_a_parent_that_outlives_its_daughter(tracked_lineage, tmp_path):
    from napari_samlabel.io.exporting import export

    ann, gt = tracked_lineage
    a, b = ann.divide(6, 4)
    with ann.action():  # the mother tracked on past its division afterwards
        ann.write_mask(gt[5] == 9, 6, region=(5,), mode="overwrite")
    with pytest.raises(ValueError, match=r"a lineage does not hold: .* \(6\) is still on frame 5"):
        export("ctc", tmp_path / "RES", ann.store.data, ann.ontology, ann.table, 0)
    assert not (tmp_path / "RES").exists()


def test_ctc_export_writes_the_divisions(tracked_lineage, tmp_path):
    from napari_samlabel.io.exporting import export

    ann, gt = tracked_lineage
    a, b = ann.divide(1, 2)
    out = export("ctc", tmp_path / "RES", ann.store.data, ann.ontology, ann.table, 0)
    rows = {int(r[0]): tuple(map(int, r[1:])) for r in (line.split() for line in (out / "res_track.txt").read_text().splitlines())}
    assert rows[a.id] == (3, max(a.frames), 1) and rows[b.id] == (3, max(b.frames), 1) and rows[1] == (0, 2, 0)
    from napari_samlabel.io.importing import read_ctc_result

    back = read_ctc_result(out, ann.store.data.shape, 0)  # and the import reads the lineage back
    assert back.parent == {a.id: 1, b.id: 1} and (back.labels == ann.store.data).all()


# -- project ------------------------------------------------------------------------------
def test_project_keeps_parents_and_opens_older_projects(tracked_lineage, tmp_path):
    from napari_samlabel.io.project import load_project, save_project

    ann, gt = tracked_lineage
    a, b = ann.divide(1, 2)
    folder = save_project(tmp_path / "proj", ann.store.data, ann.ontology, ann.table, {"frame_axis": 0})
    _, _, table, _ = load_project(folder)
    assert (table[a.id].parent, table[b.id].parent, table[1].parent) == (1, 1, 0)
    # a project written before lineage (version 1): its records have no "parent"
    old = tmp_path / "old"
    old.mkdir()
    np.save(old / "labels.npy", np.asarray(ann.store.data))  # version 1 kept labels in labels.npy
    (old / "ontology.json").write_bytes((folder / "ontology.json").read_bytes())
    data = json.loads((folder / "instances.json").read_text())
    for d in data["instances"]:
        del d["parent"]
    (old / "instances.json").write_text(json.dumps(data))
    (old / "project.json").write_text(json.dumps({"version": 1, "frame_axis": 0}))
    _, _, table, _ = load_project(old)
    assert table[a.id].frames == ann.table[a.id].frames and not any(r.parent for r in table)


# -- napari: Tracks layer, Instances rows -------------------------------------------------------
def test_tracks_layer_draws_the_divisions(session_movie):
    from napari_samlabel._napari.tracks import add_tracks_layer

    s, gt = session_movie
    a, b = s.annotation.divide(1, 2)
    layer = add_tracks_layer(s)
    assert layer.graph == {a.id: [1], b.id: [1]}
    assert set(np.unique(layer.data[:, 0]).astype(int)) == {1, 6, 9, a.id, b.id}


def test_instance_rows_show_and_follow_the_parent(session_movie):
    from napari_samlabel._napari.instance_rows import RowTracker

    s, gt = session_movie
    rows = RowTracker()
    rows.update(s.table)
    a, b = s.annotation.divide(6, 4)
    changes = rows.update(s.table)
    assert sorted(changes.added) == [a.id, b.id] and rows.rows[a.id].parent == 6
    s.annotation.set_parent(a.id, 0)
    assert rows.update(s.table).changed == [a.id] and rows.rows[a.id].parent == 0

