"""Labels on disk (a chunked zarr array) behave exactly like labels in memory.

The same user actions run on a numpy session and on a zarr one over the same image:
labels, instance table, undo/redo, locks against napari's own brush, tracking, exports and
projects come out the same. Napari models, no Qt."""

import os

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._napari.registry import sessions
from napari_samlabel._napari.tracking import TrackOptions, make_job
from napari_samlabel.api import AnnotationError, AnnotationSession, open_project
from napari_samlabel.backends.seeds import SeedGrowSegmenter
from napari_samlabel.io import labelstore
from napari_samlabel.synthetic import disc, fluorescence_timelapse


pytestmark = pytest.mark.usefixtures("own_cache")


def both(classes, image):
    """Two sessions over the same image: labels in memory, labels on disk."""
    out = []
    for on_disk in (False, True):
        viewer = ViewerModel()
        layer = viewer.add_image(image, name="movie")
        s = AnnotationSession(layer, ontology=classes, viewer=viewer, labels_on_disk=on_disk)
        sessions(viewer).add(s)
        out.append(s)
    mem, disk = out
    assert isinstance(mem.labels.data, np.ndarray) and not labelstore.is_on_disk(mem.labels.data)
    assert labelstore.is_on_disk(disk.labels.data) and "on disk" in disk.notice
    return mem, disk


def labels(s):
    return np.asarray(s.labels.data[...])


def same(mem, disk):
    np.testing.assert_array_equal(labels(mem), labels(disk))
    assert mem.table.to_json() == disk.table.to_json()
    assert len(mem.labels._undo_history) == len(disk.labels._undo_history)
    assert len(mem.labels._redo_history) == len(disk.labels._redo_history)


def act(s):
    """A user's session: commits, undo/redo, bulk edits over frames, napari's brush, a lock."""
    a = s.commit(disc((40, 50), 10, 10, 5), region=(3,))
    b = s.commit(disc((40, 50), 25, 30, 7), region=(3,))
    s.labels.undo()
    yield "undo"
    s.labels.redo()
    yield "redo"
    s.annotation.copy_to_frames(a.id, 3, range(0, 8))
    yield "copy to frames"
    s.annotation.delete_class("nucleus", range(2, 6))
    yield "delete class"
    s.labels.undo()
    yield "undo the delete"
    s.select_class("cell")
    c = s.labels.selected_label
    s.labels.brush_size = 9
    with s.labels.block_history():  # a napari brush stroke
        s.labels.paint((5, 30, 40), c)
        s.labels.paint((5, 32, 42), c)
    yield "brush"
    s.annotation.set_locked([a.id])
    s.new_instance()
    s.labels.brush_size = 15
    with s.labels.block_history():  # over the locked instance: refused there
        s.labels.paint((4, 10, 10), s.labels.selected_label)
    s.labels.data_setitem((np.array([4, 4]), np.array([10, 11]), np.array([10, 10])), 99)
    yield "napari paints over a locked instance"
    with pytest.raises(AnnotationError, match="locked"):
        s.annotation.delete([a.id])
    s.labels.undo()
    yield "undo is refused on a locked instance"
    s.annotation.set_locked([a.id], False)
    s.annotation.merge([b.id, c])
    s.annotation.table[a.id]  # still there
    yield "merge"
    s.annotation.delete_below(1.01, frames=range(0, 2))
    yield "delete below confidence"
    s.labels.undo()
    s.labels.undo()
    yield "two undos"


@pytest.mark.slow
def test_every_step_matches(classes):
    image = np.random.default_rng(1).random((8, 40, 50))
    mem, disk = both(classes, image)
    done = []
    for step_mem, step_disk in zip(act(mem), act(disk)):  # in lockstep: compared after every action
        assert step_mem == step_disk
        same(mem, disk)
        done.append(step_mem)
        if step_mem == "napari paints over a locked instance":
            a = min(r.id for r in disk.table)
            assert (labels(disk)[4] == a).sum() == disc((40, 50), 10, 10, 5).sum()  # left whole
    assert len(done) == 11


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_tracking_on_disk_matches_memory(classes):
    movie, truth = fluorescence_timelapse(n_frames=10, size=96, n_cells=4, seed=3)
    mem, disk = both(classes, movie)
    for s in (mem, disk):
        s.viewer.dims.set_current_step(0, 4)
        a = s.commit(truth[4] == 2, region=(4,))
        b = s.commit(truth[4] == 3, region=(4,))
        make_job(s, SeedGrowSegmenter().tracker(), [a.id, b.id], TrackOptions("both", 10)).run()
    same(mem, disk)
    assert len(mem.table[a.id].frames) > 5
    for s in (mem, disk):
        s.labels.undo()  # the run is one step
    same(mem, disk)
    assert disk.table[a.id].frames == {4}


