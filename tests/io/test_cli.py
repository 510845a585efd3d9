"""`samlabel segment` and `samlabel models`, end to end on files."""

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_samlabel.cli import main
from napari_samlabel.io import read_image
from napari_samlabel.synthetic import blobs_volume, fluorescence_timelapse

from dicom_helpers import write_dicom_series


def centre(mask):
    d = ndi.distance_transform_edt(mask)
    return [int(v) for v in np.unravel_index(np.argmax(d), d.shape)]


def dice(a, b):
    return 2 * (a & b).sum() / (a.sum() + b.sum())


def test_segment_timelapse_npy_to_tif(tmp_path, capsys):
    image, truth = fluorescence_timelapse(n_frames=4, size=128, n_cells=5)
    np.save(tmp_path / "movie.npy", image)
    objects = []
    for k, (t, i) in enumerate([(0, 2), (2, 3), (3, 4)], start=1):
        objects.append({"id": 10 + k, "class": "nucleus", "frame": [t], "points": [centre(truth[t] == i)], "labels": [1]})
    (tmp_path / "p.json").write_text(json.dumps({"objects": objects}))
    rc = main(["segment", str(tmp_path / "movie.npy"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "out.tif")])
    assert rc == 0 and "3 object(s)" in capsys.readouterr().out
    out, _ = read_image(tmp_path / "out.tif")
    assert out.shape == image.shape
    for k, (t, i) in enumerate([(0, 2), (2, 3), (3, 4)], start=1):
        assert dice(out[t] == 10 + k, truth[t] == i) > 0.9
        assert not (out == 10 + k).sum() - (out[t] == 10 + k).sum()  # only on its frame


