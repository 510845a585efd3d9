"""Qt tier: the docks opened through the manifest and driven as a user would."""

import numpy as np
import pytest
from qtpy.QtCore import Qt

from napari_samlabel.api import current_session
from napari_samlabel.synthetic import disc
from dicom_helpers import sitk_series


@pytest.fixture
def viewer(make_napari_viewer):
    v = make_napari_viewer()
    v.open_sample("napari-samlabel", "timelapse")
    return v


def dock(viewer, name):
    _, widget = viewer.window.add_plugin_dock_widget("napari-samlabel", name)
    return widget


def keys(viewer, key):
    """Press a key the way the canvas does: through napari's keymap chain."""
    assert viewer.window._qt_viewer._key_map_handler.press_key(key)


def started(viewer, *class_names):
    """Both docks open, classes added, Start annotating pressed."""
    classes = dock(viewer, "Classes")
    instances = dock(viewer, "Instances")
    for name in class_names:
        classes._ontology.add(name)
    classes.start_button.click()
    return classes, instances, current_session(viewer)


def instance_items(instances):
    """The rows the Instances list shows, top to bottom: handles that read, tick, select and click
    a row by column title."""
    from qtpy.QtCore import QItemSelectionModel

    from napari_samlabel._qt.instances_widget import COLUMNS

    view = instances.tree
    model = view.model()

    class Row:
        def __init__(self, r):
            self.r = r

        def _ix(self, col):
            return model.index(self.r, COLUMNS.index(col) if isinstance(col, str) else col)

        def text(self, col):
            return self._ix(col).data()

        def data(self, col, role):
            return self._ix(col).data(role)

        def setCheckState(self, col, state):
            model.setData(self._ix(col), state, Qt.CheckStateRole)

        def setSelected(self, on):
            flag = QItemSelectionModel.SelectionFlag
            view.selectionModel().select(self._ix(0), (flag.Select if on else flag.Deselect) | flag.Rows)

        def click(self):
            view.clicked.emit(self._ix(0))

    return [Row(r) for r in range(model.rowCount())]


def test_add_class_pick_with_hotkey_paint_and_undo(viewer):
    classes, instances, session = started(viewer)
    assert session is not None and session.labels in viewer.layers
    assert viewer.layers.selection.active is session.labels

    classes.add_button.click()
    classes.add_button.click()
    assert classes.table.rowCount() == 2
    classes.table.item(0, 1).setText("nucleus")  # rename in the table
    classes.table.item(1, 1).setText("mitotic")
    assert session.ontology.names == ["nucleus", "mitotic"]
    assert session.ontology["mitotic"].hotkey == "2"

    keys(viewer, "2")
    assert session.current_class == "mitotic"
    assert classes.table.currentRow() == 1
    assert "Mitotic" in classes.current_label.text()

    viewer.dims.set_current_step(0, 4)
    label = session.labels.selected_label
    with session.labels.block_history():  # one brush drag
        session.labels.paint((4, 60, 60), label)
    assert session.table[label].class_name == "mitotic"
    (item,) = instance_items(instances)
    assert item.text("Instance") == f"Mitotic ({label})" and item.text("Frames") == "4"

    keys(viewer, "Control-Z")
    assert (session.labels.data == 0).all()
    assert instance_items(instances) == []
    assert viewer.status == "Undid a brush edit."  # undo says what it took back
    keys(viewer, "Control-Shift-Z")
    assert viewer.status == "Redid a brush edit." and session.table[label].present


def test_instances_dock_delete_merge_lock_and_jump(viewer):
    _, instances, s = started(viewer, "nucleus")
    a = s.commit(disc((192, 192), 40, 40, 10), region=(2,))
    b = s.commit(disc((192, 192), 120, 120, 10), region=(7,))
    items = {it.data(0, Qt.UserRole): it for it in instance_items(instances)}
    assert set(items) == {a.id, b.id}

    items[b.id].click()  # click: select and jump
    assert s.current_frame() == 7 and s.labels.selected_label == b.id

    for it in items.values():
        it.setSelected(True)
    instances.merge_button.click()
    assert not s.table[b.id].present and s.table[a.id].frames == {2, 7}

    (item,) = instance_items(instances)
    item.setCheckState("Lock", Qt.Checked)  # lock
    assert s.table[a.id].locked
    (item,) = instance_items(instances)  # the list was rebuilt
    item.setSelected(True)
    instances.delete_button.click()
    assert s.table[a.id].present and "locked" in instances.status.text()

    (item,) = instance_items(instances)
    item.setSelected(True)
    instances.review_actions()["Accept"](instances.selected_ids())
    (item,) = instance_items(instances)
    assert item.text("Status") == "accepted" and s.labels.features["status"].tolist() == ["accepted"]

    instances.filter_combo.setCurrentText("Current frame")
    viewer.dims.set_current_step(0, 5)
    assert instance_items(instances) == []
    viewer.dims.set_current_step(0, 7)
    assert len(instance_items(instances)) == 1


