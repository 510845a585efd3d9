"""Damaged and odd DICOM input: read correctly, or refused naming the file and the problem
(issue 10, items 3 and 4). Every bad file is made from pydicom's own test files: copies of
CT_small.dcm moved along its normal, then truncated, stripped of a tag, or given a value
no scanner writes."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.uid import generate_uid  # noqa: E402

from napari_samlabel.io import ImageReadError, read_image  # noqa: E402
from napari_samlabel.io.dicom import read_dicom  # noqa: E402

CT = get_testdata_file("CT_small.dcm")  # axial, 128 x 128, 0.661 mm pixels, int16 with intercept -1024


def ct_series(folder: Path, n=12, dz=2.5, series=None, description="", orientation=None) -> list[Path]:
    """``n`` copies of CT_small.dcm ``dz`` mm apart along the normal, each slice's pixels
    shifted by its index (so the order can be checked); file k is slice k."""
    folder.mkdir(parents=True, exist_ok=True)
    series = series or generate_uid()
    files = []
    for k in range(n):
        ds = pydicom.dcmread(CT)
        if orientation is not None:
            ds.ImageOrientationPatient = list(orientation)
        iop = np.array(ds.ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        ds.ImagePositionPatient = [float(v) for v in np.array(ds.ImagePositionPatient, float) + dz * k * normal]
        ds.SeriesInstanceUID, ds.SOPInstanceUID, ds.InstanceNumber = series, generate_uid(), k + 1
        ds.SeriesDescription = description
        ds.PixelData = (ds.pixel_array + k).astype(ds.pixel_array.dtype).tobytes()
        files.append(folder / f"{description or 'CT'}{k:03d}.dcm")
        ds.save_as(files[-1])
    return files


def truncate_before_pixels(path: Path) -> None:
    """Cut the file just before its pixel data: a copy interrupted at the end."""
    ds = pydicom.dcmread(path, defer_size=1)
    cut = ds["PixelData"].file_tell - 12  # back to the element's own header
    path.write_bytes(path.read_bytes()[:cut])


def edit(path: Path, **values) -> None:
    ds = pydicom.dcmread(path)
    for k, v in values.items():
        if v is None:
            delattr(ds, k)
        else:
            setattr(ds, k, v)
    ds.save_as(path)


def first_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def problem(e, path) -> str:
    """The message must be one line, start with ``path``; what it says after it."""
    msg = first_line(e)
    assert msg.startswith(f"{path}: "), msg
    return msg[len(str(path)) + 2:]


# -- item 3: a damaged slice is named, never dropped, never blamed on its neighbour --------------
@pytest.mark.parametrize("where", [11, 5, 0])
def test_a_slice_cut_before_its_pixels_is_named_not_dropped(tmp_path, where):
    files = ct_series(tmp_path / "ct")
    truncate_before_pixels(files[where])  # 11: the last one, silently dropped before (12 files -> 11 slices)
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "ct")
    assert "truncated" in problem(e, files[where])  # THAT file, not a neighbour


def test_a_slice_cut_inside_its_pixels_is_named(tmp_path):
    files = ct_series(tmp_path / "ct")
    files[6].write_bytes(files[6].read_bytes()[:-9000])
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "ct")
    said = problem(e, files[6])
    assert said.startswith("pixel data cannot be read") and "truncated" in said


def test_a_truncated_jpeg2000_file_is_named_as_truncated(tmp_path):
    src = Path(get_testdata_file("MR_small_jp2klossless.dcm")).read_bytes()
    bad = tmp_path / "MR_j2k.dcm"
    bad.write_bytes(src[: len(src) // 2])  # before: "DICOM files found, but none holds an image"
    with pytest.raises(ImageReadError) as e:
        read_dicom(bad)
    assert "truncated" in problem(e, bad)


def test_one_slice_without_position_takes_it_from_its_neighbours(tmp_path):
    files = ct_series(tmp_path / "ct")
    edit(files[4], ImagePositionPatient=None)  # before: ordered by InstanceNumber, 1.0 mm spacing
    (vol, meta), = read_dicom(tmp_path / "ct")
    assert meta["spacing"][0] == pytest.approx(2.5)
    base = pydicom.dcmread(CT).pixel_array.astype(np.int64) - 1024
    assert [int(vol[k, 0, 0] - base[0, 0]) for k in range(12)] == list(range(12))  # in place, in order
    np.testing.assert_allclose(meta["geometry"]["origin"], [float(v) for v in pydicom.dcmread(files[0]).ImagePositionPatient])


def test_a_slice_that_cannot_be_placed_is_named(tmp_path):
    files = ct_series(tmp_path / "ct")
    edit(files[4], ImagePositionPatient=None, InstanceNumber=None)
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "ct")
    assert "Image Position" in problem(e, files[4])


def test_slices_without_any_position_take_the_spacing_from_the_header(tmp_path):
    files = ct_series(tmp_path / "ct", n=4)
    for f in files:
        edit(f, ImagePositionPatient=None, SpacingBetweenSlices=2.5)
    (vol, meta), = read_dicom(tmp_path / "ct")  # before: InstanceNumber steps as mm (1.0)
    assert meta["spacing"][0] == pytest.approx(2.5) and vol.shape == (4, 128, 128)


def test_a_scout_with_two_orientations_opens_as_two_volumes(tmp_path):
    uid = generate_uid()
    ct_series(tmp_path / "scout", n=3, dz=4.0, series=uid, description="axial")
    ct_series(tmp_path / "scout", n=2, dz=7.0, series=uid, description="coronal", orientation=[1, 0, 0, 0, 0, -1])
    out = read_dicom(tmp_path / "scout")  # before: one 5-slice volume with a 265 mm "spacing"
    assert sorted((v.shape[0], m["spacing"][0]) for v, m in out) == [(2, 7.0), (3, 4.0)]
    names = sorted(m["name"] for _, m in out)
    assert names[0].endswith("(1 of 2)") and names[1].endswith("(2 of 2)") and not out.skipped
    coronal = next(m for v, m in out if v.shape[0] == 2)
    np.testing.assert_allclose(np.asarray(coronal["geometry"]["direction"])[:, 2], [0, 1, 0], atol=1e-6)


@pytest.mark.parametrize("spacing", [[0, 0], [-0.5, -0.5]])
def test_pixel_spacing_of_zero_opens_with_one_mm_pixels_and_says_so(tmp_path, spacing):
    from napari.layers import Image

    from napari_samlabel._reader import read_dicom_layers

    files = ct_series(tmp_path / "ct", n=3)
    for f in files:
        edit(f, PixelSpacing=spacing)
    out = read_dicom(tmp_path / "ct")
    (vol, meta), = out
    assert meta["spacing"] == pytest.approx((2.5, 1.0, 1.0))
    assert any(n.startswith(str(files[0])) and "Pixel Spacing" in n for n in out.notes)
    (data, kwargs, _), = read_dicom_layers(str(tmp_path / "ct"))
    Image(data, **kwargs)  # before: napari refused the scale 0


def test_malformed_values_are_named_with_the_file(tmp_path):
    bad = tmp_path / "badVR.dcm"
    shutil.copy(get_testdata_file("badVR.dcm"), bad)  # Number of Frames '1A'
    with pytest.raises(ImageReadError) as e:
        read_dicom(bad)  # before: ValueError: invalid literal for int() with base 10: '1A'
    assert problem(e, bad).startswith("Number of Frames '1A'")

    files = ct_series(tmp_path / "ct", n=3)
    edit(files[1], Rows=None)  # before: AttributeError: 'FileDataset' object has no attribute 'Rows'
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "ct")
    said = problem(e, files[1])
    assert said.startswith("Rows") and "missing" in said

    files = ct_series(tmp_path / "ct2", n=3)
    edit(files[2], ImagePositionPatient=[1.0, 2.0])
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "ct2")
    assert problem(e, files[2]).startswith("Image Position (Patient)")


# -- item 4: one bad series does not block the study --------------------------------------------
def study_77654033(tmp_path) -> Path:
    """pydicom's study with three CR images and a 4-file CT whose slices are 200 mm apart."""
    src = Path(CT).parent / "dicomdirtests" / "77654033"
    dst = tmp_path / "study"
    shutil.copytree(src, dst)
    return dst


