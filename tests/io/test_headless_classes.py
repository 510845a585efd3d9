"""Classes that went astray (issue 21, item 9): the prompts' classes travel beside the labels
`samlabel segment` writes, `samlabel export` reads them and never guesses one, and
`samlabel --ontology FILE` with no image gives the first Start annotating those classes."""

import json

import numpy as np
import pytest
from scipy import ndimage as ndi

from dicom_helpers import write_dicom_series
from napari_samlabel.cli import main
from napari_samlabel.synthetic import blobs_volume

pydicom = pytest.importorskip("pydicom")

TWO = {"classes": [{"name": "brain", "color": "#4363d8"}, {"name": "lesion", "color": "#f032e6"}]}


def centre(mask):
    d = ndi.distance_transform_edt(mask)
    return [int(v) for v in np.unravel_index(np.argmax(d), d.shape)]


def segment_brain_and_lesion(tmp_path):
    """A DICOM series segmented with a prompts file naming two classes: (labels file, series)."""
    vol, truth = blobs_volume(shape=(10, 48, 48), seed=2, n=2)
    write_dicom_series(tmp_path / "ct", np.round(vol * 1000))
    objects = []
    for i, cls in ((1, "brain"), (2, "lesion")):
        z = int(np.argmax((truth == i).sum(axis=(1, 2))))
        objects.append({"id": i, "class": cls, "frame": [z], "points": [centre(truth[z] == i)]})
    (tmp_path / "p.json").write_text(json.dumps({"objects": objects}))
    (tmp_path / "o.json").write_text(json.dumps(TWO))
    out = tmp_path / "lab.nii.gz"
    assert main(["segment", str(tmp_path / "ct"), "--prompts", str(tmp_path / "p.json"), "-o", str(out)]) == 0
    return out, tmp_path / "ct"


def seg_segments(path):
    """{segment label: voxels} of a DICOM SEG, read back with pydicom."""
    ds = pydicom.dcmread(path)
    names = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    frames = ds.pixel_array.reshape(-1, int(ds.Rows), int(ds.Columns))
    shared = ds.SharedFunctionalGroupsSequence[0]
    voxels = dict.fromkeys(names.values(), 0)
    for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        ident = group if "SegmentIdentificationSequence" in group else shared  # shared when one segment
        voxels[names[int(ident.SegmentIdentificationSequence[0].ReferencedSegmentNumber)]] += int(frames[k].sum())
    return voxels


def test_segment_keeps_each_objects_class_and_the_dicom_seg_has_both(tmp_path, capsys):
    """Before: a "brain" and a "lesion" came out as one segment coded as the ontology's first class."""
    labels, ct = segment_brain_and_lesion(tmp_path)
    sidecar = tmp_path / "lab.instances.csv"
    assert sidecar.read_text().splitlines() == ["id,class", "1,brain", "2,lesion"]
    assert str(sidecar) in capsys.readouterr().out
    from napari_samlabel.io import read_image

    arr, _ = read_image(labels)
    counts = {"brain": int((arr == 1).sum()), "lesion": int((arr == 2).sum())}
    assert min(counts.values()) > 0
    rc = main(["export", str(labels), "--ontology", str(tmp_path / "o.json"), "--reference", str(ct),
               "--format", "dicom-seg", "-o", str(tmp_path / "seg.dcm")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert seg_segments(tmp_path / "seg.dcm") == counts  # two segments, each with its own object's voxels
    # an explicit --instances wins over the table beside the labels
    (tmp_path / "swap.csv").write_text("id,class\n1,lesion\n2,brain\n")
    rc = main(["export", str(labels), "--ontology", str(tmp_path / "o.json"), "--instances", str(tmp_path / "swap.csv"),
               "--reference", str(ct), "--format", "dicom-seg", "-o", str(tmp_path / "swap.dcm")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    assert seg_segments(tmp_path / "swap.dcm") == {"brain": counts["lesion"], "lesion": counts["brain"]}


def test_export_never_guesses_a_class(tmp_path, capsys):
    """Ids with no class (no table beside the labels, no --instances): refused in one line that
    names the labels and what to pass, nothing written; with a one-class ontology that class is
    used, and said."""
    labels = np.zeros((2, 20, 20), np.uint16)
    labels[0, 2:6, 2:6] = 1
    labels[1, 10:15, 10:15] = 2
    np.save(tmp_path / "labels.npy", labels)
    (tmp_path / "two.json").write_text(json.dumps(TWO))
    out = tmp_path / "coco.json"
    rc = main(["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "two.json"), "--format", "coco",
               "-o", str(out)])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc != 0 and not out.exists()
    assert "\n" not in err and str(tmp_path / "labels.npy") in err and "--instances FILE" in err and "1, 2" in err

    (tmp_path / "one.json").write_text(json.dumps({"classes": [{"name": "lesion"}]}))
    rc = main(["export", str(tmp_path / "labels.npy"), "--ontology", str(tmp_path / "one.json"), "--format", "coco",
               "-o", str(out)])  # fmt: skip
    said = capsys.readouterr().out
    assert rc == 0 and "the ontology's only class 'lesion' is used" in said and "1, 2" in said
    data = json.loads(out.read_text())
    assert {c["name"] for c in data["categories"]} == {"lesion"} and len(data["annotations"]) == 2


def test_samlabel_ontology_without_an_image_gives_the_first_session_its_classes(make_napari_viewer, monkeypatch, tmp_path):
    """`samlabel --sample none --ontology o.json`: before, the file was read only when an image
    was open, and Start annotating later began with no classes of it."""
    import napari

    from napari_samlabel import cli
    from napari_samlabel.api import current_session

    (tmp_path / "o.json").write_text(json.dumps(TWO))
    monkeypatch.setattr(napari, "Viewer", lambda **kw: make_napari_viewer())
    viewer = cli.open_viewer(None, None, str(tmp_path / "o.json"))  # what `samlabel --sample none --ontology` does
    assert current_session(viewer) is None
    panel = viewer.window.dock_widgets["SAM Label (napari-samlabel)"]
    assert panel.classes.ontology.names == ["brain", "lesion"] and panel.classes.table.rowCount() == 2
    viewer.add_image(np.zeros((32, 32), np.float32), name="later")
    panel.classes.image_combo.setCurrentText("later")
    panel.classes.start_button.click()
    s = current_session(viewer)
    assert s is not None and s.image.name == "later"
    assert [(c.name, c.color) for c in s.ontology] == [("brain", "#4363d8"), ("lesion", "#f032e6")]
