"""Never lose or corrupt a label: projects, locks, undo, ids, tracking runs, ownership.

Each test reproduces a way labels were lost or silently changed (issue 8) through
the public API and napari's own layer methods, the ones its tools call.
"""

import json
import os

import numpy as np
import pytest

from napari_samlabel.api import AnnotationError, start_session
from napari_samlabel.io.project import ProjectError, load_project, save_project
from napari_samlabel.synthetic import disc


def table_state(s):
    """Records without view state, as comparable plain data."""
    out = {}
    for r in s.table:
        if r.present:
            out[r.id] = (r.class_name, sorted(r.frames), sorted(r.frame_scores.items()), sorted(r.frame_sources.items()))
    return out


# -- projects and autosave ----------------------------------------------------------
def test_autosave_never_writes_into_another_sessions_project(viewer, classes, tmp_path):
    from napari_samlabel._napari.autosave import autosave

    a = start_session(viewer, viewer.add_image(np.zeros((4, 30, 30)), name="patient A"), ontology=classes)
    a.commit(disc((30, 30), 10, 10, 4), region=(1,))
    folder = a.save_project(tmp_path / "A.samlabel")
    b = start_session(viewer, viewer.add_image(np.zeros((4, 30, 30)), name="patient B"), ontology=classes)
    b.commit(disc((30, 30), 20, 20, 6), region=(2,))
    written = autosave([a, b], root=tmp_path / "cache")
    labels, _, _, meta = load_project(folder)
    assert (labels == np.asarray(a.labels.data)).all() and meta["image"] == "patient A"
    assert written == [tmp_path / "cache" / f"patient_B-{b.image_key[:10]}.samlabel"]  # A unchanged: not rewritten
    with pytest.raises(ProjectError, match="project of 'patient A'"):
        b.save_project(folder)
    assert (load_project(folder)[0] == np.asarray(a.labels.data)).all()


def test_two_images_with_one_name_autosave_apart(viewer, classes, tmp_path):
    from napari_samlabel._napari.autosave import autosave

    s1 = start_session(viewer, viewer.add_image(np.zeros((3, 20, 20)), name="CT AXIAL"), ontology=classes)
    s2 = start_session(viewer, viewer.add_image(np.zeros((5, 20, 20)), name="CT AXIAL"), ontology=classes)
    for s in (s1, s2):  # (an empty session has nothing to autosave)
        s.commit(np.ones((20, 20), bool), region=(0,))
    f1, f2 = autosave([s1, s2], root=tmp_path)
    assert f1 != f2 and load_project(f1)[0].shape == (3, 20, 20) and load_project(f2)[0].shape == (5, 20, 20)


