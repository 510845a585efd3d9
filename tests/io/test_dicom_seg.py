"""DICOM SEG over enhanced multi-frame sources, with segment colours and a content creator
(issue 10, item 6). Judges: dcmqi decodes the SEG (voxels compared in physical space through
SimpleITK), dciodvfy checks it, pydicom reads the attributes."""

import json
import subprocess

import numpy as np
import pytest

from dcmqi_helpers import dcmqi_decode
from dicom_helpers import sitk_series, write_dicom_series
from napari_samlabel.cli import main

sitk = pytest.importorskip("SimpleITK")
hd = pytest.importorskip("highdicom")
pydicom = pytest.importorskip("pydicom")

SHAPE = (6, 30, 40)
CLASSES = {"classes": [{"name": "liver", "color": "#dc143c"}, {"name": "nucleus", "color": "#3cb44b"}]}


def scanner_series(folder):
    """write_dicom_series, with what a scanner also writes (a valid frame of reference UID,
    ImageType), so the validators judge our SEG and not the test data."""
    from pydicom.uid import generate_uid

    write_dicom_series(folder, np.zeros(SHAPE, np.int16), spacing=(2.5, 0.7, 0.8), origin=(-50.0, -60.0, 100.0))
    frame_of_reference = generate_uid()
    files = sorted(folder.glob("*.dcm"))
    for f in files:
        ds = pydicom.dcmread(f)
        ds.FrameOfReferenceUID = frame_of_reference
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.PatientName, ds.ReferringPhysicianName = "Anon^", "Doctor^"
        ds.save_as(f)
    return files


@pytest.fixture
def enhanced(tmp_path):
    """One Legacy Converted Enhanced CT file made by highdicom from a shuffled series; its
    frames are stored top slice first. Truth: labels on the grid SimpleITK reads from the
    single-frame series (the same physical voxels)."""
    files = scanner_series(tmp_path / "ct")
    enh = hd.legacy.LegacyConvertedEnhancedCTImage(
        [pydicom.dcmread(f) for f in files], series_instance_uid=hd.UID(), series_number=2,
        sop_instance_uid=hd.UID(), instance_number=1,
    )  # fmt: skip
    enh.save_as(tmp_path / "enhanced.dcm")
    ref = sitk_series(tmp_path / "ct")
    truth = np.zeros(SHAPE, np.uint16)
    truth[0:2, 3:10, 5:15] = 1  # bottom slices: a reversed frame order shows
    truth[3:6, 18:27, 22:38] = 2
    img = sitk.GetImageFromArray(truth)
    img.CopyInformation(ref)
    np.save(tmp_path / "labels.npy", truth)
    (tmp_path / "classes.json").write_text(json.dumps(CLASSES))
    (tmp_path / "inst.csv").write_text("id,class\n1,liver\n2,nucleus\n")
    return tmp_path, img


def export_seg(tmp_path, reference, *extra, labels="labels.npy"):
    return main(["export", str(tmp_path / labels), "--ontology", str(tmp_path / "classes.json"), "--instances",
                 str(tmp_path / "inst.csv"), "--reference", str(reference), "--format", "dicom-seg",
                 "-o", str(tmp_path / "seg.dcm"), *extra])  # fmt: skip


def dice_in_physical_space(decoded, truth, values):
    want = sitk.GetArrayFromImage(truth)
    out = {}
    for name, (img, value) in decoded.items():
        got = sitk.GetArrayFromImage(sitk.Resample(img, truth, sitk.Transform(), sitk.sitkNearestNeighbor, 0)) == value
        w = want == values[name]
        out[name] = 2 * (got & w).sum() / (got.sum() + w.sum())
    return out


