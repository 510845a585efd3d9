"""Labels edited block by block, and undo steps that stay small.

An edit over a whole stack (delete a class, copy to all frames, a relabel) walks the labels
one *block* at a time: a plane of a numpy array, a chunk of a zarr one. What it holds at
once is one block's worth, never the array's.

What changed in a block is kept as a :class:`BoxAtom`: the changed pixels as a bit mask
over their bounding box and the values they held, both compressed (labels are long runs of
one value, so a plane's change is a few kB). A :class:`Spill` keeps those bytes in memory
or, for labels on disk, in a file beside them, so the undo history of a stack larger than
memory does not fill it. ``BoxAtom`` has the fields of napari's masked paint atom
(``slice_key``, ``mask``, ``old_values``, ``new_value``), which napari replays with basic
slicing only: the same undo works on numpy and zarr labels.

numpy and the standard library only.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
import zlib
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np


# -- blocks --------------------------------------------------------------------------
def block_shape_of(data) -> tuple[int, ...]:
    """The block an edit works in: a zarr array's chunks, else one 2D plane."""
    shape = tuple(int(n) for n in data.shape)
    chunks = getattr(data, "chunks", None)
    if isinstance(chunks, tuple) and len(chunks) == len(shape) and all(isinstance(c, (int, np.integer)) for c in chunks):
        return tuple(max(1, int(c)) for c in chunks)
    if len(shape) <= 2:
        return shape
    return (1,) * (len(shape) - 2) + shape[-2:]