def test_bulk_delete_below_confidence_in_range_then_undo(viewer):
    _, instances, s = started(viewer, "nucleus")
    rec = s.commit(disc((192, 192), 60, 60, 12), region=(0,), source="tracked", confidence=0.9)
    for f, score in enumerate([0.9, 0.4, 0.3, 0.8, 0.2], start=0):
        s.annotation.write_mask(disc((192, 192), 60, 60, 12), rec.id, (f,), source="tracked", confidence=score)
    before = s.labels.data.copy()
    instances.first_spin.setValue(0)
    instances.last_spin.setValue(3)
    instances.op_combo.setCurrentText("Delete below confidence")
    instances.threshold_spin.setValue(0.5)
    instances.apply_button.click()
    assert s.table[rec.id].frames == {0, 3, 4}
    keys(viewer, "Control-Z")
    assert (s.labels.data == before).all() and s.table[rec.id].frames == {0, 1, 2, 3, 4}


def test_bad_ontology_file_keeps_the_current_one(viewer, tmp_path):
    classes = dock(viewer, "Classes")
    classes._ontology.add("nucleus")
    bad = tmp_path / "bad.json"
    bad.write_text('{"classes": [{"name": "a", "kind": "blob"}]}')
    classes._load(str(bad))
    assert classes.ontology.names == ["nucleus"]
    assert "kind: \"blob\" is not 'thing' or 'stuff'" in classes.status.text() and str(bad) in classes.status.text()
    good = tmp_path / "good.json"
    classes._save(str(good))
    classes.ontology.add("cell")
    classes._load(str(good))
    assert classes.ontology.names == ["nucleus"] and classes.table.rowCount() == 1


def test_sample_and_launcher_open_a_ready_session(make_napari_viewer, monkeypatch):
    import napari

    from napari_samlabel import cli

    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer())
    viewer = cli.open_viewer("timelapse")
    s = current_session(viewer)
    assert s.labels.data.shape == viewer.layers[0].data.shape == (20, 192, 192)
    assert s.ontology.names == ["nucleus", "mitotic", "debris"]
    panel = viewer.window.dock_widgets["SAM Label (napari-samlabel)"]
    assert [panel.tabs.tabText(i) for i in range(panel.tabs.count())] == [
        "Classes", "Segment", "Instances", "Track", "Export"]  # fmt: skip


@pytest.mark.slow
def test_segment_dock_click_preview_enter_undo(viewer, qtbot):
    from scipy import ndimage as ndi

    from napari_samlabel.synthetic import fluorescence_timelapse

    _, _, s = started(viewer, "nucleus")
    segment = dock(viewer, "Segment")
    controller = segment.start_prompting()  # the weight-free backend until a model is loaded
    assert viewer.layers.selection.active is controller.points
    _, truth = fluorescence_timelapse()
    viewer.dims.set_current_step(0, 6)
    m = truth[6] == 4
    d = ndi.distance_transform_edt(m)
    r, c = np.unravel_index(np.argmax(d), d.shape)
    controller.add_point([6, r, c])
    qtbot.waitUntil(lambda: controller.result is not None, timeout=5000)  # computed in a worker
    assert controller.preview.data[6].any() and "Enter saves" in segment.status.text()
    keys(viewer, "Enter")
    rec = s.table[max(s.table.present(), key=lambda r: r.id).id]
    dice = 2 * ((s.labels.data[6] == rec.id) & m).sum() / ((s.labels.data[6] == rec.id).sum() + m.sum())
    assert dice > 0.9 and rec.sources == "manual" and rec.mean_confidence == 1.0
    viewer.layers.selection.active = s.labels
    keys(viewer, "Control-Z")
    assert not s.labels.data.any()
    assert viewer.status == f"Undid the mask of {rec.name}."


def test_missing_weights_said_at_once_in_one_line_then_cleared(viewer, qtbot, tmp_path, monkeypatch):
    import time

    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started(viewer, "nucleus")
    segment = dock(viewer, "Segment")
    segment.model_combo.setCurrentText("sam2.1-tiny")  # picking says it, before any Load
    line = segment.model_line
    assert "no weights" in line.text() and len(line.text()) <= 100 and "color" in line.styleSheet()
    assert "sam2.1_hiera_tiny.pt" in line.toolTip()
    t0 = time.perf_counter()
    segment.load_model()  # loading runs in a worker; the dock stays usable
    assert not segment.load_button.isEnabled()
    # the button comes back when the worker has finished (a signal connected after the worker
    # started can miss a load that fails at once: the test once waited 20 s for it)
    qtbot.waitUntil(segment.load_button.isEnabled, timeout=20000)
    assert time.perf_counter() - t0 < 5, "offline must be detected at once, not after download retries"
    assert "seeds" in line.text() and len(line.text()) <= 110 and "sam2.1_hiera_tiny.pt" in line.toolTip()
    assert segment.backend.name == "seeds"
    segment.model_combo.setCurrentText("seeds")  # the problem is gone: so is the red line
    assert line.styleSheet() == "" and "ready" in line.text()


