"""`samlabel export --reference`: labels stored in another voxel order land on the reference's
voxels (issue 10, item 5). Truth lives in physical space: a SimpleITK image on the grid
SimpleITK reads from the DICOM series; outputs are judged by SimpleITK, nibabel and dcmqi."""

import csv
import json

import numpy as np
import pytest

from dcmqi_helpers import dcmqi_decode
from dicom_helpers import sitk_series, write_dicom_series
from napari_samlabel.cli import main

sitk = pytest.importorskip("SimpleITK")
nib = pytest.importorskip("nibabel")

SHAPE = (8, 30, 40)  # z, y, x: no two axes alike, so a wrong permutation cannot pass


@pytest.fixture
def ct(tmp_path):
    """A CT series (shuffled files), the reference image SimpleITK reads from it, and truth
    labels on that image's grid: two asymmetric blocks, so any flip or transpose shows."""
    write_dicom_series(tmp_path / "ct", np.zeros(SHAPE, np.int16), spacing=(2.5, 0.7, 0.8), origin=(-50.0, -60.0, 100.0))
    ref = sitk_series(tmp_path / "ct")
    truth = np.zeros(SHAPE, np.uint16)
    truth[1:4, 3:10, 5:15] = 1
    truth[4:7, 18:27, 22:38] = 2
    truth[6, 2, 1] = 2  # one voxel near a corner
    img = sitk.GetImageFromArray(truth)
    img.CopyInformation(ref)
    (tmp_path / "classes.json").write_text(json.dumps({"classes": [
        {"name": "liver", "color": "#dc143c"}, {"name": "kidney", "color": "#3cb44b"}]}))  # fmt: skip
    (tmp_path / "inst.csv").write_text("id,class\n1,liver\n2,kidney\n")
    return tmp_path, ref, img


def ras_by_nibabel(img, path):
    """The truth as nibabel's canonical RAS file (as_closest_canonical flips x and y)."""
    sitk.WriteImage(img, str(path.with_name("lps.nii.gz")))
    ras = nib.as_closest_canonical(nib.load(path.with_name("lps.nii.gz")))
    nib.save(ras, str(path))
    return path


def oriented_by_sitk(code):
    def write(img, path):
        sitk.WriteImage(sitk.DICOMOrient(img, code), str(path))
        return path

    return write


def export(tmp_path, labels, fmt, out, capsys, *extra):
    rc = main(["export", str(labels), "--ontology", str(tmp_path / "classes.json"), "--instances",
               str(tmp_path / "inst.csv"), "--reference", str(tmp_path / "ct"), "--format", fmt, "-o", str(out), *extra])  # fmt: skip
    said = capsys.readouterr()
    return rc, said.out, said.err


def same_grid(a, b):
    assert a.GetSize() == b.GetSize()
    assert a.GetOrigin() == pytest.approx(b.GetOrigin(), abs=1e-3)
    assert a.GetSpacing() == pytest.approx(b.GetSpacing(), abs=1e-4)
    assert a.GetDirection() == pytest.approx(b.GetDirection(), abs=1e-6)


@pytest.mark.parametrize(
    "write, stored",
    [(ras_by_nibabel, "RAS"), (oriented_by_sitk("RAS"), "RAS"), (oriented_by_sitk("SAR"), "SAR"),
     (oriented_by_sitk("LPI"), "LPI")],  # fmt: skip
    ids=["nibabel-RAS", "sitk-RAS", "sitk-SAR-permuted", "sitk-LPI-z-flipped"],
)
def test_labels_stored_in_another_voxel_order_export_onto_the_reference_nifti(ct, capsys, write, stored):
    tmp_path, ref, truth = ct
    labels = write(truth, tmp_path / "labels.nii.gz")
    assert "".join(nib.aff2axcodes(nib.load(labels).affine)) == stored  # really stored that way
    rc, out, err = export(tmp_path, labels, "nifti", tmp_path / "out.nii.gz", capsys)
    assert rc == 0, err
    assert f"labels were stored {stored}, reoriented exactly to the reference's LPS grid" in out
    got = sitk.ReadImage(str(tmp_path / "out.nii.gz"))
    same_grid(got, ref)  # the reference's grid, written with the reference's geometry
    assert (sitk.GetArrayFromImage(got) == sitk.GetArrayFromImage(truth)).all()  # voxel for voxel
    back = nib.load(tmp_path / "out.nii.gz")  # nibabel agrees: LPS storage, the reference's affine
    assert "".join(nib.aff2axcodes(back.affine)) == "LPS"
    assert (np.asanyarray(back.dataobj).transpose(2, 1, 0) == sitk.GetArrayFromImage(truth)).all()