def iter_blocks(region: tuple, block: Sequence[int]) -> Iterator[tuple]:
    """Sub-regions of a normalised region (ints and step-1 slices, one per axis) cut
    along the block grid. Ints stay ints, slices become sub-slices, so each piece reads
    with the region's own dimensionality."""
    per_axis = []
    for r, b in zip(region, block):
        if isinstance(r, slice):
            cuts = []  # none for an empty slice
            start = r.start
            while start < r.stop:
                stop = min(r.stop, (start // b + 1) * b)
                cuts.append(slice(start, stop))
                start = stop
            per_axis.append(cuts)
        else:
            per_axis.append([int(r)])
    yield from itertools.product(*per_axis)


def local_in(block: tuple, region: tuple) -> tuple:
    """Where ``block`` (a piece of ``region``) lies in ``labels[region]``."""
    return tuple(slice(b.start - r.start, b.stop - r.start) for b, r in zip(block, region) if isinstance(r, slice))


def region_shape(region: tuple) -> tuple[int, ...]:
    return tuple(r.stop - r.start for r in region if isinstance(r, slice))


def group_by_block(indices: tuple[np.ndarray, ...], block: Sequence[int]) -> list[np.ndarray | None]:
    """Positions of ``indices`` grouped by the block they fall in ([None]: all in one)."""
    if not len(indices[0]):
        return []
    lo = [int(i.min()) // b for i, b in zip(indices, block)]
    hi = [int(i.max()) // b for i, b in zip(indices, block)]
    if lo == hi:
        return [None]
    cell = np.zeros(len(indices[0]), np.int64)
    for i, b, a, z in zip(indices, block, lo, hi):
        cell = cell * (z - a + 1) + (np.asarray(i) // b - a)
    order = np.argsort(cell, kind="stable")
    cuts = np.flatnonzero(np.diff(cell[order])) + 1
    return np.split(order, cuts)


# -- where the bytes of undo steps live ----------------------------------------------
class Spill:
    """Compressed bytes in memory (``path`` None) or appended to a file that is removed
    when the last atom using it is gone (or at exit)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._fd: int | None = None
        self._end = 0
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600)
            self._finalizer = weakref.finalize(self, _close_spill, self._fd, str(self.path))

    @property
    def on_disk(self) -> bool:
        return self._fd is not None

    @property
    def size(self) -> int:
        """Bytes written to the file (0 in memory)."""
        return self._end

    def put(self, data: bytes):
        if self._fd is None:
            return data
        with self._lock:
            at = self._end
            self._end += len(data)
            if hasattr(os, "pwrite"):
                os.pwrite(self._fd, data, at)
            else:  # Windows has no pwrite
                os.lseek(self._fd, at, os.SEEK_SET)
                os.write(self._fd, data)
        return (at, len(data))

    def get(self, key) -> bytes:
        if self._fd is None:
            return key
        at, n = key
        if hasattr(os, "pread"):
            return os.pread(self._fd, n, at)
        with self._lock:
            os.lseek(self._fd, at, os.SEEK_SET)
            return os.read(self._fd, n)


def _close_spill(fd: int, path: str) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass


MEMORY = Spill()


class BoxAtom:
    """One block's change: the pixels (``mask`` over the box ``slice_key``) that took
    ``new_value``, and their ``old_values`` (in C order of the mask), kept compressed.

    ``ids``: the label ids the change swapped (old values and the new one), known without
    unpacking; ``count``: how many pixels changed."""

    __slots__ = ("slice_key", "new_value", "ids", "count", "_shape", "_dtype", "_mask", "_old", "_spill", "__weakref__")

    def __init__(self, slice_key: tuple, mask: np.ndarray, old_values: np.ndarray, new_value: int,
                 spill: Spill | None = None) -> None:  # fmt: skip
        spill = spill or MEMORY
        old_values = np.ascontiguousarray(old_values)
        self.slice_key = tuple(slice_key)
        self.new_value = int(new_value)
        self.count = int(old_values.size)
        self.ids = frozenset(int(v) for v in distinct(old_values)) | {self.new_value}
        self._shape, self._dtype, self._spill = tuple(mask.shape), old_values.dtype.str, spill
        self._mask = spill.put(zlib.compress(np.packbits(mask, axis=None).tobytes(), 1))
        self._old = spill.put(zlib.compress(old_values.tobytes(), 1))

    @property
    def mask(self) -> np.ndarray:
        bits = np.frombuffer(zlib.decompress(self._spill.get(self._mask)), np.uint8)
        n = int(np.prod(self._shape))
        return np.unpackbits(bits, count=n).view(bool).reshape(self._shape)

    @property
    def old_values(self) -> np.ndarray:
        return np.frombuffer(zlib.decompress(self._spill.get(self._old)), np.dtype(self._dtype)).copy()

    @property
    def nbytes(self) -> int:
        """Bytes it keeps in memory (its payload when the spill is in memory)."""
        if self._spill.on_disk:
            return 64
        return len(self._mask) + len(self._old) + 64

    def __repr__(self) -> str:
        return f"BoxAtom({self.slice_key}, {self.count} px -> {self.new_value})"


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a run-heavy array (a faster unique when it is one value)."""
    if not values.size:
        return values
    first = values.flat[0]
    if (values == first).all():
        return values[:1]
    return np.unique(values)


def box_atoms(indices: tuple[np.ndarray, ...], old: np.ndarray, value: int, block: Sequence[int],
              spill: Spill | None = None) -> list[BoxAtom]:  # fmt: skip
    """The atoms of writing ``value`` at ``indices`` (one per block they touch)."""
    out = []
    for group in group_by_block(indices, block):
        idx = indices if group is None else tuple(np.asarray(i)[group] for i in indices)
        vals = old if group is None else old[group]
        lo = [int(i.min()) for i in idx]
        shape = tuple(int(i.max()) - a + 1 for i, a in zip(idx, lo))
        local = tuple(np.asarray(i) - a for i, a in zip(idx, lo))
        flat = np.ravel_multi_index(local, shape)
        if len(flat) > 1 and not (flat[1:] > flat[:-1]).all():  # not in C order (np.nonzero's is)
            flat, first = np.unique(flat, return_index=True)
            vals = vals[first]
        mask = np.zeros(int(np.prod(shape)), bool)
        mask[flat] = True
        key = tuple(slice(a, a + n) for a, n in zip(lo, shape))
        out.append(BoxAtom(key, mask.reshape(shape), vals, value, spill))
    return out


def atom_pixels(atom) -> tuple[tuple[np.ndarray, ...], np.ndarray, int]:
    """A change (a masked atom, ours or napari's, or napari's plain tuple) as the pixels it
    wrote, their old values and the value written."""
    if not hasattr(atom, "slice_key"):
        indices, old, new = atom
        return tuple(np.asarray(i) for i in indices), np.asarray(old), int(new)
    mask = atom.mask
    if mask is None:  # the whole box
        mask = np.ones(tuple(s.stop - s.start for s in atom.slice_key), bool)
    indices = tuple(i + s.start for i, s in zip(np.nonzero(mask), atom.slice_key))
    return indices, np.broadcast_to(np.asarray(atom.old_values), indices[0].shape), int(atom.new_value)


def apply_box(data, atom, undo: bool) -> None:
    """Replay a masked atom (ours or napari's) on an array: basic slicing only."""
    values = atom.old_values if undo else atom.new_value
    mask = atom.mask
    if mask is None:
        data[atom.slice_key] = values
        return
    if isinstance(data, np.ndarray):
        data[atom.slice_key][mask] = values  # a view: written in place
        return
    region = np.asarray(data[atom.slice_key]).copy()
    region[mask] = values
    data[atom.slice_key] = region