def test_track_dock_runs_in_a_worker_with_progress_and_undo(viewer, qtbot):
    from napari_samlabel.synthetic import fluorescence_timelapse

    _, instances, s = started(viewer, "nucleus")
    track = dock(viewer, "Track")
    _, truth = fluorescence_timelapse()
    viewer.dims.set_current_step(0, 4)
    rec = s.commit(truth[4] == 3, region=(4,))
    (item,) = instance_items(instances)
    item.setSelected(True)  # the Track dock tracks the Instances dock's selection
    assert s.selection == [rec.id]
    track.frames_spin.setValue(6)
    track.direction_combo.setCurrentText("both")
    with qtbot.waitSignal(track.start().finished, timeout=30000):
        pass
    assert s.table[rec.id].frames == set(range(0, 10))
    assert track.progress.value() == track.progress.maximum() == 9
    assert "One Ctrl+Z" in track.status.text()
    viewer.layers.selection.active = s.labels
    keys(viewer, "Control-Z")
    assert s.table[rec.id].frames == {4}


def test_track_dock_cancel_discards_when_asked(viewer, qtbot):
    from napari_samlabel.synthetic import fluorescence_timelapse

    _, _, s = started(viewer, "nucleus")
    track = dock(viewer, "Track")
    _, truth = fluorescence_timelapse()
    viewer.dims.set_current_step(0, 0)  # tracking starts on the frame shown
    rec = s.commit(truth[0] == 3, region=(0,))
    s.set_selection([rec.id])
    track.keep_on_cancel.setChecked(False)
    worker = track.start()
    assert worker is not None, track.status.text()
    worker.yielded.connect(lambda _step: track.cancel())  # cancel after the first frame
    with qtbot.waitSignal(worker.finished, timeout=30000):
        pass
    assert s.table[rec.id].frames == {0} and "nothing kept" in track.status.text()


def test_export_dock_csv_project_autosave_and_shapes(viewer, tmp_path, monkeypatch):
    import csv

    from napari_samlabel.api import open_project
    from napari_samlabel.synthetic import disc

    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path / "cache"))
    _, _, s = started(viewer, "nucleus")
    export = dock(viewer, "Export annotations")
    a = s.commit(disc((192, 192), 50, 50, 10), region=(3,), source="model", confidence=0.7)
    export.format_combo.setCurrentText("csv")
    out = export.export(str(tmp_path / "inst.csv"))
    assert [r["id"] for r in csv.DictReader(open(out))] == [str(a.id)]

    folder = export.save_project(str(tmp_path / "movie.samlabel"))
    assert (folder / "labels.zarr" / "zarr.json").exists()
    assert export.autosave_now() == []  # nothing changed since the save
    s.annotation.set_status([a.id], "accepted")  # a review counts as a change
    assert export.autosave_now() == [folder]  # autosave goes to the project once there is one

    layer = export.to_shapes()
    assert len(layer.data) == 1 and layer.data[0][0, 0] == 3
    s.annotation.delete([a.id])
    viewer.layers.selection.active = layer
    (made,) = export.from_shapes()
    got, want = s.labels.data[3] == made.id, disc((192, 192), 50, 50, 10)
    assert 2 * (got & want).sum() / (got.sum() + want.sum()) > 0.9

    n_layers = len(viewer.layers)
    assert open_project(viewer, s.image, folder) is s and len(viewer.layers) == n_layers  # already open
    viewer.layers.remove(s.labels)  # close it: opening now reads the saved copy
    reopened = open_project(viewer, s.image, folder)
    assert reopened.table[a.id].frame_scores == {3: 0.7} and (reopened.labels.data[3] == a.id).sum() == want.sum()


