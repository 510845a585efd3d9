"""Project folders: labels + ontology + instance table (+ geometry) in one place.

Saving never deletes what it did not write, and a crash at any point leaves a
complete project that :func:`load_project` finds:

1. everything is written into ``<name>.saving`` and flushed to disk (fsync);
   ``project.json`` is written last and lists every file with its size, so a
   copy is *complete* exactly when its ``project.json`` says so;
2. the current ``<name>`` (if any) is renamed to ``<name>.old``;
3. ``<name>.saving`` is renamed to ``<name>`` and the parent folder flushed;
4. ``<name>.old`` is removed.

Opening takes the first complete copy of ``<name>``, ``<name>.saving`` (newer
than ``.old`` whenever ``<name>`` is missing) and ``<name>.old``; saving first
puts such a leftover back in place, so repeated crashes never lose the last
complete copy. A folder that exists and is not a project of ours is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.instances_check import check_against_ontology
from ..core.ontology import Ontology
from .errors import ProjectError
from .labelstore import store_path
from .projectlock import LOCK_NAME, ProjectLock, acquire, check_free

VERSION = 2
FORMAT = "napari-samlabel project"
FILES = ("labels.npy", "ontology.json", "instances.json")
ZARR = "labels.zarr"  # labels (io.labelstore's layout) are saved as this folder; labels.npy before
IN_MEMORY = "labels_in_memory"  # project.json: labels.zarr holds labels a session had in memory
MARK = ".samlabel-project"  # written first into every copy: the folder is ours even half-written
OURS = {*FILES, ZARR, "project.json", MARK, LOCK_NAME}


# -- names ------------------------------------------------------------------
def image_key(name: str, shape, source: dict | None = None, pixels: str | None = None) -> str:
    """A stable identity of an image: its name, shape and where it came from, and with
    ``pixels`` (:func:`~napari_samlabel.core.image_identity.pixel_hash`) what it shows."""
    source = source or {}
    parts = [str(name), "x".join(str(int(n)) for n in shape)]
    for k in ("series_uid", "source", "files"):
        v = source.get(k)
        if v:
            parts.append(str(v[0] if isinstance(v, (list, tuple)) else v))
    if pixels:
        parts.append(pixels)
    return hashlib.sha1("\n".join(parts).encode("utf-8", "replace")).hexdigest()[:16]


def inside(root: Path, path: Path) -> Path:
    """``path`` if it lies inside ``root`` (after resolving '..' and links), else an error."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise ProjectError(f"{path}: outside {root}; nothing was written")
    return path


