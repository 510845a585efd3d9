"""What every export format shares: atomic writes, the planes along the frame axis, pixel
counts. Each format has its own module (coco, ctc, dicom_seg, masks, shapes, instances_csv);
``exporting`` dispatches to them. Pure functions over a label array; ``frame_axis`` says
which axis holds frames/slices (None: 2D).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def atomic_text(path: Path, text: str) -> None:
    """Write text whole or not at all (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


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