@pytest.mark.slow  # dcmqi, dciodvfy
def test_seg_over_an_enhanced_multiframe_ct_decodes_onto_the_truth(enhanced, monkeypatch):
    tmp_path, truth = enhanced
    monkeypatch.setenv("SAMLABEL_CREATOR", "Jane Doe")
    assert export_seg(tmp_path, tmp_path / "enhanced.dcm") == 0
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    source = pydicom.dcmread(tmp_path / "enhanced.dcm")
    # every SEG frame refers to the source frame at its own position
    src_pos = [list(map(float, g.PlanePositionSequence[0].ImagePositionPatient)) for g in source.PerFrameFunctionalGroupsSequence]
    for g in seg.PerFrameFunctionalGroupsSequence:
        ref = g.DerivationImageSequence[0].SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID
        frame = int(ref.ReferencedFrameNumber)
        assert list(map(float, g.PlanePositionSequence[0].ImagePositionPatient)) == pytest.approx(src_pos[frame - 1])
    decoded, meta, said = dcmqi_decode(tmp_path / "seg.dcm", tmp_path / "dcmqi")
    assert dice_in_physical_space(decoded, truth, {"liver": 1, "nucleus": 2}) == {"liver": 1.0, "nucleus": 1.0}
    # dcmqi no longer warns about a missing creator or colour, and shows the class colours
    assert "ContentCreatorName" not in said and "CIELab" not in said, said
    assert meta["ContentCreatorName"] == "Doe^Jane"
    rgb = {a["SegmentLabel"]: a["recommendedDisplayRGBValue"] for g in meta["segmentAttributes"] for a in g}
    assert rgb["liver"] == pytest.approx([0xDC, 0x14, 0x3C], abs=1) and rgb["nucleus"] == pytest.approx([0x3C, 0xB4, 0x4B], abs=1)
    errors = dciodvfy(tmp_path / "seg.dcm")
    assert errors == [], errors


def dciodvfy(path) -> list[str]:
    """dciodvfy's errors (its warnings are listed in the test that allows them)."""
    run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]


@pytest.mark.slow  # dcmqi
def test_seg_over_pydicoms_enhanced_ct_file(tmp_path):
    """pydicom's eCT_Supplemental.dcm: a real Enhanced CT Image Storage object (2 frames of
    512 x 512, positions in its per-frame functional groups). Truth on the grid pydicom's
    own attributes describe."""
    from pydicom.data import get_testdata_file

    path = get_testdata_file("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID.name == "Enhanced CT Image Storage" and int(ds.NumberOfFrames) == 2
    iop = np.array(ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    ipps = [np.array(g.PlanePositionSequence[0].ImagePositionPatient, float) for g in ds.PerFrameFunctionalGroupsSequence]
    first = min(ipps, key=lambda p: p @ normal)
    rows_cols = [float(v) for v in ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].PixelSpacing]
    truth = np.zeros((2, 512, 512), np.uint16)
    truth[0, 100:180, 300:420] = 1
    truth[1, 300:330, 40:90] = 1
    img = sitk.GetImageFromArray(truth)
    img.SetSpacing((rows_cols[1], rows_cols[0], abs((ipps[1] - ipps[0]) @ normal)))
    img.SetOrigin(tuple(first))
    img.SetDirection(tuple(np.column_stack([iop[:3], iop[3:], normal]).ravel()))
    np.save(tmp_path / "labels.npy", truth)
    (tmp_path / "classes.json").write_text(json.dumps(CLASSES))
    (tmp_path / "inst.csv").write_text("id,class\n1,liver\n")
    assert export_seg(tmp_path, path, "--creator", "Doe^John") == 0
    decoded, meta, said = dcmqi_decode(tmp_path / "seg.dcm", tmp_path / "dcmqi")
    assert dice_in_physical_space(decoded, img, {"liver": 1}) == {"liver": 1.0}
    assert meta["ContentCreatorName"] == "Doe^John"
    assert dciodvfy(tmp_path / "seg.dcm") == []


def test_segments_carry_colour_code_and_creator(tmp_path, monkeypatch):
    """Single-frame series: the class colour as RecommendedDisplayCIELabValue, SNOMED Liver
    for a class named liver (Tissue for a name DICOM has no term for), ContentCreatorName
    from the environment, else the login name."""
    files = scanner_series(tmp_path / "ct")
    labels = np.zeros(SHAPE, np.uint16)
    labels[1:3, 3:10, 5:15] = 1
    labels[4, 20:25, 20:30] = 2
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "classes.json").write_text(json.dumps(CLASSES))
    (tmp_path / "inst.csv").write_text("id,class\n1,liver\n2,nucleus\n")
    monkeypatch.delenv("SAMLABEL_CREATOR", raising=False)
    monkeypatch.setattr("getpass.getuser", lambda: "jdoe")
    assert export_seg(tmp_path, tmp_path / "ct") == 0
    seg = pydicom.dcmread(tmp_path / "seg.dcm")
    assert str(seg.ContentCreatorName) == "jdoe^"
    by_label = {s.SegmentLabel: s for s in seg.SegmentSequence}
    for name, colour in (("liver", (0xDC, 0x14, 0x3C)), ("nucleus", (0x3C, 0xB4, 0x4B))):
        lab = tuple(int(v) for v in by_label[name].RecommendedDisplayCIELabValue)
        assert hd.color.CIELabColor.from_dicom_value(lab).to_rgb() == pytest.approx(colour, abs=1)
    liver = by_label["liver"]
    assert (liver.SegmentedPropertyTypeCodeSequence[0].CodeValue, liver.SegmentedPropertyCategoryCodeSequence[0].CodeMeaning) == ("10200004", "Anatomical Structure")
    assert by_label["nucleus"].SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Tissue"
    uids = {pydicom.dcmread(f).SOPInstanceUID for f in files}
    assert {r.ReferencedSOPInstanceUID for s in seg.ReferencedSeriesSequence for r in s.ReferencedInstanceSequence} == uids