@pytest.mark.parametrize(
    "write", [ras_by_nibabel, oriented_by_sitk("SAR"), oriented_by_sitk("LPI")],
    ids=["nibabel-RAS", "sitk-SAR-permuted", "sitk-LPI-z-flipped"],
)
def test_labels_file_in_another_voxel_order_lies_on_the_series_in_napari(ct, write):
    """Opened beside the series, a RAS (or permuted, or z-flipped) labels file shows each label
    on its own voxel of the CT at the same world point, and napari's axes show the image the
    radiological way (patient's right on the left of the screen, anterior at the top)."""
    from napari.layers import Layer

    from napari_samlabel._reader import napari_get_reader

    tmp_path, _, truth = ct
    path = str(write(truth, tmp_path / "labels.nii.gz"))
    image = Layer.create(*napari_get_reader(str(tmp_path / "ct"))(str(tmp_path / "ct"))[0])
    labels = Layer.create(*napari_get_reader(path)(path)[0])
    truth_zyx = sitk.GetArrayFromImage(truth)
    voxels = np.argwhere(truth_zyx > 0)[:: 37]
    for k, j, i in voxels:
        world = image.data_to_world((k, j, i))
        back = np.round(labels.world_to_data(world)).astype(int)
        assert labels.data[tuple(back)] == truth_zyx[k, j, i]
    assert (np.asarray(labels.data) == truth_zyx).all()  # the same voxel order as the series


def test_csv_frames_follow_labels_flipped_along_the_slices(ct, capsys):
    """Stored bottom-up (z flipped): the CSV's first and last slice are the reference's."""
    tmp_path, _, truth = ct
    labels = oriented_by_sitk("LPI")(truth, tmp_path / "labels.nii.gz")
    rc, out, err = export(tmp_path, labels, "csv", tmp_path / "inst_out.csv", capsys)
    assert rc == 0, err
    rows = {int(r["id"]): r for r in csv.DictReader(open(tmp_path / "inst_out.csv"))}
    assert (rows[1]["first_frame"], rows[1]["last_frame"]) == ("1", "3")
    assert (rows[2]["first_frame"], rows[2]["last_frame"]) == ("4", "6")
    assert float(rows[1]["volume_mm3"]) == pytest.approx(3 * 7 * 10 * 2.5 * 0.7 * 0.8, rel=1e-3)


