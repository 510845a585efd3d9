"""`samlabel batch label-all --text TEXT`: every detection of a text by SAM 3's concept model,
on every plane of every file, as instances of one class, on a dask LocalCluster (issue 24,
item 5). The model is the shrunk random-weight SAM 3 of test_sam3_concepts.py, saved to a
folder as save_pretrained writes it; its detections score about 0.25, so --threshold 0.2."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from hf_helpers import backend_tests, plane, saved_folder
from napari_samlabel import batch
from napari_samlabel.batch import read_manifest
from napari_samlabel.cli import main

pytest.importorskip("distributed")
THRESHOLD = 0.2


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    pytest.importorskip("transformers.models.sam3")
    yield saved_folder(tmp_path_factory, "sam3-tiny", *backend_tests("test_sam3_concepts").tiny_sam3())
    batch.forget_models()


def rows_of(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def transformers_scores(folder, rgb, text):
    """The scores transformers gives on its own (processor + model + post-processing), best first."""
    return list(backend_tests("test_sam3_concepts").raw_library(folder, rgb, THRESHOLD, text=text)[1])


@pytest.mark.slow  # the tiny SAM 3 is built once (about 8 s)
def test_batch_label_all_every_plane_of_every_file_with_a_broken_one(folder, tmp_path, capsys):
    from napari_samlabel.core.planes import window_to_uint8

    src = tmp_path / "in"
    src.mkdir()
    image = plane(60, 80, seed=1)[..., 0]
    stack = np.stack([plane(60, 80, seed=s)[..., 0] for s in (2, 3)])
    np.save(src / "cells.npy", image)
    np.save(src / "stack.npy", stack)
    (src / "broken.npy").write_bytes(b"\x93NUMPY not an array")
    out = tmp_path / "out"
    names = ["cells.npy", "broken.npy", "stack.npy"]
    rc = main(["batch", "label-all", *[str(src / n) for n in names], "--text", "cell nucleus", "--class", "nucleus",
               "--checkpoint", str(folder), "--threshold", str(THRESHOLD), "-o", str(out),
               "--in-process", "--workers", "1"])  # fmt: skip
    said = capsys.readouterr().out
    assert rc == 1  # one file failed, the others did not stop
    rows = {r["file"]: r for r in read_manifest(out)}
    assert list(rows) == [str(src / n) for n in names]
    bad = rows[str(src / "broken.npy")]
    assert bad["status"] == "failed" and "broken.npy" in bad["error"] and "\n" not in bad["error"]
    lines = [ln for ln in said.splitlines() if ln.startswith("[")]
    assert len(lines) == 3 and "2 ok, 1 failed" in said
    # nothing but the outputs, their instance tables and the manifest (no half-written files)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["cells.npy", "cells.instances.csv", "stack.npy", "stack.instances.csv", "manifest.csv"])  # fmt: skip

    # a 2D image: its instances are SAM 3's detections, scored as transformers scores them
    labels = np.load(out / "cells.npy")
    table = rows_of(out / "cells.instances.csv")
    ids = sorted(int(i) for i in np.unique(labels) if i)
    assert len(ids) > 0 and int(rows[str(src / "cells.npy")]["objects"]) == len(ids)
    assert [int(r["id"]) for r in table] == ids
    assert {r["class"] for r in table} == {"nucleus"} and {r["source"] for r in table} == {"model"}
    want = transformers_scores(folder, window_to_uint8(image, (float(image.min()), float(image.max()))), "cell nucleus")
    got = [float(r["confidence"]) for r in table]
    assert all(any(abs(g - w) < 1e-4 for w in want) for g in got)  # each instance: one detection's score
    assert got[0] == pytest.approx(want[0], abs=1e-4)  # the best first, with its whole mask

    # a stack: every plane, each detection an instance on its own frame
    labels = np.load(out / "stack.npy")
    table = rows_of(out / "stack.instances.csv")
    assert labels.shape == stack.shape and {r["first_frame"] for r in table} == {"0", "1"}
    window = (float(stack.min()), float(stack.max()))  # the whole stack's range, as the viewer's contrast
    for f in (0, 1):
        want = transformers_scores(folder, window_to_uint8(stack[f], window), "cell nucleus")
        on = [float(r["confidence"]) for r in table if r["first_frame"] == str(f)]
        assert on and all(any(abs(g - w) < 1e-4 for w in want) for g in on)
        assert all(r["first_frame"] == r["last_frame"] for r in table)


@pytest.mark.slow
def test_the_single_file_command_gives_the_batchs_output(folder, tmp_path, capsys):
    np.save(tmp_path / "cells.npy", plane(60, 80, seed=4)[..., 0])
    args = ["--text", "nucleus", "--checkpoint", str(folder), "--threshold", str(THRESHOLD)]
    assert main(["label-all", str(tmp_path / "cells.npy"), *args, "-o", str(tmp_path / "one" / "cells.npy")]) == 0
    assert main(["batch", "label-all", str(tmp_path / "cells.npy"), *args, "-o", str(tmp_path / "out"),
                 "--in-process", "--workers", "1"]) == 0  # fmt: skip
    capsys.readouterr()
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "cells.npy"), np.load(tmp_path / "one" / "cells.npy"))
    both = [(d / "cells.instances.csv").read_text() for d in (tmp_path / "out", tmp_path / "one")]
    assert both[0] == both[1] and "nucleus" in both[0]  # the class is the text when no --class is given


def test_batch_label_all_needs_a_text_or_a_class(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 4)))
    assert main(["batch", "label-all", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o"), "--in-process"]) == 2
    assert "give --text" in capsys.readouterr().err and not (tmp_path / "o").exists()
