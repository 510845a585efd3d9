"""Labels larger than memory: a chunked zarr array on disk that the session paints into.

**When labels go to disk** (:func:`labels_on_disk`, the one rule):

- ``SAMLABEL_LABELS_ON_DISK=1`` (or ``0``), or ``labels_on_disk=True/False`` given to the
  session, decides outright;
- otherwise on disk when dense labels would take more than a quarter of the memory
  available now (:data:`MEMORY_SHARE`), or when the image itself is lazy (dask, zarr, a
  multiscale pyramid: it was opened so as not to be read whole) and its labels would take
  at least :data:`LAZY_MIN_BYTES` (64 MiB: a 16 x 1024 x 1024 stack).

**Where**: beside the project the labels come from (``<project>.labels.zarr``), else in the
cache, ``<cache>/labels/<image>-<key>-<random>.zarr`` (``SAMLABEL_CACHE`` moves the cache).
It is a working array, as a numpy one is in memory: removed when its layer is gone (or at
exit); a project or an autosave keeps the labels, as hard links to the chunk files (no copy:
zarr replaces a chunk file when it writes one, so a saved project never changes after).

One chunk per plane (1024 x 1024 tiles for wider planes): napari shows a plane, prompts and
tracking write one, and bulk edits and exports walk them one at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ON_DISK_ENV = "SAMLABEL_LABELS_ON_DISK"
MEMORY_SHARE = 0.25
LAZY_MIN_BYTES = 64 * 2**20
TILE = 1024


@dataclass(frozen=True)
class Decision:
    on_disk: bool
    reason: str

    def __bool__(self) -> bool:
        return self.on_disk


def available_memory() -> int:
    """Bytes of memory available now (psutil, else the OS's count of free pages)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # no psutil: a rougher count
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 8 * 2**30


def is_lazy(data) -> bool:
    """An array that reads on demand (dask, zarr, xarray over them...), not one in memory."""
    if isinstance(data, (list, tuple)):  # a multiscale pyramid
        return True
    return not isinstance(data, np.ndarray)


def labels_on_disk(shape, dtype=np.uint32, image_data=None, force: bool | None = None,
                   available: int | None = None) -> Decision:  # fmt: skip
    """Whether a session's labels for an image of ``shape`` go to a zarr array on disk."""
    nbytes = int(np.prod([int(n) for n in shape], dtype=np.float64) * np.dtype(dtype).itemsize)
    size = f"{nbytes / 2**30:.2f} GiB of labels"
    if force is None:
        env = os.environ.get(ON_DISK_ENV, "").strip().lower()
        if env in ("1", "true", "yes", "on", "disk"):
            force = True
        elif env in ("0", "false", "no", "off", "memory"):
            force = False
    if force is not None:
        return Decision(bool(force), f"{'on disk' if force else 'in memory'} as asked ({size})")
    available = available_memory() if available is None else int(available)
    if nbytes > MEMORY_SHARE * available:
        return Decision(True, f"{size} is more than a quarter of the {available / 2**30:.1f} GiB available")
    if image_data is not None and is_lazy(image_data) and nbytes >= LAZY_MIN_BYTES:
        return Decision(True, f"the image is read lazily ({type(image_data).__name__}) and needs {size}")
    return Decision(False, f"{size} fit in memory")


def chunks_for(shape) -> tuple[int, ...]:
    shape = tuple(int(n) for n in shape)
    lead = (1,) * max(len(shape) - 2, 0)
    return lead + tuple(max(1, min(n, TILE)) for n in shape[-2:])


# -- where the working arrays live ---------------------------------------------------
def cache_root() -> Path:
    from ..core.cache import cache_dir

    return cache_dir() / "labels"


def live_path(name: str, key: str = "", project: str | Path | None = None) -> Path:
    """Where a session's labels on disk go: beside its project, else in the cache."""
    if project is not None:
        project = Path(project)
        return project.with_name(project.name + ".labels.zarr")
    tail = f"-{key[:10]}" if key else ""
    return cache_root() / f"{safe_name(name)}{tail}-{uuid.uuid4().hex[:8]}.zarr"


def undo_spill_path() -> Path:
    """The file our undo steps of labels on disk keep their bytes in (removed with them)."""
    return cache_root() / "undo" / f"{uuid.uuid4().hex}.bin"


def _remove_when_gone(array, path: Path) -> None:
    weakref.finalize(array, shutil.rmtree, str(path), True)


def create_labels(path: str | Path, shape, dtype=np.uint32, temporary: bool = True):
    """A new all-zero chunked label array at ``path`` (replacing what is there).

    ``temporary``: removed when the array object is gone (a session's working array)."""
    import zarr

    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # chunk files side by side ("c.<t>.<y>.<x>"): a folder per frame made saving and removing
    # a 5000-frame array 20 s slower here (rmdir and mkdir of 10,000 folders)
    arr = zarr.create_array(zarr.storage.LocalStore(path), shape=tuple(int(n) for n in shape),
                            chunks=chunks_for(shape), dtype=np.dtype(dtype), fill_value=0,
                            chunk_key_encoding={"name": "default", "separator": "."})  # fmt: skip
    if temporary:
        _remove_when_gone(arr, path)
    return arr


def open_labels(path: str | Path, read_only: bool = True):
    import zarr

    return zarr.open_array(zarr.storage.LocalStore(Path(path), read_only=read_only))


def store_path(data) -> Path | None:
    """The folder of a zarr array on local disk (None for anything else)."""
    store = getattr(data, "store", None)
    root = getattr(store, "root", None)
    if root is None or type(store).__name__ != "LocalStore":
        return None
    path = Path(str(root))
    name = str(getattr(data, "path", "") or "")
    return path / name if name else path


def is_read_only(data) -> bool:
    store = getattr(data, "store", None)
    return bool(getattr(store, "read_only", False))


def is_on_disk(data) -> bool:
    return store_path(data) is not None


def stored_frames(data, axis: int | None) -> set[int] | None:
    """Frames along ``axis`` that have chunk files (the rest are all zero: zarr writes no
    chunk that holds only the fill value), or None when that cannot be told cheaply."""
    path = store_path(data)
    if path is None or axis != 0 or getattr(data, "chunks", (0,))[0] != 1 or int(getattr(data, "fill_value", 0) or 0):
        return None
    try:
        enc = data.metadata.chunk_key_encoding
        if data.metadata.zarr_format != 3 or getattr(enc, "name", "") != "default":
            return None
        if enc.separator == "/":
            return {int(n) for n in os.listdir(path / "c") if n.isdigit()} if (path / "c").is_dir() else set()
        return {int(n.split(".")[1]) for n in os.listdir(path) if n.startswith("c.") and n.count(".") >= 2}
    except (AttributeError, OSError, ValueError):
        return None


def link_tree(src: str | Path, dst: str | Path, skip: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Copy a folder as hard links (a copy where links cannot be made: another disk), but for
    the files named in ``skip`` (paths in ``src``, with '/').

    Returns (files, bytes)."""
    src, dst = Path(src), Path(dst)
    files = size = 0
    for root, dirs, names in os.walk(src):
        rel = Path(root).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for n in names:
            if n.endswith(".partial") or (rel / n).as_posix() in skip:  # (.partial: a chunk zarr is writing now)
                continue
            a, b = Path(root) / n, dst / rel / n
            try:
                os.link(a, b)
            except OSError:
                shutil.copy2(a, b)
            files += 1
            size += b.stat().st_size
    return files, size


def tree_stats(folder: str | Path) -> tuple[int, int]:
    files = size = 0
    for root, _, names in os.walk(folder):
        for n in names:
            files += 1
            size += (Path(root) / n).stat().st_size
    return files, size




def working_copy(data, name: str, key: str = "", project: str | Path | None = None):
    """A writable working array with ``data``'s labels: the same folder's files linked (a
    zarr array on disk, e.g. a project's labels.zarr), or copied chunk by chunk."""
    import zarr

    dst = live_path(name, key, project)
    if dst.exists():  # a leftover of a session that ended without closing (the project is newer)
        shutil.rmtree(dst)
    src = store_path(data)
    if src is not None and (src / "zarr.json").is_file() and np.dtype(data.dtype).itemsize >= 4:
        link_tree(src, dst)
        arr = zarr.open_array(zarr.storage.LocalStore(dst))
    else:
        arr = create_labels(dst, data.shape, np.uint32 if np.dtype(data.dtype).itemsize < 4 else data.dtype,
                            temporary=False)  # fmt: skip
        copy_blocks(data, arr)
    _remove_when_gone(arr, dst)
    return arr


# -- damaged arrays ---------------------------------------------------------------
def chunk_files(data) -> dict[tuple[int, ...], str] | None:
    """The chunk files of a zarr array on disk (paths in its folder, with '/') by chunk
    coordinates; None where that cannot be told (not on disk, another key encoding)."""
    path = store_path(data)
    try:
        enc = data.metadata.chunk_key_encoding
        if path is None or data.metadata.zarr_format != 3 or enc.name != "default":
            return None
    except AttributeError:
        return None
    # (zarr 3.1's decode_chunk_key fails on its own "c.1.0.0" keys: split here)
    found = {}
    for root, _, names in os.walk(path):
        for n in names:
            key = (Path(root) / n).relative_to(path).as_posix()
            parts = key.split(enc.separator)
            if parts[0] == "c" and len(parts) == data.ndim + 1 and all(p.isdigit() for p in parts[1:]):
                found[tuple(int(p) for p in parts[1:])] = key
    return found


def unreadable_chunks(data) -> dict[tuple[int, ...], tuple[str, str]]:
    """The chunk files of ``data`` that cannot be decoded (damaged on disk): chunk coordinates
    -> (file, why), each chunk read on its own so one bad file spoils nothing else."""
    bad = {}
    for coords, key in sorted((chunk_files(data) or {}).items()):
        try:
            data.get_block_selection(coords)
        except Exception as e:  # whatever its codec raises (numcodecs' Zstd: RuntimeError) means damaged
            bad[coords] = (key, str(e) or type(e).__name__)
    return bad


def without_chunks(data, keys) -> object:
    """A read-only copy of the zarr array ``data`` (linked, in the cache) lacking the chunk files
    ``keys``: those read as background instead of failing every read that touches them."""
    import zarr

    src = store_path(data)
    dst = cache_root() / f"readable-{safe_name(src.name)}-{uuid.uuid4().hex[:8]}"
    link_tree(src, dst, frozenset(keys))
    arr = zarr.open_array(zarr.storage.LocalStore(dst, read_only=True))
    _remove_when_gone(arr, dst)
    return arr


def copy_blocks(src, dst) -> None:
    """``dst[...] = src`` one chunk of ``dst`` at a time."""
    from ..core.chunked import block_shape_of, iter_blocks
    from ..core.compose import normalize_region

    for block in iter_blocks(normalize_region((), dst.shape), block_shape_of(dst)):
        piece = np.asarray(src[block])
        if piece.any():
            dst[block] = piece.astype(dst.dtype, copy=False)


def safe_name(name: str, limit: int = 60) -> str:
    """A file name made from any text (a DICOM SeriesDescription like '../../x' or '/tmp/x'):
    letters, digits, '.', '_' and '-' only, never '.' or '..', never empty."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._-")
    return slug[:limit] or "image"
