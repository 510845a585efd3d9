"""Importing labels made elsewhere (COCO, Cell Tracking Challenge, label images with a class
table) into a session: one undo step through the one write path, ids renumbered where they
clash, locks obeyed, bad files named with nothing changed. The Qt test at the end clicks
Import… in a real viewer."""

import csv
import json

import numpy as np
import pytest

from napari_samlabel.api import import_labels, start_session
from napari_samlabel.io.importing import LabelImportError

yy, xx = np.mgrid[:40, :50]


def disc(cy, cx, r):
    return np.hypot(yy - cy, xx - cx) < r


@pytest.fixture
def painted(session):
    """A ring (hole) tracked by a model on frames 0-2, a cell drawn on frame 1, pixels touching
    at a corner, and the stuff class on frame 2."""
    ann = session.annotation
    ring = disc(15, 20, 9) & ~disc(15, 20, 4)
    a = ann.new_instance("nucleus")
    for f in range(3):
        ann.write_mask(np.roll(ring, f, axis=1), a.id, (f,), source="tracked", confidence=0.5 + f / 10)
    b = ann.new_instance("cell")
    ann.write_mask(disc(30, 40, 5), b.id, (1,))
    c = ann.new_instance("cell")
    corner = np.zeros((40, 50), bool)
    corner[[36, 37, 38], [2, 3, 4]] = True
    ann.write_mask(corner, c.id, (4,), source="model", confidence=0.3)
    bg = ann.new_instance("background")
    ann.write_mask(yy < 3, bg.id, (2,))
    return session


def fresh_session(viewer, shape=(8, 40, 50), ontology=None):
    image = viewer.add_image(np.zeros(shape, np.float32), name=f"other {len(viewer.layers)}")
    return start_session(viewer, image, ontology=ontology)


def frames_of(session):
    return {r.id: (r.class_name, sorted(r.frames), {f: (r.source_on(f), round(r.score_on(f), 4)) for f in r.frames})
            for r in session.table if r.frames}  # fmt: skip


def state(session):
    return (session.labels.data.copy(), json.dumps(session.table.to_json(), sort_keys=True),
            session.ontology.to_dict(), len(session.labels._undo_history))  # fmt: skip


def same_state(a, b):
    return np.array_equal(a[0], b[0]) and a[1:] == b[1:]


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["coco-rle", "coco-polygons", "coco-panoptic"])
def test_our_coco_export_reimported_gives_the_same_labels(painted, viewer, tmp_path, fmt):
    s = painted
    if fmt == "coco-panoptic":
        out = s.export("coco-panoptic", tmp_path / "pan")
    else:
        out = s.export("coco", tmp_path / "coco.json", polygons=fmt == "coco-polygons")
    other = fresh_session(viewer)  # no classes yet
    report = import_labels(other, out)
    assert np.array_equal(other.labels.data, s.labels.data)
    assert [(c.name, c.color, c.kind) for c in other.ontology] == [(c.name, c.color, c.kind) for c in s.ontology]
    if fmt != "coco-panoptic":  # the panoptic format has no scores or sources
        assert frames_of(other) == frames_of(s)
    assert report.renumbered == {} and len(report.instances) == 4
    assert report.summary().startswith(f"imported 4 instances of 3 classes from {out.name}")
    other.labels.undo()  # one step takes the whole import back
    assert not other.labels.data.any() and not other.table.present()


def test_a_models_coco_file(session, tmp_path):
    """Written without our exporter: images in list order are frames, one instance per annotation
    (its id), uncompressed RLE and polygons, scores; where two overlap the higher score wins."""
    from pycocotools import mask as mask_utils

    from itertools import groupby

    s = session
    first, second = disc(20, 20, 8), disc(20, 30, 8)
    compressed = mask_utils.encode(np.asfortranarray(first.astype(np.uint8)))["counts"].decode()
    runs = [len(list(g)) for _, g in groupby(second.T.ravel())]  # uncompressed RLE: column-major runs from 0s
    data = {
        "images": [{"id": 17, "width": 50, "height": 40, "file_name": "a.png"},
                   {"id": 3, "width": 50, "height": 40, "file_name": "b.png"}],
        "categories": [{"id": 5, "name": "mitochondrion", "color": [10, 200, 30]}],
        "annotations": [
            {"id": 11, "image_id": 3, "category_id": 5, "score": 0.6, "segmentation": {"size": [40, 50], "counts": runs}},
            {"id": 12, "image_id": 3, "category_id": 5, "score": 0.9, "segmentation": {"size": [40, 50], "counts": compressed}},
            {"id": 13, "image_id": 17, "category_id": 5, "score": 0.7, "segmentation": [[5, 5, 15, 5, 15, 10, 5, 10]]},
        ],
    }  # fmt: skip
    (tmp_path / "model.json").write_text(json.dumps(data))
    report = import_labels(s, tmp_path / "model.json")
    lab = s.labels.data
    assert (lab[1][first] == 12).all() and (lab[1][second & ~first] == 11).all()  # image 3 is the second: frame 1
    assert (lab[0, 5:10, 5:15] == 13).all() and (lab[0] > 0).sum() == 50  # the polygon's pixels exactly
    assert s.table[12].score_on(1) == 0.9 and s.table[11].score_on(1) == 0.6 and s.table[13].source_on(0) == "model"
    assert s.ontology["mitochondrion"].color == "#0ac81e"
    assert f"{int((first & second).sum())} pixel(s) where annotations overlap went to the higher score" in report.summary()


