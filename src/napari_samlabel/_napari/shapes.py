"""Instances as napari Shapes, drawn Shapes as instances, and the one way an overlay layer
takes the labels' place in the world.

Qt-free. Every layer this plugin lays over the labels (Shapes from instances, the Tracks
layer, the slice line) is made with :func:`layer_geometry` of the labels layer, so it lies
on the labels however they are scaled, translated, rotated, sheared or affine-transformed.
Shapes drawn by the user are read in world coordinates and taken into the labels' data
coordinates, so a Shapes layer with another transform lands where it was drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .session import AnnotationSession


def layer_geometry(layer) -> dict:
    """The keyword arguments that give a new layer ``layer``'s place in the world."""
    return {"scale": layer.scale, "translate": layer.translate, "rotate": layer.rotate, "shear": layer.shear,
            "affine": layer.affine.affine_matrix}  # fmt: skip


SHAPES_META = "samlabel_shapes"  # Shapes layer metadata: whose instances, and each shape as To Shapes drew it
NOBODY = {"instance_id": 0, "class": "", "shape": -1}  # the features of a shape the user draws later


def add_instance_shapes(session: AnnotationSession, kind: str = "polygon"):
    """A Shapes layer with every instance on every frame as polygons (or boxes), on the labels.

    Each shape carries its instance's id (features ``instance_id``), so :func:`instances_from_shapes`
    gives an edited shape back to that instance."""
    from napari.layers import Shapes

    from ..io.shapes import instance_shapes

    labels = session.labels
    shapes, features = instance_shapes(labels.data, session.table, session.frame_axis, kind)
    features["shape"] = list(range(len(shapes)))  # which shape it was, whatever the user deletes
    layer = Shapes(shapes, ndim=labels.ndim, shape_type=kind, features=features, name=f"{labels.name} shapes",
                   face_color=[0, 0, 0, 0], edge_color="yellow", **layer_geometry(labels))  # fmt: skip
    layer.feature_defaults = NOBODY  # napari gives a new shape the last row's features: another instance's id
    drawn = {k: (int(i), np.array(v)) for k, (i, v) in enumerate(zip(features["instance_id"], layer.data))}
    layer.metadata[SHAPES_META] = {"image_key": session.image_key, "drawn": drawn}
    if session.viewer is not None:
        session.viewer.layers.append(layer)
    return layer


def instances_from_shapes(session: AnnotationSession, layer) -> list:
    """Shapes back to instances, one undo step. A shape To Shapes made gives its instance the
    pixels of its (edited) polygons on that plane; other polygons, rectangles and ellipses become
    new instances of the current class on the plane they were drawn on. Shapes left as they were
    drawn change nothing (an instance deleted since comes back). Returns the instances written."""
    from napari.layers import Shapes

    from ..core.annotation import AnnotationError
    from ..io.shapes import shape_mask

    if not isinstance(layer, Shapes):
        raise AnnotationError("select a Shapes layer with polygons, rectangles or ellipses")
    labels = session.labels
    ids, serials, drawn = _shape_owners(session, layer)
    groups: dict[tuple, list] = {}  # (instance id, plane) -> [(serial, vertices, mask)]
    new = []
    for verts, kind, label_id, serial in zip(layer.data, layer.shape_type, ids, serials):
        plane, local = _plane_of(layer, labels, verts)
        mask = shape_mask(local, kind, plane.hw)
        if label_id:
            groups.setdefault((label_id, plane), []).append((serial, verts, mask))
        else:
            new.append((plane, mask))
    edited = _edited(layer, labels, groups, drawn)
    made = []
    with session.annotation.action("shapes to instances"):
        for (label_id, plane), members in groups.items():
            mask = np.logical_xor.reduce([m for _, _, m in members])  # even-odd: a hole's polygon cuts it out
            now = plane.read(labels.data) == label_id
            if ((label_id, plane) in edited or not now.any()) and not np.array_equal(mask, now):
                made.append(session.commit(plane.mask_to_region(mask), region=plane.region, label_id=label_id,
                                           replace=True))  # fmt: skip
        for plane, mask in new:
            made.append(session.commit(plane.mask_to_region(mask), region=plane.region))
    return made


def _plane_of(layer, labels, verts):
    """The labels plane a shape lies on, and its vertices on that plane (rows, columns)."""
    from ..core.planes import Plane

    shape = labels.data.shape
    # drawn in the Shapes layer's own coordinates: through the world into the labels'
    world = np.asarray([layer.data_to_world(v) for v in np.asarray(verts, float)])
    # rounded: a corner at 26.9999999 after the round trip is pixel 27, as drawn
    verts = np.round(np.asarray([labels.world_to_data(w) for w in world])[:, -len(shape) :], 6)
    if len(shape) == 2:
        plane = Plane(shape, (0, 1), (0, 0))
    else:  # drawn on a plane: the axes along which the shape is flat are the others
        flat = [a for a in range(len(shape)) if np.ptp(verts[:, a]) == 0]
        shown = [a for a in range(len(shape)) if a not in flat][-2:]
        plane = Plane.from_point(shape, shown, np.round(verts[0]))
    return plane, plane.data_to_plane(verts)


def _shape_owners(session: AnnotationSession, layer) -> tuple[list[int], list[int], dict]:
    """Per shape the instance it came from (0: none) and its number in To Shapes' drawing (-1:
    none), and that drawing. Ids count only on a layer made from this session's labels, for
    instances it still has; a pasted copy of a shape is a new shape."""
    n = len(layer.data)
    meta = layer.metadata.get(SHAPES_META) or {}
    feats = layer.features
    if "instance_id" not in feats or (meta and meta.get("image_key") != session.image_key):
        return [0] * n, [-1] * n, {}
    serials = [int(k) for k in feats["shape"]] if "shape" in feats else [-1] * n
    ids, seen = [], set()
    for i, k in zip(feats["instance_id"], serials):
        i = int(i) if i == i else 0  # NaN: a row napari filled in
        ids.append(i if i in session.table and (k < 0 or k not in seen) else 0)
        seen.add(k)
    return ids, serials, meta.get("drawn", {})


def _edited(layer, labels, groups: dict, drawn: dict) -> set:
    """The (instance, plane) groups whose shapes differ from To Shapes' drawing: a vertex moved,
    a shape added or one of them deleted. Without a drawing, every group counts as edited."""
    members: dict[tuple, set] = {}
    for k, (label_id, verts) in drawn.items():
        members.setdefault((label_id, _plane_of(layer, labels, verts)[0]), set()).add(k)
    out = set()
    for key, group in groups.items():
        moved = any(k not in drawn or not np.array_equal(v, drawn[k][1]) for k, v, _ in group)
        if moved or {k for k, _, _ in group} != members.get(key, set()):
            out.add(key)
    return out
