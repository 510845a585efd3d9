"""Cell Tracking Challenge result folders (maskTTT.tif + res_track.txt)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .errors import ExportError
from .writing import Staged, planes


def ctc_tracks(
    labels: np.ndarray, frame_axis: int = 0, parents: dict[int, int] | None = None
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Relabel so every track is continuous in time (a gap starts a new track whose
    parent is the earlier piece); rows (L, B, E, P) for res_track.txt.

    ``parents`` ({label id: parent id}, the instances' lineage) gives a track's first
    piece its parent: the parent's last piece. A parent absent from the labels is
    left out (0); one that does not end before its daughter starts is refused."""
    labels = labels if hasattr(labels, "shape") else np.asarray(labels)
    pieces_of, rows = ctc_plan(labels, frame_axis, parents)
    return np.stack([ctc_frame(plane, t, pieces_of) for t, plane in planes(labels, frame_axis)]), rows


def ctc_plan(labels, frame_axis: int = 0, parents: dict[int, int] | None = None):
    """The tracks of :func:`ctc_tracks` without the relabelled frames: ``pieces_of`` ({id:
    [(CTC label, begin, end), ...]}) and the rows. Reads one frame at a time."""
    present: dict[int, list[int]] = {}
    for t, plane in planes(labels, frame_axis):
        for i in np.unique(plane):
            if i:
                present.setdefault(int(i), []).append(t)
    next_id = max(present, default=0) + 1
    pieces_of: dict[int, list[tuple[int, int, int]]] = {}  # id -> (CTC label, begin, end)
    for i in sorted(present):
        frames = present[i]
        pieces, start = [], frames[0]
        for a, b in zip(frames, frames[1:] + [None]):
            if b is None or b != a + 1:
                pieces.append((start, a))
                start = b
        for k, (b, e) in enumerate(pieces):
            new = i if k == 0 else next_id
            if k:
                next_id += 1
            if new > 65535:
                raise ExportError("more than 65535 tracks: CTC masks are 16-bit")
            pieces_of.setdefault(i, []).append((new, b, e))
    rows = []
    for i, pieces in pieces_of.items():
        parent = _first_parent(i, pieces[0][1], (parents or {}).get(i, 0), pieces_of)
        for new, b, e in pieces:
            rows.append((new, b, e, parent))
            parent = new
    return pieces_of, rows


def ctc_frame(plane: np.ndarray, t: int, pieces_of: dict) -> np.ndarray:
    """Frame ``t`` relabelled to its tracks' CTC labels (uint16)."""
    ids, inverse = np.unique(plane, return_inverse=True)
    new = np.zeros(len(ids), np.uint16)
    for k, i in enumerate(ids.tolist()):
        for label, b, e in pieces_of.get(i, ()) if i else ():
            if b <= t <= e:
                new[k] = label
                break
    return new[inverse].reshape(plane.shape)


def _first_parent(i: int, begin: int, parent: int, pieces_of: dict) -> int:
    """The CTC label of the piece of ``parent`` that ``i`` divided from (0: none)."""
    if not parent or parent not in pieces_of:
        return 0
    label, _, end = pieces_of[parent][-1]
    if end >= begin:
        raise ExportError(
            f"instance {i} is a daughter of {parent}, but {parent} is still there on frame {end} and {i} "
            f"starts on frame {begin}: a parent must end before its daughters start (end {parent} "
            f"earlier, or clear {i}'s parent)"
        )
    return label


def write_ctc(out_dir, labels: np.ndarray, frame_axis: int = 0, parents: dict[int, int] | None = None) -> Path:
    """maskTTT.tif per frame and res_track.txt (the RES folder layout), written whole or not
    at all (:class:`.writing.Staged`); ``parents`` ({label id: parent id}) writes the divisions."""
    import tifffile

    labels = labels if hasattr(labels, "shape") else np.asarray(labels)
    pieces_of, rows = ctc_plan(labels, frame_axis, parents)  # a refused lineage writes nothing
    out_dir = Path(out_dir)
    frames = labels.shape[frame_axis]
    digits = max(3, len(str(frames - 1)))
    with Staged(files=frames + 1) as out:
        for t, plane in planes(labels, frame_axis):  # one frame in memory at a time
            with out.file(out_dir / f"mask{t:0{digits}d}.tif") as tmp:
                tifffile.imwrite(tmp, ctc_frame(plane, t, pieces_of), compression="zlib")
        out.put(out_dir / "res_track.txt", "".join(f"{l} {b} {e} {p}\n" for l, b, e, p in rows).encode())
    return out_dir


# -- reading a result folder back (the import) -------------------------------------
MASK_NAME = re.compile(r"^mask(\d+)\.tiff?$", re.IGNORECASE)


def read_ctc(folder) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """A Cell Tracking Challenge result folder: masks (t, ...) from maskTTT.tif and the rows
    (L, B, E, P) of res_track.txt ([] when there is none)."""
    import tifffile

    from .errors import LabelImportError

    folder = Path(folder)
    files = sorted(((int(m.group(1)), p) for p in folder.iterdir() if (m := MASK_NAME.match(p.name))), key=lambda x: x[0])
    if not files:
        raise LabelImportError(f"{folder}: no maskTTT.tif files")
    missing = sorted(set(range(files[-1][0] + 1)) - {t for t, _ in files})
    if missing:
        raise LabelImportError(f"{folder}: mask files for frame(s) {missing[:5]} are missing (mask000.tif onwards, one per frame)")
    masks = []
    for _, p in files:
        try:
            m = np.asarray(tifffile.imread(p))
        except Exception as e:
            raise LabelImportError(f"{p}: cannot be read ({type(e).__name__}: {e})") from None
        if masks and m.shape != masks[0].shape:
            raise LabelImportError(f"{p} is {m.shape}, {files[0][1].name} is {masks[0].shape}")
        if m.dtype.kind not in "ui":
            raise LabelImportError(f"{p}: {m.dtype} pixels are not label ids")
        masks.append(m)
    rows = []
    track = folder / "res_track.txt"
    if track.exists():
        for n, line in enumerate(track.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 4 or not all(p.isdigit() for p in parts):
                raise LabelImportError(f"{track}: line {n} is {line.strip()!r}, not 'L B E P' (four whole numbers)")
            rows.append(tuple(int(p) for p in parts))
    return np.stack(masks), rows