def test_seg_refuses_a_source_whose_frames_are_not_the_labels_slices(enhanced, classes):
    """Labels with one slice fewer than the enhanced source, or shifted off its frames: refused,
    the file named, nothing written."""
    from napari_samlabel.core import Annotation
    from napari_samlabel.io import read_image
    from napari_samlabel.io.exporting import export

    tmp_path, _ = enhanced
    data, meta = read_image(tmp_path / "enhanced.dcm")
    short = np.ones((5, 30, 40), np.uint32)
    ann = Annotation(short, classes, frame_axis=0)
    ann.sync_frames()
    with pytest.raises(ValueError, match="enhanced.dcm: labels have 5 slices, the source 6 frames"):
        export("dicom-seg", tmp_path / "seg.dcm", short, classes, ann.table, 0, meta)
    shifted = dict(meta, geometry=dict(meta["geometry"], origin=[-50.0, -60.0, 101.25]))  # half a slice
    full = np.ones(data.shape, np.uint32)
    with pytest.raises(ValueError, match="enhanced.dcm: frame 1 at .* lies on no slice of the labels' grid"):
        export("dicom-seg", tmp_path / "seg.dcm", full, classes, ann.table, 0, shifted)
    assert not (tmp_path / "seg.dcm").exists()


# -- DICOM SEG in (issue 23, item 6) --------------------------------------------------------
def _session_over(folder):
    """(labels shape, source meta, empty Annotation) over the series in ``folder``."""
    from napari_samlabel.core import Annotation, Ontology
    from napari_samlabel.io import read_image

    data, meta = read_image(folder)
    ann = Annotation(np.zeros(data.shape, np.uint32), Ontology.from_dict({"classes": []}), frame_axis=0)
    ann.sync_frames()
    return data.shape, meta, ann


def _liver_seg(path, shape, frame, meta):
    """Our DICOM SEG of one small 'liver' square on ``frame`` of the series ``meta`` describes."""
    from napari_samlabel.core import Annotation, Ontology
    from napari_samlabel.io.exporting import export

    labels = np.zeros(shape, np.uint32)
    labels[frame, 2:5, 2:5] = 1
    onto = Ontology.from_dict(CLASSES)
    src = Annotation(labels, onto, frame_axis=0)
    src.table.adopt(1, "liver")
    src.sync_frames()
    export("dicom-seg", path, labels, onto, src.table, 0, meta)


