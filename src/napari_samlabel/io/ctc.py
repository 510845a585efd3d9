"""Cell Tracking Challenge result folders (maskTTT.tif + res_track.txt)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .export import _atomic_text


def ctc_tracks(labels: np.ndarray, frame_axis: int = 0) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Relabel so every track is continuous in time (a gap starts a new track whose
    parent is the earlier piece); rows (L, B, E, P) for res_track.txt."""
    labels = np.moveaxis(np.asarray(labels), frame_axis, 0)
    out = np.zeros(labels.shape, np.uint16)
    present: dict[int, list[int]] = {}
    for t in range(labels.shape[0]):
        for i in np.unique(labels[t]):
            if i:
                present.setdefault(int(i), []).append(t)
    next_id = max(present, default=0) + 1
    rows = []
    for i in sorted(present):
        frames = present[i]
        pieces, start = [], frames[0]
        for a, b in zip(frames, frames[1:] + [None]):
            if b is None or b != a + 1:
                pieces.append((start, a))
                start = b
        parent = 0
        for k, (b, e) in enumerate(pieces):
            new = i if k == 0 else next_id
            if k:
                next_id += 1
            if new > 65535:
                raise ValueError("more than 65535 tracks: CTC masks are 16-bit")
            for t in range(b, e + 1):
                out[t][labels[t] == i] = new
            rows.append((new, b, e, parent))
            parent = new
    return out, rows


def write_ctc(out_dir, labels: np.ndarray, frame_axis: int = 0) -> Path:
    """maskTTT.tif per frame and res_track.txt (the RES folder layout)."""
    import tifffile

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    masks, rows = ctc_tracks(labels, frame_axis)
    digits = max(3, len(str(len(masks) - 1)))
    for t, m in enumerate(masks):
        tifffile.imwrite(out_dir / f"mask{t:0{digits}d}.tif", m, compression="zlib")
    _atomic_text(out_dir / "res_track.txt", "".join(f"{l} {b} {e} {p}\n" for l, b, e, p in rows))
    return out_dir


