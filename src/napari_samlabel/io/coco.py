"""COCO instances (RLE or polygons) and COCO panoptic exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .export import _atomic_text, planes


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