@pytest.mark.parametrize("fmt", ["coco", "coco-panoptic", "ctc", "csv", "nifti"])
def test_exports_are_identical(classes, tmp_path, fmt):
    movie, truth = fluorescence_timelapse(n_frames=6, size=64, n_cells=3, seed=1)
    mem, disk = both(classes, movie)
    for s in (mem, disk):
        for cell in (1, 2, 3):
            rec = s.commit(truth[0] == cell, region=(0,))
            for f in range(1, 6):
                if (truth[f] == cell).any():
                    s.commit(truth[f] == cell, region=(f,), label_id=rec.id)
    same(mem, disk)
    name = {"coco": "x.json", "csv": "x.csv", "nifti": "x.nii.gz"}.get(fmt, "x")
    a = mem.export(fmt, tmp_path / "mem" / name)
    b = disk.export(fmt, tmp_path / "disk" / name)
    files_a = sorted(p.relative_to(tmp_path / "mem") for p in (tmp_path / "mem").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "disk") for p in (tmp_path / "disk").rglob("*") if p.is_file())
    assert files_a == files_b and files_a
    for rel in files_a:
        if rel.suffix == ".gz":  # gzip stamps the time: compare what is inside
            import nibabel as nib

            np.testing.assert_array_equal(np.asarray(nib.load(a).dataobj), np.asarray(nib.load(b).dataobj))
        else:
            assert (tmp_path / "mem" / rel).read_bytes() == (tmp_path / "disk" / rel).read_bytes(), rel


def test_project_keeps_a_snapshot_and_reopens_beside_it(classes, tmp_path):
    image = np.random.default_rng(2).random((6, 30, 40))
    _, disk = both(classes, image)
    a = disk.commit(disc((30, 40), 10, 10, 5), region=(2,))
    folder = disk.save_project(tmp_path / "p.samlabel")
    saved = folder / "labels.zarr"
    assert saved.is_dir() and not (folder / "labels.npy").exists()
    live = labelstore.store_path(disk.labels.data)
    chunk = next(p for p in live.rglob("c*") if p.is_file())
    linked = saved / chunk.relative_to(live)
    assert os.stat(linked).st_ino == os.stat(chunk).st_ino  # a hard link: saving copied no labels
    disk.commit(disc((30, 40), 20, 30, 5), region=(2,))  # after saving: the project must not change
    from napari_samlabel.io.project import load_project

    stored, _, table, _ = load_project(folder)
    assert (np.asarray(stored[2]) == a.id).sum() == disc((30, 40), 10, 10, 5).sum()
    assert set(np.unique(np.asarray(stored[...]))) == {0, a.id} and [r.id for r in table.present()] == [a.id]

    disk.close()  # the session that saved it writes there until it closes (the project's lock)
    viewer = ViewerModel()
    again = open_project(viewer, viewer.add_image(image, name="movie"), folder)
    assert labelstore.store_path(again.labels.data) == tmp_path / "p.samlabel.labels.zarr"  # beside it
    np.testing.assert_array_equal(labels(again), np.asarray(stored[...]))
    again.commit(disc((30, 40), 15, 15, 4), region=(4,))  # the working copy is writable...
    assert (np.asarray(load_project(folder)[0][4]) == 0).all()  # ...and the project untouched
    assert table.to_json() == again.table.to_json() or again.table[a.id].frames == {2}


def test_bulk_delete_holds_one_plane_not_the_array(classes):
    """Peak memory of 'delete a class' over every frame, numpy labels: it used to allocate
    more than the labels array itself (a boolean copy, then index arrays of every pixel)."""
    import tracemalloc

    frames, size = 60, 256
    viewer = ViewerModel()
    layer = viewer.add_image(np.zeros((frames, size, size), np.uint8))
    s = AnnotationSession(layer, ontology=classes, viewer=viewer, labels_on_disk=False)
    rec = s.commit(disc((size, size), 128, 128, 80), region=(0,))
    s.annotation.copy_to_frames(rec.id, 0, range(frames))
    nbytes = frames * size * size * 4
    tracemalloc.start()
    s.annotation.delete_class("nucleus")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert not (s.labels.data == rec.id).any()
    assert peak < 0.25 * nbytes, f"peak {peak / 2**20:.1f} MiB for {nbytes / 2**20:.1f} MiB of labels"
    s.labels.undo()
    assert (s.labels.data == rec.id).sum() == frames * disc((size, size), 128, 128, 80).sum()


def test_the_rule_for_labels_on_disk(monkeypatch):
    import dask.array as da

    gib = 2**30
    shape = (100, 1024, 1024)  # 400 MiB of uint32 labels
    assert not labelstore.labels_on_disk(shape, available=8 * gib)  # numpy image, fits
    assert labelstore.labels_on_disk(shape, available=1 * gib)  # more than a quarter of memory
    lazy = da.zeros(shape, np.uint8)
    assert labelstore.labels_on_disk(shape, image_data=lazy, available=64 * gib)  # a lazy image
    assert not labelstore.labels_on_disk((4, 64, 64), image_data=lazy, available=64 * gib)  # too small to bother
    assert not labelstore.labels_on_disk(shape, image_data=lazy, force=False)
    monkeypatch.setenv(labelstore.ON_DISK_ENV, "1")
    assert labelstore.labels_on_disk((4, 64, 64)).on_disk
    monkeypatch.setenv(labelstore.ON_DISK_ENV, "0")
    assert not labelstore.labels_on_disk(shape, image_data=lazy, available=1 * gib)
    assert "as asked" in labelstore.labels_on_disk(shape).reason


def test_a_working_array_is_removed_with_its_last_reference(tmp_path):
    import gc

    path = labelstore.live_path("movie", "0123456789abcdef")
    assert path.parent == labelstore.cache_root() and str(path).startswith(os.environ["SAMLABEL_CACHE"])
    arr = labelstore.create_labels(path, (3, 20, 20))
    arr[1, 2:5, 2:5] = 7
    assert path.is_dir()
    del arr
    gc.collect()
    assert not path.exists()
    beside = labelstore.live_path("movie", project=tmp_path / "p.samlabel")
    assert beside == tmp_path / "p.samlabel.labels.zarr"
