"""Exports other tools read: instance CSV, COCO (instances, panoptic), Cell Tracking
Challenge, DICOM SEG, Shapes. Pure functions over a label array, the ontology and
the instance table; ``frame_axis`` says which axis holds frames/slices (None: 2D).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def planes(labels: np.ndarray, frame_axis: int | None):
    """(frame, 2D-or-nD plane) pairs along the frame axis."""
    if frame_axis is None:
        yield 0, np.asarray(labels)
    else:
        for f in range(labels.shape[frame_axis]):
            yield f, np.asarray(np.take(labels, f, axis=frame_axis))


# -- CSV ---------------------------------------------------------------------------
CSV_COLUMNS = ["id", "class", "name", "confidence", "source", "first_frame", "last_frame", "voxels", "volume_mm3"]


def instance_rows(labels: np.ndarray, table: InstanceTable, spacing: Sequence[float] | None = None) -> list[dict]:
    ids, counts = np.unique(np.asarray(labels), return_counts=True)
    voxels = dict(zip(ids.tolist(), counts.tolist()))
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
        })  # fmt: skip
    return rows


def write_instances_csv(path, labels, table: InstanceTable, spacing=None) -> Path:
    path = Path(path)
    rows = instance_rows(labels, table, spacing)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS)
    w.writeheader()
    w.writerows(rows)
    _atomic_text(path, buf.getvalue())
    return path


# -- COCO ------------------------------------------------------------------------
def categories(ontology: Ontology) -> list[dict]:
    return [
        {"id": i + 1, "name": c.name, "supercategory": "", "isthing": int(not c.is_stuff), "color": _rgb(c.color)}
        for i, c in enumerate(ontology)
    ]


def _rgb(hex_color: str) -> list[int]:
    return [int(hex_color[k : k + 2], 16) for k in (1, 3, 5)]


def coco_instances(
    labels: np.ndarray,
    table: InstanceTable,
    ontology: Ontology,
    frame_axis: int | None = None,
    polygons: bool = False,
    file_pattern: str = "frame_{:05d}.png",
) -> dict:
    """COCO instances JSON: one image per frame/slice, one annotation per instance per frame.

    Masks as compressed RLE (pycocotools), or polygons (scikit-image contours).
    Annotations carry ``score`` (the frame's confidence) and ``instance_id``.
    """
    from pycocotools import mask as mask_utils

    cat_id = {c.name: i + 1 for i, c in enumerate(ontology)}
    images, anns = [], []
    for f, plane in planes(labels, frame_axis):
        if plane.ndim != 2:
            raise ValueError("COCO holds 2D images: pick the frame/slice axis so that planes are 2D")
        h, w = plane.shape
        images.append({"id": f + 1, "file_name": file_pattern.format(f), "height": h, "width": w, "frame": f})
        for label_id in np.unique(plane):
            rec = table.get(int(label_id)) if label_id else None
            if rec is None or rec.class_name not in cat_id:
                continue
            m = plane == label_id
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            area = float(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            if polygons:
                seg = mask_polygons(m)
            else:
                seg = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
            anns.append({
                "id": len(anns) + 1, "image_id": f + 1, "category_id": cat_id[rec.class_name],
                "segmentation": seg, "area": area, "bbox": bbox, "iscrowd": 0,
                "score": round(rec.score_on(f), 4), "instance_id": rec.id,
            })  # fmt: skip
    return {"images": images, "annotations": anns, "categories": categories(ontology)}


def mask_polygons(mask: np.ndarray) -> list[list[float]]:
    """Outer contours as COCO polygons [x0, y0, x1, y1, ...] (x = column)."""
    from skimage.measure import find_contours

    padded = np.pad(mask.astype(np.uint8), 1)
    out = []
    for contour in find_contours(padded, 0.5):
        if len(contour) < 3:
            continue
        rc = contour - 1  # undo the padding
        out.append([float(v) for point in rc[:, ::-1] for v in point])
    return out


def coco_panoptic(
    labels: np.ndarray, table: InstanceTable, ontology: Ontology, out_dir, frame_axis: int | None = None
) -> Path:
    """COCO panoptic: one PNG per frame (id = R + 256 G + 256^2 B) and panoptic.json."""
    from PIL import Image

    out_dir = Path(out_dir)
    (out_dir / "panoptic").mkdir(parents=True, exist_ok=True)
    cat_id = {c.name: i + 1 for i, c in enumerate(ontology)}
    images, annotations = [], []
    for f, plane in planes(labels, frame_axis):
        name = f"frame_{f:05d}.png"
        png = np.zeros((*plane.shape, 3), np.uint8)
        segments = []
        for label_id in np.unique(plane):
            rec = table.get(int(label_id)) if label_id else None
            if rec is None or rec.class_name not in cat_id:
                continue
            m = plane == label_id
            i = int(label_id)
            png[m] = (i % 256, (i // 256) % 256, i // 65536)
            rows, cols = np.nonzero(m)
            segments.append({
                "id": i, "category_id": cat_id[rec.class_name], "area": int(m.sum()), "iscrowd": 0,
                "bbox": [int(cols.min()), int(rows.min()), int(np.ptp(cols) + 1), int(np.ptp(rows) + 1)],
            })  # fmt: skip
        Image.fromarray(png).save(out_dir / "panoptic" / name)
        images.append({"id": f + 1, "file_name": name, "height": plane.shape[0], "width": plane.shape[1]})
        annotations.append({"image_id": f + 1, "file_name": name, "segments_info": segments})
    data = {"images": images, "annotations": annotations, "categories": categories(ontology)}
    path = out_dir / "panoptic.json"
    _atomic_text(path, json.dumps(data))
    return path


# -- Cell Tracking Challenge -----------------------------------------------------
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


# -- Shapes ------------------------------------------------------------------------
def instance_shapes(labels: np.ndarray, table: InstanceTable, frame_axis: int | None, kind: str = "polygon"):
    """napari Shapes data for every instance on every frame: (shapes, features)."""
    shapes, feats = [], {"instance_id": [], "class": []}
    for f, plane in planes(labels, frame_axis):
        if plane.ndim != 2:
            raise ValueError("shapes are drawn on 2D planes")
        for label_id in np.unique(plane):
            rec = table.get(int(label_id)) if label_id else None
            if rec is None:
                continue
            m = plane == label_id
            if kind == "rectangle":  # corners at the centres of the outermost pixels, as napari draws
                rows, cols = np.nonzero(m)
                r0, c0, r1, c1 = rows.min(), cols.min(), rows.max(), cols.max()
                verts = [np.array([[r0, c0], [r0, c1], [r1, c1], [r1, c0]], float)]
            else:
                verts = [np.asarray(p, float).reshape(-1, 2)[:, ::-1] for p in mask_polygons(m)]
            for v in verts:
                if frame_axis is not None:
                    v = np.insert(v, frame_axis, f, axis=1)
                shapes.append(v)
                feats["instance_id"].append(rec.id)
                feats["class"].append(rec.class_name)
    return shapes, feats


def shape_mask(vertices: np.ndarray, shape_type: str, plane_hw: tuple[int, int]) -> np.ndarray:
    """A drawn polygon/rectangle/ellipse (2D vertices, row/col) as a mask."""
    from skimage.draw import ellipse, polygon

    v = np.asarray(vertices, float)
    mask = np.zeros(plane_hw, bool)
    if shape_type == "rectangle":
        r0, c0 = np.ceil(v.min(axis=0)).astype(int)
        r1, c1 = np.floor(v.max(axis=0)).astype(int)
        mask[max(r0, 0) : r1 + 1, max(c0, 0) : c1 + 1] = True
        return mask
    if shape_type == "ellipse":
        c = v.mean(axis=0)
        r = (v.max(axis=0) - v.min(axis=0)) / 2
        rr, cc = ellipse(c[0], c[1], r[0], r[1], shape=plane_hw)
    else:
        rr, cc = polygon(v[:, 0], v[:, 1], shape=plane_hw)
    mask[rr, cc] = True
    return mask


# -- DICOM SEG -------------------------------------------------------------------------
def write_dicom_seg(
    path,
    labels: np.ndarray,
    source_files: Sequence[str],
    table: InstanceTable,
    ontology: Ontology,
    per: str = "class",
) -> Path:
    """A DICOM Segmentation (highdicom) over the source series, one segment per class or instance.

    ``labels`` is (z, y, x) in the order of ``source_files`` (the reader's slice order).
    """
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    sources = [pydicom.dcmread(f) for f in source_files]
    if len(sources) != labels.shape[0]:
        raise ValueError(f"labels have {labels.shape[0]} slices, the source series {len(sources)}")
    groups: list[tuple[str, list[int], str]] = []  # (label, ids, class)
    if per == "class":
        for c in ontology:
            ids = [r.id for r in table.of_class(c.name)]
            if ids:
                groups.append((c.name, ids, c.name))
    else:
        for r in sorted(table.present(), key=lambda r: r.id):
            groups.append((r.name, [r.id], r.class_name))
    groups = [g for g in groups if np.isin(labels, g[1]).any()]
    if not groups:
        raise ValueError("nothing labeled: a DICOM SEG needs at least one segment")
    masks = np.stack([np.isin(labels, ids) for _, ids, _ in groups], axis=-1).astype(np.uint8)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k + 1,
            segment_label=name[:64],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=hd.AlgorithmIdentificationSequence(
                name="napari-samlabel", version="0.1", family=codes.DCM.ArtificialIntelligence
            ),
        )
        for k, (name, _, _) in enumerate(groups)
    ]
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=900,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="napari-samlabel",
        manufacturer_model_name="napari-samlabel",
        software_versions="0.1",
        device_serial_number="0",
        omit_empty_frames=False,
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    seg.save_as(tmp)
    tmp.replace(path)
    return path
