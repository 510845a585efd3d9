"""Projects of a sensible size (issue 23, item 8): labels a session holds in memory are saved as a
compressed zarr array (zstd, one chunk per plane, the smallest unsigned dtype that holds the
largest id), read back as the session's uint32; projects saved with labels.npy still open."""

import json
import os

import numpy as np
import pytest
import zarr

from napari_samlabel.core import InstanceTable, Ontology
from napari_samlabel.io.project import load_project, save_project

pytestmark = pytest.mark.usefixtures("own_cache")


def _organs(shape=(40, 64, 64), ids=(1, 2, 3)):
    """A volume with a few ellipsoid "organs", as a CT session holds it (uint32)."""
    z, y, x = np.ogrid[tuple(slice(0, n) for n in shape)]
    out = np.zeros(shape, np.uint32)
    for k, label_id in enumerate(ids):
        c = (shape[0] * (0.3 + 0.2 * k), shape[1] * 0.5, shape[2] * (0.3 + 0.2 * k))
        out[((z - c[0]) / 8) ** 2 + ((y - c[1]) / 20) ** 2 + ((x - c[2]) / 10) ** 2 < 1] = label_id
    return out


def _save(folder, labels):
    onto = Ontology.from_dict({"classes": [{"name": "liver", "color": "#ff8800", "kind": "thing"}]})
    table = InstanceTable()
    for label_id in np.unique(labels)[1:]:
        table.adopt(int(label_id), "liver").frames.update(int(f) for f in np.flatnonzero((labels == label_id).any(axis=(1, 2))))
    return save_project(folder, labels, onto, table, {"frame_axis": 0, "image": "ct"})


def _size(folder):
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_labels_in_memory_are_saved_compressed_and_open_as_uint32(tmp_path):
    labels = _organs()
    folder = _save(tmp_path / "ct.samlabel", labels)
    assert _size(folder) < labels.nbytes / 20  # 655 kB of uint32 labels: a labels.npy was all of it
    assert not (folder / "labels.npy").exists()
    stored = zarr.open_array(folder / "labels.zarr", mode="r")  # plain zarr reads it
    assert stored.dtype == np.uint8 and stored.chunks == (1, 64, 64)
    assert [c.to_dict()["name"] for c in stored.compressors] == ["zstd"]
    assert np.array_equal(stored[...], labels)
    back, _, table, meta = load_project(folder)
    assert isinstance(back, np.ndarray) and back.dtype == np.uint32 and np.array_equal(back, labels)
    assert not meta.get("notes") and sorted(r.id for r in table) == [1, 2, 3]


def test_ids_past_255_keep_a_wider_dtype(tmp_path):
    labels = _organs(ids=(1, 300, 70000))
    folder = _save(tmp_path / "ct.samlabel", labels)
    assert zarr.open_array(folder / "labels.zarr", mode="r").dtype == np.uint32
    folder = _save(tmp_path / "two.samlabel", _organs(ids=(1, 300)))
    assert zarr.open_array(folder / "labels.zarr", mode="r").dtype == np.uint16
    assert np.array_equal(load_project(folder)[0], _organs(ids=(1, 300)))


def test_a_project_saved_with_labels_npy_still_opens(tmp_path):
    labels = _organs()
    folder = _save(tmp_path / "old.samlabel", labels)
    # as saved before labels.zarr: labels.npy, listed with its size in project.json
    import shutil

    shutil.rmtree(folder / "labels.zarr")
    np.save(folder / "labels.npy", labels)
    info = json.loads((folder / "project.json").read_text())
    for key in ("labels.zarr", "labels_in_memory"):
        info.pop(key)
    info["files"]["labels.npy"] = (folder / "labels.npy").stat().st_size
    (folder / "project.json").write_text(json.dumps(info))
    back, *_ = load_project(folder)
    assert np.array_equal(back, labels)
    # saved again, it is a compressed project
    _save(folder, back)
    assert not (folder / "labels.npy").exists() and (folder / "labels.zarr" / "zarr.json").is_file()


def test_a_damaged_chunk_names_its_file_and_keeps_the_other_frames(tmp_path):
    labels = _organs()
    folder = _save(tmp_path / "ct.samlabel", labels)
    frame = int(np.flatnonzero(labels.any(axis=(1, 2)))[0])
    chunk = folder / "labels.zarr" / f"c.{frame}.0.0"
    data = chunk.read_bytes()
    os.unlink(chunk)
    chunk.write_bytes(data[: len(data) // 2])
    back, _, _, meta = load_project(folder)
    assert any(str(chunk) in note and f"frame {frame}" in note for note in meta["notes"])
    assert back.dtype == np.uint32 and not back[frame].any()
    keep = np.ones(len(labels), bool)
    keep[frame] = False
    assert np.array_equal(back[keep], labels[keep])