def test_a_study_opens_what_it_can_and_lists_what_it_skipped(tmp_path):
    folder = study_77654033(tmp_path)
    out = read_dicom(folder)  # before: the whole folder refused because of the CT
    assert len(out) == 3 and {m["modality"] for _, m in out} == {"CR"}
    (name, reason), = out.skipped
    assert "CT" in name and reason.startswith(str(folder / "CT2")) and "slice(s) missing" in reason
    for _, cr in out:  # each as it opens alone
        (alone, _), = read_dicom(cr["files"][0])
        assert alone.shape == (1, 16, 16)


def test_unreadable_files_beside_a_series_are_listed_not_fatal(tmp_path):
    ct_series(tmp_path / "ct", n=3)
    (tmp_path / "ct" / "notes.dcm").write_text("not DICOM at all")
    out = read_dicom(tmp_path / "ct")  # before: "notes.dcm: not a readable DICOM file" for the folder
    assert len(out) == 1 and out[0][0].shape == (3, 128, 128)
    (name, reason), = out.skipped
    assert reason.startswith(str(tmp_path / "ct" / "notes.dcm") + ": not a readable DICOM file")


def test_when_nothing_opens_every_series_reason_is_in_the_error(tmp_path):
    a = ct_series(tmp_path / "study", n=3, description="arterial")
    b = ct_series(tmp_path / "study", n=3, description="venous")
    truncate_before_pixels(a[1])
    edit(b[2], Rows=None)
    with pytest.raises(ImageReadError) as e:
        read_dicom(tmp_path / "study")
    msg = first_line(e)
    assert msg.startswith(str(tmp_path / "study")) and str(a[1]) in msg and str(b[2]) in msg