def _import(path, ann, meta):
    from napari_samlabel._napari.importing import apply_import
    from napari_samlabel.io.importing import read_labels

    return apply_import(ann, read_labels(path, ann.store.shape, 0, source_meta=meta))


def test_our_seg_imports_back_onto_its_series_with_classes_colours_and_codes(tmp_path, classes):
    """Export two classes as a DICOM SEG, import it into a fresh session of the same series:
    the same voxels, the same classes with their colours, and their codes (a class DICOM has no
    term for keeps the SEG's code, so a second export writes it back unchanged)."""
    from napari_samlabel.core import Annotation, Ontology
    from napari_samlabel.io.exporting import export

    scanner_series(tmp_path / "ct")
    shape, meta, fresh = _session_over(tmp_path / "ct")
    labels = np.zeros(shape, np.uint32)
    labels[0:2, 3:10, 5:15] = 1  # bottom slices: a frame-order import would put them on top
    labels[4, 20:25, 20:30] = 2
    onto = Ontology.from_dict(CLASSES)
    ann = Annotation(labels.copy(), onto, frame_axis=0)
    ann.table.adopt(1, "liver")
    ann.table.adopt(2, "nucleus")
    ann.sync_frames()
    export("dicom-seg", tmp_path / "seg.dcm", labels, onto, ann.table, 0, meta)
    report = _import(tmp_path / "seg.dcm", fresh, meta)
    got = np.asarray(fresh.store.read((slice(None),) * 3))
    assert {n: (got == i).sum() for n, i in (("liver", fresh.table.of_class("liver")[0].id),
                                            ("nucleus", fresh.table.of_class("nucleus")[0].id))} == {"liver": 140, "nucleus": 50}
    for name, i in (("liver", 1), ("nucleus", 2)):
        assert np.array_equal(got == fresh.table.of_class(name)[0].id, labels == i), name
    assert sorted(report.added_classes) == ["liver", "nucleus"]
    colours = {c.name: c.color for c in fresh.ontology}
    for name, want in (("liver", "#dc143c"), ("nucleus", "#3cb44b")):  # CIELab in the file: within one step
        assert np.abs(np.array(hd.color.CIELabColor.from_rgb(*[int(want[i:i + 2], 16) for i in (1, 3, 5)]).to_rgb())
                      - [int(colours[name][i:i + 2], 16) for i in (1, 3, 5)]).max() <= 1
    codes = fresh.ontology["liver"].extra["dicom_codes"]
    assert codes["type"] == {"value": "10200004", "scheme": "SCT", "meaning": "Liver"}
    assert codes["category"]["meaning"] == "Anatomical Structure"
    # the codes travel: a class renamed after import still exports its SEG's Liver code
    fresh.ontology.rename("liver", "organ A")
    export("dicom-seg", tmp_path / "again.dcm", np.asarray(fresh.store.read((slice(None),) * 3)), fresh.ontology,
           fresh.table, 0, meta)  # fmt: skip
    again = {s.SegmentLabel: s for s in pydicom.dcmread(tmp_path / "again.dcm").SegmentSequence}
    assert again["organ A"].SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Liver"


