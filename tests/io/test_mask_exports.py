"""Mask exports judged by plain readers: the semantic class-index mask (TIFF, PNG, NIfTI) read
back with tifffile, imageio and nibabel; CVAT's "Segmentation mask 1.1" layout read back with
PIL/imageio and its labelmap.txt parsed the way Datumaro parses it, checked pixel by pixel
against the labels and the instance table."""

import csv
import json
import zipfile
from io import BytesIO

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from napari_samlabel.core import Annotation, Ontology
from napari_samlabel.io.exporting import FORMATS, export
from napari_samlabel.synthetic import disc

SHAPE = (32, 40)


@pytest.fixture
def onto():
    return Ontology.from_dict({"classes": [
        {"name": "nucleus", "color": "#ff8800"},
        {"name": "cell", "color": "#3cb44b"},
        {"name": "debris", "color": "#4363d8", "kind": "stuff"},
    ]})  # fmt: skip


@pytest.fixture
def ann(onto):
    """Three frames: two nuclei and a cell touching one of them, a stuff region, an empty frame."""
    a = Annotation(np.zeros((3, *SHAPE), np.uint32), onto, frame_axis=0)
    for cls, frame, (cy, cx), r in [("nucleus", 0, (8, 8), 5), ("nucleus", 0, (20, 30), 6), ("cell", 0, (8, 16), 5),
                                    ("cell", 1, (16, 20), 9), ("nucleus", 1, (16, 20), 3), ("debris", 1, (28, 4), 3)]:  # fmt: skip
        inst = a.new_instance(cls)
        with a.action():  # overwrite: the nucleus on frame 1 lies inside the cell
            a.write_mask(disc(SHAPE, cy, cx, r), inst.id, (frame,), "overwrite")
    return a


def expected_classes(ann):
    """Class index per pixel, from the table (1-based in ontology order), without the exporter."""
    names = ann.ontology.names
    labels = ann.store.data
    out = np.zeros(labels.shape, np.int64)
    for rec in ann.table:
        out[labels == rec.id] = names.index(rec.class_name) + 1
    return out


def read_class_table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_formats_are_offered(onto):
    assert "semantic" in FORMATS and "cvat-mask" in FORMATS


# -- semantic ------------------------------------------------------------------------------
def test_semantic_tiff_is_the_class_of_every_pixel(ann, tmp_path):
    out = export("semantic", tmp_path / "sem.tif", ann.store.data, ann.ontology, ann.table, 0)
    import tifffile

    back = tifffile.imread(out)
    assert back.shape == ann.store.data.shape and back.dtype == np.uint8
    assert (back == expected_classes(ann)).all()
    assert set(np.unique(back[1]).tolist()) == {0, 1, 2, 3}  # all three classes on frame 1
    rows = read_class_table(tmp_path / "sem_classes.csv")
    assert [(int(r["index"]), r["name"], r["color"]) for r in rows] == [
        (0, "unlabeled", "#000000"), (1, "nucleus", "#ff8800"), (2, "cell", "#3cb44b"), (3, "debris", "#4363d8")]
    assert not list(tmp_path.glob("*.part"))


def test_semantic_png_stack_one_file_per_frame_read_by_imageio(ann, tmp_path):
    export("semantic", tmp_path / "sem.png", ann.store.data, ann.ontology, ann.table, 0)
    files = sorted(tmp_path.glob("sem_*.png"))
    assert [f.name for f in files] == ["sem_00000.png", "sem_00001.png", "sem_00002.png"]
    truth = expected_classes(ann)
    for f, path in enumerate(files):
        back = iio.imread(path)
        assert back.shape == SHAPE and (back == truth[f]).all()
    assert not truth[2].any() and (tmp_path / "sem_classes.csv").exists()


