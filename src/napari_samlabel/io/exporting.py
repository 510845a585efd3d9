"""One entry point for every export format (the dock and ``samlabel export`` use it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology

FORMATS = ("nifti", "dicom-seg", "coco", "coco-panoptic", "ctc", "csv")


def export(
    fmt: str,
    out,
    labels: np.ndarray,
    ontology: Ontology,
    table: InstanceTable,
    frame_axis: int | None,
    source_meta: dict | None = None,
    per: str = "class",
    polygons: bool = False,
) -> Path:
    from . import coco, ctc, dicom_seg
    from .export import _atomic_text, write_instances_csv
    from .images import write_labels

    out = Path(out)
    source_meta = source_meta or {}
    if fmt == "nifti":
        name = out.name.lower()
        return write_labels(out if name.endswith((".nii", ".nii.gz")) else out.with_suffix(".nii.gz"), labels, source_meta)
    if fmt == "csv":
        spacing = source_meta.get("spacing") or (source_meta.get("geometry") or {}).get("spacing")
        return write_instances_csv(out, labels, table, spacing)
    if fmt == "coco":
        data = coco.coco_instances(labels, table, ontology, frame_axis, polygons=polygons)
        _atomic_text(out, json.dumps(data))
        return out
    if fmt == "coco-panoptic":
        return coco.coco_panoptic(labels, table, ontology, out, frame_axis)
    if fmt == "ctc":
        if frame_axis is None:
            raise ValueError("the Cell Tracking Challenge format needs a time axis")
        return ctc.write_ctc(out, labels, frame_axis)
    if fmt == "dicom-seg":
        files = source_meta.get("files")
        if not files or source_meta.get("format") != "dicom":
            raise ValueError("a DICOM SEG needs labels made over a DICOM series (open the series with this plugin)")
        return dicom_seg.write_dicom_seg(out, labels, files, table, ontology, per=per)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
