"""One project opened twice (two windows, or two processes on a shared drive) never costs the
first session a label (issue 22, item 1), and a damaged or read-only project opens what it
can (item 8).

The project is locked while a session has it open for writing (``.samlabel.lock``: owner,
stale rule); a second open is refused naming the owner and may open it read-only or as a
copy, whose working arrays go to the cache, never beside the project where the owner's is."""

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_samlabel._reader import open_project_in
from napari_samlabel.api import AnnotationSession, ProjectLocked, current_session, open_project
from napari_samlabel.core.errors import SamlabelError
from napari_samlabel.io import labelstore
from napari_samlabel.io.project import ProjectError, load_project
from napari_samlabel.io.projectlock import LOCK_NAME, STALE_AFTER_S, read_owner
from napari_samlabel.synthetic import disc

pytestmark = pytest.mark.usefixtures("own_cache")

IMAGE = np.random.default_rng(2).random((6, 30, 40))
SAVED = disc((30, 40), 10, 10, 5)  # in the project, on frame 2
UNSAVED = disc((30, 40), 15, 25, 6)  # 113 px painted in the first session, not saved


def _saved_project(classes, folder):
    viewer = ViewerModel()
    s = AnnotationSession(viewer.add_image(IMAGE, name="movie"), ontology=classes, viewer=viewer, labels_on_disk=True)
    s.commit(SAVED, region=(2,))
    out = s.save_project(folder)
    s.close()
    return out


def _open(folder, **mode):
    viewer = ViewerModel()
    return open_project(viewer, viewer.add_image(IMAGE, name="movie"), folder, **mode)


def _painted(session, label_id, frame=3):
    return int((np.asarray(session.labels.data[frame]) == label_id).sum())


@pytest.fixture
def first(classes, tmp_path):
    """The first window: the project open for writing, an instance painted and not saved."""
    s = _open(_saved_project(classes, tmp_path / "p.samlabel"))
    rec = s.commit(UNSAVED, region=(3,))
    assert _painted(s, rec.id) == UNSAVED.sum() == 113
    s.unsaved_id = rec.id
    return s


def test_a_second_open_leaves_the_first_sessions_unsaved_labels(first):
    """The issue as reported: the second open deleted the first's working array (113 px -> 0)."""
    try:
        _open(first.project_folder)
    except SamlabelError:
        pass
    assert _painted(first, first.unsaved_id) == 113


def test_a_second_open_is_refused_naming_the_owner_then_read_only_or_copy(first):
    folder = first.project_folder
    with pytest.raises(ProjectLocked) as refused:
        _open(folder)
    text = str(refused.value)
    assert f"pid {os.getpid()}" in text and socket.gethostname() in text and str(folder) in text
    assert "read-only or as a copy" in text and "\n" not in text

    reader = _open(folder, mode="read")
    mine = labelstore.store_path(first.labels.data)
    theirs = labelstore.store_path(reader.labels.data)
    assert mine == folder.with_name("p.samlabel.labels.zarr")
    assert str(theirs).startswith(os.environ["SAMLABEL_CACHE"])  # never beside the project
    assert _painted(reader, first.unsaved_id) == 0 and _painted(reader, 1, frame=2) == SAVED.sum()  # as saved
    other = reader.commit(disc((30, 40), 20, 8, 4), region=(3,))
    np.testing.assert_array_equal(np.asarray(first.labels.data[3]) != 0, UNSAVED)  # nothing crosses over
    with pytest.raises(ProjectError, match=f"^Opened read-only here \\(open for writing by .*pid {os.getpid()}") as refused:
        reader.save_project()
    assert "\n" not in str(refused.value)
    assert [r.id for r in load_project(folder)[2].present()] == [1]  # the project is as saved
    elsewhere = reader.save_project(folder.with_name("mine.samlabel"))  # Save project as… works
    assert [r.id for r in load_project(elsewhere)[2].present()] == [1, other.id]

    copy = _open(folder, mode="copy")
    assert copy.project_folder is None and copy.labels.name == "p.samlabel (copy)"
    assert str(labelstore.store_path(copy.labels.data)).startswith(os.environ["SAMLABEL_CACHE"])

    first.save_project()  # saving keeps the project locked: the lock moves into the new copy
    assert read_owner(folder)["pid"] == os.getpid()
    with pytest.raises(ProjectLocked):
        _open(folder)
    first.close()  # closing gives it back
    assert not (folder / LOCK_NAME).exists()
    again = _open(folder)
    assert _painted(again, first.unsaved_id) == 113


