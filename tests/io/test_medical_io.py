"""Medical volumes in, labels out: files written by other tools, read back by other tools."""

import json
import os

import numpy as np
import pytest

from dicom_helpers import sitk_series, write_dicom_series
from napari_samlabel._reader import napari_get_reader
from napari_samlabel.core import Annotation
from napari_samlabel.io import ImageReadError, read_image, write_labels
from napari_samlabel.io.dicom import read_dicom
from napari_samlabel.synthetic import blobs_volume

sitk = pytest.importorskip("SimpleITK")


def pydicom_file(name):
    from pydicom.data import get_testdata_file

    return get_testdata_file(name)


def nibabel_file(name):
    import nibabel

    return os.path.join(os.path.dirname(nibabel.__file__), "tests", "data", name)


@pytest.fixture
def ct_series(tmp_path):
    vol = np.round(blobs_volume((12, 40, 48), seed=3, n=3)[0] * 1000).astype(np.int16)
    write_dicom_series(tmp_path / "ct", vol, spacing=(2.5, 0.7, 0.8), origin=(-50.0, -60.0, 100.0), window=(40, 400))
    return tmp_path / "ct", vol


# -- DICOM ----------------------------------------------------------------------------------
def test_pydicom_test_files_read_in_hounsfield_units():
    import pydicom

    path = pydicom_file("CT_small.dcm")
    ds = pydicom.dcmread(path)
    (data, kw, kind), = napari_get_reader(path)(path)
    expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert kind == "image" and data.shape == (1, 128, 128) and (data[0] == expected).all()
    assert kw["scale"][1:] == pytest.approx([float(v) for v in ds.PixelSpacing])
    (mr, _, _), = napari_get_reader(pydicom_file("MR_small.dcm"))(pydicom_file("MR_small.dcm"))
    assert mr.shape == (1, 64, 64)


def test_multiframe_file_reads_as_a_volume():
    import pydicom

    path = pydicom_file("rtdose.dcm")  # 15 frames, positions from GridFrameOffsetVector
    ds = pydicom.dcmread(path)
    data, meta = read_image(path)
    assert data.shape == (15, 10, 10)
    offsets = np.array([float(v) for v in ds.GridFrameOffsetVector])
    assert meta["spacing"][0] == pytest.approx(abs(np.median(np.diff(offsets))))


