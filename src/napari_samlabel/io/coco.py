"""COCO instances (RLE or polygons) and COCO panoptic exports."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.attributes import json_values
from ..core.instances import InstanceTable
from ..core.ontology import Ontology
from .errors import ExportError
from .writing import Staged, planes, png_bytes


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

    Masks as compressed RLE (pycocotools), or polygons along the pixel edges. A mask that
    polygons cannot give back exactly (one with a hole: COCO fills every polygon) is
    written as RLE instead, and ``info["rle_instead_of_polygons"]`` lists it with the reason.
    Annotations carry ``score`` (the frame's confidence), ``source`` and ``instance_id``.
    """
    from pycocotools import mask as mask_utils
    from scipy import ndimage as ndi

    cat_id = {c.name: i + 1 for i, c in enumerate(ontology)}
    images, anns, as_rle = [], [], []
    for f, plane in planes(labels, frame_axis):
        if plane.ndim != 2:
            raise ExportError("COCO holds 2D images: pick the frame/slice axis so that planes are 2D")
        h, w = plane.shape
        images.append({"id": f + 1, "file_name": file_pattern.format(f), "height": h, "width": w, "frame": f})
        if ontology.classifications:  # frame labels, as CVAT's COCO carries attributes
            images[-1]["attributes"] = json_values(table.frame_labels.on(f))
        ids, compact = np.unique(plane, return_inverse=True)
        boxes = ndi.find_objects(compact.reshape(plane.shape) + 1) if polygons else None
        for k, label_id in enumerate(ids):
            rec = table.get(int(label_id)) if label_id else None
            if rec is None or rec.class_name not in cat_id:
                continue
            m = plane == label_id
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            area = float(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            seg = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
            if polygons:
                poly, why = exact_polygons(m, rle, boxes[k])
                if poly is not None:
                    seg = poly
                else:
                    as_rle.append({"annotation_id": len(anns) + 1, "instance_id": rec.id, "frame": f, "reason": why})
            anns.append({
                "id": len(anns) + 1, "image_id": f + 1, "category_id": cat_id[rec.class_name],
                "segmentation": seg, "area": area, "bbox": bbox, "iscrowd": 0,
                "score": round(rec.score_on(f), 4), "source": rec.source_on(f), "instance_id": rec.id,
                "attributes": json_values(rec.attributes_on(f)),
            })  # fmt: skip
    info = {"description": "napari-samlabel export", "segmentation": "polygons" if polygons else "rle"}
    if polygons:
        info["rle_instead_of_polygons"] = as_rle
    return {"info": info, "images": images, "annotations": anns, "categories": categories(ontology)}


def export_note(data: dict) -> str:
    """What a user should know about a polygon export: the masks written as RLE."""
    as_rle = (data.get("info") or {}).get("rle_instead_of_polygons") or []
    if not as_rle:
        return ""
    holes = sum(1 for a in as_rle if a["reason"] == "has a hole")
    return (f"{len(as_rle)} of {len(data['annotations'])} masks written as RLE, not polygons "
            f"({holes} with holes, which COCO polygons fill in); listed under info.rle_instead_of_polygons")  # fmt: skip


def exact_polygons(mask: np.ndarray, rle: dict | None = None, box: tuple | None = None) -> tuple[list[list[float]] | None, str]:
    """Polygons that pycocotools rasterises back to exactly ``mask``, or (None, why not).

    COCO fills every polygon of an annotation (their union), so a mask with a hole has no
    polygon form; anything else is checked by rasterising the polygons with pycocotools
    itself, so an export never claims a shape it does not hold. ``box``: the mask's
    bounding slices, when the caller knows them.
    """
    from pycocotools import mask as mask_utils
    from scipy import ndimage as ndi

    m = np.asarray(mask, bool)
    if box is None:
        found = ndi.find_objects(m.astype(np.uint8))
        if not found:
            return None, "is empty"
        box = found[0]
    crop = np.pad(m[box], 1)  # the bounding box with a background rim
    # background 8-connected, as the contours see it (pixels touching at a corner close no hole)
    if (ndi.binary_fill_holes(crop, structure=np.ones((3, 3), bool)) != crop).any():
        return None, "has a hole"
    polys = mask_polygons(crop[1:-1, 1:-1], offset=(box[0].start, box[1].start))
    if rle is None:
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    h, w = m.shape
    back = mask_utils.merge(mask_utils.frPyObjects(polys, h, w)) if polys else None
    if back is None or back["counts"] != rle["counts"]:
        return None, "polygons do not rasterise to the same pixels"
    return polys, ""


def mask_polygons(mask: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[list[float]]:
    """Contours along the pixel EDGES as COCO polygons [x0, y0, x1, y1, ...].

    Pixel (row r, column c) is the square x in [c, c+1], y in [r, r+1], as COCO and
    pycocotools have it; ``offset`` (rows, columns) places a cropped mask. One polygon per
    4-connected part, holes traced as polygons of their own (COCO fills those in: see
    :func:`exact_polygons`).
    """
    from skimage.measure import find_contours

    m = np.asarray(mask, bool)
    # At twice the resolution the level-0.5 contour runs a quarter pixel inside each edge,
    # so rounding puts every point exactly on a pixel corner of the boundary it follows.
    up = np.pad(m.repeat(2, axis=0).repeat(2, axis=1), 1).astype(np.uint8)
    out = []
    for contour in find_contours(up, 0.5):
        pts = np.round((contour - 0.5) / 2) + offset  # (contour - pad + 0.5) / 2: edges in pixels
        pts = _corners(pts)
        if len(pts) >= 3:
            out.append([float(v) for point in pts[:, ::-1] for v in point])
    return out


def _corners(pts: np.ndarray) -> np.ndarray:
    """A closed rectilinear path without repeated or collinear points."""
    if len(pts) > 1 and (pts[0] == pts[-1]).all():
        pts = pts[:-1]
    pts = pts[np.any(pts != np.roll(pts, 1, axis=0), axis=1)]
    if len(pts) < 3:
        return pts
    prev, nxt = np.roll(pts, 1, axis=0), np.roll(pts, -1, axis=0)
    straight = ((prev[:, 0] == pts[:, 0]) & (pts[:, 0] == nxt[:, 0])) | ((prev[:, 1] == pts[:, 1]) & (pts[:, 1] == nxt[:, 1]))
    return pts[~straight]


def coco_panoptic(
    labels: np.ndarray, table: InstanceTable, ontology: Ontology, out_dir, frame_axis: int | None = None
) -> Path:
    """COCO panoptic: one PNG per frame (id = R + 256 G + 256^2 B) and panoptic.json, written
    whole or not at all (:class:`.writing.Staged`)."""
    out_dir = Path(out_dir)
    cat_id = {c.name: i + 1 for i, c in enumerate(ontology)}
    images, annotations = [], []
    frames = 1 if frame_axis is None else labels.shape[frame_axis]
    with Staged(files=frames + 1) as out:
        for f, plane in planes(labels, frame_axis):
            name = f"frame_{f:05d}.png"
            png, segments = _panoptic_png(plane, table, cat_id)
            out.put(out_dir / "panoptic" / name, png_bytes(png))
            images.append({"id": f + 1, "file_name": name, "height": plane.shape[0], "width": plane.shape[1], "frame": f})
            annotations.append({"image_id": f + 1, "file_name": name, "segments_info": segments})
        data = {"images": images, "annotations": annotations, "categories": categories(ontology)}
        path = out_dir / "panoptic.json"
        out.put(path, json.dumps(data).encode("utf-8"))
    return path


def _panoptic_png(plane: np.ndarray, table: InstanceTable, cat_id: dict[str, int]) -> tuple[np.ndarray, list[dict]]:
    """One frame's panoptic PNG (RGB) and its segments."""
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
    return png, segments