def test_clashing_ids_are_renumbered_and_one_undo_takes_the_import_back(painted, tmp_path):
    s = painted
    before = s.labels.data.copy()
    taken = sorted(r.id for r in s.table.present())
    theirs = np.zeros(s.labels.data.shape, np.uint16)
    theirs[5, 5:10, 5:10] = taken[0]  # an id this session already uses
    theirs[6, 20:30, 30:40] = 77  # a free one
    np.save(tmp_path / "model.npy", theirs)
    n_history = len(s.labels._undo_history)
    report = import_labels(s, tmp_path / "model.npy", class_name="cell")
    new = report.renumbered[taken[0]]
    assert new not in taken and set(report.renumbered) == {taken[0]}
    assert (s.labels.data[5, 5:10, 5:10] == new).all() and (s.labels.data[6, 20:30, 30:40] == 77).all()
    assert s.table[77].source_on(6) == "model" and s.table[new].class_name == "cell"
    assert f"1 id renumbered ({taken[0]}->{new})" in report.summary()
    assert np.array_equal(np.where(theirs > 0, before, s.labels.data), before)  # nothing of ours changed
    assert len(s.labels._undo_history) == n_history + 1
    s.labels.undo()
    assert np.array_equal(s.labels.data, before) and not s.table[77].frames and not s.table[new].frames
    s.labels.redo()
    assert (s.labels.data[6, 20:30, 30:40] == 77).all()


def test_locked_instances_are_never_overwritten(painted, tmp_path):
    s = painted
    cell = next(r for r in s.table.present() if r.class_name == "cell" and 1 in r.frames)
    s.annotation.set_locked([cell.id])
    before = s.labels.data.copy()
    theirs = np.zeros(s.labels.data.shape, np.uint8)
    theirs[1, 22:40, 30:50] = 1  # over the locked cell and the background around it
    np.save(tmp_path / "over.npy", theirs)
    report = import_labels(s, tmp_path / "over.npy", class_name="nucleus", mode="overwrite")
    locked = before == cell.id
    assert (s.labels.data[locked] == cell.id).all()
    assert report.kept_pixels == int((locked & (theirs > 0)).sum()) > 0
    (new,) = report.instances
    assert (s.labels.data[(theirs > 0) & ~locked] == new).all()