def test_segment_nifti_keeps_geometry(tmp_path):
    nib = pytest.importorskip("nibabel")
    vol, truth = blobs_volume()
    affine = np.array([[0.8, 0, 0, -20], [0, 0.8, 0, 10], [0, 0, 2.0, 5], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(np.transpose(vol, (2, 1, 0)), affine), tmp_path / "vol.nii.gz")
    # prompts are in the voxel order napari shows: the reader turns this RAS file to LPS (x, y flipped)
    truth = truth[:, ::-1, ::-1]
    z = 12
    (tmp_path / "p.json").write_text(json.dumps({"objects": [
        {"id": 1, "frame": [z], "points": [centre(truth[z] == 1)]},
    ]}))  # fmt: skip
    assert main(["segment", str(tmp_path / "vol.nii.gz"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "lab.nii.gz")]) == 0
    out = nib.load(tmp_path / "lab.nii.gz")
    np.testing.assert_allclose(out.affine, affine)
    labels = np.transpose(np.asanyarray(out.dataobj), (2, 1, 0))[:, ::-1, ::-1]  # written back in the file's order
    assert labels.shape == vol.shape and dice(labels[z] == 1, truth[z] == 1) > 0.9


def test_segment_dicom_folder_with_shuffled_files(tmp_path):
    vol, truth = blobs_volume(shape=(10, 48, 48), seed=2)
    write_dicom_series(tmp_path / "series", np.round(vol * 1000))
    data, meta = read_image(tmp_path / "series")
    np.testing.assert_allclose(data, np.round(vol * 1000), atol=1)  # slice order and Hounsfield units
    assert meta["spacing"] == pytest.approx((2.5, 0.7, 0.7))
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 3, "frame": [5], "box": [0, 0, 47, 47]}]}))
    assert main(["segment", str(tmp_path / "series"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")]) == 0
    assert np.load(tmp_path / "o.npy").shape == (10, 48, 48)


def test_bad_prompts_fail_with_a_message(tmp_path, capsys):
    np.save(tmp_path / "img.npy", np.zeros((3, 20, 20), np.float32))
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [], "points": [[5, 5]]}]}))
    assert main(["segment", str(tmp_path / "img.npy"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")]) == 2
    assert "'frame' needs 1 index(es)" in capsys.readouterr().err
    assert main(["segment", str(tmp_path / "missing.tif"), "--prompts", str(tmp_path / "p.json"), "-o", str(tmp_path / "o.npy")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


def test_models_lists_weights_and_where(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SAMLABEL_CACHE", str(tmp_path))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "seeds" in out and "sam2.1-tiny" in out and str(tmp_path / "checkpoints" / "sam2.1_hiera_tiny.pt") in out


def test_track_timelapse_headless(tmp_path, capsys):
    image, truth = fluorescence_timelapse(n_frames=8, size=96, n_cells=4, seed=1)
    np.save(tmp_path / "movie.npy", image)
    objects = [{"id": 5, "frame": [3], "points": [centre(truth[3] == 2)]}]
    (tmp_path / "p.json").write_text(json.dumps({"objects": objects}))
    rc = main(["track", str(tmp_path / "movie.npy"), "--prompts", str(tmp_path / "p.json"),
               "--direction", "both", "--frames", "3", "-o", str(tmp_path / "tracked.npy")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    out = np.load(tmp_path / "tracked.npy")
    assert out.shape == image.shape
    assert [f for f in range(8) if (out[f] == 5).any()] == [1, 2, 3, 4, 5]
    for f in (1, 2, 3, 4, 5):
        assert dice(out[f] == 5, truth[f] == 2) > 0.85


@pytest.mark.parametrize("fmt", ["nifti", "coco", "coco-panoptic", "ctc", "csv"])
def test_export_label_arrays(tmp_path, fmt, capsys):
    labels = np.zeros((3, 20, 20), np.uint16)
    labels[0:2, 2:6, 2:6] = 1
    labels[1:3, 10:15, 10:15] = 2
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "classes.json").write_text(json.dumps({"classes": [{"name": "cell"}, {"name": "nucleus"}]}))
    (tmp_path / "inst.csv").write_text("id,class,confidence,source\n1,cell,0.9,model\n2,nucleus,1.0,manual\n")
    out = tmp_path / ("out.nii.gz" if fmt == "nifti" else "out.json" if fmt == "coco" else "out.csv" if fmt == "csv" else "out")
    rc = main(["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "classes.json"),
               "--instances", str(tmp_path / "inst.csv"), "--format", fmt, "-o", str(out)])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    if fmt == "coco":
        cats = {c["id"]: c["name"] for c in json.loads(out.read_text())["categories"]}
        anns = json.loads(out.read_text())["annotations"]
        assert {(a["instance_id"], cats[a["category_id"]]) for a in anns} == {(1, "cell"), (2, "nucleus")}
    elif fmt == "nifti":
        back, _ = read_image(out)
        assert (back == labels).all()


def test_export_dicom_seg_needs_a_dicom_reference(tmp_path, capsys):
    np.save(tmp_path / "labels.npy", np.ones((2, 4, 4), np.uint16))
    (tmp_path / "c.json").write_text(json.dumps({"classes": [{"name": "x"}]}))
    rc = main(["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "c.json"), "--format", "dicom-seg", "-o", str(tmp_path / "s.dcm")])
    assert rc == 2 and "needs labels made over a DICOM series" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_one_nan_or_inf_voxel_anywhere_does_not_label_the_whole_plane(tmp_path, bad):
    """The window came from np.min/np.max: one NaN made it NaN, one inf made it infinite,
    and the whole plane was one grey, so the object took the plane (issue 10, item 8)."""
    image, truth = fluorescence_timelapse(n_frames=3, size=96, n_cells=4)
    image = image.astype(np.float32)
    image[2, 5, 5] = bad  # another frame, far from the object
    np.save(tmp_path / "movie.npy", image)
    obj = {"id": 7, "frame": [0], "points": [centre(truth[0] == 2)], "labels": [1]}
    (tmp_path / "p.json").write_text(json.dumps({"objects": [obj]}))
    assert main(["segment", str(tmp_path / "movie.npy"), "--prompts", str(tmp_path / "p.json"),
                 "-o", str(tmp_path / "o.npy")]) == 0  # fmt: skip
    out = np.load(tmp_path / "o.npy")
    assert dice(out[0] == 7, truth[0] == 2) > 0.9


def test_segment_uses_the_dicom_files_own_window(tmp_path):
    """A CT with a metal implant: min-max contrast squeezes liver and soft tissue into one grey
    level, the file's own window (what the viewer shows) keeps them apart; `samlabel segment`
    without --window uses the file's window, as the viewer and the Segment dock do."""
    z, y, x = np.ogrid[:6, :64, :64]
    organ = ((y - 32) / 14.0) ** 2 + ((x - 30) / 12.0) ** 2 <= 1
    vol = np.where(organ, 100, 60) + np.random.default_rng(1).normal(0, 6, (6, 64, 64))
    vol = vol.astype(np.int16)
    vol[:, 60:, 60:] = 30000  # metal
    write_dicom_series(tmp_path / "ct", vol, window=(80, 120))
    (tmp_path / "p.json").write_text(json.dumps({"objects": [{"id": 1, "frame": [3], "points": [[32, 30]]}]}))
    args = ["segment", str(tmp_path / "ct"), "--prompts", str(tmp_path / "p.json"), "--model", "seeds"]
    assert main([*args, "-o", str(tmp_path / "own.npy")]) == 0
    got = np.load(tmp_path / "own.npy")[3] == 1
    assert dice(got, organ[0]) > 0.9, "the file's window shows the liver apart from the tissue around it"
    assert main([*args, "--window", "-1000", "31000", "-o", str(tmp_path / "wide.npy")]) == 0
    wide = np.load(tmp_path / "wide.npy")[3] == 1
    assert dice(wide, organ[0]) < 0.9, "(the case is one where min-max contrast fails)"