def test_a_session_over_the_projects_own_labels_works_in_the_cache(first):
    """A project's labels.zarr adopted as a layer (not through open_project): its working copy
    went beside the project too, replacing the first session's there."""
    viewer = ViewerModel()
    layer = viewer.add_labels(load_project(first.project_folder)[0], name="theirs")
    s = AnnotationSession(viewer.add_image(IMAGE, name="movie"), labels=layer, viewer=viewer)
    assert _painted(first, first.unsaved_id) == 113
    assert str(labelstore.store_path(s.labels.data)).startswith(os.environ["SAMLABEL_CACHE"])


def test_save_as_moves_the_lock(first, tmp_path):
    old = first.project_folder
    new = first.save_project(tmp_path / "q.samlabel")
    assert not (old / LOCK_NAME).exists() and read_owner(new)["pid"] == os.getpid()
    _open(old).close()
    with pytest.raises(ProjectLocked):
        _open(new)


CHILD = textwrap.dedent("""
    import sys, time
    from napari_samlabel.io.projectlock import acquire
    lock = acquire(sys.argv[1])
    print("locked", flush=True)
    if sys.argv[2] == "hold":
        time.sleep(60)
""")

CHILD_OPENS = textwrap.dedent("""
    import sys
    import numpy as np
    from napari.components import ViewerModel
    from napari_samlabel.api import open_project
    from napari_samlabel.core.errors import SamlabelError, message
    viewer = ViewerModel()
    try:
        open_project(viewer, viewer.add_image(np.load(sys.argv[2]), name="movie"), sys.argv[1])
        print("opened")
    except SamlabelError as e:
        print(message(e))
""")


@pytest.mark.slow
def test_a_second_process_is_refused(first, tmp_path):
    """Another samlabel process on the same project: refused, the first's labels untouched."""
    np.save(tmp_path / "movie.npy", IMAGE)
    out = subprocess.run([sys.executable, "-c", CHILD_OPENS, str(first.project_folder), str(tmp_path / "movie.npy")],
                         capture_output=True, text=True, timeout=120, env=os.environ)  # fmt: skip
    assert "open for writing by" in out.stdout and f"pid {os.getpid()}" in out.stdout, out.stdout + out.stderr
    assert _painted(first, first.unsaved_id) == 113


@pytest.mark.slow
def test_a_live_process_holds_it_a_killed_one_does_not(classes, tmp_path):
    folder = _saved_project(classes, tmp_path / "p.samlabel")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(folder), "hold"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(ProjectLocked, match=f"pid {child.pid}"):
            _open(folder)
    finally:
        child.kill()
        child.wait()
    s = _open(folder)  # its process is gone: the lock is stale and taken over
    assert read_owner(folder)["pid"] == os.getpid() and _painted(s, 1, frame=2) == SAVED.sum()


@pytest.mark.slow
def test_a_process_that_ends_without_closing_gives_it_back(classes, tmp_path):
    folder = _saved_project(classes, tmp_path / "p.samlabel")
    subprocess.run([sys.executable, "-c", CHILD, str(folder), "exit"], check=True, timeout=60)
    assert not (folder / LOCK_NAME).exists()


def test_another_hosts_lock_is_stale_only_when_old(classes, tmp_path):
    folder = _saved_project(classes, tmp_path / "p.samlabel")
    owner = {"user": "alice", "host": "elsewhere.example", "pid": 1, "time": time.time() - 60, "token": "t"}
    (folder / LOCK_NAME).write_text(json.dumps(owner))
    with pytest.raises(ProjectLocked, match="alice on elsewhere.example"):
        _open(folder)
    (folder / LOCK_NAME).write_text(json.dumps({**owner, "time": time.time() - STALE_AFTER_S - 60}))
    _open(folder)
    assert read_owner(folder)["host"] == socket.gethostname()


