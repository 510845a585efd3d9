"""What every export format shares: atomic writes, CSV cells, the planes along the frame axis,
pixel counts. Each format has its own module (coco, ctc, dicom_seg, masks, shapes, instances_csv);
``exporting`` dispatches to them. Pure functions over a label array; ``frame_axis`` says
which axis holds frames/slices (None: 2D).
"""

from __future__ import annotations

import csv
import errno
import gc
import io
import re
import shutil
import traceback
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .errors import DiskFull

#: what a full disk and a full quota say
FULL_DISK = frozenset({errno.ENOSPC, errno.EDQUOT})
#: how a spreadsheet's formula can start (OWASP, CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a text cell that is a plain number (-3.5, +2, 1e-3): a spreadsheet reads it as that number
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


class Staged:
    """The files of one export, each written as ``<name>.part`` beside where it goes and all
    renamed into place when the export ends well: a reader never sees half an export, and an
    earlier export in the same place stays whole until then. When it fails, for any reason,
    the ``.part`` files and the folders it made go (so nothing is left behind and nothing that
    was there before is touched), and a full disk is raised as :class:`DiskFull`: the file being
    written, the space free once this export's own files are gone, about how much it needs.

    ``files``: how many files the export writes, when known; the bytes of the files written so
    far, scaled to that, estimate what it needs. A caller streaming one big file may set
    ``done`` (the fraction written) instead."""

    def __init__(self, files: int | None = None) -> None:
        self.files = files
        self.done: float | None = None
        self.made: list[Path] = []  # folders this export created, outermost first
        self.staged: list[tuple[Path, Path]] = []  # (.part, final path)
        self.written = 0  # bytes of the files staged whole
        self.failed: tuple[Path, int, int | None] | None = None  # path, bytes it got, bytes it wanted

    def __enter__(self) -> Staged:
        return self

    def __exit__(self, kind, error, tb) -> bool:
        if error is None:
            for tmp, path in self.staged:
                tmp.replace(path)
            return False
        if is_disk_full(error) and not isinstance(error, DiskFull) and self.failed:
            _release(error)
            self.abort()
            raise self._disk_full() from None
        self.abort()
        return False

    @contextmanager
    def file(self, path: Path, size: int | None = None, suffix: str = "") -> Iterator[Path]:
        """The ``.part`` path to write ``path`` to; ``size``: its bytes, when known; ``suffix``
        ends the ``.part`` name, for writers that pick the format by it (``.nii.gz``, ``.npy``)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".part" + suffix)
        try:
            self._make_folder(path.parent)
            self.staged.append((tmp, path))
            yield tmp
        except BaseException:
            self.failed = (path, _bytes_in(tmp), size)
            raise
        self.written += _bytes_in(tmp)

    def put(self, path: Path, data: bytes) -> None:
        with self.file(path, len(data)) as tmp:
            tmp.write_bytes(data)

    def abort(self) -> None:
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        for folder in reversed(self.made):
            with suppress(OSError):  # one that is not empty was written to by someone else: it stays
                folder.rmdir()

    def _make_folder(self, folder: Path) -> None:
        missing = []
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            folder.mkdir(exist_ok=True)
            self.made.append(folder)

    def _disk_full(self) -> DiskFull:
        path, got, wanted = self.failed
        at_least = self.written + max(got, wanted or 0)
        whole = len(self.staged) - 1 + (wanted is not None)  # files whose size is known
        if self.done:  # one file streamed: what it got, scaled
            need = f"about {human_size(max((self.written + got) / self.done, at_least))}"
        elif self.files and whole:  # the files' sizes so far, scaled to all of them
            need = f"about {human_size(max((self.written + (wanted or 0)) / whole * self.files, at_least))}"
        elif wanted is not None:
            need = f"about {human_size(at_least)}"
        else:
            need = f"more than {human_size(at_least)}"
        error = DiskFull(f"disk full writing {path}: {human_size(free_space(path))} free, needs {need}")
        error.errno = errno.ENOSPC
        return error


def staged(out: Staged | None = None, files: int | None = None):
    """``out`` when a caller's export is already staging its files (they go or stay together),
    else a new :class:`Staged`."""
    return nullcontext(out) if out is not None else Staged(files)


def atomic_bytes(path: Path, data: bytes) -> None:
    """Write bytes whole or not at all (see :class:`Staged`)."""
    with Staged() as out:
        out.put(path, data)


def atomic_text(path: Path, text: str) -> None:
    """Write text (UTF-8) whole or not at all (see :class:`Staged`)."""
    atomic_bytes(Path(path), text.encode("utf-8"))


def csv_text(fieldnames: Sequence[str], rows: Iterable[dict], **options) -> str:
    """A CSV with a header, every cell through :func:`csv_cell` (``options``: csv.DictWriter's)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fieldnames, restval="", **options)
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def csv_cell(value):
    """``value`` as a CSV cell that a spreadsheet shows and never runs: text it would take for a
    formula (starting with = + - @, a tab or a carriage return) gets a leading ``'``, as OWASP's
    CSV injection guidance says; so does text starting with ``'`` and one of those (or another
    ``'``), so that :func:`csv_cell_text` gives back every text exactly. Numbers stay numbers."""
    if not isinstance(value, str) or _NUMBER.fullmatch(value):
        return value
    if value.startswith(FORMULA_START) or _quoted(value):
        return "'" + value
    return value


def csv_cell_text(cell: str) -> str:
    """The text that :func:`csv_cell` wrote as ``cell``."""
    return cell[1:] if _quoted(cell) else cell


def _quoted(text: str) -> bool:
    return text.startswith("'") and text[1:].startswith((*FORMULA_START, "'"))


def png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def is_disk_full(error: BaseException | None) -> bool:
    """The error, or one it was raised from or during (libraries wrap OSErrors), is a full disk."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError) and error.errno in FULL_DISK:
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False


def _release(error: BaseException | None) -> None:
    """Let go of the files the failed writers left open (their frames hold them): a file removed
    while still open keeps its space, and the free space said would be short of it."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__
    gc.collect()  # writers that hold their file in a reference cycle


def free_space(path: Path) -> int:
    """Bytes free on the disk ``path`` is (or would be) on."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def human_size(n: float) -> str:
    """812 bytes, 4.1 KB, 340 KB, 1.2 MB: powers of 1000, as disk sizes are given."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}" if n < 10 * scale else f"{n / scale:.0f} {unit}"
    return f"{int(n)} bytes"


def _bytes_in(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def planes(labels: np.ndarray, frame_axis: int | None):
    """(frame, 2D-or-nD plane) pairs along the frame axis, each read when its turn comes
    (labels on disk are never read whole)."""
    if frame_axis is None:
        yield 0, np.asarray(labels[...])
    else:
        for f in range(labels.shape[frame_axis]):
            yield f, np.asarray(labels[(slice(None),) * frame_axis + (f,)])


def id_counts(labels) -> dict[int, int]:
    """Pixels per label id, counted one block (a plane, a chunk) at a time."""
    from ..core.chunked import block_shape_of, iter_blocks
    from ..core.compose import normalize_region

    total: dict[int, int] = {}
    for block in iter_blocks(normalize_region((), labels.shape), block_shape_of(labels)):
        ids, counts = np.unique(np.asarray(labels[block]), return_counts=True)
        for i, n in zip(ids.tolist(), counts.tolist()):
            total[i] = total.get(i, 0) + n
    return total
