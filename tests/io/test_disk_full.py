"""A full disk during an export (issue 22, item 11): every format leaves nothing behind (no
``.part`` file, no half-written folder, nothing that was there before removed or changed) and
says in one line which file it was writing, how much space is free and about how much the
export needs.

The disk fills two ways: a fake one that runs everywhere (``open`` patched for the test's
folder: writes past its capacity raise ENOSPC, as a real disk does) and, where the tests run
as root, a real 64 KB tmpfs."""

import errno
import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from dicom_helpers import write_dicom_series
from nibabel.openers import ImageOpener, Opener

from napari_samlabel.core import Annotation, Ontology
from napari_samlabel.core.errors import SamlabelError
from napari_samlabel.core.instances import InstanceTable
from napari_samlabel.io.exporting import export
from napari_samlabel.io.images import read_image, write_labels
from napari_samlabel.io.writing import human_size
from napari_samlabel.synthetic import disc

SHAPE = (32, 40)
MESSAGE = re.compile(r"^disk full writing (?P<file>\S+): (?P<free>[\d.]+ (?:bytes|KB|MB|GB)) free, "
                     r"needs (?:about|more than) [\d.]+ (?:bytes|KB|MB|GB)$")  # fmt: skip

# (format, output name inside the chosen folder): every export path
EXPORTS = [
    ("coco", "coco.json"), ("coco-panoptic", "panoptic"), ("csv", "instances.csv"), ("nifti", "labels.nii.gz"),
    ("nifti", "labels.nii"), ("ctc", "RES"), ("cvat-mask", "cvat"), ("cvat-mask", "cvat.zip"),
    ("semantic", "semantic.tif"), ("semantic", "semantic.png"), ("semantic", "semantic.nii.gz"),
]  # fmt: skip


@pytest.fixture
def ann():
    """Three frames of noisy instances (so that compressed files are not tiny)."""
    onto = Ontology.from_dict({"classes": [{"name": "nucleus", "color": "#ff8800"}, {"name": "cell", "color": "#3cb44b"}]})
    a = Annotation(np.zeros((3, *SHAPE), np.uint32), onto, frame_axis=0)
    rng = np.random.default_rng(0)
    for frame in range(3):
        for k in range(6):
            inst = a.new_instance(("nucleus", "cell")[k % 2])
            mask = disc(SHAPE, *rng.integers(4, 28, 2), 4) & (rng.random(SHAPE) < 0.7)
            with a.action():
                a.write_mask(mask, inst.id, (frame,), "overwrite")
    return a


def run_export(fmt, out, ann):
    return export(fmt, out, ann.store.data, ann.ontology, ann.table, 0)


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``folder``."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def export_size(fmt, name, ann, scratch: Path) -> int:
    scratch.mkdir()
    run_export(fmt, scratch / name, ann)
    return sum(p.stat().st_size for p in scratch.rglob("*") if p.is_file())


class FakeDisk:
    """Files opened for writing under ``root`` share ``capacity`` bytes; a write past it writes
    what fits and raises ENOSPC, as a full disk does. Libraries that write through a file's
    descriptor (numpy's tofile, Pillow's encoder) are handed no descriptor, so they use write()."""

    def __init__(self, root: Path, capacity: int) -> None:
        self.root, self.capacity, self.used = root.resolve(), capacity, 0

    def wraps(self, file, mode) -> bool:
        if not isinstance(file, (str, os.PathLike)) or not any(c in mode for c in "wax+"):
            return False
        return Path(file).resolve().is_relative_to(self.root)

    def patch(self, monkeypatch) -> None:
        real_open = io.open

        def patched_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            return _Filling(f, self) if self.wraps(file, mode) else f

        monkeypatch.setattr("builtins.open", patched_open)
        monkeypatch.setattr("io.open", patched_open)
        # nibabel keeps the open() it imported, for uncompressed files
        for opener in (Opener, ImageOpener):
            monkeypatch.setitem(opener.compress_ext_map, None, (patched_open, ("mode", "buffering")))
        free = lambda path: shutil._ntuple_diskusage(self.capacity, 0, self.capacity)  # noqa: E731
        monkeypatch.setattr("shutil.disk_usage", free)


class _Filling:
    def __init__(self, f, disk: FakeDisk) -> None:
        self._f, self._disk = f, disk

    def write(self, data):
        n = len(data.encode() if isinstance(data, str) else memoryview(data).cast("B"))
        left = self._disk.capacity - self._disk.used
        if n > left:
            self._f.write(data[:left])  # what fits
            self._disk.used = self._disk.capacity
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk.used += n
        return self._f.write(data)

    def fileno(self):
        raise io.UnsupportedOperation("fileno")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()

    def __iter__(self):
        return iter(self._f)

    def __getattr__(self, name):
        return getattr(self._f, name)


def check_message(e: BaseException, folder: Path) -> re.Match:
    """One line: the file being written (inside the chosen folder, never a .part), free, needed."""
    assert isinstance(e, SamlabelError) and isinstance(e, OSError), repr(e)
    said = MESSAGE.match(str(e))
    assert said, str(e)
    named = Path(said["file"])
    assert named.is_relative_to(folder) and ".part" not in named.name, str(e)
    return said


