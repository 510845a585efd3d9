"""One entry point for every export format (the dock and ``samlabel export`` use it)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .errors import ExportError

FORMATS = ("nifti", "dicom-seg", "coco", "coco-panoptic", "ctc", "csv", "semantic", "cvat-mask")


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
    creator: str | None = None,
) -> Path:
    """Write ``labels`` in ``fmt``. ``source_meta`` is the grid the labels are on (the image
    they were made over, or a reference they were aligned to with :func:`align_to_reference`);
    ``creator`` is the DICOM SEG's ContentCreatorName (default: the login name)."""
    from . import coco, ctc, dicom_seg
    from .instances_csv import write_instances_csv
    from .writing import atomic_text
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
        atomic_text(out, json.dumps(data))
        return out
    if fmt == "semantic":  # class-index mask (.tif, .png, .nii.gz) and its class table
        from .masks import write_semantic

        return write_semantic(labels, table, ontology, out, frame_axis, source_meta)
    if fmt == "cvat-mask":  # CVAT's "Segmentation mask 1.1" folder (or .zip)
        from .masks import write_cvat_masks

        return write_cvat_masks(labels, table, ontology, out, frame_axis)
    if fmt == "coco-panoptic":
        return coco.coco_panoptic(labels, table, ontology, out, frame_axis)
    if fmt == "ctc":
        if frame_axis is None:
            raise ExportError("the Cell Tracking Challenge format needs a time axis")
        from ..core.lineage import broken_links

        broken = broken_links(table)
        if broken:  # said with the instances' names before the writer meets it by ids
            raise ExportError(f"a lineage does not hold: {broken[0]} (Unlink it, or take the edit back)")
        return ctc.write_ctc(out, labels, frame_axis, parents={r.id: r.parent for r in table if r.parent})
    if fmt == "dicom-seg":
        files = source_meta.get("files")
        if not files or source_meta.get("format") != "dicom":
            raise ExportError("a DICOM SEG needs labels made over a DICOM series (open the series with this plugin)")
        return dicom_seg.write_dicom_seg(out, labels, files, table, ontology, per=per,
                                         geometry=source_meta.get("geometry"), creator=creator)
    raise ExportError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def align_to_reference(labels: np.ndarray, labels_meta: dict | None, reference_meta: dict, reference_shape,
                       table: InstanceTable | None = None, frame_axis: int | None = None):  # fmt: skip
    """The labels on the reference's grid (principle 14): reoriented exactly when they are the
    same voxels stored in another axis order or with flipped axes, resampled (nearest neighbour,
    said) when they cover the same region on another grid, refused (GeometryMismatch, both
    geometries in the message) otherwise.

    Returns ``(labels, table, frame_axis, match)``: ``table`` is a copy whose per-frame entries
    follow the slices (the caller's table is never changed); ``match.message`` says what was done."""
    from .geometry import axis_codes, index_affine, match_grid

    if not hasattr(labels, "shape"):
        labels = np.asarray(labels)
    squeeze = len(labels.shape) == 2  # a single slice: one (1, y, x) plane of a 3D grid
    ref_shape = tuple(reference_shape)
    if len(ref_shape) == 2:
        ref_shape = (1, *ref_shape)
    own = index_affine(labels_meta or {})
    shape = (1, *labels.shape) if squeeze else tuple(labels.shape)
    match = match_grid(own, shape, index_affine(reference_meta or {}), ref_shape[-3:])
    stored = (labels_meta or {}).get("file_affine")
    if match.kind == "same" and stored is not None:  # the reader already put a RAS file in LPS order
        match.message = (f"labels were stored {axis_codes(np.asarray(stored)[:, [2, 1, 0, 3]])}, reoriented "
                         f"exactly to the reference's {axis_codes(own)} grid (no resampling)")  # fmt: skip
    if match.kind in ("same", "assumed") and not (squeeze and len(tuple(reference_shape)) != 2):
        out = labels  # as they are: labels on disk stay unread (the writers go plane by plane)
        squeeze = False
    else:
        labels = np.asarray(labels)
        labels = labels[None] if squeeze else labels
        out = match.apply(labels)
    lead = len(out.shape) - 3
    new_axis = frame_axis
    if match.kind in ("reoriented", "resampled") and frame_axis is not None and frame_axis >= lead:
        axis, flip = match.axis_map(frame_axis - lead)
        new_axis = lead + axis
        if table is not None:
            n = labels.shape[frame_axis]
            if match.kind == "reoriented" and new_axis == frame_axis:
                table = _move_frames(table, (lambda f: n - 1 - f) if flip else (lambda f: f))
            else:  # slices do not map one to one: re-read which slices each id is on
                presence: dict[int, set[int]] = {}
                for f in range(out.shape[new_axis]):
                    for i in np.unique(np.take(out, f, axis=new_axis)).tolist():
                        presence.setdefault(int(i), set()).add(f)
                table = _move_frames(table, None, presence)
    elif table is not None:
        table = InstanceTable.from_json(table.to_json())  # a copy: the caller's is never changed
    if squeeze and out.shape[0] == 1 and len(tuple(reference_shape)) == 2:
        out = out[0]
    return out, table, new_axis, match


def _move_frames(table: InstanceTable, where, presence: dict | None = None) -> InstanceTable:
    """A copy of the table with per-frame entries at their new slice index (``where``); with
    ``where`` None, each instance keeps its mean confidence and the frames in ``presence``."""
    data = table.to_json()
    for d in data["instances"]:
        if where is None:
            rec = table[d["id"]]
            d["confidence"], d["source"] = rec.mean_confidence, rec.sources.split("+")[0]
            d["frames"], d["frame_scores"], d["frame_sources"] = sorted(presence.get(d["id"], ())), {}, {}
        else:
            d["frames"] = [where(f) for f in d["frames"]]
            d["frame_scores"] = {str(where(int(f))): v for f, v in d["frame_scores"].items()}
            d["frame_sources"] = {str(where(int(f))): v for f, v in d["frame_sources"].items()}
    return InstanceTable.from_json(data)