def test_a_seg_written_by_highdicom_imports_by_referenced_instance(tmp_path):
    """highdicom's own SEG (frames given in reversed slice order, only non-empty frames kept,
    a code of its own): each frame lands on the slice of the instance it references."""
    from pydicom.sr.codedict import codes

    files = scanner_series(tmp_path / "ct")
    sources = sorted((pydicom.dcmread(f) for f in files), key=lambda ds: -float(ds.ImagePositionPatient[2]))
    shape, meta, ann = _session_over(tmp_path / "ct")
    mask = np.zeros((len(sources), *shape[1:]), np.uint8)
    mask[0, 2:6, 3:9] = 1  # the top slice (highest z)
    desc = hd.seg.SegmentDescription(
        segment_number=1, segment_label="tumour", segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        display_color=hd.color.CIELabColor.from_rgb(0, 0, 255),
    )  # fmt: skip
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=mask, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[desc], series_instance_uid=hd.UID(), series_number=5, sop_instance_uid=hd.UID(),
        instance_number=1, manufacturer="x", manufacturer_model_name="x", software_versions="1", device_serial_number="1",
    )  # fmt: skip
    seg.save_as(tmp_path / "hd.dcm")
    report = _import(tmp_path / "hd.dcm", ann, meta)
    got = np.asarray(ann.store.read((slice(None),) * 3))
    assert report.classes == ["tumour"] and ann.ontology["tumour"].color == "#0000ff"
    assert (got != 0).sum() == 24 and (got[-1] != 0).sum() == 24  # the highest slice of a z-up grid
    assert ann.ontology["tumour"].extra["dicom_codes"]["type"]["meaning"] == "Neoplasm"
    assert ann.table[report.instances[0]].source == "manual"


def test_a_seg_of_another_series_is_refused_naming_both_series(tmp_path):
    from napari_samlabel.io.importing import LabelImportError

    scanner_series(tmp_path / "ct")
    write_dicom_series(tmp_path / "other", np.zeros(SHAPE, np.int16))
    _, meta, _ = _session_over(tmp_path / "ct")
    _, other_meta, ann = _session_over(tmp_path / "other")
    _liver_seg(tmp_path / "seg.dcm", SHAPE, 1, meta)
    with pytest.raises(LabelImportError, match=rf"seg.dcm: segments series {meta['series_uid']}; the image open here is series {other_meta['series_uid']}"):
        _import(tmp_path / "seg.dcm", ann, other_meta)
    assert not np.asarray(ann.store.read((slice(None),) * 3)).any() and len(ann.ontology) == 0


def test_a_semantic_nifti_export_imports_back_with_its_classes_file(tmp_path):
    """NIfTI labels with their classes file: the semantic export over nibabel's anatomical.nii
    (mask.nii.gz and mask_classes.csv: index, name, color, kind) imports back into a fresh
    session with the same voxels per class, colours and kinds, the table found by its name."""
    import nibabel as nib
    from nibabel.testing import data_path

    from napari_samlabel.core import Annotation, Ontology
    from napari_samlabel.io import read_image
    from napari_samlabel.io.exporting import export

    data, meta = read_image(f"{data_path}/anatomical.nii")
    labels = np.zeros(data.shape, np.uint32)
    labels[5:9, 10:20, 8:16] = 1
    labels[12:14, 3:7, 20:30] = 2
    onto = Ontology.from_dict({"classes": [{"name": "liver", "color": "#dc143c"},
                                           {"name": "fat", "color": "#3cb44b", "kind": "stuff"}]})  # fmt: skip
    ann = Annotation(labels.copy(), onto, frame_axis=0)
    ann.table.adopt(1, "liver")
    ann.table.adopt(2, "fat", stuff=True)
    ann.sync_frames()
    export("semantic", tmp_path / "mask.nii.gz", labels, onto, ann.table, 0, meta)
    assert (tmp_path / "mask_classes.csv").exists()
    # nibabel sees the class indices on the image's own grid
    assert np.allclose(nib.load(tmp_path / "mask.nii.gz").affine, nib.load(f"{data_path}/anatomical.nii").affine)
    fresh = Annotation(np.zeros(data.shape, np.uint32), Ontology.from_dict({"classes": []}), frame_axis=0)
    fresh.sync_frames()
    report = _import(tmp_path / "mask.nii.gz", fresh, meta)
    got = np.asarray(fresh.store.read((slice(None),) * 3))
    assert report.classes == ["fat", "liver"]
    for name, i in (("liver", 1), ("fat", 2)):
        assert np.array_equal(np.isin(got, [r.id for r in fresh.table.of_class(name)]), labels == i), name
        assert (fresh.ontology[name].color, fresh.ontology[name].kind) == (onto[name].color, onto[name].kind)


