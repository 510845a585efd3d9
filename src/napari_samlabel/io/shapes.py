"""Instances as napari Shapes, and drawn shapes as masks."""

from __future__ import annotations

import numpy as np

from ..core.instances import InstanceTable
from .coco import mask_polygons
from .errors import ExportError
from .writing import planes


def instance_shapes(labels: np.ndarray, table: InstanceTable, frame_axis: int | None, kind: str = "polygon"):
    """napari Shapes data for every instance on every frame: (shapes, features)."""
    shapes, feats = [], {"instance_id": [], "class": []}
    for f, plane in planes(labels, frame_axis):
        if plane.ndim != 2:
            raise ExportError("shapes are drawn on 2D planes")
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
                # COCO puts pixel (r, c) on [r, r+1]; napari centres it on r: half a pixel back
                verts = [np.asarray(p, float).reshape(-1, 2)[:, ::-1] - 0.5 for p in mask_polygons(m)]
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