def dice_per_segment(decoded: dict, truth) -> dict:
    """Each decoded segment resampled into the truth's physical space (identity transform,
    nearest neighbour): grids are compared through their geometry, never as raw arrays."""
    out = {}
    want = sitk.GetArrayFromImage(truth)
    for name, (img, value) in decoded.items():
        on_truth = sitk.Resample(img, truth, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        got = sitk.GetArrayFromImage(on_truth) == value
        w = want == {"liver": 1, "kidney": 2}[name]
        out[name] = 2 * (got & w).sum() / (got.sum() + w.sum())
    return out


@pytest.mark.slow  # dcmqi
@pytest.mark.parametrize("write", [ras_by_nibabel, oriented_by_sitk("SAR")], ids=["nibabel-RAS", "sitk-SAR"])
def test_ras_labels_to_dicom_seg_decoded_by_dcmqi_land_on_the_truth(ct, capsys, write):
    tmp_path, _, truth = ct
    labels = write(truth, tmp_path / "labels.nii.gz")
    rc, out, err = export(tmp_path, labels, "dicom-seg", tmp_path / "seg.dcm", capsys)
    assert rc == 0, err
    assert "reoriented exactly to the reference's LPS grid" in out
    decoded, _, _ = dcmqi_decode(tmp_path / "seg.dcm", tmp_path / "dcmqi")
    assert sorted(decoded) == ["kidney", "liver"]
    assert dice_per_segment(decoded, truth) == {"liver": 1.0, "kidney": 1.0}


def test_another_grid_over_the_same_region_is_resampled_and_said(ct, capsys):
    """Labels on a 2x coarser in-plane grid covering the same field of view (as a pipeline
    that resamples to its own spacing writes them)."""
    tmp_path, ref, truth = ct
    coarse = sitk.Image([20, 15, 8], sitk.sitkUInt16)
    coarse.SetSpacing((1.6, 1.4, 2.5))
    coarse.SetDirection(ref.GetDirection())
    # outer voxel edges coincide with the reference's: origin moves by half a fine voxel
    coarse.SetOrigin((ref.GetOrigin()[0] + 0.4, ref.GetOrigin()[1] + 0.35, ref.GetOrigin()[2]))
    down = sitk.Resample(truth, coarse, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    sitk.WriteImage(sitk.DICOMOrient(down, "RAS"), str(tmp_path / "coarse.nii.gz"))
    rc, out, err = export(tmp_path, tmp_path / "coarse.nii.gz", "nifti", tmp_path / "out.nii.gz", capsys)
    assert rc == 0, err
    assert "resampled to the reference's with nearest neighbour" in out
    assert "20 x 15 x 8 voxels of 1.6 x 1.4 x 2.5 mm" in out and "40 x 30 x 8 voxels of 0.8 x 0.7 x 2.5 mm" in out
    got = sitk.ReadImage(str(tmp_path / "out.nii.gz"))
    same_grid(got, ref)
    # judge: SimpleITK's own nearest-neighbour resampling of the coarse labels onto the reference
    want = sitk.GetArrayFromImage(sitk.Resample(down, ref, sitk.Transform(), sitk.sitkNearestNeighbor, 0))
    assert (sitk.GetArrayFromImage(got) == want).mean() > 0.995
    t = sitk.GetArrayFromImage(truth)
    for k in (1, 2):
        g = sitk.GetArrayFromImage(got) == k
        assert 2 * (g & (t == k)).sum() / (g.sum() + (t == k).sum()) > 0.8  # not mirrored


def test_labels_over_another_region_are_refused_with_both_geometries(ct, capsys):
    tmp_path, ref, truth = ct
    moved = sitk.Image(truth)
    moved.SetOrigin((ref.GetOrigin()[0] + 30.0, ref.GetOrigin()[1], ref.GetOrigin()[2]))  # 30 mm to the left
    sitk.WriteImage(sitk.DICOMOrient(moved, "RAS"), str(tmp_path / "moved.nii.gz"))
    for fmt, out in (("nifti", "out.nii.gz"), ("dicom-seg", "seg.dcm"), ("csv", "out.csv")):
        rc, said, err = export(tmp_path, tmp_path / "moved.nii.gz", fmt, tmp_path / out, capsys)
        assert rc == 2 and not (tmp_path / out).exists()
        assert "do not cover the same region" in err
        # the reader puts the RAS file in LPS order (as the series): first voxel 30 mm left of the series'
        assert "labels: 40 x 30 x 8 voxels of 0.8 x 0.7 x 2.5 mm, first voxel at (-20.00, -60.00, 100.00) mm LPS, axes LPS" in err
        assert "reference: 40 x 30 x 8 voxels of 0.8 x 0.7 x 2.5 mm, first voxel at (-50.00, -60.00, 100.00) mm LPS, axes LPS" in err


def test_label_array_without_geometry_must_have_the_reference_shape(ct, capsys):
    tmp_path, _, truth = ct
    np.save(tmp_path / "flat.npy", sitk.GetArrayFromImage(truth)[:, :, :20])
    rc, _, err = export(tmp_path, tmp_path / "flat.npy", "nifti", tmp_path / "out.nii.gz", capsys)
    assert rc == 2 and "labels carry no geometry and the shapes differ" in err and "(8, 30, 20)" in err


def test_match_grid_is_exact_or_says_why():
    from napari_samlabel.io.geometry import GeometryMismatch, match_grid

    lps = np.diag([-0.8, -0.7, 2.5, 1.0])[:, [2, 1, 0, 3]]  # (z, y, x) index -> RAS: x, y point L, P
    lps[:3, 3] = (50.0, 60.0, 100.0)
    assert match_grid(lps, SHAPE, lps, SHAPE).kind == "same"
    # the same voxels stored RAS: x and y reversed, first voxel at the other corner
    ras = lps.copy()
    ras[:3, 1:3] *= -1
    ras[:3, 3] = lps[:3, :3] @ [0, SHAPE[1] - 1, SHAPE[2] - 1] + lps[:3, 3]
    m = match_grid(ras, SHAPE, lps, SHAPE)
    labels = np.arange(np.prod(SHAPE)).reshape(SHAPE)
    assert m.kind == "reoriented" and (m.apply(labels) == labels[:, ::-1, ::-1]).all()
    four_d = np.stack([labels, labels + 1])  # a time axis in front is kept
    assert (m.apply(four_d) == four_d[:, :, ::-1, ::-1]).all()
    off = ras.copy()
    off[0, 3] += 0.3 * 0.8  # a third of a voxel: not the same voxels, same region
    assert match_grid(off, SHAPE, lps, SHAPE).kind == "resampled"
    with pytest.raises(GeometryMismatch, match="axes RAS.*axes LPS"):
        match_grid(ras, (8, 30, 20), lps, SHAPE)


def test_export_dock_reorients_an_adopted_labels_file_onto_its_image(ct, make_napari_viewer):
    """A RAS labels file opened over the LPS series and adopted by a session: napari shows it on
    the image (not mirrored) and the Export dock writes it on the image's grid (before, its
    geometry was dropped and the file written with a bare spacing affine)."""
    from napari_samlabel.api import start_session
    from napari_samlabel.core import Ontology

    tmp_path, ref, truth = ct
    labels_file = ras_by_nibabel(truth, tmp_path / "labels.nii.gz")
    v = make_napari_viewer()
    (image,) = v.open(str(tmp_path / "ct"), plugin="napari-samlabel")
    (labels,) = v.open(str(labels_file), plugin="napari-samlabel", layer_type="labels")
    s = start_session(v, image, labels=labels, ontology=Ontology.load(tmp_path / "classes.json"))
    _, dock = v.window.add_plugin_dock_widget("napari-samlabel", "Export annotations")
    dock.format_combo.setCurrentText("nifti")
    out = dock.export(str(tmp_path / "dock.nii.gz"))
    assert out is not None, dock.status.text()
    got = sitk.ReadImage(str(out))
    same_grid(got, ref)
    assert (sitk.GetArrayFromImage(got) == sitk.GetArrayFromImage(truth)).all()
    # opened in the image's voxel order, so it lies on the image in napari and needs no reorienting
    assert (np.asarray(labels.data) == sitk.GetArrayFromImage(truth)).all()
    assert (np.asarray(s.labels.data) == np.asarray(labels.data)).all()  # the layer itself is untouched