@pytest.mark.slow  # dcmqi
def test_a_seg_written_by_dcmqi_imports_onto_the_truth(tmp_path):
    """dcmqi's itkimage2segimage encodes a label map made on SimpleITK's grid of the series
    (two segments, its own codes and colours); imported, each voxel is where SimpleITK had it."""
    scanner_series(tmp_path / "ct")
    ref = sitk_series(tmp_path / "ct")
    truth = np.zeros(SHAPE, np.uint16)
    truth[0:2, 3:10, 5:15] = 1
    truth[3:6, 18:27, 22:38] = 2
    img = sitk.GetImageFromArray(truth)
    img.CopyInformation(ref)
    sitk.WriteImage(img, str(tmp_path / "labels.nrrd"))

    def attrs(label_id, label, code, meaning, rgb):
        return {"labelID": label_id, "SegmentLabel": label, "SegmentAlgorithmType": "MANUAL",
                 "SegmentedPropertyCategoryCodeSequence": {"CodeValue": "123037004", "CodingSchemeDesignator": "SCT",
                                                           "CodeMeaning": "Anatomical Structure"},
                 "SegmentedPropertyTypeCodeSequence": {"CodeValue": code, "CodingSchemeDesignator": "SCT",
                                                       "CodeMeaning": meaning},
                 "recommendedDisplayRGBValue": rgb}  # fmt: skip

    meta_json = {"ContentCreatorName": "Reader^One", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
                 "SeriesDescription": "dcmqi", "SeriesNumber": "300", "InstanceNumber": "1",
                 "segmentAttributes": [[attrs(1, "liver", "10200004", "Liver", [220, 20, 60]),
                                        attrs(2, "spleen", "78961009", "Spleen", [60, 180, 75])]]}  # fmt: skip
    (tmp_path / "meta.json").write_text(json.dumps(meta_json))
    run = subprocess.run(["itkimage2segimage", "--inputImageList", str(tmp_path / "labels.nrrd"), "--inputDICOMDirectory",
                          str(tmp_path / "ct"), "--outputDICOM", str(tmp_path / "dcmqi.dcm"), "--inputMetadata",
                          str(tmp_path / "meta.json")], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    _, meta, ann = _session_over(tmp_path / "ct")
    report = _import(tmp_path / "dcmqi.dcm", ann, meta)
    got = np.asarray(ann.store.read((slice(None),) * 3))
    assert report.classes == ["liver", "spleen"]
    for name, value in (("liver", 1), ("spleen", 2)):
        assert np.array_equal(np.isin(got, [r.id for r in ann.table.of_class(name)]), truth == value), name
        assert ann.ontology[name].extra["dicom_codes"]["type"]["meaning"] == name.title()
    spleen = ann.ontology["spleen"].color  # dcmqi stores CIELab: within one step of its RGB
    assert [int(spleen[i : i + 2], 16) for i in (1, 3, 5)] == pytest.approx([60, 180, 75], abs=1)


def test_a_seg_frame_placed_off_the_image_it_references_is_refused(tmp_path):
    """A SEG frame whose position is not that of the source image it names (an edited or
    broken file): refused naming the frame and both positions; nothing changes."""
    from napari_samlabel.io.importing import LabelImportError

    scanner_series(tmp_path / "ct")
    shape, meta, ann = _session_over(tmp_path / "ct")
    _liver_seg(tmp_path / "seg.dcm", shape, 2, meta)
    ds = pydicom.dcmread(tmp_path / "seg.dcm")
    ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient[2] += 1.25
    ds.save_as(tmp_path / "moved.dcm")
    with pytest.raises(LabelImportError, match=r"moved.dcm: frame 1 lies at .* mm, the image it references at .* mm"):
        _import(tmp_path / "moved.dcm", ann, meta)
    assert not np.asarray(ann.store.read((slice(None),) * 3)).any() and len(ann.ontology) == 0