def test_semantic_png_of_a_2d_image_and_uint16_beyond_255_classes(tmp_path):
    onto = Ontology()
    for k in range(300):
        onto.add(f"c{k}")
    ann = Annotation(np.zeros(SHAPE, np.uint32), onto)
    inst = ann.new_instance("c299")
    with ann.action():
        ann.write_mask(disc(SHAPE, 10, 10, 4), inst.id)
    out = export("semantic", tmp_path / "one.png", ann.store.data, onto, ann.table, None)
    back = np.asarray(Image.open(out))
    assert out == tmp_path / "one.png" and back.shape == SHAPE
    assert back.dtype.itemsize == 2 and set(np.unique(back).tolist()) == {0, 300}
    assert (back == 300).sum() == disc(SHAPE, 10, 10, 4).sum()


def test_semantic_nifti_keeps_the_image_geometry(ann, tmp_path):
    nib = pytest.importorskip("nibabel")
    from napari_samlabel.io import read_image

    affine = np.array([[-0.7, 0, 0, 12.0], [0, 0.8, 0, -30.0], [0, 0, 2.5, 5.0], [0, 0, 0, 1]])
    img = np.zeros((SHAPE[1], SHAPE[0], 3), np.int16)  # x, y, z as a NIfTI file stores them
    nib.save(nib.Nifti1Image(img, affine), str(tmp_path / "image.nii.gz"))
    data, meta = read_image(tmp_path / "image.nii.gz")
    assert data.shape == ann.store.data.shape
    sem = export("semantic", tmp_path / "sem.nii.gz", ann.store.data, ann.ontology, ann.table, 0, meta)
    ids = export("nifti", tmp_path / "ids.nii.gz", ann.store.data, ann.ontology, ann.table, 0, meta)
    s, i = nib.load(str(sem)), nib.load(str(ids))
    assert np.allclose(s.affine, affine) and np.allclose(s.affine, i.affine)
    sem_arr, id_arr = np.asarray(s.dataobj), np.asarray(i.dataobj)
    names = ann.ontology.names
    for rec in ann.table:  # voxel for voxel, the class of the id the labels export wrote there
        if rec.present:
            assert (sem_arr[id_arr == rec.id] == names.index(rec.class_name) + 1).all()
    assert ((sem_arr == 0) == (id_arr == 0)).all()


def test_semantic_refuses_an_id_without_a_class(onto, tmp_path):
    labels = np.zeros((2, *SHAPE), np.uint32)
    labels[1, 3:6, 3:6] = 7
    from napari_samlabel.core.instances import InstanceTable

    with pytest.raises(ValueError, match="label 7 on frame 1 has no instance record"):
        export("semantic", tmp_path / "x.tif", labels, onto, InstanceTable(), 0)
    assert not list(tmp_path.iterdir())


def test_png_refuses_3d_planes(onto, tmp_path):
    from napari_samlabel.core.instances import InstanceTable

    with pytest.raises(ValueError, match="PNG holds 2D images"):
        export("semantic", tmp_path / "x.png", np.zeros((2, 3, 4, 5), np.uint32), onto, InstanceTable(), 0)