def test_the_napari_reader_shows_one_warning_listing_the_skipped(tmp_path):
    from napari.utils.notifications import notification_manager

    from napari_samlabel._reader import napari_get_reader

    folder = study_77654033(tmp_path)
    before = len(notification_manager.records)
    layers = napari_get_reader(str(folder))(str(folder))
    assert len(layers) == 3
    assert all(kw["colormap"] == "gray_r" for _, kw, _ in layers)  # MONOCHROME1 radiographs: white bones
    (note,) = notification_manager.records[before:]
    assert "skipped" in note.message and str(folder / "CT2") in note.message and "slice(s) missing" in note.message


def test_samlabel_segment_says_what_it_skipped(tmp_path, capsys):
    from napari_samlabel.cli import main

    folder = study_77654033(tmp_path)
    data, meta = read_image(folder)  # the largest series that opens: a CR, not the broken CT
    assert meta["modality"] == "CR" and meta["skipped"]
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [0], "box": [2, 2, 12, 12]}]}))
    rc = main(["segment", str(folder), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")])
    err = capsys.readouterr().err
    assert rc == 0 and "skipped" in err and str(folder / "CT2") in err


@pytest.mark.slow
def test_samlabel_file_opens_the_study_and_says_what_it_skipped(make_napari_viewer, monkeypatch, tmp_path, caplog):
    import napari

    from napari_samlabel import cli

    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer(show=True))
    folder = study_77654033(tmp_path)
    viewer = cli.open_viewer(None, [str(folder)])  # `samlabel FOLDER`
    assert sum(layer._type_string == "image" for layer in viewer.layers) == 3
    said = [r.getMessage() for r in caplog.records if r.name == "napari_samlabel"]  # printed on the terminal
    assert len(said) == 1 and str(folder / "CT2") in said[0] and "slice(s) missing" in said[0]


def test_palette_colour_opens_as_rgb_and_big_endian_tables_read_right():
    little, big = get_testdata_file("OBXXXX1A.dcm"), get_testdata_file("OBXXXX1A_expb.dcm")
    if not (little and big):
        pytest.skip("pydicom-data is not installed")
    from pydicom.pixels import apply_color_lut

    (rgb, meta), = read_dicom(little)
    ds = pydicom.dcmread(little)
    assert meta["rgb"] and rgb.shape == (600, 800, 3)  # before: 600 x 800 palette indices as grey
    np.testing.assert_array_equal(rgb, apply_color_lut(ds.pixel_array, ds))
    (twin, _), = read_dicom(big)  # pydicom 3.0 reads a big-endian file's 16-bit tables byte-swapped
    np.testing.assert_array_equal(twin, rgb)


def test_a_note_shared_by_every_slice_is_said_once(tmp_path):
    from napari_samlabel.io.dicom import report

    files = ct_series(tmp_path / "ct", n=4)
    for f in files:
        edit(f, PixelSpacing=[0, 0])
    out = read_dicom(tmp_path / "ct")
    said = report(out, tmp_path / "ct")
    assert said.count("Pixel Spacing") == 1 and "and 3 other files" in said
