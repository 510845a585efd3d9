"""Volumes as clinicians read them (issue 23, items 3 and 4): every DICOM window is used (an
enhanced file's Frame VOI LUT too), a window that is not one is said, an assumed placement
is said, and a file that looks like DICOM but cannot be read is named, with the gap it leaves.
Real files from pydicom; windows judged by highdicom, spacing by SimpleITK."""

import shutil
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from napari_samlabel._reader import napari_get_reader  # noqa: E402
from napari_samlabel.io import ImageReadError  # noqa: E402
from napari_samlabel.io.dicom import read_dicom, report  # noqa: E402

CT = get_testdata_file("CT_small.dcm")
ENHANCED_CT = get_testdata_file("eCT_Supplemental.dcm")  # 2 frames, window in the shared Frame VOI LUT
ENHANCED_MR = get_testdata_file("emri_small.dcm")  # 10 frames, no position or orientation


def opened_and_warned(path):
    """The layers napari gets from File > Open, and the one warning shown with them (or None)."""
    from napari.utils.notifications import notification_manager

    before = len(notification_manager.records)
    layers = napari_get_reader(str(path))(str(path))
    said = [r.message for r in notification_manager.records[before:]]
    assert len(said) <= 1, said
    return layers, (said[0] if said else None)


# -- item 3: every window ------------------------------------------------------------------------
def test_an_enhanced_ct_opens_in_its_frame_voi_window_as_highdicom_applies_it():
    hd = pytest.importorskip("highdicom")
    (volume, kw, _), = napari_get_reader(ENHANCED_CT)(ENHANCED_CT)
    # before: no contrast limits, so napari showed -1024..172 HU and the model saw that too
    assert kw["contrast_limits"] == (-2.0, 100.0)  # Window Center 49, Width 102
    lo, hi = kw["contrast_limits"]
    ours = np.clip((volume.astype(float) - lo) / (hi - lo), 0, 1)
    image = hd.imread(ENHANCED_CT)
    for frame in range(1, 3):
        ref = image.get_frame(frame, apply_real_world_transform=False, apply_voi_transform=True)
        assert min(np.abs(ours[k] - ref).max() for k in range(len(ours))) < 0.02  # one grey step of 102


def test_a_window_width_of_zero_opens_with_the_data_range_and_says_so(tmp_path):
    from napari.layers import Image

    ds = pydicom.dcmread(CT)
    ds.WindowCenter, ds.WindowWidth = 40, 0
    path = tmp_path / "w0.dcm"
    ds.save_as(path)
    (layer,), said = opened_and_warned(path)
    data, kw, _ = layer
    Image(data, **{k: v for k, v in kw.items() if k != "metadata"})  # before: "(40.0, 40.0) must be monotonically increasing"
    assert "contrast_limits" not in kw
    assert said.startswith("note: ") and f"{path}: Window Width 0 is not a window" in said


def test_an_enhanced_mr_without_positions_says_where_it_was_placed():
    sitk = pytest.importorskip("SimpleITK")
    assert sitk.ReadImage(ENHANCED_MR).GetSpacing()[2] == 1.0  # why it must be said: ITK differs
    out = read_dicom(ENHANCED_MR)
    assert out[0][1]["spacing"][0] == pytest.approx(1.2)
    said = report(out, ENHANCED_MR)  # before: None, nothing said
    assert f"{ENHANCED_MR}: no Image Position (Patient) or Image Orientation (Patient)" in said
    assert "placed at the origin, axial, slices 1.2 mm apart (from Spacing Between Slices" in said and "ITK" in said


# -- item 4: nothing dropped without a word ------------------------------------------------------
def ct_series(folder: Path, n=8, dz=3.0) -> list[Path]:
    """``n`` copies of CT_small.dcm ``dz`` mm apart along z; file k is slice k."""
    folder.mkdir(parents=True)
    series, files = generate_uid(), []
    for k in range(n):
        ds = pydicom.dcmread(CT)
        ds.ImagePositionPatient = [*map(float, ds.ImagePositionPatient[:2]), float(ds.ImagePositionPatient[2]) + dz * k]
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series, generate_uid(), k + 1
        files.append(folder / f"CT{k:03d}.dcm")
        ds.save_as(files[-1])
    return files


def cut_at(path: Path, keyword: str, inside: bool) -> None:
    """Cut a file within its header: just before ``keyword``, or inside its value (pydicom
    then reads the file without a word, the value cut short)."""
    ds = pydicom.dcmread(path, defer_size=1)
    elem = ds[keyword]
    at = elem.file_tell + (len(str(elem.value)) // 2 if inside else -8)
    path.write_bytes(path.read_bytes()[:at])


def said_on_open(folder: Path) -> tuple[int, str]:
    """(slices opened, what the user is told): the error, or the report beside the volume."""
    try:
        out = read_dicom(folder)
    except ImageReadError as e:
        return 0, str(e)
    return len(out[0][0]), report(out, folder) or ""


@pytest.mark.parametrize("keyword,inside", [("Rows", False), ("SeriesInstanceUID", True)])
def test_a_last_slice_cut_in_its_header_is_named(tmp_path, keyword, inside):
    files = ct_series(tmp_path / "ct")
    cut_at(files[-1], keyword, inside)
    n, said = said_on_open(tmp_path / "ct")  # before: 7 slices and not a word
    assert f"{files[-1]}: the file ends within its header" in said and "truncated" in said
    assert n in (0, 7)  # refused with the file named, or opened without it and the file named


@pytest.mark.parametrize("keyword,inside", [("Rows", False), ("SeriesInstanceUID", True)])
def test_a_middle_slice_cut_in_its_header_is_named_with_the_gap_it_leaves(tmp_path, keyword, inside):
    files = ct_series(tmp_path / "ct")
    cut_at(files[4], keyword, inside)
    n, said = said_on_open(tmp_path / "ct")  # before: "CT003.dcm: 1 slice(s) missing", CT004.dcm never named
    z = [float(pydicom.dcmread(files[k]).ImagePositionPatient[2]) for k in (3, 5)]
    assert n == 0 and f"{files[4]}: the file ends within its header" in said
    assert f"{z[0]:.2f}" in said and f"{z[1]:.2f}" in said, said  # the hole: between slices 3 and 5


def test_the_viewer_names_a_truncated_file_beside_the_series_it_opens(tmp_path):
    files = ct_series(tmp_path / "ct")
    shutil.copy(files[0], tmp_path / "ct" / "copy.dcm")
    cut_at(tmp_path / "ct" / "copy.dcm", "SOPClassUID", True)
    (layer,), said = opened_and_warned(tmp_path / "ct")
    assert layer[0].shape[0] == 8
    assert said is not None and f"{tmp_path / 'ct' / 'copy.dcm'}: the file ends within its header" in said