# -- completeness -----------------------------------------------------------------
def _read_info(folder: Path) -> dict | None:
    try:
        info = json.loads((folder / "project.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def is_project(folder: Path) -> bool:
    """A folder this plugin wrote (now or in version 1), complete or not."""
    info = _read_info(Path(folder))
    return info is not None and (info.get("format") == FORMAT or "version" in info)


def is_complete(folder: Path) -> bool:
    folder = Path(folder)
    info = _read_info(folder)
    if info is None:
        return False
    sizes = info.get("files")
    if isinstance(sizes, dict):
        try:
            if not all((folder / n).stat().st_size == int(size) for n, size in sizes.items()):
                return False
            if ZARR in info:  # labels on disk: as many files and bytes as were linked
                from .labelstore import tree_stats

                return (folder / ZARR).is_dir() and list(tree_stats(folder / ZARR)) == list(info[ZARR])
            return True
        except (OSError, ValueError, TypeError):
            return False
    return all((folder / n).is_file() for n in FILES)  # a version 1 project


def _siblings(folder: Path) -> tuple[Path, Path]:
    return folder.with_name(folder.name + ".saving"), folder.with_name(folder.name + ".old")


def find_complete(folder) -> Path | None:
    """The copy a crash left complete: the folder, else ``.saving``, else ``.old``."""
    folder = Path(folder)
    saving, old = _siblings(folder)
    for candidate in (folder, saving, old):
        if candidate.is_dir() and is_complete(candidate):
            return candidate
    return None


def _only_ours(folder: Path) -> bool:
    """A leftover ``.saving``/``.old`` copy holding nothing but files we write."""
    return folder.is_dir() and all(p.name in OURS for p in folder.iterdir())


def _recover(folder: Path) -> None:
    """Put a complete leftover copy in place when a crash left none at ``folder``."""
    if folder.exists():
        return
    best = find_complete(folder)
    if best is not None and best != folder:
        best.rename(folder)
        _fsync_dir(folder.parent)


# -- saving -----------------------------------------------------------------------
def save_project(folder, labels: np.ndarray, ontology: Ontology, table: InstanceTable, meta: dict | None = None,
                 owner: str | None = None, owner_pixels: str | None = None, lock: ProjectLock | None = None) -> Path:  # fmt: skip
    """Write a project atomically. ``owner`` (an :func:`image_key`) and ``owner_pixels`` (the
    image's pixel hash) refuse a project folder written for another image; a folder another
    session has open for writing (:mod:`.projectlock`) is refused unless ``lock`` is its lock,
    which moves into the new copy.

    Labels on disk (a zarr array in a local folder, see :mod:`.labelstore`) are saved as
    ``labels.zarr``: their chunk files hard-linked (copied only across disks), so saving a
    stack larger than memory neither reads it nor copies it."""
    folder = Path(folder)
    saving, old = _siblings(folder)
    _check_target(folder, owner, owner_pixels)
    check_free(folder, lock)
    _make_parent(folder)
    for leftover in (saving, old):  # ours only: never delete what we did not write
        if leftover.exists() and not _only_ours(leftover):
            raise ProjectError(f"{leftover} is in the way and is not a samlabel project; nothing was written")
    _recover(folder)
    if saving.exists():
        shutil.rmtree(saving)
    try:
        saving.mkdir()
        (saving / MARK).touch()
        sizes, extra = {}, {}
        from .labelstore import store_path

        on_disk = store_path(labels)
        if on_disk is not None:
            extra[ZARR] = _link_labels(on_disk, saving / ZARR)
        else:  # compressed like labels on disk, one reader for both; opens back in memory
            extra[ZARR] = _write_labels(np.asarray(labels), saving / ZARR)
            extra[IN_MEMORY] = True
        _write_text(saving / "ontology.json", json.dumps(ontology.to_dict(), indent=2) + "\n")
        _write_text(saving / "instances.json", json.dumps(table.to_json()))
        for name in FILES:
            if name == "labels.npy":  # (read from projects saved before labels.zarr)
                continue
            _fsync_file(saving / name)
            sizes[name] = (saving / name).stat().st_size
        info = {"format": FORMAT, "version": VERSION, "files": sizes, **extra, **_jsonable(meta or {})}
        _write_text(saving / "project.json", json.dumps(info, indent=1))  # last: marks the copy complete
        _fsync_file(saving / "project.json")
        if lock is not None and lock.covers(folder):
            lock.write_into(saving)  # the owner's lock stays with the project it replaces
        _fsync_dir(saving)
    except OSError as e:
        raise ProjectError(f"{folder}: could not write the project ({e.strerror or e}); the previous copy is kept") from None
    if old.exists():  # a complete project is in place (recovered above): the older copy can go
        shutil.rmtree(old)
    if folder.exists():
        folder.rename(old)
    saving.rename(folder)
    _fsync_dir(folder.parent)
    if old.exists():
        shutil.rmtree(old)
    return folder


def lock_for_writing(folder, owner: str | None = None, owner_pixels: str | None = None) -> ProjectLock:
    """Lock ``folder`` for a session that saves into it from now on (:mod:`.projectlock`), once
    the checks of :func:`save_project` pass: a file, another image's project or a folder of
    other files is refused with their words, before any lock file is made."""
    folder = Path(folder)
    _check_target(folder, owner, owner_pixels)
    _make_parent(folder)
    return acquire(folder, "nothing was written")


def _make_parent(folder: Path) -> None:
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ProjectError(f"{folder}: cannot create the folder it goes in ({e.strerror or e}); nothing was written") from None


def _write_labels(labels: np.ndarray, dst: Path) -> list[int]:
    """In-memory labels as labels.zarr (zstd, a chunk per plane, as :mod:`.labelstore` makes
    them) in the smallest unsigned dtype that holds their largest id, then flushed."""
    from .labelstore import create_labels

    dtype = labels.dtype
    if dtype.kind in "ub" or (dtype.kind == "i" and (labels.size == 0 or labels.min() >= 0)):
        dtype = np.min_scalar_type(int(labels.max()) if labels.size else 0)  # uint8/16/32/64
    arr = create_labels(dst, labels.shape, dtype, temporary=False)
    arr[...] = labels.astype(dtype, copy=False)
    return _flush_tree(dst)


def _link_labels(src: Path, dst: Path) -> list[int]:
    """A zarr label folder into the project copy: links, then flushed to disk (a linked file
    is the working array's, written by zarr without fsync)."""
    from .labelstore import link_tree

    link_tree(src, dst)
    return _flush_tree(dst)


def _flush_tree(dst: Path) -> list[int]:
    """[files, bytes] of a folder, after flushing it to disk: one ``os.sync`` where there is
    one (an fsync per chunk file and folder took 30 s for 5000 chunks here, the sync 0.1-0.3 s)."""
    from .labelstore import tree_stats

    if hasattr(os, "sync"):
        os.sync()
    else:  # Windows
        for root, _, names in os.walk(dst):
            for n in names:
                _fsync_file(Path(root) / n)
            _fsync_dir(Path(root))
    return list(tree_stats(dst))


def _check_target(folder: Path, owner: str | None, owner_pixels: str | None = None) -> None:
    if folder.exists() and not folder.is_dir():
        raise ProjectError(f"{folder} is a file, not a project folder; nothing was written")
    if folder.is_dir():
        if not is_project(folder):
            if any(p.name != LOCK_NAME for p in folder.iterdir()):  # (a lock: taken before the first save)
                raise ProjectError(
                    f"{folder} already holds other files and is not a samlabel project: "
                    "choose a new (or empty) folder; nothing was written"
                )
            return
        info = _read_info(folder) or {}
        image = info.get("image", "another image")
        theirs = info.get("image_key")
        if owner is not None and theirs is not None and theirs != owner:
            raise ProjectError(f"{folder} is the project of {image!r}, not of this image; nothing was written")
        check_pixels(folder, info, owner_pixels, "nothing was written")


def check_pixels(folder, info: dict, pixels: str | None, outcome: str) -> None:
    """Refuse an image whose pixels differ from those the project at ``folder`` was made on
    (projects saved before pixels were hashed have none to compare, and pass)."""
    theirs = info.get("image_hash")
    if pixels is not None and isinstance(theirs, str) and theirs != pixels:
        image = info.get("image", "another image")
        raise ProjectError(f"{folder} is the project of {image!r}, an image with other pixels than this one "
                           f"(same name and size, another file?); {outcome}")  # fmt: skip


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- opening ----------------------------------------------------------------------
def load_project(folder) -> tuple[np.ndarray, Ontology, InstanceTable, dict]:
    """Labels (a numpy array, or a read-only zarr array for labels saved on disk), ontology,
    instance table and the project's info."""
    from ..core.jsonfile import check, read_json

    folder = Path(folder)
    if folder.is_file():
        raise ProjectError(f"{folder} is a file, not a project folder (choose the folder that holds project.json)")
    found = _openable(folder)
    if found is None:
        if (folder / "project.json").is_file():  # there, but not ours or damaged: say which
            check(read_json(folder / "project.json", ProjectError, "project file"), "project", folder / "project.json", ProjectError)
        if folder.is_dir() and not is_project(folder):
            raise ProjectError(f"{folder}: not a samlabel project (project.json is missing)")
        lacking = (ZARR,) if ZARR in (_read_info(folder) or {}) else ("labels.npy",)  # the labels it has
        missing = [n for n in (*lacking, *FILES[1:], "project.json") if not (folder / n).exists()]
        raise ProjectError(f"{folder}: not a complete samlabel project ({', '.join(missing) or 'file sizes differ'})")
    folder = found
    try:
        if (folder / ZARR).is_dir() and ZARR in (_read_info(folder) or {}):
            from .labelstore import open_labels

            labels = open_labels(folder / ZARR)  # read-only and lazy: a session works on a linked copy
        else:
            labels = np.load(folder / "labels.npy")
    except Exception as e:
        name = ZARR if (folder / ZARR).is_dir() else "labels.npy"
        raise ProjectError(f"{folder / name}: cannot be read ({e})") from e
    from ..core.label_ids import checked_ids
    from ..core.ontology import OntologyError

    labels = checked_ids(labels, str(folder / (ZARR if (folder / ZARR).is_dir() else "labels.npy")), ProjectError)
    try:
        ontology = Ontology.load(folder / "ontology.json")
    except OntologyError as e:
        raise ProjectError(str(e)) from None
    # schemas/instances.schema.json and project.schema.json: types checked, with the field named
    records = read_json(folder / "instances.json", ProjectError, "instance table")
    check(records, "instances", folder / "instances.json", ProjectError)
    check_against_ontology(records, ontology, folder / "instances.json", ProjectError)
    meta = read_json(folder / "project.json", ProjectError, "project file")
    check(meta, "project", folder / "project.json", ProjectError)
    axis = meta.get("frame_axis")
    if axis is not None and axis >= labels.ndim:
        raise ProjectError(f"{folder / 'project.json'}: frame_axis {axis} is outside the {labels.ndim}D labels "
                           f"(0-{labels.ndim - 1})")  # fmt: skip
    table = InstanceTable.from_json(records)
    if store_path(labels) is not None:  # one damaged chunk file spoils only its own frames, said
        whole = None
        if meta.get(IN_MEMORY):  # read once; only where that fails is each chunk decoded apart
            try:
                whole = np.asarray(labels[...])
            except Exception:
                pass
        labels, said = _readable_labels(folder, labels, table, axis, decoded=whole is not None)
        meta.setdefault("notes", []).extend(said)
        if meta.get(IN_MEMORY):  # saved from memory: back into memory (every id checked), as uint32
            whole = np.asarray(labels[...]) if whole is None else whole
            labels = checked_ids(whole, str(folder / ZARR), ProjectError)
            wide = labels.dtype.kind == "u" and labels.dtype.itemsize <= 4
            labels = labels.astype(np.uint32 if wide else labels.dtype, copy=False)
    # an id handed to the brush and never painted, of a class since replaced, is no instance:
    # it must not bring its class back (older sessions saved such records)
    for r in [r for r in table if not r.present and r.class_name not in ontology and len(ontology)]:
        table.edit(r.id).class_name = ontology.names[0]
    lacking = sorted({r.class_name for r in table} - set(ontology.names))
    if lacking:  # kept and added, never dropped: they would vanish from the docks and exports
        for name in lacking:
            ontology.add(name, kind="stuff" if any(r.stuff for r in table if r.class_name == name) else "thing", hotkey=None)
        meta.setdefault("notes", []).append(
            f"{folder / 'instances.json'}: class(es) {', '.join(map(repr, lacking))} missing from ontology.json: added"
        )
    return labels, ontology, table, meta


def _openable(folder: Path) -> Path | None:
    """The complete copy (:func:`find_complete`), else the folder itself where only its labels on
    disk differ from what project.json recorded (a chunk file damaged, cut short or lost since):
    what can be read of it opens, the rest is named (:func:`_readable_labels`)."""
    found = find_complete(folder)
    if found is not None:
        return found
    info = _read_info(folder) or {}
    sizes = info.get("files")
    if ZARR not in info or not isinstance(sizes, dict) or not (folder / ZARR / "zarr.json").is_file():
        return None
    try:
        if all((folder / n).stat().st_size == int(size) for n, size in sizes.items()):
            return folder
    except (OSError, ValueError, TypeError):
        pass
    return None


FULL_CHECK_CHUNKS = 256  # projects with up to this many chunk files have each decoded at open


def _readable_labels(folder: Path, labels, table: InstanceTable, axis: int | None,
                     decoded: bool = False) -> tuple[object, list[str]]:  # fmt: skip
    """``labels`` (on disk) without its unreadable chunk files, and one line per damaged or
    missing chunk naming the file, the frames and the instances it held: never a silent zero.
    ``decoded``: every chunk was just read whole without an error (none to look for)."""
    from .labelstore import chunk_files, tree_stats, unreadable_chunks, without_chunks

    said = []
    recorded = (_read_info(folder) or {}).get(ZARR)
    now = list(tree_stats(folder / ZARR))
    stored = chunk_files(labels)
    # Decoding every chunk reads all the labels (13 s for 5000 dense 1024 px planes here): done
    # when the files changed since the save, or when there are few; a chunk garbled in place
    # (same size) of a big project is found when its frame is read
    unchanged = isinstance(recorded, list) and now == recorded
    check = not decoded and (not unchanged or len(stored or ()) <= FULL_CHECK_CHUNKS)
    bad = unreadable_chunks(labels) if check else {}
    for coords, (key, why) in bad.items():
        frames = _chunk_frames(coords, labels.chunks, labels.shape, axis)
        said.append(f"{folder / ZARR / key}: cannot be read ({why}): {_where(frames, axis)} opened without "
                    f"these labels{_held(table, frames)}")  # fmt: skip
    if stored is not None:  # zarr reads a chunk file that is not there as background
        have = {f for c in stored for f in _chunk_frames(c, labels.chunks, labels.shape, axis)}
        lost = {f for r in table for f in r.frames} - have
        if lost:
            said.append(f"{folder / ZARR}: no chunk file for {_where(lost, axis)}{_held(table, lost)}: "
                        "they open empty there")  # fmt: skip
    if not said and isinstance(recorded, list) and now != recorded:  # every chunk reads: say so
        said.append(f"{folder / ZARR}: {now[0]} files ({now[1]} bytes) where project.json recorded {recorded[0]} "
                    f"({recorded[1]} bytes), changed since it was saved; every chunk reads")  # fmt: skip
    if bad:
        labels = without_chunks(labels, [key for key, _ in bad.values()])
    return labels, said


def _chunk_frames(coords, chunks, shape, axis: int | None) -> set[int]:
    if axis is None:  # a single image: all of it is "frame 0"
        return {0}
    start = coords[axis] * chunks[axis]
    return set(range(start, min(start + chunks[axis], shape[axis])))


def _where(frames, axis: int | None) -> str:
    from ..core.instances import format_frames

    if axis is None:
        return "the image"
    return f"frame{'s' if len(frames) > 1 else ''} {format_frames(frames)}"


def _held(table: InstanceTable, frames) -> str:
    ids = sorted(r.id for r in table if r.frames & set(frames))
    return f" (instance{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))} {'were' if len(ids) > 1 else 'was'} there)" if ids else ""


def project_image(folder) -> tuple[str, tuple[int, ...], Path | None]:
    """(image name, labels shape, the image's file or None) of a project, its labels not read:
    what opening the folder on its own needs to find or open its image first."""
    folder = Path(folder)
    found = _openable(folder)
    if found is None:
        load_project(folder)  # raises, saying what is wrong with it
    info = _read_info(found) or {}
    try:
        if (found / ZARR).is_dir() and ZARR in info:
            from .labelstore import open_labels

            shape = open_labels(found / ZARR).shape
        else:
            shape = np.load(found / "labels.npy", mmap_mode="r").shape
    except Exception as e:
        raise ProjectError(f"{found}: its labels cannot be read ({e})") from e
    # projects saved before image_path was written: the file our readers recorded
    path = info.get("image_path") or (info.get("source_image") or {}).get("source")
    return str(info.get("image") or ""), tuple(int(n) for n in shape), Path(path) if isinstance(path, str) else None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return obj


def project_of(data) -> Path | None:
    """The project folder whose ``labels.zarr`` ``data`` is (None otherwise)."""
    path = store_path(data)
    if path is not None and path.name == "labels.zarr" and is_project(path.parent):
        return path.parent
    return None
