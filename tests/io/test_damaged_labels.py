"""A project whose labels on disk lost or broke a chunk file opens what can be read, and says
which chunk file, which frames and which instances it could not (issue 22, item 8).

Three damages a disk or a careless copy does: bytes garbled in place, a file cut short, a file
gone. Each used to make the whole project unopenable (a bare "Zstd decompression error", or
"not a complete samlabel project (labels.npy)" of a project that has no labels.npy), or, in a
session, to drop the frame's instance without a word."""

import os

import numpy as np
import pytest

from napari_samlabel.core import InstanceTable, Ontology
from napari_samlabel.io import labelstore
from napari_samlabel.io.project import load_project, save_project

pytestmark = pytest.mark.usefixtures("own_cache")

FRAMES = {1: 5, 2: 6, 4: 7}  # frame -> the instance drawn on it


def _project(folder):
    """A 6-frame project with labels on disk: one instance on each of frames 1, 2 and 4."""
    onto = Ontology.from_dict({"classes": [{"name": "cell", "color": "#ff8800", "kind": "thing"}]})
    table = InstanceTable()
    arr = labelstore.create_labels(labelstore.live_path("movie", "k"), (6, 30, 40))
    for frame, label_id in FRAMES.items():
        arr[frame, 5:15, 10:20] = label_id
        table.adopt(label_id, "cell").frames.add(frame)
    return save_project(folder, arr, onto, table, {"frame_axis": 0, "image": "movie"})


def _damage(chunk, how):
    data = chunk.read_bytes()
    os.unlink(chunk)  # a hard link: the working array's file stays as it was
    if how == "garbled":
        chunk.write_bytes(data[:5] + b"x" * 10 + data[15:])
    elif how == "cut short":
        chunk.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["garbled", "cut short", "gone"])
def test_one_damaged_chunk_costs_its_frame_and_is_named(tmp_path, how):
    folder = _project(tmp_path / "p.samlabel")
    chunk = folder / "labels.zarr" / "c.2.0.0"
    _damage(chunk, how)

    labels, _, table, meta = load_project(folder)

    frames = np.asarray(labels[...])  # every frame reads: none raises for the damaged one
    for frame, label_id in FRAMES.items():
        expected = 0 if frame == 2 else 10 * 10
        assert (frames[frame] == label_id).sum() == expected
    notes = meta.get("notes", [])
    assert len(notes) == 1, notes
    (note,) = notes
    assert "frame 2" in note and "instance 6 was there" in note and "\n" not in note
    if how == "gone":
        assert f"{folder / 'labels.zarr'}: no chunk file for frame 2" in note
    else:  # the file itself is named, with the codec's own reason
        assert note.startswith(f"{chunk}: cannot be read (") and "decompression" in note.lower()
    assert sorted(table[6].frames) == [2]  # the record says what was there; nothing dropped silently
    assert chunk.exists() == (how != "gone")  # the project itself is left as it was found


def test_a_damaged_project_is_read_without_writing_beside_it(tmp_path):
    """What can be read is read without writing beside the project: the readable copy is
    made in the cache."""
    folder = _project(tmp_path / "share" / "p.samlabel")
    _damage(folder / "labels.zarr" / "c.4.0.0", "garbled")
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "share").rglob("*"))

    labels, _, _, meta = load_project(folder)

    assert (np.asarray(labels[4]) == 0).all() and (np.asarray(labels[1]) == 5).sum() == 100
    assert "c.4.0.0" in meta["notes"][0] and "frame 4" in meta["notes"][0]
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "share").rglob("*")) == before
    assert os.environ["SAMLABEL_CACHE"] in str(labelstore.store_path(labels))


def test_a_sound_project_has_nothing_to_say(tmp_path):
    folder = _project(tmp_path / "p.samlabel")
    labels, _, _, meta = load_project(folder)
    assert not meta.get("notes") and labelstore.store_path(labels) == folder / "labels.zarr"


def test_samlabel_export_of_a_damaged_project_says_what_it_lacks(tmp_path, capsys):
    from napari_samlabel.cli import main

    folder = _project(tmp_path / "p.samlabel")
    _damage(folder / "labels.zarr" / "c.1.0.0", "cut short")
    assert main(["export", str(folder), "--format", "csv", "-o", str(tmp_path / "out.csv")]) == 0
    out = capsys.readouterr().out
    assert f"{folder / 'labels.zarr' / 'c.1.0.0'}: cannot be read" in out and "frame 1" in out


def test_a_big_unchanged_project_is_not_decoded_whole_at_open(tmp_path, monkeypatch):
    """Opening decodes every chunk only where the files changed since the save (or there are
    few): a 5000-plane project would otherwise be read whole before it opens."""
    from napari_samlabel.io import project

    folder = _project(tmp_path / "p.samlabel")
    monkeypatch.setattr(project, "FULL_CHECK_CHUNKS", 2)  # three chunk files: "big"
    decoded = []
    real = labelstore.unreadable_chunks
    monkeypatch.setattr(labelstore, "unreadable_chunks", lambda data: decoded.append(1) or real(data))
    load_project(folder)
    assert decoded == []
    _damage(folder / "labels.zarr" / "c.2.0.0", "cut short")  # its size changed: every chunk is decoded
    _, _, _, meta = load_project(folder)
    assert decoded == [1] and "frame 2" in meta["notes"][0]
