"""The instance table as CSV: one row per instance with pixels, its class, confidence,
source, frames, size (in mm^3 over a reference's spacing) and attributes.

A class table (``id,class``, the first columns of that CSV) also travels beside label files
that ``samlabel segment`` and ``samlabel batch`` write (:func:`sidecar_path`), so that
``samlabel export`` knows each id's class; :func:`.importing.read_class_table` reads both."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import InstanceTable
from .writing import atomic_text, csv_text, id_counts

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
    """The instance table as CSV, text a spreadsheet would run quoted (:func:`.writing.csv_cell`)."""
    path = Path(path)
    rows = instance_rows(labels, table, spacing)
    extra = sorted({k for row in rows for k in row if k not in CSV_COLUMNS})
    atomic_text(path, csv_text(CSV_COLUMNS + extra, rows))
    return path


def sidecar_path(labels) -> Path:
    """The class table beside a label file: ``labels.tif`` -> ``labels.instances.csv``,
    ``ct.nii.gz`` -> ``ct.instances.csv``."""
    labels = Path(labels)
    name = labels.name
    stem = name[: -len(".nii.gz")] if name.lower().endswith(".nii.gz") else labels.stem
    return labels.with_name(stem + ".instances.csv")


def write_class_table(path, classes: dict[int, str]) -> Path:
    """``id,class`` rows, by id (a header alone when no id has a class: an old table never stays)."""
    path = Path(path)
    atomic_text(path, csv_text(["id", "class"], ({"id": i, "class": name} for i, name in sorted(classes.items()))))
    return path