def test_an_edited_shape_goes_back_to_its_instance(viewer):
    """To Shapes, drag one polygon, From Shapes: that instance follows it (one undo step), the
    others keep every pixel (a hole included), a shape drawn on the layer is a new instance.
    Before: From Shapes made a new instance of every shape, over the old ones: "no pixel of the
    mask is free"."""
    _, _, s = started(viewer, "nucleus")
    export = dock(viewer, "Export annotations")
    a = s.commit(disc((192, 192), 50, 50, 10), region=(3,))
    b = s.commit(disc((192, 192), 120, 110, 14) & ~disc((192, 192), 120, 110, 5), region=(3,))
    before, steps = s.labels.data.copy(), len(s.labels._undo_history)
    layer = export.to_shapes()
    owners = list(layer.features["instance_id"])
    assert sorted(set(owners)) == [a.id, b.id]  # b: its outline and its hole
    moved = [np.array(d) for d in layer.data]
    moved[owners.index(a.id)][:, 1:] += (6, -4)  # dragged 6 rows down, 4 columns left
    layer.data = moved
    viewer.layers.selection.active = layer
    assert [r.id for r in export.from_shapes()] == [a.id]
    assert np.array_equal(s.labels.data[3] == a.id, np.roll(before[3] == a.id, (6, -4), axis=(0, 1)))
    assert np.array_equal(s.labels.data == b.id, before == b.id)
    assert {r.id for r in s.table.present()} == {a.id, b.id}
    assert len(s.labels._undo_history) == steps + 1
    s.labels.undo()  # one Ctrl+Z
    assert np.array_equal(s.labels.data, before)

    layer.add_polygons([np.array([[3, 150, 20], [3, 150, 40], [3, 170, 40]], float)])
    assert layer.features["instance_id"].iloc[-1] == 0  # not the last row's instance, as napari fills it
    made = export.from_shapes()  # the drag again, and the new shape
    new = next(r for r in made if r.id not in (a.id, b.id))
    assert new.class_name == "nucleus" and (s.labels.data[3, 155, 35] == new.id)
    assert len(s.table.present()) == 3


def test_open_dicom_annotate_and_save_nifti_through_napari(make_napari_viewer, tmp_path):
    import napari
    import SimpleITK as sitk

    from dicom_helpers import write_dicom_series
    from napari_samlabel.api import start_session
    from napari_samlabel.core import Ontology
    from napari_samlabel.synthetic import blobs_volume

    write_dicom_series(tmp_path / "ct", np.round(blobs_volume((10, 32, 40), seed=1, n=3)[0] * 1000))
    v = make_napari_viewer()
    (image,) = v.open(str(tmp_path / "ct"), plugin="napari-samlabel")
    onto = Ontology()
    onto.add("liver")
    s = start_session(v, image, ontology=onto)
    s.commit(np.asarray(image.data[5]) > 300, region=(5,))
    out = tmp_path / "liver.nii.gz"
    napari.save_layers(str(out), [s.labels], plugin="napari-samlabel")
    ref, seg = sitk_series(tmp_path / "ct"), sitk.ReadImage(str(out))
    assert seg.GetOrigin() == pytest.approx(ref.GetOrigin()) and seg.GetSpacing() == pytest.approx(ref.GetSpacing())
    assert (sitk.GetArrayFromImage(seg) == np.asarray(s.labels.data)).all()


def test_open_only_the_series_the_user_picks(make_napari_viewer, tmp_path):
    from dicom_helpers import write_dicom_series

    write_dicom_series(tmp_path / "study", np.zeros((4, 16, 16)), description="arterial")
    write_dicom_series(tmp_path / "study", np.ones((6, 16, 16)), description="venous")
    v = make_napari_viewer()
    classes = dock(v, "Classes")
    offered = []
    layer = classes.open_dicom_series(str(tmp_path / "study"), choose=lambda labels: offered.extend(labels) or 1)
    assert offered == ["CT venous (6 files)", "CT arterial (4 files)"]
    assert [l.name for l in v.layers] == ["CT arterial"] and layer.data.shape == (4, 16, 16)
    assert classes.image_combo.currentText() == "CT arterial"


@pytest.mark.slow
def test_segment_dock_leaves_no_keys_on_a_session_it_left(viewer):
    from napari.utils.key_bindings import coerce_keybinding

    from napari_samlabel.api import start_session

    _, _, a = started(viewer, "nucleus")
    segment = dock(viewer, "Segment")
    old = segment.start_prompting()
    assert coerce_keybinding("Enter") in a.labels.keymap
    other = viewer.add_image(np.zeros((5, 64, 64)), name="second image")
    b = start_session(viewer, other)  # the docks follow the new current session
    # SAM mode follows the user to the new image: a new controller on b, nothing left on a
    assert segment._session is b and segment.controller is not old and segment.controller.session is b
    assert segment.sam_mode
    keys = segment.registry.keys
    assert old._keys is None and all(t is not old.points for t in keys._targets)
    # the old controller's handlers were dropped, not stacked under the new ones (Enter: the
    # new controller's, and the dock's over it, which waits for a preview in flight)
    assert [len(keys._handlers[k]) for k in ("Enter", "Escape", "c", "n")] == [2, 1, 1, 1]
    assert old.points not in viewer.layers
    assert coerce_keybinding("Enter") in b.labels.keymap