def test_saving_into_a_folder_that_is_not_a_project_deletes_nothing(session, tmp_path):
    dicom = tmp_path / "dicom"
    dicom.mkdir()
    (dicom / "IM0001.dcm").write_bytes(b"precious")
    with pytest.raises(ProjectError, match="not a samlabel project"):
        session.save_project(dicom)
    assert (dicom / "IM0001.dcm").read_bytes() == b"precious" and len(list(tmp_path.iterdir())) == 1
    blocker = tmp_path / "p.samlabel"
    blocker.write_text("a file")
    with pytest.raises(ProjectError, match="is a file"):
        session.save_project(blocker)
    (tmp_path / "q.samlabel.saving").mkdir()
    (tmp_path / "q.samlabel.saving" / "notes.txt").write_text("mine")
    with pytest.raises(ProjectError, match="in the way"):
        session.save_project(tmp_path / "q.samlabel")
    assert (tmp_path / "q.samlabel.saving" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("name", ["../../../escaped", "/tmp/x", "..", "a/b\\c:d*?", "", "CT\x00 AXIAL"])
def test_autosave_names_stay_inside_the_cache(viewer, classes, tmp_path, name):
    from napari_samlabel._napari.autosave import autosave

    root = tmp_path / "cache" / "autosave"
    s = start_session(viewer, viewer.add_image(np.zeros((2, 10, 10)), name=name or "x"), ontology=classes)
    s.image.name = name  # a DICOM SeriesDescription taken verbatim
    s.commit(np.ones((10, 10), bool), region=(0,))  # (an empty session has nothing to autosave)
    (folder,) = autosave([s], root=root)
    assert folder.parent == root and folder.name.endswith(".samlabel") and not folder.name.startswith(".")
    outside = [p for p in tmp_path.rglob("*") if root not in p.parents and p != root and p not in root.parents]
    assert outside == []


def _project(tmp_path, value):
    from napari_samlabel.core import InstanceTable, Ontology

    labels = np.full((2, 4, 4), value, np.uint32)
    return save_project(tmp_path / "p.samlabel", labels, Ontology(), InstanceTable(), {"n": value})


def test_open_and_save_recover_from_two_crashes_in_a_row(tmp_path, monkeypatch):
    import napari_samlabel.io.project as project

    folder = _project(tmp_path, 1)
    real_rename = os.rename

    def crash_after_moving_the_old_copy(src, dst):  # Path.rename calls os.rename
        real_rename(src, dst)
        if str(dst).endswith(".old"):
            raise KeyboardInterrupt("power cut")

    for value in (2, 3):  # two crashes in a row, at the worst point
        monkeypatch.setattr(project.Path, "rename", lambda self, dst: crash_after_moving_the_old_copy(self, dst))
        with pytest.raises(KeyboardInterrupt):
            _project(tmp_path, value)
        monkeypatch.undo()
        assert not folder.exists()
        labels, _, _, meta = load_project(folder)  # the newest complete copy
        assert meta["n"] == value and (labels == value).all()
    _project(tmp_path, 4)
    assert load_project(folder)[2] is not None and (load_project(folder)[0] == 4).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.samlabel"]


def test_half_written_copy_is_never_opened(tmp_path):
    folder = _project(tmp_path, 5)
    saving = tmp_path / "p.samlabel.saving"
    saving.mkdir()
    (saving / "labels.zarr").mkdir()
    (saving / "labels.zarr" / "zarr.json").write_bytes(b"{half")
    info = json.loads((folder / "project.json").read_text())
    (saving / "project.json").write_text(json.dumps(info))  # sizes do not match
    folder.rename(tmp_path / "p.samlabel.old")
    labels, *_ = load_project(folder)
    assert (labels == 5).all()


# -- locks --------------------------------------------------------------------------
@pytest.fixture
def locked(session):
    a = session.commit(disc((40, 50), 20, 20, 8), region=(2,))
    session.annotation.set_locked([a.id])
    return session, a, session.labels.data.copy()


def _napari_edits(layer, a_id):
    square = np.array([[2, 5, 5], [2, 5, 35], [2, 35, 35], [2, 35, 5]])
    return {
        "polygon": lambda: layer.paint_polygon(square, 7),
        "paint": lambda: layer.paint((2, 20, 20), 7),
        "eraser": lambda: layer.paint((2, 20, 20), 0),
        "fill": lambda: layer.fill((2, 20, 20), 7),
        "data_setitem": lambda: layer.data_setitem(tuple(np.nonzero(np.ones((1, 40, 50), bool))[i] + (2 if i == 0 else 0) for i in range(3)), 7),
        "grow the locked one": lambda: layer.paint((2, 20, 30), a_id),
        "fill with the locked one": lambda: layer.fill((2, 2, 45), a_id),
    }


@pytest.mark.parametrize("how", list(_napari_edits(None, 0)))
def test_napari_tools_never_change_a_locked_instance(locked, how):
    s, a, before = locked
    s.labels.brush_size = 20
    warnings = []
    s.store._warn = warnings.append
    _napari_edits(s.labels, a.id)[how]()
    assert ((s.labels.data == a.id) == (before == a.id)).all(), how
    assert warnings and "locked" in warnings[0]
    for rec in s.table:  # the table follows the pixels
        assert rec.frames == {f for f in range(8) if (s.labels.data[f] == rec.id).any()}
    s.labels.undo()  # undoes this edit (or, if nothing was written, the one before), never the wrong pixels
    assert ((s.labels.data == a.id) == (before == a.id)).all() or not s.table[a.id].locked


def test_a_rejected_edit_leaves_no_undo_step(locked):
    s, a, before = locked
    b = s.commit(disc((40, 50), 30, 40, 4), region=(2,))
    s.labels.paint_polygon(np.array([[2, 16, 16], [2, 16, 24], [2, 24, 24], [2, 24, 16]]), 9)  # inside the locked disc
    assert ((s.labels.data == a.id) == (before == a.id)).all()
    s.labels.undo()  # takes back b, the last real action
    assert not s.table[b.id].present and s.table[a.id].present


def test_bulk_edits_and_class_changes_spare_locked_instances(session):
    bg = session.annotation.new_instance("background")
    session.annotation.write_mask(disc((40, 50), 5, 5, 4), bg.id, (1,))
    session.annotation.set_locked([bg.id])
    n = session.commit(disc((40, 50), 20, 20, 5), region=(1,))
    with pytest.raises(AnnotationError, match="locked"):
        session.annotation.change_class([n.id], "background")
    assert session.table[n.id].present and (session.labels.data == bg.id).sum() == disc((40, 50), 5, 5, 4).sum()
    session.annotation.delete_all()
    assert session.table[bg.id].present and not session.table[n.id].present


def test_undo_keeps_locks_visibility_and_review(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.commit(disc((40, 50), 30, 30, 4), region=(1,))
    session.annotation.set_locked([a.id])
    session.annotation.set_visible([a.id], False)
    session.annotation.set_status([a.id], "accepted")
    session.labels.undo()  # an unrelated earlier action (b)
    rec = session.table[a.id]
    assert (rec.locked, rec.visible, rec.status) == (True, False, "accepted")
    session.annotation.delete_all()
    assert session.table[a.id].present
    session.labels.undo()
    session.labels.undo()  # would remove a itself: refused while it is locked
    assert session.table[a.id].present and (session.labels.data == a.id).any()


# -- ids, classes and undo ------------------------------------------------------------
def test_ids_are_never_reused_after_a_brush_instance_is_deleted(session):
    brush_id = session.labels.selected_label
    session.labels.paint((1, 20, 20), brush_id)
    session.annotation.set_visible([brush_id], False)
    session.annotation.set_status([brush_id], "rejected")
    session.annotation.delete([brush_id])
    new = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    assert new.id != brush_id and new.visible and new.status == "unreviewed"
    session.new_instance()
    assert session.labels.selected_label not in (brush_id, new.id)


def test_redo_gives_brush_instances_their_own_class(session):
    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.select_class("nucleus")
    brush_id = session.labels.selected_label
    session.labels.paint((1, 30, 30), brush_id)
    session.labels.undo()
    session.labels.undo()
    session.select_class("cell")
    session.labels.redo()
    session.labels.redo()
    assert session.table[brush_id].class_name == "nucleus" and session.table[a.id].class_name == "nucleus"


def test_a_rename_survives_undo_and_reaches_exports(session, tmp_path):
    from pycocotools.coco import COCO

    a = session.commit(disc((40, 50), 10, 10, 4), region=(1,))
    session.annotation.change_class([a.id], "cell")
    session.commit(disc((40, 50), 30, 30, 4), region=(1,))
    session.annotation.update_class("cell", name="epithelial cell")
    session.labels.undo()
    session.labels.undo()  # the class change: back to nucleus
    session.labels.redo()  # and again to the renamed class
    assert session.table[a.id].class_name == "epithelial cell"
    out = session.export("coco", tmp_path / "coco.json")
    coco = COCO(str(out))
    cats = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert [cats[x["category_id"]] for x in coco.loadAnns(coco.getAnnIds())] == ["epithelial cell"]


# -- tracking runs and edits meanwhile ------------------------------------------------
@pytest.fixture
def tracking(viewer, classes):
    from napari_samlabel._napari.tracking import TrackOptions, make_job
    from napari_samlabel.backends.seeds import SeedGrowSegmenter
    from napari_samlabel.synthetic import fluorescence_timelapse

    movie, truth = fluorescence_timelapse(n_frames=10, size=96, n_cells=3, seed=2)
    image = viewer.add_image(movie, name="movie")
    s = start_session(viewer, image, ontology=classes)
    ids = []
    for k in np.unique(truth[0])[1:]:
        ids.append(s.commit(truth[0] == k, region=(0,)).id)
    viewer.dims.set_current_step(0, 0)
    job = make_job(s, SeedGrowSegmenter().tracker(), ids[:1], TrackOptions("forward", 10))
    return s, job, iter(list(job.steps())), ids


def test_a_commit_during_a_run_is_its_own_step_and_survives_cancel(tracking):
    s, job, steps, ids = tracking
    job.begin()
    job.apply(next(steps))
    job.apply(next(steps))
    mine = s.commit(disc((96, 96), 8, 88, 5), region=(5,))  # the user labels something else meanwhile
    job.apply(next(steps))
    job.cancel()
    job.finish(keep=False)
    assert s.table[mine.id].frames == {5} and (s.labels.data[5] == mine.id).sum() == disc((96, 96), 8, 88, 5).sum()
    assert s.table[ids[0]].frames == {0}  # Keep off: nothing of the run stays, not even before the commit
    assert job.taken_back
    s.labels.undo()  # the take-back was one more step: the frames before the user's commit come back
    assert s.table[mine.id].present and s.table[ids[0]].frames == {0, 1, 2}
    s.labels.undo()
    assert not s.table[mine.id].present and s.table[ids[0]].frames == {0, 1, 2}
    s.labels.undo()
    assert s.table[ids[0]].frames == {0}


def test_edits_of_the_tracked_instance_are_refused_while_it_runs(tracking):
    s, job, steps, ids = tracking
    job.begin()
    job.apply(next(steps))
    before = s.labels.data.copy()
    warnings = []
    s.store._warn = warnings.append
    s.labels.paint((1, 40, 40), ids[0])  # the brush, with the tracked instance selected
    with pytest.raises(AnnotationError, match="being tracked"):
        s.annotation.delete([ids[0]])
    assert (s.labels.data == before).all() and "being tracked" in warnings[0]
    s.labels.undo()  # Ctrl+Z while the run writes: refused, table and pixels stay in step
    assert (s.labels.data == before).all() and "Tracking is writing" in warnings[-1]
    job.apply(next(steps))
    job.finish()
    assert s.table[ids[0]].frames == {0, 1, 2}
    s.labels.undo()
    assert s.table[ids[0]].frames == {0} and (s.labels.data[1:] != ids[0]).all()


def test_brush_stroke_during_a_run_keeps_undo_order(tracking):
    s, job, steps, ids = tracking
    job.begin()
    job.apply(next(steps))
    s.labels._begin_stroke()  # a drag starts
    s.labels.paint((6, 80, 80), 50)
    job.apply(next(steps))  # a frame arrives mid-stroke: it waits
    assert s.table[ids[0]].frames == {0, 1}
    s.labels._commit_stroke()  # mouse released
    assert s.table[ids[0]].frames == {0, 1, 2}
    job.finish()
    history = table_state(s)
    s.labels.undo()  # the frames written after the stroke
    assert s.table[ids[0]].frames == {0, 1} and s.table[50].present
    s.labels.undo()  # the stroke
    assert not s.table[50].present
    s.labels.undo()  # the frame before it
    assert s.table[ids[0]].frames == {0}
    for _ in range(3):
        s.labels.redo()
    assert table_state(s) == history


# -- confidence and source per frame ----------------------------------------------------
def test_a_corrected_frame_is_manual_and_survives_delete_below(session):
    a = session.commit(disc((40, 50), 10, 10, 5), region=(0,))
    for f in (1, 2, 3):
        session.annotation.write_mask(disc((40, 50), 10, 10, 5), a.id, (f,), source="tracked", confidence=0.3)
    session.labels.paint((2, 10, 16), a.id)  # the user corrects frame 2 with the brush
    session.annotation.write_mask(disc((40, 50), 10, 12, 5), a.id, (3,), replace=True)  # and frame 3 with a prompt
    rec = session.table[a.id]
    assert [(rec.source_on(f), rec.score_on(f)) for f in range(4)] == [
        ("manual", 1.0), ("tracked", 0.3), ("manual", 1.0), ("manual", 1.0)]
    feats = session.labels.features.set_index("index").loc[a.id]
    assert feats["confidence"] == round(rec.mean_confidence, 4) == 0.825 and feats["source"] == "manual+tracked"
    session.annotation.delete_below(0.5)
    assert session.table[a.id].frames == {0, 2, 3}


# -- ownership: close() undoes what was bound -------------------------------------------
def test_closed_session_and_controller_react_to_nothing(viewer, classes):
    from napari.utils.key_bindings import coerce_keybinding

    from napari_samlabel._napari.prompting import PromptController
    from napari_samlabel.backends.seeds import SeedGrowSegmenter

    image = viewer.add_image(np.zeros((3, 30, 30)), name="a")
    s = start_session(viewer, image, ontology=classes)
    keymap_before = set(image.keymap)
    pc = PromptController(s, SeedGrowSegmenter())
    assert coerce_keybinding("Enter") in s.labels.keymap
    pc.close()
    assert coerce_keybinding("Enter") not in s.labels.keymap and set(image.keymap) == keymap_before
    assert pc.points not in viewer.layers
    layer = s.labels
    s.close()
    colormap = layer.colormap
    s.ontology.update("nucleus", color="#00ff00")
    assert layer.colormap is colormap and "undo" not in layer.__dict__ and "paint" not in layer.__dict__
    assert not any(coerce_keybinding(k) in image.keymap for k in "123456789")


def test_each_session_owns_its_ontology(viewer):
    from napari_samlabel.core import Ontology

    template = Ontology()
    template.add("liver")
    a = start_session(viewer, viewer.add_image(np.zeros((3, 20, 20)), name="A"), ontology=template)
    b = start_session(viewer, viewer.add_image(np.zeros((3, 20, 20)), name="B"), ontology=template)
    a.commit(disc((20, 20), 10, 10, 3), region=(0,))
    b.annotation.remove_class("liver")
    b.ontology.add("spleen")
    assert a.ontology.names == ["liver"] and template.names == ["liver"] and b.ontology.names == ["spleen"]


# -- large ids and small dtypes ------------------------------------------------------------
def test_ids_beyond_65535_work(viewer, classes):
    from importlib.metadata import requires

    # napari draws ids above 2**16 through numba: it must come with the plugin, not by luck
    assert any(r.split(";")[0].strip().startswith("numba") for r in requires("napari-samlabel"))
    image = viewer.add_image(np.zeros((2, 30, 30)), name="tissue")
    s = start_session(viewer, image, ontology=classes)
    s.table._next_id = 70_000
    s.new_instance()
    a = s.commit(disc((30, 30), 10, 10, 4), region=(0,))
    assert a.id >= 70_000
    colors = s.labels.colormap.map(np.array([a.id, 0], np.uint32))
    assert colors[0][3] == 1 and colors[1][3] == 0
    s.labels._raw_to_displayed(np.asarray(s.labels.data[0]))  # what napari draws with
    s.annotation.delete([a.id])
    s.labels.undo()
    assert s.table[a.id].present


def test_a_small_dtype_layer_is_widened_when_adopted(viewer, classes):
    from napari.layers import Labels

    data = np.zeros((2, 20, 20), np.uint8)
    data[0, 2:6, 2:6] = 255
    image = viewer.add_image(np.zeros((2, 20, 20)), name="im")
    layer = viewer.add_layer(Labels(data, name="old"))
    s = start_session(viewer, image, labels=layer, ontology=classes)
    assert s.labels.data.dtype == np.uint32 and (s.labels.data[0, 2:6, 2:6] == 255).all() and "uint8" in s.notice
    # values taken as instances of the first class: said, with the way to give them classes
    assert "1 label value(s) became instances of" in s.notice and "Import" in s.notice
    b = s.commit(disc((20, 20), 12, 12, 3), region=(1,))
    assert b.id == 256 and (s.labels.data == 256).any()


def test_a_real_dicom_series_folder_is_never_overwritten_and_its_name_stays_a_name(viewer, classes, tmp_path):
    """pydicom's own CT file, its SeriesDescription set to a path, read through the plugin."""
    import pydicom
    from pydicom.data import get_testdata_file

    from napari_samlabel._napari.autosave import autosave

    folder = tmp_path / "study"
    folder.mkdir()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SeriesDescription = "../../../outside"
    ds.save_as(folder / "CT_small.dcm")
    original = (folder / "CT_small.dcm").read_bytes()
    from napari_samlabel._reader import napari_get_reader

    ((data, kwargs, _),) = napari_get_reader(str(folder))(str(folder))  # what File > Open runs
    image = viewer.add_image(data, **kwargs)
    s = start_session(viewer, image, ontology=classes)
    s.commit(np.ones(s.labels.data.shape[-2:], bool), region=(0,) * (s.labels.ndim - 2))
    with pytest.raises(ProjectError, match="not a samlabel project"):
        s.save_project(folder)
    assert [p.name for p in folder.iterdir()] == ["CT_small.dcm"] and (folder / "CT_small.dcm").read_bytes() == original
    root = tmp_path / "cache" / "autosave"
    (saved,) = autosave([s], root=root)
    assert saved.parent == root and "outside" in saved.name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "study"]