def test_existing_labels_win_in_exclude_mode_and_stuff_joins_its_one_label(painted, tmp_path):
    s = painted
    before = s.labels.data.copy()
    bg = s.table.stuff_instance("background").id
    theirs = np.zeros(s.labels.data.shape, np.uint8)
    theirs[1] = disc(30, 40, 8)  # over the drawn cell: exclude mode keeps it
    theirs[3, :4] = 2
    np.save(tmp_path / "x.npy", theirs)
    with open(tmp_path / "x.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["id", "class"], [1, "cell"], [2, "background"]])
    report = import_labels(s, tmp_path / "x.npy")  # x.csv found next to it
    assert np.array_equal(s.labels.data[before > 0], before[before > 0])
    assert (s.labels.data[3, :4] == bg).all() and 3 in s.table[bg].frames
    assert report.kept_pixels == int(((before[1] > 0) & (theirs[1] > 0)).sum())


def test_ctc_result_folder_becomes_tracks_with_their_lineage(viewer, tmp_path):
    import tifffile

    masks = np.zeros((6, 40, 50), np.uint16)
    masks[0:3][:, disc(10, 10, 4)] = 1  # divides after frame 2 into 2 and 3
    masks[3:6][:, disc(8, 8, 3)] = 2
    masks[3:6][:, disc(14, 14, 3)] = 3
    masks[0:2][:, disc(30, 40, 4)] = 4  # lost on frame 2, seen again as 7 (how CTC writes a gap)
    masks[3:6][:, disc(30, 40, 4)] = 7
    (tmp_path / "RES").mkdir()
    for t, m in enumerate(masks):
        tifffile.imwrite(tmp_path / "RES" / f"mask{t:03d}.tif", m)
    (tmp_path / "RES" / "res_track.txt").write_text("1 0 2 0\n2 3 5 1\n3 3 5 1\n4 0 1 0\n7 3 5 4\n")
    s = fresh_session(viewer, (6, 40, 50))
    report = import_labels(s, tmp_path / "RES" / "res_track.txt")
    assert {r.id: r.parent for r in s.table.present()} == {1: 0, 2: 1, 3: 1, 4: 0}
    assert sorted(s.table[4].frames) == [0, 1, 3, 4, 5] and (s.labels.data[masks == 7] == 4).all()
    assert {r.class_name for r in s.table.present()} == {"cell"} and "cell" in s.ontology
    assert "1 track(s) continued after a gap joined" in report.summary()
    assert np.array_equal(s.labels.data > 0, masks > 0)


def test_our_ctc_export_reimported(painted, viewer, tmp_path):
    s = painted
    cells = np.where(np.isin(s.labels.data, [r.id for r in s.table.present() if not r.stuff]), s.labels.data, 0)
    cells[[0, 3], 30:35, 5:10] = 50  # a gap: CTC writes frame 3 as a new track whose parent is 50
    from napari_samlabel.io.ctc import write_ctc

    write_ctc(tmp_path / "RES", cells, 0)
    other = fresh_session(viewer)
    import_labels(other, tmp_path / "RES")
    assert np.array_equal(other.labels.data, cells)


@pytest.mark.parametrize("suffix", [".tif", ".nii.gz", ".npy"])
def test_label_image_with_class_table(session, tmp_path, suffix):
    from napari_samlabel.io import write_labels

    s = session
    theirs = np.zeros(s.labels.data.shape, np.uint16)
    theirs[2][disc(20, 20, 6)] = 3
    theirs[2:5][:, disc(10, 40, 4)] = 9
    path = write_labels(tmp_path / f"seg{suffix}", theirs)
    table = tmp_path / "classes.csv"
    table.write_text("id,class,confidence,source,color\n3,tumour,0.42,model,#112233\n9,nucleus,0.9,manual+tracked,\n")
    report = import_labels(s, [path, table])
    assert np.array_equal(s.labels.data, theirs)
    assert s.ontology["tumour"].color == "#112233" and report.added_classes == ["tumour"]
    assert s.table[3].score_on(2) == pytest.approx(0.42) and s.table[3].source_on(2) == "model"
    assert s.table[9].class_name == "nucleus" and s.table[9].source_on(3) == "manual"


def test_importing_the_same_file_twice_says_nothing_new_and_leaves_no_empty_undo_step(session, tmp_path):
    """Before: "Imported 0 instances ...; 8 ids renumbered", and an undo step that did nothing
    (the next Ctrl+Z seemed dead). A manual row with a score says why the score is not kept."""
    from napari_samlabel.core.annotation import AnnotationError

    s = session
    theirs = np.zeros(s.labels.data.shape, np.uint16)
    theirs[1][disc(20, 20, 6)] = 3
    np.save(tmp_path / "seg.npy", theirs)
    (tmp_path / "seg.csv").write_text("id,class,confidence,source\n3,nucleus,0.8,manual\n")
    report = import_labels(s, tmp_path / "seg.npy")
    assert "manual frames count as 1.0" in report.summary()
    before, instances = state(s), frames_of(s)
    with pytest.raises(AnnotationError, match="seg.npy: nothing new to import"):
        import_labels(s, tmp_path / "seg.npy")
    after = state(s)  # no pixel, instance or undo step more (an id tried is used up: ids are never reused)
    assert np.array_equal(after[0], before[0]) and after[2:] == before[2:] and frames_of(s) == instances


def test_our_instance_csv_is_a_class_table(painted, viewer, tmp_path):
    s = painted
    np.save(tmp_path / "labels.npy", s.labels.data)
    s.export("csv", tmp_path / "labels.csv")
    other = fresh_session(viewer, ontology=s.ontology)
    import_labels(other, tmp_path / "labels.npy")
    assert np.array_equal(other.labels.data, s.labels.data)
    assert {i: c for i, (c, _, _) in frames_of(other).items()} == {i: c for i, (c, _, _) in frames_of(s).items()}


def objects(session):
    """Each instance on each frame: (frame, class, its pixels), whatever its id."""
    out = set()
    for f, plane in enumerate(session.labels.data):
        for i in np.unique(plane[plane > 0]).tolist():
            out.add((f, session.table[i].class_name, np.flatnonzero(plane == i).tobytes()))
    return out


@pytest.mark.parametrize("chosen", ["masks.zip", "masks", "masks/labelmap.txt"])
def test_our_cvat_mask_export_reimported(viewer, tmp_path, chosen):
    """Before: "cannot import '.zip'", and the folder was taken for a Cell Tracking Challenge result."""
    from napari_samlabel.core import Ontology

    onto = Ontology.from_dict({"classes": [{"name": "nucleus", "color": "#ff8800"}, {"name": "cell", "color": "#3cb44b"}]})
    s = fresh_session(viewer, ontology=onto)
    ann = s.annotation
    a, b, c = ann.new_instance("nucleus"), ann.new_instance("cell"), ann.new_instance("cell")
    for f in range(3):  # a ring (its hole is no object) moving over three frames
        ann.write_mask(np.roll(disc(15, 20, 9) & ~disc(15, 20, 4), f, axis=1), a.id, (f,))
    ann.write_mask(disc(30, 40, 5), b.id, (1,))
    ann.write_mask(disc(30, 31, 5), c.id, (1,))  # touching b: told apart by SegmentationObject
    s.export("cvat-mask", tmp_path / chosen.split("/")[0])
    other = fresh_session(viewer)  # no classes yet
    report = import_labels(other, tmp_path / chosen)
    assert objects(other) == objects(s) and len(objects(s)) == 5
    assert [(k.name, k.color) for k in other.ontology] == [("nucleus", "#ff8800"), ("cell", "#3cb44b")]
    assert report.summary().startswith("imported 5 instances of 2 classes") and "instances of their own" in report.summary()
    other.labels.undo()
    assert not other.labels.data.any()


def test_a_cvat_mask_archive_as_cvat_writes_it(session, tmp_path):
    """CVAT's own zip: palette PNGs, image names of its own (frames in default.txt's order), the
    layout inside a folder, class pixels outside any object (one instance per class)."""
    import io
    import zipfile

    from PIL import Image

    from napari_samlabel.io.masks import voc_colormap

    def png(index, palette):
        im = Image.fromarray(index.astype(np.uint8), mode="P")
        im.putpalette(np.asarray(palette, np.uint8).ravel().tolist())
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        return buf.getvalue()

    cls, obj = np.zeros((40, 50), np.uint8), np.zeros((40, 50), np.uint8)
    cls[disc(10, 10, 5)], obj[disc(10, 10, 5)] = 1, 1
    cls[disc(25, 30, 6)], obj[disc(25, 30, 6)] = 1, 2
    cls[35:, :] = 2  # "tissue" with no object
    palette = [(0, 0, 0), (250, 50, 83), (51, 221, 255)]
    with zipfile.ZipFile(tmp_path / "task.zip", "w") as zf:
        zf.writestr("export/labelmap.txt", "# label:color_rgb:parts:actions\nbackground:0,0,0::\n"
                    "mito:250,50,83::\ntissue:51,221,255::\n")
        zf.writestr("export/ImageSets/Segmentation/default.txt", "img_b\nimg_a\n")
        for name, k in (("img_b", 0), ("img_a", 1)):
            zf.writestr(f"export/SegmentationClass/{name}.png", png(np.roll(cls, k, axis=1), palette))
            zf.writestr(f"export/SegmentationObject/{name}.png", png(np.roll(obj, k, axis=1), voc_colormap(256)))
    report = import_labels(session, tmp_path / "task.zip")
    lab = session.labels.data
    assert len(report.instances) == 6 and session.ontology["mito"].color == "#fa3253"
    for f in (0, 1):
        ids = {session.table[i].class_name: i for i in (lab[f, 10, 10 + f], lab[f, 38, 5])}
        assert set(ids) == {"mito", "tissue"} and (lab[f] == ids["tissue"]).sum() == 5 * 50
        assert lab[f, 25, 30 + f] not in (0, *ids.values()) and (lab[f] == lab[f, 25, 30 + f]).sum() == disc(25, 30, 6).sum()


# -- bad input -------------------------------------------------------------------------------------
def _broken_json(tmp, s):
    (tmp / "broken.json").write_text('{"images": [')
    return tmp / "broken.json", "broken.json: not valid JSON"


def _coco_wrong_size(tmp, s):
    data = {"images": [{"id": 1, "width": 64, "height": 64}], "annotations": [], "categories": []}
    (tmp / "big.json").write_text(json.dumps(data))
    return tmp / "big.json", "big.json: image 1 is 64 x 64 pixels, a frame of the image is 50 x 40"


def _coco_unknown_category(tmp, s):
    data = {"images": [{"id": 1, "width": 50, "height": 40}], "categories": [{"id": 1, "name": "cell"}],
            "annotations": [{"id": 4, "image_id": 1, "category_id": 2, "segmentation": [[1, 1, 9, 1, 9, 9]]}]}  # fmt: skip
    (tmp / "cat.json").write_text(json.dumps(data))
    return tmp / "cat.json", "cat.json: annotation 4 has category 2"


def _zip_not_cvat(tmp, s):
    import zipfile

    with zipfile.ZipFile(tmp / "photos.zip", "w") as zf:
        zf.writestr("a.png", b"\x89PNG")
    return tmp / "photos.zip", "photos.zip: not a CVAT mask archive (no labelmap.txt in it)"


def _unknown_file(tmp, s):
    (tmp / "labels.png").write_bytes(b"\x89PNG")
    return tmp / "labels.png", "labels.png: cannot import '.png'"


def _wrong_shape(tmp, s):
    np.save(tmp / "small.npy", np.ones((8, 20, 20), np.uint8))
    return tmp / "small.npy", "small.npy: labels of shape (8, 20, 20), the image needs (8, 40, 50)"


def _fractional(tmp, s):
    np.save(tmp / "prob.npy", np.full((8, 40, 50), 0.5))
    return tmp / "prob.npy", "prob.npy: fractional values"


def _id_not_in_table(tmp, s):
    a = np.zeros((8, 40, 50), np.uint8)
    a[0, :2, :2], a[1, :2, :2] = 1, 2
    np.save(tmp / "a.npy", a)
    (tmp / "a.csv").write_text("id,class\n1,cell\n")
    return tmp / "a.npy", "a.csv: no row for id(s) [2] of a.npy"


def _ctc_id_without_track(tmp, s):
    import tifffile

    (tmp / "RES").mkdir()
    for t in range(8):
        m = np.zeros((40, 50), np.uint16)
        m[:3, :3] = 1 if t < 4 else 5
        tifffile.imwrite(tmp / "RES" / f"mask{t:03d}.tif", m)
    (tmp / "RES" / "res_track.txt").write_text("1 0 3 0\n")
    return tmp / "RES", "RES: label 5 in mask004.tif has no line in res_track.txt"


@pytest.mark.parametrize("bad", [_broken_json, _coco_wrong_size, _coco_unknown_category, _unknown_file, _wrong_shape,
                                 _fractional, _id_not_in_table, _ctc_id_without_track, _zip_not_cvat])  # fmt: skip
def test_bad_input_is_named_and_changes_nothing(painted, tmp_path, bad):
    s = painted
    path, message = bad(tmp_path, s)
    before = state(s)
    with pytest.raises(LabelImportError) as err:
        import_labels(s, path)
    assert message in str(err.value) and str(tmp_path) in str(err.value)
    assert same_state(state(s), before)


def test_a_write_that_fails_halfway_leaves_nothing(painted, tmp_path, monkeypatch):
    """An error while writing (after classes were added and some instances written) rolls back."""
    from napari_samlabel.core.annotation import Annotation

    s = painted
    theirs = np.zeros(s.labels.data.shape, np.uint8)
    theirs[5, :5, :5], theirs[6, :5, :5] = 1, 2
    np.save(tmp_path / "t.npy", theirs)
    (tmp_path / "t.csv").write_text("id,class\n1,tumour\n2,tumour\n")
    before = state(s)
    real, calls = Annotation.write_mask, []

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk gone")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Annotation, "write_mask", failing)
    with pytest.raises(OSError):
        import_labels(s, tmp_path / "t.npy")
    assert np.array_equal(s.labels.data, before[0]) and "tumour" not in s.ontology
    assert {r.id for r in s.table.present()} == {r["id"] for r in json.loads(before[1])["instances"] if r["frames"]}
    assert len(s.labels._undo_history) == before[3] and len(calls) == 2


def test_the_brushs_fresh_id_is_free_and_the_brush_moves_on(session, tmp_path):
    s = session
    fresh = s.labels.selected_label  # handed to napari's brush, never painted
    theirs = np.zeros(s.labels.data.shape, np.uint8)
    theirs[0, :5, :5] = fresh
    np.save(tmp_path / "one.npy", theirs)
    report = import_labels(s, tmp_path / "one.npy")
    assert report.renumbered == {} and (s.labels.data[0, :5, :5] == fresh).all()
    assert s.labels.selected_label != fresh and s.table.is_unused(s.labels.selected_label)


# -- the dock --------------------------------------------------------------------------------------
def test_import_button_in_a_real_viewer(make_napari_viewer, tmp_path, monkeypatch, classes):
    from qtpy.QtWidgets import QFileDialog

    from napari_samlabel._qt.export_widget import ExportWidget

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((8, 40, 50), np.float32), name="movie")
    s = start_session(viewer, image, ontology=classes)
    widget = ExportWidget(viewer)
    viewer.window.add_dock_widget(widget)
    theirs = np.zeros((8, 40, 50), np.uint16)
    theirs[0, 5:10, 5:10], theirs[1, 20:30, 20:30] = 4, 6
    np.save(tmp_path / "model.npy", theirs)
    chosen = {"paths": [str(tmp_path / "model.npy")]}
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: (chosen["paths"], ""))
    warnings = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", warnings.append)
    widget.importer.import_button.click()
    assert widget.status.text() == "Imported 2 instances of 1 class from model.npy."
    assert (s.labels.data[0, 5:10, 5:10] == 4).all() and s.table[6].class_name == "nucleus"
    assert viewer.status == "Imported 2 instances of 1 class from model.npy."
    (tmp_path / "broken.json").write_text("{")
    chosen["paths"] = [str(tmp_path / "broken.json")]
    widget.importer.import_button.click()
    assert "broken.json: not valid JSON" in widget.status.text() and "ff6060" in widget.status.styleSheet()
    assert len(warnings) == 1 and "broken.json" in warnings[0]
    chosen["paths"] = []  # cancelled: nothing happens
    assert widget.importer.import_labels() is None
    # a polygon export says which masks kept their holes as RLE
    s.annotation.write_mask(disc(20, 25, 8) & ~disc(20, 25, 3), 6, (1,))
    widget.format_combo.setCurrentText("coco")
    widget.polygons.setChecked(True)
    widget.export(str(tmp_path / "coco.json"))
    assert "1 of 2 masks written as RLE, not polygons (1 with holes" in widget.status.text()