# -- CVAT Segmentation mask 1.1 ---------------------------------------------------------------
def parse_labelmap(text):
    """Datumaro's reading of labelmap.txt: 'name:r,g,b:parts:actions', '#' lines skipped."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        assert len(fields) == 4, line
        assert fields[0] not in out
        out[fields[0]] = tuple(int(c) for c in fields[1].split(","))
    return out


def voc_colours(n):
    """Pascal VOC's colour map, from the devkit's definition (bitget over the index)."""
    cmap = []
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap.append((r, g, b))
    return cmap


def check_cvat(read, ann, frames):
    """Everything a CVAT import reads, checked against the labels: ``read(rel)`` gives bytes."""
    labelmap_text = read("labelmap.txt").decode()
    assert labelmap_text.splitlines()[0] == "# label:color_rgb:parts:actions"
    assert labelmap_text.splitlines()[1] == "background:0,0,0::"
    labelmap = parse_labelmap(labelmap_text)
    assert labelmap == {"background": (0, 0, 0), "nucleus": (255, 136, 0), "cell": (60, 180, 75), "debris": (67, 99, 216)}
    names = read("ImageSets/Segmentation/default.txt").decode().split()
    assert names == [f"frame_{f:05d}" for f in frames]
    by_colour = {rgb: name for name, rgb in labelmap.items()}
    voc = voc_colours(256)
    labels = ann.store.data
    for f, name in zip(frames, names):
        cls = np.asarray(Image.open(BytesIO(read(f"SegmentationClass/{name}.png"))))
        obj = iio.imread(BytesIO(read(f"SegmentationObject/{name}.png")))
        assert cls.shape == obj.shape == (*SHAPE, 3)
        plane = labels[f]
        # every pixel's class colour names the class of the instance there
        got = np.array([[by_colour[tuple(px)] for px in row] for row in cls])
        want = np.full(SHAPE, "background", object)
        for rec in ann.table:
            want[plane == rec.id] = rec.class_name
        assert (got == want).all()
        # each instance is exactly one colour's pixels; colours are VOC's 1..N in id order
        ids = sorted(int(i) for i in np.unique(plane) if i)
        assert len(ids) >= (2 if f < 2 else 0)
        flat = obj.reshape(-1, 3)
        for k, i in enumerate(ids, 1):
            colour = np.array(voc[k], np.uint8)
            assert ((flat == colour).all(1).reshape(SHAPE) == (plane == i)).all()
        assert ((obj == 0).all(-1) == (plane == 0)).all()


def test_cvat_folder_round_trips_classes_and_instances(ann, tmp_path):
    out = export("cvat-mask", tmp_path / "cvat", ann.store.data, ann.ontology, ann.table, 0)
    assert out == tmp_path / "cvat"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        ["labelmap.txt", "ImageSets/Segmentation/default.txt"]
        + [f"{d}/frame_{f:05d}.png" for d in ("SegmentationClass", "SegmentationObject") for f in range(3)])
    check_cvat(lambda rel: (out / rel).read_bytes(), ann, [0, 1, 2])
    assert not list(tmp_path.rglob("*.part"))


def test_cvat_zip_is_the_same_layout(ann, tmp_path):
    out = export("cvat-mask", tmp_path / "task.zip", ann.store.data, ann.ontology, ann.table, 0)
    with zipfile.ZipFile(out) as zf:
        check_cvat(zf.read, ann, [0, 1, 2])
    assert [p.name for p in tmp_path.iterdir()] == ["task.zip"]


def test_cvat_a_class_named_background_is_cvats_background(tmp_path):
    onto = Ontology.from_dict({"classes": [{"name": "cell", "color": "#3cb44b"},
                                           {"name": "background", "color": "#4363d8", "kind": "stuff"}]})  # fmt: skip
    ann = Annotation(np.zeros(SHAPE, np.uint32), onto)
    with ann.action():
        ann.write_mask(disc(SHAPE, 10, 10, 4), ann.new_instance("cell").id)
        ann.write_mask(disc(SHAPE, 25, 30, 4), ann.new_instance("background").id)
    out = export("cvat-mask", tmp_path / "c", ann.store.data, onto, ann.table, None)
    labelmap = parse_labelmap((out / "labelmap.txt").read_text())
    assert labelmap == {"background": (0, 0, 0), "cell": (60, 180, 75)}
    obj = iio.imread(out / "SegmentationObject/frame_00000.png")
    cls = iio.imread(out / "SegmentationClass/frame_00000.png")
    cell = disc(SHAPE, 10, 10, 4)
    assert ((cls == (60, 180, 75)).all(-1) == cell).all() and ((obj != 0).any(-1) == cell).all()


@pytest.mark.parametrize("classes, message", [
    ([{"name": "a", "color": "#000000"}], "black"),
    ([{"name": "a", "color": "#102030"}, {"name": "b", "color": "#102030"}], "same colour"),
    ([{"name": "a:b", "color": "#102030"}], "':'"),
])  # fmt: skip
def test_cvat_refuses_what_it_could_not_read_back_and_writes_nothing(classes, message, tmp_path):
    onto = Ontology.from_dict({"classes": classes})
    ann = Annotation(np.zeros(SHAPE, np.uint32), onto)
    with pytest.raises(ValueError, match=message):
        export("cvat-mask", tmp_path / "c", ann.store.data, onto, ann.table, None)
    assert not (tmp_path / "c").exists()


def test_cvat_refuses_more_than_255_instances_on_a_frame(tmp_path):
    onto = Ontology()
    onto.add("dot")
    labels = np.zeros((2, 20, 20), np.uint32)
    labels[1].flat[:300] = np.arange(1, 301)
    ann = Annotation(labels, onto, frame_axis=0)
    ann.sync_frames()
    with pytest.raises(ValueError, match="300 instances on frame 1"):
        export("cvat-mask", tmp_path / "t.zip", labels, onto, ann.table, 0)
    assert not list(tmp_path.iterdir())


def test_cli_exports_both(tmp_path, capsys):
    from napari_samlabel.cli import main

    labels = np.zeros((2, 20, 20), np.uint16)
    labels[0, 2:6, 2:6] = 1
    labels[1, 10:15, 10:15] = 2
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "classes.json").write_text(json.dumps({"classes": [{"name": "cell", "color": "#00ff00"},
                                                                   {"name": "nucleus", "color": "#ff0000"}]}))  # fmt: skip
    (tmp_path / "inst.csv").write_text("id,class,confidence,source\n1,cell,0.9,model\n2,nucleus,1.0,manual\n")
    common = [str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "classes.json"), "--instances",
              str(tmp_path / "inst.csv")]  # fmt: skip
    assert main(["export", *common, "--format", "semantic", "-o", str(tmp_path / "sem.tif")]) == 0, capsys.readouterr()
    import tifffile

    sem = tifffile.imread(tmp_path / "sem.tif")
    assert (sem == np.where(labels == 1, 1, np.where(labels == 2, 2, 0))).all()
    assert main(["export", *common, "--format", "cvat-mask", "-o", str(tmp_path / "cvat")]) == 0, capsys.readouterr()
    cls = iio.imread(tmp_path / "cvat/SegmentationClass/frame_00001.png")
    assert ((cls == (255, 0, 0)).all(-1) == (labels[1] == 2)).all()



def test_a_failed_cvat_export_into_a_chosen_folder_leaves_it_as_it_was(tmp_path):
    onto = Ontology()
    onto.add("dot")
    labels = np.zeros((2, 20, 20), np.uint32)
    labels[0, 2:5, 2:5] = 1  # frame 0 is fine and staged before frame 1 fails
    labels[1].flat[:300] = np.arange(2, 302)
    ann = Annotation(labels, onto, frame_axis=0)
    ann.sync_frames()
    chosen = tmp_path / "mine"
    chosen.mkdir()
    (chosen / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="instances on frame 1"):
        export("cvat-mask", chosen, labels, onto, ann.table, 0)
    assert [p.name for p in chosen.rglob("*")] == ["notes.txt"]


@pytest.mark.slow
def test_the_export_dock_writes_both(make_napari_viewer, tmp_path):
    from napari_samlabel.api import start_session

    viewer = make_napari_viewer()
    image = viewer.add_image(np.zeros((2, *SHAPE), np.float32), name="movie")
    onto = Ontology.from_dict({"classes": [{"name": "cell", "color": "#00ff00"}, {"name": "nucleus", "color": "#ff0000"}]})
    s = start_session(viewer, image, ontology=onto)
    s.select_class("nucleus")
    a = s.commit(disc(SHAPE, 10, 10, 5), region=(1,))
    _, dock = viewer.window.add_plugin_dock_widget("napari-samlabel", "Export annotations")
    assert {"semantic", "cvat-mask"} <= {dock.format_combo.itemText(i) for i in range(dock.format_combo.count())}
    dock.format_combo.setCurrentText("semantic")
    out = dock.export(str(tmp_path / "sem.png"))
    assert out == tmp_path and "Wrote" in dock.status.text()
    assert ((iio.imread(tmp_path / "sem_00001.png") == 2) == (s.labels.data[1] == a.id)).all()
    dock.format_combo.setCurrentText("cvat-mask")
    out = dock.export(str(tmp_path / "cvat"))
    cls = iio.imread(out / "SegmentationClass/frame_00001.png")
    assert ((cls == (255, 0, 0)).all(-1) == (s.labels.data[1] == a.id)).all()
