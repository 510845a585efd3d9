"""Every value given to `samlabel` is checked before anything runs (issue 22, item 10): a bad
option is one line on stderr naming the option and exit status 2, and nothing is written."""

import json
from pathlib import Path

import numpy as np
import pytest

from napari_samlabel import batch
from napari_samlabel.cli import main


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A small movie with one object's prompts, a label array, and a two-class ontology."""
    monkeypatch.chdir(tmp_path)
    movie = np.zeros((4, 48, 48), np.uint8)
    movie[:, 10:30, 10:30] = 200
    np.save("movie.npy", movie)
    Path("p.json").write_text(json.dumps({"objects": [{"id": 1, "class": "cell", "frame": [0], "points": [[20, 20]]}]}))
    labels = np.zeros((4, 48, 48), np.uint16)
    labels[0, 5:10, 5:10] = 1
    labels[1, 20:30, 20:30] = 2
    np.save("labels.npy", labels)
    Path("classes.json").write_text(json.dumps({"classes": [{"name": "cell"}, {"name": "debris"}]}))
    return tmp_path


def fails_in_one_line(argv, capsys, *words) -> str:
    """Run ``samlabel argv``: exit status 2 (argparse's or ours), one line on stderr holding ``words``."""
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.strip()
    assert rc == 2, f"exit {rc}: {err}"
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


SEGMENT = ["segment", "movie.npy", "--prompts", "p.json", "-o", "out.tif"]
TRACK = ["track", "movie.npy", "--prompts", "p.json", "-o", "out.tif"]


@pytest.mark.parametrize(
    "argv, words",
    [
        (SEGMENT + ["--window", "50", "50"], ("--window", "50", "below")),
        (SEGMENT + ["--window", "200", "0"], ("--window", "200", "below")),
        (SEGMENT + ["--window", "nan", "5"], ("--window", "nan")),
        (SEGMENT + ["--window", "0", "inf"], ("--window", "inf")),
        (TRACK + ["--frames", "-5"], ("--frames", "-5")),
        (TRACK + ["--stop-after", "-1"], ("--stop-after", "-1")),
        (TRACK + ["--frames", "two"], ("--frames", "two")),
    ],
    ids=["window-equal", "window-reversed", "window-nan", "window-inf", "frames", "stop-after", "frames-text"],
)
def test_a_bad_segment_or_track_option_is_one_line_and_nothing_is_written(files, capsys, argv, words):
    fails_in_one_line(argv, capsys, *words)
    assert not (files / "out.tif").exists()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["track", "--frames", "-2"], ("--frames", "-2")),
        (["track", "--stop-after", "-1"], ("--stop-after", "-1")),
        (["segment", "--workers", "-3"], ("--workers", "-3")),
        (["segment", "--workers", "0"], ("--workers", "0")),
        (["segment", "--window", "9", "1"], ("--window",)),
    ],
    ids=["frames", "stop-after", "workers-negative", "workers-zero", "window"],
)
def test_a_bad_batch_option_is_one_line_and_starts_no_cluster(files, capsys, monkeypatch, extra, words):
    """`batch --workers -3` waited forever for a cluster of -3 workers."""
    monkeypatch.setattr(batch, "run_batch", lambda *a, **k: pytest.fail("the batch ran"))
    argv = ["batch", extra[0], "movie.npy", "--prompts", "p.json", "-o", "out", *extra[1:]]
    fails_in_one_line(argv, capsys, *words)
    assert not (files / "out").exists()


def test_a_batch_of_no_workers_is_refused_from_python_too(files, monkeypatch):
    """The Python API has no argparse in front: run_batch refuses before starting a cluster."""
    monkeypatch.setattr(batch, "local_cluster", lambda *a, **k: pytest.fail("a cluster was started"))
    jobs = batch.plan(["movie.npy"], "p.json", "out")
    with pytest.raises(batch.BatchError, match="-3 workers: at least 1"):
        batch.run_batch(jobs, batch.ModelOptions(), "out", n_workers=-3)


def test_a_tracking_axis_outside_the_image_is_refused(files, capsys):
    """`--axis 9` on a 3D movie tracked along axis 0 (9 wrapped round) and exited 0."""
    fails_in_one_line(TRACK + ["--axis", "9"], capsys, "--axis 9", "3D")
    assert not (files / "out.tif").exists()


def test_export_frame_axis_outside_the_labels_is_one_line(files, capsys):
    argv = ["export", "labels.npy", "--ontology", "classes.json", "--format", "csv", "-o", "out.csv"]
    fails_in_one_line(argv + ["--frame-axis", "9"], capsys, "labels.npy", "--frame-axis 9", "3D")
    fails_in_one_line(argv + ["--frame-axis", "-1"], capsys, "--frame-axis", "-1")
    assert not (files / "out.csv").exists()


@pytest.mark.parametrize(
    "text, words",
    [
        ("id,class\n1,cell,spare\n2,debris\n", ("bad.csv", "line 2", "3 fields")),
        ("id,class\ninf,cell\n2,debris\n", ("bad.csv", "line 2", "'inf'")),
        ("id,class\n1e400,cell\n2,debris\n", ("bad.csv", "line 2", "1e400")),
        ("id,class\n1,cell\n2,\"" + "x" * 200_000 + "\"\n", ("bad.csv", "line 3")),
        ("id,class,confidence\n1,cell,7\n2,debris,1\n", ("bad.csv", "line 2", "confidence 7")),
    ],
    ids=["extra-field", "inf-id", "huge-id", "huge-field", "confidence-7"],
)
def test_a_malformed_instances_csv_is_named_with_its_line(files, capsys, text, words):
    (files / "bad.csv").write_text(text, encoding="utf-8")
    argv = ["export", "labels.npy", "--ontology", "classes.json", "--format", "csv", "--instances", "bad.csv",
            "-o", "out.csv"]  # fmt: skip
    fails_in_one_line(argv, capsys, *words)
    assert not (files / "out.csv").exists()


def test_an_excel_csv_with_a_byte_order_mark_is_read(files, capsys):
    """Excel's 'CSV UTF-8' starts with a byte-order mark and ends lines with CRLF."""
    (files / "excel.csv").write_bytes(b"\xef\xbb\xbfid,class,confidence\r\n1,cell,0.5\r\n2,debris,1\r\n")
    rc = main(["export", "labels.npy", "--ontology", "classes.json", "--format", "csv", "--instances", "excel.csv",
               "-o", "out.csv"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    rows = (files / "out.csv").read_text().splitlines()
    assert rows[1].startswith("1,cell,") and ",0.5," in rows[1] and rows[2].startswith("2,debris,")


def test_segment_to_a_place_that_cannot_be_written_is_one_line(files, capsys):
    """-o under a file (a folder that cannot be made) was an uncaught FileExistsError."""
    argv = ["segment", "movie.npy", "--prompts", "p.json", "-o", "movie.npy/out.tif"]
    fails_in_one_line(argv, capsys, "movie.npy/out.tif")
    assert np.load(files / "movie.npy").shape == (4, 48, 48)  # the image is untouched
