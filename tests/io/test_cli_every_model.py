"""Every model `samlabel models` lists runs through `samlabel segment`, `track` and
`label-all` (issue 24, item 5): EdgeTAM and SAM 3 from a folder saved with save_pretrained
(shrunk random-weight models, see tests/backends/test_sam3_concepts.py and test_edgetam.py),
and a model that cannot do what a command asks is refused in one line before any output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hf_helpers import backend_tests, plane, saved_folder
from napari_samlabel.cli import main
from napari_samlabel.io.importing import read_class_table

THRESHOLD = 0.2  # random weights score every detection about 0.25


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """SAM 3's folder, EdgeTAM's image-model folder and its image + video folder (as the hub's)."""
    pytest.importorskip("transformers.models.sam3")
    pytest.importorskip("transformers.models.edgetam")
    pytest.importorskip("timm")
    s3, et = backend_tests("test_sam3_concepts"), backend_tests("test_edgetam")
    return {"sam3": saved_folder(tmp_path_factory, "sam3", *s3.tiny_sam3()),
            "edgetam": saved_folder(tmp_path_factory, "edgetam", *et.tiny_edgetam()),
            "edgetam-video": saved_folder(tmp_path_factory, "edgetam-video", *et.tiny_edgetam_video())}  # fmt: skip


@pytest.fixture
def files(tmp_path):
    np.save(tmp_path / "img.npy", plane(60, 80)[..., 0])
    np.save(tmp_path / "stack.npy", np.stack([plane(60, 80, seed=s)[..., 0] for s in range(3)]))
    one = {"id": 4, "class": "cell", "points": [[20, 30]], "labels": [1]}
    (tmp_path / "p2d.json").write_text(json.dumps({"objects": [dict(one, frame=[])]}))
    (tmp_path / "p3d.json").write_text(json.dumps({"objects": [dict(one, frame=[1])]}))
    return tmp_path


def one_line(err: str, command: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith(f"samlabel {command}:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.slow  # three tiny models built once (about 10 s)
def test_segment_and_track_with_edgetam_from_a_folder(folders, files, capsys):
    rc = main(["segment", str(files / "img.npy"), "--prompts", str(files / "p2d.json"), "--model", "edgetam",
               "--checkpoint", str(folders["edgetam"]), "--device", "cpu", "-o", str(files / "seg.tif")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    from napari_samlabel.io import read_image

    seg, _ = read_image(files / "seg.tif")
    assert seg.shape == (60, 80) and (seg == 4).any()
    assert read_class_table(files / "seg.instances.csv")[4]["class"] == "cell"
    rc = main(["track", str(files / "stack.npy"), "--prompts", str(files / "p3d.json"), "--model", "edgetam",
               "--checkpoint", str(folders["edgetam-video"]), "--direction", "both", "-o", str(files / "trk.npy")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    trk = np.load(files / "trk.npy")
    assert trk.shape == (3, 60, 80) and (trk[1] == 4).any()
    # the image model's folder has no tracking weights: said in one line, before any object is segmented
    rc = main(["track", str(files / "stack.npy"), "--prompts", str(files / "p3d.json"), "--model", "edgetam",
               "--checkpoint", str(folders["edgetam"]), "-o", str(files / "no.npy")])  # fmt: skip
    assert rc == 2 and "has no tracking weights" in one_line(capsys.readouterr().err, "track")
    assert not (files / "no.npy").exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["segment", "track"])
def test_sam3_with_clicks_is_refused_in_one_line_and_writes_nothing(folders, files, command, capsys):
    prompts = files / ("p2d.json" if command == "segment" else "p3d.json")
    image = files / ("img.npy" if command == "segment" else "stack.npy")
    rc = main([command, str(image), "--prompts", str(prompts), "--model", "sam3", "--checkpoint", str(folders["sam3"]),
               "-o", str(files / "out" / "labels.tif")])  # fmt: skip
    line = one_line(capsys.readouterr().err, command)
    assert rc == 2 and "sam3" in line and "not by clicks" in line and "edgetam" in line and "label-all --text" in line
    assert not (files / "out").exists()
    # batch: the same line, and not even a manifest
    rc = main(["batch", command, str(image), "--prompts", str(prompts), "--model", "sam3",
               "--checkpoint", str(folders["sam3"]), "-o", str(files / "bout"), "--in-process", "--workers", "1"])  # fmt: skip
    assert rc == 2 and "not by clicks" in one_line(capsys.readouterr().err, "batch")
    assert not (files / "bout").exists()


@pytest.mark.slow
def test_label_all_one_file_with_sam3_and_edgetam(folders, files, capsys):
    rc = main(["label-all", str(files / "img.npy"), "--text", "nucleus", "--checkpoint", str(folders["sam3"]),
               "--threshold", str(THRESHOLD), "-o", str(files / "la.tif")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    rows = read_class_table(files / "la.instances.csv")
    assert rows and {r["class"] for r in rows.values()} == {"nucleus"}
    assert {r["source"] for r in rows.values()} == {"model"}
    # a text for a model that reads none is refused, not labelled as that text's class
    rc = main(["label-all", str(files / "img.npy"), "--text", "nucleus", "--model", "edgetam",
               "--checkpoint", str(folders["edgetam"]), "-o", str(files / "no.tif")])  # fmt: skip
    line = one_line(capsys.readouterr().err, "label-all")
    assert rc == 2 and "edgetam cannot read a text" in line and "--model sam3" in line and "--class" in line
    assert not (files / "no.tif").exists()
    # without a text, EdgeTAM's grid: every object it finds, as the class given
    rc = main(["label-all", str(files / "img.npy"), "--class", "thing", "--model", "edgetam", "--threshold", "0",
               "--checkpoint", str(folders["edgetam"]), "-o", str(files / "grid.tif")])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    rows = read_class_table(files / "grid.instances.csv")
    assert rows and {r["class"] for r in rows.values()} == {"thing"}
    rc = main(["label-all", str(files / "img.npy"), "-o", str(files / "x.tif")])
    assert rc == 2 and "give --text" in capsys.readouterr().err
