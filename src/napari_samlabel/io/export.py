"""What every export shares (atomic writes, planes along the frame axis) and the instance
CSV; the formats have their own modules (coco, ctc, dicom_seg, shapes). Pure functions over
a label array, the ontology and the instance table; ``frame_axis`` says which axis holds
frames/slices (None: 2D).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import InstanceTable


def _atomic_text(path: Path, text: str) -> None:
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


# -- CSV ---------------------------------------------------------------------------
CSV_COLUMNS = ["id", "class", "name", "confidence", "source", "first_frame", "last_frame", "voxels", "volume_mm3"]


def instance_rows(labels: np.ndarray, table: InstanceTable, spacing: Sequence[float] | None = None) -> list[dict]:
    """One row per instance with pixels; then one ``attr:<name>`` column per attribute set
    (a dynamic one as its runs of frames: ``G1 (0-11), M (12-15)``)."""
    from ..core.instances import attribute_summary

    voxels = id_counts(labels)
    voxel_mm3 = float(np.prod(spacing)) if spacing is not None else None
    rows = []
    for rec in sorted(table, key=lambda r: r.id):
        n = voxels.get(rec.id, 0)
        if not n:
            continue
        rows.append({
            "id": rec.id, "class": rec.class_name, "name": rec.name,
            "confidence": round(rec.mean_confidence, 4), "source": rec.sources,
            "first_frame": min(rec.frames) if rec.frames else "", "last_frame": max(rec.frames) if rec.frames else "",
            "voxels": n, "volume_mm3": round(n * voxel_mm3, 3) if voxel_mm3 else "",
            **{f"attr:{k}": v for k, v in attribute_summary(rec.attributes, rec.frame_attributes).items()},
        })  # fmt: skip
    return rows


def write_instances_csv(path, labels, table: InstanceTable, spacing=None) -> Path:
    path = Path(path)
    rows = instance_rows(labels, table, spacing)
    import io

    buf = io.StringIO()
    extra = sorted({k for row in rows for k in row if k not in CSV_COLUMNS})
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS + extra, restval="")
    w.writeheader()
    w.writerows(rows)
    _atomic_text(path, buf.getvalue())
    return path