def test_truncated_and_compressed_files_get_clear_messages(tmp_path):
    src = open(pydicom_file("CT_small.dcm"), "rb").read()
    bad = tmp_path / "truncated.dcm"
    bad.write_bytes(src[: len(src) // 2])
    with pytest.raises(ImageReadError, match="truncated.dcm"):
        read_dicom(bad)
    with pytest.raises(ImageReadError, match="MR_truncated.dcm: pixel data cannot be read"):
        read_dicom(pydicom_file("MR_truncated.dcm"))
    jp2 = pydicom_file("MR_small_jp2klossless.dcm")
    try:
        data, _ = read_image(jp2)
    except ImageReadError as e:
        assert "MR_small_jp2klossless.dcm" in str(e) and "pip install" in str(e)
    else:
        assert data.shape == (1, 64, 64)  # a decoder is installed


def test_series_from_shuffled_files_matches_simpleitk(ct_series):
    folder, vol = ct_series
    (data, kw, _), = napari_get_reader(str(folder))(str(folder))
    assert (data == vol).all()  # slice order and rescale
    ref = sitk_series(folder)
    assert (sitk.GetArrayFromImage(ref) == vol).all()
    assert kw["scale"] == pytest.approx(ref.GetSpacing()[::-1])
    assert kw["translate"] == pytest.approx(ref.GetOrigin()[::-1])
    assert kw["contrast_limits"] == (-160, 240)


def test_bad_series_are_named(tmp_path):
    vol = np.zeros((5, 16, 16))
    write_dicom_series(tmp_path / "gap", vol, positions=[0, 2, 4, 8, 10])
    with pytest.raises(ImageReadError, match="1 slice\\(s\\) missing between 4.00 and 8.00 mm"):
        read_dicom(tmp_path / "gap")
    write_dicom_series(tmp_path / "uneven", vol, positions=[0, 2, 4, 5, 7])
    with pytest.raises(ImageReadError, match="unevenly spaced"):
        read_dicom(tmp_path / "uneven")
    write_dicom_series(tmp_path / "mixed", [np.zeros((16, 16)), np.zeros((16, 18)), np.zeros((16, 16))])
    with pytest.raises(ImageReadError, match="mixes image sizes"):
        read_dicom(tmp_path / "mixed")


def test_folder_with_two_series_opens_one_layer_each(tmp_path):
    write_dicom_series(tmp_path / "study", np.zeros((4, 16, 16)), description="arterial")
    write_dicom_series(tmp_path / "study", np.ones((6, 16, 16)), description="venous")
    layers = napari_get_reader(str(tmp_path / "study"))(str(tmp_path / "study"))
    assert sorted(kw["name"] for _, kw, _ in layers) == ["CT arterial", "CT venous"]
    assert sorted(d.shape[0] for d, _, _ in layers) == [4, 6]


def test_reader_sniffs_and_declines(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").mkdir()
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None
    assert napari_get_reader(str(tmp_path / "empty")) is None
    assert napari_get_reader(str(tmp_path / "missing.dcm")) is None


# -- NIfTI ---------------------------------------------------------------------------------
def test_nibabel_test_images_and_labels_written_back(tmp_path):
    import nibabel as nib

    path = nibabel_file("anatomical.nii")
    (data, kw, _), = napari_get_reader(path)(path)
    img = nib.load(path)
    assert data.shape == img.shape[::-1]
    assert kw["scale"] == pytest.approx(img.header.get_zooms()[::-1])
    labels = (data > np.percentile(data, 90)).astype(np.uint16)
    out = write_labels(tmp_path / "lab.nii.gz", labels, kw["metadata"])
    back = nib.load(out)
    # written in the file's own voxel order and affine (nnU-Net checks both), whatever order napari shows
    np.testing.assert_allclose(back.affine, img.affine)
    truth = np.asanyarray(img.dataobj) > np.percentile(np.asanyarray(img.dataobj), 90)
    assert (np.asanyarray(back.dataobj) == truth).all()
    assert (read_image(out)[0] == labels).all()
    a, b = sitk.ReadImage(path), sitk.ReadImage(str(out))
    assert a.GetOrigin() == pytest.approx(b.GetOrigin()) and a.GetSpacing() == pytest.approx(b.GetSpacing())
    assert a.GetDirection() == pytest.approx(b.GetDirection())
    data4, _ = read_image(nibabel_file("example4d.nii.gz"))
    assert data4.ndim == 4 and data4.shape == nib.load(nibabel_file("example4d.nii.gz")).shape[::-1]


def test_labels_over_dicom_overlay_exactly_in_simpleitk(ct_series, tmp_path):
    folder, vol = ct_series
    data, meta = read_image(folder)
    labels = (data > 300).astype(np.uint16)
    out = write_labels(tmp_path / "seg.nii.gz", labels, meta)
    ref, seg = sitk_series(folder), sitk.ReadImage(str(out))
    assert seg.GetSize() == ref.GetSize()
    assert seg.GetOrigin() == pytest.approx(ref.GetOrigin(), abs=1e-4)
    assert seg.GetSpacing() == pytest.approx(ref.GetSpacing(), abs=1e-4)
    assert seg.GetDirection() == pytest.approx(ref.GetDirection(), abs=1e-6)
    assert (sitk.GetArrayFromImage(seg) == labels).all()


# -- exports ---------------------------------------------------------------------------------
@pytest.fixture
def annotated(classes):
    labels = np.zeros((3, 30, 40), np.uint32)
    ann = Annotation(labels, classes, frame_axis=0)
    a = ann.new_instance("nucleus")
    ann.write_mask(np.pad(np.ones((6, 8), bool), ((4, 20), (5, 27))), a.id, (0,), confidence=0.8, source="model")
    ann.copy_to_frames(a.id, 0, range(0, 2))
    b = ann.new_instance("cell")
    ann.write_mask(np.pad(np.ones((5, 5), bool), ((20, 5), (30, 5))), b.id, (2,))
    bg = ann.new_instance("background")
    ann.write_mask(np.pad(np.ones((3, 40), bool), ((27, 0), (0, 0))), bg.id, (1,))
    return ann


def test_coco_loads_in_pycocotools_and_decodes_to_the_same_masks(annotated, tmp_path):
    from pycocotools.coco import COCO

    from napari_samlabel.io.exporting import export

    ann = annotated
    for polygons in (False, True):
        path = export("coco", tmp_path / f"coco_{polygons}.json", ann.store.data, ann.ontology, ann.table, 0, polygons=polygons)
        coco = COCO(str(path))
        assert len(coco.getImgIds()) == 3
        assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["nucleus", "cell", "background"]
        for a in coco.loadAnns(coco.getAnnIds()):
            frame = coco.imgs[a["image_id"]]["frame"]
            want = ann.store.data[frame] == a["instance_id"]
            got = coco.annToMask(a).astype(bool)
            agreement = 2 * (got & want).sum() / (got.sum() + want.sum())
            assert agreement == 1.0 if not polygons else agreement > 0.85
    assert json.loads(path.read_text())["categories"][2]["isthing"] == 0


def test_coco_panoptic_pngs_hold_segment_ids(annotated, tmp_path):
    from PIL import Image

    from napari_samlabel.io.exporting import export

    ann = annotated
    path = export("coco-panoptic", tmp_path / "pan", ann.store.data, ann.ontology, ann.table, 0)
    data = json.loads(path.read_text())
    png = np.asarray(Image.open(tmp_path / "pan" / "panoptic" / data["annotations"][1]["file_name"])).astype(np.int64)
    ids = png[..., 0] + 256 * png[..., 1] + 65536 * png[..., 2]
    assert (ids == ann.store.data[1]).all()
    seg = {s["id"]: s for s in data["annotations"][1]["segments_info"]}
    assert {c["id"]: c["isthing"] for c in data["categories"]}[seg[3]["category_id"]] == 0


def test_cell_tracking_challenge_splits_gaps_with_parents(tmp_path):
    import tifffile

    from napari_samlabel.io.ctc import write_ctc

    labels = np.zeros((5, 10, 10), np.uint32)
    labels[0:2, 1:3, 1:3] = 4
    labels[3:5, 1:3, 1:3] = 4  # a gap at frame 2
    labels[1:5, 6:8, 6:8] = 9
    out = write_ctc(tmp_path / "RES", labels)
    rows = [tuple(map(int, line.split())) for line in (out / "res_track.txt").read_text().splitlines()]
    assert rows == [(4, 0, 1, 0), (10, 3, 4, 4), (9, 1, 4, 0)]
    assert tifffile.imread(out / "mask003.tif")[1, 1] == 10 and tifffile.imread(out / "mask000.tif").dtype == np.uint16


def test_csv_with_volumes(annotated, tmp_path):
    import csv

    from napari_samlabel.io.exporting import export

    ann = annotated
    path = export("csv", tmp_path / "inst.csv", ann.store.data, ann.ontology, ann.table, 0, {"spacing": (2.0, 0.5, 0.5)})
    rows = {int(r["id"]): r for r in csv.DictReader(open(path))}
    assert rows[1]["class"] == "nucleus" and int(rows[1]["voxels"]) == 96 and float(rows[1]["volume_mm3"]) == 48.0
    assert (rows[1]["first_frame"], rows[1]["last_frame"], rows[1]["source"]) == ("0", "1", "model")


def test_dicom_seg_references_the_series(ct_series, tmp_path, classes):
    hd = pytest.importorskip("highdicom")
    folder, vol = ct_series
    data, meta = read_image(folder)
    labels = np.zeros(data.shape, np.uint32)
    ann = Annotation(labels, classes, frame_axis=0)
    rec = ann.new_instance("nucleus")
    ann.write_mask(data > 300, rec.id)
    from napari_samlabel.io.exporting import export

    out = export("dicom-seg", tmp_path / "seg.dcm", labels, classes, ann.table, 0, meta)
    seg = hd.seg.segread(out)
    assert seg.number_of_segments == 1 and seg.get_segment_description(1).segment_label == "nucleus"
    import pydicom

    uids = {pydicom.dcmread(f).SOPInstanceUID for f in meta["files"]}
    referenced = {r.ReferencedSOPInstanceUID for s in seg.ReferencedSeriesSequence for r in s.ReferencedInstanceSequence}
    assert referenced == uids
    volume = seg.get_volume(combine_segments=True).array if hasattr(seg, "get_volume") else None
    if volume is not None:
        assert volume.sum() == (labels > 0).sum()


def test_shapes_round_trip(annotated):
    from napari_samlabel.io.shapes import instance_shapes, shape_mask

    ann = annotated
    shapes, feats = instance_shapes(ann.store.data, ann.table, 0, "polygon")
    assert len(shapes) == len(feats["instance_id"]) == 4 and shapes[0].shape[1] == 3
    i = feats["instance_id"].index(1)
    mask = shape_mask(shapes[i][:, 1:], "polygon", (30, 40))
    want = ann.store.data[int(shapes[i][0, 0])] == 1
    assert (mask == want).all()  # the outline runs along the pixel edges, in napari's coordinates
    boxes, _ = instance_shapes(ann.store.data, ann.table, 0, "rectangle")
    assert (shape_mask(boxes[i][:, 1:], "rectangle", (30, 40)) == want).all()


# -- projects ---------------------------------------------------------------------------------
def test_project_save_is_atomic_and_reopens_everything(annotated, tmp_path):
    from napari_samlabel.io.project import load_project, save_project

    ann = annotated
    ann.set_locked([2])
    folder = save_project(tmp_path / "proj", ann.store.data, ann.ontology, ann.table, {"frame_axis": 0})
    save_project(folder, ann.store.data, ann.ontology, ann.table, {"frame_axis": 0})  # over an old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
    labels, onto, table, meta = load_project(folder)
    assert (labels == ann.store.data).all() and onto.to_dict() == ann.ontology.to_dict()
    assert table[1].frame_scores == ann.table[1].frame_scores and table[2].locked and table[1].frames == {0, 1}
    assert table.next_id == ann.table.next_id and meta["frame_axis"] == 0
    folder.rename(tmp_path / "proj.old")  # a crash between the two renames of a save
    assert (load_project(tmp_path / "proj")[0] == ann.store.data).all()