def test_nifti_labels_are_put_on_the_images_grid(viewer, tmp_path):
    """A label NIfTI stored with a flipped axis lands exactly on the image (principle 14); one
    over another region is refused, naming the file."""
    import nibabel as nib

    from napari_samlabel.io import read_image

    affine = np.diag([0.8, 0.7, 2.5, 1.0])
    affine[:3, 3] = (-40, -30, 10)
    nib.save(nib.Nifti1Image(np.zeros((50, 40, 6), np.float32), affine), tmp_path / "ct.nii.gz")
    data, meta = read_image(tmp_path / "ct.nii.gz")  # (z, y, x) = (6, 40, 50)
    s = start_session(viewer, viewer.add_image(data, metadata=meta, name="ct"))
    xyz = np.zeros((50, 40, 6), np.uint8)  # stored like the image: x, y, z
    xyz[10:30, 5:15, 2:4] = 3
    nib.save(nib.Nifti1Image(xyz, affine), tmp_path / "same.nii.gz")
    want, _ = read_image(tmp_path / "same.nii.gz")  # where the image's reader puts these voxels
    flipped = affine.copy()  # the same voxels stored with x running the other way
    flipped[0, 0], flipped[0, 3] = -0.8, -40 + 0.8 * 49
    nib.save(nib.Nifti1Image(np.ascontiguousarray(xyz[::-1]), flipped), tmp_path / "seg.nii.gz")
    import_labels(s, tmp_path / "seg.nii.gz")
    assert np.array_equal(s.labels.data, want) and (want == 3).sum() == 400
    moved = affine.copy()
    moved[:3, 3] += 500
    nib.save(nib.Nifti1Image(xyz, moved), tmp_path / "far.nii.gz")
    with pytest.raises(LabelImportError, match="far.nii.gz: not on the image's grid"):
        import_labels(s, tmp_path / "far.nii.gz")