@pytest.mark.parametrize("fmt,name", EXPORTS, ids=[f"{f}:{n}" for f, n in EXPORTS])
def test_a_full_disk_leaves_nothing_behind_and_says_which_file(fmt, name, ann, tmp_path, monkeypatch):
    size = export_size(fmt, name, ann, tmp_path / "scratch")
    disk = tmp_path / "disk"
    disk.mkdir()
    (disk / "mine.txt").write_text("the user's own file")
    before = tree(disk)
    labels_before = np.array(ann.store.data)
    FakeDisk(disk, capacity=size // 2).patch(monkeypatch)
    with pytest.raises(OSError) as e:
        run_export(fmt, disk / name, ann)
    monkeypatch.undo()
    said = check_message(e.value, disk)
    assert said["free"] == human_size(size // 2)  # measured after the export's own files went
    assert tree(disk) == before  # no .part, no half folder; the user's file untouched
    np.testing.assert_array_equal(ann.store.data, labels_before)


@pytest.mark.parametrize("fmt,name", [("coco", "coco.json"), ("csv", "instances.csv")])
def test_a_single_file_export_says_exactly_what_it_needs(fmt, name, ann, tmp_path, monkeypatch):
    size = export_size(fmt, name, ann, tmp_path / "scratch")
    disk = tmp_path / "disk"
    disk.mkdir()
    FakeDisk(disk, capacity=size // 3).patch(monkeypatch)
    with pytest.raises(OSError) as e:
        run_export(fmt, disk / name, ann)
    monkeypatch.undo()
    assert str(e.value) == f"disk full writing {disk / name}: {human_size(size // 3)} free, needs about {human_size(size)}"


@pytest.mark.slow
@pytest.mark.parametrize("fmt,name", [("ctc", "RES"), ("coco-panoptic", "panoptic"), ("cvat-mask", "cvat"),
                                      ("coco", "coco.json"), ("cvat-mask", "cvat.zip")])  # fmt: skip
def test_a_failed_export_over_an_earlier_one_keeps_the_earlier_one(fmt, name, ann, tmp_path, monkeypatch):
    """The user exports, labels more, exports again into the same place: the disk fills. The first
    export is still there, every byte of it, and nothing of the second."""
    run_export(fmt, tmp_path / name, ann)
    before = tree(tmp_path)
    size = sum(len(data) for data in before.values() if data)
    inst = ann.new_instance("cell")
    with ann.action():
        ann.write_mask(disc(SHAPE, 16, 20, 10), inst.id, (1,), "overwrite")
    FakeDisk(tmp_path, capacity=size // 2).patch(monkeypatch)
    with pytest.raises(OSError) as e:
        run_export(fmt, tmp_path / name, ann)
    monkeypatch.undo()
    check_message(e.value, tmp_path)
    assert tree(tmp_path) == before


@pytest.mark.slow  # over a second: the quick tier stays under two minutes
def test_the_labels_tif_of_segment_is_written_whole_or_not_at_all(tmp_path, monkeypatch):
    """write_labels (``samlabel segment``'s .tif/.npy/.nii.gz) shares the mechanism."""
    labels = np.random.default_rng(1).integers(0, 2**16, (4, 64, 64), dtype=np.uint16)
    FakeDisk(tmp_path, capacity=5000).patch(monkeypatch)
    for name in ("labels.tif", "labels.npy", "sub/labels.nii.gz"):
        with pytest.raises(OSError) as e:
            write_labels(tmp_path / name, labels)
        check_message(e.value, tmp_path)
    monkeypatch.undo()
    assert tree(tmp_path) == {}


def test_a_dicom_seg_is_written_whole_or_not_at_all(ann, tmp_path, monkeypatch):
    write_dicom_series(tmp_path / "ct", np.zeros((3, *SHAPE), np.int16))
    _, meta = read_image(tmp_path / "ct")
    disk = tmp_path / "disk"
    FakeDisk(disk, capacity=3000).patch(monkeypatch)
    with pytest.raises(OSError) as e:
        export("dicom-seg", disk / "seg" / "seg.dcm", ann.store.data, ann.ontology, ann.table, 0, meta)
    monkeypatch.undo()
    check_message(e.value, disk)
    assert not disk.exists()  # and the folders it made for the file are gone with it


# -- a real full disk: a 64 KB tmpfs (root only) ---------------------------------------------
@pytest.fixture
def tiny_disk(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a 64 KB tmpfs needs root (the fake disk above runs everywhere)")
    disk = tmp_path / "tmpfs"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield disk
    finally:  # lazily when a file is still open in it (a failing test's)
        if subprocess.run(["umount", str(disk)], check=False).returncode:
            subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize("fmt,name", [("ctc", "RES"), ("coco", "coco.json"), ("cvat-mask", "cvat.zip"),
                                      ("nifti", "labels.nii")])  # fmt: skip
def test_a_real_full_disk(fmt, name, tiny_disk):
    """Incompressible labels too big for 64 KB: the real ENOSPC, the real free space."""
    onto = Ontology.from_dict({"classes": [{"name": "cell", "color": "#3cb44b"}]})
    labels = np.random.default_rng(2).integers(0, 250, (6, 128, 128)).astype(np.uint32)
    table = InstanceTable()
    for _ in range(250):
        table.allocate("cell")
    (tiny_disk / "mine.txt").write_text("the user's own file")
    with pytest.raises(OSError) as e:
        export(fmt, tiny_disk / name, labels, onto, table, 0)
    said = check_message(e.value, tiny_disk)
    assert said["free"].endswith("KB")
    assert tree(tiny_disk) == {"mine.txt": b"the user's own file"}
