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


def add_instance_shapes(session: AnnotationSession, kind: str = "polygon"):
    """A Shapes layer with every instance on every frame as polygons (or boxes), on the labels."""
    from napari.layers import Shapes

    from ..io.shapes import instance_shapes

    labels = session.labels
    shapes, features = instance_shapes(labels.data, session.table, session.frame_axis, kind)
    layer = Shapes(shapes, ndim=labels.ndim, shape_type=kind, features=features, name=f"{labels.name} shapes",
                   face_color=[0, 0, 0, 0], edge_color="yellow", **layer_geometry(labels))  # fmt: skip
    if session.viewer is not None:
        session.viewer.layers.append(layer)
    return layer


def instances_from_shapes(session: AnnotationSession, layer) -> list:
    """Every polygon, rectangle or ellipse of ``layer`` becomes an instance of the current
    class, on the plane it was drawn on; one undo step."""
    from napari.layers import Shapes

    from ..core.annotation import AnnotationError
    from ..core.planes import Plane
    from ..io.shapes import shape_mask

    if not isinstance(layer, Shapes):
        raise AnnotationError("select a Shapes layer with polygons, rectangles or ellipses")
    labels = session.labels
    shape = labels.data.shape
    made = []
    with session.annotation.action("shapes to instances"):
        for verts, kind in zip(layer.data, layer.shape_type):
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
            mask = shape_mask(plane.data_to_plane(verts), kind, plane.hw)
            made.append(session.commit(plane.mask_to_region(mask), region=plane.region))
    return made