@pytest.fixture
def read_only_share(monkeypatch):
    """Make a folder unwritable: chmod where that stops us; as root (whom chmod does not stop)
    every write under it fails as the OS would fail it (EACCES from open, mkdir and link)."""
    import builtins
    import io

    def make(folder):
        folder = Path(folder).resolve()
        if os.geteuid() != 0:
            for p in [folder, *folder.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o222)
            return

        def under(path):
            try:
                return Path(os.fsdecode(path)).resolve().is_relative_to(folder)
            except (TypeError, ValueError):
                return False

        def refuse(path):
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))

        real_open, real_os_open, real_mkdir, real_link = builtins.open, os.open, os.mkdir, os.link

        def fake_open(file, mode="r", *a, **k):
            if isinstance(file, (str, os.PathLike)) and set(mode) & set("wax+") and under(file):
                refuse(file)
            return real_open(file, mode, *a, **k)

        def fake_os_open(path, flags, *a, **k):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
                refuse(path)
            return real_os_open(path, flags, *a, **k)

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(os, "open", fake_os_open)
        monkeypatch.setattr(os, "mkdir", lambda p, *a, **k: refuse(p) if under(p) else real_mkdir(p, *a, **k))
        monkeypatch.setattr(os, "link", lambda s, d, *a, **k: refuse(d) if under(d) else real_link(s, d, *a, **k))

    return make


def test_a_project_on_a_read_only_share_opens_read_only(classes, tmp_path, read_only_share):
    share = tmp_path / "share"
    folder = _saved_project(classes, share / "p.samlabel")
    read_only_share(share)
    listing = sorted(map(str, share.rglob("*")))

    with pytest.raises(ProjectLocked, match="cannot be written here") as refused:
        _open(folder)
    assert refused.value.owner is None
    s = _open(folder, mode="read")
    assert _painted(s, 1, frame=2) == SAVED.sum()
    assert str(labelstore.store_path(s.labels.data)).startswith(os.environ["SAMLABEL_CACHE"])
    s.commit(UNSAVED, region=(3,))
    with pytest.raises(ProjectError, match="read-only"):
        s.save_project()
    assert sorted(map(str, share.rglob("*"))) == listing  # nothing written on the share


def test_a_damaged_chunk_opens_the_rest_and_says_which(classes, tmp_path, monkeypatch):
    from napari_samlabel._napari import session as session_module

    folder = _saved_project(classes, tmp_path / "p.samlabel")
    chunk = folder / "labels.zarr" / "c.2.0.0"
    data = chunk.read_bytes()
    chunk.unlink()
    chunk.write_bytes(data[:5] + b"x" * 10 + data[15:])
    warned = []
    monkeypatch.setattr(session_module, "_warn", warned.append)

    s = _open(folder)  # used to fail whole with a bare "Zstd decompression error"

    assert any(w.startswith(f"{chunk}: cannot be read (Zstd") and "frame 2" in w and "instance 1 was there" in w
               for w in warned), warned  # fmt: skip
    assert (np.asarray(s.labels.data[2]) == 0).all()
    rec = s.commit(UNSAVED, region=(3,))  # the rest works as ever
    assert _painted(s, rec.id) == 113
    assert chunk.read_bytes() != data  # the project is left as found until the user saves


def test_file_open_of_a_held_project_opens_it_read_only_and_says_who_has_it(first, monkeypatch):
    """File > Open and `samlabel FOLDER` cannot ask: read-only harms nobody, and it is said."""
    told = []
    monkeypatch.setattr("napari.utils.notifications.show_warning", told.append)
    viewer = ViewerModel()
    viewer.add_image(IMAGE, name="movie")
    open_project_in(viewer, first.project_folder)
    s = current_session(viewer)
    assert s is not None and s.read_only and _painted(first, first.unsaved_id) == 113
    # the meaning first (napari's notification shows the start of a long line), then the folder
    assert any(t.startswith("Opened read-only: open for writing by ") and str(first.project_folder) in t for t in told)


def test_a_copy_of_a_held_project_is_nobodys(first, tmp_path):
    """A file manager copies the lock with the folder: the copy opens for writing (its lock
    names the original folder), the original stays held."""
    import shutil

    copy = tmp_path / "copy.samlabel"
    shutil.copytree(first.project_folder, copy, ignore=shutil.ignore_patterns("*.labels.zarr"))
    s = _open(copy)
    assert s.read_only is None and read_owner(copy)["folder"] == str(copy.resolve())
    with pytest.raises(ProjectLocked):
        _open(first.project_folder)
    s.close()
