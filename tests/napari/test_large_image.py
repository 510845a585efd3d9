"""Images larger than memory: lazy images are read only where work happens, a 5000-frame
image starts a session with its labels on disk, and OME-Zarr pyramids open and prompt on
their full-resolution level. Napari models, no Qt; the weight-free 'seeds' backend."""

import re

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari.prompting import PromptController
from napari_samlabel._napari.tracking import TrackOptions, make_job
from napari_samlabel.api import start_session
from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.io import labelstore
from napari_samlabel.synthetic import disc


pytestmark = pytest.mark.usefixtures("own_cache")


@pytest.fixture
def chunk_reads(monkeypatch):
    """Every chunk key read from a zarr folder on disk, as (folder, key)."""
    from zarr.storage import LocalStore

    seen: list[tuple[str, str]] = []
    original = LocalStore.get

    async def get(self, key, *args, **kwargs):
        seen.append((str(self.root), key))
        return await original(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "get", get)
    return seen


def cell_movie(frames: int, size: int):
    """A lazy movie (one dask chunk per frame) of a bright cell drifting right, and the
    frames computed so far."""
    import dask.array as da

    read: list[int] = []

    def frame(block_id=None):
        f = block_id[0]
        read.append(f)
        return (disc((size, size), size // 2, 12 + f, 7) * 200 + 20).astype(np.uint8)[None]

    return da.map_blocks(frame, dtype=np.uint8, chunks=((1,) * frames, (size,), (size,))), read


def frames_of(keys, folder) -> set[int]:
    """The frames whose label chunks were read (keys c.<t>.<y>.<x>)."""
    out = set()
    for root, key in keys:
        m = re.match(r"c[./](\d+)[./]", key)
        if root == str(folder) and m:
            out.add(int(m.group(1)))
    return out


def test_a_lazy_image_is_read_only_where_work_happens(classes, chunk_reads, tmp_path, monkeypatch):
    monkeypatch.setenv(labelstore.ON_DISK_ENV, "1")  # a small movie: its labels on disk as asked
    image, read = cell_movie(30, 64)
    viewer = ViewerModel()
    layer = viewer.add_image(image, contrast_limits=(0, 255), name="movie")
    s = start_session(viewer, layer, ontology=classes)
    folder = labelstore.store_path(s.labels.data)
    assert folder is not None and s.storage.on_disk
    pc = PromptController(s, SeedGrowSegmenter())
    viewer.dims.set_current_step(0, 7)
    read.clear()
    chunk_reads.clear()

    pc.add_point([7, 32, 19])  # on the cell of frame 7
    pc.update_preview()
    rec = pc.commit()
    # napari reads labels plane 0 for the layer's dtype each time the brush gets a new id
    assert set(read) == {7} and {7} <= frames_of(chunk_reads, folder) <= {7, 0}
    assert rec.frames == {7} and (np.asarray(s.labels.data[7]) == rec.id).sum() > 100

    read.clear()
    made = pc.label_all()  # find everything on this plane
    assert set(read) <= {7} and all(r.frames == {7} for r in made)

    read.clear()
    chunk_reads.clear()
    make_job(s, SeedGrowSegmenter().tracker(), [rec.id], TrackOptions("forward", 4)).run()
    assert {8, 9, 10} <= set(read) <= {7, 8, 9, 10}  # the run's frames, nothing else
    assert {8, 9, 10} <= frames_of(chunk_reads, folder) <= {7, 8, 9, 10, 0}
    assert s.table[rec.id].frames == {7, 8, 9, 10}

    read.clear()
    out = s.export("coco", tmp_path / "coco.json")
    assert out.is_file() and read == []  # exports read labels (plane by plane), never the image
    s.labels.undo()  # the run
    assert s.table[rec.id].frames == {7}
    assert read == []


def test_a_5000_frame_lazy_image_starts_a_session_with_labels_on_disk(classes):
    """5000 x 1024 x 1024: dense uint32 labels would be 19.5 GiB (a MemoryError, or a
    virtual array whose first bulk edit exhausts memory)."""
    import dask.array as da
    import psutil

    proc = psutil.Process()
    viewer = ViewerModel()
    layer = viewer.add_image(da.zeros((5000, 1024, 1024), np.uint8, chunks=(1, 1024, 1024)), contrast_limits=(0, 255))
    before = proc.memory_info().rss
    s = start_session(viewer, layer, ontology=classes)  # the rule alone: no forcing
    assert s.storage.on_disk and labelstore.is_on_disk(s.labels.data)
    assert s.labels.data.shape == (5000, 1024, 1024) and s.labels.data.chunks == (1, 1024, 1024)
    rec = s.commit(disc((1024, 1024), 500, 500, 100), region=(4321,))
    assert rec.frames == {4321} and (np.asarray(s.labels.data[4321]) == rec.id).sum() == disc((1024, 1024), 500, 500, 100).sum()
    s.labels.undo()
    assert not (np.asarray(s.labels.data[4321])).any() and not s.table[rec.id].frames
    assert proc.memory_info().rss - before < 512 * 2**20


def write_ome_zarr(path, movie: np.ndarray, version: str):
    """A two-level OME-Zarr (t, y, x) written with zarr itself: NGFF 0.4 on zarr v2, 0.5 on v3."""
    import zarr

    levels = [movie, movie[:, ::2, ::2]]
    ms = {
        "version": version, "name": "cells",
        "axes": [{"name": "t", "type": "time"}, {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5 * 2**i, 0.5 * 2**i]}]}
                     for i in range(2)],
    }  # fmt: skip
    group = zarr.open_group(str(path), mode="w", zarr_format=2 if version == "0.4" else 3)
    for i, lv in enumerate(levels):
        group.create_array(str(i), shape=lv.shape, dtype=lv.dtype, chunks=(1, 32, 32))[...] = lv
    if version == "0.4":
        group.attrs["multiscales"] = [ms]
    else:
        group.attrs["ome"] = {"version": version, "multiscales": [ms]}
    return levels


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_opens_as_a_pyramid_and_prompts_at_full_resolution(classes, tmp_path, chunk_reads, version):
    from napari.layers import Layer

    from napari_samlabel._reader import napari_get_reader, read_ome_zarr_layers

    movie = np.stack([(disc((96, 96), 48, 20 + 4 * f, 9) * 200 + 20).astype(np.uint8) for f in range(5)])
    path = tmp_path / "cells.ome.zarr"
    levels = write_ome_zarr(path, movie, version)
    assert napari_get_reader(str(path)) is read_ome_zarr_layers
    assert napari_get_reader(str(tmp_path)) is None  # a folder holding one is not one
    (data, kwargs, kind), = read_ome_zarr_layers(str(path))
    viewer = ViewerModel()
    layer = viewer.add_layer(Layer.create(data, kwargs, kind))
    assert layer.multiscale and [tuple(d.shape) for d in layer.data] == [lv.shape for lv in levels]
    np.testing.assert_allclose(layer.scale, [1.0, 0.5, 0.5])
    assert layer.name == "cells" and tuple(layer.axis_labels) == ("t", "y", "x")

    s = start_session(viewer, layer, ontology=classes)
    assert s.labels.data.shape == (5, 96, 96)  # labels at full resolution
    np.testing.assert_allclose(s.labels.scale, layer.scale)
    pc = PromptController(s, SeedGrowSegmenter())
    viewer.dims.set_current_step(0, 3)
    chunk_reads.clear()
    pc.add_point([3, 48, 32])  # data coordinates of level 0: the cell of frame 3
    pc.update_preview()
    rec = pc.commit()
    got = np.asarray(s.labels.data[3]) == rec.id
    want = movie[3] > 100
    assert (got & want).sum() / (got | want).sum() > 0.9
    full = [k for root, k in chunk_reads if root == str(path) and k.startswith("0/")]
    assert full, "the prompt did not read the full-resolution level"
    frames = {int(re.split(r"[./]", k[2:])[0 if version == "0.4" else 1]) for k in full if "zarr.json" not in k and ".z" not in k}
    assert frames == {3}  # only the plane prompted on
